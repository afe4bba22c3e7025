//! Table functions over baskets (a table or query with a basket column and an item
//! column): `item_cooccurrence` (item-item pairs with cosine, jaccard, lift or count),
//! `frequent_itemsets` and `association_rules`. The logic is in
//! [`crate::marketing::cooccurrence`] and [`crate::marketing::itemsets`].

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::LogicalPlan;

use super::computed_table::{Computation, ComputedTable, Input};
use super::keys::KeyDict;
use super::table_args::{column_index, column_type, key_type, select_columns, session_state, Args};
use crate::error::invalid_argument;
use crate::marketing::baskets::Baskets;
use crate::marketing::cooccurrence::{self, Metric, Options};
use crate::marketing::itemsets::{self, MAX_ITEMSETS};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const ITEM_COOCCURRENCE: FunctionDoc = FunctionDoc {
    name: "item_cooccurrence",
    kind: Kind::Table,
    params: &[
        required("baskets", "text"),
        required("basket_column", "text"),
        required("item_column", "text"),
        optional("min_support", "bigint", "2"),
        optional("metric", "text", "'cosine'"),
        optional("top_k", "integer", "20"),
        optional("max_basket_size", "integer", "100"),
    ],
    result: "TABLE(item_a anyelement, item_b anyelement, co_count bigint, n_a bigint, n_b \
             bigint, score double precision, rank integer)",
    description: "Items bought together: for each item a, its top_k partners b by score. \
                  baskets is a table name or a SELECT with a basket column (an order or a \
                  customer) and an item column; each item counts once per basket, and \
                  baskets of more than max_basket_size distinct items are left out. \
                  co_count = baskets with both, n_a and n_b = baskets with each; score = \
                  cosine co_count/sqrt(n_a*n_b), jaccard co_count/(n_a+n_b-co_count), lift \
                  co_count*N/(n_a*n_b) (N = baskets kept) or count; pairs with co_count \
                  below min_support are dropped. rank = 1 for a's best partner.",
    example: r#"SELECT item_a, item_b, co_count, n_a, n_b, round(score, 4) AS cosine
FROM item_cooccurrence('SELECT * FROM (VALUES (1, ''tea''), (1, ''milk''), (2, ''tea''), (2, ''milk''), (3, ''tea''), (3, ''cake'')) AS t(basket, item)', 'basket', 'item', min_support => 1)
ORDER BY item_a, rank"#,
    example_output: r#" item_a | item_b | co_count | n_a | n_b | cosine
--------+--------+----------+-----+-----+--------
 cake   | tea    | 1        | 1   | 3   | 0.5774
 milk   | tea    | 2        | 2   | 3   | 0.8165
 tea    | milk   | 2        | 3   | 2   | 0.8165
 tea    | cake   | 1        | 3   | 1   | 0.5774"#,
};

pub const FREQUENT_ITEMSETS: FunctionDoc = FunctionDoc {
    name: "frequent_itemsets",
    kind: Kind::Table,
    params: &[
        required("baskets", "text"),
        required("basket_column", "text"),
        required("item_column", "text"),
        required("min_support", "double precision"),
        optional("max_len", "integer", "3"),
    ],
    result: "TABLE(itemset anyarray, size integer, support double precision, count bigint)",
    description: "The itemsets of 1 to max_len items held by at least min_support (a share, \
                  0 to 1) of the baskets, each item counted once per basket; itemsets \
                  sorted by their items. baskets is a table name or a SELECT.",
    example: r#"SELECT itemset, support
FROM frequent_itemsets('SELECT * FROM (VALUES (1, ''tea''), (1, ''milk''), (2, ''tea''), (2, ''milk''), (3, ''tea''), (3, ''cake'')) AS t(basket, item)', 'basket', 'item', 0.5)"#,
    example_output: r#" itemset    | support
------------+--------------------
 {milk}     | 0.6666666666666666
 {milk,tea} | 0.6666666666666666
 {tea}      | 1"#,
};

pub const ASSOCIATION_RULES: FunctionDoc = FunctionDoc {
    name: "association_rules",
    kind: Kind::Table,
    params: &[
        required("baskets", "text"),
        required("basket_column", "text"),
        required("item_column", "text"),
        required("min_support", "double precision"),
        optional("min_confidence", "double precision", "0.5"),
        optional("max_len", "integer", "3"),
    ],
    result: "TABLE(antecedent anyarray, consequent anyarray, antecedent_support double \
             precision, consequent_support double precision, support double precision, \
             confidence double precision, lift double precision, leverage double precision, \
             conviction double precision)",
    description: "Association rules antecedent => consequent between the frequent itemsets \
                  (min_support, max_len as in frequent_itemsets) with confidence at least \
                  min_confidence: support = s(A and C), confidence = s(A and C)/s(A), lift = \
                  confidence/s(C), leverage = s(A and C) - s(A)s(C), conviction = (1 - \
                  s(C))/(1 - confidence), Infinity when confidence is 1.",
    example: r#"SELECT antecedent, consequent, round(confidence::numeric, 4) AS confidence, conviction
FROM association_rules('SELECT * FROM (VALUES (1, ''tea''), (1, ''milk''), (2, ''tea''), (2, ''milk''), (3, ''tea''), (3, ''cake'')) AS t(basket, item)', 'basket', 'item', 0.5, 0.5)"#,
    example_output: r#" antecedent | consequent | confidence | conviction
------------+------------+------------+------------
 {milk}     | {tea}      | 1.0000     | Infinity
 {tea}      | {milk}     | 0.6667     | 1"#,
};

/// The (basket, item) input of a call: the planned query and the two key types.
#[derive(Debug, Clone)]
struct BasketInput {
    plan: LogicalPlan,
    basket_type: DataType,
    item_type: DataType,
}

fn basket_input(state: &SessionState, args: &Args, function: &'static str) -> Result<BasketInput> {
    let source = args.source(state, 0)?;
    let basket = column_index(&source, &args.required_text(1)?, function)?;
    let item = column_index(&source, &args.required_text(2)?, function)?;
    let basket_type = key_type(&column_type(&source, basket), "basket_column", function)?;
    let item_type = key_type(&column_type(&source, item), "item_column", function)?;
    let plan = select_columns(
        source,
        &[(basket, basket_type.clone()), (item, item_type.clone())],
    )?;
    Ok(BasketInput {
        plan,
        basket_type,
        item_type,
    })
}

/// The baskets of an input, and the item dictionary (ids in item order). Batches are
/// read one by one and freed as they go; basket keys only group rows (never output),
/// so they are not sorted.
fn read_baskets(input: Input, basket_input: &BasketInput) -> (Baskets, KeyDict) {
    let mut baskets = KeyDict::for_type(&basket_input.basket_type);
    let mut items = KeyDict::for_type(&basket_input.item_type);
    let rows = input.batches.iter().map(RecordBatch::num_rows).sum();
    let mut basket_of_row = Vec::with_capacity(rows);
    let mut item_of_row = Vec::with_capacity(rows);
    for batch in input.batches {
        let basket_ids = baskets.intern(batch.column(0));
        let item_ids = items.intern(batch.column(1));
        for (basket, item) in basket_ids.into_iter().zip(item_ids) {
            if let (Some(basket), Some(item)) = (basket, item) {
                basket_of_row.push(basket);
                item_of_row.push(item);
            }
        }
    }
    let basket_count = baskets.len();
    drop(baskets);
    let remap = items.sort();
    for item in &mut item_of_row {
        *item = remap[*item as usize];
    }
    let baskets = Baskets::from_rows(basket_count, &basket_of_row, &item_of_row);
    (baskets, items)
}

/// A list column of item sets.
fn item_lists(items: &KeyDict, sets: &[&[u32]]) -> Result<ArrayRef> {
    let values = items.build(sets.iter().flat_map(|s| s.iter().copied()));
    let offsets = OffsetBuffer::from_lengths(sets.iter().map(|s| s.len()));
    let field = Arc::new(Field::new_list_field(items.data_type(), true));
    Ok(Arc::new(ListArray::try_new(field, offsets, values, None)?))
}

fn list_type(item: &DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item.clone(), true)))
}

// ---------------------------------------------------------------- item_cooccurrence

#[derive(Debug, Default)]
pub struct ItemCooccurrenceFunction;

#[derive(Debug)]
struct Cooccurrence {
    input: BasketInput,
    options: Options,
}

impl TableFunctionImpl for ItemCooccurrenceFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let state = session_state(&args, ITEM_COOCCURRENCE.name)?;
        let a = Args::new(&ITEM_COOCCURRENCE, args.exprs())?;
        let input = basket_input(state, &a, ITEM_COOCCURRENCE.name)?;
        let metric_text = a.text(4)?.unwrap_or_else(|| "cosine".into());
        let metric = Metric::parse(&metric_text).ok_or_else(|| {
            a.bad(format!(
                "metric must be 'cosine', 'jaccard', 'lift' or 'count', got '{metric_text}'"
            ))
        })?;
        let options = Options {
            min_support: a.integer(3, 2, 1..=i64::MAX)? as u64,
            metric,
            top_k: a.integer(5, 20, 1..=1_000_000)? as usize,
            max_basket_size: a.integer(6, 100, 2..=10_000)? as usize,
        };
        let plan = input.plan.clone();
        Ok(ComputedTable::new(
            vec![plan],
            Cooccurrence { input, options },
        ))
    }
}

impl Computation for Cooccurrence {
    fn name(&self) -> &'static str {
        ITEM_COOCCURRENCE.name
    }

    fn schema(&self) -> SchemaRef {
        let item = &self.input.item_type;
        Arc::new(Schema::new(vec![
            Field::new("item_a", item.clone(), false),
            Field::new("item_b", item.clone(), false),
            Field::new("co_count", DataType::Int64, false),
            Field::new("n_a", DataType::Int64, false),
            Field::new("n_b", DataType::Int64, false),
            Field::new("score", DataType::Float64, false),
            Field::new("rank", DataType::Int32, false),
        ]))
    }

    fn compute(&self, inputs: Vec<Input>, stop: &AtomicBool) -> Result<RecordBatch> {
        let input = inputs.into_iter().next().expect("one input");
        let (baskets, items) = read_baskets(input, &self.input);
        let pairs = cooccurrence::cooccurrence(&baskets, items.len(), self.options, 0, stop);
        let mut ranks = Vec::with_capacity(pairs.len());
        for (i, p) in pairs.iter().enumerate() {
            let same_item = i > 0 && pairs[i - 1].a == p.a;
            ranks.push(if same_item { ranks[i - 1] + 1 } else { 1 });
        }
        let counts = |f: fn(&cooccurrence::Pair) -> u64| {
            Arc::new(Int64Array::from_iter_values(
                pairs.iter().map(|p| f(p) as i64),
            )) as ArrayRef
        };
        let columns = vec![
            items.build(pairs.iter().map(|p| p.a)),
            items.build(pairs.iter().map(|p| p.b)),
            counts(|p| p.co_count),
            counts(|p| p.n_a),
            counts(|p| p.n_b),
            Arc::new(Float64Array::from_iter_values(
                pairs.iter().map(|p| p.score),
            )),
            Arc::new(Int32Array::from(ranks)),
        ];
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

// ---------------------------------------------------------------- itemsets and rules

/// What `frequent_itemsets` and `association_rules` share.
#[derive(Debug, Clone, Copy)]
struct ItemsetOptions {
    min_support: f64,
    max_len: usize,
}

fn itemset_options(a: &Args, max_len_at: usize) -> Result<ItemsetOptions> {
    if a.value(3)?.is_none() {
        return Err(a.bad("min_support must not be NULL"));
    }
    Ok(ItemsetOptions {
        min_support: a.number(3, 0.0, 0.0..=1.0)?,
        max_len: a.integer(max_len_at, 3, 1..=10)? as usize,
    })
}

/// The frequent itemsets of the input, with the number of baskets.
fn mine(
    input: Input,
    basket_input: &BasketInput,
    options: ItemsetOptions,
    function: &'static str,
    stop: &AtomicBool,
) -> Result<(Vec<itemsets::Itemset>, u64, KeyDict)> {
    let (baskets, items) = read_baskets(input, basket_input);
    let n = baskets.len() as u64;
    // The smallest count whose share reaches min_support (shares compared as mlxtend does).
    let min_count = ((options.min_support * n as f64) - 1e-9).ceil().max(1.0) as u64;
    let sets = itemsets::frequent_itemsets(
        &baskets,
        items.len(),
        min_count,
        options.max_len,
        MAX_ITEMSETS,
        stop,
    )
    .map_err(|m| invalid_argument(function, m))?;
    Ok((sets, n, items))
}

#[derive(Debug, Default)]
pub struct FrequentItemsetsFunction;

#[derive(Debug)]
struct FrequentItemsets {
    input: BasketInput,
    options: ItemsetOptions,
}

impl TableFunctionImpl for FrequentItemsetsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let state = session_state(&args, FREQUENT_ITEMSETS.name)?;
        let a = Args::new(&FREQUENT_ITEMSETS, args.exprs())?;
        let input = basket_input(state, &a, FREQUENT_ITEMSETS.name)?;
        let options = itemset_options(&a, 4)?;
        let plan = input.plan.clone();
        Ok(ComputedTable::new(
            vec![plan],
            FrequentItemsets { input, options },
        ))
    }
}

impl Computation for FrequentItemsets {
    fn name(&self) -> &'static str {
        FREQUENT_ITEMSETS.name
    }

    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("itemset", list_type(&self.input.item_type), false),
            Field::new("size", DataType::Int32, false),
            Field::new("support", DataType::Float64, false),
            Field::new("count", DataType::Int64, false),
        ]))
    }

    fn compute(&self, inputs: Vec<Input>, stop: &AtomicBool) -> Result<RecordBatch> {
        let input = inputs.into_iter().next().expect("one input");
        let (sets, n, items) = mine(input, &self.input, self.options, self.name(), stop)?;
        let lists: Vec<&[u32]> = sets.iter().map(|s| s.items.as_slice()).collect();
        let columns: Vec<ArrayRef> = vec![
            item_lists(&items, &lists)?,
            Arc::new(Int32Array::from_iter_values(
                sets.iter().map(|s| s.items.len() as i32),
            )),
            Arc::new(Float64Array::from_iter_values(
                sets.iter().map(|s| s.count as f64 / n.max(1) as f64),
            )),
            Arc::new(Int64Array::from_iter_values(
                sets.iter().map(|s| s.count as i64),
            )),
        ];
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

#[derive(Debug, Default)]
pub struct AssociationRulesFunction;

#[derive(Debug)]
struct AssociationRules {
    input: BasketInput,
    options: ItemsetOptions,
    min_confidence: f64,
}

impl TableFunctionImpl for AssociationRulesFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let state = session_state(&args, ASSOCIATION_RULES.name)?;
        let a = Args::new(&ASSOCIATION_RULES, args.exprs())?;
        let input = basket_input(state, &a, ASSOCIATION_RULES.name)?;
        let options = itemset_options(&a, 5)?;
        let min_confidence = a.number(4, 0.5, 0.0..=1.0)?;
        let plan = input.plan.clone();
        Ok(ComputedTable::new(
            vec![plan],
            AssociationRules {
                input,
                options,
                min_confidence,
            },
        ))
    }
}

impl Computation for AssociationRules {
    fn name(&self) -> &'static str {
        ASSOCIATION_RULES.name
    }

    fn schema(&self) -> SchemaRef {
        let list = list_type(&self.input.item_type);
        let measure = |name: &str| Field::new(name, DataType::Float64, false);
        Arc::new(Schema::new(vec![
            Field::new("antecedent", list.clone(), false),
            Field::new("consequent", list, false),
            measure("antecedent_support"),
            measure("consequent_support"),
            measure("support"),
            measure("confidence"),
            measure("lift"),
            measure("leverage"),
            measure("conviction"),
        ]))
    }

    fn compute(&self, inputs: Vec<Input>, stop: &AtomicBool) -> Result<RecordBatch> {
        let input = inputs.into_iter().next().expect("one input");
        let (sets, n, items) = mine(input, &self.input, self.options, self.name(), stop)?;
        let rules = itemsets::rules(&sets, n, self.min_confidence, MAX_ITEMSETS)
            .map_err(|m| invalid_argument(self.name(), m))?;
        let antecedents: Vec<&[u32]> = rules.iter().map(|r| r.antecedent.as_slice()).collect();
        let consequents: Vec<&[u32]> = rules.iter().map(|r| r.consequent.as_slice()).collect();
        let measure = |f: fn(&itemsets::Rule) -> f64| {
            Arc::new(Float64Array::from_iter_values(rules.iter().map(f))) as ArrayRef
        };
        let columns = vec![
            item_lists(&items, &antecedents)?,
            item_lists(&items, &consequents)?,
            measure(|r| r.antecedent_support),
            measure(|r| r.consequent_support),
            measure(|r| r.support),
            measure(|r| r.confidence),
            measure(|r| r.lift),
            measure(|r| r.leverage),
            measure(|r| r.conviction),
        ];
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

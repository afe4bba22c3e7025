//! Recommendation table functions: `recommend_items` (item-based, from a similarity
//! table such as `item_cooccurrence` returns), `als_recommend` (implicit-feedback ALS) and
//! `rec_eval` (precision, recall, hit rate, MAP, NDCG at k and coverage against a
//! holdout). Inputs are tables or queries read by column position; customers and items
//! may be integers or text. The logic is in [`crate::marketing::recommend`],
//! [`crate::marketing::als`] and [`crate::marketing::recommend_eval`].

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::LogicalPlan;

use super::computed_table::{whole_inputs, Computation, ComputedTable, Input};
use super::keys::{renumber, KeyDict};
use super::table_args::{
    column_index, column_type, key_type, require_columns, select_columns, session_state, Args,
};
use crate::marketing::als;
use crate::marketing::recommend::{from_similar_items, Recommendation};
use crate::marketing::recommend_eval::{coverage, mean, user_metrics};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const RECOMMEND_ITEMS: FunctionDoc = FunctionDoc {
    name: "recommend_items",
    kind: Kind::Table,
    params: &[
        required("customer_items", "text"),
        required("similarities", "text"),
        optional("k", "integer", "10"),
        optional("exclude_purchased", "boolean", "true"),
    ],
    result: "TABLE(customer anyelement, item anyelement, rank integer, score double precision)",
    description: "Item-based recommendations: for each customer of customer_items (a table \
                  or SELECT whose first two columns are customer and item), the k items \
                  with the highest sum of similarities to the items the customer has (each \
                  counted once), rank 1 first, ties by item. similarities is a table or \
                  SELECT with columns item_a, item_b, score (as item_cooccurrence returns \
                  them) or else its first three columns. Items the customer already has \
                  are left out unless exclude_purchased is false.",
    example: r#"SELECT customer, item, rank, round(score, 4) AS score
FROM recommend_items('SELECT * FROM (VALUES (1, ''tea''), (2, ''milk'')) AS t(customer, item)', 'SELECT * FROM (VALUES (''tea'', ''milk'', 0.8), (''tea'', ''cake'', 0.5), (''milk'', ''tea'', 0.8)) AS s(item_a, item_b, score)')
ORDER BY customer, rank"#,
    example_output: r#" customer | item | rank | score
----------+------+------+-------
 1        | milk | 1    | 0.8
 1        | cake | 2    | 0.5
 2        | tea  | 1    | 0.8"#,
};

pub const ALS_RECOMMEND: FunctionDoc = FunctionDoc {
    name: "als_recommend",
    kind: Kind::Table,
    params: &[
        required("interactions", "text"),
        optional("k", "integer", "10"),
        optional("rank", "integer", "10"),
        optional("reg", "double precision", "0.1"),
        optional("alpha", "double precision", "1.0"),
        optional("iterations", "integer", "15"),
        optional("seed", "bigint", "42"),
        optional("exclude_purchased", "boolean", "true"),
    ],
    result: "TABLE(customer anyelement, item anyelement, rank integer, score double precision)",
    description: "Implicit-feedback ALS (Hu, Koren & Volinsky): interactions is a table or \
                  SELECT whose first two columns are customer and item and whose optional \
                  third column is a positive weight (rows of one pair add up; 1 each \
                  without it). Fits rank factors per customer and item with regularisation \
                  reg, confidence 1 + alpha*weight and the given iterations from a seeded \
                  start (the same data and seed give the same result), then returns each \
                  customer's k items of highest predicted preference, rank 1 first; items \
                  the customer has are left out unless exclude_purchased is false.",
    example: r#"SELECT customer, item, rank
FROM als_recommend('SELECT * FROM (VALUES (1, ''tea''), (1, ''milk''), (2, ''tea''), (2, ''milk''), (3, ''tea'')) AS t(customer, item)', k => 1)
ORDER BY customer"#,
    example_output: r#" customer | item | rank
----------+------+------
 3        | milk | 1"#,
};

pub const REC_EVAL: FunctionDoc = FunctionDoc {
    name: "rec_eval",
    kind: Kind::Table,
    params: &[
        required("recommendations", "text"),
        required("holdout", "text"),
        optional("k", "integer", "10"),
        optional("catalogue", "text", "NULL"),
    ],
    result: "TABLE(users bigint, k integer, precision double precision, recall double \
             precision, hit_rate double precision, map double precision, ndcg double \
             precision, coverage double precision)",
    description: "Offline evaluation of top-k recommendations. recommendations: a table or \
                  SELECT whose first three columns are customer, item and rank (1 = best); \
                  holdout: customer and item actually bought afterwards. Every customer with \
                  a holdout item is evaluated (with no recommendations, all zero) and \
                  averaged with equal weight: precision@k = hits/k, recall@k = \
                  hits/|holdout|, hit_rate = share with a hit, map = mean of AP@k = sum of \
                  precision@i at hit ranks i / min(|holdout|, k), ndcg = DCG/IDCG with \
                  1/log2(rank + 1) gains; coverage = distinct recommended items (top k) / \
                  catalogue items (the first column of catalogue, or else every item seen \
                  in either input).",
    example: r#"SELECT users, precision, recall, hit_rate, map
FROM rec_eval('SELECT * FROM (VALUES (1, ''milk'', 1), (1, ''cake'', 2), (2, ''tea'', 1)) AS r(customer, item, rank)', 'SELECT * FROM (VALUES (1, ''cake''), (2, ''jam'')) AS h(customer, item)', 2)"#,
    example_output: r#" users | precision | recall | hit_rate | map
-------+-----------+--------+----------+------
 2     | 0.25      | 0.5    | 0.5      | 0.25"#,
};

/// One key type for columns that are compared with each other: integers stay integers
/// when all are, otherwise everything is compared as text.
fn common_key_type(types: &[DataType]) -> DataType {
    if types.iter().all(|t| *t == DataType::Int64) {
        DataType::Int64
    } else {
        DataType::Utf8
    }
}

/// The key types (customer or item) of columns `positions` of `plan`.
fn key_types(
    plan: &LogicalPlan,
    positions: &[usize],
    function: &'static str,
) -> Result<Vec<DataType>> {
    positions
        .iter()
        .map(|&i| {
            let name = plan.schema().field(i).name().clone();
            key_type(&column_type(plan, i), &name, function)
        })
        .collect()
}

/// Checks that the `i`-th column of `plan` is numeric.
fn numeric_column(plan: &LogicalPlan, i: usize, what: &str, function: &'static str) -> Result<()> {
    let t = column_type(plan, i);
    if t.is_numeric() {
        return Ok(());
    }
    let name = plan.schema().field(i).name().clone();
    Err(crate::error::invalid_argument(
        function,
        format!("the {what} column {name} must be numeric, not {t}"),
    ))
}

/// The output schema of both recommenders.
fn recommendation_schema(customer: &DataType, item: &DataType) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer", customer.clone(), false),
        Field::new("item", item.clone(), false),
        Field::new("rank", DataType::Int32, false),
        Field::new("score", DataType::Float64, false),
    ]))
}

fn recommendation_batch(
    schema: SchemaRef,
    customers: &KeyDict,
    items: &KeyDict,
    recs: &[Recommendation],
) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        customers.build(recs.iter().map(|r| r.user)),
        items.build(recs.iter().map(|r| r.item)),
        Arc::new(Int32Array::from_iter_values(
            recs.iter().map(|r| r.rank as i32),
        )),
        Arc::new(Float64Array::from_iter_values(recs.iter().map(|r| r.score))),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Interns `column` into `dict`, remembering the ids to renumber later.
fn intern_all(dict: &mut KeyDict, columns: &[&ArrayRef]) -> Vec<Vec<Option<u32>>> {
    let mut ids: Vec<Vec<Option<u32>>> = columns.iter().map(|c| dict.intern(c)).collect();
    let remap = dict.sort();
    for column in &mut ids {
        renumber(column, &remap);
    }
    ids
}

/// Distinct items per customer (`customers` ids), from parallel id columns.
fn histories(customers: &[Option<u32>], items: &[Option<u32>], n: usize) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); n];
    for (c, i) in customers.iter().zip(items) {
        if let (Some(c), Some(i)) = (c, i) {
            out[*c as usize].push(*i);
        }
    }
    for h in &mut out {
        h.sort_unstable();
        h.dedup();
    }
    out
}

// ---------------------------------------------------------------- recommend_items

#[derive(Debug, Default)]
pub struct RecommendItemsFunction;

#[derive(Debug)]
struct RecommendItems {
    customer_type: DataType,
    item_type: DataType,
    k: usize,
    exclude_purchased: bool,
}

impl TableFunctionImpl for RecommendItemsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = RECOMMEND_ITEMS.name;
        let state = session_state(&args, name)?;
        let a = Args::new(&RECOMMEND_ITEMS, args.exprs())?;
        let owned = a.source(state, 0)?;
        let similar = a.source(state, 1)?;
        require_columns(
            &owned,
            2..=2,
            "customer_items must have 2 columns: customer, item",
            name,
        )?;
        let named: Option<Vec<usize>> = ["item_a", "item_b", "score"]
            .iter()
            .map(|c| column_index(&similar, c, name).ok())
            .collect();
        let similar_columns = match named {
            Some(columns) => columns,
            None => {
                require_columns(
                    &similar,
                    3..=3,
                    "similarities must have columns item_a, item_b, score (or just 3 columns)",
                    name,
                )?;
                vec![0, 1, 2]
            }
        };
        numeric_column(&similar, similar_columns[2], "score", name)?;
        let owned_types = key_types(&owned, &[0, 1], name)?;
        let similar_types = key_types(&similar, &similar_columns[..2], name)?;
        let customer_type = owned_types[0].clone();
        let item_type = common_key_type(&[
            owned_types[1].clone(),
            similar_types[0].clone(),
            similar_types[1].clone(),
        ]);
        let owned = select_columns(owned, &[(0, customer_type.clone()), (1, item_type.clone())])?;
        let similar = select_columns(
            similar,
            &[
                (similar_columns[0], item_type.clone()),
                (similar_columns[1], item_type.clone()),
                (similar_columns[2], DataType::Float64),
            ],
        )?;
        Ok(ComputedTable::new(
            vec![owned, similar],
            RecommendItems {
                customer_type,
                item_type,
                k: a.integer(2, 10, 1..=100_000)? as usize,
                exclude_purchased: a.boolean(3, true)?,
            },
        ))
    }
}

impl Computation for RecommendItems {
    fn name(&self) -> &'static str {
        RECOMMEND_ITEMS.name
    }

    fn schema(&self) -> SchemaRef {
        recommendation_schema(&self.customer_type, &self.item_type)
    }

    fn compute(&self, inputs: Vec<Input>, stop: &AtomicBool) -> Result<RecordBatch> {
        let inputs = whole_inputs(inputs)?;
        let (owned, similar) = (&inputs[0], &inputs[1]);
        let mut customers = KeyDict::for_type(&self.customer_type);
        let mut items = KeyDict::for_type(&self.item_type);
        let customer_ids = intern_all(&mut customers, &[owned.column(0)]).remove(0);
        let item_ids = intern_all(
            &mut items,
            &[owned.column(1), similar.column(0), similar.column(1)],
        );
        let history = histories(&customer_ids, &item_ids[0], customers.len());
        let scores = similar.column(2).as_primitive::<Float64Type>();
        let mut neighbours: Vec<Vec<(u32, f64)>> = vec![Vec::new(); items.len()];
        let pairs = item_ids[1].iter().zip(&item_ids[2]).enumerate();
        for (row, (a, b)) in pairs {
            if let (Some(a), Some(b), true) = (a, b, scores.is_valid(row)) {
                if a != b {
                    neighbours[*a as usize].push((*b, scores.value(row)));
                }
            }
        }
        let recs = from_similar_items(
            &history,
            &neighbours,
            items.len(),
            self.k,
            self.exclude_purchased,
            stop,
        );
        recommendation_batch(self.schema(), &customers, &items, &recs)
    }
}

// ---------------------------------------------------------------- als_recommend

#[derive(Debug, Default)]
pub struct AlsRecommendFunction;

#[derive(Debug)]
struct AlsRecommend {
    customer_type: DataType,
    item_type: DataType,
    weighted: bool,
    k: usize,
    options: als::Options,
    exclude_purchased: bool,
}

impl TableFunctionImpl for AlsRecommendFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = ALS_RECOMMEND.name;
        let state = session_state(&args, name)?;
        let a = Args::new(&ALS_RECOMMEND, args.exprs())?;
        let source = a.source(state, 0)?;
        require_columns(
            &source,
            2..=3,
            "interactions must have 2 or 3 columns: customer, item [, weight]",
            name,
        )?;
        let keys = key_types(&source, &[0, 1], name)?;
        let weighted = source.schema().fields().len() == 3;
        let mut columns = vec![(0, keys[0].clone()), (1, keys[1].clone())];
        if weighted {
            numeric_column(&source, 2, "weight", name)?;
            columns.push((2, DataType::Float64));
        }
        let plan = select_columns(source, &columns)?;
        let options = als::Options {
            rank: a.integer(2, 10, 1..=500)? as usize,
            reg: a.number(3, 0.1, 1e-6..=1e6)?,
            alpha: a.number(4, 1.0, 0.0..=1e6)?,
            iterations: a.integer(5, 15, 1..=1000)? as usize,
            seed: a.integer(6, 42, i64::MIN..=i64::MAX)? as u64,
            threads: 0,
        };
        Ok(ComputedTable::new(
            vec![plan],
            AlsRecommend {
                customer_type: keys[0].clone(),
                item_type: keys[1].clone(),
                weighted,
                k: a.integer(1, 10, 1..=100_000)? as usize,
                options,
                exclude_purchased: a.boolean(7, true)?,
            },
        ))
    }
}

impl Computation for AlsRecommend {
    fn name(&self) -> &'static str {
        ALS_RECOMMEND.name
    }

    fn schema(&self) -> SchemaRef {
        recommendation_schema(&self.customer_type, &self.item_type)
    }

    fn compute(&self, inputs: Vec<Input>, stop: &AtomicBool) -> Result<RecordBatch> {
        let mut customers = KeyDict::for_type(&self.customer_type);
        let mut items = KeyDict::for_type(&self.item_type);
        // Batch by batch, each let go once read: the interactions are the most memory.
        let batches = inputs.into_iter().flat_map(|input| input.batches);
        let mut triples = Vec::new();
        for batch in batches {
            let customer_ids = customers.intern(batch.column(0));
            let item_ids = items.intern(batch.column(1));
            let weights = self
                .weighted
                .then(|| batch.column(2).as_primitive::<Float64Type>());
            for row in 0..batch.num_rows() {
                let weight = match weights {
                    Some(w) if w.is_null(row) => continue,
                    Some(w) => w.value(row),
                    None => 1.0,
                };
                if let (Some(c), Some(i)) = (customer_ids[row], item_ids[row]) {
                    if weight > 0.0 && weight.is_finite() {
                        triples.push((c, i, weight));
                    }
                }
            }
        }
        // Ids in key order, whatever order the rows came in.
        let (customer_order, item_order) = (customers.sort(), items.sort());
        for (c, i, _) in &mut triples {
            *c = customer_order[*c as usize];
            *i = item_order[*i as usize];
        }
        let by_user = als::Rows::from_triples(&triples, customers.len(), false);
        let by_item = als::Rows::from_triples(&triples, items.len(), true);
        drop(triples);
        let model = als::fit(&by_user, &by_item, self.options, stop);
        if !model.is_finite() {
            return Err(crate::error::invalid_argument(
                ALS_RECOMMEND.name,
                "the factors diverged (not finite): raise reg or lower alpha or the weights",
            ));
        }
        let recs = als::recommend(
            &model,
            &by_user,
            &by_item,
            self.k,
            self.exclude_purchased,
            self.options.threads,
            stop,
        );
        recommendation_batch(self.schema(), &customers, &items, &recs)
    }
}

// ---------------------------------------------------------------- rec_eval

#[derive(Debug, Default)]
pub struct RecEvalFunction;

#[derive(Debug)]
struct RecEval {
    customer_type: DataType,
    item_type: DataType,
    k: usize,
    with_catalogue: bool,
}

impl TableFunctionImpl for RecEvalFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = REC_EVAL.name;
        let state = session_state(&args, name)?;
        let a = Args::new(&REC_EVAL, args.exprs())?;
        let recs = a.source(state, 0)?;
        let holdout = a.source(state, 1)?;
        let catalogue = match a.text(3)? {
            Some(_) => Some(a.source(state, 3)?),
            None => None,
        };
        require_columns(
            &recs,
            3..=4,
            "recommendations must have columns customer, item, rank [, score]",
            name,
        )?;
        require_columns(
            &holdout,
            2..=2,
            "holdout must have 2 columns: customer, item",
            name,
        )?;
        if let Some(c) = &catalogue {
            require_columns(c, 1..=1, "catalogue must have 1 column: item", name)?;
        }
        numeric_column(&recs, 2, "rank", name)?;
        let rec_keys = key_types(&recs, &[0, 1], name)?;
        let holdout_keys = key_types(&holdout, &[0, 1], name)?;
        let catalogue_keys = match &catalogue {
            Some(c) => key_types(c, &[0], name)?,
            None => Vec::new(),
        };
        let customer_type = common_key_type(&[rec_keys[0].clone(), holdout_keys[0].clone()]);
        let mut item_types = vec![rec_keys[1].clone(), holdout_keys[1].clone()];
        item_types.extend(catalogue_keys);
        let item_type = common_key_type(&item_types);
        let mut inputs = vec![
            select_columns(
                recs,
                &[
                    (0, customer_type.clone()),
                    (1, item_type.clone()),
                    (2, DataType::Float64),
                ],
            )?,
            select_columns(
                holdout,
                &[(0, customer_type.clone()), (1, item_type.clone())],
            )?,
        ];
        let with_catalogue = catalogue.is_some();
        if let Some(c) = catalogue {
            inputs.push(select_columns(c, &[(0, item_type.clone())])?);
        }
        Ok(ComputedTable::new(
            inputs,
            RecEval {
                customer_type,
                item_type,
                k: a.integer(2, 10, 1..=100_000)? as usize,
                with_catalogue,
            },
        ))
    }
}

impl Computation for RecEval {
    fn name(&self) -> &'static str {
        REC_EVAL.name
    }

    fn schema(&self) -> SchemaRef {
        let measure = |name: &str| Field::new(name, DataType::Float64, false);
        Arc::new(Schema::new(vec![
            Field::new("users", DataType::Int64, false),
            Field::new("k", DataType::Int32, false),
            measure("precision"),
            measure("recall"),
            measure("hit_rate"),
            measure("map"),
            measure("ndcg"),
            measure("coverage"),
        ]))
    }

    fn compute(&self, inputs: Vec<Input>, _stop: &AtomicBool) -> Result<RecordBatch> {
        let inputs = whole_inputs(inputs)?;
        let (recs, holdout) = (&inputs[0], &inputs[1]);
        let mut customers = KeyDict::for_type(&self.customer_type);
        let mut items = KeyDict::for_type(&self.item_type);
        let customer_ids = intern_all(&mut customers, &[recs.column(0), holdout.column(0)]);
        let mut item_columns = vec![recs.column(1), holdout.column(1)];
        if self.with_catalogue {
            item_columns.push(inputs[2].column(0));
        }
        let item_ids = intern_all(&mut items, &item_columns);

        // Each customer's recommendations in rank order (ties by item).
        let ranks = recs.column(2).as_primitive::<Float64Type>();
        let mut ranked: Vec<Vec<(f64, u32)>> = vec![Vec::new(); customers.len()];
        for row in 0..recs.num_rows() {
            if let (Some(c), Some(i), true) =
                (customer_ids[0][row], item_ids[0][row], ranks.is_valid(row))
            {
                ranked[c as usize].push((ranks.value(row), i));
            }
        }
        let lists: Vec<Vec<u32>> = ranked
            .into_iter()
            .map(|mut r| {
                r.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
                let mut seen = HashSet::new();
                r.into_iter()
                    .map(|(_, i)| i)
                    .filter(|i| seen.insert(*i))
                    .collect()
            })
            .collect();
        let truth = histories(&customer_ids[1], &item_ids[1], customers.len());
        let per_user: Vec<_> = truth
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .map(|(c, t)| {
                let set: HashSet<u32> = t.iter().copied().collect();
                user_metrics(&lists[c], &set, self.k)
            })
            .collect();
        let catalogue: HashSet<u32> = if self.with_catalogue {
            item_ids[2].iter().flatten().copied().collect()
        } else {
            (0..items.len() as u32).collect()
        };
        if self.with_catalogue && catalogue.is_empty() {
            return Err(crate::error::invalid_argument(
                REC_EVAL.name,
                "the catalogue is empty",
            ));
        }
        let covered: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
        let m = mean(&per_user);
        let cov = coverage(covered, self.k, &catalogue);
        let value = |v: f64| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
        let columns = vec![
            Arc::new(Int64Array::from(vec![per_user.len() as i64])) as ArrayRef,
            Arc::new(Int32Array::from(vec![self.k as i32])),
            value(m.precision),
            value(m.recall),
            value(m.hit),
            value(m.average_precision),
            value(m.ndcg),
            value(cov),
        ];
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

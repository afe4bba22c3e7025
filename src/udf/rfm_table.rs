//! `rfm(orders, customer_column, date_column, amount_column, analysis_date [, n [, ties
//! [, order_column]]])`: the whole RFM table in one call, one row per customer. The
//! orders are a table name or a query; the function plans them with the caller's
//! session, reads only the named columns, and folds them in one pass ([`RfmFold`];
//! a second, exact one only when a large input's order ids come out of order):
//! per-partition totals, merged, scored by [`crate::marketing::rfm_table`] (no global
//! sort per dimension).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{cast, col, lit, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder};

use super::folded_table::{Fold, FoldedTable, Pass};
use super::order_lines::{AmountColumn, AmountKind, Key, KeyKind, OrderLines};
use super::table_args::{session_state, Args};
use crate::error::invalid_argument;
use crate::marketing::rfm::{self, Ties};
use crate::marketing::rfm_table::{scores, Totals, KEEP_STARTS};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const RFM: FunctionDoc = FunctionDoc {
    name: "rfm",
    kind: Kind::Table,
    params: &[
        required("orders", "text"),
        required("customer_column", "text"),
        required("date_column", "text"),
        required("amount_column", "text"),
        required("analysis_date", "date"),
        optional("n", "integer", "5"),
        optional("ties", "text", "'split'"),
        optional("order_column", "text", "NULL"),
    ],
    result: "TABLE(customer anyelement, recency_days integer, frequency bigint, monetary \
             numeric, r integer, f integer, m integer, rfm_code text, segment text, \
             segment_rf text)",
    description: "The RFM table of an orders table or query (orders is a table name or a \
                  SELECT), one row per customer: recency_days = analysis_date - latest \
                  order date (orders after analysis_date are ignored), frequency = \
                  distinct order_column values (lines when no order column is given), \
                  monetary = sum of amount_column; r, f, m = quantile scores 1..n as \
                  rfm_score gives them (ties split by customer, or 'same'); rfm_code, and \
                  with n = 5 the segment on the canonical map and on the R×F grid. Rows \
                  without a customer or a date are skipped.",
    example: r#"SELECT customer, recency_days, frequency, monetary, r, f, m, segment
FROM rfm('lake.cdnow_master', 'customer_id', 'order_date', 'dollar_value', DATE '1998-07-01')
ORDER BY customer LIMIT 2"#,
    example_output: r#" customer | recency_days | frequency | monetary | r | f | m | segment
----------+--------------+-----------+----------+---+---+---+---------
 1        | 546          | 1         | 11.77    | 1 | 1 | 1 | Lost
 2        | 535          | 2         | 89.00    | 1 | 3 | 4 | At Risk"#,
};

/// The table function.
#[derive(Debug, Default)]
pub struct RfmFunction;

/// What `rfm(...)` was asked for.
#[derive(Debug, Clone)]
struct Params {
    analysis_day: i32,
    /// The date column arrives as an integer in these units per day (1 for dates).
    units_per_day: i64,
    n: usize,
    ties: Ties,
    count_orders: bool,
    customer: KeyKind,
    amount: AmountKind,
}

impl Params {
    /// Where the window ends, in the date column's units: lines from the day after the
    /// analysis date on are outside it.
    fn window_end(&self) -> i64 {
        (i64::from(self.analysis_day) + 1).saturating_mul(self.units_per_day)
    }
}

fn bad(message: impl Into<String>) -> DataFusionError {
    invalid_argument("rfm", message)
}

impl TableFunctionImpl for RfmFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let state = session_state(&args, RFM.name)?;
        let a = Args::new(&RFM, args.exprs())?;
        let columns = [
            a.required_text(1)?,
            a.required_text(2)?,
            a.required_text(3)?,
        ];
        let analysis_day = a
            .date(4)?
            .ok_or_else(|| bad("analysis_date must not be NULL"))?;
        let n = a.integer(5, 5, 1..=1_000_000)? as usize;
        let ties = match a.text(6)?.as_deref() {
            None => Ties::Split,
            Some(t) if t.eq_ignore_ascii_case("split") => Ties::Split,
            Some(t) if t.eq_ignore_ascii_case("same") => Ties::Same,
            Some(t) => return Err(bad(format!("ties must be 'split' or 'same', got '{t}'"))),
        };
        let order_column = a.text(7)?;

        let source = a.source(state, 0)?;
        let lines = OrderLines::resolve(
            source,
            [&columns[0], &columns[1], &columns[2]],
            |field_type| {
                let Some(order) = &order_column else {
                    return Ok(vec![]);
                };
                let t = field_type(order)?;
                if !t.is_integer() {
                    return Err(bad(format!(
                        "order column {order} must be an integer, not {t}"
                    )));
                }
                Ok(vec![
                    cast(col(order.as_str()), DataType::Int64).alias("order_id")
                ])
            },
            bad,
        )?;
        let input = lines.plan;
        let params = Params {
            analysis_day,
            units_per_day: lines.units_per_day,
            n,
            ties,
            count_orders: order_column.is_some(),
            customer: lines.customer,
            amount: lines.amount,
        };
        Ok(match (params.customer, params.amount) {
            (KeyKind::Integer, AmountKind::Decimal(_)) => {
                FoldedTable::new(input, RfmFold::<i64, i128>::new(params))
            }
            (KeyKind::Integer, AmountKind::Float) => {
                FoldedTable::new(input, RfmFold::<i64, f64>::new(params))
            }
            (KeyKind::Text, AmountKind::Decimal(_)) => {
                FoldedTable::new(input, RfmFold::<String, i128>::new(params))
            }
            (KeyKind::Text, AmountKind::Float) => {
                FoldedTable::new(input, RfmFold::<String, f64>::new(params))
            }
        })
    }
}

fn output_schema(p: &Params) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer", p.customer.arrow_type(), false),
        Field::new("recency_days", DataType::Int32, false),
        Field::new("frequency", DataType::Int64, false),
        Field::new("monetary", p.amount.arrow_type(), false),
        Field::new("r", DataType::Int32, false),
        Field::new("f", DataType::Int32, false),
        Field::new("m", DataType::Int32, false),
        Field::new("rfm_code", DataType::Utf8, false),
        Field::new("segment", DataType::Utf8, true),
        Field::new("segment_rf", DataType::Utf8, true),
    ]))
}

/// How many lines ahead a fold asks for the memory it will touch.
const PREFETCH_AHEAD: usize = 16;

/// The RFM table as a one-pass fold: per-customer [`Totals`] per input partition.
struct RfmFold<K, A> {
    params: Params,
    schema: SchemaRef,
    _types: PhantomData<fn() -> (K, A)>,
}

impl<K, A> RfmFold<K, A> {
    fn new(params: Params) -> Self {
        Self {
            schema: output_schema(&params),
            params,
            _types: PhantomData,
        }
    }
}

impl<K, A> fmt::Debug for RfmFold<K, A> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "rfm n={}, ties={:?}, frequency={}",
            self.params.n,
            self.params.ties,
            if self.params.count_orders {
                "distinct orders"
            } else {
                "lines"
            }
        )
    }
}

impl<K: Key, A: AmountColumn> Fold for RfmFold<K, A> {
    type State = Totals<K, A>;

    fn name(&self) -> &'static str {
        "rfm"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn start(&self, pass: Pass) -> Self::State {
        match pass {
            Pass::Bounded => Totals::keeping(self.params.count_orders, KEEP_STARTS),
            Pass::Exact => Totals::new(self.params.count_orders),
        }
    }

    fn needs_exact_pass(&self, totals: &Self::State) -> bool {
        totals.needs_exact_pass()
    }

    fn fold(&self, totals: &mut Self::State, batch: &RecordBatch) -> Result<()> {
        let params = &self.params;
        let window_end = params.window_end();
        let keys = K::read(batch.column(0));
        let days = batch.column(1).as_primitive::<Int64Type>();
        // (times in the date column's units; see `Params::units_per_day`)
        let amounts = A::read(batch.column(2));
        let orders = params
            .count_orders
            .then(|| batch.column(3).as_primitive::<Int64Type>());
        // Lines inside the window, then their customers' slots, then the additions; each
        // step asks for the memory of the line PREFETCH_AHEAD lines on.
        let rows: Vec<(usize, &K)> = (0..batch.num_rows())
            .filter_map(|row| {
                let key = keys.get(row)?;
                (days.is_valid(row) && days.value(row) < window_end).then_some((row, key))
            })
            .collect();
        let mut slots = Vec::with_capacity(rows.len());
        for (n, (_, key)) in rows.iter().enumerate() {
            if let Some((_, ahead)) = rows.get(n + PREFETCH_AHEAD) {
                totals.prefetch_slot(ahead);
            }
            slots.push(totals.slot(key));
        }
        for (n, (&(row, _), &slot)) in rows.iter().zip(&slots).enumerate() {
            if let Some(&ahead) = slots.get(n + PREFETCH_AHEAD) {
                totals.prefetch_customer(ahead);
            }
            let order = orders.and_then(|o| o.is_valid(row).then(|| o.value(row)));
            totals.add_to(slot, days.value(row), amounts.get(row).copied(), order);
        }
        Ok(())
    }

    fn heap_bytes(&self, totals: &Self::State) -> usize {
        totals.heap_bytes()
    }

    fn merge(&self, into: &mut Self::State, other: Self::State) {
        into.merge(other);
    }

    fn finish(&self, mut totals: Self::State) -> Result<RecordBatch> {
        let started = std::time::Instant::now();
        let frequency = totals.frequency();
        tracing::debug!(
            recounted = totals.recounted(),
            frequency_ms = started.elapsed().as_millis(),
            "rfm distinct orders counted"
        );
        let n = totals.customers();
        let customers = Customers {
            last_at: (0..n).map(|i| totals.last_at(i)).collect(),
            amounts: (0..n).map(|i| totals.amount(i)).collect(),
            keys: std::mem::take(&mut totals.keys),
            frequency,
        };
        drop(totals);
        scored(&self.params, customers)
    }

    /// Per customer, over the lines the fold reads (inside the window, with a customer
    /// and a date): the latest time, lines or distinct orders, and the amount's sum.
    fn reduce(&self, input: LogicalPlan, session: &dyn Session) -> Option<Result<LogicalPlan>> {
        let function = |name: &str| {
            session
                .aggregate_functions()
                .get(name)
                .cloned()
                .ok_or_else(|| {
                    DataFusionError::Internal(format!("rfm: no aggregate function {name}"))
                })
        };
        let plan = || -> Result<LogicalPlan> {
            let params = &self.params;
            let window_end = params.window_end();
            let frequency = if params.count_orders {
                function("count")?
                    .call(vec![col("order_id")])
                    .distinct()
                    .build()?
            } else {
                function("count")?.call(vec![lit(1i64)])
            };
            LogicalPlanBuilder::from(input)
                .filter(
                    col("customer")
                        .is_not_null()
                        .and(col("day").lt(lit(window_end))),
                )?
                .aggregate(
                    vec![col("customer")],
                    vec![
                        function("max")?.call(vec![col("day")]).alias("last_at"),
                        cast(frequency, DataType::Int64).alias("frequency"),
                        cast(
                            function("sum")?.call(vec![col("amount")]),
                            params.amount.arrow_type(),
                        )
                        .alias("amount"),
                    ],
                )?
                .build()
        };
        Some(plan())
    }

    fn finish_reduced(&self, rows: Vec<RecordBatch>) -> Result<RecordBatch> {
        let n = rows.iter().map(RecordBatch::num_rows).sum();
        let mut customers = Customers {
            keys: Vec::with_capacity(n),
            last_at: Vec::with_capacity(n),
            frequency: Vec::with_capacity(n),
            amounts: Vec::with_capacity(n),
        };
        for batch in &rows {
            let keys = K::read(batch.column(0));
            let last_at = batch.column(1).as_primitive::<Int64Type>();
            let frequency = batch.column(2).as_primitive::<Int64Type>();
            let amounts = A::read(batch.column(3));
            for row in 0..batch.num_rows() {
                let Some(key) = keys.get(row) else { continue };
                customers.keys.push(key.clone());
                customers.last_at.push(last_at.value(row));
                customers
                    .frequency
                    .push(u64::try_from(frequency.value(row)).unwrap_or(0));
                customers
                    .amounts
                    .push(amounts.get(row).copied().unwrap_or_default());
            }
        }
        drop(rows);
        scored(&self.params, customers)
    }
}

/// Each customer's figures, by slot: the latest time (in the date column's units),
/// lines or distinct orders, and the amount.
struct Customers<K, A> {
    keys: Vec<K>,
    last_at: Vec<i64>,
    frequency: Vec<u64>,
    amounts: Vec<A>,
}

/// The scored table of every customer's figures.
fn scored<K: Key, A: AmountColumn>(params: &Params, c: Customers<K, A>) -> Result<RecordBatch> {
    let started = std::time::Instant::now();
    // Customer key order is the output order and the tie-breaker.
    let mut order: Vec<u32> = (0..c.keys.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| c.keys[a as usize].cmp(&c.keys[b as usize]));
    let pick = |i: &u32| *i as usize;
    let recency: Vec<i128> = order
        .iter()
        .map(|i| {
            let last_day = c.last_at[pick(i)].div_euclid(params.units_per_day);
            i128::from(params.analysis_day) - i128::from(last_day)
        })
        .collect();
    let freq: Vec<i128> = order
        .iter()
        .map(|i| i128::from(c.frequency[pick(i)]))
        .collect();
    let money: Vec<A> = order.iter().map(|i| c.amounts[pick(i)]).collect();
    let money_keys: Vec<i128> = money.iter().map(|a| a.order_key()).collect();
    let r = scores(&recency, false, params.n, params.ties);
    let f = scores(&freq, true, params.n, params.ties);
    let m = scores(&money_keys, true, params.n, params.ties);

    let code = |i: usize| {
        if params.n <= 9 {
            format!("{}{}{}", r[i], f[i], m[i])
        } else {
            format!("{}-{}-{}", r[i], f[i], m[i])
        }
    };
    let five = params.n == 5;
    let to_i64 = |v: u32| i64::from(v);
    let segment: StringArray = (0..order.len())
        .map(|i| {
            five.then(|| rfm::segment(to_i64(r[i]), to_i64(f[i]), to_i64(m[i])).ok())
                .flatten()
        })
        .collect();
    let segment_rf: StringArray = (0..order.len())
        .map(|i| {
            five.then(|| rfm::segment_rf(to_i64(r[i]), to_i64(f[i])).ok())
                .flatten()
        })
        .collect();
    let as_i32 = |v: &[u32]| Int32Array::from_iter_values(v.iter().map(|x| *x as i32));
    let keys: Vec<K> = order.iter().map(|i| c.keys[pick(i)].clone()).collect();
    let columns: Vec<ArrayRef> = vec![
        K::build(keys),
        Arc::new(Int32Array::from_iter_values(
            recency
                .iter()
                .map(|d| i32::try_from(*d).unwrap_or(i32::MAX)),
        )),
        Arc::new(Int64Array::from_iter_values(freq.iter().map(|v| *v as i64))),
        A::build(money, &params.amount.arrow_type())?,
        Arc::new(as_i32(&r)),
        Arc::new(as_i32(&f)),
        Arc::new(as_i32(&m)),
        Arc::new(StringArray::from_iter_values((0..order.len()).map(code))),
        Arc::new(segment),
        Arc::new(segment_rf),
    ];
    tracing::debug!(
        customers = order.len(),
        scores_ms = started.elapsed().as_millis(),
        "rfm scored"
    );
    Ok(RecordBatch::try_new(output_schema(params), columns)?)
}

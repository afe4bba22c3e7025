//! `clv_summary(orders, customer_column, date_column, amount_column, calibration_end
//! [, period [, observation_end]])`: the per-customer summary the lifetime-value models
//! are fitted on, one row per customer who bought by `calibration_end`. The orders are a
//! table name or a query, planned with the caller's session; the lines are folded in
//! one pass by [`crate::marketing::clv_summary`]. The fold is shared with
//! `customer_clv` (`super::customer_clv`), which turns the same summaries into fitted
//! predictions: [`SummaryFold`] with a different [`SummaryOutput`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::folded_table::{Fold, FoldedTable, Pass};
use super::order_lines::{AmountColumn, AmountKind, Key, KeyKind, OrderLines};
use super::table_args::{session_state, Args};
use crate::marketing::clv_summary::{Periods, Summaries, Summary};
use crate::marketing::exact_sum::DoubleDouble;
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const CLV_SUMMARY: FunctionDoc = FunctionDoc {
    name: "clv_summary",
    kind: Kind::Table,
    params: &[
        required("orders", "text"),
        required("customer_column", "text"),
        required("date_column", "text"),
        required("amount_column", "text"),
        required("calibration_end", "date"),
        optional("period", "text", "'week'"),
        optional("observation_end", "date", "NULL"),
    ],
    result: "TABLE(customer anyelement, frequency bigint, recency double precision, t double \
             precision, monetary_value double precision, frequency_holdout bigint, \
             monetary_value_holdout double precision, duration_holdout double precision)",
    description: "The per-customer summary of an orders table or query for the lifetime \
                  models (Fader, Hardie & Lee 2005; lifetimes' \
                  summary_data_from_transaction_data), one row per customer who bought by \
                  calibration_end (included): purchases on the same day count once; \
                  frequency = distinct purchase days - 1, recency = first to last purchase \
                  day, t = first purchase day to calibration_end, in days ('day') or days / \
                  7 ('week', fractional: lifetimes' freq='D', freq_multiplier=7); \
                  monetary_value = mean value of the repeat purchase days (0 when frequency \
                  is 0). With observation_end, as lifetimes' calibration_and_holdout_data: \
                  frequency_holdout = distinct purchase days after calibration_end up to \
                  observation_end, monetary_value_holdout = mean amount of those order lines \
                  (0 without any), duration_holdout = observation_end - calibration_end; \
                  without it these columns are NULL. Timestamps count on their UTC day; \
                  lines without a customer or a date are skipped, a NULL amount is a \
                  purchase without value. One pass over the lines, no sort.",
    example: r#"SELECT customer, frequency, round(recency::numeric, 2) AS recency,
       round(t::numeric, 2) AS t, round(monetary_value::numeric, 2) AS monetary_value
FROM clv_summary('lake.cdnow_master', 'customer_id', 'order_date', 'dollar_value', DATE '1997-09-30')
ORDER BY customer LIMIT 3"#,
    example_output: r#" customer | frequency | recency | t     | monetary_value
----------+-----------+---------+-------+----------------
 1        | 0         | 0.00    | 38.86 | 0.00
 2        | 0         | 0.00    | 37.29 | 0.00
 3        | 2         | 12.86   | 38.71 | 20.15"#,
};

/// The unit of recency and t.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Period {
    Day,
    Week,
}

impl Period {
    /// The period named `text` ('day' or 'week'), `Week` when not given.
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(text: Option<&str>) -> std::result::Result<Self, String> {
        match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
            None | Some("week" | "weeks") => Ok(Period::Week),
            Some("day" | "days") => Ok(Period::Day),
            Some(other) => Err(format!("period must be 'day' or 'week', got '{other}'")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
        }
    }

    /// Days per period.
    pub fn days(self) -> f64 {
        match self {
            Period::Day => 1.0,
            Period::Week => 7.0,
        }
    }
}

/// What a summary-based table function makes of the summaries.
pub trait SummaryOutput: fmt::Debug + Send + Sync + 'static {
    fn schema(&self, customer: &DataType) -> SchemaRef;
    /// The result rows for `customers` (in key order) and their summaries in days.
    ///
    /// # Errors
    /// Bad data (e.g. no customer to fit a model on).
    fn rows(
        &self,
        schema: SchemaRef,
        customers: ArrayRef,
        summaries: &[Summary],
    ) -> Result<RecordBatch>;
}

/// The order lines and periods of a summary-based table function's call: arguments
/// 0-4 are orders, customer_column, date_column, amount_column, calibration_end.
///
/// # Errors
/// Bad arguments (22023), a missing table or column.
pub fn summary_table(
    args: &TableFunctionArgs,
    doc: &'static FunctionDoc,
    observation_end: Option<usize>,
    output: impl SummaryOutput,
) -> Result<Arc<dyn TableProvider>> {
    let state = session_state(args, doc.name)?;
    let a = Args::new(doc, args.exprs())?;
    let columns = [
        a.required_text(1)?,
        a.required_text(2)?,
        a.required_text(3)?,
    ];
    let calibration_end = a
        .date(4)?
        .ok_or_else(|| a.bad("calibration_end must not be NULL"))?;
    let observation_end = match observation_end {
        Some(i) => a.date(i)?,
        None => None,
    };
    if let Some(end) = observation_end {
        if end <= calibration_end {
            return Err(a.bad("observation_end must be after calibration_end"));
        }
    }
    let lines = OrderLines::resolve(
        a.source(state, 0)?,
        [&columns[0], &columns[1], &columns[2]],
        |_| Ok(vec![]),
        |m| a.bad(m),
    )?;
    let periods = Periods {
        calibration_end: i64::from(calibration_end),
        observation_end: observation_end.map(i64::from),
    };
    let output: Arc<dyn SummaryOutput> = Arc::new(output);
    let schema = output.schema(&lines.customer.arrow_type());
    let parts = SummaryParts {
        name: doc.name,
        periods,
        units_per_day: lines.units_per_day,
        amount: lines.amount,
        output,
        schema,
    };
    Ok(match (lines.customer, lines.amount) {
        (KeyKind::Integer, AmountKind::Decimal(_)) => {
            FoldedTable::new(lines.plan, SummaryFold::<i64, i128>::new(parts))
        }
        (KeyKind::Integer, AmountKind::Float) => {
            FoldedTable::new(lines.plan, SummaryFold::<i64, DoubleDouble>::new(parts))
        }
        (KeyKind::Text, AmountKind::Decimal(_)) => {
            FoldedTable::new(lines.plan, SummaryFold::<String, i128>::new(parts))
        }
        (KeyKind::Text, AmountKind::Float) => {
            FoldedTable::new(lines.plan, SummaryFold::<String, DoubleDouble>::new(parts))
        }
    })
}

/// What a [`SummaryFold`] needs whatever its key and amount types.
#[derive(Debug)]
struct SummaryParts {
    name: &'static str,
    periods: Periods,
    units_per_day: i64,
    amount: AmountKind,
    output: Arc<dyn SummaryOutput>,
    schema: SchemaRef,
}

/// Per-customer summaries folded over the order lines.
struct SummaryFold<K, A> {
    parts: SummaryParts,
    _types: PhantomData<fn() -> (K, A)>,
}

impl<K, A> SummaryFold<K, A> {
    fn new(parts: SummaryParts) -> Self {
        Self {
            parts,
            _types: PhantomData,
        }
    }
}

impl<K, A> fmt::Debug for SummaryFold<K, A> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} {:?}", self.parts.name, self.parts.periods)
    }
}

impl<K: Key, A: AmountColumn> Fold for SummaryFold<K, A> {
    type State = Summaries<K, A>;

    fn name(&self) -> &'static str {
        self.parts.name
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.parts.schema)
    }

    fn start(&self, _pass: Pass) -> Self::State {
        Summaries::new(self.parts.periods)
    }

    fn fold(&self, summaries: &mut Self::State, batch: &RecordBatch) -> Result<()> {
        let keys = K::read(batch.column(0));
        let times = batch.column(1).as_primitive::<Int64Type>();
        let amounts = A::read(batch.column(2));
        let units = self.parts.units_per_day;
        summaries.add_lines((0..batch.num_rows()).filter_map(|row| {
            let key = keys.get(row)?;
            times.is_valid(row).then(|| {
                let amount = amounts.get(row).copied();
                (key, times.value(row).div_euclid(units), amount)
            })
        }));
        Ok(())
    }

    fn heap_bytes(&self, summaries: &Self::State) -> usize {
        summaries.heap_bytes()
    }

    fn merge(&self, into: &mut Self::State, other: Self::State) {
        into.merge(other);
    }

    fn finish(&self, summaries: Self::State) -> Result<RecordBatch> {
        let scale = match self.parts.amount {
            AmountKind::Decimal(s) => s,
            AmountKind::Float => 0,
        };
        let (keys, rows): (Vec<K>, Vec<Summary>) = summaries.finish(scale).into_iter().unzip();
        self.parts
            .output
            .rows(Arc::clone(&self.parts.schema), K::build(keys), &rows)
    }
}

/// `clv_summary`'s columns.
#[derive(Debug)]
struct SummaryColumns {
    period: Period,
}

impl SummaryOutput for SummaryColumns {
    fn schema(&self, customer: &DataType) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("customer", customer.clone(), false),
            Field::new("frequency", DataType::Int64, false),
            Field::new("recency", DataType::Float64, false),
            Field::new("t", DataType::Float64, false),
            Field::new("monetary_value", DataType::Float64, false),
            Field::new("frequency_holdout", DataType::Int64, true),
            Field::new("monetary_value_holdout", DataType::Float64, true),
            Field::new("duration_holdout", DataType::Float64, true),
        ]))
    }

    fn rows(
        &self,
        schema: SchemaRef,
        customers: ArrayRef,
        summaries: &[Summary],
    ) -> Result<RecordBatch> {
        let unit = self.period.days();
        let column = |f: &dyn Fn(&Summary) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(summaries.iter().map(f)))
        };
        let columns: Vec<ArrayRef> = vec![
            customers,
            Arc::new(Int64Array::from_iter_values(
                summaries.iter().map(|s| s.frequency),
            )),
            column(&|s| s.recency / unit),
            column(&|s| s.t / unit),
            column(&|s| s.monetary_value),
            Arc::new(Int64Array::from_iter(
                summaries
                    .iter()
                    .map(|s| s.holdout.as_ref().map(|h| h.frequency)),
            )),
            Arc::new(Float64Array::from_iter(
                summaries
                    .iter()
                    .map(|s| s.holdout.as_ref().map(|h| h.monetary_value)),
            )),
            Arc::new(Float64Array::from_iter(
                summaries
                    .iter()
                    .map(|s| s.holdout.as_ref().map(|h| h.duration / unit)),
            )),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// The table function.
#[derive(Debug, Default)]
pub struct ClvSummaryFunction;

impl TableFunctionImpl for ClvSummaryFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let a = Args::new(&CLV_SUMMARY, args.exprs())?;
        let period = Period::parse(a.text(5)?.as_deref()).map_err(|m| a.bad(m))?;
        summary_table(&args, &CLV_SUMMARY, Some(6), SummaryColumns { period })
    }
}

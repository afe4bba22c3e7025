//! `rfm(orders, customer_column, date_column, amount_column, analysis_date [, n [, ties
//! [, order_column]]])`: the whole RFM table in one call, one row per customer. The
//! orders are a table name or a query; the function plans them with the caller's
//! session, reads only the named columns, and runs [`RfmExec`]: per-partition totals,
//! merged, scored by [`crate::marketing::rfm_table`] (no global sort per dimension).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit,
};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{cast, col, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::StreamExt;

use super::table_args::{session_state, Args};
use crate::error::invalid_argument;
use crate::marketing::rfm::{self, Ties};
use crate::marketing::rfm_table::{scores, Amount, Totals};
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyKind {
    Integer,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AmountKind {
    /// Decimal (or integer, scale 0) summed exactly at this scale.
    Decimal(i8),
    Float,
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
        let analysis_day = match a.value(4)?.map(|v| v.cast_to(&DataType::Date32)) {
            Some(Ok(ScalarValue::Date32(Some(day)))) => day,
            _ => {
                return Err(bad(
                    "analysis_date must be a date, such as DATE '1998-07-01'",
                ))
            }
        };
        let n = a.integer(5, 5, 1..=1_000_000)? as usize;
        let ties = match a.text(6)?.as_deref() {
            None => Ties::Split,
            Some(t) if t.eq_ignore_ascii_case("split") => Ties::Split,
            Some(t) if t.eq_ignore_ascii_case("same") => Ties::Same,
            Some(t) => return Err(bad(format!("ties must be 'split' or 'same', got '{t}'"))),
        };
        let order_column = a.text(7)?;

        let source = a.source(state, 0)?;
        let field_type = |name: &str| -> Result<DataType> {
            Ok(source
                .schema()
                .field_with_unqualified_name(name)?
                .data_type()
                .clone())
        };
        let customer_type = field_type(&columns[0])?;
        let customer = if customer_type.is_integer() {
            KeyKind::Integer
        } else if matches!(
            customer_type,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        ) {
            KeyKind::Text
        } else {
            return Err(bad(format!(
                "customer column {} must be an integer or text, not {customer_type}",
                columns[0]
            )));
        };
        let date_type = field_type(&columns[1])?;
        // Days are computed from the raw integers (UTC for timestamps with a time zone):
        // much cheaper than a per-value calendar conversion.
        let units_per_day = match date_type {
            DataType::Date32 => 1,
            DataType::Date64 => 86_400_000,
            DataType::Timestamp(unit, _) => match unit {
                TimeUnit::Second => 86_400,
                TimeUnit::Millisecond => 86_400_000,
                TimeUnit::Microsecond => 86_400_000_000,
                TimeUnit::Nanosecond => 86_400_000_000_000,
            },
            _ => {
                return Err(bad(format!(
                    "date column {} must be a date or timestamp, not {date_type}",
                    columns[1]
                )))
            }
        };
        let amount_type = field_type(&columns[2])?;
        let amount = match amount_type {
            DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => AmountKind::Decimal(s),
            t if t.is_integer() => AmountKind::Decimal(0),
            t if t.is_floating() => AmountKind::Float,
            t => {
                return Err(bad(format!(
                    "amount column {} must be numeric, not {t}",
                    columns[2]
                )))
            }
        };
        let mut projection = vec![
            cast(col(columns[0].as_str()), customer.arrow_type()).alias("customer"),
            cast(col(columns[1].as_str()), DataType::Int64).alias("day"),
            cast(col(columns[2].as_str()), amount.arrow_type()).alias("amount"),
        ];
        if let Some(order) = &order_column {
            let t = field_type(order)?;
            if !t.is_integer() {
                return Err(bad(format!(
                    "order column {order} must be an integer, not {t}"
                )));
            }
            projection.push(cast(col(order.as_str()), DataType::Int64).alias("order_id"));
        }
        let input = LogicalPlanBuilder::from(source)
            .project(projection)?
            .build()?;
        let params = Params {
            analysis_day,
            units_per_day,
            n,
            ties,
            count_orders: order_column.is_some(),
            customer,
            amount,
        };
        Ok(Arc::new(RfmTable {
            schema: output_schema(&params),
            input,
            params,
        }))
    }
}

impl KeyKind {
    fn arrow_type(self) -> DataType {
        match self {
            KeyKind::Integer => DataType::Int64,
            KeyKind::Text => DataType::Utf8,
        }
    }
}

impl AmountKind {
    fn arrow_type(self) -> DataType {
        match self {
            AmountKind::Decimal(s) => DataType::Decimal128(38, s),
            AmountKind::Float => DataType::Float64,
        }
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

#[derive(Debug)]
struct RfmTable {
    schema: SchemaRef,
    input: LogicalPlan,
    params: Params,
}

#[async_trait]
impl TableProvider for RfmTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = state.create_physical_plan(&self.input).await?;
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(Arc::new(RfmExec {
            input,
            params: self.params.clone(),
            projection: projection.cloned(),
            schema,
            properties: Arc::new(properties),
        }))
    }
}

/// Reads every input partition in parallel, then emits the scored table (one batch).
#[derive(Debug)]
pub struct RfmExec {
    input: Arc<dyn ExecutionPlan>,
    params: Params,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for RfmExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "RfmExec: n={}, ties={:?}, frequency={}",
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

impl ExecutionPlan for RfmExec {
    fn name(&self) -> &str {
        "RfmExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    /// The input was planned (and split into partitions) when the table was scanned;
    /// re-splitting it would mix the order of the files within a partition, which the
    /// distinct-order runs rely on for speed (never for correctness).
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("RfmExec has one input".into()))?;
        Ok(Arc::new(RfmExec {
            input,
            params: self.params.clone(),
            projection: self.projection.clone(),
            schema: Arc::clone(&self.schema),
            properties: Arc::clone(&self.properties),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "RfmExec has one output partition, asked for {partition}"
            )));
        }
        let input = Arc::clone(&self.input);
        let params = self.params.clone();
        let projection = self.projection.clone();
        let batch = async move {
            let full = match (params.customer, params.amount) {
                (KeyKind::Integer, AmountKind::Decimal(_)) => {
                    compute::<i64, i128>(input, context, &params).await
                }
                (KeyKind::Integer, AmountKind::Float) => {
                    compute::<i64, f64>(input, context, &params).await
                }
                (KeyKind::Text, AmountKind::Decimal(_)) => {
                    compute::<String, i128>(input, context, &params).await
                }
                (KeyKind::Text, AmountKind::Float) => {
                    compute::<String, f64>(input, context, &params).await
                }
            }?;
            match projection {
                Some(p) => Ok(full.project(&p)?),
                None => Ok(full),
            }
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            futures::stream::once(batch),
        )))
    }
}

/// Customer keys as Arrow columns.
trait Key: Hash + Eq + Clone + Ord + Send + Sync + 'static {
    fn read(array: &ArrayRef) -> Vec<Option<Self>>;
    fn build(keys: Vec<Self>) -> ArrayRef;
}

impl Key for i64 {
    fn read(array: &ArrayRef) -> Vec<Option<Self>> {
        array.as_primitive::<Int64Type>().iter().collect()
    }
    fn build(keys: Vec<Self>) -> ArrayRef {
        Arc::new(Int64Array::from(keys))
    }
}

impl Key for String {
    fn read(array: &ArrayRef) -> Vec<Option<Self>> {
        array
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    }
    fn build(keys: Vec<Self>) -> ArrayRef {
        Arc::new(StringArray::from(keys))
    }
}

/// Amounts as Arrow columns.
trait AmountColumn: Amount + Sync {
    fn read(array: &ArrayRef) -> Vec<Option<Self>>;
    fn build(values: Vec<Self>, data_type: &DataType) -> Result<ArrayRef>;
}

impl AmountColumn for i128 {
    fn read(array: &ArrayRef) -> Vec<Option<Self>> {
        array.as_primitive::<Decimal128Type>().iter().collect()
    }
    fn build(values: Vec<Self>, data_type: &DataType) -> Result<ArrayRef> {
        Ok(Arc::new(
            Decimal128Array::from(values).with_data_type(data_type.clone()),
        ))
    }
}

impl AmountColumn for f64 {
    fn read(array: &ArrayRef) -> Vec<Option<Self>> {
        array.as_primitive::<Float64Type>().iter().collect()
    }
    fn build(values: Vec<Self>, _data_type: &DataType) -> Result<ArrayRef> {
        Ok(Arc::new(Float64Array::from(values)))
    }
}

/// Totals of one input partition, with its memory accounted in the session's pool.
async fn partition_totals<K: Key, A: AmountColumn>(
    mut stream: SendableRecordBatchStream,
    context: Arc<TaskContext>,
    partition: usize,
    params: Params,
) -> Result<Totals<K, A>> {
    let reservation =
        MemoryConsumer::new(format!("rfm[{partition}]")).register(context.memory_pool());
    let mut totals = Totals::<K, A>::new(params.count_orders);
    // Lines from the day after the analysis date on are outside the window.
    let window_end = (i64::from(params.analysis_day) + 1).saturating_mul(params.units_per_day);
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let keys = K::read(batch.column(0));
        let days = batch.column(1).as_primitive::<Int64Type>();
        // (times in the date column's units; see `Params::units_per_day`)
        let amounts = A::read(batch.column(2));
        let orders = params
            .count_orders
            .then(|| batch.column(3).as_primitive::<Int64Type>());
        // Lines inside the window, then their customers' slots, then the additions.
        let rows: Vec<usize> = (0..batch.num_rows())
            .filter(|&row| {
                keys[row].is_some() && days.is_valid(row) && days.value(row) < window_end
            })
            .collect();
        let slots: Vec<usize> = rows
            .iter()
            .filter_map(|&row| keys[row].as_ref().map(|k| totals.slot(k)))
            .collect();
        for (&row, &slot) in rows.iter().zip(&slots) {
            let order = orders.and_then(|o| o.is_valid(row).then(|| o.value(row)));
            totals.add_to(slot, days.value(row), amounts[row], order);
        }
        reservation.try_resize(totals.heap_bytes())?;
    }
    Ok(totals)
}

async fn compute<K: Key, A: AmountColumn>(
    input: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
    params: &Params,
) -> Result<RecordBatch> {
    let partitions = input.output_partitioning().partition_count();
    let mut tasks = Vec::with_capacity(partitions);
    for partition in 0..partitions {
        let stream = input.execute(partition, Arc::clone(&context))?;
        tasks.push(SpawnedTask::spawn(partition_totals::<K, A>(
            stream,
            Arc::clone(&context),
            partition,
            params.clone(),
        )));
    }
    let started = std::time::Instant::now();
    let mut all: Option<Totals<K, A>> = None;
    for task in tasks {
        let part = task
            .join()
            .await
            .map_err(|e| DataFusionError::Execution(format!("rfm: a partition failed: {e}")))??;
        match &mut all {
            None => all = Some(part),
            Some(all) => all.merge(part),
        }
    }
    let totals = all.unwrap_or_else(|| Totals::new(params.count_orders));
    let reservation = MemoryConsumer::new("rfm").register(context.memory_pool());
    reservation.try_resize(totals.heap_bytes())?;
    let totalled = started.elapsed();
    let frequency = totals.frequency();
    let counted = started.elapsed();

    // Customer key order is the output order and the tie-breaker.
    let mut order: Vec<u32> = (0..totals.customers() as u32).collect();
    order.sort_unstable_by(|&a, &b| totals.keys[a as usize].cmp(&totals.keys[b as usize]));
    let pick = |i: &u32| *i as usize;
    let recency: Vec<i128> = order
        .iter()
        .map(|i| {
            let last_day = totals.last_at(pick(i)).div_euclid(params.units_per_day);
            i128::from(params.analysis_day) - i128::from(last_day)
        })
        .collect();
    let freq: Vec<i128> = order
        .iter()
        .map(|i| i128::from(frequency[pick(i)]))
        .collect();
    let money: Vec<A> = order.iter().map(|i| totals.amount(pick(i))).collect();
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
    let keys: Vec<K> = order.iter().map(|i| totals.keys[pick(i)].clone()).collect();
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
        recounted = totals.recounted(),
        totals_ms = totalled.as_millis(),
        frequency_ms = (counted - totalled).as_millis(),
        scores_ms = (started.elapsed() - counted).as_millis(),
        "rfm computed"
    );
    Ok(RecordBatch::try_new(output_schema(params), columns)?)
}

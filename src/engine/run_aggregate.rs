//! Partial aggregation over runs of equal group keys. Lake files are usually written an
//! order, a customer or a day at a time, so the rows of one group often arrive one
//! after the other: the lines of an order share `(customer_id, order_id)`. A hash table
//! pays a lookup (a cache miss once there are millions of groups) for every row; folding
//! each run of equal keys into one partial row costs a comparison with the row before.
//!
//! [`RunAggregateRule`] puts a [`RunPartialAggregateExec`] in place of every partial
//! `AggregateExec` that can take it (one grouping set, no DISTINCT or ordered
//! aggregates, every aggregate with a groups accumulator). Its output is partial state
//! like the hash aggregate's, so the final aggregate above it is unchanged, and a group
//! may be split over several partial rows whatever the input order: only the speed
//! depends on it. It reads the first rows of its input to choose how to go on:
//! - runs only, when runs are long and the keys of different runs do not repeat (order
//!   lines by order): every run becomes one partial row;
//! - runs, then DataFusion's hash aggregate over the folded rows, when runs are long but
//!   keys come back (lines of one customer's orders, days apart);
//! - DataFusion's hash aggregate alone, when runs are short (rows in no useful order).

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use super::once_stream::OnceStream;
use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{partition, take};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::hash_utils::{create_hashes, RandomState};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::utils::memory::RecordBatchMemoryCounter;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};

/// Rows read before choosing: enough for a few batches of every file layout.
const PROBE_ROWS: usize = 128 * 1024;

/// Bytes of input held while probing, whatever the row count.
const PROBE_BYTES: usize = 32 << 20;

/// Runs may be at most this share of the rows for folding them to pay.
const MAX_RUNS_PER_ROW: f64 = 0.5;

/// Above this share of runs whose key an earlier run had, a hash aggregate follows.
const MAX_REPEATED_RUNS: f64 = 0.02;

/// Replaces partial hash aggregates by [`RunPartialAggregateExec`] where it applies.
#[derive(Debug, Default)]
pub struct RunAggregateRule;

impl PhysicalOptimizerRule for RunAggregateRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            if !foldable(aggregate) {
                return Ok(Transformed::no(node));
            }
            let hash = Arc::new(aggregate.clone());
            Ok(Transformed::yes(
                Arc::new(RunPartialAggregateExec::new(hash)) as Arc<dyn ExecutionPlan>,
            ))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "run_partial_aggregate"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A partial aggregate whose groups can be folded run by run with groups accumulators.
fn foldable(aggregate: &AggregateExec) -> bool {
    *aggregate.mode() == AggregateMode::Partial
        && aggregate.group_expr().is_single()
        && !aggregate.group_expr().is_empty()
        && aggregate.limit_options().is_none()
        && aggregate.dynamic_expressions_produced().is_empty()
        && aggregate.group_expr().expr().iter().all(|(e, _)| {
            e.data_type(&aggregate.input_schema())
                .is_ok_and(|t| comparable_key(&t))
        })
        && aggregate.aggr_expr().iter().all(|a| {
            !a.is_distinct() && a.order_bys().is_empty() && a.groups_accumulator_supported()
        })
}

/// Key types whose runs are found by comparing neighbours and whose values hash.
fn comparable_key(data_type: &DataType) -> bool {
    data_type.is_primitive()
        || matches!(
            data_type,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
        )
        || matches!(data_type, DataType::Dictionary(_, value) if comparable_key(value))
}

/// A partial aggregate that folds runs of equal group keys (module header). Holds the
/// hash aggregate it replaces for its plan properties and for the inputs runs do not
/// help.
#[derive(Debug)]
pub struct RunPartialAggregateExec {
    hash: Arc<AggregateExec>,
    metrics: ExecutionPlanMetricsSet,
}

impl RunPartialAggregateExec {
    fn new(hash: Arc<AggregateExec>) -> Self {
        Self {
            hash,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for RunPartialAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "RunPartialAggregateExec over ")?;
        self.hash.fmt_as(t, f)
    }
}

impl ExecutionPlan for RunPartialAggregateExec {
    fn name(&self) -> &str {
        "RunPartialAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.hash.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.hash.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.hash.apply_expressions(f)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let hash = Arc::clone(&self.hash).with_new_children(children)?;
        let hash = hash
            .downcast_ref::<AggregateExec>()
            .ok_or_else(|| DataFusionError::Internal("not an aggregate".into()))?;
        Ok(Arc::new(Self::new(Arc::new(hash.clone()))))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.hash.input().execute(partition, Arc::clone(&context))?;
        let hash = Arc::clone(&self.hash);
        let metrics = RunMetrics::new(&self.metrics, partition);
        let baseline = metrics.baseline.clone();
        let folded = async move {
            let probe = Probe::read(input, &hash).await?;
            probe.continue_with(&hash, metrics, context)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            futures::stream::once(folded)
                .try_flatten()
                .inspect_ok(move |b| baseline.record_output(b.num_rows())),
        )))
    }
}

/// How the rest of the input is aggregated (module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Runs,
    RunsThenHash,
    Hash,
}

#[derive(Clone)]
struct RunMetrics {
    baseline: BaselineMetrics,
    input_rows: Count,
    runs: Count,
    hashed: Count,
}

impl RunMetrics {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        Self {
            baseline: BaselineMetrics::new(metrics, partition),
            input_rows: MetricBuilder::new(metrics).counter("input_rows", partition),
            runs: MetricBuilder::new(metrics).counter("runs", partition),
            hashed: MetricBuilder::new(metrics).counter("partitions_hashed", partition),
        }
    }
}

/// The first rows of the input, held while the strategy is chosen.
struct Probe {
    batches: Vec<RecordBatch>,
    rest: SendableRecordBatchStream,
    strategy: Strategy,
}

impl Probe {
    async fn read(mut input: SendableRecordBatchStream, hash: &AggregateExec) -> Result<Self> {
        let group_exprs = group_exprs(hash);
        let (mut rows, mut runs, mut repeated) = (0usize, 0usize, 0usize);
        let mut bytes = RecordBatchMemoryCounter::new();
        let mut seen = HashSet::new();
        let mut hashes = Vec::new();
        let mut batches = Vec::new();
        while rows < PROBE_ROWS && bytes.memory_usage() < PROBE_BYTES {
            let Some(batch) = input.next().await.transpose()? else {
                break;
            };
            let (groups, ranges) = runs_of(&group_exprs, &batch)?;
            let starts = run_starts(&ranges);
            let keys = taken(&groups, &starts, batch.num_rows())?;
            hashes.clear();
            hashes.resize(ranges.len(), 0);
            create_hashes(&keys, &RandomState::default(), &mut hashes)?;
            repeated += hashes.iter().filter(|h| !seen.insert(**h)).count();
            runs += ranges.len();
            rows += batch.num_rows();
            bytes.count_batch(&batch);
            batches.push(batch);
        }
        let strategy = if runs as f64 > MAX_RUNS_PER_ROW * rows as f64 {
            Strategy::Hash
        } else if repeated as f64 > MAX_REPEATED_RUNS * runs as f64 {
            Strategy::RunsThenHash
        } else {
            Strategy::Runs
        };
        Ok(Self {
            batches,
            rest: input,
            strategy,
        })
    }

    /// The probed batches and the rest of the input, aggregated by the chosen strategy.
    fn continue_with(
        self,
        hash: &Arc<AggregateExec>,
        metrics: RunMetrics,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input_schema = self.rest.schema();
        let input = futures::stream::iter(self.batches.into_iter().map(Ok)).chain(self.rest);
        if self.strategy == Strategy::Hash {
            metrics.hashed.add(1);
            let input = RecordBatchStreamAdapter::new(Arc::clone(&input_schema), input);
            let source = OnceStream::exec(input_schema, vec![Box::pin(input)])?;
            let hash = Arc::clone(hash) as Arc<dyn ExecutionPlan>;
            #[allow(deprecated)]
            let plan = hash.with_new_children(vec![source])?;
            return plan.execute(0, context);
        }
        let mut folder = RunFolder::new(hash)?;
        let schema = hash.schema();
        let counted = metrics.clone();
        let folded = input.map(move |batch| {
            let batch = batch?;
            let _timer = counted.baseline.elapsed_compute().timer();
            counted.input_rows.add(batch.num_rows());
            let out = folder.fold(&batch)?;
            counted.runs.add(out.num_rows());
            Ok(out)
        });
        if self.strategy == Strategy::Runs {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, folded)));
        }
        metrics.hashed.add(1);
        let source = OnceStream::exec(
            Arc::clone(&schema),
            vec![Box::pin(RecordBatchStreamAdapter::new(schema, folded))],
        )?;
        let reduce = AggregateExec::try_new(
            AggregateMode::PartialReduce,
            hash.group_expr().as_final(),
            hash.aggr_expr().to_vec(),
            vec![None; hash.aggr_expr().len()],
            source,
            hash.input_schema(),
        )?;
        Arc::new(reduce).execute(0, context)
    }
}

fn group_exprs(hash: &AggregateExec) -> Vec<Arc<dyn PhysicalExpr>> {
    hash.group_expr()
        .expr()
        .iter()
        .map(|(e, _)| Arc::clone(e))
        .collect()
}

/// The batch's group key columns and its runs of equal keys.
fn runs_of(
    group_exprs: &[Arc<dyn PhysicalExpr>],
    batch: &RecordBatch,
) -> Result<(Vec<ArrayRef>, Vec<Range<usize>>)> {
    let groups = group_exprs
        .iter()
        .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
        .collect::<Result<Vec<_>>>()?;
    let ranges = if batch.num_rows() == 0 {
        Vec::new()
    } else {
        partition(&groups)?.ranges()
    };
    Ok((groups, ranges))
}

fn run_starts(ranges: &[Range<usize>]) -> UInt32Array {
    ranges.iter().map(|r| r.start as u32).collect()
}

/// The key columns at the start of each run (the columns themselves when every row is
/// its own run).
fn taken(groups: &[ArrayRef], starts: &UInt32Array, rows: usize) -> Result<Vec<ArrayRef>> {
    if starts.len() == rows {
        return Ok(groups.to_vec());
    }
    groups
        .iter()
        .map(|g| Ok(take(g.as_ref(), starts, None)?))
        .collect()
}

/// Folds each batch's runs into partial rows with the aggregates' groups accumulators
/// (each run is a group; the accumulators are emptied after every batch).
struct RunFolder {
    group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    schema: SchemaRef,
    group_indices: Vec<usize>,
}

impl RunFolder {
    fn new(hash: &AggregateExec) -> Result<Self> {
        Ok(Self {
            group_exprs: group_exprs(hash),
            arguments: hash.aggr_expr().iter().map(|a| a.expressions()).collect(),
            filters: hash.filter_expr().to_vec(),
            accumulators: hash
                .aggr_expr()
                .iter()
                .map(|a| a.create_groups_accumulator())
                .collect::<Result<_>>()?,
            schema: hash.schema(),
            group_indices: Vec::new(),
        })
    }

    fn fold(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let (groups, ranges) = runs_of(&self.group_exprs, batch)?;
        let starts = run_starts(&ranges);
        let mut columns = taken(&groups, &starts, batch.num_rows())?;
        if !self.accumulators.is_empty() && !ranges.is_empty() {
            self.group_indices.clear();
            self.group_indices.resize(batch.num_rows(), 0);
            for (run, range) in ranges.iter().enumerate() {
                self.group_indices[range.clone()].fill(run);
            }
            for ((accumulator, arguments), filter) in self
                .accumulators
                .iter_mut()
                .zip(&self.arguments)
                .zip(&self.filters)
            {
                let values = arguments
                    .iter()
                    .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
                    .collect::<Result<Vec<_>>>()?;
                let filter = filter
                    .as_ref()
                    .map(|f| f.evaluate(batch)?.into_array(batch.num_rows()))
                    .transpose()?;
                let filter: Option<&BooleanArray> = filter.as_ref().map(|f| f.as_boolean());
                accumulator.update_batch(&values, &self.group_indices, filter, ranges.len())?;
            }
            for accumulator in &mut self.accumulators {
                columns.extend(accumulator.state(EmitTo::All)?);
            }
        } else if ranges.is_empty() {
            return Ok(RecordBatch::new_empty(Arc::clone(&self.schema)));
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::{SessionConfig, SessionContext};

    const ROWS: i64 = 300_000;
    const BATCH: i64 = 8192;

    /// Two partitions of `ROWS` rows each: key `key(row)`, a nullable value, a label.
    fn table(key: fn(i64) -> i64) -> MemTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
            Field::new("s", DataType::Utf8, false),
        ]));
        let partition = |offset: i64| -> Vec<RecordBatch> {
            (0..ROWS)
                .step_by(BATCH as usize)
                .map(|start| {
                    let rows = start..(start + BATCH).min(ROWS);
                    let k: Int64Array = rows
                        .clone()
                        .map(|r| (r % 9_999 != 0).then(|| key(r + offset)))
                        .collect();
                    let v: Int64Array = rows
                        .clone()
                        .map(|r| (r % 7 != 0).then_some(r % 13))
                        .collect();
                    let s: StringArray = rows
                        .map(|r| Some(format!("s{}", key(r + offset) % 3)))
                        .collect();
                    RecordBatch::try_new(
                        Arc::clone(&schema),
                        vec![Arc::new(k), Arc::new(v), Arc::new(s)],
                    )
                    .unwrap()
                })
                .collect()
        };
        MemTable::try_new(Arc::clone(&schema), vec![partition(0), partition(ROWS)]).unwrap()
    }

    fn context(runs: bool, key: fn(i64) -> i64) -> SessionContext {
        let mut builder = SessionStateBuilder::new()
            .with_default_features()
            .with_config(SessionConfig::new().with_target_partitions(2));
        if runs {
            builder = builder.with_physical_optimizer_rule(Arc::new(RunAggregateRule));
        }
        let ctx = SessionContext::new_with_state(builder.build());
        ctx.register_table("t", Arc::new(table(key))).unwrap();
        ctx
    }

    const QUERY: &str = "SELECT k, s, count(*) AS n, sum(v) AS total, min(v) AS low, \
        max(s) AS top, avg(v) AS mean, count(v) FILTER (WHERE v > 3) AS big \
        FROM t GROUP BY k, s ORDER BY k, s";

    /// The RFM shape: a distinct count beside other aggregates (two levels of grouping).
    const DISTINCT_QUERY: &str = "SELECT s, count(DISTINCT k) AS keys, max(v) AS top, \
        sum(v) AS total FROM t GROUP BY s ORDER BY s";

    /// The query's rows with and without the rule, and the rule's counters.
    async fn both(key: fn(i64) -> i64) -> (String, String, usize, usize) {
        run_both(QUERY, key).await
    }

    async fn run_both(query: &str, key: fn(i64) -> i64) -> (String, String, usize, usize) {
        let plain = context(false, key)
            .sql(query)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let ctx = context(true, key);
        let plan = ctx
            .sql(query)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let folded = collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap();
        let (mut runs, mut hashed) = (0, 0);
        plan.apply(|node| {
            if node.is::<RunPartialAggregateExec>() {
                let metrics = node.metrics().unwrap();
                runs += metrics.sum_by_name("runs").map_or(0, |m| m.as_usize());
                hashed += metrics
                    .sum_by_name("partitions_hashed")
                    .map_or(0, |m| m.as_usize());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        (
            pretty_format_batches(&plain).unwrap().to_string(),
            pretty_format_batches(&folded).unwrap().to_string(),
            runs,
            hashed,
        )
    }

    #[tokio::test]
    async fn runs_of_keys_that_never_come_back_are_folded_alone() {
        let (plain, folded, runs, hashed) = both(|r| r / 5).await;
        assert_eq!(plain, folded);
        assert_eq!(hashed, 0);
        assert!(runs > 0 && runs < (2 * ROWS) as usize / 2, "{runs} runs");
    }

    #[tokio::test]
    async fn runs_of_keys_that_come_back_are_folded_then_hashed() {
        let (plain, folded, runs, hashed) = both(|r| (r / 5) % 1000).await;
        assert_eq!(plain, folded);
        assert_eq!(hashed, 2, "both partitions");
        assert!(runs > 0 && runs < (2 * ROWS) as usize / 2, "{runs} runs");
    }

    #[tokio::test]
    async fn distinct_counts_over_runs_are_exact() {
        for key in [|r| r / 5, |r| (r / 5) % 1000, |r| (r * 7919) % 1009] as [fn(i64) -> i64; 3] {
            let (plain, folded, _, _) = run_both(DISTINCT_QUERY, key).await;
            assert_eq!(plain, folded);
        }
    }

    #[tokio::test]
    async fn rows_in_no_order_are_hashed() {
        let (plain, folded, runs, hashed) = both(|r| (r * 7919) % 1009).await;
        assert_eq!(plain, folded);
        assert_eq!(runs, 0);
        assert_eq!(hashed, 2);
    }

    #[test]
    fn ordered_and_distinct_aggregates_keep_the_hash_aggregate() {
        let plan = |sql: &'static str| {
            futures::executor::block_on(async {
                let ctx = context(true, |r| r);
                let plan = ctx
                    .sql(sql)
                    .await
                    .unwrap()
                    .create_physical_plan()
                    .await
                    .unwrap();
                let shown = datafusion::physical_plan::displayable(plan.as_ref())
                    .indent(true)
                    .to_string();
                shown
            })
        };
        assert!(plan("SELECT k, sum(v) FROM t GROUP BY k").contains("RunPartialAggregateExec"));
        for sql in [
            "SELECT k, array_agg(v ORDER BY v) FROM t GROUP BY k",
            "SELECT count(*) FROM t",
        ] {
            assert!(!plan(sql).contains("RunPartialAggregateExec"), "{sql}");
        }
    }
}

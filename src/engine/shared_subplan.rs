//! Subplans a query reads more than once (a CTE joined in two places, the same aggregate
//! in two branches) computed once. DataFusion plans every reference of a CTE on its
//! own, scanning and aggregating the same files again; [`SharedSubplanRule`] finds
//! aggregates and joins whose whole subtrees are identical (same operators, expressions
//! and files), read only files or memory and call no volatile function, and puts a [`SharedSubplanExec`] over each
//! copy. The first copy executed runs the subplan, partition by partition, on a task of
//! its own (so no reader waits on another reader's progress) into memory reserved from
//! the pool; every copy reads those batches. When the result outgrows its reservation
//! (or [`MAX_SHARED_BYTES`]), each copy runs its own subtree instead, as without the rule.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::utils::memory::RecordBatchMemoryCounter;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Volatility;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    displayable, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    SendableRecordBatchStream,
};
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::{StreamExt, TryStreamExt};

use super::batches_exec::one_child;

/// The most a shared result holds in memory, whatever the pool has free.
pub const MAX_SHARED_BYTES: usize = 512 << 20;

/// Shares identical subplans (module header), holding at most `max_bytes` of each
/// shared partition's result.
#[derive(Debug)]
pub struct SharedSubplanRule {
    pub max_bytes: usize,
}

impl Default for SharedSubplanRule {
    fn default() -> Self {
        Self {
            max_bytes: MAX_SHARED_BYTES,
        }
    }
}

impl PhysicalOptimizerRule for SharedSubplanRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut copies: HashMap<String, usize> = HashMap::new();
        plan.apply(|node| {
            if worth_sharing(node) {
                *copies.entry(fingerprint(node)).or_default() += 1;
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let mut shared: HashMap<String, Arc<SharedResult>> = HashMap::new();
        for (key, count) in copies {
            if count < 2 {
                continue;
            }
            shared.insert(key, Arc::new(SharedResult::new(self.max_bytes)));
        }
        if shared.is_empty() {
            return Ok(plan);
        }
        plan.transform_down(|node| {
            if !worth_sharing(&node) {
                return Ok(Transformed::no(node));
            }
            let Some(result) = shared.get(&fingerprint(&node)) else {
                return Ok(Transformed::no(node));
            };
            let exec = SharedSubplanExec::new(node, Arc::clone(result))?;
            Ok(Transformed::new(
                Arc::new(exec) as Arc<dyn ExecutionPlan>,
                true,
                TreeNodeRecursion::Jump,
            ))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "shared_subplan"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// An aggregate's or a join's subtree: work worth doing once, usually smaller than what
/// it reads.
fn worth_sharing(node: &Arc<dyn ExecutionPlan>) -> bool {
    let costly = node
        .downcast_ref::<AggregateExec>()
        .is_some_and(|a| *a.mode() != AggregateMode::Partial)
        || node.is::<HashJoinExec>();
    costly && reads_only_plain_sources(node) && !has_volatile_function(node)
}

/// Leaves a reset copy can run again beside the original: files and memory. A table
/// function's inner query is a leaf whose plan a reset does not reach.
fn reads_only_plain_sources(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let mut plain = true;
    let _ = plan.apply(|node| {
        if node.children().is_empty()
            && !matches!(
                node.name(),
                "DataSourceExec" | "LazyMemoryExec" | "EmptyExec" | "PlaceholderRowExec"
            )
        {
            plain = false;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    plain
}

fn has_volatile_function(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let mut volatile = false;
    let _ = plan.apply(|node| {
        node.apply_expressions(&mut |expr: &Arc<dyn PhysicalExpr>| {
            expr.apply(|e| {
                if e.downcast_ref::<ScalarFunctionExpr>()
                    .is_some_and(|f| f.fun().signature().volatility == Volatility::Volatile)
                {
                    volatile = true;
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(if volatile {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    volatile
}

/// The whole subtree as EXPLAIN VERBOSE would show it: operators, expressions, files.
fn fingerprint(node: &Arc<dyn ExecutionPlan>) -> String {
    displayable(node.as_ref()).indent(true).to_string()
}

/// Batches of one partition, with the memory they hold.
struct Collected {
    batches: Vec<RecordBatch>,
    _reservation: MemoryReservation,
}

/// A partition's result: the batches, `None` when they did not fit (each copy runs its
/// own subtree), or the subplan's error.
type Outcome = std::result::Result<Option<Arc<Collected>>, Arc<DataFusionError>>;

/// The result every copy of one subplan reads, made by the first copy executed.
struct SharedResult {
    max_bytes: usize,
    /// The subplan run once (a fresh copy: the copies' own plans stay unexecuted).
    plan: Mutex<Option<Arc<dyn ExecutionPlan>>>,
    partitions: Mutex<HashMap<usize, Shared<BoxFuture<'static, Outcome>>>>,
}

impl fmt::Debug for SharedResult {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("SharedResult")
    }
}

impl SharedResult {
    fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            plan: Mutex::new(None),
            partitions: Mutex::new(HashMap::new()),
        }
    }

    fn partition(
        &self,
        own: &Arc<dyn ExecutionPlan>,
        partition: usize,
        context: &Arc<TaskContext>,
    ) -> Result<Shared<BoxFuture<'static, Outcome>>> {
        let plan = {
            let mut plan = self.plan.lock().map_err(poisoned)?;
            match &*plan {
                Some(p) => Arc::clone(p),
                None => {
                    let fresh = reset_plan_states(Arc::clone(own))?;
                    *plan = Some(Arc::clone(&fresh));
                    fresh
                }
            }
        };
        let mut partitions = self.partitions.lock().map_err(poisoned)?;
        let context = Arc::clone(context);
        let max_bytes = self.max_bytes;
        Ok(partitions
            .entry(partition)
            .or_insert_with(|| {
                let task = SpawnedTask::spawn(collect(plan, partition, context, max_bytes));
                async move {
                    match task.join().await {
                        Ok(outcome) => outcome,
                        Err(e) => Err(Arc::new(DataFusionError::External(Box::new(e)))),
                    }
                }
                .boxed()
                .shared()
            })
            .clone())
    }
}

fn poisoned<T>(_: T) -> DataFusionError {
    DataFusionError::Internal("shared subplan state poisoned".into())
}

/// Runs one partition of the subplan into memory, giving up when it does not fit.
async fn collect(
    plan: Arc<dyn ExecutionPlan>,
    partition: usize,
    context: Arc<TaskContext>,
    max_bytes: usize,
) -> Outcome {
    let reservation =
        MemoryConsumer::new(format!("SharedSubplan[{partition}]")).register(context.memory_pool());
    let mut stream = plan.execute(partition, context).map_err(Arc::new)?;
    let mut batches = Vec::new();
    // Batches an aggregate emits are slices of its buffers: each buffer counts once.
    let mut counter = RecordBatchMemoryCounter::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(Arc::new)?;
        let bytes = counter.count_batch(&batch);
        if reservation.size() + bytes > max_bytes || reservation.try_grow(bytes).is_err() {
            tracing::debug!(
                partition,
                "a shared subplan outgrew its memory; copies run alone"
            );
            return Ok(None);
        }
        batches.push(batch);
    }
    Ok(Some(Arc::new(Collected {
        batches,
        _reservation: reservation,
    })))
}

/// One copy of a shared subplan (module header).
#[derive(Debug)]
pub struct SharedSubplanExec {
    own: Arc<dyn ExecutionPlan>,
    result: Arc<SharedResult>,
    metrics: ExecutionPlanMetricsSet,
}

impl SharedSubplanExec {
    fn new(own: Arc<dyn ExecutionPlan>, result: Arc<SharedResult>) -> Result<Self> {
        Ok(Self {
            own,
            result,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The same for every copy of one subplan.
    pub fn result_id(&self) -> usize {
        Arc::as_ptr(&self.result) as usize
    }

    /// The subtree this copy runs (or the shared result runs for it).
    pub fn own(&self) -> &Arc<dyn ExecutionPlan> {
        &self.own
    }

    /// This copy over `own`, a subtree with the same rows (a rewrite of its nodes),
    /// still sharing its result with the other copies.
    pub fn with_own(&self, own: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            own,
            result: Arc::clone(&self.result),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for SharedSubplanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedSubplanExec")
    }
}

impl ExecutionPlan for SharedSubplanExec {
    fn name(&self) -> &str {
        "SharedSubplanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.own.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.own]
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
        // New children (a reset for another run, a rewrite): a copy of its own again.
        one_child(children)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let ran_alone = MetricBuilder::new(&self.metrics).counter("ran_alone", partition);
        let shared = self.result.partition(&self.own, partition, &context)?;
        let own = Arc::clone(&self.own);
        let schema = self.schema();
        let stream = futures::stream::once(async move {
            match shared.await {
                Ok(Some(collected)) => {
                    let batches: Vec<Result<RecordBatch>> =
                        collected.batches.iter().cloned().map(Ok).collect();
                    Ok(futures::stream::iter(batches).boxed())
                }
                Ok(None) => {
                    ran_alone.add(1);
                    Ok(own.execute(partition, context)?.boxed())
                }
                Err(e) => Err(DataFusionError::Shared(e)),
            }
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::collect as collect_all;
    use datafusion::prelude::{SessionConfig, SessionContext};

    fn context(rule: Option<SharedSubplanRule>) -> SessionContext {
        let mut builder = SessionStateBuilder::new()
            .with_default_features()
            .with_config(SessionConfig::new().with_target_partitions(2));
        if let Some(rule) = rule {
            builder = builder.with_physical_optimizer_rule(Arc::new(rule));
        }
        SessionContext::new_with_state(builder.build())
    }

    /// A CTE read twice: in a join and in an aggregate joined back.
    const QUERY: &str = "WITH firsts AS ( \
            SELECT v % 100000 AS customer, min(v) AS first \
            FROM generate_series(1, 400000) AS t(v) GROUP BY v % 100000), \
        sizes AS (SELECT first % 5 AS bucket, count(*) AS n FROM firsts GROUP BY first % 5) \
        SELECT f.customer, f.first, s.n FROM firsts f JOIN sizes s ON s.bucket = f.first % 5 \
        ORDER BY f.customer";

    /// The rows, the plan, and how many copies ran their own subtree.
    async fn run(ctx: &SessionContext, sql: &str) -> (String, String, usize) {
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        let rows = collect_all(Arc::clone(&plan), ctx.task_ctx())
            .await
            .unwrap();
        let mut alone = 0;
        plan.apply(|node| {
            if node.is::<SharedSubplanExec>() {
                let metrics = node.metrics().unwrap();
                alone += metrics.sum_by_name("ran_alone").map_or(0, |m| m.as_usize());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        (
            pretty_format_batches(&rows).unwrap().to_string(),
            shown,
            alone,
        )
    }

    #[tokio::test]
    async fn a_cte_read_twice_is_computed_once_with_the_same_rows() {
        let (expected, plain_plan, _) = run(&context(None), QUERY).await;
        assert!(!plain_plan.contains("SharedSubplanExec"));
        // 100K groups take about 1.6 MB; the aggregate emits them as slices of its
        // buffers, which would add up to far more if every slice counted them all.
        let rule = SharedSubplanRule { max_bytes: 8 << 20 };
        let (rows, plan, alone) = run(&context(Some(rule)), QUERY).await;
        assert_eq!(plan.matches("SharedSubplanExec").count(), 2, "{plan}");
        assert_eq!(rows, expected);
        assert_eq!(alone, 0);
    }

    #[tokio::test]
    async fn a_shared_result_too_big_to_hold_lets_each_copy_run_alone() {
        let (expected, _, _) = run(&context(None), QUERY).await;
        let rule = SharedSubplanRule { max_bytes: 0 };
        let (rows, plan, alone) = run(&context(Some(rule)), QUERY).await;
        assert!(plan.contains("SharedSubplanExec"));
        assert_eq!(rows, expected);
        assert!(alone >= 2, "{alone}");
    }

    #[tokio::test]
    async fn subplans_with_volatile_functions_are_not_shared() {
        let sql = QUERY.replace("min(v)", "min(v + floor(random() * 2))");
        let (_, plan, _) = run(&context(Some(SharedSubplanRule::default())), &sql).await;
        assert!(!plan.contains("SharedSubplanExec"), "{plan}");
    }
}

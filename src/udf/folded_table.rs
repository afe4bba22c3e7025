//! The one mechanism behind table functions that fold a large input in one streaming
//! pass (`rfm`, `clv_summary`, `customer_clv`): implement [`Fold`] (a state per input
//! partition, how a batch folds into it, how partition states merge, the result from the
//! merged state), wrap it with its planned input in [`FoldedTable`], and a scan reads all
//! input partitions in parallel (state memory accounted in the session's pool), merges
//! the partial states in partition order and computes the one result batch on a
//! blocking thread. Nothing is sorted or materialized but the states. A fold whose
//! first-pass state keeps bounded detail may ask for a second, exact pass over the
//! input when that detail turned out to be needed ([`Pass`]).
//!
//! Where the input runs on a cluster ([`Placement`], set by the engine in ballista mode),
//! a fold that can say its work as a per-key aggregation ([`Fold::reduce`]) has the
//! cluster run that instead (partial states per partition on the executors, merged by
//! key there) and finishes from the reduced rows ([`Fold::finish_reduced`]): the input's
//! rows never travel to the server.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::StreamExt;

use super::computed_table::one_batch_output;
use crate::engine::placement::Placement;

/// Which pass over the input a state is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The first: a state may drop detail it will most likely not need.
    Bounded,
    /// Again, because the bounded state could not give an exact result: keep everything.
    Exact,
}

/// A table function's one-pass work over its input.
pub trait Fold: fmt::Debug + Send + Sync + 'static {
    type State: Send + 'static;
    /// The name shown in EXPLAIN and in memory accounting.
    fn name(&self) -> &'static str;
    /// The schema of the result.
    fn schema(&self) -> SchemaRef;
    /// An empty state for `pass`.
    fn start(&self, pass: Pass) -> Self::State;
    /// Whether the merged state of the bounded pass dropped detail its result needs.
    fn needs_exact_pass(&self, _state: &Self::State) -> bool {
        false
    }
    /// Folds one batch of the input into `state`.
    ///
    /// # Errors
    /// Bad data.
    fn fold(&self, state: &mut Self::State, batch: &RecordBatch) -> Result<()>;
    /// Approximate heap bytes `state` holds.
    fn heap_bytes(&self, state: &Self::State) -> usize;
    /// Folds another partition's state into `into`.
    fn merge(&self, into: &mut Self::State, other: Self::State);
    /// The result from the state of the whole input.
    ///
    /// # Errors
    /// Bad data or exhausted limits.
    fn finish(&self, state: Self::State) -> Result<RecordBatch>;
    /// For an input that runs on a cluster: a plan over `input` that reduces it to one
    /// row per key there (with `session`'s aggregate functions, the ones the cluster
    /// knows by name), whose rows [`Fold::finish_reduced`] turns into the same result.
    /// `None`: the input's rows are folded here.
    fn reduce(&self, _input: LogicalPlan, _session: &dyn Session) -> Option<Result<LogicalPlan>> {
        None
    }
    /// The result from the rows of [`Fold::reduce`]'s plan.
    ///
    /// # Errors
    /// Bad data or exhausted limits.
    fn finish_reduced(&self, _rows: Vec<RecordBatch>) -> Result<RecordBatch> {
        Err(DataFusionError::Internal(format!(
            "{} has no reduced form",
            self.name()
        )))
    }
}

/// Plans a fold over the input's physical plan with a projection of its result.
type PlanFold = dyn Fn(Arc<dyn ExecutionPlan>, Option<&Vec<usize>>) -> Result<Arc<dyn ExecutionPlan>>
    + Send
    + Sync;

/// The plan of [`Fold::reduce`] over the input, in a session.
type Reduce = dyn Fn(LogicalPlan, &dyn Session) -> Option<Result<LogicalPlan>> + Send + Sync;

/// A table whose rows are a [`Fold`] over `input` (one type for every fold, so the
/// input can be read back: [`FoldedTable::input`]).
pub struct FoldedTable {
    input: LogicalPlan,
    schema: SchemaRef,
    name: &'static str,
    plan_fold: Box<PlanFold>,
    reduce: Box<Reduce>,
    plan_reduced: Box<PlanFold>,
}

impl fmt::Debug for FoldedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoldedTable")
            .field("fold", &self.name)
            .finish_non_exhaustive()
    }
}

impl FoldedTable {
    pub fn new<F: Fold>(input: LogicalPlan, fold: F) -> Arc<Self> {
        let fold = Arc::new(fold);
        let reducing = Arc::clone(&fold);
        Arc::new(Self {
            input,
            schema: fold.schema(),
            name: fold.name(),
            plan_fold: plan_fold(Arc::clone(&fold), false),
            reduce: Box::new(move |input, session| reducing.reduce(input, session)),
            plan_reduced: plan_fold(fold, true),
        })
    }

    /// The plan of the rows folded.
    pub fn input(&self) -> &LogicalPlan {
        &self.input
    }
}

#[async_trait]
impl TableProvider for FoldedTable {
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
        let on_cluster = state
            .config()
            .get_extension::<Placement>()
            .is_some_and(|p| p.0.runs_on_cluster(&self.input));
        if on_cluster {
            if let Some(reduced) = (self.reduce)(self.input.clone(), state) {
                let reduced = state.create_physical_plan(&reduced?).await?;
                return (self.plan_reduced)(reduced, projection);
            }
        }
        let input = state.create_physical_plan(&self.input).await?;
        (self.plan_fold)(input, projection)
    }
}

/// [`FoldExec`]s of `fold`, over its input or (`reduced`) its reduced input.
fn plan_fold<F: Fold>(fold: Arc<F>, reduced: bool) -> Box<PlanFold> {
    Box::new(move |input, projection| {
        let (schema, properties) = one_batch_output(fold.schema(), projection)?;
        Ok(Arc::new(FoldExec {
            fold: Arc::clone(&fold),
            reduced,
            input,
            projection: projection.cloned(),
            schema,
            properties,
        }))
    })
}

/// Folds every input partition in parallel, then emits the result (one batch); or, over
/// a reduced input, reads its rows whole (memory accounted) and finishes from them.
#[derive(Debug)]
pub struct FoldExec<F> {
    fold: Arc<F>,
    /// The input is [`Fold::reduce`]'s plan.
    reduced: bool,
    input: Arc<dyn ExecutionPlan>,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl<F: Fold> DisplayAs for FoldExec<F> {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "FoldExec: {:?}", self.fold)?;
        if self.reduced {
            write!(f, ", from its input reduced per key")?;
        }
        Ok(())
    }
}

impl<F: Fold> ExecutionPlan for FoldExec<F> {
    fn name(&self) -> &str {
        self.fold.name()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    /// The input was planned (and split into partitions) when the table was scanned;
    /// re-splitting it would mix the order of the files within a partition, which folds
    /// may rely on for speed (never for correctness).
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
        let input = crate::engine::batches_exec::one_child(children)?;
        Ok(Arc::new(FoldExec {
            fold: Arc::clone(&self.fold),
            reduced: self.reduced,
            input,
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
                "{} has one output partition, asked for {partition}",
                self.fold.name()
            )));
        }
        let input = Arc::clone(&self.input);
        let fold = Arc::clone(&self.fold);
        let projection = self.projection.clone();
        let reduced = self.reduced;
        let batch = async move {
            let full = if reduced {
                finish_reduced(fold, input, context).await?
            } else {
                run(fold, input, context).await?
            };
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

/// One input partition folded, with its state's memory accounted in the session's pool.
async fn fold_partition<F: Fold>(
    fold: Arc<F>,
    mut stream: SendableRecordBatchStream,
    context: Arc<TaskContext>,
    partition: usize,
    pass: Pass,
) -> Result<F::State> {
    let reservation = MemoryConsumer::new(format!("{}[{partition}]", fold.name()))
        .register(context.memory_pool());
    let mut state = fold.start(pass);
    while let Some(batch) = stream.next().await {
        fold.fold(&mut state, &batch?)?;
        reservation.try_resize(fold.heap_bytes(&state))?;
    }
    Ok(state)
}

async fn run<F: Fold>(
    fold: Arc<F>,
    input: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
) -> Result<RecordBatch> {
    let reading = in_file_order(&context);
    let mut state = fold_all(&fold, &input, &reading, Pass::Bounded).await?;
    if fold.needs_exact_pass(&state) {
        tracing::info!(
            fold = fold.name(),
            "the input is out of order where detail was dropped: folding it again, exactly"
        );
        drop(state);
        // A plan runs once: file scans hand out their files from state made at the
        // first execution.
        let again = reset_plan_states(input)?;
        state = fold_all(&fold, &again, &reading, Pass::Exact).await?;
    }
    let reservation = MemoryConsumer::new(fold.name()).register(context.memory_pool());
    reservation.try_resize(fold.heap_bytes(&state))?;
    let finishing = Arc::clone(&fold);
    SpawnedTask::spawn_blocking(move || finishing.finish(state))
        .join()
        .await
        .map_err(|e| DataFusionError::Execution(format!("{}: {e}", fold.name())))?
}

/// The result from the rows of a reduced input, read whole with their memory accounted.
async fn finish_reduced<F: Fold>(
    fold: Arc<F>,
    input: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
) -> Result<RecordBatch> {
    let reservation = MemoryConsumer::new(fold.name()).register(context.memory_pool());
    let mut rows = Vec::new();
    let mut bytes = 0;
    for partition in 0..input.output_partitioning().partition_count() {
        let mut stream = input.execute(partition, Arc::clone(&context))?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            bytes += batch.get_array_memory_size();
            reservation.try_resize(bytes)?;
            rows.push(batch);
        }
    }
    let finishing = Arc::clone(&fold);
    SpawnedTask::spawn_blocking(move || finishing.finish_reduced(rows))
        .join()
        .await
        .map_err(|e| DataFusionError::Execution(format!("{}: {e}", fold.name())))?
}

/// `context` for reading the input: each partition reads its own files in their order
/// (no partition takes over files of another that is behind), so a fold sees the order
/// the files have.
fn in_file_order(context: &Arc<TaskContext>) -> Arc<TaskContext> {
    let mut config = context.session_config().clone();
    config
        .options_mut()
        .execution
        .enable_file_stream_work_stealing = false;
    Arc::new(TaskContext::new(
        context.task_id(),
        context.session_id(),
        config,
        context.scalar_functions().clone(),
        context.higher_order_functions().clone(),
        context.aggregate_functions().clone(),
        context.window_functions().clone(),
        context.runtime_env(),
    ))
}

/// Every input partition folded in parallel, merged in partition order.
async fn fold_all<F: Fold>(
    fold: &Arc<F>,
    input: &Arc<dyn ExecutionPlan>,
    context: &Arc<TaskContext>,
    pass: Pass,
) -> Result<F::State> {
    let partitions = input.output_partitioning().partition_count();
    let mut tasks = Vec::with_capacity(partitions);
    for partition in 0..partitions {
        let stream = input.execute(partition, Arc::clone(context))?;
        tasks.push(SpawnedTask::spawn(fold_partition(
            Arc::clone(fold),
            stream,
            Arc::clone(context),
            partition,
            pass,
        )));
    }
    let mut all: Option<F::State> = None;
    for task in tasks {
        let part = task.join().await.map_err(|e| {
            DataFusionError::Execution(format!("{}: a partition failed: {e}", fold.name()))
        })??;
        match &mut all {
            None => all = Some(part),
            Some(all) => fold.merge(all, part),
        }
    }
    Ok(all.unwrap_or_else(|| fold.start(pass)))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, UInt64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::{CsvReadOptions, SessionConfig, SessionContext};

    use super::*;

    /// Counts rows and the pass they were counted in; asks for an exact pass once.
    #[derive(Debug)]
    struct CountInExactPass;

    impl Fold for CountInExactPass {
        type State = (Pass, u64);
        fn name(&self) -> &'static str {
            "count"
        }
        fn schema(&self) -> SchemaRef {
            Arc::new(Schema::new(vec![
                Field::new("exact", DataType::Int64, false),
                Field::new("rows", DataType::UInt64, false),
            ]))
        }
        fn start(&self, pass: Pass) -> Self::State {
            (pass, 0)
        }
        fn fold(&self, state: &mut Self::State, batch: &RecordBatch) -> Result<()> {
            state.1 += batch.num_rows() as u64;
            Ok(())
        }
        fn heap_bytes(&self, _state: &Self::State) -> usize {
            0
        }
        fn merge(&self, into: &mut Self::State, other: Self::State) {
            into.1 += other.1;
        }
        fn needs_exact_pass(&self, state: &Self::State) -> bool {
            state.0 == Pass::Bounded
        }
        fn finish(&self, (pass, rows): Self::State) -> Result<RecordBatch> {
            Ok(RecordBatch::try_new(
                self.schema(),
                vec![
                    Arc::new(Int64Array::from(vec![i64::from(pass == Pass::Exact)])),
                    Arc::new(UInt64Array::from(vec![rows])),
                ],
            )?)
        }
    }

    /// The second pass reads every file again (a scan's plan hands its files out once).
    #[tokio::test]
    async fn an_exact_pass_reads_the_whole_input_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in 0..4 {
            let rows: String = (0..250).map(|i| format!("{}\n", f * 1000 + i)).collect();
            std::fs::write(dir.path().join(format!("{f}.csv")), format!("v\n{rows}")).expect("csv");
        }
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        let path = format!("{}/", dir.path().display());
        ctx.register_csv("t", &path, CsvReadOptions::new())
            .await
            .expect("table");
        let input = ctx.table("t").await.expect("t").into_unoptimized_plan();
        let table = FoldedTable::new(input, CountInExactPass);
        let batches = ctx
            .read_table(table)
            .expect("read")
            .collect()
            .await
            .expect("folded");
        let batch = &batches[0];
        let exact = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("i64");
        let rows = batch
            .column(1)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .expect("u64");
        assert_eq!((exact.value(0), rows.value(0)), (1, 1000));
    }
}

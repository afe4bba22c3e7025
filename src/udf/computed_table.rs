//! The one mechanism behind table functions whose result is computed from whole inputs
//! (co-occurrence, itemsets and rules, recommendations, ALS, evaluation, identity
//! stitching): implement [`Computation`], wrap it with its planned inputs in
//! [`ComputedTable`], and a scan runs every input to completion (memory accounted in the
//! session's pool), then the computation on a blocking thread, and serves its result in
//! batches of the session's size. A computation may instead take its first input as it
//! is read, folding it into a state of its own. A cancelled or dropped query sets the
//! computation's stop flag, so its CPU is freed too.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::utils::memory::RecordBatchMemoryCounter;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    execute_stream, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

/// A table function's work once its inputs are known.
pub trait Computation: fmt::Debug + Send + Sync + 'static {
    /// The name shown in EXPLAIN.
    fn name(&self) -> &'static str;
    /// The schema of the result.
    fn schema(&self) -> SchemaRef;
    /// The result, from each input's rows as they were read (in the order the inputs
    /// were given; [`Input::whole`] or [`whole_inputs`] for one batch each). Long loops
    /// check `stop` and give up once it is set (nobody waits for the result any more).
    ///
    /// # Errors
    /// Bad data or exhausted limits.
    fn compute(&self, inputs: Vec<Input>, stop: &AtomicBool) -> Result<RecordBatch>;
    /// The result's columns `projection` only (all when `None`), in that order: a
    /// computation that can leave unread columns unbuilt says so here.
    ///
    /// # Errors
    /// As [`Computation::compute`].
    fn compute_columns(
        &self,
        inputs: Vec<Input>,
        stop: &AtomicBool,
        projection: Option<&[usize]>,
    ) -> Result<RecordBatch> {
        let full = self.compute(inputs, stop)?;
        match projection {
            Some(p) => Ok(full.project(p)?),
            None => Ok(full),
        }
    }
    /// Whether the first input is handed over while it is read ([`Input::next_batch`])
    /// instead of collected first: a computation that folds it in one pass then holds
    /// its own state, not the whole input. The other inputs are collected before.
    fn streams_first_input(&self) -> bool {
        false
    }
}

/// One input's rows, in the batches they were read in.
#[derive(Debug)]
pub struct Input {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// The batches still to come, when the input streams.
    arriving: Option<mpsc::Receiver<Result<RecordBatch>>>,
    /// What the computation holds of a streamed input, in the session's memory pool.
    held: Option<MemoryReservation>,
    /// How many rows a streamed input has, when its plan knows exactly (file statistics).
    rows: Option<usize>,
}

impl Input {
    /// The next batch: the collected ones first, then those arriving while the input is
    /// read; `None` after the last.
    ///
    /// # Errors
    /// Reading the input failed.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if !self.batches.is_empty() {
            return Some(Ok(self.batches.remove(0)));
        }
        self.arriving.as_mut()?.blocking_recv()
    }

    /// How many rows the input has, when known exactly.
    pub fn rows_hint(&self) -> Option<usize> {
        self.rows.or_else(|| {
            self.arriving
                .is_none()
                .then(|| self.batches.iter().map(RecordBatch::num_rows).sum())
        })
    }

    /// The batches still to come, to be read elsewhere (another thread) while this
    /// input keeps counting what the computation holds ([`Input::hold`]).
    pub fn arrivals(&mut self) -> Arrivals {
        Arrivals {
            batches: std::mem::take(&mut self.batches).into(),
            arriving: self.arriving.take(),
        }
    }

    /// Records that the computation now holds `bytes` for this streamed input (its own
    /// state in place of the rows), in the session's memory pool.
    ///
    /// # Errors
    /// The memory limit does not allow it.
    pub fn hold(&mut self, bytes: usize) -> Result<()> {
        match &mut self.held {
            Some(reservation) => reservation.try_resize(bytes),
            None => Ok(()),
        }
    }

    /// All rows in one batch.
    ///
    /// # Errors
    /// Never for batches of the input's own schema.
    pub fn whole(self) -> Result<RecordBatch> {
        Ok(concat_batches(&self.schema, &self.batches)?)
    }
}

/// An input's batches still to come ([`Input::arrivals`]).
#[derive(Debug)]
pub struct Arrivals {
    batches: std::collections::VecDeque<RecordBatch>,
    arriving: Option<mpsc::Receiver<Result<RecordBatch>>>,
}

impl Arrivals {
    /// As [`Input::next_batch`].
    ///
    /// # Errors
    /// Reading the input failed.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if let Some(batch) = self.batches.pop_front() {
            return Some(Ok(batch));
        }
        self.arriving.as_mut()?.blocking_recv()
    }
}

/// Every input's rows in one batch each.
///
/// # Errors
/// See [`Input::whole`].
pub fn whole_inputs(inputs: Vec<Input>) -> Result<Vec<RecordBatch>> {
    inputs.into_iter().map(Input::whole).collect()
}

/// Sets the flag when dropped (unless disarmed): when the query's stream is dropped
/// (cancel, timeout, client gone), the computation is told to stop.
#[derive(Debug)]
struct StopOnDrop(Option<Arc<AtomicBool>>);

impl StopOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = &self.0 {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// A table whose rows are a [`Computation`] over planned inputs.
#[derive(Debug)]
pub struct ComputedTable {
    inputs: Vec<LogicalPlan>,
    computation: Arc<dyn Computation>,
}

impl ComputedTable {
    pub fn new(inputs: Vec<LogicalPlan>, computation: impl Computation) -> Arc<Self> {
        Arc::new(Self {
            inputs,
            computation: Arc::new(computation),
        })
    }

    /// The plans of the inputs.
    pub fn inputs(&self) -> &[LogicalPlan] {
        &self.inputs
    }
}

#[async_trait]
impl TableProvider for ComputedTable {
    fn schema(&self) -> SchemaRef {
        self.computation.schema()
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
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            inputs.push(state.create_physical_plan(input).await?);
        }
        let (schema, properties) = one_batch_output(self.computation.schema(), projection)?;
        Ok(Arc::new(ComputedExec {
            inputs,
            computation: Arc::clone(&self.computation),
            projection: projection.cloned(),
            schema,
            properties,
        }))
    }
}

/// The projected schema and plan properties of a table function's result computed
/// whole: one partition, emitted at the end.
///
/// # Errors
/// A projection index outside `full`.
pub fn one_batch_output(
    full: SchemaRef,
    projection: Option<&Vec<usize>>,
) -> Result<(SchemaRef, Arc<PlanProperties>)> {
    let schema = match projection {
        Some(p) => Arc::new(full.project(p)?),
        None => full,
    };
    let properties = PlanProperties::new(
        EquivalenceProperties::new(Arc::clone(&schema)),
        Partitioning::UnknownPartitioning(1),
        EmissionType::Final,
        Boundedness::Bounded,
    );
    Ok((schema, Arc::new(properties)))
}

/// Runs the inputs, then the computation; one output partition, one batch.
#[derive(Debug)]
pub struct ComputedExec {
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    computation: Arc<dyn Computation>,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for ComputedExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ComputedExec: {}", self.computation.name())
    }
}

impl ExecutionPlan for ComputedExec {
    fn name(&self) -> &str {
        "ComputedExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
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
        if children.len() != self.inputs.len() {
            return Err(DataFusionError::Internal(format!(
                "ComputedExec has {} inputs, got {}",
                self.inputs.len(),
                children.len()
            )));
        }
        Ok(Arc::new(ComputedExec {
            inputs: children,
            computation: Arc::clone(&self.computation),
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
                "ComputedExec has one output partition, asked for {partition}"
            )));
        }
        let inputs = self.inputs.clone();
        let computation = Arc::clone(&self.computation);
        let projection = self.projection.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let guard = StopOnDrop(Some(Arc::clone(&stop)));
        let batch_size = context.session_config().batch_size();
        let batches = async move {
            let _guard = guard;
            let reservation =
                MemoryConsumer::new(computation.name()).register(context.memory_pool());
            let mut inputs = inputs.into_iter();
            let streamed = if computation.streams_first_input() {
                inputs.next()
            } else {
                None
            };
            let mut collected = Vec::with_capacity(inputs.len() + 1);
            // An aggregate's batches are slices of its buffers: each buffer counts once.
            let mut counter = RecordBatchMemoryCounter::new();
            for input in inputs {
                let schema = input.schema();
                let mut stream = execute_stream(input, Arc::clone(&context))?;
                let mut batches = Vec::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    reservation.try_grow(counter.count_batch(&batch))?;
                    batches.push(batch);
                }
                collected.push(Input {
                    schema,
                    batches,
                    arriving: None,
                    held: None,
                    rows: None,
                });
            }
            let name = computation.name();
            let feed = match streamed {
                Some(input) => {
                    let (sender, receiver) = mpsc::channel(2);
                    collected.insert(
                        0,
                        Input {
                            schema: input.schema(),
                            batches: Vec::new(),
                            arriving: Some(receiver),
                            held: Some(
                                MemoryConsumer::new(format!("{name} state"))
                                    .register(context.memory_pool()),
                            ),
                            rows: StatisticsContext::new()
                                .compute(input.as_ref(), &StatisticsArgs::new())
                                .ok()
                                .and_then(|s| match s.num_rows {
                                    Precision::Exact(rows) => Some(rows),
                                    _ => None,
                                }),
                        },
                    );
                    let stream = execute_stream(input, Arc::clone(&context))?;
                    Some((stream, sender, StopOnDrop(Some(Arc::clone(&stop)))))
                }
                None => None,
            };
            let computed = tokio::task::spawn_blocking(move || {
                let result = computation.compute_columns(collected, &stop, projection.as_deref());
                // Input that ended because the query was dropped is not the whole input.
                match result {
                    Ok(_) if stop.load(Ordering::Relaxed) => {
                        Err(DataFusionError::Execution(format!("{name} was cancelled")))
                    }
                    other => other,
                }
            });
            if let Some((mut stream, sender, stop_first)) = feed {
                // Dropped mid-input (the query was), `stop_first` goes before `sender`: the
                // computation is told to stop before it sees its input end.
                while let Some(batch) = stream.next().await {
                    let failed = batch.is_err();
                    // The computation gave up (an error of its own): it is reported below.
                    if sender.send(batch).await.is_err() || failed {
                        break;
                    }
                }
                stop_first.disarm();
            }
            let full = computed
                .await
                .map_err(|e| DataFusionError::Execution(format!("{name} failed: {e}")))??;
            drop(reservation);
            // Slices of the one result (no copy), so operators above get batches of the
            // session's size.
            let (rows, size) = (full.num_rows(), batch_size.max(1));
            let slices: Vec<Result<RecordBatch>> = if rows == 0 {
                vec![Ok(full)]
            } else {
                (0..rows)
                    .step_by(size)
                    .map(|offset| Ok(full.slice(offset, size.min(rows - offset))))
                    .collect()
            };
            Ok::<_, DataFusionError>(futures::stream::iter(slices))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            futures::stream::once(batches).try_flatten(),
        )))
    }
}

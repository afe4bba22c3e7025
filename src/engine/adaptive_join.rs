//! Hash joins that choose how to partition once they have seen their build side.
//! DataFusion decides at planning time between hashing both inputs across partitions
//! (`Partitioned`) and one shared hash table probed by every partition of the other input
//! as it comes (`CollectLeft`), from row estimates. A build side computed by a filter and
//! an aggregate has no useful estimate, so a join of a few hundred thousand orders against
//! a hundred million order lines hashes all hundred million lines into new partitions
//! first. [`AdaptiveJoinRule`] puts an [`AdaptiveHashJoinExec`] in place of such a
//! partitioned join wherever nothing above it relies on its output being hash partitioned;
//! at run time it reads the build side and, when it is small beside the probe side, joins
//! without repartitioning the probe side; otherwise it runs the planned partitioned join
//! over the batches it read and the rest of the build side.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::kernels::aggregate::{max, min};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, Schema, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::utils::memory::{get_record_batch_memory_size, RecordBatchMemoryCounter};
use datafusion::common::JoinType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::sanity_checker::SanityCheckPlan;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::{StreamExt, TryStreamExt};

use super::once_stream::OnceStream;
use super::one_batch_build::one_batch;

/// A build side of at most this many rows is always collected into one table: built
/// on one thread in well under a second, and file scans often have no row estimate.
const SMALL_BUILD_ROWS: usize = 1 << 20;

/// A larger build side is collected when the probe side has this many times its rows:
/// building one table on one thread then costs less than repartitioning the probe side.
const PROBE_ROWS_PER_BUILD_ROW: usize = 8;

/// The most a collected build side holds, whatever the row counts.
const MAX_BUILD_BYTES: usize = 128 << 20;

/// Replaces partitioned hash joins by [`AdaptiveHashJoinExec`] where it applies (module
/// header).
#[derive(Debug)]
pub struct AdaptiveJoinRule {
    /// Build rows always collected into one table (else an eighth of the probe rows).
    pub small_build_rows: usize,
}

impl Default for AdaptiveJoinRule {
    fn default() -> Self {
        Self {
            small_build_rows: SMALL_BUILD_ROWS,
        }
    }
}

impl PhysicalOptimizerRule for AdaptiveJoinRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // One join at a time: the rewrite stays only if every operator above still gets
        // the distribution it requires once that join's output is no longer hashed.
        let mut plan = plan;
        let mut index = 0;
        loop {
            let mut seen = 0;
            let rewritten = Arc::clone(&plan).transform_up(|node| {
                let Some(join) = candidate(&node) else {
                    return Ok(Transformed::no(node));
                };
                seen += 1;
                if seen - 1 != index {
                    return Ok(Transformed::no(node));
                }
                let adaptive = AdaptiveHashJoinExec::try_new(join, self.small_build_rows)?;
                Ok(Transformed::yes(
                    Arc::new(adaptive) as Arc<dyn ExecutionPlan>
                ))
            })?;
            if !rewritten.transformed {
                return Ok(plan);
            }
            if SanityCheckPlan::new()
                .optimize(Arc::clone(&rewritten.data), config)
                .is_ok()
            {
                // The rewritten join is no candidate any more: the same index is the next.
                plan = rewritten.data;
            } else {
                index += 1;
            }
        }
    }

    fn name(&self) -> &str {
        "adaptive_hash_join"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A partitioned hash join over two hash repartitions, of a type whose output needs no
/// pass over the build side after the probe (so one shared table serves every partition).
fn candidate(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<HashJoinExec>> {
    let join = node.downcast_ref::<HashJoinExec>()?;
    let types = [
        JoinType::Inner,
        JoinType::Right,
        JoinType::RightSemi,
        JoinType::RightAnti,
    ];
    if *join.partition_mode() != PartitionMode::Partitioned
        || !types.contains(join.join_type())
        || join.null_aware
        || join.properties().output_ordering().is_some()
    {
        return None;
    }
    let probe = hashed(join.right())?;
    let partitions = probe.partitioning().partition_count();
    let build = join.left();
    let build_fits = match hashed(build) {
        Some(repartition) => repartition.partitioning().partition_count() == partitions,
        // Already hashed by an aggregate on the keys: used as it is either way.
        None => build.output_partitioning().partition_count() == partitions,
    };
    let fits = build_fits && probe.input().output_partitioning().partition_count() == partitions;
    fits.then(|| join.builder().build().ok().map(Arc::new))
        .flatten()
}

fn hashed(plan: &Arc<dyn ExecutionPlan>) -> Option<&RepartitionExec> {
    let repartition = plan.downcast_ref::<RepartitionExec>()?;
    (matches!(repartition.partitioning(), Partitioning::Hash(..)) && !repartition.preserve_order())
        .then_some(repartition)
}

/// The plan chosen at run time, shared by every output partition.
type Choice = Shared<BoxFuture<'static, Result<Arc<Chosen>, Arc<DataFusionError>>>>;

struct Chosen {
    join: Arc<dyn ExecutionPlan>,
    /// The collected build side (held by the chosen plan) and its key bitmap.
    _reservation: MemoryReservation,
}

/// A hash join that is `CollectLeft` or `Partitioned` as its build side turns out (module
/// header). Its children are the inputs of the planned join's two repartitions.
#[derive(Debug)]
pub struct AdaptiveHashJoinExec {
    join: Arc<HashJoinExec>,
    build: Arc<dyn ExecutionPlan>,
    probe: Arc<dyn ExecutionPlan>,
    /// The planned repartition of the build side; none when it comes hashed.
    build_partitioning: Option<Partitioning>,
    probe_partitioning: Partitioning,
    properties: Arc<PlanProperties>,
    small_build_rows: usize,
    choice: Mutex<Option<Choice>>,
    metrics: ExecutionPlanMetricsSet,
}

impl AdaptiveHashJoinExec {
    fn try_new(join: Arc<HashJoinExec>, small_build_rows: usize) -> Result<Self> {
        let Some(probe) = hashed(join.right()) else {
            return Err(DataFusionError::Internal(
                "an adaptive hash join needs a hash repartition of its probe side".into(),
            ));
        };
        let (build, build_partitioning) = match hashed(join.left()) {
            Some(repartition) => (
                Arc::clone(repartition.input()),
                Some(repartition.partitioning().clone()),
            ),
            None => (Arc::clone(join.left()), None),
        };
        let planned = join.properties();
        let properties = PlanProperties::new(
            planned.equivalence_properties().clone(),
            Partitioning::UnknownPartitioning(planned.output_partitioning().partition_count()),
            planned.emission_type,
            planned.boundedness,
        );
        Ok(Self {
            build,
            probe: Arc::clone(probe.input()),
            build_partitioning,
            probe_partitioning: probe.partitioning().clone(),
            join,
            properties: Arc::new(properties),
            small_build_rows,
            choice: Mutex::new(None),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The most build rows collected into one table, from the probe side's estimate.
    fn max_build_rows(&self) -> usize {
        let probe_rows = StatisticsContext::new()
            .compute(self.probe.as_ref(), &StatisticsArgs::new())
            .ok()
            .and_then(|s| s.num_rows.get_value().copied());
        probe_rows.map_or(self.small_build_rows, |rows| {
            (rows / PROBE_ROWS_PER_BUILD_ROW).max(self.small_build_rows)
        })
    }

    fn choice(&self, context: &Arc<TaskContext>) -> Result<Choice> {
        let mut choice = self
            .choice
            .lock()
            .map_err(|_| DataFusionError::Internal("adaptive join state poisoned".into()))?;
        if let Some(choice) = &*choice {
            return Ok(choice.clone());
        }
        let chooser = Chooser {
            join: Arc::clone(&self.join),
            build: Arc::clone(&self.build),
            probe: Arc::clone(&self.probe),
            build_partitioning: self.build_partitioning.clone(),
            probe_partitioning: self.probe_partitioning.clone(),
            max_rows: self.max_build_rows(),
            build_rows: MetricBuilder::new(&self.metrics).counter("build_rows", 0),
            collected_left: MetricBuilder::new(&self.metrics).counter("collected_left", 0),
            key_bitmap: MetricBuilder::new(&self.metrics).counter("key_bitmap", 0),
        };
        let context = Arc::clone(context);
        let task = SpawnedTask::spawn(async move { chooser.choose(context).await });
        let shared = async move {
            match task.join().await {
                Ok(chosen) => chosen.map(Arc::new).map_err(Arc::new),
                Err(e) => Err(Arc::new(DataFusionError::External(Box::new(e)))),
            }
        }
        .boxed()
        .shared();
        *choice = Some(shared.clone());
        Ok(shared)
    }
}

/// What choosing needs, owned by the task that reads the build side.
struct Chooser {
    join: Arc<HashJoinExec>,
    build: Arc<dyn ExecutionPlan>,
    probe: Arc<dyn ExecutionPlan>,
    build_partitioning: Option<Partitioning>,
    probe_partitioning: Partitioning,
    max_rows: usize,
    build_rows: datafusion::physical_plan::metrics::Count,
    collected_left: datafusion::physical_plan::metrics::Count,
    key_bitmap: datafusion::physical_plan::metrics::Count,
}

/// How much of the build side the partitions have read, together.
struct Budget {
    rows: AtomicUsize,
    max_rows: usize,
    over: AtomicBool,
    reservation: Mutex<MemoryReservation>,
}

impl Budget {
    /// Counts a batch; false once the build side is too big to collect.
    fn take(&self, rows: usize, bytes: usize) -> bool {
        let total = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        let fits = total <= self.max_rows
            && self
                .reservation
                .lock()
                .is_ok_and(|r| r.size() + bytes <= MAX_BUILD_BYTES && r.try_grow(bytes).is_ok());
        if !fits {
            self.over.store(true, Ordering::Relaxed);
        }
        fits
    }
}

/// One build partition as read so far.
struct Read {
    batches: Vec<RecordBatch>,
    rest: Option<SendableRecordBatchStream>,
}

async fn read_partition(
    mut stream: SendableRecordBatchStream,
    budget: Arc<Budget>,
) -> Result<Read> {
    let mut batches = Vec::new();
    // Batches of an aggregate are slices of its buffers: each buffer counts once.
    let mut counter = RecordBatchMemoryCounter::new();
    while !budget.over.load(Ordering::Relaxed) {
        let Some(batch) = stream.next().await.transpose()? else {
            return Ok(Read {
                batches,
                rest: None,
            });
        };
        let fits = budget.take(batch.num_rows(), counter.count_batch(&batch));
        batches.push(batch);
        if !fits {
            break;
        }
    }
    Ok(Read {
        batches,
        rest: Some(stream),
    })
}

impl Chooser {
    async fn choose(self, context: Arc<TaskContext>) -> Result<Chosen> {
        let budget = Arc::new(Budget {
            rows: AtomicUsize::new(0),
            max_rows: self.max_rows,
            over: AtomicBool::new(false),
            reservation: Mutex::new(
                MemoryConsumer::new("AdaptiveHashJoin build").register(context.memory_pool()),
            ),
        });
        let partitions = self.build.output_partitioning().partition_count();
        let mut tasks = Vec::with_capacity(partitions);
        for partition in 0..partitions {
            let stream = self.build.execute(partition, Arc::clone(&context))?;
            tasks.push(SpawnedTask::spawn(read_partition(
                stream,
                Arc::clone(&budget),
            )));
        }
        let mut reads = Vec::with_capacity(partitions);
        for task in tasks {
            reads.push(
                task.join()
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))??,
            );
        }
        self.build_rows.add(budget.rows.load(Ordering::Relaxed));
        let schema = self.build.schema();
        let collected =
            reads.iter().all(|r| r.rest.is_none()) && !budget.over.load(Ordering::Relaxed);
        let reservation = Arc::try_unwrap(budget)
            .ok()
            .and_then(|b| b.reservation.into_inner().ok())
            .ok_or_else(|| DataFusionError::Internal("build side still being read".into()))?;
        let join = self.join.builder();
        let join = if collected {
            self.collected_left.add(1);
            let batches = compacted(
                &schema,
                reads.into_iter().flat_map(|r| r.batches).collect(),
                reservation.size(),
            )?;
            let probe = match BuildKeys::of(&self.join, &batches, &reservation)? {
                Some(keys) => {
                    self.key_bitmap.add(1);
                    let probe = FilterExec::try_new(Arc::new(keys), Arc::clone(&self.probe))?;
                    Arc::new(probe) as Arc<dyn ExecutionPlan>
                }
                None => Arc::clone(&self.probe),
            };
            let build = MemorySourceConfig::try_new_exec(&[batches], schema, None)?;
            join.with_new_children(vec![build, probe])?
                .with_partition_mode(PartitionMode::CollectLeft)
        } else {
            // The planned join holds (and counts) these batches as it reads them.
            reservation.free();
            let streams = reads
                .into_iter()
                .map(|read| {
                    let rest = read.rest;
                    let batches = futures::stream::iter(read.batches.into_iter().map(Ok));
                    let stream = batches.chain(futures::stream::iter(rest).flatten());
                    Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&schema), stream))
                        as SendableRecordBatchStream
                })
                .collect();
            let build = one_batch(repartitioned(
                OnceStream::exec(Arc::clone(&schema), streams)?,
                self.build_partitioning.as_ref(),
            )?);
            let probe =
                RepartitionExec::try_new(Arc::clone(&self.probe), self.probe_partitioning.clone())?;
            join.with_new_children(vec![build, Arc::new(probe)])?
        };
        Ok(Chosen {
            join: join.reset_state().build_exec()?,
            _reservation: reservation,
        })
    }
}

/// The build batches as one batch when they are slices of larger buffers (an
/// aggregate's output): the join counts each batch's buffers whole, and would count
/// one aggregate's output once per slice.
fn compacted(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    held: usize,
) -> Result<Vec<RecordBatch>> {
    let counted: usize = batches.iter().map(get_record_batch_memory_size).sum();
    if counted <= held.saturating_mul(2) {
        return Ok(batches);
    }
    Ok(vec![concat_batches(schema, &batches)?])
}

/// Whether a probe row's integer key is among the build side's keys, by one bit per
/// key in the build keys' range: most order lines are not in a small build side, and
/// a bit test drops them before the join looks each of them up in its hash table.
#[derive(Debug)]
struct BuildKeys {
    key: Arc<dyn PhysicalExpr>,
    min: i64,
    bits: Arc<Vec<u64>>,
}

/// The widest key range a bitmap covers (64 MiB of bits).
const MAX_BITMAP_BITS: u64 = 1 << 29;

impl BuildKeys {
    /// The bitmap for an inner or right-semi join (probe rows without a match are never
    /// output) on one integer key whose range is not much wider than the build side.
    fn of(
        join: &HashJoinExec,
        batches: &[RecordBatch],
        reservation: &MemoryReservation,
    ) -> Result<Option<Self>> {
        let [(build_key, probe_key)] = join.on() else {
            return Ok(None);
        };
        if !matches!(join.join_type(), JoinType::Inner | JoinType::RightSemi) {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(batches.len());
        for batch in batches {
            match as_i64(&build_key.evaluate(batch)?.into_array(batch.num_rows())?)? {
                Some(k) => keys.push(k),
                None => return Ok(None),
            }
        }
        let (Some(min), Some(max)) = (
            keys.iter().filter_map(min).min(),
            keys.iter().filter_map(max).max(),
        ) else {
            return Ok(None);
        };
        let rows: usize = keys.iter().map(|k| k.len()).sum();
        let range = max.abs_diff(min) + 1;
        if range > MAX_BITMAP_BITS || range > 1024 * rows as u64 {
            return Ok(None);
        }
        let words = range.div_ceil(64) as usize;
        if reservation.try_grow(words * 8).is_err() {
            return Ok(None);
        }
        let mut bits = vec![0u64; words];
        for key in keys.iter().flat_map(|k| k.iter().flatten()) {
            let at = key.abs_diff(min);
            bits[(at / 64) as usize] |= 1 << (at % 64);
        }
        Ok(Some(Self {
            key: Arc::clone(probe_key),
            min,
            bits: Arc::new(bits),
        }))
    }

    fn contains(&self, key: i64) -> bool {
        let at = key.wrapping_sub(self.min) as u64;
        let word = (at / 64) as usize;
        word < self.bits.len() && self.bits[word] & (1 << (at % 64)) != 0
    }
}

/// An integer key column as i64 (none for other types).
fn as_i64(keys: &ArrayRef) -> Result<Option<Int64Array>> {
    use datafusion::arrow::datatypes::DataType::*;
    if !matches!(
        keys.data_type(),
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32
    ) {
        return Ok(None);
    }
    Ok(Some(
        cast(keys, &Int64)?.as_primitive::<Int64Type>().clone(),
    ))
}

impl PartialEq for BuildKeys {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.bits, &other.bits) && self.key.eq(&other.key)
    }
}

impl Eq for BuildKeys {}

impl std::hash::Hash for BuildKeys {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.bits).hash(state);
        self.key.hash(state);
    }
}

impl fmt::Display for BuildKeys {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} IN build side keys", self.key)
    }
}

impl PhysicalExpr for BuildKeys {
    fn return_field(&self, _input_schema: &Schema) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            "in_build_side",
            DataType::Boolean,
            false,
        )))
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let keys = self.key.evaluate(batch)?.into_array(batch.num_rows())?;
        let Some(keys) = as_i64(&keys)? else {
            return Err(DataFusionError::Internal(
                "build side keys of another type".into(),
            ));
        };
        let values = keys.values();
        let found = BooleanBuffer::collect_bool(keys.len(), |i| {
            keys.is_valid(i) && self.contains(values[i])
        });
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
            found, None,
        ))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.key]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [key] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("one key expected".into()))?;
        Ok(Arc::new(Self {
            key,
            min: self.min,
            bits: Arc::clone(&self.bits),
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The build side as the planned join reads it.
fn repartitioned(
    build: Arc<dyn ExecutionPlan>,
    partitioning: Option<&Partitioning>,
) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(match partitioning {
        Some(partitioning) => Arc::new(RepartitionExec::try_new(build, partitioning.clone())?),
        None => build,
    })
}

impl DisplayAs for AdaptiveHashJoinExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "AdaptiveHashJoinExec over ")?;
        self.join.fmt_as(t, f)
    }
}

impl ExecutionPlan for AdaptiveHashJoinExec {
    fn name(&self) -> &str {
        "AdaptiveHashJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.build, &self.probe]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.join.apply_expressions(f)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [build, probe] = <[_; 2]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("two children expected".into()))?;
        let build = repartitioned(build, self.build_partitioning.as_ref())?;
        let probe = RepartitionExec::try_new(probe, self.probe_partitioning.clone())?;
        let join = Arc::clone(&self.join)
            .builder()
            .with_new_children(vec![build, Arc::new(probe)])?
            .reset_state()
            .build()?;
        Ok(Arc::new(Self::try_new(
            Arc::new(join),
            self.small_build_rows,
        )?))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        let mut metrics = self.metrics.clone_inner();
        // The chosen join's own figures (probe rows, join time), once it ran.
        let chosen = self.choice.lock().ok().and_then(|c| c.clone());
        if let Some(Some(Ok(chosen))) = chosen.map(|c| c.peek().cloned()) {
            for metric in chosen.join.metrics().iter().flat_map(MetricsSet::iter) {
                metrics.push(Arc::clone(metric));
            }
        }
        Some(metrics)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let choice = self.choice(&context)?;
        let stream = futures::stream::once(async move {
            let chosen = choice.await.map_err(DataFusionError::Shared)?;
            chosen.join.execute(partition, context)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::{SessionConfig, SessionContext};

    const ROWS: i64 = 200_000;

    /// Beside the probe side's 400K rows: an eighth of it (50K) decides.
    const SMALL_TEST_BUILD_ROWS: usize = 1_000;

    /// Order lines in two partitions: three lines an order, products 0-999.
    fn lines() -> MemTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("order_id", DataType::Int64, false),
            Field::new("product_id", DataType::Int64, false),
        ]));
        let partition = |first: i64| -> Vec<RecordBatch> {
            (first..first + ROWS)
                .step_by(8192)
                .map(|start| {
                    let rows = start..(start + 8192).min(first + ROWS);
                    let orders = Int64Array::from_iter_values(rows.clone().map(|r| r / 3));
                    let products = Int64Array::from_iter_values(rows.map(|r| (r * 7) % 1000));
                    RecordBatch::try_new(
                        Arc::clone(&schema),
                        vec![Arc::new(orders), Arc::new(products)],
                    )
                    .unwrap()
                })
                .collect()
        };
        MemTable::try_new(Arc::clone(&schema), vec![partition(0), partition(ROWS)]).unwrap()
    }

    fn context(adaptive: bool) -> SessionContext {
        let mut config = SessionConfig::new().with_target_partitions(2);
        // Partitioned joins whatever the estimates, as for inputs without statistics.
        let options = config.options_mut();
        options.optimizer.hash_join_single_partition_threshold = 0;
        options.optimizer.hash_join_single_partition_threshold_rows = 0;
        let mut builder = SessionStateBuilder::new()
            .with_default_features()
            .with_config(config);
        if adaptive {
            let rule = AdaptiveJoinRule {
                small_build_rows: SMALL_TEST_BUILD_ROWS,
            };
            builder = builder.with_physical_optimizer_rule(Arc::new(rule));
        }
        let ctx = SessionContext::new_with_state(builder.build());
        ctx.register_table("lines", Arc::new(lines())).unwrap();
        ctx
    }

    /// The co-purchase shape: orders with an anchor product joined back to their lines.
    fn pairs(anchors: &str) -> String {
        format!(
            "WITH anchors AS (SELECT DISTINCT order_id, product_id AS anchor FROM lines \
             WHERE {anchors}) \
             SELECT a.anchor, o.product_id, count(DISTINCT o.order_id) AS together \
             FROM anchors a JOIN lines o ON o.order_id = a.order_id AND o.product_id <> a.anchor \
             GROUP BY a.anchor, o.product_id ORDER BY together DESC, a.anchor, o.product_id"
        )
    }

    /// The rows without and with the rule, the plan with it, and the adaptive joins'
    /// counters (collected into one table, build rows read).
    async fn both(query: &str) -> (String, String, String, usize, usize) {
        let (plain, rows, plan, counters) = counted(query).await;
        (plain, rows, plan, counters[0], counters[1])
    }

    /// As [`both`], with the counters `collected_left, build_rows, key_bitmap`.
    async fn counted(query: &str) -> (String, String, String, [usize; 3]) {
        let plain = context(false)
            .sql(query)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let ctx = context(true);
        let plan = ctx
            .sql(query)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let rows = collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap();
        let mut counters = [0; 3];
        plan.apply(|node| {
            if node.is::<AdaptiveHashJoinExec>() {
                let metrics = node.metrics().unwrap();
                for (counter, name) in
                    counters
                        .iter_mut()
                        .zip(["collected_left", "build_rows", "key_bitmap"])
                {
                    *counter += metrics.sum_by_name(name).map_or(0, |m| m.as_usize());
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        (
            pretty_format_batches(&plain).unwrap().to_string(),
            pretty_format_batches(&rows).unwrap().to_string(),
            shown,
            counters,
        )
    }

    #[tokio::test]
    async fn a_small_build_side_is_collected_and_the_probe_side_not_repartitioned() {
        let (plain, rows, plan, collected, build_rows) = both(&pairs("product_id % 100 = 0")).await;
        assert_eq!(plain, rows);
        assert!(plan.contains("AdaptiveHashJoinExec"), "{plan}");
        assert_eq!(collected, 1, "{plan}");
        // Every anchor order: 10 of the 1000 products, three lines an order.
        assert_eq!(build_rows, 4_000, "{plan}");
    }

    #[tokio::test]
    async fn probe_rows_outside_the_build_keys_are_dropped_by_a_bitmap_first() {
        // Negative keys, NULL keys (never equal), keys beyond the build side's range.
        let query = "WITH anchors AS (SELECT DISTINCT \
                CASE WHEN order_id % 7 = 0 THEN NULL ELSE order_id - 60000 END AS k \
                FROM lines WHERE product_id % 100 = 0), \
            probes AS (SELECT CASE WHEN order_id % 5 = 0 THEN NULL ELSE order_id - 60000 END \
                AS k, product_id FROM lines) \
            SELECT count(*) AS n, sum(p.product_id) AS s, min(p.k) AS low, max(p.k) AS high \
            FROM anchors a JOIN probes p ON p.k = a.k";
        let (plain, rows, plan, [collected, _, bitmap]) = counted(query).await;
        assert_eq!(plain, rows);
        assert!(plain.contains("-59"), "{plain}");
        assert_eq!((collected, bitmap), (1, 1), "{plan}");
    }

    #[tokio::test]
    async fn a_large_build_side_runs_the_planned_partitioned_join() {
        // Half the lines are anchors: more build rows than an eighth of the probe side.
        let (plain, rows, plan, collected, build_rows) = both(&pairs("product_id % 2 = 0")).await;
        assert_eq!(plain, rows);
        assert!(plan.contains("AdaptiveHashJoinExec"), "{plan}");
        assert_eq!(collected, 0, "{plan}");
        assert!(build_rows > 400_000 / 8, "{build_rows}");
    }

    #[tokio::test]
    async fn a_join_whose_hash_partitioning_is_used_above_stays_as_planned() {
        // Grouped by the join key: the aggregate above relies on the join's output being
        // hash partitioned by it, so no repartition sits between them.
        let query = "SELECT o.order_id, count(*) AS n FROM \
            (SELECT DISTINCT order_id FROM lines WHERE product_id % 100 = 0) a \
            JOIN lines o ON o.order_id = a.order_id GROUP BY o.order_id ORDER BY o.order_id";
        let (plain, rows, plan, _, _) = both(query).await;
        assert_eq!(plain, rows);
        // The aggregate above the join reads its partitions as they are.
        assert!(plan.contains("SinglePartitioned"), "{plan}");
        assert!(!plan.contains("AdaptiveHashJoinExec"), "{plan}");
    }
}

//! Files a hash join reads on both sides, decoded once. A self-join (orders holding an
//! anchor product joined back to all their lines) or a CTE joined to another aggregate
//! of the same table (cohorts: first orders joined to monthly activity) plans a Parquet
//! scan of the same files under the build side and under the probe side: decompressing
//! and decoding the same columns twice is much of such a query's time.
//! [`SharedScanRule`] pairs such scans (same files; the build side's reads plain
//! columns, among them every column the probe side's computes from; neither with a
//! predicate that could prune row groups) and puts a [`SharedScanExec`] in place of
//! each. The build side's copy reads the files of its partition one by one and keeps
//! what it decoded, within memory reserved from the pool while a limited pool is at
//! most a quarter full (and [`MAX_KEPT_BYTES`]); the probe side's copy, which a hash
//! join starts only once its build side is complete, hands on what was kept (computing
//! its own projection from it) and reads the files that did not fit itself. Nothing
//! waits on the other copy: a probe copy that starts first, or while its build copy is
//! still reading, reads all of its files itself.
//!
//! A build side's scan inside a `SharedSubplanExec` (a subtree run once for several
//! copies) becomes a keeper in every copy of that subplan, so whichever copy runs keeps;
//! only the first keeper of a partition keeps and only the first reader takes.
//!
//! Scan predicates are dropped in the shared scan: with `parquet.pushdown_filters` off
//! (the rule does nothing when it is on) they only prune, and a predicate that could
//! prune keeps its scan out of the pair.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::utils::memory::RecordBatchMemoryCounter;
use datafusion::common::Statistics;
use datafusion::datasource::physical_plan::parquet::ParquetRowSelection;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::expressions::{lit, Column};
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    displayable, replace_children_if_necessary, DisplayAs, DisplayFormatType, ExecutionPlan,
    PlanProperties, SendableRecordBatchStream,
};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};

use super::adaptive_join::AdaptiveHashJoinExec;
use super::shared_subplan::SharedSubplanExec;

/// The most one shared scan keeps for its probe side, whatever the pool has free.
pub const MAX_KEPT_BYTES: usize = 1 << 30;

/// Kept batches stop once the pool (when limited) is this fraction full.
const POOL_SHARE_DIVISOR: usize = 4;

/// Pairs the scans a hash join reads on both sides (module header).
#[derive(Debug)]
pub struct SharedScanRule {
    pub max_bytes: usize,
}

impl Default for SharedScanRule {
    fn default() -> Self {
        Self {
            max_bytes: MAX_KEPT_BYTES,
        }
    }
}

impl PhysicalOptimizerRule for SharedScanRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if config.execution.parquet.pushdown_filters {
            return Ok(plan);
        }
        // Keepers inside a subplan that runs once for several copies go into every copy
        // of it, once the joins are done: whichever copy runs it keeps.
        let mut in_subplans: Vec<(usize, String, Arc<Shared>)> = Vec::new();
        let plan = plan
            .transform_down(|node| {
                let Some([build, probe]) = join_sides(&node) else {
                    return Ok(Transformed::no(node));
                };
                let claimed = |scan: &ScanInfo| {
                    in_subplans
                        .iter()
                        .any(|(id, key, _)| scan.subplan == Some(*id) && *key == scan.key)
                };
                let builds: Vec<ScanInfo> = scans(&build, true)
                    .into_iter()
                    .filter(|b| !claimed(b))
                    .collect();
                let probes = scans(&probe, false);
                let Some((keeper, reader, projection)) = builds.iter().find_map(|b| {
                    probes
                        .iter()
                        .find_map(|p| b.feeds(p).map(|projection| (b, p, projection)))
                }) else {
                    return Ok(Transformed::no(node));
                };
                let shared = Arc::new(Shared::new(Arc::clone(&keeper.files), self.max_bytes));
                let probe = replace(probe, &reader.node, |scan| {
                    SharedScanExec::new(
                        scan,
                        Role::Reads {
                            files: Arc::clone(&reader.files),
                            projection: projection.clone(),
                        },
                        Arc::clone(&shared),
                    )
                })?;
                let build = match keeper.subplan {
                    Some(id) => {
                        in_subplans.push((id, keeper.key.clone(), Arc::clone(&shared)));
                        build
                    }
                    None => replace(build, &keeper.node, |scan| {
                        SharedScanExec::new(scan, Role::Keeps, Arc::clone(&shared))
                    })?,
                };
                Ok(Transformed::yes(replace_children_if_necessary(
                    node,
                    vec![build, probe],
                )?))
            })?
            .data;
        if in_subplans.is_empty() {
            return Ok(plan);
        }
        plan.transform_down(|node| {
            let Some(copy) = node.downcast_ref::<SharedSubplanExec>() else {
                return Ok(Transformed::no(node));
            };
            let mut own = Arc::clone(copy.own());
            for (_, key, shared) in in_subplans
                .iter()
                .filter(|(id, _, _)| *id == copy.result_id())
            {
                own = own
                    .transform_down(|n| {
                        if n.is::<SharedSubplanExec>() {
                            return Ok(Transformed::new(n, false, TreeNodeRecursion::Jump));
                        }
                        if scan_key(&n).as_ref() != Some(key) {
                            return Ok(Transformed::no(n));
                        }
                        let keeps = SharedScanExec::new(n, Role::Keeps, Arc::clone(shared));
                        Ok(Transformed::new(
                            Arc::new(keeps) as Arc<dyn ExecutionPlan>,
                            true,
                            TreeNodeRecursion::Jump,
                        ))
                    })?
                    .data;
            }
            let copy = Arc::new(copy.with_own(own)) as Arc<dyn ExecutionPlan>;
            Ok(Transformed::new(copy, true, TreeNodeRecursion::Jump))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "shared_scan"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The build and probe inputs of a hash join.
fn join_sides(node: &Arc<dyn ExecutionPlan>) -> Option<[Arc<dyn ExecutionPlan>; 2]> {
    if !(node.is::<HashJoinExec>() || node.is::<AdaptiveHashJoinExec>()) {
        return None;
    }
    let children = node.children();
    match children.as_slice() {
        [build, probe] => Some([Arc::clone(build), Arc::clone(probe)]),
        _ => None,
    }
}

/// A Parquet scan a shared scan can stand in for.
struct ScanInfo {
    node: Arc<dyn ExecutionPlan>,
    /// The scan without its predicate.
    files: Arc<FileScanConfig>,
    /// Identifies copies of this scan (files, columns, expressions).
    key: String,
    /// Identifies what it reads: the files, their partitions and schema.
    files_key: String,
    /// The table columns it outputs, when its projection is columns only.
    columns: Option<Vec<usize>>,
    /// The shared subplan it is in, if any.
    subplan: Option<usize>,
}

impl ScanInfo {
    fn of(node: &Arc<dyn ExecutionPlan>, subplan: Option<usize>) -> Option<Self> {
        let files = without_predicate(node)?;
        let columns = files.file_source().projection().and_then(|projection| {
            projection
                .iter()
                .map(|e| e.expr.downcast_ref::<Column>().map(Column::index))
                .collect()
        });
        Some(Self {
            node: Arc::clone(node),
            key: key_of(&files),
            files_key: files_key(&files),
            files,
            columns,
            subplan,
        })
    }

    /// Whether this scan's batches can stand for `reader`'s: the same files, and every
    /// column `reader` computes its output from. `Some(None)`: as they are;
    /// `Some(Some(p))`: through `p`.
    fn feeds(&self, reader: &ScanInfo) -> Option<Option<ProjectionExprs>> {
        if self.files_key != reader.files_key {
            return None;
        }
        let columns = self.columns.as_ref()?;
        if reader.columns.as_ref() == Some(columns) {
            return Some(None);
        }
        let projection = reader.files.file_source().projection()?.clone();
        let remapped = projection
            .try_map_exprs(|expr| {
                expr.transform(|e| match e.downcast_ref::<Column>() {
                    Some(column) => {
                        let at = columns
                            .iter()
                            .position(|&c| c == column.index())
                            .ok_or_else(|| {
                                DataFusionError::Plan("a column the keeper lacks".into())
                            })?;
                        Ok(Transformed::yes(
                            Arc::new(Column::new(column.name(), at)) as Arc<dyn PhysicalExpr>
                        ))
                    }
                    None => Ok(Transformed::no(e)),
                })
                .map(|t| t.data)
            })
            .ok()?;
        // The rows must come out exactly as the reader's own scan gives them.
        let made = remapped.project_schema(&self.node.schema()).ok()?;
        let wanted = reader.node.schema();
        let same = made.fields().len() == wanted.fields().len()
            && made
                .fields()
                .iter()
                .zip(wanted.fields())
                .all(|(a, b)| a.data_type() == b.data_type());
        same.then_some(Some(remapped))
    }
}

/// The Parquet scans in `plan` a shared scan can stand in for; those in a shared
/// subplan only when `into_subplans`.
fn scans(plan: &Arc<dyn ExecutionPlan>, into_subplans: bool) -> Vec<ScanInfo> {
    let mut found = Vec::new();
    collect_scans(plan, into_subplans, None, &mut found);
    found
}

fn collect_scans(
    plan: &Arc<dyn ExecutionPlan>,
    into_subplans: bool,
    subplan: Option<usize>,
    found: &mut Vec<ScanInfo>,
) {
    let subplan = match plan.downcast_ref::<SharedSubplanExec>() {
        // Nested shared subplans are left alone.
        Some(_) if !into_subplans || subplan.is_some() => return,
        Some(copy) => Some(copy.result_id()),
        None => subplan,
    };
    if let Some(scan) = ScanInfo::of(plan, subplan) {
        found.push(scan);
    }
    let children: Vec<Arc<dyn ExecutionPlan>> = match plan.downcast_ref::<SharedSubplanExec>() {
        Some(copy) => vec![Arc::clone(copy.own())],
        None => plan.children().into_iter().cloned().collect(),
    };
    for child in &children {
        collect_scans(child, into_subplans, subplan, found);
    }
}

/// What identifies copies of one scan: the scan without its predicate, as shown.
fn key_of(files: &FileScanConfig) -> String {
    let shown = DataSourceExec::from_data_source(files.clone());
    let key = displayable(shown.as_ref()).one_line().to_string();
    key
}

/// The copies' key of a node that is such a scan.
fn scan_key(node: &Arc<dyn ExecutionPlan>) -> Option<String> {
    without_predicate(node).map(|files| key_of(&files))
}

/// What a scan reads, whatever its projection: the files (with their ranges, partition
/// values and the rows they skip) in their partitions, and the table schema.
fn files_key(files: &FileScanConfig) -> String {
    let groups: Vec<Vec<String>> = files
        .file_groups
        .iter()
        .map(|group| {
            group
                .files()
                .iter()
                .map(|f| {
                    // Rows a scan skips (erased or deleted rows) must be the same on both
                    // sides: two versions of a table can read one file differently.
                    let skipped = f.extension::<ParquetRowSelection>().map(|s| {
                        let mut runs = std::hash::DefaultHasher::new();
                        for run in s.selection().iter() {
                            (run.skip, run.row_count).hash(&mut runs);
                        }
                        (s.selection().row_count(), runs.finish())
                    });
                    format!(
                        "{} {:?} {:?} {skipped:?}",
                        f.object_meta.location, f.range, f.partition_values
                    )
                })
                .collect()
        })
        .collect();
    format!(
        "{} {groups:?} {:?} {:?}",
        files.object_store_url,
        files.file_source().table_schema().table_schema(),
        files.batch_size
    )
}

/// A Parquet scan's configuration with its predicate replaced by `true`, when it has
/// no limit and its predicate cannot prune.
fn without_predicate(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<FileScanConfig>> {
    let exec = node.downcast_ref::<DataSourceExec>()?;
    let config = exec.data_source().downcast_ref::<FileScanConfig>()?;
    let parquet = config.file_source().downcast_ref::<ParquetSource>()?;
    // A scan reading files through a column mapping (lake tables whose files name
    // columns by id) is not paired: two versions of a table may map the same files
    // differently.
    if config.limit.is_some()
        || config.output_partitioning.is_some()
        || config.expr_adapter_factory.is_some()
    {
        return None;
    }
    if let Some(predicate) = config.file_source().filter() {
        // `Some` when it can prune (dynamic filters as they are now: empty).
        let pruning = PruningPredicateBuilder::new()
            .with_file_schema(Arc::clone(config.file_schema()))
            .build(predicate);
        if pruning.is_some() {
            return None;
        }
    }
    let mut files = config.clone();
    files.file_source = Arc::new(parquet.with_predicate(lit(true)));
    Some(Arc::new(files))
}

/// `plan` with the node `scan` replaced by what `make` makes of it.
fn replace(
    plan: Arc<dyn ExecutionPlan>,
    scan: &Arc<dyn ExecutionPlan>,
    make: impl Fn(Arc<dyn ExecutionPlan>) -> SharedScanExec,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_down(|node| {
        if !Arc::ptr_eq(&node, scan) {
            return Ok(Transformed::no(node));
        }
        Ok(Transformed::new(
            Arc::new(make(node)) as Arc<dyn ExecutionPlan>,
            true,
            TreeNodeRecursion::Stop,
        ))
    })
    .map(|t| t.data)
}

/// Which copy of a shared scan a [`SharedScanExec`] is.
#[derive(Debug, Clone)]
enum Role {
    /// The build side's: reads the files and keeps what it decoded.
    Keeps,
    /// The probe side's: hands on what was kept (through `projection` when its own
    /// differs), reads the rest of `files` itself.
    Reads {
        files: Arc<FileScanConfig>,
        projection: Option<ProjectionExprs>,
    },
}

/// What the two copies of one scan share: the files, and per partition what was kept.
struct Shared {
    files: Arc<FileScanConfig>,
    max_bytes: usize,
    partitions: Vec<Mutex<Slot>>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Shared")
    }
}

impl Shared {
    fn new(files: Arc<FileScanConfig>, max_bytes: usize) -> Self {
        // Each partition keeps its share.
        let max_bytes = max_bytes / files.file_groups.len().max(1);
        let partitions = files
            .file_groups
            .iter()
            .map(|_| Mutex::new(Slot::Untouched))
            .collect();
        Self {
            files,
            max_bytes,
            partitions,
        }
    }

    /// Some files of one partition, in their order, as one scan (`config`'s columns).
    fn scan(
        config: &FileScanConfig,
        partition: usize,
        files: Range<usize>,
    ) -> Arc<dyn ExecutionPlan> {
        let files = config.file_groups[partition].files()[files].to_vec();
        let mut config = config.clone();
        config.file_groups = vec![FileGroup::new(files)];
        DataSourceExec::from_data_source(config)
    }

    fn file_count(&self, partition: usize) -> usize {
        self.files.file_groups[partition].len()
    }
}

/// One partition's state between its two copies.
enum Slot {
    /// Neither copy has started.
    Untouched,
    /// The build copy is reading and keeping.
    Keeping(Kept),
    /// The build copy has stopped keeping: the first `files` files are all in `batches`.
    Kept(Kept),
    /// The probe copy has started (with what was kept, or reading everything).
    Taken,
}

/// Batches kept for the probe copy.
struct Kept {
    batches: Vec<RecordBatch>,
    /// Files wholly in `batches`.
    files: usize,
    /// Where the batches of the file being read start.
    file_start: usize,
    /// The reservation's size at `file_start`.
    bytes_at_file_start: usize,
    counter: RecordBatchMemoryCounter,
    reservation: MemoryReservation,
}

impl Kept {
    /// Forgets the batches of the file being read: the probe copy reads that file again.
    fn drop_partial_file(&mut self) {
        self.batches.truncate(self.file_start);
        self.reservation.resize(self.bytes_at_file_start);
    }
}

/// One copy of a shared scan (module header). A leaf: the scan it stands in for is
/// shown, counted in statistics, and what a reset for another run returns.
#[derive(Debug)]
pub struct SharedScanExec {
    scan: Arc<dyn ExecutionPlan>,
    role: Role,
    shared: Arc<Shared>,
    metrics: ExecutionPlanMetricsSet,
}

impl SharedScanExec {
    fn new(scan: Arc<dyn ExecutionPlan>, role: Role, shared: Arc<Shared>) -> Self {
        Self {
            scan,
            role,
            shared,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for SharedScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let role = match self.role {
            Role::Keeps => "keeps what it reads for the probe side",
            Role::Reads { .. } => "reads what the build side kept",
        };
        write!(f, "SharedScanExec: {role}, ")?;
        match self.scan.downcast_ref::<DataSourceExec>() {
            Some(scan) => scan.fmt_as(t, f),
            None => write!(f, "{}", self.scan.name()),
        }
    }
}

impl ExecutionPlan for SharedScanExec {
    fn name(&self) -> &str {
        "SharedScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.scan.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
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
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "SharedScanExec has no children".into(),
            ))
        }
    }

    /// Another run (or the run of a shared subplan's copy) shares as this one did:
    /// only the first keeper of a partition keeps and the first reader takes, so a
    /// second run reads its files itself, or takes batches decoded from the same files.
    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::new(
            Arc::clone(&self.scan).reset_state()?,
            self.role.clone(),
            Arc::clone(&self.shared),
        )))
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        StatisticsContext::new().compute(self.scan.as_ref(), args)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.schema();
        let shared = Arc::clone(&self.shared);
        let metrics = Counters::new(&self.metrics, partition);
        let stream: BoxStream<'static, Result<RecordBatch>> = match &self.role {
            Role::Keeps => Box::pin(KeepingStream::new(shared, partition, context, metrics)),
            Role::Reads { files, projection } => {
                let own = Own {
                    files: Arc::clone(files),
                    projection: projection.clone(),
                    schema: Arc::clone(&schema),
                };
                // Decided when first polled: by then a hash join has read its build side.
                futures::stream::once(futures::future::lazy(move |_| {
                    read_kept_then_rest(&shared, &own, partition, context, &metrics)
                }))
                .try_flatten()
                .boxed()
            }
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// What EXPLAIN ANALYZE shows of a shared scan.
struct Counters {
    /// Rows the build copy kept, or the probe copy took from memory.
    kept_rows: Count,
    /// Files the probe copy read itself.
    files_read_again: Count,
}

impl Counters {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        Self {
            kept_rows: MetricBuilder::new(metrics).counter("kept_rows", partition),
            files_read_again: MetricBuilder::new(metrics).counter("files_read_again", partition),
        }
    }
}

/// The probe copy's own columns: its files, and how kept batches become its rows.
struct Own {
    files: Arc<FileScanConfig>,
    projection: Option<ProjectionExprs>,
    schema: SchemaRef,
}

impl Own {
    /// `batches` (the build copy's columns) as this copy's rows.
    fn rows_of(&self, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        let Some(projection) = &self.projection else {
            return Ok(batches);
        };
        let Some(first) = batches.first() else {
            return Ok(batches);
        };
        let projector = projection.make_projector(&first.schema())?;
        batches
            .iter()
            .map(|batch| {
                let projected = projector.project_batch(batch)?;
                Ok(RecordBatch::try_new_with_options(
                    Arc::clone(&self.schema),
                    projected.columns().to_vec(),
                    &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
                )?)
            })
            .collect()
    }
}

/// The probe copy's batches: what the build copy kept, then the files it did not keep.
fn read_kept_then_rest(
    shared: &Shared,
    own: &Own,
    partition: usize,
    context: Arc<TaskContext>,
    metrics: &Counters,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    let taken = {
        let mut slot = shared.partitions[partition]
            .lock()
            .map_err(|_| poisoned())?;
        std::mem::replace(&mut *slot, Slot::Taken)
    };
    let (batches, from, reservation) = match taken {
        Slot::Kept(kept) => (kept.batches, kept.files, Some(kept.reservation)),
        // Dropped here, freeing its memory; the build copy sees `Taken` and stops keeping.
        Slot::Keeping(_) | Slot::Untouched | Slot::Taken => (Vec::new(), 0, None),
    };
    metrics
        .kept_rows
        .add(batches.iter().map(RecordBatch::num_rows).sum());
    let remaining = shared.file_count(partition) - from;
    metrics.files_read_again.add(remaining);
    let kept = HandOn {
        batches: own.rows_of(batches)?.into(),
        reservation,
    };
    let rest = if remaining == 0 {
        futures::stream::empty().boxed()
    } else {
        Shared::scan(&own.files, partition, from..shared.file_count(partition))
            .execute(0, context)?
            .boxed()
    };
    Ok(kept.chain(rest).boxed())
}

/// Kept batches handed on one by one, their memory given back once all are out.
struct HandOn {
    batches: VecDeque<RecordBatch>,
    reservation: Option<MemoryReservation>,
}

impl Stream for HandOn {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.batches.pop_front();
        if next.is_none() {
            self.reservation = None;
        }
        Poll::Ready(next.map(Ok))
    }
}

/// The build copy's batches, read file by file (so the probe copy knows where to go on
/// from), each kept while memory allows and the probe copy has not started.
struct KeepingStream {
    shared: Arc<Shared>,
    partition: usize,
    context: Arc<TaskContext>,
    metrics: Counters,
    /// The file being read, and its batches.
    file: usize,
    current: Option<SendableRecordBatchStream>,
    started: bool,
    /// Whether this stream keeps: only the first keeper of a partition does.
    keeping: bool,
    finished: bool,
}

impl KeepingStream {
    fn new(
        shared: Arc<Shared>,
        partition: usize,
        context: Arc<TaskContext>,
        metrics: Counters,
    ) -> Self {
        Self {
            shared,
            partition,
            context,
            metrics,
            file: 0,
            current: None,
            started: false,
            keeping: false,
            finished: false,
        }
    }

    fn slot(&self) -> Result<std::sync::MutexGuard<'_, Slot>> {
        self.shared.partitions[self.partition]
            .lock()
            .map_err(|_| poisoned())
    }

    /// Starts keeping, unless the probe copy already started.
    fn start(&mut self) -> Result<()> {
        self.started = true;
        let name = format!("SharedScan[{}]", self.partition);
        let pool = self.context.memory_pool();
        let mut slot = self.shared.partitions[self.partition]
            .lock()
            .map_err(|_| poisoned())?;
        if matches!(*slot, Slot::Untouched) {
            self.keeping = true;
            *slot = Slot::Keeping(Kept {
                batches: Vec::new(),
                files: 0,
                file_start: 0,
                bytes_at_file_start: 0,
                counter: RecordBatchMemoryCounter::new(),
                reservation: MemoryConsumer::new(name).register(pool),
            });
        }
        Ok(())
    }

    /// Moves on to file `file`: the ones before it are wholly kept.
    fn file_done(&self, file: usize) -> Result<()> {
        if !self.keeping {
            return Ok(());
        }
        if let Slot::Keeping(kept) = &mut *self.slot()? {
            kept.files = file;
            kept.file_start = kept.batches.len();
            kept.bytes_at_file_start = kept.reservation.size();
        }
        Ok(())
    }

    fn keep(&self, batch: &RecordBatch) -> Result<()> {
        if !self.keeping {
            return Ok(());
        }
        let max_bytes = self.shared.max_bytes;
        let mut slot = self.slot()?;
        let Slot::Keeping(kept) = &mut *slot else {
            return Ok(());
        };
        let bytes = kept.counter.count_batch(batch);
        let fits = kept.reservation.size() + bytes <= max_bytes
            && plenty_free(self.context.memory_pool().as_ref(), bytes)
            && kept.reservation.try_grow(bytes).is_ok();
        if fits {
            kept.batches.push(batch.clone());
            self.metrics.kept_rows.add(batch.num_rows());
            return Ok(());
        }
        tracing::debug!(
            partition = self.partition,
            file = kept.files,
            "a shared scan outgrew its memory; the probe side reads the rest itself"
        );
        self.stop_keeping(&mut slot);
        Ok(())
    }

    /// What is kept so far stays for the probe copy, less the file being read.
    fn stop_keeping(&self, slot: &mut Slot) {
        match std::mem::replace(slot, Slot::Taken) {
            Slot::Keeping(mut kept) => {
                kept.drop_partial_file();
                *slot = Slot::Kept(kept);
            }
            // Kept already, or never started: as it was. Taken: the probe copy started.
            other => *slot = other,
        }
    }

    fn next_file(&mut self) -> Result<bool> {
        if self.file >= self.shared.file_count(self.partition) {
            return Ok(false);
        }
        self.file_done(self.file)?;
        let scan = Shared::scan(&self.shared.files, self.partition, self.file..self.file + 1);
        self.current = Some(scan.execute(0, Arc::clone(&self.context))?);
        self.file += 1;
        Ok(true)
    }

    /// Every file is read: all of them are kept (or as many as fitted).
    fn finish(&mut self) -> Result<()> {
        self.finished = true;
        if !self.keeping {
            return Ok(());
        }
        self.file_done(self.file)?;
        let mut slot = self.slot()?;
        self.stop_keeping(&mut slot);
        Ok(())
    }
}

impl Stream for KeepingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if !self.started {
            if let Err(e) = self.start() {
                return Poll::Ready(Some(Err(e)));
            }
        }
        loop {
            if self.current.is_none() {
                match self.next_file() {
                    Ok(true) => {}
                    Ok(false) => {
                        return Poll::Ready(self.finish().err().map(Err));
                    }
                    Err(e) => return Poll::Ready(Some(Err(e))),
                }
            }
            let Some(current) = self.current.as_mut() else {
                continue;
            };
            match current.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(batch))) => {
                    if let Err(e) = self.keep(&batch) {
                        return Poll::Ready(Some(Err(e)));
                    }
                    return Poll::Ready(Some(Ok(batch)));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => self.current = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for KeepingStream {
    /// Stopped early (an error, a limit above): whole files kept so far stay usable.
    fn drop(&mut self) {
        if self.finished || !self.keeping {
            return;
        }
        if let Ok(mut slot) = self.slot() {
            self.stop_keeping(&mut slot);
        }
    }
}

/// Whether `bytes` more leave most of a limited pool free: kept batches only save
/// work, and must not take the memory a join or a sort needs.
fn plenty_free(pool: &dyn MemoryPool, bytes: usize) -> bool {
    match pool.memory_limit() {
        MemoryLimit::Finite(limit) => pool.reserved() + bytes <= limit / POOL_SHARE_DIVISOR,
        MemoryLimit::Infinite | MemoryLimit::Unknown => true,
    }
}

fn poisoned() -> DataFusionError {
    DataFusionError::Internal("shared scan state poisoned".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
    use parquet::arrow::ArrowWriter;

    const FILES: usize = 4;
    const ROWS_PER_FILE: usize = 20_000;

    /// Order lines (order, product) in four Parquet files, several lines per order.
    fn lake() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("o", DataType::Int64, false),
            Field::new("p", DataType::Int32, false),
        ]));
        for f in 0..FILES {
            let rows = (f * ROWS_PER_FILE)..((f + 1) * ROWS_PER_FILE);
            let orders = Int64Array::from_iter_values(rows.clone().map(|r| (r / 4) as i64));
            let products = Int32Array::from_iter_values(rows.map(|r| ((r * 7919) % 1000) as i32));
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(orders), Arc::new(products)],
            )
            .unwrap();
            let file = std::fs::File::create(dir.path().join(format!("part-{f}.parquet")));
            let mut writer =
                ArrowWriter::try_new(file.unwrap(), Arc::clone(&schema), None).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
        }
        dir
    }

    async fn context(rule: Option<SharedScanRule>, lake: &tempfile::TempDir) -> SessionContext {
        with_rules(rule.into_iter().map(|r| Arc::new(r) as _).collect(), lake).await
    }

    async fn with_rules(
        rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
        lake: &tempfile::TempDir,
    ) -> SessionContext {
        with_pool(rules, lake, None).await
    }

    async fn with_pool(
        rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
        lake: &tempfile::TempDir,
        limit: Option<usize>,
    ) -> SessionContext {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(bytes) = limit {
            runtime = runtime.with_memory_limit(bytes, 1.0);
        }
        let mut builder = SessionStateBuilder::new()
            .with_default_features()
            .with_runtime_env(runtime.build_arc().unwrap())
            .with_config(SessionConfig::new().with_target_partitions(2));
        for rule in rules {
            builder = builder.with_physical_optimizer_rule(rule);
        }
        let ctx = SessionContext::new_with_state(builder.build());
        let path = lake.path().to_str().unwrap();
        ctx.register_parquet("lines", path, ParquetReadOptions::default())
            .await
            .unwrap();
        ctx
    }

    /// Pairs of products bought together with an anchor product.
    const QUERY: &str =
        "WITH anchors AS (SELECT DISTINCT o, p AS anchor FROM lines WHERE p % 10 = 0) \
        SELECT a.anchor, l.p, count(DISTINCT l.o) AS n FROM anchors a \
        JOIN lines l ON l.o = a.o AND l.p <> a.anchor \
        GROUP BY a.anchor, l.p ORDER BY n DESC, a.anchor, l.p LIMIT 50";

    /// The rows, the plan, and the shared scans' counters summed: rows kept, files
    /// the probe side read again.
    async fn run(ctx: &SessionContext, sql: &str) -> (String, String, usize, usize) {
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        let rows = collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap();
        let (mut kept, mut again) = (0, 0);
        plan.apply(|node| {
            if let Some(scan) = node.downcast_ref::<SharedScanExec>() {
                if matches!(scan.role, Role::Reads { .. }) {
                    let metrics = node.metrics().unwrap();
                    let sum = |name| metrics.sum_by_name(name).map_or(0, |m| m.as_usize());
                    kept += sum("kept_rows");
                    again += sum("files_read_again");
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        (
            pretty_format_batches(&rows).unwrap().to_string(),
            shown,
            kept,
            again,
        )
    }

    #[tokio::test]
    async fn both_sides_of_a_self_join_read_the_files_once_with_the_same_rows() {
        let lake = lake();
        let (expected, plain, _, _) = run(&context(None, &lake).await, QUERY).await;
        assert!(!plain.contains("SharedScanExec"), "{plain}");
        let ctx = context(Some(SharedScanRule::default()), &lake).await;
        let (rows, plan, kept, again) = run(&ctx, QUERY).await;
        assert_eq!(plan.matches("SharedScanExec").count(), 2, "{plan}");
        assert_eq!(rows, expected);
        assert_eq!(kept, FILES * ROWS_PER_FILE);
        assert_eq!(again, 0);
    }

    #[tokio::test]
    async fn what_does_not_fit_the_probe_side_reads_itself() {
        let lake = lake();
        let (expected, _, _, _) = run(&context(None, &lake).await, QUERY).await;
        // Nothing fits.
        let ctx = context(Some(SharedScanRule { max_bytes: 1 }), &lake).await;
        let (rows, _, kept, again) = run(&ctx, QUERY).await;
        assert_eq!(rows, expected);
        assert_eq!((kept, again), (0, FILES));
        // One file and a half per partition: the first file kept, the half dropped.
        let file_bytes = ROWS_PER_FILE * 12;
        let rule = SharedScanRule {
            max_bytes: 2 * (file_bytes + file_bytes / 2),
        };
        let ctx = context(Some(rule), &lake).await;
        let (rows, _, kept, again) = run(&ctx, QUERY).await;
        assert_eq!(rows, expected);
        assert!(kept > 0 && kept % ROWS_PER_FILE == 0, "kept {kept} rows");
        assert_eq!(kept / ROWS_PER_FILE + again, FILES);
        assert!(again > 0);
        // A limited pool: kept only while it is at most a quarter full.
        let rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> =
            vec![Arc::new(SharedScanRule::default())];
        let ctx = with_pool(rules, &lake, Some(12 * file_bytes)).await;
        let (rows, _, kept, again) = run(&ctx, QUERY).await;
        assert_eq!(rows, expected);
        assert!(
            kept <= 3 * ROWS_PER_FILE && again >= 1,
            "kept {kept} rows, {again} files"
        );
    }

    #[tokio::test]
    async fn a_subplan_computed_once_for_its_copies_stays_so_and_keeps_its_scan() {
        let lake = lake();
        // Cohorts: the first product of each customer, read twice.
        let query =
            "WITH firsts AS (SELECT o % 1000 AS c, min(p) AS first FROM lines GROUP BY o % 1000), \
            activity AS (SELECT DISTINCT o % 1000 AS c, p % 7 AS m FROM lines), \
            sizes AS (SELECT first, count(*) AS n FROM firsts GROUP BY first), \
            retained AS (SELECT f.first, a.m, count(*) AS k FROM firsts f \
                JOIN activity a ON a.c = f.c GROUP BY f.first, a.m) \
            SELECT r.first, r.m, r.k, s.n FROM retained r JOIN sizes s ON s.first = r.first \
            ORDER BY r.first, r.m";
        let (expected, _, _, _) = run(&context(None, &lake).await, query).await;
        let rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> = vec![
            Arc::new(super::super::shared_subplan::SharedSubplanRule::default()),
            Arc::new(SharedScanRule::default()),
        ];
        let (rows, plan, kept, again) = run(&with_rules(rules, &lake).await, query).await;
        assert_eq!(rows, expected);
        // Still computed once for both copies, and its scan kept for the join's probe
        // side (which reads other expressions of the same columns).
        assert_eq!(plan.matches("SharedSubplanExec").count(), 2, "{plan}");
        assert_eq!(
            plan.matches("SharedScanExec: keeps").count(),
            2,
            "in both copies: {plan}"
        );
        assert_eq!(plan.matches("SharedScanExec: reads").count(), 1, "{plan}");
        assert_eq!((kept, again), (FILES * ROWS_PER_FILE, 0), "{plan}");
        // A subplan result too big to hold: each copy runs its own subtree, with its
        // keeper; one keeps, and the rows are the same.
        let rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> = vec![
            Arc::new(super::super::shared_subplan::SharedSubplanRule { max_bytes: 1 }),
            Arc::new(SharedScanRule::default()),
        ];
        let (rows, _, kept, again) = run(&with_rules(rules, &lake).await, query).await;
        assert_eq!(rows, expected);
        assert!(
            kept % ROWS_PER_FILE == 0 && kept / ROWS_PER_FILE + again == FILES,
            "kept {kept} rows, read {again} files again"
        );
    }

    #[tokio::test]
    async fn scans_whose_predicate_prunes_or_filters_are_not_shared() {
        let lake = lake();
        let ctx = context(Some(SharedScanRule::default()), &lake).await;
        let pruning = QUERY.replace("WHERE p % 10 = 0", "WHERE p % 10 = 0 AND o < 100");
        let (_, plan, _, _) = run(&ctx, &pruning).await;
        assert!(!plan.contains("SharedScanExec"), "{plan}");
        ctx.sql("SET datafusion.execution.parquet.pushdown_filters = true")
            .await
            .unwrap();
        let (_, plan, _, _) = run(&ctx, QUERY).await;
        assert!(!plan.contains("SharedScanExec"), "{plan}");
    }
}

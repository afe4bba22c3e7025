//! How many client queries scan tables at once. A box runs as many queries' work at a
//! time as it has cores; fifty dashboard queries started together finish no sooner in
//! all, but each holds its hash tables, sorts and buffers until the slowest is done (over
//! 13 GB at 1e7 order lines for results of a few kilobytes). [`QueryGate`] lets
//! `server.max_running_queries` queries that read table files (lake, warehouse,
//! audiences, and table functions' inputs) run and queues the others in arrival order; a
//! query keeps its place until its stream is dropped (its last row sent, or cancelled:
//! a query waiting for its turn is cancelled like a running one). A query that waited
//! looks in the result cache again when its turn comes: fifty dashboards asking the same
//! question at once compute it once. Queries that read no files (catalog introspection,
//! system tables, key lookups) never wait, nor do answers from the result cache and
//! cursors' queries (a cursor left open would keep its turn while its rows wait for
//! FETCH).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::physical_plan::RecordBatchStream;
use datafusion::physical_plan::{execute_stream, ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::DataFrame;
use futures::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::shared_scan::SharedScanExec;
use crate::pg::catalog::computed_view::{ComputedRows, ComputedView};

/// The queue in front of table-scanning queries (module header).
#[derive(Debug)]
pub struct QueryGate {
    /// None: no limit.
    running: Option<Arc<Semaphore>>,
    max_running: usize,
    waiting: AtomicUsize,
}

impl QueryGate {
    /// A gate for `max_running` queries at once (0 = no limit).
    pub fn new(max_running: usize) -> Self {
        Self {
            running: (max_running > 0).then(|| Arc::new(Semaphore::new(max_running))),
            max_running,
            waiting: AtomicUsize::new(0),
        }
    }

    /// `datapunk.query_queue`: one row, queries running and waiting now, and the limit
    /// (running counts only queries that took a turn; 0 and 0 without a limit).
    pub fn status_table(self: &Arc<Self>) -> Arc<dyn TableProvider> {
        Arc::new(ComputedView(QueueRows(Arc::clone(self))))
    }

    /// Runs `df` once it is its turn; the returned stream holds the turn.
    ///
    /// # Errors
    /// The plan cannot be built or started.
    pub async fn execute(&self, df: DataFrame) -> Result<SendableRecordBatchStream> {
        match self.execute_or(df, || None::<Infallible>).await? {
            Started::Ran(stream) => Ok(stream),
            Started::Instead(never) => match never {},
        }
    }

    /// Runs `df` once it is its turn, unless `instead` (asked when the turn comes: an
    /// identical query that ran meanwhile may have left its answer) has an answer.
    ///
    /// # Errors
    /// The plan cannot be built or started.
    pub async fn execute_or<T>(
        &self,
        df: DataFrame,
        instead: impl FnOnce() -> Option<T>,
    ) -> Result<Started<T>> {
        let context = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let turn = self.turn(&plan).await;
        if let Some(answer) = instead() {
            return Ok(Started::Instead(answer));
        }
        let stream = execute_stream(plan, context)?;
        let Some(turn) = turn else {
            return Ok(Started::Ran(stream));
        };
        Ok(Started::Ran(Box::pin(HoldingTurn {
            rows: stream,
            _turn: turn,
        })))
    }

    async fn turn(&self, plan: &Arc<dyn ExecutionPlan>) -> Option<OwnedSemaphorePermit> {
        let running = self.running.as_ref()?;
        if !reads_files(plan) {
            return None;
        }
        if let Ok(permit) = Arc::clone(running).try_acquire_owned() {
            return Some(permit);
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waited = Waiting(&self.waiting);
        Arc::clone(running).acquire_owned().await.ok()
    }
}

/// What [`QueryGate::execute_or`] did.
pub enum Started<T> {
    /// The query runs: its stream, holding its turn.
    Ran(SendableRecordBatchStream),
    /// The answer found when its turn came.
    Instead(T),
}

impl<T> std::fmt::Debug for Started<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ran(_) => "Ran",
            Self::Instead(_) => "Instead",
        })
    }
}

/// A query's rows, holding its turn until they are dropped, not merely until the last
/// one came (DataFusion's stream adapters drop their inner stream at the end, before the
/// caller has kept the answer in the result cache for the queries waiting behind it).
struct HoldingTurn {
    rows: SendableRecordBatchStream,
    _turn: OwnedSemaphorePermit,
}

impl Stream for HoldingTurn {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rows.poll_next_unpin(cx)
    }
}

impl RecordBatchStream for HoldingTurn {
    fn schema(&self) -> SchemaRef {
        self.rows.schema()
    }
}

/// Counts one waiting query for as long as it lives (a cancelled wait included).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether `plan` scans files (itself, or shared by both sides of a join), or runs a
/// table function's own query (a leaf of `crate::udf::query_table`, named by its name
/// since the engine sits below it).
fn reads_files(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let mut found = false;
    let _ = plan.apply(|node| {
        found = node.name() == "PlannedQuery"
            || node.is::<SharedScanExec>()
            || node.downcast_ref::<DataSourceExec>().is_some_and(|source| {
                source
                    .data_source()
                    .downcast_ref::<FileScanConfig>()
                    .is_some()
            });
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// The row of `datapunk.query_queue`.
#[derive(Debug)]
struct QueueRows(Arc<QueryGate>);

#[async_trait]
impl ComputedRows for QueueRows {
    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            ["running", "waiting", "max_running"]
                .map(|name| Field::new(name, DataType::Int64, false))
                .to_vec(),
        ))
    }

    async fn rows(&self, _state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let gate = &self.0;
        let running = gate
            .running
            .as_ref()
            .map_or(0, |s| gate.max_running - s.available_permits());
        let values = [
            running,
            gate.waiting.load(Ordering::Relaxed),
            gate.max_running,
        ];
        let columns = values
            .map(|v| Arc::new(Int64Array::from(vec![i64::try_from(v).unwrap_or(i64::MAX)])) as _)
            .to_vec();
        Ok(vec![RecordBatch::try_new(self.schema(), columns)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    use crate::engine::shared_scan::SharedScanRule;

    #[tokio::test]
    async fn a_self_join_whose_scans_are_shared_still_waits_its_turn() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lines.parquet");
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(SessionConfig::new().with_target_partitions(2))
            .with_physical_optimizer_rule(Arc::new(SharedScanRule::default()))
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.sql(&format!(
            "COPY (SELECT v AS o, v % 7 AS p FROM generate_series(1, 1000) t(v)) TO '{}'",
            file.display()
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
        ctx.register_parquet(
            "lines",
            file.to_str().unwrap(),
            ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        let plan = ctx
            .sql(
                "SELECT a.p, count(*) FROM (SELECT DISTINCT o, p FROM lines WHERE p % 3 = 0) a \
                  JOIN lines l ON l.o = a.o AND l.p <> a.p GROUP BY a.p",
            )
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let shown = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(false)
            .to_string();
        let scans = |name: &str| {
            shown
                .lines()
                .filter(|l| l.trim_start().starts_with(name))
                .count()
        };
        assert_eq!(
            (scans("DataSourceExec"), scans("SharedScanExec")),
            (0, 2),
            "{shown}"
        );
        assert!(reads_files(&plan), "{shown}");
    }
}

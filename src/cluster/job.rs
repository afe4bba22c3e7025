//! `ClusterJobExec`: a plan part that runs on the cluster, as a leaf of the front end's
//! plan. Its stream is the job's result; dropping the stream before the end (a cancel,
//! `statement_timeout`, a client gone, a satisfied `LIMIT`) cancels the job on the
//! cluster, so its tasks stop.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ballista_core::config::BALLISTA_CLIENT_PULL;
use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::CancelJobParams;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, RecordBatchStream,
};
use datafusion_proto::protobuf::LogicalPlanNode;
use futures::Stream;

use super::codec::DatapunkLogicalCodec;
use super::remote_error::{is_planning_failure, job_error};

/// A logical plan sent to the scheduler at `scheduler_url`; one output partition.
/// When the cluster cannot plan it (a plan that does not survive the trip, a function
/// it lacks), `local` runs instead, before any row has been sent.
pub struct ClusterJobExec {
    job: Arc<DistributedQueryExec<LogicalPlanNode>>,
    local: Arc<dyn ExecutionPlan>,
    scheduler_url: String,
    /// What the job computes, for EXPLAIN.
    summary: String,
}

impl fmt::Debug for ClusterJobExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterJobExec")
            .field("scheduler_url", &self.scheduler_url)
            .finish_non_exhaustive()
    }
}

impl ClusterJobExec {
    pub fn new(
        plan: LogicalPlan,
        local: Arc<dyn ExecutionPlan>,
        scheduler_url: String,
        session_id: String,
    ) -> Self {
        let summary = plan.display_indent().to_string();
        let job = DistributedQueryExec::with_extension(
            scheduler_url.clone(),
            ballista_core::config::BallistaConfig::default(),
            plan,
            Arc::new(DatapunkLogicalCodec::default()),
            session_id,
        );
        Self {
            job: Arc::new(job),
            local: one_partition(local),
            scheduler_url,
            summary,
        }
    }
}

impl DisplayAs for ClusterJobExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClusterJobExec: runs on the cluster at {}",
            self.scheduler_url
        )?;
        if matches!(t, DisplayFormatType::Verbose) {
            write!(f, ": {}", self.summary)?;
        }
        Ok(())
    }
}

impl ExecutionPlan for ClusterJobExec {
    fn name(&self) -> &str {
        "ClusterJobExec"
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.job.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        // The job's settings are this session's, with Ballista's restrictions (round
        // robin off, no view types over Flight, ...) applied to this job alone; results
        // are polled for, so the job id is known as soon as the job is accepted.
        let config = context
            .session_config()
            .clone()
            .upgrade_for_ballista()
            .set_bool(BALLISTA_CLIENT_PULL, true)
            .with_ballista_job_name(&format!("datapunk {}", context.session_id()));
        let job_context = Arc::new(TaskContext::default().with_session_config(config));
        let stream = self.job.execute(partition, job_context)?;
        let schema = stream.schema();
        let job = CancelOnDrop {
            schema: Arc::clone(&schema),
            stream,
            job: Arc::clone(&self.job),
            scheduler_url: self.scheduler_url.clone(),
            finished: false,
        };
        Ok(Box::pin(LocalIfUnplanned {
            schema,
            current: Box::pin(job),
            local: Some((Arc::clone(&self.local), context)),
        }))
    }
}

/// `plan` with one output partition, in its order when it has one.
fn one_partition(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    if plan.properties().output_partitioning().partition_count() == 1 {
        return plan;
    }
    match plan.properties().output_ordering() {
        Some(ordering) => Arc::new(SortPreservingMergeExec::new(ordering.clone(), plan)),
        None => Arc::new(CoalescePartitionsExec::new(plan)),
    }
}

/// The job's rows, or the local plan's when the cluster fails to plan the job (then
/// no row has come yet).
struct LocalIfUnplanned {
    schema: SchemaRef,
    current: SendableRecordBatchStream,
    local: Option<(Arc<dyn ExecutionPlan>, Arc<TaskContext>)>,
}

impl Stream for LocalIfUnplanned {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.current.as_mut().poll_next(cx) {
                Poll::Ready(Some(Err(e))) if is_planning_failure(&e) && self.local.is_some() => {
                    let Some((plan, context)) = self.local.take() else {
                        unreachable!("checked above")
                    };
                    tracing::warn!(error = %e, "the cluster could not plan a query; it runs here");
                    match plan.execute(0, context) {
                        Ok(stream) => self.current = stream,
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    }
                }
                Poll::Ready(Some(Ok(batch))) => {
                    self.local = None;
                    return Poll::Ready(Some(Ok(batch)));
                }
                other => return other,
            }
        }
    }
}

impl RecordBatchStream for LocalIfUnplanned {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

/// The job's result stream; cancels the job when dropped before its end.
struct CancelOnDrop {
    schema: SchemaRef,
    stream: SendableRecordBatchStream,
    job: Arc<DistributedQueryExec<LogicalPlanNode>>,
    scheduler_url: String,
    finished: bool,
}

impl Stream for CancelOnDrop {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.stream.as_mut().poll_next(cx);
        match next {
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                // The job has failed on the cluster too: nothing to cancel.
                self.finished = true;
                Poll::Ready(Some(Err(job_error(e, &self.scheduler_url))))
            }
            other => other,
        }
    }
}

impl RecordBatchStream for CancelOnDrop {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (Some(job_id), Ok(runtime)) =
            (self.job.job_id(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let url = self.scheduler_url.clone();
        runtime.spawn(async move {
            let job_id = job_id.to_string();
            match cancel_job(url, &job_id).await {
                Ok(()) => tracing::info!(job = %job_id, "cluster job cancelled"),
                Err(e) => {
                    tracing::warn!(job = %job_id, error = %e, "cancelling a cluster job failed")
                }
            }
        });
    }
}

/// Cancels `job_id` on the scheduler at `url` and repeats until the scheduler reports it
/// no longer queued or running: a cancel that arrives while the job is still being
/// planned is not applied to it.
async fn cancel_job(
    url: String,
    job_id: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use ballista_core::serde::protobuf::job_status::Status;
    use ballista_core::serde::protobuf::GetJobStatusParams;
    let mut scheduler = SchedulerGrpcClient::connect(url).await?;
    for _ in 0..CANCEL_ATTEMPTS {
        scheduler
            .cancel_job(CancelJobParams {
                job_id: job_id.to_owned(),
            })
            .await?;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let status = scheduler
            .get_job_status(GetJobStatusParams {
                job_id: job_id.to_owned(),
            })
            .await?
            .into_inner()
            .status
            .and_then(|s| s.status);
        if !matches!(status, Some(Status::Queued(_) | Status::Running(_))) {
            return Ok(());
        }
    }
    Err(format!("still running after {CANCEL_ATTEMPTS} cancels").into())
}

/// How often a job is asked to cancel before giving up (200 ms apart).
const CANCEL_ATTEMPTS: usize = 50;

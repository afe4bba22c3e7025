//! `ClusterRouter`: decides, plan by plan, what runs on the cluster. A plan ships whole
//! when every table it reads is files the cluster can read as they are (lake tables,
//! warehouse tables and audience members, in the shared storage); anything else
//! (catalog and system tables, table functions, tables behind privacy guards, key
//! lookups, commands) is planned here, where its inner queries pass through this router
//! again.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::catalog::Session;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::{Explain, Expr, LogicalPlan, PlanType, StringifiedPlan, TableScan};
use datafusion::physical_plan::displayable;
use datafusion::physical_plan::explain::ExplainExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};

use super::job::ClusterJobExec;
use crate::engine::placement::ClusterPlacement;
use crate::lookup::KeyIndexed;

/// Functions whose value belongs to one connection (its backend pid, search path,
/// user): a cluster node would answer for another session, so plans calling them stay.
const SESSION_FUNCTIONS: &[&str] = &[
    "pg_backend_pid",
    "current_schema",
    "current_schemas",
    "current_user",
    "session_user",
    "user",
    "datapunk_forget",
];

/// Plans through the cluster at `scheduler_url` what it can run, the rest here.
pub struct ClusterRouter {
    scheduler_url: String,
    /// Plans reading fewer bytes of files than this stay here.
    min_bytes: u64,
    local: DefaultPhysicalPlanner,
}

impl std::fmt::Debug for ClusterRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterRouter")
            .field("scheduler_url", &self.scheduler_url)
            .finish_non_exhaustive()
    }
}

impl ClusterRouter {
    /// A router to the scheduler at `df://host:port` (or `host:port`) for plans whose
    /// tables hold `min_bytes` of files or more.
    pub fn new(scheduler: &str, min_bytes: u64) -> Self {
        Self {
            scheduler_url: format!("http://{}", super::bare_address(scheduler)),
            min_bytes,
            local: DefaultPhysicalPlanner::default(),
        }
    }
}

/// Why `plan` must (or, reading fewer than `min_bytes` of files, should) run here, or
/// `None` when the cluster runs all of it.
pub fn stays_local(plan: &LogicalPlan, min_bytes: u64) -> Option<String> {
    let mut reason = None;
    let mut file_scans = 0usize;
    let mut bytes = 0u64;
    let _ = plan.apply_with_subqueries(|node| {
        // (a scan's pushed-down filters are among its expressions)
        let why = session_function(node)
            .map(|f| format!("{f}() belongs to this session"))
            .or_else(|| match node {
                LogicalPlan::Dml(_)
                | LogicalPlan::Copy(_)
                | LogicalPlan::Ddl(_)
                | LogicalPlan::Statement(_)
                | LogicalPlan::DescribeTable(_)
                | LogicalPlan::Explain(_)
                | LogicalPlan::Analyze(_)
                | LogicalPlan::Extension(_) => Some(format!("{} runs here", node.display())),
                LogicalPlan::TableScan(scan) => match scan_bytes(scan) {
                    Ok(read) => {
                        file_scans += 1;
                        bytes = bytes.saturating_add(read);
                        None
                    }
                    Err(why) => Some(why),
                },
                _ => None,
            });
        match why {
            Some(why) => {
                reason = Some(why);
                Ok(TreeNodeRecursion::Stop)
            }
            None => Ok(TreeNodeRecursion::Continue),
        }
    });
    match reason {
        Some(why) => Some(why),
        None if file_scans == 0 => Some("reads no table of files".to_owned()),
        None if bytes < min_bytes => Some(format!(
            "reads {bytes} bytes of files, fewer than [engine] min_cluster_mb"
        )),
        None => None,
    }
}

/// The bytes of the files `scan` reads when the cluster can read them, else why it must
/// run here.
fn scan_bytes(scan: &TableScan) -> std::result::Result<u64, String> {
    let not_files = || format!("{} is not a table of files", scan.table_name);
    let provider = source_as_provider(&scan.source).map_err(|_| not_files())?;
    if provider
        .downcast_ref::<KeyIndexed>()
        .is_some_and(|indexed| indexed.looks_up(&scan.filters))
    {
        return Err(format!(
            "{}: a key lookup, answered here from its index",
            scan.table_name
        ));
    }
    let files = super::table_files(provider.as_ref()).ok_or_else(not_files)?;
    match files.unshippable() {
        Some(why) => Err(format!("{}: {why}", scan.table_name)),
        None => Ok(files.bytes()),
    }
}

/// A connection-bound function called in `node`'s own expressions.
fn session_function(node: &LogicalPlan) -> Option<String> {
    let mut found = None;
    let _ = node.apply_expressions(|expr| {
        expr.apply(|e| {
            if let Expr::ScalarFunction(f) = e {
                if SESSION_FUNCTIONS.contains(&f.name()) {
                    found = Some(f.name().to_owned());
                    return Ok(TreeNodeRecursion::Stop);
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
    });
    found
}

impl ClusterRouter {
    /// EXPLAIN of a plan the cluster runs: the logical plans as DataFusion gives them,
    /// and as physical plan the job (its stages are planned by the scheduler).
    fn explain_job(&self, explain: &Explain, session: &dyn Session) -> Arc<dyn ExecutionPlan> {
        let job = ClusterJobExec::new(
            explain.plan.as_ref().clone(),
            Arc::new(datafusion::physical_plan::empty::EmptyExec::new(Arc::new(
                explain.plan.schema().as_arrow().clone(),
            ))),
            self.scheduler_url.clone(),
            session.session_id().to_owned(),
        );
        let mut plans = explain.stringified_plans.clone();
        plans.push(StringifiedPlan::new(
            PlanType::FinalPhysicalPlan,
            displayable(&job).indent(explain.verbose).to_string(),
        ));
        Arc::new(ExplainExec::new(
            Arc::clone(explain.schema.inner()),
            plans,
            explain.verbose,
        ))
    }
}

impl ClusterPlacement for ClusterRouter {
    fn runs_on_cluster(&self, plan: &LogicalPlan) -> bool {
        stays_local(plan, self.min_bytes).is_none()
    }
}

#[async_trait]
impl QueryPlanner for ClusterRouter {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let LogicalPlan::Explain(explain) = plan {
            if stays_local(&explain.plan, self.min_bytes).is_none() {
                return Ok(self.explain_job(explain, session));
            }
        }
        match stays_local(plan, self.min_bytes) {
            None => {
                tracing::info!(scheduler = %self.scheduler_url, "query runs on the cluster");
                // Planned here too, for when the cluster cannot plan it.
                let local = self.local.create_physical_plan(plan, session).await?;
                Ok(Arc::new(ClusterJobExec::new(
                    plan.clone(),
                    local,
                    self.scheduler_url.clone(),
                    session.session_id().to_owned(),
                )))
            }
            Some(why) => {
                tracing::debug!(reason = %why, "plan runs locally");
                self.local.create_physical_plan(plan, session).await
            }
        }
    }
}

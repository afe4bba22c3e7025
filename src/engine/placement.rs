//! Where plans run when a cluster takes part: [`Cluster`] is what ballista mode hands the
//! engine (the query planner that routes plans, and its routing decision as a question),
//! and [`Placement`] the session config extension through which code that plans
//! differently for the cluster asks it (a table function's fold reduces its input there
//! instead of reading its rows back).

use std::fmt;
use std::sync::Arc;

use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;

/// Decides, as the session's query planner will, whether a plan runs on a cluster.
pub trait ClusterPlacement: fmt::Debug + Send + Sync {
    fn runs_on_cluster(&self, plan: &LogicalPlan) -> bool;
}

/// The session config extension holding the placement (present in ballista mode only).
#[derive(Debug, Clone)]
pub struct Placement(pub Arc<dyn ClusterPlacement>);

/// The cluster side of an engine.
pub struct Cluster {
    /// Plans become physical plans through it (it decides what runs on the cluster).
    pub planner: Arc<dyn QueryPlanner + Send + Sync>,
    pub placement: Arc<dyn ClusterPlacement>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("placement", &self.placement)
            .finish_non_exhaustive()
    }
}

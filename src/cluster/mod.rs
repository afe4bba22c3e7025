//! Scale-out on Apache Ballista: the scheduler and executor roles of `datapunk
//! scheduler` / `datapunk executor` (Ballista's, with every datapunk function and the
//! codec for lake tables), and the front end's router that sends the plans the cluster
//! can run there and streams their results back through the same PostgreSQL server.

pub mod codec;
pub mod executor;
pub mod functions;
pub mod job;
pub mod remote_error;
pub mod router;
pub mod scheduler;

pub use executor::{run_executor, ExecutorOptions};
pub use router::ClusterRouter;
pub use scheduler::{RunningScheduler, SchedulerOptions};

/// `host:port` of a scheduler given as `df://host:port`, `http://host:port` or
/// `host:port`.
pub(crate) fn bare_address(scheduler: &str) -> &str {
    scheduler
        .trim_start_matches("df://")
        .trim_start_matches("http://")
}

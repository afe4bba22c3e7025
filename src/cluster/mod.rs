//! Scale-out on Apache Ballista: the scheduler and executor roles of `datapunk
//! scheduler` / `datapunk executor` (Ballista's, with every datapunk function and the
//! codec for tables of files), and the front end's router that sends the plans the
//! cluster can run there and streams their results back through the same PostgreSQL
//! server.

pub mod codec;
pub mod executor;
pub mod functions;
pub mod job;
pub mod remote_error;
pub mod router;
pub mod scheduler;

use datafusion::catalog::TableProvider;

use crate::lake::table::LakeTable;
use crate::lookup::KeyIndexed;

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

/// The files behind a table the cluster reads as they are: a lake table, or a table
/// datapunk wrote to Parquet (a warehouse table's version, an audience's members) read
/// without its key index. Whether they can ship is [`LakeTable::unshippable`]'s call.
pub(crate) fn table_files(provider: &dyn TableProvider) -> Option<&LakeTable> {
    provider.downcast_ref::<LakeTable>().or_else(|| {
        provider
            .downcast_ref::<KeyIndexed>()?
            .unindexed()
            .downcast_ref::<LakeTable>()
    })
}

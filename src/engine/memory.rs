//! The memory queries share and where they spill: one pool for the whole server,
//! divided fairly between the operators that can spill (each may hold its share of what
//! the others cannot give back), so a query that started first cannot starve the next;
//! a sort merges its spilled runs a bounded number at a time; spill files go to the
//! configured folder.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use crate::config::ServerConfig;
use crate::error::{Error, Result};

/// How many of the largest consumers a 53200 error names.
const CONSUMERS_NAMED: usize = 5;

/// The most spill files one merge pass reads. Unbounded, a sort merging its spilled
/// runs reserves whatever memory is free (memory it cannot give back), and a query
/// running beside it fails; bounded, more runs take another pass.
const SPILL_MERGE_FAN_IN: usize = 16;

/// The runtime for `server.memory_limit_mb` and `server.spill_dir`.
///
/// # Errors
/// The spill folder cannot be created.
pub fn runtime(server: &ServerConfig) -> Result<Arc<RuntimeEnv>> {
    let mut runtime = RuntimeEnvBuilder::new().with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN);
    if server.memory_limit_mb > 0 {
        let bytes = usize::try_from(server.memory_limit_mb.saturating_mul(1024 * 1024))
            .unwrap_or(usize::MAX);
        let named = NonZeroUsize::new(CONSUMERS_NAMED).unwrap_or(NonZeroUsize::MIN);
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(bytes),
            named,
        )));
    }
    if !server.spill_dir.is_empty() {
        let dir = PathBuf::from(&server.spill_dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::Config(format!(
                "server.spill_dir = {:?} cannot be created: {e}",
                server.spill_dir
            ))
        })?;
        runtime = runtime.with_temp_file_path(dir);
    }
    Ok(runtime.build_arc()?)
}

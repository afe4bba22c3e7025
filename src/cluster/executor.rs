//! `datapunk executor`: a Ballista executor in this process that knows every datapunk
//! function. Results and shuffles are served over Arrow Flight on one port, the
//! scheduler's calls (tasks, cancels) on the next.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};

use super::codec::DatapunkLogicalCodec;
use super::functions::{cluster_config, executor_functions};
use super::scheduler::advertised_host;
use crate::error::{Error, Result};

/// How an executor is started.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `host:port`.
    pub scheduler: String,
    /// Where results are served over Arrow Flight; the scheduler calls the executor on
    /// the next port. Port 0 picks two free ports.
    pub bind: SocketAddr,
    /// The host the scheduler and the front end reach this executor at.
    pub advertise: Option<String>,
    /// Shuffle files and spills.
    pub work_dir: PathBuf,
    /// Tasks run at once (0: one per core).
    pub vcores: usize,
    /// Memory all tasks of this executor may use, in bytes (0: 70% of the machine's).
    pub memory_bytes: u64,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_seconds: u64,
}

/// The Flight and gRPC ports of an executor bound at `bind`.
///
/// # Errors
/// No free port could be found, or `PORT+1` does not exist.
pub fn executor_ports(bind: SocketAddr) -> Result<(u16, u16)> {
    if bind.port() != 0 {
        let grpc = bind.port().checked_add(1).ok_or_else(|| {
            Error::Config(format!(
                "--bind {bind}: the next port (gRPC) is out of range"
            ))
        })?;
        return Ok((bind.port(), grpc));
    }
    let free = || -> Result<u16> {
        Ok(std::net::TcpListener::bind(SocketAddr::new(bind.ip(), 0))?
            .local_addr()?
            .port())
    };
    let flight = free()?;
    let mut grpc = free()?;
    while grpc == flight {
        grpc = free()?;
    }
    Ok((flight, grpc))
}

fn scheduler_host_port(scheduler: &str) -> Result<(String, u16)> {
    let (host, port) = super::bare_address(scheduler)
        .rsplit_once(':')
        .ok_or_else(|| Error::Config(format!("--scheduler {scheduler:?} is not HOST:PORT")))?;
    let port = port
        .parse()
        .map_err(|_| Error::Config(format!("--scheduler {scheduler:?}: bad port")))?;
    Ok((host.trim_matches(['[', ']']).to_owned(), port))
}

/// The Ballista configuration of an executor with `options` on `ports`.
///
/// # Errors
/// A bad scheduler address, or the functions could not be installed.
fn process_config(options: &ExecutorOptions, ports: (u16, u16)) -> Result<ExecutorProcessConfig> {
    let (scheduler_host, scheduler_port) = scheduler_host_port(&options.scheduler)?;
    std::fs::create_dir_all(&options.work_dir)?;
    Ok(ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        external_host: Some(advertised_host(options.bind, options.advertise.as_deref())),
        port: ports.0,
        grpc_port: ports.1,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: 10,
        vcores: options.vcores,
        task_scheduling_policy: TaskSchedulingPolicy::PushStaged,
        work_dir: Some(options.work_dir.display().to_string()),
        memory_pool_size: (options.memory_bytes > 0).then_some(options.memory_bytes),
        executor_heartbeat_interval_seconds: options.heartbeat_seconds.max(1),
        override_function_registry: Some(Arc::new(executor_functions()?)),
        override_config_producer: Some(Arc::new(cluster_config)),
        override_logical_codec: Some(Arc::new(DatapunkLogicalCodec::default())),
        print_thread_info: false,
        ..ExecutorProcessConfig::default()
    })
}

/// Runs an executor until SIGINT/SIGTERM or until its scheduler tells it to stop.
/// `on_ports` hears the Flight and gRPC ports before it registers.
///
/// # Errors
/// The executor could not start or failed.
pub async fn run_executor(
    options: &ExecutorOptions,
    on_ports: impl FnOnce(u16, u16),
) -> Result<()> {
    let ports = executor_ports(options.bind)?;
    let config = process_config(options, ports)?;
    on_ports(ports.0, ports.1);
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| Error::Config(format!("executor: {e}")))
}

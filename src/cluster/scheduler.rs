//! `datapunk scheduler`: a Ballista scheduler in this process, planning jobs with every
//! datapunk function and decoding lake tables.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::codec::DatapunkLogicalCodec;
use super::functions::{cluster_config, cluster_state};
use crate::error::{Error, Result};

/// How a scheduler is started.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The host executors and clients reach this scheduler at (default: the bound
    /// address, or 127.0.0.1 when bound to all interfaces).
    pub advertise: Option<String>,
    /// Executors that must be registered before the scheduler reports ready.
    pub min_ready_executors: usize,
    /// Seconds without a heartbeat after which an executor counts as dead.
    pub executor_timeout_seconds: u64,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            advertise: None,
            min_ready_executors: 1,
            executor_timeout_seconds: 180,
        }
    }
}

/// A scheduler serving on its listener until stopped.
pub struct RunningScheduler {
    pub addr: SocketAddr,
    server: SchedulerServer<LogicalPlanNode, PhysicalPlanNode>,
    serving: JoinHandle<ballista_core::error::Result<()>>,
}

impl std::fmt::Debug for RunningScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningScheduler")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The host other processes reach `addr` at.
pub(crate) fn advertised_host(addr: SocketAddr, advertise: Option<&str>) -> String {
    match advertise {
        Some(host) => host.to_owned(),
        None if addr.ip().is_unspecified() => "127.0.0.1".to_owned(),
        None => addr.ip().to_string(),
    }
}

fn cluster_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Config(format!("{what}: {e}"))
}

impl RunningScheduler {
    /// Starts a scheduler on `listener` (bound already, so port 0 works).
    ///
    /// # Errors
    /// The scheduler could not be initialised.
    pub async fn start(listener: TcpListener, options: &SchedulerOptions) -> Result<Self> {
        let addr = listener.local_addr()?;
        let config = SchedulerConfig {
            bind_host: addr.ip().to_string(),
            bind_port: addr.port(),
            external_host: advertised_host(addr, options.advertise.as_deref()),
            scheduling_policy: TaskSchedulingPolicy::PushStaged,
            override_session_builder: Some(Arc::new(cluster_state)),
            override_config_producer: Some(Arc::new(cluster_config)),
            override_logical_codec: Some(Arc::new(DatapunkLogicalCodec::default())),
            min_ready_executors: options.min_ready_executors,
            executor_timeout_seconds: options.executor_timeout_seconds,
            expire_dead_executor_interval_seconds: options.executor_timeout_seconds.clamp(1, 15),
            ..SchedulerConfig::default()
        };
        config
            .validate()
            .map_err(|e| cluster_error("scheduler configuration", e))?;
        let config = Arc::new(config);
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| cluster_error("scheduler state", e))?;
        let server = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
            .await
            .map_err(|e| cluster_error("starting the scheduler", e))?;
        let serving = tokio::spawn(start_grpc_service_with_listener(listener, server.clone()));
        Ok(Self {
            addr,
            server,
            serving,
        })
    }

    /// Whether the configured number of executors has registered.
    pub fn is_ready(&self) -> bool {
        self.server.is_ready()
    }

    /// Jobs accepted and not yet finished, failed or cancelled.
    pub fn running_jobs(&self) -> usize {
        self.server.state.task_manager.running_job_number()
    }

    /// Serves until the gRPC service ends (an error) or the task is stopped.
    ///
    /// # Errors
    /// The service failed.
    pub async fn wait(mut self) -> Result<()> {
        match (&mut self.serving).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(cluster_error("scheduler", e)),
            Err(e) => Err(cluster_error("scheduler", e)),
        }
    }

    /// Stops serving (the port closes; executors and clients see it gone).
    pub fn stop(&self) {
        self.serving.abort();
    }
}

impl Drop for RunningScheduler {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

//! The session every node of the cluster plans and executes with: every datapunk
//! function (the same names as the front end's engine, so plans that name them decode
//! anywhere), PostgreSQL's planning rules, and Ballista's settings. No datapunk physical
//! rule: the scheduler plans stages with Ballista's own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;

use super::codec::DatapunkLogicalCodec;

/// The settings scheduler and executors start from; a job's own settings (the front
/// end's session) are applied over them.
pub fn cluster_config() -> SessionConfig {
    let mut config = SessionConfig::new_with_ballista()
        .with_ballista_logical_extension_codec(Arc::new(DatapunkLogicalCodec::default()));
    config.options_mut().execution.time_zone = Some("+00:00".to_owned());
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    config
}

/// A session for one job on the scheduler (a fresh id each, as Ballista's own builder
/// gives), with every function installed once per process.
///
/// # Errors
/// Installing the functions failed (a name collision: a bug).
pub fn cluster_state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    static TEMPLATE: OnceLock<std::result::Result<SessionState, String>> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let template = TEMPLATE
        .get_or_init(|| {
            let mut state = SessionStateBuilder::new()
                .with_default_features()
                .with_config(cluster_config())
                .build();
            crate::udf::install(&mut state).map_err(|e| e.to_string())?;
            // Plans arrive analysed and optimised by the server that sent them: planning
            // them a second time would only risk a different plan.
            Ok(
                crate::engine::postgres_planning(SessionStateBuilder::new_from_existing(state))
                    .with_analyzer_rules(vec![])
                    .with_optimizer_rules(vec![])
                    .build(),
            )
        })
        .as_ref()
        .map_err(|e| datafusion::error::DataFusionError::Internal(e.clone()))?;
    let id = format!(
        "datapunk-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Ok(SessionStateBuilder::new_from_existing(template.clone())
        .with_config(config)
        .with_session_id(id)
        .build())
}

/// Every function an executor may meet in a plan, by name.
///
/// # Errors
/// As [`cluster_state`].
pub fn executor_functions() -> datafusion::error::Result<BallistaFunctionRegistry> {
    Ok(BallistaFunctionRegistry::from(&cluster_state(
        cluster_config(),
    )?))
}

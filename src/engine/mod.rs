//! The query engine: one shared catalog (schemas `lake`, `warehouse`, `audience`,
//! `datapunk`, `pg_catalog`, `information_schema`) and a fresh `SessionContext` per connection over it.
//!
//! Never sees pgwire types. The lake and the warehouse register tables into it; the engine
//! never calls them.

pub mod access;
pub mod adaptive_join;
pub mod admission;
pub mod batches_exec;
pub mod catalog;
pub mod compact_slices;
pub mod memory;
pub mod once_stream;
pub mod one_batch_build;
pub mod placement;
pub mod prepare;
pub mod run_aggregate;
pub mod shared_scan;
pub mod shared_subplan;
pub mod system;

use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use crate::error::{Error, Result};
use crate::pg::catalog::computed_view::ComputedView;
pub use catalog::SearchPath;
use catalog::{ConnectionCatalogList, SEARCH_PATH_SCHEMA};
pub use catalog::{SwapSchema, TableHistory};
pub use system::Status;
use system::{StatusKind, StatusTable};

pub const LAKE_SCHEMA: &str = "lake";
pub const WAREHOUSE_SCHEMA: &str = "warehouse";
pub const SYSTEM_SCHEMA: &str = "datapunk";
pub const AUDIENCE_SCHEMA: &str = "audience";
/// The system table of audience membership changes (names members).
pub const AUDIENCE_CHANGES: &str = "audience_changes";

/// The default `search_path`: refined warehouse tables first, then the raw lake.
pub fn default_search_path() -> Vec<String> {
    vec![WAREHOUSE_SCHEMA.to_owned(), LAKE_SCHEMA.to_owned()]
}

/// How PostgreSQL SQL is planned, on any session state being built: its type names,
/// then its analyzer and optimizer rules around DataFusion's. The engine's sessions and
/// the cluster's (scheduler and executors) are planned alike through this.
pub fn postgres_planning(mut builder: SessionStateBuilder) -> SessionStateBuilder {
    let tools_types = builder.type_planner().take();
    builder = builder.with_type_planner(Arc::new(crate::pg::type_planner::PostgresTypes::over(
        tools_types,
    )));
    if let Some(analyzer) = builder.analyzer() {
        analyzer.rules = crate::pg::with_postgres_rules(std::mem::take(&mut analyzer.rules));
    }
    if let Some(optimizer) = builder.optimizer() {
        optimizer.rules =
            crate::pg::with_postgres_optimizer_rules(std::mem::take(&mut optimizer.rules));
    }
    builder
}

/// The shared engine.
#[derive(Debug)]
pub struct Engine {
    database: String,
    /// Template every connection's session is cloned from (functions, config, catalog).
    base: SessionState,
    lake: Arc<SwapSchema>,
    warehouse: Arc<SwapSchema>,
    audience: Arc<SwapSchema>,
    system: Arc<MemorySchemaProvider>,
    status: Arc<Status>,
    /// The schemas of `[[lake.mounts]]`, by name.
    mounts: std::sync::RwLock<Vec<(String, Arc<SwapSchema>)>>,
    /// What every session's table lookups go through.
    guards: access::GuardSlot,
}

/// One connection's session, its search path and who it reads as.
#[derive(Clone)]
pub struct Session {
    pub ctx: Arc<SessionContext>,
    pub search_path: SearchPath,
    pub viewer: access::ViewerHandle,
}

impl Session {
    /// Records what the server knows of this session's connection (read by
    /// `pg_stat_ssl` and `pg_backend_pid()`).
    pub fn set_connection(&self, connection: crate::pg::catalog::extra::Connection) {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().set_extension(Arc::new(connection));
        drop(state);
        self.ctx
            .register_udf(crate::pg::system_info::backend_pid_udf(connection.pid));
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.ctx.session_id())
            .field("search_path", &self.search_path)
            .finish()
    }
}

impl Engine {
    /// Builds the catalog for `database` with pg_catalog, the memory pool and spill
    /// folder of `server`, and every function
    /// (`install_functions`: the function registry's `install`). With `cluster`, plans
    /// become physical plans through its planner (which decides what runs on the
    /// cluster), and sessions carry its [`placement::Placement`].
    ///
    /// # Errors
    /// Registration fails (a function name collision, for example).
    pub fn new(
        database: &str,
        roles: crate::pg::catalog::overlay::Roles,
        server: &crate::config::ServerConfig,
        install_functions: fn(&mut SessionState) -> datafusion::error::Result<()>,
        cluster: Option<placement::Cluster>,
    ) -> Result<Self> {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema(database, SEARCH_PATH_SCHEMA);
        // The session time zone clients are told (TimeZone=UTC): `::timestamptz` and
        // `timestamp with time zone` carry it, so they print with `+00` as in PostgreSQL.
        config.options_mut().execution.time_zone = Some("+00:00".to_owned());
        // Spans let errors (warehouse scripts, clients) point at a line.
        config.options_mut().sql_parser.collect_spans = true;
        // `0.1` is a numeric, as in PostgreSQL (DataFusion: a double); see `pg::literals`.
        config.options_mut().sql_parser.parse_float_as_decimal = true;
        let ctx = SessionContext::new_with_config_rt(config, memory::runtime(server)?);
        let catalog = ctx
            .catalog(database)
            .ok_or_else(|| Error::Config(format!("catalog {database} was not created")))?;
        let lake = Arc::new(SwapSchema::default());
        let warehouse = Arc::new(SwapSchema::default());
        let status = Arc::new(Status::default());
        let audience = Arc::new(SwapSchema::default());
        let system = Arc::new(MemorySchemaProvider::new());
        system.register_table(
            "lake_tables".into(),
            Arc::new(ComputedView(StatusTable::new(
                StatusKind::Lake,
                Arc::clone(&status),
            ))),
        )?;
        system.register_table(
            "warehouse_tables".into(),
            Arc::new(ComputedView(StatusTable::new(
                StatusKind::Warehouse,
                Arc::clone(&status),
            ))),
        )?;
        catalog.register_schema(LAKE_SCHEMA, Arc::clone(&lake) as Arc<dyn SchemaProvider>)?;
        catalog.register_schema(
            WAREHOUSE_SCHEMA,
            Arc::clone(&warehouse) as Arc<dyn SchemaProvider>,
        )?;
        catalog.register_schema(
            AUDIENCE_SCHEMA,
            Arc::clone(&audience) as Arc<dyn SchemaProvider>,
        )?;
        catalog.register_schema(
            SYSTEM_SCHEMA,
            Arc::clone(&system) as Arc<dyn SchemaProvider>,
        )?;
        setup_pg_catalog(&ctx, database, roles).map_err(|e| Error::DataFusion(*e))?;
        if let Some(pg_catalog) = catalog.schema("pg_catalog") {
            catalog.register_schema(
                "pg_catalog",
                Arc::new(crate::pg::catalog::overlay::PgCatalogOverlay::new(
                    pg_catalog,
                    Arc::downgrade(&catalog),
                )),
            )?;
        }
        let mut base = ctx.state();
        install_functions(&mut base)?;
        // Our information_schema (DataFusion's plus PostgreSQL's constraint views) lives in
        // the catalog; DataFusion's built-in one would shadow it, so that switch goes off.
        catalog.register_schema(
            "information_schema",
            Arc::new(
                crate::pg::catalog::information_schema::InformationSchema::new(
                    Arc::clone(base.catalog_list()),
                    base.table_functions().clone(),
                )?,
            ),
        )?;
        base.config_mut().options_mut().catalog.information_schema = false;
        let planner = cluster.map(|cluster| {
            base.config_mut()
                .set_extension(Arc::new(placement::Placement(cluster.placement)));
            cluster.planner
        });
        let mut builder = postgres_planning(SessionStateBuilder::new_from_existing(base));
        if let Some(planner) = planner {
            builder = builder.with_query_planner(planner);
        }
        builder = builder
            .with_physical_optimizer_rule(Arc::new(adaptive_join::AdaptiveJoinRule::default()))
            .with_physical_optimizer_rule(Arc::new(run_aggregate::RunAggregateRule))
            .with_physical_optimizer_rule(Arc::new(shared_subplan::SharedSubplanRule::default()))
            .with_physical_optimizer_rule(Arc::new(shared_scan::SharedScanRule::default()))
            .with_physical_optimizer_rule(Arc::new(one_batch_build::OneBatchBuildRule))
            .with_physical_optimizer_rule(Arc::new(compact_slices::CompactSlicesRule));
        let base = builder.build();
        Ok(Self {
            database: database.to_owned(),
            base,
            lake,
            warehouse,
            audience,
            system,
            status,
            mounts: std::sync::RwLock::new(Vec::new()),
            guards: access::GuardSlot::default(),
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn lake(&self) -> &Arc<SwapSchema> {
        &self.lake
    }

    pub fn warehouse(&self) -> &Arc<SwapSchema> {
        &self.warehouse
    }

    pub fn audience(&self) -> &Arc<SwapSchema> {
        &self.audience
    }

    /// Which table `table` is the current version of, when it is a lake, warehouse or
    /// audience table (an immutable version, replaced, never changed, when its data
    /// changes): schema, name and the version's tag.
    pub fn published_as(
        &self,
        table: &Arc<dyn datafusion::catalog::TableProvider>,
    ) -> Option<(String, String, String)> {
        let own = [
            (LAKE_SCHEMA, &self.lake),
            (WAREHOUSE_SCHEMA, &self.warehouse),
            (AUDIENCE_SCHEMA, &self.audience),
        ]
        .into_iter()
        .find_map(|(schema, tables)| {
            tables
                .find(table)
                .map(|(name, tag)| (schema.to_owned(), name, tag))
        });
        own.or_else(|| {
            let mounts = self.mounts.read().ok()?;
            mounts.iter().find_map(|(schema, tables)| {
                tables
                    .find(table)
                    .map(|(name, tag)| (schema.clone(), name, tag))
            })
        })
    }

    /// A new schema `name` whose tables are published like the lake's (a mounted lake
    /// root).
    ///
    /// # Errors
    /// The catalog refuses the schema.
    pub fn mount(&self, name: &str) -> Result<Arc<SwapSchema>> {
        let schema = Arc::new(SwapSchema::default());
        let catalog = self
            .base
            .catalog_list()
            .catalog(&self.database)
            .ok_or_else(|| Error::Config(format!("catalog {} is missing", self.database)))?;
        catalog.register_schema(name, Arc::clone(&schema) as Arc<dyn SchemaProvider>)?;
        if let Ok(mut mounts) = self.mounts.write() {
            mounts.push((name.to_owned(), Arc::clone(&schema)));
        }
        Ok(schema)
    }

    /// Adds a read-only table to schema `datapunk` (the system tables of other modules),
    /// readable by `readers`.
    ///
    /// # Errors
    /// The name is taken.
    pub fn register_system_table(
        &self,
        name: &str,
        readers: access::Readers,
        table: Arc<dyn datafusion::catalog::TableProvider>,
    ) -> Result<()> {
        self.system.register_table(name.to_owned(), table)?;
        self.guards.restrict_system_table(name, readers);
        Ok(())
    }

    pub fn status(&self) -> &Arc<Status> {
        &self.status
    }

    /// The runtime every session shares: memory pool, spill folder, object stores.
    pub fn runtime(&self) -> &Arc<datafusion::execution::runtime_env::RuntimeEnv> {
        self.base.runtime_env()
    }

    /// Installs what every session's table lookups go through from now on.
    pub fn install_guard(&self, guard: Arc<dyn access::TableGuard>) {
        self.guards.install(guard);
    }

    /// A new session over the shared catalog with its own settings and search path,
    /// reading as datapunk itself until [`Session::viewer`] says otherwise.
    pub fn session(&self) -> Session {
        let search_path = SearchPath::new(default_search_path());
        let viewer = access::ViewerHandle::new(access::Viewer::internal());
        let access = catalog::Access {
            viewer: viewer.clone(),
            guards: self.guards.clone(),
        };
        let state = match ConnectionCatalogList::new(
            Arc::clone(self.base.catalog_list()),
            &self.database,
            search_path.clone(),
            access,
        ) {
            Some(list) => SessionStateBuilder::new_from_existing(self.base.clone())
                .with_catalog_list(Arc::new(list))
                .build(),
            None => self.base.clone(),
        };
        let mut state = state;
        let (sees, guards) = (viewer.clone(), self.guards.clone());
        state
            .config_mut()
            .set_extension(Arc::new(crate::pg::catalog::visible::VisibleSchemas(
                Arc::new(move |schema: &str, table: Option<&str>| {
                    let viewer = sees.get();
                    match table {
                        Some(table) => guards.may_read(&viewer, schema, table),
                        None => viewer.may_read_schema(schema),
                    }
                }),
            )));
        let ctx = Arc::new(SessionContext::new_with_state(state));
        for udf in self.guards.session_functions(&viewer) {
            ctx.register_udf(udf);
        }
        let path = search_path.clone();
        for udf in crate::pg::system_info::search_path_udfs(move || path.get()) {
            ctx.register_udf(udf);
        }
        Session {
            ctx,
            search_path,
            viewer,
        }
    }
}

//! The warehouse: `sql/warehouse/NNN_name.sql` scripts run in numeric order at startup
//! and after lake changes, each (re)building one table or view in schema `warehouse`.
//!
//! A script that fails logs `path:line: message`, keeps serving the previous version of
//! its table, and the scripts after it still run. Tables are written to Parquet files in
//! the state dir ([`store`]) and swapped in when complete, so readers never see a
//! half-built table and a build never waits for readers; a restart serves the tables
//! built before. A table is built again only when what it is built from changed: its
//! script's text, or the version of a table it reads ([`crate::lineage`]; a lake change
//! rebuilds only the scripts that read the changed tables, and those that read them).
//! A script calling `now()` or reading a system table is built every time.

mod materialize;
pub mod script;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use datafusion::catalog::SchemaProvider;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::{MemTable, ViewTable};
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::ast::Statement;

use crate::engine::system::WarehouseTableStatus;
use crate::engine::Engine;
use crate::lookup::{KeyIndexed, Rows};
use materialize::{
    fingerprint, micros_since_epoch, parquet_stores, retry_with_sort_merge_joins, write_parquet,
};
use script::{Kind, Script, ScriptError};
use store::{Manifest, Store};

/// The demo warehouse scripts, compiled in (the same files as `sql/warehouse/`).
pub const DEMO_SCRIPTS: &[(&str, &str)] = &[
    (
        "010_orders.sql",
        include_str!("../../sql/warehouse/010_orders.sql"),
    ),
    (
        "020_customers.sql",
        include_str!("../../sql/warehouse/020_customers.sql"),
    ),
    (
        "030_daily_sales.sql",
        include_str!("../../sql/warehouse/030_daily_sales.sql"),
    ),
    (
        "040_customer_rfm.sql",
        include_str!("../../sql/warehouse/040_customer_rfm.sql"),
    ),
    (
        "050_customer_segments.sql",
        include_str!("../../sql/warehouse/050_customer_segments.sql"),
    ),
    (
        "060_product_pairs.sql",
        include_str!("../../sql/warehouse/060_product_pairs.sql"),
    ),
    (
        "070_customer_recommendations.sql",
        include_str!("../../sql/warehouse/070_customer_recommendations.sql"),
    ),
    (
        "080_customer_clv.sql",
        include_str!("../../sql/warehouse/080_customer_clv.sql"),
    ),
    (
        "090_experiment_results.sql",
        include_str!("../../sql/warehouse/090_experiment_results.sql"),
    ),
    (
        "100_identity_graph.sql",
        include_str!("../../sql/warehouse/100_identity_graph.sql"),
    ),
    (
        "110_profiles.sql",
        include_str!("../../sql/warehouse/110_profiles.sql"),
    ),
];

/// One script as read: (name shown in messages, file name, text or read error).
type ScriptText = (String, String, Result<String, String>);

/// Where the scripts come from.
#[derive(Debug, Clone)]
pub enum Scripts {
    /// A folder of `NNN_name.sql` files; `shown_as` prefixes file names in messages.
    Dir { dir: PathBuf, shown_as: String },
    /// The compiled-in demo scripts.
    Demo,
}

impl Scripts {
    /// (name shown in messages, file name, text) in build order.
    fn read(&self) -> Result<Vec<ScriptText>, String> {
        match self {
            Scripts::Demo => Ok(DEMO_SCRIPTS
                .iter()
                .map(|(name, text)| {
                    (
                        format!("sql/warehouse/{name}"),
                        (*name).to_owned(),
                        Ok((*text).to_owned()),
                    )
                })
                .collect()),
            Scripts::Dir { dir, shown_as } => {
                let paths = script::list(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                Ok(paths
                    .into_iter()
                    .map(|p| {
                        let name = p
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let shown = format!("{}/{name}", shown_as.trim_end_matches('/'));
                        let text = std::fs::read_to_string(&p).map_err(|e| e.to_string());
                        (shown, name, text)
                    })
                    .collect())
            }
        }
    }
}

/// What a build did.
#[derive(Debug, Default, Clone)]
pub struct BuildReport {
    pub built: Vec<String>,
    /// Tables whose inputs had not changed since they were built.
    pub unchanged: Vec<String>,
    pub failed: Vec<String>,
    pub elapsed: Duration,
}

/// What running one script did.
enum Outcome {
    /// Built (a table: with its row count), at that time.
    Built(Option<u64>, SystemTime),
    /// A table built from the same inputs already exists.
    Unchanged,
}

/// The warehouse builder.
#[derive(Debug)]
pub struct Warehouse {
    scripts: Option<Scripts>,
    engine: Arc<Engine>,
    store: Store,
    manifest: std::sync::Mutex<Manifest>,
    /// One build at a time.
    building: tokio::sync::Mutex<()>,
}

impl Warehouse {
    /// The warehouse stored in `dir`: the tables built before are served at once.
    ///
    /// # Errors
    /// The folder cannot be created or its manifest read.
    pub fn open(
        scripts: Option<Scripts>,
        engine: Arc<Engine>,
        dir: PathBuf,
    ) -> std::io::Result<Self> {
        let (store, manifest) = Store::open(dir)?;
        let warehouse = Self {
            scripts,
            engine,
            store,
            manifest: std::sync::Mutex::new(Manifest::default()),
            building: tokio::sync::Mutex::new(()),
        };
        for (table, built) in &manifest.tables {
            match crate::lookup::indexed_parquet_file(
                &warehouse.store.file(&built.file),
                &built.key_column,
            ) {
                Ok(provider) => {
                    warehouse
                        .engine
                        .warehouse()
                        .publish(table, provider, built.file.clone());
                    warehouse.set_status(
                        table,
                        &built.script,
                        Ok(Some(built.rows)),
                        Duration::from_millis(built.duration_ms),
                        Some(
                            SystemTime::UNIX_EPOCH
                                + Duration::from_micros(
                                    u64::try_from(built.built_at_us).unwrap_or(0),
                                ),
                        ),
                    );
                }
                Err(error) => {
                    tracing::error!(table = %format!("warehouse.{table}"), file = %built.file, %error, "cannot serve a stored warehouse table; it is built again");
                }
            }
        }
        tracing::info!(dir = %warehouse.store.path().display(), tables = manifest.tables.len(), "warehouse opened");
        *warehouse.lock_manifest() = manifest;
        Ok(warehouse)
    }

    fn lock_manifest(&self) -> std::sync::MutexGuard<'_, Manifest> {
        self.manifest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs every script in order whose table's inputs changed. Never fails as a
    /// whole: each failure is logged and recorded in `datapunk.warehouse_tables`.
    pub async fn build(&self) -> BuildReport {
        self.build_tables(false).await
    }

    /// Runs every script in order, changed or not (`REFRESH WAREHOUSE`).
    pub async fn rebuild(&self) -> BuildReport {
        self.build_tables(true).await
    }

    async fn build_tables(&self, every_table: bool) -> BuildReport {
        let _one_at_a_time = self.building.lock().await;
        let started = Instant::now();
        let mut report = BuildReport::default();
        let Some(scripts) = &self.scripts else {
            return report;
        };
        let files = match scripts.read() {
            Ok(f) => f,
            Err(error) => {
                tracing::error!(%error, "cannot read warehouse scripts");
                return report;
            }
        };
        for (shown, file_name, text) in files {
            let t0 = Instant::now();
            let parsed = match text {
                Ok(text) => script::parse(&text, &file_name, &shown),
                Err(message) => Err(ScriptError {
                    path: shown.clone(),
                    line: 1,
                    message,
                    table: None,
                }),
            };
            let outcome = match parsed {
                Ok(s) => self.run(&s, &shown, every_table).await.map(|o| (s, o)),
                Err(e) => Err(e),
            };
            let elapsed = t0.elapsed();
            match outcome {
                Ok((s, Outcome::Built(rows, at))) => {
                    tracing::info!(table = %format!("warehouse.{}", s.table), script = %shown, rows = ?rows, duration_ms = elapsed.as_millis() as u64, "warehouse table built");
                    self.set_status(&s.table, &shown, Ok(rows), elapsed, Some(at));
                    report.built.push(s.table);
                }
                Ok((s, Outcome::Unchanged)) => {
                    tracing::debug!(table = %format!("warehouse.{}", s.table), "warehouse table unchanged");
                    report.unchanged.push(s.table);
                }
                Err(e) => {
                    tracing::error!("{e}");
                    if let Some(table) = &e.table {
                        self.set_status(table, &shown, Err(e.to_string()), elapsed, None);
                        report.failed.push(table.clone());
                    }
                }
            }
        }
        report.elapsed = started.elapsed();
        tracing::info!(
            built = report.built.len(),
            unchanged = report.unchanged.len(),
            failed = report.failed.len(),
            duration_ms = report.elapsed.as_millis() as u64,
            "warehouse build finished"
        );
        report
    }

    /// Plans one script and, unless its table is built from the same inputs already,
    /// runs it and swaps its table or view in.
    async fn run(&self, s: &Script, shown: &str, force: bool) -> Result<Outcome, ScriptError> {
        let fail = |e: DataFusionError| {
            let (_, message) = crate::error::classify_datafusion(&e);
            let line = crate::engine::prepare::error_line(&e).unwrap_or(s.line);
            ScriptError {
                path: s.path.clone(),
                line,
                message,
                table: Some(s.table.clone()),
            }
        };
        let session = self.engine.session();
        let state = session.ctx.state();
        let plan =
            crate::engine::prepare::plan(&state, &Statement::Query(Box::new(s.query.clone())))
                .await
                .map_err(fail)?;
        if let Some(name) = repeated_column(&plan) {
            // As PostgreSQL's CREATE TABLE AS / CREATE VIEW refuse it (42701).
            return Err(ScriptError {
                path: s.path.clone(),
                line: s.line,
                message: format!("column \"{name}\" specified more than once"),
                table: Some(s.table.clone()),
            });
        }
        let lineage = crate::lineage::of(&self.engine, &plan);
        let fingerprint = fingerprint(s, &lineage);
        if s.kind == Kind::View {
            // Validate that the view runs before publishing it.
            session
                .ctx
                .execute_logical_plan(plan.clone())
                .await
                .map_err(fail)?
                .limit(0, Some(0))
                .map_err(fail)?
                .collect()
                .await
                .map_err(fail)?;
            let tag =
                fingerprint.unwrap_or_else(|| format!("view built at {:?}", SystemTime::now()));
            let view = Arc::new(ViewTable::new(plan, Some(s.query.to_string())));
            self.engine.warehouse().publish(&s.table, view, tag);
            return Ok(Outcome::Built(None, SystemTime::now()));
        }
        let unchanged = !force
            && fingerprint.as_ref().is_some_and(|f| {
                self.lock_manifest()
                    .tables
                    .get(&s.table)
                    .is_some_and(|built| &built.fingerprint == f)
            })
            && self.engine.warehouse().current(&s.table).is_some();
        if unchanged {
            return Ok(Outcome::Unchanged);
        }
        let started = Instant::now();
        let file = {
            let mut manifest = self.lock_manifest();
            manifest.builds += 1;
            format!("{}-{:06}.parquet", s.table, manifest.builds)
        };
        let path = self.store.file(&file);
        let key = s
            .key
            .clone()
            .or_else(|| plan.schema().fields().first().map(|f| f.name().clone()))
            .unwrap_or_default();
        let df = session
            .ctx
            .execute_logical_plan(plan.clone())
            .await
            .map_err(fail)?;
        if !parquet_stores(df.schema().as_arrow()) {
            return self.keep_in_memory(s, df, &key, &file).await.map_err(fail);
        }
        let rows = match write_parquet(df, &path).await {
            Err(e) if retry_with_sort_merge_joins(&e, &plan) => {
                tracing::warn!(
                    "{shown}: out of memory in a hash join ({e}); building again with \
                     sort-merge joins, which spill"
                );
                let state = session.ctx.state_ref();
                state
                    .write()
                    .config_mut()
                    .options_mut()
                    .optimizer
                    .prefer_hash_join = false;
                let df = session.ctx.execute_logical_plan(plan).await.map_err(fail)?;
                write_parquet(df, &path).await
            }
            written => written,
        }
        .map_err(fail)?;
        let table = crate::lookup::indexed_parquet_file(&path, &key).map_err(fail)?;
        // Kept to the microsecond, as it is stored.
        let built_at = SystemTime::UNIX_EPOCH
            + Duration::from_micros(
                u64::try_from(micros_since_epoch(SystemTime::now())).unwrap_or(0),
            );
        let retired = {
            let mut manifest = self.lock_manifest();
            let previous = manifest.tables.get(&s.table).cloned();
            let built = store::Built {
                file: file.clone(),
                previous_file: previous.as_ref().map(|p| p.file.clone()),
                fingerprint: fingerprint.unwrap_or_default(),
                reads: lineage.names(),
                key_column: key,
                script: shown.to_owned(),
                rows,
                built_at_us: micros_since_epoch(built_at),
                duration_ms: started.elapsed().as_millis() as u64,
            };
            manifest.tables.insert(s.table.clone(), built);
            if let Err(e) = self
                .store
                .sync()
                .and_then(|()| self.store.commit(&manifest))
            {
                // Not committed: the previous version stays, in the manifest and served.
                match previous {
                    Some(p) => manifest.tables.insert(s.table.clone(), p),
                    None => manifest.tables.remove(&s.table),
                };
                let _ = std::fs::remove_file(&path);
                return Err(fail(DataFusionError::IoError(e)));
            }
            previous.and_then(|p| p.previous_file)
        };
        let previous = self.engine.warehouse().current(&s.table);
        let table = tokio::task::spawn_blocking(move || {
            KeyIndexed::index_like(&table, previous.as_ref());
            table
        })
        .await
        .map_err(|e| fail(DataFusionError::External(Box::new(e))))?;
        self.engine.warehouse().publish(&s.table, table, file);
        if let Some(old) = retired {
            if let Err(e) = std::fs::remove_file(self.store.file(&old)) {
                tracing::warn!(file = %old, error = %e, "cannot remove a retired warehouse file");
            }
        }
        Ok(Outcome::Built(Some(rows), built_at))
    }

    /// Serves a table Parquet cannot store (an `interval` column) from memory; it is
    /// built again at each start.
    async fn keep_in_memory(
        &self,
        s: &Script,
        df: DataFrame,
        key: &str,
        tag: &str,
    ) -> datafusion::error::Result<Outcome> {
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let memory = MemTable::try_new(schema, vec![batches.clone()])?;
        let table = KeyIndexed::over(Arc::new(memory), Rows::Memory(batches), key);
        let previous = self.engine.warehouse().current(&s.table);
        KeyIndexed::index_like(&table, previous.as_ref());
        self.engine
            .warehouse()
            .publish(&s.table, table, format!("{tag} (in memory)"));
        let mut manifest = self.lock_manifest();
        if manifest.tables.remove(&s.table).is_some() {
            self.store.commit(&manifest)?;
        }
        tracing::warn!(table = %format!("warehouse.{}", s.table), "a column type Parquet cannot store: kept in memory, built again at each start");
        Ok(Outcome::Built(Some(rows), SystemTime::now()))
    }

    fn set_status(
        &self,
        table: &str,
        script: &str,
        outcome: Result<Option<u64>, String>,
        elapsed: Duration,
        built_at: Option<SystemTime>,
    ) {
        let exists = self.engine.warehouse().table_exist(table);
        let Ok(mut map) = self.engine.status().warehouse.write() else {
            return;
        };
        let previous = map.get(table).cloned();
        let status = match outcome {
            Ok(rows) => WarehouseTableStatus {
                script: script.to_owned(),
                rows,
                state: "ok",
                error: None,
                built_at: Some(built_at.unwrap_or_else(SystemTime::now)),
                duration_ms: Some(elapsed.as_millis() as u64),
            },
            Err(error) => WarehouseTableStatus {
                script: script.to_owned(),
                rows: previous.as_ref().and_then(|p| p.rows).filter(|_| exists),
                state: if exists { "stale" } else { "error" },
                error: Some(error),
                built_at: previous.and_then(|p| p.built_at).filter(|_| exists),
                duration_ms: Some(elapsed.as_millis() as u64),
            },
        };
        map.insert(table.to_owned(), status);
    }
}

/// The first output name a query gives two columns, as clients see the names.
fn repeated_column(plan: &datafusion::logical_expr::LogicalPlan) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    plan.schema()
        .fields()
        .iter()
        .map(|f| crate::pg::dialect::client_name(f.name()))
        .find(|name| !seen.insert(*name))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_compiled_in_demo_scripts_are_every_file_of_sql_warehouse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/warehouse");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("sql/warehouse")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let compiled: Vec<&str> = super::DEMO_SCRIPTS.iter().map(|(n, _)| *n).collect();
        assert_eq!(compiled, files);
    }
}

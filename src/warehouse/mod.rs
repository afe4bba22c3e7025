//! The warehouse: `sql/warehouse/NNN_name.sql` scripts run in numeric order at startup
//! and after lake changes, each (re)building one table or view in schema `warehouse`.
//!
//! A script that fails logs `path:line: message`, keeps serving the previous version of
//! its table, and the scripts after it still run. Tables are materialised in memory and
//! swapped in atomically when complete, so readers never see a half-built table.

pub mod script;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use datafusion::catalog::SchemaProvider;
use datafusion::datasource::{MemTable, ViewTable};
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::ast::Statement;

use crate::engine::system::WarehouseTableStatus;
use crate::engine::Engine;
use crate::lookup::{KeyIndexed, Rows};
use script::{Kind, Script, ScriptError};

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
    pub failed: Vec<String>,
    pub elapsed: Duration,
}

/// The warehouse builder.
#[derive(Debug)]
pub struct Warehouse {
    scripts: Option<Scripts>,
    engine: Arc<Engine>,
    /// One build at a time.
    building: tokio::sync::Mutex<()>,
}

impl Warehouse {
    pub fn new(scripts: Option<Scripts>, engine: Arc<Engine>) -> Self {
        Self {
            scripts,
            engine,
            building: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs every script in order. Never fails as a whole: each failure is logged and
    /// recorded in `datapunk.warehouse_tables`.
    pub async fn build(&self) -> BuildReport {
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
                Ok(s) => self.run(&s).await.map(|rows| (s, rows)),
                Err(e) => Err(e),
            };
            let elapsed = t0.elapsed();
            match outcome {
                Ok((s, rows)) => {
                    tracing::info!(table = %format!("warehouse.{}", s.table), script = %shown, rows = ?rows, duration_ms = elapsed.as_millis() as u64, "warehouse table built");
                    self.set_status(&s.table, &shown, Ok(rows), elapsed);
                    report.built.push(s.table);
                }
                Err(e) => {
                    tracing::error!("{e}");
                    if let Some(table) = &e.table {
                        self.set_status(table, &shown, Err(e.to_string()), elapsed);
                        report.failed.push(table.clone());
                    }
                }
            }
        }
        report.elapsed = started.elapsed();
        tracing::info!(
            built = report.built.len(),
            failed = report.failed.len(),
            duration_ms = report.elapsed.as_millis() as u64,
            "warehouse build finished"
        );
        report
    }

    /// Plans and runs one script and swaps its table in; returns the row count of tables.
    async fn run(&self, s: &Script) -> Result<Option<u64>, ScriptError> {
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
        let (table, rows): (Arc<dyn datafusion::catalog::TableProvider>, Option<u64>) = match s.kind
        {
            Kind::View => {
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
                (
                    Arc::new(ViewTable::new(plan, Some(s.query.to_string()))),
                    None,
                )
            }
            Kind::Table => {
                let df = session.ctx.execute_logical_plan(plan).await.map_err(fail)?;
                let schema = Arc::new(df.schema().as_arrow().clone());
                let batches = df.collect().await.map_err(fail)?;
                let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                let key = s
                    .key
                    .clone()
                    .or_else(|| schema.fields().first().map(|f| f.name().clone()))
                    .unwrap_or_default();
                let mem = MemTable::try_new(schema, vec![batches.clone()]).map_err(fail)?;
                (
                    KeyIndexed::over(Arc::new(mem), Rows::Memory(batches), &key),
                    Some(rows),
                )
            }
        };
        let previous = self.engine.warehouse().current(&s.table);
        let table = tokio::task::spawn_blocking(move || {
            KeyIndexed::index_like(&table, previous.as_ref());
            table
        })
        .await
        .map_err(|e| fail(DataFusionError::External(Box::new(e))))?;
        self.engine.warehouse().publish(&s.table, table);
        Ok(rows)
    }

    fn set_status(
        &self,
        table: &str,
        script: &str,
        outcome: Result<Option<u64>, String>,
        elapsed: Duration,
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
                built_at: Some(SystemTime::now()),
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

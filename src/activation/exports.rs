//! Campaign exports: `[[exports]]` run on `RUN EXPORT name`. A run reads an audience (all
//! members, or only who entered / exited since the last successful run) or a query
//! through the one door, drops rows without consent, and writes one file atomically
//! (temp file, fsync, rename) followed by its `.done` manifest (rows, SHA-256); readers
//! take a file once its `.done` exists. With a webhook, the rows are also POSTed as JSON
//! lines in batches (retried with backoff, an idempotency key per batch) before the file
//! is completed: a run whose delivery fails leaves no file and its changes go out with
//! the next run (at least once to the webhook, exactly once to files). Runs are
//! recorded durably ([`super::export_runs`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Column;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use futures::StreamExt;
use tokio::sync::Mutex;

use super::audiences::Audiences;
use super::consent::Consent;
use super::export_runs::{done_path, Run, Runs};
use crate::config::ExportConfig;
use crate::durable::{sync_dir, temp_path, write_atomically};
use crate::engine::{prepare, Engine};
use crate::error::Error;

/// Every export's runs, as `datapunk.export_runs` shows them.
#[derive(Debug, Default)]
pub struct ExportView {
    pub runs: RwLock<BTreeMap<String, Vec<Run>>>,
}

/// The exports of one server.
pub struct Exports {
    engine: Arc<Engine>,
    audiences: Arc<Audiences>,
    configs: BTreeMap<String, ExportConfig>,
    runs: Mutex<BTreeMap<String, Runs>>,
    view: Arc<ExportView>,
    /// Rows are kept only with marketing consent, when it is recorded.
    consent: Option<Consent>,
}

impl std::fmt::Debug for Exports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exports")
            .field("exports", &self.configs.keys())
            .finish()
    }
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A SQL identifier, quoted.
fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks the exports against what exists: known audiences, export folders inside the
/// roots and writable. Returns every problem, naming the key.
pub fn check(
    configs: &[ExportConfig],
    audiences: &[String],
    roots: &[PathBuf],
    zone: chrono_tz::Tz,
) -> Vec<String> {
    let roots: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| {
            std::fs::create_dir_all(r).ok()?;
            std::fs::canonicalize(r).ok()
        })
        .collect();
    let mut problems = Vec::new();
    for (i, e) in configs.iter().enumerate() {
        if !e.schedule.is_empty() {
            if let Err(message) = super::schedule::Schedule::parse(&e.schedule, zone) {
                problems.push(format!("exports[{i}].schedule = {message}"));
            }
        }
        if !e.audience.is_empty() && !audiences.contains(&e.audience) {
            problems.push(format!(
                "exports[{i}].audience = {:?}: no such audience",
                e.audience
            ));
        }
        let path = Path::new(&e.path);
        // No folder is made for a path the configuration check refused already.
        if e.path.is_empty()
            || path
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            continue;
        }
        let inside = path.is_absolute() && roots.iter().any(|r| path.starts_with(r));
        let canonical = inside
            .then(|| std::fs::create_dir_all(path).and_then(|()| std::fs::canonicalize(path)));
        match canonical {
            None => problems.push(format!(
                "exports[{i}].path = {:?} is not inside activation.export_roots ({})",
                e.path,
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(Err(err)) => {
                problems.push(format!("exports[{i}].path = {:?}: {err}", e.path));
            }
            Some(Ok(real)) if !roots.iter().any(|r| real.starts_with(r)) => problems.push(format!(
                "exports[{i}].path = {:?} leads outside activation.export_roots (to {})",
                e.path,
                real.display()
            )),
            Some(Ok(real)) => {
                let probe = real.join(".datapunk-write-probe");
                if let Err(err) =
                    std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe))
                {
                    problems.push(format!(
                        "exports[{i}].path = {:?} is not writable: {err}",
                        e.path
                    ));
                }
            }
        }
    }
    problems
}

impl Exports {
    /// Opens every export's run record (settling runs a crash interrupted).
    ///
    /// # Errors
    /// A run record cannot be read or written.
    pub fn open(
        engine: Arc<Engine>,
        audiences: Arc<Audiences>,
        configs: &[ExportConfig],
        state_dir: &Path,
        view: Arc<ExportView>,
        consent: Option<Consent>,
    ) -> Result<Self, Error> {
        let mut runs = BTreeMap::new();
        for c in configs {
            let dir = state_dir.join(&c.name);
            let r = Runs::open(&dir).map_err(|e| {
                Error::Io(io::Error::new(e.kind(), format!("{}: {e}", dir.display())))
            })?;
            runs.insert(c.name.clone(), r);
        }
        let this = Self {
            engine,
            audiences,
            configs: configs
                .iter()
                .map(|c| (c.name.clone(), c.clone()))
                .collect(),
            runs: Mutex::new(BTreeMap::new()),
            view,
            consent,
        };
        for (name, r) in &runs {
            this.show(name, r);
        }
        this.runs
            .try_lock()
            .map(|mut m| *m = runs)
            .map_err(|_| Error::Io(io::Error::other("exports busy while opening")))?;
        Ok(this)
    }

    /// The scheduled exports: (name, pattern).
    pub fn schedules(&self) -> Vec<(String, String)> {
        self.configs
            .values()
            .filter(|c| !c.schedule.is_empty())
            .map(|c| (c.name.clone(), c.schedule.clone()))
            .collect()
    }

    fn show(&self, name: &str, runs: &Runs) {
        if let Ok(mut view) = self.view.runs.write() {
            view.insert(name.to_owned(), runs.all().to_vec());
        }
    }

    /// Runs export `name` now.
    ///
    /// # Errors
    /// No such export (42704), or the run failed (recorded, retried by the next run).
    pub async fn run(&self, name: &str) -> Result<Run, Error> {
        let config = self.configs.get(name).ok_or_else(|| Error::Undefined {
            what: "export",
            name: name.to_owned(),
        })?;
        let mut all = self.runs.lock().await;
        let runs = all.get_mut(name).ok_or_else(|| Error::Undefined {
            what: "export",
            name: name.to_owned(),
        })?;
        // The audience stays at one refresh while the run reads it.
        let pinned = if config.audience.is_empty() {
            None
        } else {
            Some(self.audiences.pin(&config.audience).await?)
        };
        let to_refresh = pinned.as_ref().map_or(0, |p| p.refresh_id);
        let from_refresh = runs.delivered_up_to();
        let from_time = runs.delivered_up_to_time();
        let started = SystemTime::now();
        let stamp = chrono::DateTime::<chrono::Utc>::from(started).format("%Y%m%dT%H%M%S%3fZ");
        let extension = config.format.as_str();
        let file = Path::new(&config.path)
            .join(format!("{name}-{stamp}.{extension}"))
            .display()
            .to_string();
        let mut run = Run {
            run_id: runs.next_id(),
            started_us: micros(started),
            finished_us: None,
            from_refresh,
            to_refresh,
            to_refreshed_at_us: pinned.as_ref().map_or(0, |p| p.refreshed_at_us),
            rows: None,
            file: file.clone(),
            state: "running".into(),
            error: None,
            attempt: runs.failures_since_ok() + 1,
        };
        runs.record(run.clone()).map_err(Error::Io)?;
        let sql = match &pinned {
            Some(p) => audience_sql(config, &p.key_column, from_refresh, to_refresh, from_time),
            None => config.query.clone(),
        };
        let outcome = self.write(config, &sql, &file).await;
        drop(pinned);
        run.finished_us = Some(micros(SystemTime::now()));
        match &outcome {
            Ok(rows) => {
                run.rows = Some(*rows);
                run.state = "ok".into();
                tracing::info!(export = name, rows, file = %file, "export run done");
            }
            Err(e) => {
                let _ = std::fs::remove_file(&file);
                run.state = "failed".into();
                run.error = Some(e.to_string());
                tracing::error!(export = name, error = %e, "export run failed; the next run retries");
            }
        }
        let recorded = runs.record(run.clone());
        self.show(name, runs);
        recorded.map_err(Error::Io)?;
        outcome.map(|_| run)
    }

    /// Runs the export query and writes `file` and its `.done` manifest; returns the rows.
    async fn write(&self, config: &ExportConfig, sql: &str, file: &str) -> Result<u64, Error> {
        let session = self.engine.session();
        let state = session.ctx.state();
        let mut plan = prepare::plan_query(&state, sql).await?;
        if let (Some(consent), true) = (&self.consent, config.mode != "exited") {
            if config.ignore_consent {
                tracing::warn!(export = %config.name, "export ignores marketing consent (ignore_consent = true)");
            } else {
                plan = consent
                    .keep_consented(&state, plan, &format!("export {}", config.name))
                    .await?;
            }
        }
        if !config.consent_column.is_empty() && config.mode != "exited" {
            if let Ok((qualifier, field)) = plan
                .schema()
                .qualified_field_with_unqualified_name(&config.consent_column)
            {
                let consent = Expr::Column(Column::from((qualifier, field)));
                plan = LogicalPlanBuilder::from(plan)
                    .filter(consent.is_true())?
                    .build()?;
            }
        }
        let stream = session
            .ctx
            .execute_logical_plan(plan)
            .await?
            .execute_stream()
            .await?;
        let schema = stream.schema();
        let handle = tokio::runtime::Handle::current();
        let format = config.format.clone();
        let path = PathBuf::from(file);
        let mut webhook = (!config.webhook.is_empty())
            .then(|| super::webhook::Webhook::new(&config.name, &config.webhook));
        tokio::task::spawn_blocking(move || {
            let mut stream = stream;
            write_file(
                &format,
                &path,
                &schema,
                || handle.block_on(stream.next()),
                |batch| match webhook.as_mut() {
                    Some(w) => w.deliver(batch),
                    None => Ok(()),
                },
            )
        })
        .await
        .map_err(|e| Error::Io(io::Error::other(e.to_string())))?
        .map_err(Error::from)
    }
}

/// The query of an audience export: every member, or who entered (with the members'
/// columns) or exited (key and when) in refreshes (from, to].
///
/// Members who entered in refreshes (from, to] and still are members are those whose
/// `entered_at` is after refresh `from` ran (`from_time`; refresh times strictly increase):
/// one filter on the members file. Without that time (runs recorded before it was kept),
/// the members are matched with the change files.
fn audience_sql(
    config: &ExportConfig,
    key: &str,
    from: i64,
    to: i64,
    from_time: Option<i64>,
) -> String {
    let members = format!("audience.{}", identifier(&config.audience));
    let changes = |change: &str| {
        format!(
            "SELECT key FROM datapunk.audience_changes WHERE audience = {} AND change = '{change}' \
             AND refresh_id > {from} AND refresh_id <= {to}",
            literal(&config.audience)
        )
    };
    let key_text = format!("CAST(m.{} AS VARCHAR)", identifier(key));
    match (config.mode.as_str(), from_time) {
        ("entered", Some(i64::MIN)) => format!("SELECT m.* FROM {members} AS m"),
        ("entered", Some(after)) => format!(
            "SELECT m.* FROM {members} AS m WHERE m.{} > CAST('{}' AS TIMESTAMPTZ)",
            identifier(super::diff::ENTERED_AT),
            chrono::DateTime::from_timestamp_micros(after)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ),
        ("entered", None) => format!(
            "SELECT m.* FROM {members} AS m WHERE {key_text} IN ({})",
            changes("entered")
        ),
        ("exited", _) => format!(
            "SELECT c.key AS {}, max(c.at) AS exited_at FROM datapunk.audience_changes AS c \
             WHERE c.audience = {} AND c.change = 'exited' AND c.refresh_id > {from} \
             AND c.refresh_id <= {to} AND c.key NOT IN (SELECT {key_text} FROM {members} AS m) \
             GROUP BY c.key",
            identifier(key),
            literal(&config.audience)
        ),
        _ => format!("SELECT * FROM {members}"),
    }
}

/// A writer that hashes what goes through it.
struct Hashing {
    file: File,
    digest: ring::digest::Context,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes the batches `next` yields to `path` in `format`, each also handed to
/// `deliver`, atomically, then its `.done` manifest; returns the rows.
fn write_file(
    format: &str,
    path: &Path,
    schema: &SchemaRef,
    mut next: impl FnMut() -> Option<DfResult<RecordBatch>>,
    mut deliver: impl FnMut(&RecordBatch) -> DfResult<()>,
) -> DfResult<u64> {
    let tmp = temp_path(path);
    let written = (|| -> DfResult<(u64, Hashing)> {
        let out = Hashing {
            file: File::create(&tmp)?,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        };
        let mut rows = 0u64;
        let out = match format {
            "parquet" => {
                let mut w = parquet::arrow::ArrowWriter::try_new(out, Arc::clone(schema), None)?;
                while let Some(batch) = next() {
                    let batch = batch?;
                    rows += batch.num_rows() as u64;
                    w.write(&batch)?;
                    deliver(&batch)?;
                }
                w.into_inner()?
            }
            "jsonl" => {
                let mut w = datafusion::arrow::json::LineDelimitedWriter::new(out);
                while let Some(batch) = next() {
                    let batch = batch?;
                    rows += batch.num_rows() as u64;
                    w.write(&batch)?;
                    deliver(&batch)?;
                }
                w.finish()?;
                w.into_inner()
            }
            _ => {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out);
                let mut any = false;
                while let Some(batch) = next() {
                    let batch = batch?;
                    rows += batch.num_rows() as u64;
                    any = true;
                    w.write(&batch)?;
                    deliver(&batch)?;
                }
                if !any {
                    // A header even without rows.
                    w.write(&RecordBatch::new_empty(Arc::clone(schema)))?;
                }
                w.into_inner()
            }
        };
        Ok((rows, out))
    })();
    let (rows, out) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let Hashing { file, digest } = out;
    let finish = || -> io::Result<()> {
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
        let sha256: String = digest
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let manifest = format!(
            "file = {:?}\nrows = {rows}\nsha256 = \"{sha256}\"\n",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        write_atomically(
            Path::new(&done_path(&path.display().to_string())),
            manifest.as_bytes(),
        )
    };
    if let Err(e) = finish() {
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(path);
        return Err(DataFusionError::IoError(e));
    }
    Ok(rows)
}

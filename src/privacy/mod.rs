//! Privacy: the right to erasure and least privilege, enforced below every query.
//!
//! - Erasure: `datapunk_forget(id_type, id)` resolves the person through the identity
//!   table, appends the request to the durable [`erasure_log`], and from then on every
//!   table of `[[privacy.pii_tables]]` is read without that person's rows
//!   ([`guarded_table`]); `PURGE ERASED` / `datapunk purge` rewrites the lake files
//!   without them ([`purge`]).
//! - Access: [`Privacy`] is the engine's [`TableGuard`]: besides the schema and system
//!   table grants the engine checks (`datapunk.erasure_log` is registered for admins
//!   only), it masks `[privacy] masked_columns` ([`mask`]) for users without `pii = true`.
//!
//! Imports the engine and the lake; neither imports it.

mod erased_positions;
pub mod erasure_log;
mod forget;
pub mod guarded_table;
mod log_table;
pub mod mask;
mod not_erased;
pub mod purge;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::TableProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ScalarUDF;

use crate::config::PrivacyConfig;
use crate::engine::access::{Readers, TableGuard, Viewer, ViewerHandle};
use crate::engine::{Engine, AUDIENCE_CHANGES, AUDIENCE_SCHEMA, SYSTEM_SCHEMA};
use crate::error::Error;
use crate::lake::LakeStore;
use erased_positions::ErasedPositions;
use erasure_log::{ErasureLog, Event, Request};
use guarded_table::{ErasedRows, GuardedTable};

/// The system table of erasure requests (admins only).
pub const ERASURE_LOG_TABLE: &str = "erasure_log";

/// The id type under which a person's own id (`person_id`) is erased.
pub const PERSON: &str = "person";

/// The erasure requests as the log holds them, kept up to date event by event (a bulk
/// erasure of many people costs each request its own identifiers, not the whole log).
#[derive(Debug, Default, Clone)]
pub struct Erasures {
    pub requests: Vec<Request>,
    /// Request → when it was purged and how many rows that purge removed.
    pub purged: HashMap<u64, (String, u64)>,
    /// Every erased identifier, by id type.
    by_type: HashMap<String, Arc<Vec<String>>>,
    /// Every erased identifier, whatever its type.
    all: Arc<Vec<String>>,
    /// The number the next request gets.
    next_request: u64,
}

impl Erasures {
    fn from_events(events: &[Event]) -> Self {
        let mut erasures = Self {
            next_request: 1,
            ..Self::default()
        };
        for event in events {
            erasures.apply(event);
        }
        erasures
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::Requested(r) => {
                for (t, id) in &r.identifiers {
                    Arc::make_mut(self.by_type.entry(t.clone()).or_default()).push(id.clone());
                    Arc::make_mut(&mut self.all).push(id.clone());
                }
                self.next_request = self.next_request.max(r.request + 1);
                self.requests.push(r.clone());
            }
            Event::Purged { requests, at, rows } => {
                for r in requests {
                    self.purged.insert(*r, (at.clone(), *rows));
                }
            }
        }
    }

    fn pending(&self) -> Vec<u64> {
        self.requests
            .iter()
            .map(|r| r.request)
            .filter(|r| !self.purged.contains_key(r))
            .collect()
    }
}

/// The privacy state of one server (or of `datapunk purge`).
#[derive(Debug)]
pub struct Privacy {
    config: PrivacyConfig,
    log: Mutex<ErasureLog>,
    erasures: RwLock<Arc<Erasures>>,
    mask: Arc<ScalarUDF>,
    engine: OnceLock<Weak<Engine>>,
    /// Counts erasure requests; watched to rebuild what was built from erased rows.
    changes: tokio::sync::watch::Sender<usize>,
    /// The erased rows of the lake files read so far, by position.
    positions: Arc<ErasedPositions>,
}

impl Privacy {
    /// Opens the erasure log and the masking key in the state dir `state`.
    ///
    /// # Errors
    /// The log is unreadable or the key cannot be created.
    pub fn open(config: &PrivacyConfig, state: &Path) -> io::Result<Arc<Self>> {
        let (log, events) = ErasureLog::open(&state.join("erasure_log.jsonl"))?;
        let secret = mask_secret(&state.join("privacy.key"))?;
        let erasures = Erasures::from_events(&events);
        let (changes, _) = tokio::sync::watch::channel(erasures.requests.len());
        Ok(Arc::new(Self {
            config: config.clone(),
            log: Mutex::new(log),
            erasures: RwLock::new(Arc::new(erasures)),
            mask: mask::Mask::udf(&secret, config.mask == "null"),
            engine: OnceLock::new(),
            changes,
            positions: Arc::default(),
        }))
    }

    /// Makes `engine` read every table through this guard and adds
    /// `datapunk.erasure_log`.
    ///
    /// # Errors
    /// The system table name is taken.
    pub fn install(self: &Arc<Self>, engine: &Arc<Engine>) -> crate::error::Result<()> {
        let _ = self.engine.set(Arc::downgrade(engine));
        engine.register_system_table(
            ERASURE_LOG_TABLE,
            Readers::Admins,
            Arc::new(crate::pg::catalog::computed_view::ComputedView(
                log_table::ErasureLogTable(Arc::downgrade(self)),
            )),
        )?;
        engine.install_guard(Arc::clone(self) as Arc<dyn TableGuard>);
        Ok(())
    }

    pub fn erasures(&self) -> Arc<Erasures> {
        self.erasures
            .read()
            .map(|e| Arc::clone(&e))
            .unwrap_or_default()
    }

    /// Changes each time a person is forgotten.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<usize> {
        self.changes.subscribe()
    }

    /// The rows of `schema.table` (with columns `fields`) that must never be returned:
    /// those of the pii rules; in an audience, the identifiers in columns named as a pii
    /// rule's column; in `datapunk.audience_changes`, any erased identifier as the key
    /// (so a member's history goes with the member).
    fn hidden_rows(
        &self,
        erasures: &Erasures,
        schema: &str,
        table: &str,
        fields: &Schema,
    ) -> Vec<ErasedRows> {
        if schema == SYSTEM_SCHEMA && table == AUDIENCE_CHANGES {
            return if erasures.all.is_empty() {
                Vec::new()
            } else {
                vec![ErasedRows {
                    column: "key".into(),
                    ids: Arc::clone(&erasures.all),
                }]
            };
        }
        if schema != AUDIENCE_SCHEMA {
            return self.erased_rows(erasures, schema, table);
        }
        let mut rows: Vec<ErasedRows> = Vec::new();
        for rule in &self.config.pii_tables {
            let Some(ids) = erasures.by_type.get(&rule.id_type) else {
                continue;
            };
            let known = rows
                .iter()
                .any(|r| r.column == rule.column && Arc::ptr_eq(&r.ids, ids));
            if fields.field_with_name(&rule.column).is_ok() && !known {
                rows.push(ErasedRows {
                    column: rule.column.clone(),
                    ids: Arc::clone(ids),
                });
            }
        }
        rows
    }

    /// The rows of lake or warehouse table `schema.table` that must never be returned.
    fn erased_rows(&self, erasures: &Erasures, schema: &str, table: &str) -> Vec<ErasedRows> {
        self.config
            .pii_tables
            .iter()
            .filter(|t| t.table.split_once('.') == Some((schema, table)))
            .filter_map(|t| {
                let ids = erasures.by_type.get(&t.id_type)?;
                Some(ErasedRows {
                    column: t.column.clone(),
                    ids: Arc::clone(ids),
                })
            })
            .collect()
    }

    /// Writes the event `make` makes of the next request number to the log, then
    /// applies it; requests are numbered and written one at a time.
    fn append(&self, make: impl FnOnce(u64) -> Event) -> Result<Arc<Erasures>> {
        let unavailable = || {
            DataFusionError::External(Box::new(Error::NotReady(
                "the erasure log is unavailable".into(),
            )))
        };
        let mut log = self.log.lock().map_err(|_| unavailable())?;
        let next = self
            .erasures
            .read()
            .map_err(|_| unavailable())?
            .next_request;
        let event = make(next);
        log.append(&event)
            .map_err(|e| DataFusionError::External(Box::new(Error::Io(e))))?;
        let mut current = self.erasures.write().map_err(|_| unavailable())?;
        Arc::make_mut(&mut current).apply(&event);
        Ok(Arc::clone(&current))
    }

    /// Records the erasure of the person `id_type`/`id` belongs to (or of that identifier
    /// alone, when the identity table does not know it); from the moment this returns
    /// no query reads their rows.
    ///
    /// # Errors
    /// `viewer` is not an admin (42501), an argument is empty (22023), or the log cannot
    /// be written.
    pub async fn forget(&self, viewer: &Viewer, id_type: &str, id: &str) -> Result<String> {
        if !viewer.admin {
            return Err(DataFusionError::External(Box::new(Error::NotAdmin {
                what: "datapunk_forget".into(),
            })));
        }
        if id_type.trim().is_empty() || id.is_empty() {
            return Err(crate::error::invalid_argument(
                "datapunk_forget",
                "id_type and id must not be empty",
            ));
        }
        let (person_id, mut identifiers) = self.resolve(id_type, id).await?;
        if !identifiers.contains(&(id_type.to_owned(), id.to_owned())) {
            identifiers.push((id_type.to_owned(), id.to_owned()));
        }
        if let Some(p) = person_id {
            identifiers.push((PERSON.to_owned(), p.to_string()));
        }
        let count = identifiers.len();
        let erasures = self.append(|request| {
            Event::Requested(Request {
                request,
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                by: viewer.user.clone(),
                id_type: id_type.to_owned(),
                id: id.to_owned(),
                person_id,
                identifiers,
            })
        })?;
        let request = erasures.requests.last().map_or(0, |r| r.request);
        self.changes.send_replace(erasures.requests.len());
        tracing::info!(request, by = %viewer.user, identifiers = count, "erasure requested");
        Ok(match person_id {
            Some(p) => format!("erasure request {request}: person {p}, {count} identifiers"),
            None => format!(
                "erasure request {request}: {id_type} not in {}, 1 identifier",
                self.config.identity_table
            ),
        })
    }

    /// The person of `id_type`/`id` and all of their identifiers, from the identity
    /// table; none when the table or the identifier is not there.
    async fn resolve(
        &self,
        id_type: &str,
        id: &str,
    ) -> Result<(Option<i64>, Vec<(String, String)>)> {
        let Some(engine) = self.engine.get().and_then(Weak::upgrade) else {
            return Ok((None, Vec::new()));
        };
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let table = &self.config.identity_table;
        let sql = format!(
            "SELECT CAST(id_type AS TEXT), CAST(id AS TEXT), CAST(person_id AS BIGINT) \
             FROM {table} WHERE person_id IN (SELECT person_id FROM {table} \
             WHERE CAST(id_type AS TEXT) = {} AND CAST(id AS TEXT) = {})",
            quote(id_type),
            quote(id)
        );
        let session = engine.session();
        let state = session.ctx.state();
        let plan = match crate::engine::prepare::plan_query(&state, &sql).await {
            Ok(plan) => plan,
            Err(e) => {
                tracing::warn!(table = %table, error = %e, "datapunk_forget: the identity table cannot be read; erasing the identifier alone");
                return Ok((None, Vec::new()));
            }
        };
        let batches = session
            .ctx
            .execute_logical_plan(plan)
            .await?
            .collect()
            .await?;
        let mut person = None;
        let mut identifiers = Vec::new();
        for batch in batches {
            use datafusion::arrow::array::{Array, AsArray};
            use datafusion::arrow::compute::cast;
            use datafusion::arrow::datatypes::{DataType, Int64Type};
            let types = cast(batch.column(0), &DataType::Utf8)?;
            let ids = cast(batch.column(1), &DataType::Utf8)?;
            let persons = cast(batch.column(2), &DataType::Int64)?;
            let (types, ids) = (types.as_string::<i32>(), ids.as_string::<i32>());
            let persons = persons.as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                if types.is_valid(row) && ids.is_valid(row) {
                    identifiers.push((types.value(row).to_owned(), ids.value(row).to_owned()));
                }
                if persons.is_valid(row) {
                    person = Some(persons.value(row));
                }
            }
        }
        identifiers.sort_unstable();
        identifiers.dedup();
        Ok((person, identifiers))
    }

    /// Rewrites the lake files of the pii tables in `lakes` (schema name, root) without
    /// the erased rows, then records the pending requests as purged.
    ///
    /// # Errors
    /// A lake cannot be listed or a file cannot be rewritten (the requests stay pending;
    /// a purge run again finishes them).
    pub async fn purge(&self, lakes: &[(String, LakeStore)]) -> Result<purge::Report> {
        let erasures = self.erasures();
        let pending = erasures.pending();
        let mut report = purge::Report::default();
        for (schema, root) in lakes {
            let rules: BTreeMap<String, Vec<ErasedRows>> = self
                .config
                .pii_tables
                .iter()
                .filter_map(|t| {
                    let (s, name) = t.table.split_once('.')?;
                    (s == schema).then(|| name.to_owned())
                })
                .map(|name| {
                    let rows = self.erased_rows(&erasures, schema, &name);
                    (name, rows)
                })
                .collect();
            if rules.values().all(Vec::is_empty) {
                continue;
            }
            let tables = crate::lake::rewritable_files(root)
                .await
                .map_err(DataFusionError::Execution)?;
            let schema = schema.clone();
            let done =
                tokio::task::spawn_blocking(move || purge::purge_tables(&schema, &tables, &rules))
                    .await
                    .map_err(|e| DataFusionError::Execution(e.to_string()))??;
            report.files += done.files;
            report.rows += done.rows;
            report.skipped.extend(done.skipped);
        }
        for why in &report.skipped {
            tracing::warn!(table = %why, "purge: table not rewritten");
        }
        if !pending.is_empty() {
            self.append(|_| Event::Purged {
                requests: pending,
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                rows: report.rows,
            })?;
        }
        Ok(report)
    }
}

impl TableGuard for Privacy {
    fn guard(
        &self,
        viewer: &Viewer,
        schema: &str,
        name: &str,
        table: Arc<dyn TableProvider>,
    ) -> Result<Arc<dyn TableProvider>> {
        if matches!(schema, "pg_catalog" | "information_schema") {
            return Ok(table);
        }
        let erasures = self.erasures();
        let erased = self.hidden_rows(&erasures, schema, name, &table.schema());
        let masked: Vec<String> = if viewer.sees_pii() {
            Vec::new()
        } else {
            let fields = table.schema();
            self.config
                .masked_columns
                .iter()
                .filter(|c| fields.field_with_name(c).is_ok())
                .cloned()
                .collect()
        };
        if erased.is_empty() && masked.is_empty() {
            return Ok(table);
        }
        let tag = format!(
            "erasures={} masked={masked:?}",
            if erased.is_empty() {
                0
            } else {
                erasures.requests.len()
            }
        );
        Ok(Arc::new(
            GuardedTable::new(table, erased, masked, Arc::clone(&self.mask), tag)
                .with_positions(Arc::clone(&self.positions), erasures.requests.len()),
        ))
    }

    fn session_functions(self: Arc<Self>, viewer: &ViewerHandle) -> Vec<ScalarUDF> {
        vec![forget::udf(Arc::downgrade(&self), viewer.clone())]
    }
}

/// The secret masked values are keyed with: created once per state dir (so masked
/// values stay the same across restarts and joins between tables still match).
fn mask_secret(path: &Path) -> io::Result<Vec<u8>> {
    if let Ok(secret) = std::fs::read(path) {
        if secret.len() >= 32 {
            return Ok(secret);
        }
    }
    let secret = crate::scram::random_bytes(32);
    crate::durable::write_atomically(path, &secret)?;
    Ok(secret)
}

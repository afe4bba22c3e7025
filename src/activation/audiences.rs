//! The audiences service: loads the definitions, refreshes audiences (query through the
//! one door, streamed diff, durable commit), publishes `audience.NAME`, and keeps the
//! status `datapunk.audiences` and the history `datapunk.audience_changes` show.
//! One refresh, create or drop at a time; a failing audience keeps its last membership.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::logical_expr::{cast, Expr, LogicalPlan, LogicalPlanBuilder};
use futures::StreamExt;
use tokio::sync::Mutex;

use super::compaction;
use super::consent::Consent;
use super::definitions::{valid_name, Definition, Definitions};
use super::diff::{diff, previous_members_file, Counts, PreviousMembers, Refresh, ENTERED_AT};
use super::store::{AudienceDir, Manifest};
use crate::engine::{prepare, Engine};
use crate::error::Error;

/// How one audience stands, as `datapunk.audiences` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceStatus {
    pub key_column: String,
    pub definition: String,
    pub members: Option<u64>,
    pub entered: Option<u64>,
    pub exited: Option<u64>,
    pub refresh_id: i64,
    pub refreshed_at: Option<SystemTime>,
    pub duration_ms: Option<u64>,
    /// `ok`, `stale` (the last refresh failed; the previous members stay) or `error`
    /// (never refreshed).
    pub state: &'static str,
    pub error: Option<String>,
}

/// What SQL users see of the audiences (read by the system tables).
#[derive(Debug, Default)]
pub struct AudienceView {
    pub status: RwLock<BTreeMap<String, AudienceStatus>>,
    /// Every change file of every audience.
    pub change_files: RwLock<Vec<PathBuf>>,
}

struct Audience {
    definition: Definition,
    dir: AudienceDir,
    manifest: Manifest,
    error: Option<String>,
}

/// The audiences of one server.
pub struct Audiences {
    engine: Arc<Engine>,
    definitions: Definitions,
    state_dir: PathBuf,
    audiences: Mutex<BTreeMap<String, Audience>>,
    view: Arc<AudienceView>,
    /// Members are kept only with marketing consent, when it is recorded.
    consent: Option<Consent>,
}

impl std::fmt::Debug for Audiences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audiences")
            .field("definitions", &self.definitions.dir())
            .field("state_dir", &self.state_dir)
            .finish()
    }
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn from_micros(us: i64) -> Option<SystemTime> {
    (us > 0).then(|| SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(us as u64))
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(e.kind(), format!("{what}: {e}")))
}

impl Audiences {
    /// Loads the definitions in `definitions` and the state of each audience from
    /// `state_dir` (publishing the members of its last completed refresh).
    ///
    /// # Errors
    /// A folder cannot be read or created, or a manifest is corrupt.
    pub fn open(
        engine: Arc<Engine>,
        definitions: Definitions,
        state_dir: PathBuf,
        view: Arc<AudienceView>,
        consent: Option<Consent>,
    ) -> Result<Self, Error> {
        let loaded = definitions
            .load()
            .map_err(|e| io_error(&definitions.dir().display().to_string(), e))?;
        let mut audiences = BTreeMap::new();
        for definition in loaded {
            let audience = Self::open_audience(&state_dir, definition)?;
            audiences.insert(audience.definition.name.clone(), audience);
        }
        let this = Self {
            engine,
            definitions,
            state_dir,
            audiences: Mutex::new(audiences),
            view,
            consent,
        };
        if let Ok(audiences) = this.audiences.try_lock() {
            for audience in audiences.values() {
                this.publish(audience);
            }
            this.publish_changes(&audiences);
        }
        Ok(this)
    }

    fn open_audience(
        state_dir: &std::path::Path,
        definition: Definition,
    ) -> Result<Audience, Error> {
        let path = state_dir.join(&definition.name);
        let (dir, manifest) = AudienceDir::open(path.clone())
            .map_err(|e| io_error(&path.display().to_string(), e))?;
        Ok(Audience {
            definition,
            dir,
            manifest,
            error: None,
        })
    }

    /// The audience names.
    pub async fn names(&self) -> Vec<String> {
        self.audiences.lock().await.keys().cloned().collect()
    }

    /// The audiences with a schedule: (name, pattern, definition file).
    pub async fn schedules(&self) -> Vec<(String, String, PathBuf)> {
        self.audiences
            .lock()
            .await
            .values()
            .filter_map(|a| {
                let d = &a.definition;
                Some((d.name.clone(), d.schedule.clone()?, d.path.clone()))
            })
            .collect()
    }

    /// Refreshes every audience; returns (refreshed, failed).
    pub async fn refresh_all(&self) -> (usize, usize) {
        let mut audiences = self.audiences.lock().await;
        let (mut ok, mut failed) = (0, 0);
        let names: Vec<String> = audiences.keys().cloned().collect();
        for name in names {
            if let Some(audience) = audiences.get_mut(&name) {
                match self.refresh_one(audience).await {
                    Ok(_) => ok += 1,
                    Err(_) => failed += 1,
                }
            }
        }
        self.publish_changes(&audiences);
        (ok, failed)
    }

    /// Refreshes one audience now.
    ///
    /// # Errors
    /// No such audience (42704), or the refresh failed (the previous members stay).
    pub async fn refresh(&self, name: &str) -> Result<Counts, Error> {
        let mut audiences = self.audiences.lock().await;
        let audience = audiences.get_mut(name).ok_or_else(|| undefined(name))?;
        let outcome = self.refresh_one(audience).await;
        self.publish_changes(&audiences);
        outcome
    }

    /// `CREATE AUDIENCE name AS sql`: defines, refreshes once and keeps the audience;
    /// nothing is kept when the first refresh fails.
    ///
    /// # Errors
    /// A bad or taken name, a query that fails, a folder that cannot be written.
    pub async fn create(&self, name: &str, sql: &str) -> Result<Counts, Error> {
        if !valid_name(name) {
            return Err(Error::InvalidName {
                what: "audience",
                name: name.to_owned(),
                rule: "a lower-case identifier of letters, digits and _, at most 63 long",
            });
        }
        let mut audiences = self.audiences.lock().await;
        if audiences.contains_key(name) {
            return Err(Error::Duplicate {
                what: "audience",
                name: name.to_owned(),
            });
        }
        let definition = self.definitions.define(name, sql);
        // Leftovers of an audience of that name dropped while its files were open.
        let _ = std::fs::remove_dir_all(self.state_dir.join(name));
        let mut audience = Self::open_audience(&self.state_dir, definition)?;
        let counts = match self.refresh_one(&mut audience).await {
            Ok(counts) => counts,
            Err(e) => {
                let _ = std::fs::remove_dir_all(audience.dir.path());
                self.unpublish(name);
                return Err(e);
            }
        };
        if let Err(e) = self.definitions.write(&audience.definition) {
            let _ = std::fs::remove_dir_all(audience.dir.path());
            self.unpublish(name);
            return Err(io_error(&audience.definition.path.display().to_string(), e));
        }
        tracing::info!(
            audience = name,
            members = counts.members,
            "audience created"
        );
        audiences.insert(name.to_owned(), audience);
        self.publish_changes(&audiences);
        Ok(counts)
    }

    /// `DROP AUDIENCE name`: removes the definition, the members and the history.
    ///
    /// # Errors
    /// No such audience (42704), or its definition cannot be removed.
    pub async fn drop_audience(&self, name: &str) -> Result<(), Error> {
        let mut audiences = self.audiences.lock().await;
        let audience = audiences.get(name).ok_or_else(|| undefined(name))?;
        self.definitions
            .remove(&audience.definition)
            .map_err(|e| io_error(&audience.definition.path.display().to_string(), e))?;
        let dir = audience.dir.path().to_owned();
        audiences.remove(name);
        self.unpublish(name);
        self.publish_changes(&audiences);
        // Running queries may still read the files; a failure here only leaves garbage
        // that a later CREATE of the same name clears.
        let _ = std::fs::remove_dir_all(dir);
        tracing::info!(audience = name, "audience dropped");
        Ok(())
    }

    async fn refresh_one(&self, audience: &mut Audience) -> Result<Counts, Error> {
        let started = Instant::now();
        let name = audience.definition.name.clone();
        let outcome = match Definitions::reread(&audience.definition) {
            // The member files are keyed by their key column: a new key is a new audience.
            Some(edited) if edited.key_column != audience.definition.key_column => {
                Err(Error::Config(format!(
                    "the key column of audience {name} changed from {} to {}: an audience \
                     keeps its key; DROP AUDIENCE and define it again",
                    audience.definition.key_column, edited.key_column
                )))
            }
            edited => {
                if let Some(edited) = edited {
                    tracing::info!(audience = %name, file = %edited.path.display(), "audience definition edited");
                    audience.definition = edited;
                }
                self.run_refresh(audience, started).await
            }
        };
        match &outcome {
            Ok(counts) => {
                audience.error = None;
                tracing::info!(audience = %name, members = counts.members, entered = counts.entered, exited = counts.exited, duration_ms = started.elapsed().as_millis() as u64, "audience refreshed");
            }
            Err(e) => {
                let message = self.located(audience, e);
                tracing::error!("{message}");
                audience.error = Some(message);
            }
        }
        self.publish(audience);
        outcome
    }

    /// `path:LINE: message` for a failed refresh.
    fn located(&self, audience: &Audience, error: &Error) -> String {
        let (line, message) = match error {
            Error::DataFusion(e) => (
                prepare::error_line(e).unwrap_or(1),
                crate::error::classify_datafusion(e).1,
            ),
            other => (1, other.to_string()),
        };
        format!("{}:{line}: {message}", audience.definition.path.display())
    }

    async fn run_refresh(
        &self,
        audience: &mut Audience,
        started: Instant,
    ) -> Result<Counts, Error> {
        let definition = &audience.definition;
        let session = self.engine.session();
        let state = session.ctx.state();
        let mut plan = prepare::plan_query(&state, &definition.sql).await?;
        if let Some(consent) = &self.consent {
            if definition.ignores_consent() {
                tracing::warn!(audience = %definition.name, "audience ignores marketing consent (-- consent: ignore)");
            } else {
                plan = consent
                    .keep_consented(&state, plan, &format!("audience {}", definition.name))
                    .await?;
            }
        }
        let plan = sorted_by_key(plan, &definition.key_column)?;
        let stream = session
            .ctx
            .execute_logical_plan(plan)
            .await?
            .execute_stream()
            .await?;
        let schema = stream.schema();
        let refresh_id = audience.manifest.refresh_id + 1;
        let members_name = format!("members-{refresh_id:06}.parquet");
        let changes_name = format!("changes-{refresh_id:06}.parquet");
        let members_path = audience.dir.file(&members_name);
        let changes_path = audience.dir.file(&changes_name);
        let key_type = schema
            .field(
                schema
                    .index_of(&definition.key_column)
                    .map_err(|e| Error::DataFusion(e.into()))?,
            )
            .data_type()
            .clone();
        let previous = self.previous_members(audience, &session, &key_type).await?;
        // Strictly increasing refresh times even if the clock steps back: a member's
        // `entered_at` then tells which refresh it entered in (exports rely on it).
        let now_us = micros(SystemTime::now()).max(audience.manifest.refreshed_at_us + 1);
        let audience_name = definition.name.clone();
        let key_column = definition.key_column.clone();
        let handle = tokio::runtime::Handle::current();
        let (m, c) = (members_path.clone(), changes_path.clone());
        let diffed = tokio::task::spawn_blocking(move || {
            let mut stream = stream;
            let refresh = Refresh {
                audience: &audience_name,
                key_column: &key_column,
                refresh_id,
                now_us,
            };
            diff(
                &refresh,
                previous,
                &schema,
                || handle.block_on(stream.next()),
                &m,
                &c,
            )
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let (counts, wrote_changes) = match diffed {
            Ok(done) => done,
            Err(e) => {
                let _ = std::fs::remove_file(&members_path);
                let _ = std::fs::remove_file(&changes_path);
                return Err(e.into());
            }
        };
        let mut manifest = audience.manifest.clone();
        let replaced = manifest.previous_members.take();
        manifest.previous_members = manifest.members.replace(members_name);
        manifest.members_sorted_by_key = true;
        manifest.refresh_id = refresh_id;
        manifest.key_column.clone_from(&definition.key_column);
        if wrote_changes {
            manifest.changes.push(changes_name);
        }
        manifest.member_count = counts.members;
        manifest.entered = counts.entered;
        manifest.exited = counts.exited;
        manifest.refreshed_at_us = now_us;
        manifest.duration_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = audience.dir.commit(&manifest) {
            let _ = std::fs::remove_file(&members_path);
            let _ = std::fs::remove_file(&changes_path);
            return Err(io_error("audience manifest", e));
        }
        audience.manifest = manifest;
        if let Some(old) = replaced {
            // Two refreshes old: no query planned on it is still starting.
            audience.dir.remove_unlisted(&audience.manifest, &[old]);
        }
        // The refresh is done; a compaction that fails only leaves more files.
        if let Err(e) = Self::compact_changes(audience).await {
            tracing::warn!(audience = %audience.definition.name, error = %e, "change files not compacted");
        }
        Ok(counts)
    }

    /// Merges the audience's newest change files while [`compaction::due`] says so, each
    /// merge committed by the manifest; then removes the files the compaction before
    /// this one retired.
    async fn compact_changes(audience: &mut Audience) -> Result<(), Error> {
        let mut removable: Option<Vec<String>> = None;
        while let Some((start, level)) = compaction::due(&audience.manifest.changes) {
            let sources = audience.manifest.changes[start..].to_vec();
            let dir = audience.dir.path().to_owned();
            let merged =
                tokio::task::spawn_blocking(move || compaction::merge(&dir, &sources, level))
                    .await
                    .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
            let mut manifest = audience.manifest.clone();
            if removable.is_none() {
                removable = Some(std::mem::take(&mut manifest.retired_changes));
            }
            let retired = manifest.changes.split_off(start);
            manifest.retired_changes.extend(retired);
            manifest.changes.push(merged.clone());
            if let Err(e) = audience.dir.commit(&manifest) {
                let _ = std::fs::remove_file(audience.dir.file(&merged));
                return Err(io_error("audience manifest", e));
            }
            audience.manifest = manifest;
            tracing::debug!(audience = %audience.definition.name, file = %merged, "change files compacted");
        }
        if let Some(removable) = removable {
            audience.dir.remove_unlisted(&audience.manifest, &removable);
        }
        Ok(())
    }

    /// The previous members in the order of this refresh's key: straight from their
    /// file when it was written in that order, else sorted by the engine (older versions
    /// sorted by the key's text; an edited definition may give the key another type).
    async fn previous_members(
        &self,
        audience: &Audience,
        session: &crate::engine::Session,
        key_type: &DataType,
    ) -> Result<Option<PreviousMembers>, Error> {
        let manifest = &audience.manifest;
        let Some(members) = &manifest.members else {
            return Ok(None);
        };
        let path = audience.dir.file(members);
        let key_column = &manifest.key_column;
        let (stored_type, file) = previous_members_file(&path, key_column)?;
        if manifest.members_sorted_by_key && &stored_type == key_type {
            return Ok(Some(file));
        }
        drop(file);
        tracing::info!(audience = %audience.definition.name, file = %path.display(), "previous members sorted again by the key's value");
        let key = Expr::Column(Column::from_name(key_column));
        let stream = session
            .ctx
            .read_parquet(
                path.display().to_string(),
                datafusion::prelude::ParquetReadOptions::default(),
            )
            .await?
            .select(vec![
                cast(key.clone(), key_type.clone()).alias(key_column),
                Expr::Column(Column::from_name(ENTERED_AT)),
            ])?
            .sort(vec![key.sort(true, false)])?
            .execute_stream()
            .await?;
        let handle = tokio::runtime::Handle::current();
        let mut stream = stream;
        Ok(Some(Box::new(std::iter::from_fn(move || {
            handle.block_on(stream.next())
        }))))
    }

    /// Publishes `audience.NAME` and the status row.
    fn publish(&self, audience: &Audience) {
        let name = &audience.definition.name;
        let m = &audience.manifest;
        if let Some(members) = &m.members {
            match crate::lookup::indexed_parquet_file(&audience.dir.file(members), &m.key_column) {
                Ok(table) => {
                    // A version that served point lookups hands its successor an index.
                    let previous = self.engine.audience().current(name);
                    crate::lookup::KeyIndexed::index_like(&table, previous.as_ref());
                    self.engine.audience().publish(name, table, members.clone());
                }
                Err(e) => {
                    tracing::error!(audience = %name, error = %e, "cannot serve the audience's members")
                }
            }
        }
        let refreshed = m.refresh_id > 0;
        let status = AudienceStatus {
            key_column: audience.definition.key_column.clone(),
            definition: audience.definition.path.display().to_string(),
            members: refreshed.then_some(m.member_count),
            entered: refreshed.then_some(m.entered),
            exited: refreshed.then_some(m.exited),
            refresh_id: m.refresh_id,
            refreshed_at: from_micros(m.refreshed_at_us),
            duration_ms: refreshed.then_some(m.duration_ms),
            state: match (&audience.error, refreshed) {
                (None, true) => "ok",
                (None, false) => "pending",
                (Some(_), true) => "stale",
                (Some(_), false) => "error",
            },
            error: audience.error.clone(),
        };
        if let Ok(mut map) = self.view.status.write() {
            map.insert(name.clone(), status);
        }
    }

    fn unpublish(&self, name: &str) {
        self.engine.audience().remove(name);
        if let Ok(mut map) = self.view.status.write() {
            map.remove(name);
        }
    }

    fn publish_changes(&self, audiences: &BTreeMap<String, Audience>) {
        let files = audiences
            .values()
            .flat_map(|a| a.manifest.changes.iter().map(|c| a.dir.file(c)))
            .collect();
        if let Ok(mut list) = self.view.change_files.write() {
            *list = files;
        }
    }
}

/// An audience held at its last completed refresh (no refresh, create or drop runs
/// while this lives): what an export reads.
pub struct Pinned<'a> {
    _audiences: tokio::sync::MutexGuard<'a, BTreeMap<String, Audience>>,
    pub refresh_id: i64,
    pub key_column: String,
    /// When that refresh ran: the `entered_at` of the members who entered in it.
    pub refreshed_at_us: i64,
}

impl std::fmt::Debug for Pinned<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned")
            .field("refresh_id", &self.refresh_id)
            .field("key_column", &self.key_column)
            .finish()
    }
}

impl Audiences {
    /// Holds audience `name` at its last completed refresh.
    ///
    /// # Errors
    /// No such audience (42704), or it was never refreshed (55000).
    pub async fn pin(&self, name: &str) -> Result<Pinned<'_>, Error> {
        let audiences = self.audiences.lock().await;
        let audience = audiences.get(name).ok_or_else(|| undefined(name))?;
        if audience.manifest.refresh_id == 0 {
            return Err(Error::NotReady(format!(
                "audience {name} has no completed refresh yet{}",
                audience
                    .error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            )));
        }
        let (refresh_id, key_column, refreshed_at_us) = (
            audience.manifest.refresh_id,
            audience.manifest.key_column.clone(),
            audience.manifest.refreshed_at_us,
        );
        Ok(Pinned {
            _audiences: audiences,
            refresh_id,
            key_column,
            refreshed_at_us,
        })
    }
}

fn undefined(name: &str) -> Error {
    Error::Undefined {
        what: "audience",
        name: name.to_owned(),
    }
}

/// The audience query sorted by its key.
fn sorted_by_key(plan: LogicalPlan, key_column: &str) -> Result<LogicalPlan, Error> {
    let schema = Arc::clone(plan.schema());
    if schema.has_column_with_unqualified_name(ENTERED_AT) {
        return Err(Error::InvalidName {
            what: "audience column",
            name: ENTERED_AT.to_owned(),
            rule: "datapunk adds this column to every audience",
        });
    }
    let (qualifier, field) = schema
        .qualified_field_with_unqualified_name(key_column)
        .map_err(|_| Error::UndefinedColumn {
            column: key_column.to_owned(),
            hint: "an audience query returns its key column (name another with a \
                   `-- key: column` line)"
                .to_owned(),
        })?;
    let key = Expr::Column(Column::from((qualifier, field)));
    Ok(LogicalPlanBuilder::from(plan)
        .sort(vec![key.sort(true, false)])?
        .build()?)
}

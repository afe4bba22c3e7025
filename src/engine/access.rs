//! Who a session reads as ([`Viewer`]) and the hook that decides, for every table a
//! session looks up, what that viewer gets ([`TableGuard`]): the table, a narrowed
//! version of it (rows filtered, columns masked), or a refusal. The connection catalog
//! asks it on each lookup, so no SQL reaches a table around it; `crate::privacy`
//! implements it.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

use datafusion::catalog::TableProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ScalarUDF;

/// Schemas every viewer may read: the catalogs and datapunk's status tables.
const ALWAYS_READABLE: &[&str] = &["pg_catalog", "information_schema", "datapunk", "public"];

/// Who runs a session's queries, as far as it changes what they may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user: String,
    /// Reads everything, sees masked columns in clear.
    pub admin: bool,
    /// Sees masked columns in clear.
    pub pii: bool,
    /// The schemas it may read besides [`ALWAYS_READABLE`]; `None` = all.
    pub schemas: Option<Vec<String>>,
}

impl Viewer {
    /// datapunk itself: warehouse scripts, audiences, exports.
    pub fn internal() -> Self {
        Self {
            user: "datapunk".to_owned(),
            admin: true,
            pii: true,
            schemas: None,
        }
    }

    /// A connection not logged in yet: reads nothing but the catalogs.
    pub fn nobody() -> Self {
        Self {
            user: String::new(),
            admin: false,
            pii: false,
            schemas: Some(Vec::new()),
        }
    }

    /// Whether it may read the tables of `schema`.
    pub fn may_read_schema(&self, schema: &str) -> bool {
        self.admin
            || ALWAYS_READABLE.contains(&schema)
            || self
                .schemas
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == schema))
    }

    /// Whether it sees masked columns in clear.
    pub fn sees_pii(&self) -> bool {
        self.admin || self.pii
    }

    /// A key naming what this viewer may see, for results shared between sessions.
    pub fn permissions_key(&self) -> String {
        if self.admin {
            return "admin".to_owned();
        }
        format!("pii={} schemas={:?}", self.pii, self.schemas)
    }
}

/// The viewer of one session, set once its user has logged in.
#[derive(Debug, Clone)]
pub struct ViewerHandle(Arc<RwLock<Viewer>>);

impl ViewerHandle {
    pub fn new(viewer: Viewer) -> Self {
        Self(Arc::new(RwLock::new(viewer)))
    }

    pub fn get(&self) -> Viewer {
        self.0
            .read()
            .map(|v| v.clone())
            .unwrap_or_else(|_| Viewer::nobody())
    }

    pub fn set(&self, viewer: Viewer) {
        if let Ok(mut v) = self.0.write() {
            *v = viewer;
        }
    }
}

/// Decides what a viewer gets of a table.
pub trait TableGuard: Debug + Send + Sync {
    /// `table` (`schema.name`) as `viewer` may read it.
    ///
    /// # Errors
    /// The viewer may not read it (42501).
    fn guard(
        &self,
        viewer: &Viewer,
        schema: &str,
        name: &str,
        table: Arc<dyn TableProvider>,
    ) -> Result<Arc<dyn TableProvider>>;

    /// Functions each session gets, bound to its viewer (`datapunk_forget`).
    fn session_functions(self: Arc<Self>, viewer: &ViewerHandle) -> Vec<ScalarUDF> {
        let _ = viewer;
        Vec::new()
    }
}

/// Who may read a table of schema `datapunk` (its status tables are for everyone unless
/// their rows say more than the tables they describe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    Everyone,
    Admins,
    /// Those who may read this schema: the rows come from its tables.
    ReadersOf(&'static str),
}

impl Readers {
    fn admit(self, viewer: &Viewer) -> bool {
        match self {
            Readers::Everyone => true,
            Readers::Admins => viewer.admin,
            Readers::ReadersOf(schema) => viewer.may_read_schema(schema),
        }
    }
}

/// The guard every session of an engine consults (none installed = tables as they
/// are), and who may read each system table.
#[derive(Debug, Clone, Default)]
pub struct GuardSlot {
    guard: Arc<RwLock<Option<Arc<dyn TableGuard>>>>,
    system_readers: Arc<RwLock<HashMap<String, Readers>>>,
}

impl GuardSlot {
    pub fn install(&self, guard: Arc<dyn TableGuard>) {
        if let Ok(mut g) = self.guard.write() {
            *g = Some(guard);
        }
    }

    /// Lets only `readers` read system table `name`.
    pub fn restrict_system_table(&self, name: &str, readers: Readers) {
        if let Ok(mut r) = self.system_readers.write() {
            r.insert(name.to_owned(), readers);
        }
    }

    /// Whether `viewer` may read `schema.name` (listings show only such tables).
    pub fn may_read(&self, viewer: &Viewer, schema: &str, name: &str) -> bool {
        viewer.may_read_schema(schema)
            && (schema != super::SYSTEM_SCHEMA
                || self
                    .system_readers
                    .read()
                    .ok()
                    .and_then(|r| r.get(name).copied())
                    .unwrap_or(Readers::Everyone)
                    .admit(viewer))
    }

    /// The installed guard's functions for a session of `viewer`.
    pub fn session_functions(&self, viewer: &ViewerHandle) -> Vec<ScalarUDF> {
        let guard = self.guard.read().ok().and_then(|g| g.clone());
        guard
            .map(|g| g.session_functions(viewer))
            .unwrap_or_default()
    }

    /// `table` through the installed guard, after the schema and table checks.
    pub fn apply(
        &self,
        viewer: &Viewer,
        schema: &str,
        name: &str,
        table: Arc<dyn TableProvider>,
    ) -> Result<Arc<dyn TableProvider>> {
        if !viewer.may_read_schema(schema) {
            return Err(denied(&format!("schema {schema}")));
        }
        // A version of a table is read as the table is.
        let name = super::catalog::unversioned(name);
        if !self.may_read(viewer, schema, name) {
            return Err(denied(&format!("table {schema}.{name}")));
        }
        let guard = self.guard.read().ok().and_then(|g| g.clone());
        match guard {
            Some(g) => g.guard(viewer, schema, name, table),
            None => Ok(table),
        }
    }
}

/// The 42501 error for `what` (`table lake.customers`, `schema lake`).
pub fn denied(what: &str) -> DataFusionError {
    DataFusionError::External(Box::new(crate::error::Error::PermissionDenied {
        what: what.to_owned(),
    }))
}

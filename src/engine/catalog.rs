//! Per-connection view of the shared catalog: everything is shared except schema
//! `public`, which resolves unqualified names through the connection's `search_path`,
//! and every table lookup goes through the engine's [`GuardSlot`] for the connection's
//! [`Viewer`] (schemas it may not read are refused with 42501 and not listed).
//!
//! A `SET search_path` in one connection never changes another. `public` lists no tables
//! itself (so catalog listings do not show every table twice); it only resolves names.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, CatalogProviderList, SchemaProvider, TableProvider};
use datafusion::error::Result;

use super::access::{denied, GuardSlot, ViewerHandle};

/// The schema name whose lookups follow the search path.
pub const SEARCH_PATH_SCHEMA: &str = "public";

/// The connection's search path, shared by its catalog wrapper and its SET handler.
#[derive(Debug, Clone)]
pub struct SearchPath(Arc<RwLock<Vec<String>>>);

impl SearchPath {
    pub fn new(schemas: Vec<String>) -> Self {
        Self(Arc::new(RwLock::new(schemas)))
    }

    pub fn get(&self) -> Vec<String> {
        self.0.read().map(|p| p.clone()).unwrap_or_default()
    }

    pub fn set(&self, schemas: Vec<String>) {
        if let Ok(mut p) = self.0.write() {
            *p = schemas;
        }
    }

    /// PostgreSQL's display form: `warehouse, lake`.
    pub fn display(&self) -> String {
        self.get().join(", ")
    }
}

/// The shared catalog list with the database catalog replaced by a [`ConnectionCatalog`].
#[derive(Debug)]
pub struct ConnectionCatalogList {
    shared: Arc<dyn CatalogProviderList>,
    database: String,
    catalog: Arc<ConnectionCatalog>,
}

/// What a connection's lookups are checked against.
#[derive(Debug, Clone)]
pub struct Access {
    pub viewer: ViewerHandle,
    pub guards: GuardSlot,
}

impl Access {
    /// `inner`'s table `name` of `schema` as the viewer may read it.
    async fn table(
        &self,
        inner: &dyn SchemaProvider,
        schema: &str,
        name: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        let viewer = self.viewer.get();
        if let Some((table, _)) = versioned(name) {
            // Checked before an earlier version is looked for and loaded.
            if inner.table_exist(table) && !self.guards.may_read(&viewer, schema, table) {
                return Err(super::access::denied(&format!("table {schema}.{table}")));
            }
        }
        match inner.table(name).await? {
            Some(table) => self.guards.apply(&viewer, schema, name, table).map(Some),
            None => Ok(None),
        }
    }
}

impl ConnectionCatalogList {
    pub fn new(
        shared: Arc<dyn CatalogProviderList>,
        database: &str,
        search_path: SearchPath,
        access: Access,
    ) -> Option<Self> {
        let inner = shared.catalog(database)?;
        Some(Self {
            catalog: Arc::new(ConnectionCatalog {
                public: Arc::new(SearchPathSchema {
                    catalog: Arc::clone(&inner),
                    path: search_path,
                    access: access.clone(),
                }),
                inner,
                access,
            }),
            shared,
            database: database.to_owned(),
        })
    }
}

impl CatalogProviderList for ConnectionCatalogList {
    fn register_catalog(
        &self,
        name: String,
        catalog: Arc<dyn CatalogProvider>,
    ) -> Option<Arc<dyn CatalogProvider>> {
        self.shared.register_catalog(name, catalog)
    }

    fn catalog_names(&self) -> Vec<String> {
        self.shared.catalog_names()
    }

    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        if name == self.database {
            Some(Arc::clone(&self.catalog) as Arc<dyn CatalogProvider>)
        } else {
            self.shared.catalog(name)
        }
    }
}

/// The database catalog of one connection.
#[derive(Debug)]
struct ConnectionCatalog {
    inner: Arc<dyn CatalogProvider>,
    public: Arc<SearchPathSchema>,
    access: Access,
}

impl CatalogProvider for ConnectionCatalog {
    fn schema_names(&self) -> Vec<String> {
        let viewer = self.access.viewer.get();
        let mut names = self.inner.schema_names();
        names.retain(|s| viewer.may_read_schema(s));
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == SEARCH_PATH_SCHEMA {
            Some(Arc::clone(&self.public) as Arc<dyn SchemaProvider>)
        } else {
            let inner = self.inner.schema(name)?;
            Some(Arc::new(GuardedSchema {
                inner,
                name: name.to_owned(),
                access: self.access.clone(),
            }))
        }
    }
}

/// A shared schema as one connection's viewer may read it.
#[derive(Debug)]
struct GuardedSchema {
    inner: Arc<dyn SchemaProvider>,
    name: String,
    access: Access,
}

#[async_trait]
impl SchemaProvider for GuardedSchema {
    fn table_names(&self) -> Vec<String> {
        let viewer = self.access.viewer.get();
        let mut names = self.inner.table_names();
        names.retain(|n| self.access.guards.may_read(&viewer, &self.name, n));
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        self.access
            .table(self.inner.as_ref(), &self.name, name)
            .await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// Resolves a table name in the first schema of the search path that has it.
#[derive(Debug)]
struct SearchPathSchema {
    catalog: Arc<dyn CatalogProvider>,
    path: SearchPath,
    access: Access,
}

impl SearchPathSchema {
    /// The schemas to look `name` up in: the search path, with `pg_catalog` first when
    /// the path does not name it, as PostgreSQL searches it implicitly (only for `pg_*`
    /// names: no other name is in it, and lake tables need not pay for the lookup).
    fn schemas_for(&self, name: &str) -> Vec<String> {
        let mut path = self.path.get();
        if name.starts_with("pg_") && !path.iter().any(|s| s == "pg_catalog") {
            path.insert(0, "pg_catalog".to_owned());
        }
        path
    }
}

#[async_trait]
impl SchemaProvider for SearchPathSchema {
    fn table_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// The first readable schema of the path that has `name`; 42501 when only schemas
    /// the viewer may not read have it.
    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let viewer = self.access.viewer.get();
        let mut forbidden = None;
        for schema in self.schemas_for(name) {
            if schema == SEARCH_PATH_SCHEMA {
                continue;
            }
            let Some(s) = self.catalog.schema(&schema) else {
                continue;
            };
            if !viewer.may_read_schema(&schema) {
                if forbidden.is_none() && s.table_exist(name) {
                    forbidden = Some(schema);
                }
                continue;
            }
            if let Some(t) = self.access.table(s.as_ref(), &schema, name).await? {
                return Ok(Some(t));
            }
        }
        match forbidden {
            Some(schema) => Err(denied(&format!("schema {schema}"))),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.schemas_for(name).iter().any(|schema| {
            schema != SEARCH_PATH_SCHEMA
                && self
                    .catalog
                    .schema(schema)
                    .is_some_and(|s| s.table_exist(name))
        })
    }
}

/// A schema whose tables are replaced atomically: a query sees either the old or the new
/// version of a table, never a gap. Each version is immutable and carries a tag naming
/// it (the lake: its files; the warehouse and audiences: the file it was written to), so
/// what was built from it can tell whether it is still current. Used for `lake`,
/// `warehouse` and `audience`.
#[derive(Debug, Default)]
pub struct SwapSchema {
    tables: RwLock<std::collections::BTreeMap<String, Version>>,
    /// Earlier versions of its tables, where it keeps them (the lake's Delta and Iceberg
    /// tables): `name@version` names one.
    history: std::sync::OnceLock<Arc<dyn TableHistory>>,
}

/// What separates a table's name from the version a query asks for (`accounts@3`,
/// `accounts@2026-12-01 10:00:00`); the names datapunk gives tables never hold it.
const VERSION_MARK: char = '@';

/// The table a name is a version of, and the version: `("accounts", "3")`.
pub fn versioned(name: &str) -> Option<(&str, &str)> {
    name.split_once(VERSION_MARK)
}

/// The table a name is, or is a version of.
pub fn unversioned(name: &str) -> &str {
    versioned(name).map_or(name, |(table, _)| table)
}

/// Earlier versions of a schema's tables.
#[async_trait]
pub trait TableHistory: std::fmt::Debug + Send + Sync {
    /// Table `name` at version `at` (as the query wrote it); `None` when there is no
    /// such table.
    ///
    /// # Errors
    /// The table has no such version, or it cannot be read.
    async fn table_at(&self, name: &str, at: &str) -> Result<Option<Arc<dyn TableProvider>>>;
}

#[derive(Debug, Clone)]
struct Version {
    table: Arc<dyn TableProvider>,
    tag: String,
}

impl SwapSchema {
    /// Publishes a version of a table, replacing any previous one.
    pub fn publish(&self, name: &str, table: Arc<dyn TableProvider>, tag: String) {
        if let Ok(mut t) = self.tables.write() {
            t.insert(name.to_owned(), Version { table, tag });
        }
    }

    /// The current version of a table.
    pub fn current(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        self.tables
            .read()
            .ok()
            .and_then(|t| t.get(name).map(|v| Arc::clone(&v.table)))
    }

    /// The name and tag of `table` when it is the current version of one of these.
    pub fn find(&self, table: &Arc<dyn TableProvider>) -> Option<(String, String)> {
        let tables = self.tables.read().ok()?;
        tables
            .iter()
            .find(|(_, v)| Arc::ptr_eq(&v.table, table))
            .map(|(name, v)| (name.clone(), v.tag.clone()))
    }

    /// Serves earlier versions of its tables from `history` (once; later calls are
    /// ignored).
    pub fn keep_history(&self, history: Arc<dyn TableHistory>) {
        let _ = self.history.set(history);
    }

    /// Removes a table; returns whether it existed.
    pub fn remove(&self, name: &str) -> bool {
        self.tables
            .write()
            .map(|mut t| t.remove(name).is_some())
            .unwrap_or(false)
    }
}

#[async_trait]
impl SchemaProvider for SwapSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables
            .read()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match (versioned(name), self.history.get()) {
            (Some((table, at)), Some(history)) if self.table_exist(table) => {
                history.table_at(table, at).await
            }
            // Not another schema's version of the same name further down the path.
            (Some((table, _)), None) if self.table_exist(table) => {
                Err(crate::error::invalid_argument(
                    "time travel",
                    format!(
                        "{table} has no earlier versions (the lake's Delta and Iceberg tables do)"
                    ),
                ))
            }
            (Some(_), _) => Ok(None),
            (None, _) => Ok(self.current(name)),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables
            .read()
            .is_ok_and(|t| t.contains_key(unversioned(name)))
    }
}

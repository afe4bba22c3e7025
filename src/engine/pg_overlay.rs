//! Fills gaps in datafusion-pg-catalog that psql and tools trip over: columns PostgreSQL
//! has and its tables lack (`pg_class.reloptions` for `\d+`), and the configured users
//! as roles (`\du`, `pg_roles`).
//!
//! Everything else is delegated to datafusion-pg-catalog unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::error::Result;
use datafusion::logical_expr::{col, lit, Expr, LogicalPlanBuilder};
use datafusion::scalar::ScalarValue;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::{
    PgCatalogContextProvider, Role,
};

/// A column PostgreSQL has that datafusion-pg-catalog lacks; its values are NULL.
struct MissingColumn {
    table: &'static str,
    column: &'static str,
    data_type: fn() -> DataType,
}

const MISSING_COLUMNS: &[MissingColumn] = &[MissingColumn {
    table: "pg_class",
    column: "reloptions",
    data_type: || DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
}];

/// `pg_catalog` with [`MISSING_COLUMNS`] added.
#[derive(Debug)]
pub struct PgCatalogOverlay {
    inner: Arc<dyn SchemaProvider>,
}

impl PgCatalogOverlay {
    pub fn new(inner: Arc<dyn SchemaProvider>) -> Self {
        Self { inner }
    }
}

fn with_columns(
    name: &str,
    table: Arc<dyn TableProvider>,
    extra: &[(&str, DataType)],
) -> Result<Arc<dyn TableProvider>> {
    let mut exprs: Vec<Expr> = table
        .schema()
        .fields()
        .iter()
        .map(|f| col(format!("\"{}\"", f.name())))
        .collect();
    for (column, ty) in extra {
        exprs.push(lit(ScalarValue::try_from(ty)?).alias(*column));
    }
    let plan = LogicalPlanBuilder::scan(name, provider_as_source(table), None)?
        .project(exprs)?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

#[async_trait]
impl SchemaProvider for PgCatalogOverlay {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(table) = self.inner.table(name).await? else {
            return Ok(None);
        };
        let extra: Vec<(&str, DataType)> = MISSING_COLUMNS
            .iter()
            .filter(|m| m.table == name && table.schema().field_with_name(m.column).is_err())
            .map(|m| (m.column, (m.data_type)()))
            .collect();
        if extra.is_empty() {
            Ok(Some(table))
        } else {
            with_columns(name, table, &extra).map(Some)
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// The configured users as PostgreSQL roles.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    /// name → may administer (shown as superuser).
    users: Arc<HashMap<String, bool>>,
}

impl Roles {
    pub fn new(users: impl IntoIterator<Item = (String, bool)>) -> Self {
        Self {
            users: Arc::new(users.into_iter().collect()),
        }
    }
}

#[async_trait]
impl PgCatalogContextProvider for Roles {
    async fn roles(&self) -> Vec<String> {
        let mut names: Vec<String> = self.users.keys().cloned().collect();
        names.sort();
        names
    }

    async fn role(&self, name: &str) -> Option<Role> {
        let admin = *self.users.get(name)?;
        Some(Role {
            name: name.to_owned(),
            is_superuser: admin,
            can_login: true,
            can_create_db: false,
            can_create_role: false,
            can_create_user: false,
            can_replication: false,
            grants: Vec::new(),
            inherited_roles: Vec::new(),
        })
    }
}

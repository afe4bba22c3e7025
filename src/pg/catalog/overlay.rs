//! Fills gaps in datafusion-pg-catalog that psql and tools trip over: columns PostgreSQL
//! has and its tables lack (`pg_class.reloptions` for `\d+`), the type modifier of
//! numeric columns (`pg_attribute.atttypmod`, so `\d` shows `numeric(10,2)`), and the
//! configured users and the owner `postgres` as roles with distinct oids (`\du`, `pg_roles`), and the int2vector/oidvector/aclitem[] columns
//! (`pg_index.indkey`, `pg_constraint.conkey`, `pg_proc.proargtypes`, ...) as lists, so
//! the drivers' `= ANY(indkey)`, `conkey[n]` and `unnest(indkey)` plan.
//!
//! The views it lacks altogether are in [`super::extra`]; everything else is
//! delegated to datafusion-pg-catalog unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use async_trait::async_trait;

use crate::pg::catalog::computed_view::{ComputedRows, ComputedView};
use crate::pg::types;
use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::error::{DataFusionError, Result};
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

const MISSING_COLUMNS: &[MissingColumn] = &[
    MissingColumn {
        table: "pg_class",
        column: "reloptions",
        data_type: text_list,
    },
    // Access privileges (psql `\dp`): NULL, the owner's default privileges.
    MissingColumn {
        table: "pg_class",
        column: "relacl",
        data_type: text_list,
    },
    // The domain a constraint belongs to (psql `\dD`, SQLAlchemy's `get_domains`).
    MissingColumn {
        table: "pg_constraint",
        column: "contypid",
        data_type: || DataType::Int32,
    },
];

fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// Columns PostgreSQL types as int2vector/oidvector/arrays that the catalog export holds
/// as text (`1 2`, `[1, 2]`); exposed as lists of the element type.
const VECTOR_COLUMNS: &[(&str, &str, DataType)] = &[
    ("pg_index", "indkey", DataType::Int16),
    ("pg_index", "indcollation", DataType::Int32),
    ("pg_index", "indclass", DataType::Int32),
    ("pg_index", "indoption", DataType::Int16),
    ("pg_constraint", "conkey", DataType::Int16),
    ("pg_constraint", "confkey", DataType::Int16),
    ("pg_constraint", "conpfeqop", DataType::Int32),
    ("pg_constraint", "conppeqop", DataType::Int32),
    ("pg_constraint", "conffeqop", DataType::Int32),
    ("pg_constraint", "conexclop", DataType::Int32),
    ("pg_proc", "proargtypes", DataType::Int32),
    ("pg_proc", "proacl", DataType::Utf8),
    ("pg_namespace", "nspacl", DataType::Utf8),
    ("pg_attribute", "attacl", DataType::Utf8),
    ("pg_type", "typacl", DataType::Utf8),
    ("pg_policy", "polroles", DataType::Int32),
];

/// The integers in a vector's text form (`1 2`, `[1, 2]`, `{1,2}`).
fn parse_vector(text: &str) -> Vec<i64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// A catalog table with its [`VECTOR_COLUMNS`] turned from text into lists.
#[derive(Debug)]
struct VectorColumns {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
}

impl VectorColumns {
    /// `None` when `name` has no text vector columns.
    fn wrap(name: &str, inner: Arc<dyn TableProvider>) -> Option<Self> {
        let source = inner.schema();
        let mut changed = false;
        let fields: Vec<Field> = source
            .fields()
            .iter()
            .map(|f| {
                let element = VECTOR_COLUMNS
                    .iter()
                    .find(|(t, c, _)| *t == name && c == f.name())
                    .map(|(_, _, e)| e.clone());
                match element {
                    Some(e) if f.data_type() == &DataType::Utf8 => {
                        changed = true;
                        Field::new(
                            f.name(),
                            DataType::List(Arc::new(Field::new_list_field(e, true))),
                            true,
                        )
                    }
                    _ => f.as_ref().clone(),
                }
            })
            .collect();
        changed.then(|| Self {
            inner,
            schema: Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        })
    }

    fn convert(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        use datafusion::arrow::array::{Int64Builder, ListBuilder, StringBuilder};
        let columns = batch
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(column, field)| {
                let DataType::List(element) = field.data_type() else {
                    return Ok(Arc::clone(column));
                };
                if column.data_type() != &DataType::Utf8 {
                    return Ok(Arc::clone(column));
                }
                if element.data_type() == &DataType::Utf8 {
                    let mut lists = ListBuilder::new(StringBuilder::new());
                    for value in column.as_string::<i32>() {
                        match value {
                            Some(text) => {
                                for item in text
                                    .trim_matches(|c| c == '{' || c == '}')
                                    .split(',')
                                    .filter(|i| !i.is_empty())
                                {
                                    lists.values().append_value(item.trim_matches('"'));
                                }
                                lists.append(true);
                            }
                            None => lists.append(false),
                        }
                    }
                    return Ok(Arc::new(lists.finish()) as ArrayRef);
                }
                let mut lists = ListBuilder::new(Int64Builder::new());
                for value in column.as_string::<i32>() {
                    match value {
                        Some(text) => {
                            lists.values().append_slice(&parse_vector(text));
                            lists.append(true);
                        }
                        None => lists.append(false),
                    }
                }
                let list: ArrayRef = Arc::new(lists.finish());
                Ok(cast(&list, &DataType::List(Arc::clone(element)))?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[async_trait]
impl ComputedRows for VectorColumns {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    async fn rows(&self, state: &dyn Session) -> Result<Vec<RecordBatch>> {
        collect(&self.inner, state)
            .await?
            .iter()
            .map(|b| self.convert(b))
            .collect()
    }
}

/// `pg_proc` with a row per documented datapunk function ([`crate::pg::function_doc::documented`]) in
/// schema `public`, so psql's `\df` and `\df+` list them (the signature and description
/// come from `pg_get_function_arguments/result` and `obj_description`).
#[derive(Debug)]
struct WithDatapunkFunctions {
    inner: Arc<dyn TableProvider>,
    pg_namespace: Arc<dyn TableProvider>,
}

impl WithDatapunkFunctions {
    async fn public_oid(&self, state: &dyn Session) -> Result<Option<i64>> {
        for b in collect(&self.pg_namespace, state).await? {
            for (oid, name) in column_i64(&b, "oid")?
                .into_iter()
                .zip(column_text(&b, "nspname")?)
            {
                if name.as_deref() == Some("public") {
                    return Ok(oid);
                }
            }
        }
        Ok(None)
    }

    /// One row per function, by column name; columns not named here are NULL.
    fn rows(&self, public: Option<i64>) -> Result<RecordBatch> {
        use crate::pg::function_doc::Kind;
        let schema = self.inner.schema();
        let functions: Vec<(i64, &crate::pg::function_doc::FunctionDoc)> =
            crate::pg::function_doc::with_oids().collect();
        let columns = schema
            .fields()
            .iter()
            .map(|field| {
                let values = functions
                    .iter()
                    .map(|(oid, doc)| {
                        let int = |v: i64| ScalarValue::Int64(Some(v));
                        let text = |v: &str| ScalarValue::Utf8(Some(v.to_owned()));
                        let value = match field.name().as_str() {
                            "oid" => int(*oid),
                            "proname" | "prosrc" => text(doc.name),
                            "pronamespace" => ScalarValue::Int64(public),
                            "proowner" => int(10),
                            "prolang" => int(12),
                            "procost" => ScalarValue::Float64(Some(1.0)),
                            "prorows" => ScalarValue::Float64(Some(if doc.kind == Kind::Table {
                                1000.0
                            } else {
                                0.0
                            })),
                            "provariadic" | "prorettype" => int(0),
                            "prokind" => text(doc.kind.prokind()),
                            "prosecdef" | "proleakproof" | "proisstrict" => {
                                ScalarValue::Boolean(Some(false))
                            }
                            "proretset" => ScalarValue::Boolean(Some(doc.kind == Kind::Table)),
                            "provolatile" => text("i"),
                            "proparallel" => text("s"),
                            "pronargs" => int(doc.params.len() as i64),
                            "pronargdefaults" => {
                                int(doc.params.iter().filter(|p| p.default.is_some()).count()
                                    as i64)
                            }
                            _ => ScalarValue::Null,
                        };
                        if value.is_null() && !field.is_nullable() {
                            // PostgreSQL's "none" for a regproc, zero or empty otherwise.
                            match field.data_type() {
                                DataType::Utf8 => Ok(text("-")),
                                other => ScalarValue::new_default(other),
                            }
                        } else if value.is_null() {
                            ScalarValue::try_from(field.data_type())
                        } else {
                            value.cast_to(field.data_type())
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                if values.is_empty() {
                    return Ok(datafusion::arrow::array::new_empty_array(field.data_type()));
                }
                ScalarValue::iter_to_array(values)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

#[async_trait]
impl ComputedRows for WithDatapunkFunctions {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    async fn rows(&self, state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let mut batches = collect(&self.inner, state).await?;
        batches.push(self.rows(self.public_oid(state).await?)?);
        Ok(batches)
    }
}

/// `pg_catalog` with [`MISSING_COLUMNS`] added and numeric typmods filled in.
#[derive(Debug)]
pub struct PgCatalogOverlay {
    inner: Arc<dyn SchemaProvider>,
    /// The database catalog, to look up column types (weak: it holds this schema).
    catalog: Weak<dyn CatalogProvider>,
}

impl PgCatalogOverlay {
    pub fn new(inner: Arc<dyn SchemaProvider>, catalog: Weak<dyn CatalogProvider>) -> Self {
        Self { inner, catalog }
    }
}

/// `pg_attribute` with `atttypid` and `atttypmod` of lake and warehouse columns from
/// [`crate::pg::types`], the mapping result columns use (uuid, json, numeric(p,s), n-D arrays).
#[derive(Debug)]
struct TypmodAttributes {
    inner: Arc<dyn TableProvider>,
    pg_class: Arc<dyn TableProvider>,
    pg_namespace: Arc<dyn TableProvider>,
    catalog: Weak<dyn CatalogProvider>,
}

/// Every row of a catalog table.
pub(super) async fn collect(
    table: &Arc<dyn TableProvider>,
    state: &dyn Session,
) -> Result<Vec<RecordBatch>> {
    let plan = table.scan(state, None, &[], None).await?;
    datafusion::physical_plan::collect(plan, state.task_ctx()).await
}

/// A catalog column as integers.
pub(super) fn column_i64(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("pg_catalog column {name} missing")))?;
    let array = cast(array, &DataType::Int64)?;
    Ok(array.as_primitive::<Int64Type>().iter().collect())
}

/// A catalog column as text.
pub(super) fn column_text(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("pg_catalog column {name} missing")))?;
    let array = cast(array, &DataType::Utf8)?;
    Ok(array
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect())
}

impl TypmodAttributes {
    /// (schema, table) of every relation OID.
    async fn relations(&self, state: &dyn Session) -> Result<HashMap<i64, (String, String)>> {
        let mut namespaces = HashMap::new();
        for b in collect(&self.pg_namespace, state).await? {
            for (oid, name) in column_i64(&b, "oid")?
                .into_iter()
                .zip(column_text(&b, "nspname")?)
            {
                if let (Some(oid), Some(name)) = (oid, name) {
                    namespaces.insert(oid, name);
                }
            }
        }
        let mut relations = HashMap::new();
        for b in collect(&self.pg_class, state).await? {
            let oids = column_i64(&b, "oid")?;
            let names = column_text(&b, "relname")?;
            let nsps = column_i64(&b, "relnamespace")?;
            for ((oid, name), nsp) in oids.into_iter().zip(names).zip(nsps) {
                if let (Some(oid), Some(name), Some(schema)) =
                    (oid, name, nsp.and_then(|n| namespaces.get(&n)))
                {
                    relations.insert(oid, (schema.clone(), name));
                }
            }
        }
        Ok(relations)
    }

    async fn patch(
        &self,
        batch: RecordBatch,
        relations: &HashMap<i64, (String, String)>,
    ) -> Result<RecordBatch> {
        let Some(catalog) = self.catalog.upgrade() else {
            return Ok(batch);
        };
        let schema = batch.schema();
        let (Ok(type_index), Ok(typmod_index)) =
            (schema.index_of("atttypid"), schema.index_of("atttypmod"))
        else {
            return Ok(batch);
        };
        let relids = column_i64(&batch, "attrelid")?;
        let names = column_text(&batch, "attname")?;
        let mut types = column_i64(&batch, "atttypid")?;
        let mut typmods = column_i64(&batch, "atttypmod")?;
        let mut tables: HashMap<i64, Option<SchemaRef>> = HashMap::new();
        for row in 0..batch.num_rows() {
            let (Some(relid), Some(column)) = (relids[row], &names[row]) else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(entry) = tables.entry(relid) {
                let table = match relations.get(&relid) {
                    Some((schema, table))
                        if schema != "pg_catalog" && schema != "information_schema" =>
                    {
                        match catalog.schema(schema) {
                            Some(s) => s.table(table).await?.map(|t| t.schema()),
                            None => None,
                        }
                    }
                    _ => None,
                };
                entry.insert(table);
            }
            let Some(field) = tables[&relid]
                .as_ref()
                .and_then(|t| t.field_with_name(column).ok())
            else {
                continue;
            };
            if let Ok(t) = types::pg_type(&Arc::new(field.clone())) {
                types[row] = Some(i64::from(t.oid()));
            }
            typmods[row] = Some(i64::from(types::typmod(field.data_type()).unwrap_or(-1)));
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (index, values) in [(type_index, types), (typmod_index, typmods)] {
            let array: ArrayRef = Arc::new(Int64Array::from(values));
            columns[index] = cast(&array, schema.field(index).data_type())?;
        }
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

#[async_trait]
impl ComputedRows for TypmodAttributes {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    async fn rows(&self, state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let relations = self.relations(state).await?;
        let mut batches = Vec::new();
        for b in collect(&self.inner, state).await? {
            batches.push(self.patch(b, &relations).await?);
        }
        Ok(batches)
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
        let mut names = self.inner.table_names();
        names.extend(super::extra::NAMES.iter().map(|n| (*n).to_owned()));
        names.sort();
        names.dedup();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        // Ours first: `pg_settings` replaces datafusion-pg-catalog's.
        if let Some(extra) = super::extra::table(name) {
            return Ok(Some(extra));
        }
        let Some(table) = self.inner.table(name).await? else {
            return Ok(None);
        };
        let mut table: Arc<dyn TableProvider> = match VectorColumns::wrap(name, Arc::clone(&table))
        {
            Some(wrapped) => Arc::new(ComputedView(wrapped)),
            None => table,
        };
        if name == "pg_attribute" {
            if let (Some(pg_class), Some(pg_namespace)) = (
                self.inner.table("pg_class").await?,
                self.inner.table("pg_namespace").await?,
            ) {
                table = Arc::new(ComputedView(TypmodAttributes {
                    inner: table,
                    pg_class,
                    pg_namespace,
                    catalog: Weak::clone(&self.catalog),
                }));
            }
        }
        if name == "pg_roles" {
            table = Arc::new(ComputedView(RoleOids { inner: table }));
        }
        if name == "pg_proc" {
            if let Some(pg_namespace) = self.inner.table("pg_namespace").await? {
                table = Arc::new(ComputedView(WithDatapunkFunctions {
                    inner: table,
                    pg_namespace,
                }));
            }
        }
        let extra: Vec<(&str, DataType)> = MISSING_COLUMNS
            .iter()
            .filter(|m| m.table == name && table.schema().field_with_name(m.column).is_err())
            .map(|m| (m.column, (m.data_type)()))
            .collect();
        if !extra.is_empty() {
            table = with_columns(name, table, &extra)?;
        }
        // Only pg_class and pg_attribute rows name their schema through another table.
        let (pg_namespace, pg_class) = if matches!(name, "pg_class" | "pg_attribute") {
            (
                self.inner.table("pg_namespace").await?,
                self.inner.table("pg_class").await?,
            )
        } else {
            (None, None)
        };
        Ok(Some(super::visible::hide_in_pg_catalog(
            name,
            table,
            pg_namespace,
            pg_class,
        )))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name) || super::extra::NAMES.contains(&name)
    }
}

/// The role that owns every object (`pg_class.relowner` and the other owner columns are
/// 0, its oid), as `pg_get_userbyid` names it.
const OWNER: &str = "postgres";

/// `pg_roles` with distinct oids: 0 for [`OWNER`] (the owner columns' value), 16384 and
/// up for the configured users, so joins on the owner find one role.
#[derive(Debug)]
struct RoleOids {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl ComputedRows for RoleOids {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    async fn rows(&self, state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let mut next = 16384;
        let mut out = Vec::new();
        for batch in collect(&self.inner, state).await? {
            let (Ok(oid_index), Ok(names)) = (
                batch.schema().index_of("oid"),
                column_text(&batch, "rolname"),
            ) else {
                out.push(batch);
                continue;
            };
            let oids: Int64Array = names
                .iter()
                .map(|n| {
                    Some(if n.as_deref() == Some(OWNER) {
                        0
                    } else {
                        next += 1;
                        next - 1
                    })
                })
                .collect();
            let mut columns = batch.columns().to_vec();
            let array: ArrayRef = Arc::new(oids);
            columns[oid_index] = cast(&array, batch.schema().field(oid_index).data_type())?;
            out.push(RecordBatch::try_new(batch.schema(), columns)?);
        }
        Ok(out)
    }
}

/// The configured users as PostgreSQL roles, and [`OWNER`].
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
        if !self.users.contains_key(OWNER) {
            names.push(OWNER.to_owned());
        }
        names.sort();
        names
    }

    async fn role(&self, name: &str) -> Option<Role> {
        let (admin, can_login) = match self.users.get(name) {
            Some(admin) => (*admin || name == OWNER, true),
            None if name == OWNER => (true, false),
            None => return None,
        };
        Some(Role {
            name: name.to_owned(),
            is_superuser: admin,
            can_login,
            can_create_db: false,
            can_create_role: false,
            can_create_user: false,
            can_replication: false,
            grants: Vec::new(),
            inherited_roles: Vec::new(),
        })
    }
}

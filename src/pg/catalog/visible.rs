//! Catalog rows of schemas and tables the session may not read are not listed, as
//! PostgreSQL's catalogs answer a role without USAGE: `pg_namespace`, `pg_class`,
//! `pg_attribute`, `pg_tables`, `pg_views`, and `information_schema`'s `schemata`,
//! `tables`, `columns`, `views`. What a session may read is its [`VisibleSchemas`]
//! extension, set by whoever builds the session; a session without one sees everything.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;

use super::computed_view::{ComputedRows, ComputedView};
use super::overlay::{collect, column_i64, column_text};

/// Whether the session may see a schema (no table given) or a table of it.
pub type MayRead = dyn Fn(&str, Option<&str>) -> bool + Send + Sync;

/// What the session may see, by name.
#[derive(Clone)]
pub struct VisibleSchemas(pub Arc<MayRead>);

impl VisibleSchemas {
    fn schema(&self, schema: &str) -> bool {
        (self.0)(schema, None)
    }

    fn table(&self, schema: &str, table: &str) -> bool {
        (self.0)(schema, Some(table))
    }
}

impl std::fmt::Debug for VisibleSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisibleSchemas")
    }
}

/// How a catalog table's row names its schema.
#[derive(Debug)]
enum Rule {
    /// A column holds the schema's name.
    SchemaName(&'static str),
    /// Columns hold the schema's and the table's names.
    TableName(&'static str, &'static str),
    /// `pg_class.relnamespace`: the schema's oid in `pg_namespace`.
    Namespace {
        pg_namespace: Arc<dyn TableProvider>,
    },
    /// `pg_attribute.attrelid`: the relation's oid in `pg_class`.
    Relation {
        pg_namespace: Arc<dyn TableProvider>,
        pg_class: Arc<dyn TableProvider>,
    },
}

/// The rule of `pg_catalog` table `name`.
pub fn hide_in_pg_catalog(
    name: &str,
    table: Arc<dyn TableProvider>,
    pg_namespace: Option<Arc<dyn TableProvider>>,
    pg_class: Option<Arc<dyn TableProvider>>,
) -> Arc<dyn TableProvider> {
    let rule = match (name, pg_namespace, pg_class) {
        ("pg_namespace", _, _) => Rule::SchemaName("nspname"),
        ("pg_tables", _, _) => Rule::TableName("schemaname", "tablename"),
        ("pg_views", _, _) => Rule::TableName("schemaname", "viewname"),
        ("pg_class", Some(pg_namespace), _) => Rule::Namespace { pg_namespace },
        ("pg_attribute", Some(pg_namespace), Some(pg_class)) => Rule::Relation {
            pg_namespace,
            pg_class,
        },
        _ => return table,
    };
    Arc::new(ComputedView(Hidden { inner: table, rule }))
}

/// The rule of `information_schema` table `name`.
pub fn hide_in_information_schema(
    name: &str,
    table: Arc<dyn TableProvider>,
) -> Arc<dyn TableProvider> {
    let rule = match name {
        "schemata" => Rule::SchemaName("schema_name"),
        "tables" | "columns" | "views" => Rule::TableName("table_schema", "table_name"),
        _ => return table,
    };
    Arc::new(ComputedView(Hidden { inner: table, rule }))
}

#[derive(Debug)]
struct Hidden {
    inner: Arc<dyn TableProvider>,
    rule: Rule,
}

/// Keeps the rows of `batches` for which `keep` holds.
fn retain(
    batches: Vec<RecordBatch>,
    keep: impl Fn(&RecordBatch) -> Result<Vec<bool>>,
) -> Result<Vec<RecordBatch>> {
    batches
        .into_iter()
        .map(|b| Ok(filter_record_batch(&b, &BooleanArray::from(keep(&b)?))?))
        .collect()
}

/// The names of the schemas, by oid.
async fn namespaces(
    pg_namespace: &Arc<dyn TableProvider>,
    state: &dyn Session,
) -> Result<HashMap<i64, String>> {
    let mut names = HashMap::new();
    for b in collect(pg_namespace, state).await? {
        for (oid, name) in column_i64(&b, "oid")?
            .into_iter()
            .zip(column_text(&b, "nspname")?)
        {
            if let (Some(oid), Some(name)) = (oid, name) {
                names.insert(oid, name);
            }
        }
    }
    Ok(names)
}

/// Whether a `pg_class` row (its name and namespace) is visible.
fn relation_visible(
    visible: &VisibleSchemas,
    namespaces: &HashMap<i64, String>,
    name: Option<&str>,
    namespace: Option<i64>,
) -> bool {
    let Some(schema) = namespace.and_then(|n| namespaces.get(&n)) else {
        return true;
    };
    match name {
        Some(name) => visible.table(schema, name),
        None => visible.schema(schema),
    }
}

#[async_trait]
impl ComputedRows for Hidden {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    async fn rows(&self, state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let rows = collect(&self.inner, state).await?;
        let Some(visible) = state.config().get_extension::<VisibleSchemas>() else {
            return Ok(rows);
        };
        match &self.rule {
            Rule::SchemaName(column) => retain(rows, |b| {
                Ok(column_text(b, column)?
                    .iter()
                    .map(|s| s.as_deref().is_none_or(|s| visible.schema(s)))
                    .collect())
            }),
            Rule::TableName(schema, table) => retain(rows, |b| {
                Ok(column_text(b, schema)?
                    .iter()
                    .zip(column_text(b, table)?)
                    .map(|(s, t)| match (s.as_deref(), t.as_deref()) {
                        (Some(s), Some(t)) => visible.table(s, t),
                        (Some(s), None) => visible.schema(s),
                        (None, _) => true,
                    })
                    .collect())
            }),
            Rule::Namespace { pg_namespace } => {
                let namespaces = namespaces(pg_namespace, state).await?;
                retain(rows, |b| {
                    Ok(column_text(b, "relname")?
                        .iter()
                        .zip(column_i64(b, "relnamespace")?)
                        .map(|(name, ns)| {
                            relation_visible(&visible, &namespaces, name.as_deref(), ns)
                        })
                        .collect())
                })
            }
            Rule::Relation {
                pg_namespace,
                pg_class,
            } => {
                let namespaces = namespaces(pg_namespace, state).await?;
                let mut hidden = HashSet::new();
                for b in collect(pg_class, state).await? {
                    for ((oid, name), ns) in column_i64(&b, "oid")?
                        .into_iter()
                        .zip(column_text(&b, "relname")?)
                        .zip(column_i64(&b, "relnamespace")?)
                    {
                        if let Some(oid) = oid {
                            if !relation_visible(&visible, &namespaces, name.as_deref(), ns) {
                                hidden.insert(oid);
                            }
                        }
                    }
                }
                retain(rows, |b| {
                    Ok(column_i64(b, "attrelid")?
                        .iter()
                        .map(|r| r.is_none_or(|r| !hidden.contains(&r)))
                        .collect())
                })
            }
        }
    }
}

//! Catalog rows of schemas the session may not read are not listed, as PostgreSQL's
//! catalogs answer a role without USAGE: `pg_namespace`, `pg_class`, `pg_attribute`,
//! `pg_tables`, `pg_views`, and `information_schema`'s `schemata`, `tables`, `columns`,
//! `views`. What a session may read is its [`VisibleSchemas`] extension, set by whoever
//! builds the session; a session without one sees every schema.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;

use super::computed_view::{ComputedRows, ComputedView};
use super::overlay::{collect, column_i64, column_text};

/// Whether the session may see a schema, by name.
#[derive(Clone)]
pub struct VisibleSchemas(pub Arc<dyn Fn(&str) -> bool + Send + Sync>);

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
        ("pg_tables" | "pg_views", _, _) => Rule::SchemaName("schemaname"),
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
    let column = match name {
        "schemata" => "schema_name",
        "tables" | "columns" | "views" => "table_schema",
        _ => return table,
    };
    Arc::new(ComputedView(Hidden {
        inner: table,
        rule: Rule::SchemaName(column),
    }))
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

/// The oids of the schemas `visible` rejects.
async fn hidden_namespaces(
    pg_namespace: &Arc<dyn TableProvider>,
    state: &dyn Session,
    visible: &VisibleSchemas,
) -> Result<HashSet<i64>> {
    let mut hidden = HashSet::new();
    for b in collect(pg_namespace, state).await? {
        for (oid, name) in column_i64(&b, "oid")?
            .into_iter()
            .zip(column_text(&b, "nspname")?)
        {
            if let (Some(oid), Some(name)) = (oid, name) {
                if !(visible.0)(&name) {
                    hidden.insert(oid);
                }
            }
        }
    }
    Ok(hidden)
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
                    .map(|s| s.as_deref().is_none_or(|s| (visible.0)(s)))
                    .collect())
            }),
            Rule::Namespace { pg_namespace } => {
                let hidden = hidden_namespaces(pg_namespace, state, &visible).await?;
                retain(rows, |b| {
                    Ok(column_i64(b, "relnamespace")?
                        .iter()
                        .map(|n| n.is_none_or(|n| !hidden.contains(&n)))
                        .collect())
                })
            }
            Rule::Relation {
                pg_namespace,
                pg_class,
            } => {
                let hidden = hidden_namespaces(pg_namespace, state, &visible).await?;
                let mut relations = HashSet::new();
                for b in collect(pg_class, state).await? {
                    for (oid, ns) in column_i64(&b, "oid")?
                        .into_iter()
                        .zip(column_i64(&b, "relnamespace")?)
                    {
                        if let (Some(oid), Some(ns)) = (oid, ns) {
                            if hidden.contains(&ns) {
                                relations.insert(oid);
                            }
                        }
                    }
                }
                retain(rows, |b| {
                    Ok(column_i64(b, "attrelid")?
                        .iter()
                        .map(|r| r.is_none_or(|r| !relations.contains(&r)))
                        .collect())
                })
            }
        }
    }
}

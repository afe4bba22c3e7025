//! Point lookups by key: a table version with a hash index on its key column, so
//! `WHERE key = $1` (or `key IN (...)`, or an OR of those) reads the matching rows
//! ([`exec::KeyLookupExec`]) instead of scanning — the personalization case, where a CMS
//! asks for one visitor's audiences, segment or recommendations on every page view.
//!
//! The index belongs to one immutable table version. The first lookup on a version builds
//! it (once; concurrent lookups wait for the same build); a version that served lookups
//! has its successor indexed before that is published ([`KeyIndexed::index_like`]), so
//! while the lake changes readers never wait and never scan. Key filters are answered
//! exactly (no filter runs again above the lookup); every other query goes to the wrapped
//! table unchanged.

mod exec;
pub mod index;
mod rows;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::ExecutionPlan;

use index::Key;
use rows::Built;
pub use rows::Rows;

/// A table with a key index; see the module docs.
#[derive(Debug)]
pub struct KeyIndexed {
    inner: Arc<dyn TableProvider>,
    rows: Arc<Rows>,
    key: usize,
    key_column: String,
    built: tokio::sync::OnceCell<Arc<Built>>,
    /// Whether this version has been asked for a lookup (its successor is then indexed
    /// before it is published).
    looked_up: AtomicBool,
}

impl KeyIndexed {
    /// `inner` with an index on `key_column` over `rows` (the same rows), or `inner`
    /// itself (lookups scan) when the table has no such column, its type cannot be
    /// indexed, or it has more rows than an index numbers (2^32).
    pub fn over(
        inner: Arc<dyn TableProvider>,
        rows: Rows,
        key_column: &str,
    ) -> Arc<dyn TableProvider> {
        let schema = inner.schema();
        let fits = rows.count().is_ok_and(|n| n <= u64::from(index::MAX_ROWS));
        match schema.index_of(key_column) {
            Ok(key) if fits && index::indexable(schema.field(key).data_type()) => Arc::new(Self {
                inner,
                rows: Arc::new(rows),
                key,
                key_column: key_column.to_owned(),
                built: tokio::sync::OnceCell::new(),
                looked_up: AtomicBool::new(false),
            }),
            _ => inner,
        }
    }

    /// Builds `table`'s index now (blocking) when `previous`, the version it replaces,
    /// served lookups on the same key: call before publishing `table`.
    pub fn index_like(table: &Arc<dyn TableProvider>, previous: Option<&Arc<dyn TableProvider>>) {
        let (Some(next), Some(previous)) = (
            table.downcast_ref::<KeyIndexed>(),
            previous.and_then(|p| p.downcast_ref::<KeyIndexed>()),
        ) else {
            return;
        };
        if previous.looked_up.load(Ordering::Relaxed) && previous.key_column == next.key_column {
            next.looked_up.store(true, Ordering::Relaxed);
            if !next.built.initialized() {
                if let Ok(built) = build(&next.rows, next.key, &next.key_column) {
                    let _ = next.built.set(built);
                }
            }
        }
    }

    /// The table without its index (what a scan that looks nothing up reads).
    pub fn unindexed(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }

    /// Whether a scan with `filters` is answered from the index (a point lookup).
    pub fn looks_up(&self, filters: &[Expr]) -> bool {
        filters.iter().any(|f| self.keys_of(f).is_some())
    }

    /// Whether this version's index is built.
    pub fn is_ready(&self) -> bool {
        self.built.initialized()
    }

    /// The keys a filter looks up, when it is `key = literal`, `key IN (literals)` or an OR
    /// of those.
    fn keys_of(&self, filter: &Expr) -> Option<Vec<Key>> {
        let key_type = self.inner.schema().field(self.key).data_type().clone();
        let is_key = |e: &Expr| matches!(e, Expr::Column(c) if c.name == self.key_column);
        let literal = |e: &Expr| match e {
            Expr::Literal(v, _) => Key::from_scalar(v, &key_type),
            _ => None,
        };
        match filter {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Eq,
                right,
            }) => {
                if is_key(left) {
                    Some(vec![literal(right)?])
                } else if is_key(right) {
                    Some(vec![literal(left)?])
                } else {
                    None
                }
            }
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Or,
                right,
            }) => {
                let mut keys = self.keys_of(left)?;
                keys.extend(self.keys_of(right)?);
                Some(keys)
            }
            Expr::InList(list) if !list.negated && is_key(&list.expr) => {
                list.list.iter().map(literal).collect()
            }
            _ => None,
        }
    }

    /// The built index, built now (off the runtime's threads) when this is the first
    /// lookup on this version.
    async fn index(&self) -> Result<Arc<Built>> {
        self.looked_up.store(true, Ordering::Relaxed);
        self.built
            .get_or_try_init(|| async {
                let (rows, key, column) =
                    (Arc::clone(&self.rows), self.key, self.key_column.clone());
                tokio::task::spawn_blocking(move || {
                    crate::background::lower_priority();
                    build(&rows, key, &column)
                })
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?
            })
            .await
            .cloned()
    }
}

fn build(rows: &Rows, key: usize, column: &str) -> Result<Arc<Built>> {
    let started = std::time::Instant::now();
    let built = rows.build(key).inspect_err(|e| {
        tracing::warn!(key = column, error = %e, "key index not built");
    })?;
    tracing::debug!(
        key = column,
        index_bytes = built.index.heap_bytes(),
        duration_ms = started.elapsed().as_millis() as u64,
        "key index built"
    );
    Ok(Arc::new(built))
}

#[async_trait]
impl TableProvider for KeyIndexed {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Key filters are answered exactly by the lookup; the others keep the inner
        // table's answer, never Exact (a lookup does not apply them).
        Ok(self
            .inner
            .supports_filters_pushdown(filters)?
            .into_iter()
            .zip(filters)
            .map(|(answer, filter)| match answer {
                _ if self.keys_of(filter).is_some() => TableProviderFilterPushDown::Exact,
                TableProviderFilterPushDown::Exact => TableProviderFilterPushDown::Inexact,
                other => other,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let key_sets: Vec<Vec<Key>> = filters.iter().filter_map(|f| self.keys_of(f)).collect();
        let Some(narrowest) = key_sets.iter().min_by_key(|k| k.len()) else {
            return self.inner.scan(state, projection, filters, limit).await;
        };
        let built = self.index().await?;
        let rows = built.index.candidates(narrowest);
        let (schema, properties) =
            crate::udf::computed_table::one_batch_output(self.inner.schema(), projection)?;
        Ok(Arc::new(exec::KeyLookupExec {
            built,
            key_column: self.key_column.clone(),
            key: self.key,
            key_sets,
            rows: Arc::new(rows),
            table_schema: self.inner.schema(),
            projection: projection.cloned(),
            limit,
            schema,
            properties,
        }))
    }
}

/// Parquet writer settings for files served with a key index: small pages, so a point
/// lookup decodes one page per column.
pub fn parquet_writer() -> parquet::file::properties::WriterPropertiesBuilder {
    parquet::file::properties::WriterProperties::builder().set_data_page_row_count_limit(4096)
}

/// One Parquet file written by datapunk (an audience's members, a warehouse table's
/// version) as a table, with a key index on `key_column` for point lookups.
///
/// # Errors
/// The file cannot be read.
pub fn indexed_parquet_file(
    path: &std::path::Path,
    key_column: &str,
) -> Result<Arc<dyn TableProvider>> {
    let schema = Arc::clone(
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(path)?,
        )?
        .schema(),
    );
    let table = Arc::new(crate::lake::table::parquet_table(schema, &[path])?);
    Ok(KeyIndexed::over(
        table,
        Rows::Parquet(path.to_path_buf()),
        key_column,
    ))
}

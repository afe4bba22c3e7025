//! Point lookups by key: a table version with a hash index on its key column, so
//! `WHERE key = $1` (or `key IN (...)`) reads the matching rows ([`exec::KeyLookupExec`])
//! instead of scanning — the personalization case, where a CMS asks for one visitor's
//! audiences, segment or recommendations on every page view.
//!
//! The index belongs to one immutable table version and is built off the query path: the
//! first lookup on a version starts the build in the background and scans meanwhile;
//! once a version has served lookups, its successor is indexed before it is published
//! ([`KeyIndexed::index_like`]), so readers are never blocked and never fall back to scans
//! while the lake changes. Every other query goes to the wrapped table unchanged.

mod exec;
pub mod index;
mod rows;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::{
    BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::ExecutionPlan;

use index::Key;
use rows::Built;
pub use rows::Rows;

/// Where a version's index is.
#[derive(Debug)]
enum State {
    NotBuilt,
    Building,
    Ready(Arc<Built>),
    Failed,
}

/// A table with a key index; see the module docs.
#[derive(Debug)]
pub struct KeyIndexed {
    inner: Arc<dyn TableProvider>,
    rows: Arc<Rows>,
    key: usize,
    key_column: String,
    state: Arc<Mutex<State>>,
    /// Whether this version has been asked for a lookup (its successor is then indexed
    /// before it is published).
    looked_up: AtomicBool,
}

impl KeyIndexed {
    /// `inner` with an index on `key_column` over `rows` (the same rows), or `inner`
    /// itself when the table has no such column or its type cannot be indexed.
    pub fn over(
        inner: Arc<dyn TableProvider>,
        rows: Rows,
        key_column: &str,
    ) -> Arc<dyn TableProvider> {
        let schema = inner.schema();
        match schema.index_of(key_column) {
            Ok(key) if index::indexable(schema.field(key).data_type()) => Arc::new(Self {
                inner,
                rows: Arc::new(rows),
                key,
                key_column: key_column.to_owned(),
                state: Arc::new(Mutex::new(State::NotBuilt)),
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
            if let Ok(mut state) = next.state.lock() {
                if matches!(*state, State::NotBuilt) {
                    *state = build(&next.rows, next.key, &next.key_column);
                }
            }
        }
    }

    /// Whether this version's index is built.
    pub fn is_ready(&self) -> bool {
        self.state
            .lock()
            .is_ok_and(|s| matches!(*s, State::Ready(_)))
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

    /// The built index, or `None` after starting its build in the background.
    fn ready_or_start(&self) -> Option<Arc<Built>> {
        self.looked_up.store(true, Ordering::Relaxed);
        let mut state = self.state.lock().ok()?;
        match &*state {
            State::Ready(built) => return Some(Arc::clone(built)),
            State::Building | State::Failed => return None,
            State::NotBuilt => *state = State::Building,
        }
        let (slot, rows, key, column) = (
            Arc::clone(&self.state),
            Arc::clone(&self.rows),
            self.key,
            self.key_column.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("datapunk-key-index".into())
            .spawn(move || {
                let built = build(&rows, key, &column);
                if let Ok(mut state) = slot.lock() {
                    *state = built;
                }
            });
        if spawned.is_err() {
            *state = State::NotBuilt;
        }
        None
    }
}

fn build(rows: &Rows, key: usize, column: &str) -> State {
    let started = std::time::Instant::now();
    match rows.build(key) {
        Ok(built) => {
            tracing::debug!(
                key = column,
                index_bytes = built.index.heap_bytes(),
                duration_ms = started.elapsed().as_millis() as u64,
                "key index built"
            );
            State::Ready(Arc::new(built))
        }
        Err(e) => {
            tracing::warn!(key = column, error = %e, "key index not built: lookups scan");
            State::Failed
        }
    }
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
        // The inner table's answers, never Exact: a lookup ignores the other filters,
        // and every filter is applied again above the scan.
        Ok(self
            .inner
            .supports_filters_pushdown(filters)?
            .into_iter()
            .zip(filters)
            .map(|(answer, filter)| match answer {
                _ if self.keys_of(filter).is_some() => TableProviderFilterPushDown::Inexact,
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
        // The narrowest key filter (AND-ed filters: any one of them bounds the rows).
        let keys = filters
            .iter()
            .filter_map(|f| self.keys_of(f))
            .min_by_key(Vec::len);
        if let Some(keys) = keys {
            if let Some(built) = self.ready_or_start() {
                let rows = built.index.candidates(&keys);
                let (schema, properties) =
                    crate::udf::computed_table::one_batch_output(self.inner.schema(), projection)?;
                return Ok(Arc::new(exec::KeyLookupExec {
                    built,
                    key_column: self.key_column.clone(),
                    keys: keys.len(),
                    rows: Arc::new(rows),
                    projection: projection.cloned(),
                    schema,
                    properties,
                }));
            }
        }
        self.inner.scan(state, projection, filters, limit).await
    }
}

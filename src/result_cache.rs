//! The result cache: the rows of a query kept in memory and answered again, without
//! running it, to an identical query over the same data (a dashboard refreshing its
//! panels).
//!
//! Two queries are identical when they have the same statement text and parameter
//! values, the same session settings, the same permissions, and read the same versions
//! of the same lake, warehouse and audience tables. Those tables are immutable
//! versions: a changed lake file or a rebuilt script publishes a new one. An entry
//! names the versions it read ([`crate::lineage`]), so once any of them is replaced no query can match
//! it again: invalidation is exact and needs no notification. A query is cached only
//! when every table it reads is such a version and every function it calls is
//! immutable: system tables, catalogs, `now()` and `random()` are always run.
//!
//! Bounded in bytes, least recently used out first; a result larger than a quarter of
//! the cache is not kept. `datapunk.result_cache` shows its size and hits.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use async_trait::async_trait;
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::utils::memory::RecordBatchMemoryCounter;
use datafusion::common::ParamValues;
use datafusion::error::Result as DfResult;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::memory::MemoryStream;
use futures::{Stream, StreamExt};

use crate::engine::Engine;
use crate::pg::catalog::computed_view::{ComputedRows, ComputedView};

/// A result larger than `capacity / ENTRY_DIVISOR` is not kept.
const ENTRY_DIVISOR: usize = 4;

/// The cache, shared by every connection.
#[derive(Debug)]
pub struct ResultCache {
    engine: Arc<Engine>,
    capacity: usize,
    entries: Mutex<Entries>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug)]
struct Entries {
    lru: lru::LruCache<String, Entry>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry {
    /// The table versions the result was read from (kept only to tell when they are
    /// gone: their addresses, part of the key, cannot be reused while these exist).
    inputs: Vec<Weak<dyn TableProvider>>,
    schema: SchemaRef,
    batches: Arc<Vec<RecordBatch>>,
    bytes: usize,
}

/// What identifies one query's result in the cache.
#[derive(Debug, Clone)]
pub struct Identity {
    key: String,
    inputs: Vec<Weak<dyn TableProvider>>,
}

/// Who runs a query, as far as it changes what the query may read.
#[derive(Debug, Clone)]
pub struct Permissions(pub String);

impl ResultCache {
    /// A cache of at most `capacity` bytes (0: nothing is cached).
    pub fn new(engine: Arc<Engine>, capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            engine,
            capacity,
            entries: Mutex::new(Entries {
                lru: lru::LruCache::unbounded(),
                bytes: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// The identity of `plan`'s result (planned from `statement`, with `params` bound),
    /// or `None` when it must be run every time.
    pub fn identify(
        &self,
        statement: &str,
        params: Option<&ParamValues>,
        plan: &LogicalPlan,
        state: &SessionState,
        permissions: Permissions,
    ) -> Option<Identity> {
        if self.capacity == 0 {
            return None;
        }
        let lineage = crate::lineage::of(&self.engine, plan);
        if !lineage.is_determined() || lineage.reads.is_empty() {
            return None;
        }
        let mut key = format!("{}\n{statement}\n", permissions.0);
        if let Some(params) = params {
            key.push_str(&format!("{params:?}\n"));
        }
        for entry in state.config_options().entries() {
            key.push_str(&format!("{}={:?}\n", entry.key, entry.value));
        }
        for read in &lineage.reads {
            key.push_str(&format!("@{:x} {}", address(&read.table), read.tag));
        }
        Some(Identity {
            key,
            inputs: lineage
                .reads
                .iter()
                .map(|r| Arc::downgrade(&r.table))
                .collect(),
        })
    }

    /// The cached result of `identity`: its schema and batches.
    pub fn get(&self, identity: &Identity) -> Option<(SchemaRef, SendableRecordBatchStream)> {
        let found = self.get_again(identity);
        if found.is_none() {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// [`Self::get`] for a query that missed and waited for its turn to run, in which an
    /// identical query may have been answered and kept: a hit counts, a miss was counted.
    pub fn get_again(&self, identity: &Identity) -> Option<(SchemaRef, SendableRecordBatchStream)> {
        let found = self.lock().lru.get(&identity.key).map(|e| {
            (
                Arc::clone(&e.schema),
                Arc::clone(&e.batches),
                e.batches.first().map(RecordBatch::schema),
            )
        });
        let (schema, batches, batch_schema) = found?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        let batch_schema = batch_schema.unwrap_or_else(|| Arc::clone(&schema));
        let stream = MemoryStream::try_new(batches.to_vec(), batch_schema, None).ok()?;
        Some((schema, Box::pin(stream)))
    }

    /// `rows` as they stream, kept under `identity` (with `schema`, the result's schema
    /// as clients are told it) once they all came without error and fit.
    pub fn record(
        self: &Arc<Self>,
        identity: Identity,
        schema: SchemaRef,
        rows: SendableRecordBatchStream,
    ) -> SendableRecordBatchStream {
        Box::pin(Recorder {
            rows,
            cache: Arc::clone(self),
            pending: Some(Pending {
                identity,
                schema,
                batches: Vec::new(),
                bytes: 0,
                counter: RecordBatchMemoryCounter::new(),
            }),
        })
    }

    fn insert(&self, pending: Pending) {
        let mut entries = self.lock();
        // Results of table versions that are gone can never be asked for again.
        let gone: Vec<String> = entries
            .lru
            .iter()
            .filter(|(_, e)| e.inputs.iter().any(|i| i.strong_count() == 0))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            entries.remove(&key);
        }
        entries.remove(&pending.identity.key);
        while entries.bytes + pending.bytes > self.capacity {
            match entries.lru.pop_lru() {
                Some((_, e)) => entries.bytes -= e.bytes,
                None => break,
            }
        }
        entries.bytes += pending.bytes;
        entries.lru.put(
            pending.identity.key,
            Entry {
                inputs: pending.identity.inputs,
                schema: pending.schema,
                batches: Arc::new(pending.batches),
                bytes: pending.bytes,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `datapunk.result_cache`: one row of sizes and counts.
    pub fn status_table(self: &Arc<Self>) -> Arc<dyn TableProvider> {
        Arc::new(ComputedView(StatusRows(Arc::clone(self))))
    }
}

impl Entries {
    fn remove(&mut self, key: &str) {
        if let Some(e) = self.lru.pop(key) {
            self.bytes -= e.bytes;
        }
    }
}

/// Where a table version lives: what identifies it while it (or a weak reference to
/// it) exists.
fn address(table: &Arc<dyn TableProvider>) -> usize {
    Arc::as_ptr(table).cast::<()>() as usize
}

#[derive(Debug)]
struct Pending {
    identity: Identity,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    bytes: usize,
    /// Slices of one buffer (an aggregate's output) count it once.
    counter: RecordBatchMemoryCounter,
}

/// A query's rows passed on to the client and, while they fit, kept.
struct Recorder {
    rows: SendableRecordBatchStream,
    cache: Arc<ResultCache>,
    pending: Option<Pending>,
}

impl Stream for Recorder {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = futures::ready!(self.rows.poll_next_unpin(cx));
        let limit = self.cache.capacity / ENTRY_DIVISOR;
        match &item {
            Some(Ok(batch)) => {
                if let Some(pending) = &mut self.pending {
                    pending.bytes += pending.counter.count_batch(batch);
                    pending.batches.push(batch.clone());
                    if pending.bytes > limit {
                        self.pending = None;
                    }
                }
            }
            Some(Err(_)) => self.pending = None,
            None => {
                if let Some(pending) = self.pending.take() {
                    self.cache.insert(pending);
                }
            }
        }
        Poll::Ready(item)
    }
}

impl RecordBatchStream for Recorder {
    fn schema(&self) -> SchemaRef {
        self.rows.schema()
    }
}

/// The rows of `datapunk.result_cache`.
#[derive(Debug)]
struct StatusRows(Arc<ResultCache>);

#[async_trait]
impl ComputedRows for StatusRows {
    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            ["entries", "bytes", "capacity_bytes", "hits", "misses"]
                .map(|name| Field::new(name, DataType::Int64, false))
                .to_vec(),
        ))
    }

    async fn rows(&self, _state: &dyn Session) -> DfResult<Vec<RecordBatch>> {
        let cache = &self.0;
        let (entries, bytes) = {
            let e = cache.lock();
            (e.lru.len(), e.bytes)
        };
        let values = [
            entries as u64,
            bytes as u64,
            cache.capacity as u64,
            cache.hits.load(Ordering::Relaxed),
            cache.misses.load(Ordering::Relaxed),
        ];
        let columns = values
            .into_iter()
            .map(|v| Arc::new(Int64Array::from(vec![i64::try_from(v).unwrap_or(i64::MAX)])) as _)
            .collect();
        Ok(vec![RecordBatch::try_new(self.schema(), columns)?])
    }
}

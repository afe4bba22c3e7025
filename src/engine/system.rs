//! Schema `datapunk`: system tables that show SQL users the state of the lake and the
//! warehouse (`datapunk.lake_tables`, `datapunk.warehouse_tables`).
//!
//! The lake and warehouse modules write [`Status`]; these tables only read it, at scan time.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::pg::catalog::computed_view::ComputedRows;
use datafusion::arrow::array::{
    ArrayRef, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::error::Result;

/// How one lake table stands after the last scan.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeTableStatus {
    pub files: usize,
    /// How many versions of the table have been loaded since startup.
    pub versions: u64,
    pub rows: Option<u64>,
    /// `ok`, `stale` (serving the last good version) or `error` (never loaded).
    pub state: &'static str,
    pub error: Option<String>,
    pub loaded_at: Option<SystemTime>,
}

/// How one warehouse table stands after the last build.
#[derive(Debug, Clone, PartialEq)]
pub struct WarehouseTableStatus {
    pub script: String,
    pub rows: Option<u64>,
    /// `ok`, `stale` (serving the previous version) or `error` (never built).
    pub state: &'static str,
    pub error: Option<String>,
    pub built_at: Option<SystemTime>,
    pub duration_ms: Option<u64>,
}

/// Shared status written by the lake and the warehouse.
#[derive(Debug, Default)]
pub struct Status {
    pub lake: RwLock<BTreeMap<String, LakeTableStatus>>,
    pub warehouse: RwLock<BTreeMap<String, WarehouseTableStatus>>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum StatusKind {
    Lake,
    Warehouse,
}

/// A read-only table over [`Status`].
#[derive(Debug)]
pub(crate) struct StatusTable {
    kind: StatusKind,
    status: Arc<Status>,
    schema: SchemaRef,
}

fn micros(t: Option<SystemTime>) -> Option<i64> {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_micros()).ok())
}

impl StatusTable {
    pub(crate) fn new(kind: StatusKind, status: Arc<Status>) -> Self {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        let fields = match kind {
            StatusKind::Lake => vec![
                Field::new("table_name", DataType::Utf8, false),
                Field::new("files", DataType::Int64, false),
                Field::new("versions", DataType::Int64, false),
                Field::new("rows", DataType::Int64, true),
                Field::new("state", DataType::Utf8, false),
                Field::new("error", DataType::Utf8, true),
                Field::new("loaded_at", ts, true),
            ],
            StatusKind::Warehouse => vec![
                Field::new("table_name", DataType::Utf8, false),
                Field::new("script", DataType::Utf8, false),
                Field::new("rows", DataType::Int64, true),
                Field::new("state", DataType::Utf8, false),
                Field::new("error", DataType::Utf8, true),
                Field::new("built_at", ts, true),
                Field::new("duration_ms", DataType::Int64, true),
            ],
        };
        Self {
            kind,
            status,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    fn batch(&self) -> Result<RecordBatch> {
        let mut name = StringBuilder::new();
        let mut state = StringBuilder::new();
        let mut error = StringBuilder::new();
        let mut rows = Int64Builder::new();
        let mut at = TimestampMicrosecondBuilder::new();
        let columns: Vec<ArrayRef> = match self.kind {
            StatusKind::Lake => {
                let map = self
                    .status
                    .lake
                    .read()
                    .map(|m| m.clone())
                    .unwrap_or_default();
                let mut files = Int64Builder::new();
                let mut versions = Int64Builder::new();
                for (table, s) in &map {
                    name.append_value(table);
                    files.append_value(i64::try_from(s.files).unwrap_or(i64::MAX));
                    versions.append_value(i64::try_from(s.versions).unwrap_or(i64::MAX));
                    rows.append_option(s.rows.and_then(|r| i64::try_from(r).ok()));
                    state.append_value(s.state);
                    error.append_option(s.error.as_deref());
                    at.append_option(micros(s.loaded_at));
                }
                vec![
                    Arc::new(name.finish()),
                    Arc::new(files.finish()),
                    Arc::new(versions.finish()),
                    Arc::new(rows.finish()),
                    Arc::new(state.finish()),
                    Arc::new(error.finish()),
                    Arc::new(at.finish()),
                ]
            }
            StatusKind::Warehouse => {
                let map = self
                    .status
                    .warehouse
                    .read()
                    .map(|m| m.clone())
                    .unwrap_or_default();
                let mut script = StringBuilder::new();
                let mut duration = Int64Builder::new();
                for (table, s) in &map {
                    name.append_value(table);
                    script.append_value(&s.script);
                    rows.append_option(s.rows.and_then(|r| i64::try_from(r).ok()));
                    state.append_value(s.state);
                    error.append_option(s.error.as_deref());
                    at.append_option(micros(s.built_at));
                    duration.append_option(s.duration_ms.and_then(|d| i64::try_from(d).ok()));
                }
                vec![
                    Arc::new(name.finish()),
                    Arc::new(script.finish()),
                    Arc::new(rows.finish()),
                    Arc::new(state.finish()),
                    Arc::new(error.finish()),
                    Arc::new(at.finish()),
                    Arc::new(duration.finish()),
                ]
            }
        };
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[async_trait]
impl ComputedRows for StatusTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    async fn rows(&self, _state: &dyn Session) -> Result<Vec<RecordBatch>> {
        Ok(vec![self.batch()?])
    }
}

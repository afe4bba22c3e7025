//! What SQL users query of the audiences: `audience.NAME` (the members file of the last
//! completed refresh), `datapunk.audiences` (status) and `datapunk.audience_changes`
//! (every change file), all read-only and read at scan time.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::audiences::AudienceView;
use super::diff::{changes_schema, timestamp_type};
use crate::lake::table::parquet_table;
use crate::pg::catalog::computed_view::ComputedRows;

/// `datapunk.audience_changes`: the change files at the time of the scan.
#[derive(Debug)]
pub struct ChangesTable {
    view: Arc<AudienceView>,
    schema: SchemaRef,
}

impl ChangesTable {
    pub fn new(view: Arc<AudienceView>) -> Self {
        Self {
            view,
            schema: changes_schema(),
        }
    }
}

#[async_trait]
impl TableProvider for ChangesTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files = self
            .view
            .change_files
            .read()
            .map(|f| f.clone())
            .unwrap_or_default();
        let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        parquet_table(Arc::clone(&self.schema), &paths)?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `datapunk.audiences`.
#[derive(Debug)]
pub struct AudiencesTable {
    view: Arc<AudienceView>,
    schema: SchemaRef,
}

impl AudiencesTable {
    pub fn new(view: Arc<AudienceView>) -> Self {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("key_column", DataType::Utf8, false),
            Field::new("members", DataType::Int64, true),
            Field::new("entered", DataType::Int64, true),
            Field::new("exited", DataType::Int64, true),
            Field::new("refresh_id", DataType::Int64, false),
            Field::new("refreshed_at", timestamp_type(), true),
            Field::new("duration_ms", DataType::Int64, true),
            Field::new("state", DataType::Utf8, false),
            Field::new("error", DataType::Utf8, true),
            Field::new("definition", DataType::Utf8, false),
        ]));
        Self { view, schema }
    }
}

fn int(v: Option<u64>) -> Option<i64> {
    v.and_then(|v| i64::try_from(v).ok())
}

#[async_trait]
impl ComputedRows for AudiencesTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    async fn rows(&self, _state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let map = self
            .view
            .status
            .read()
            .map(|m| m.clone())
            .unwrap_or_default();
        let mut name = StringBuilder::new();
        let mut key = StringBuilder::new();
        let mut members = Int64Builder::new();
        let mut entered = Int64Builder::new();
        let mut exited = Int64Builder::new();
        let mut refresh_id = Int64Builder::new();
        let mut at = TimestampMicrosecondBuilder::new().with_timezone("+00:00");
        let mut duration = Int64Builder::new();
        let mut state = StringBuilder::new();
        let mut error = StringBuilder::new();
        let mut definition = StringBuilder::new();
        for (n, s) in &map {
            name.append_value(n);
            key.append_value(&s.key_column);
            members.append_option(int(s.members));
            entered.append_option(int(s.entered));
            exited.append_option(int(s.exited));
            refresh_id.append_value(s.refresh_id);
            at.append_option(s.refreshed_at.map(|t| {
                t.duration_since(std::time::SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            }));
            duration.append_option(int(s.duration_ms));
            state.append_value(s.state);
            error.append_option(s.error.as_deref());
            definition.append_value(&s.definition);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(name.finish()),
            Arc::new(key.finish()),
            Arc::new(members.finish()),
            Arc::new(entered.finish()),
            Arc::new(exited.finish()),
            Arc::new(refresh_id.finish()),
            Arc::new(at.finish()),
            Arc::new(duration.finish()),
            Arc::new(state.finish()),
            Arc::new(error.finish()),
            Arc::new(definition.finish()),
        ];
        Ok(vec![RecordBatch::try_new(
            Arc::clone(&self.schema),
            columns,
        )?])
    }
}

/// `datapunk.export_runs`: every run of every export.
#[derive(Debug)]
pub struct ExportRunsTable {
    view: Arc<super::exports::ExportView>,
    schema: SchemaRef,
}

impl ExportRunsTable {
    pub fn new(view: Arc<super::exports::ExportView>) -> Self {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("run_id", DataType::Int64, false),
            Field::new("started", timestamp_type(), false),
            Field::new("finished", timestamp_type(), true),
            Field::new("rows", DataType::Int64, true),
            Field::new("file", DataType::Utf8, false),
            Field::new("state", DataType::Utf8, false),
            Field::new("error", DataType::Utf8, true),
            Field::new("attempt", DataType::Int64, false),
            Field::new("from_refresh", DataType::Int64, false),
            Field::new("to_refresh", DataType::Int64, false),
        ]));
        Self { view, schema }
    }
}

#[async_trait]
impl ComputedRows for ExportRunsTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    async fn rows(&self, _state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let map = self.view.runs.read().map(|m| m.clone()).unwrap_or_default();
        let mut name = StringBuilder::new();
        let mut run_id = Int64Builder::new();
        let mut started = TimestampMicrosecondBuilder::new().with_timezone("+00:00");
        let mut finished = TimestampMicrosecondBuilder::new().with_timezone("+00:00");
        let mut rows = Int64Builder::new();
        let mut file = StringBuilder::new();
        let mut state = StringBuilder::new();
        let mut error = StringBuilder::new();
        let mut attempt = Int64Builder::new();
        let mut from = Int64Builder::new();
        let mut to = Int64Builder::new();
        for (export, runs) in &map {
            for r in runs {
                name.append_value(export);
                run_id.append_value(r.run_id);
                started.append_value(r.started_us);
                finished.append_option(r.finished_us);
                rows.append_option(int(r.rows));
                file.append_value(&r.file);
                state.append_value(&r.state);
                error.append_option(r.error.as_deref());
                attempt.append_value(i64::from(r.attempt));
                from.append_value(r.from_refresh);
                to.append_value(r.to_refresh);
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(name.finish()),
            Arc::new(run_id.finish()),
            Arc::new(started.finish()),
            Arc::new(finished.finish()),
            Arc::new(rows.finish()),
            Arc::new(file.finish()),
            Arc::new(state.finish()),
            Arc::new(error.finish()),
            Arc::new(attempt.finish()),
            Arc::new(from.finish()),
            Arc::new(to.finish()),
        ];
        Ok(vec![RecordBatch::try_new(
            Arc::clone(&self.schema),
            columns,
        )?])
    }
}

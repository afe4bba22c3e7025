//! The one mechanism behind the catalog views whose rows are computed at scan time
//! (`information_schema.columns`, patched `pg_catalog` tables, `datapunk.*` status):
//! implement [`ComputedRows`], wrap it in [`ComputedView`], and it is a read-only view
//! whose batches are built on each scan and served from memory.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

/// Rows computed when the view is scanned.
#[async_trait]
pub trait ComputedRows: std::fmt::Debug + Send + Sync {
    fn schema(&self) -> SchemaRef;
    async fn rows(&self, state: &dyn Session) -> Result<Vec<RecordBatch>>;
}

/// A [`ComputedRows`] as a table.
#[derive(Debug)]
pub struct ComputedView<T>(pub T);

#[async_trait]
impl<T: ComputedRows + 'static> TableProvider for ComputedView<T> {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
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
        let rows = self.0.rows(state).await?;
        MemTable::try_new(self.0.schema(), vec![rows])?
            .scan(state, projection, filters, limit)
            .await
    }
}

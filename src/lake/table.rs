//! `LakeTable`: a snapshot of one lake table (its files, their partition values and the
//! merged schema) as a DataFusion `TableProvider`.
//!
//! A filter on partition columns (`year = 2024`) chooses the files a scan reads. The
//! file list is fixed when the snapshot is taken, so a running query keeps reading
//! the files it was planned with, and a new, half-written or corrupt file never reaches a
//! query until a rescan has validated it. Only planning lives here; scanning is
//! DataFusion's Parquet/CSV reader.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::ObjectMeta;
use datafusion::physical_expr_adapter::PhysicalExprAdapterFactory;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;

use super::column_mapping::ColumnMapping;

/// One immutable version of a lake table.
#[derive(Debug)]
pub struct LakeTable {
    /// The store the files are in.
    pub(super) store: ObjectStoreUrl,
    /// File columns followed by partition columns.
    schema: SchemaRef,
    pub(super) file_schema: SchemaRef,
    pub(super) partition_cols: Vec<FieldRef>,
    pub(super) files: Vec<PartitionedFile>,
    pub(super) format: Arc<dyn FileFormat>,
    /// How files hold columns, when not under their served names.
    pub(super) column_mapping: Option<Arc<ColumnMapping>>,
}

impl LakeTable {
    pub fn new(
        store: ObjectStoreUrl,
        file_schema: SchemaRef,
        partition_cols: Vec<FieldRef>,
        files: Vec<PartitionedFile>,
        format: Arc<dyn FileFormat>,
    ) -> Self {
        let mut fields: Vec<FieldRef> = file_schema.fields().iter().cloned().collect();
        fields.extend(partition_cols.iter().cloned());
        Self {
            store,
            schema: Arc::new(Schema::new(fields)),
            file_schema,
            partition_cols,
            files,
            format,
            column_mapping: None,
        }
    }

    /// Reads the files' columns through `mapping` (by field id or physical name).
    #[must_use]
    pub fn with_column_mapping(mut self, mapping: Option<Arc<ColumnMapping>>) -> Self {
        self.column_mapping = mapping;
        self
    }

    /// Splits the files, in path order, into `n` contiguous groups of about equal bytes.
    /// Lakes are usually written in time order (part-00000, part-00001, ...), so each
    /// partition reads a contiguous stretch of time: the RFM fast path then sees each
    /// customer's order ids in increasing runs, and no partition jumps back in time.
    fn file_groups(files: Vec<&PartitionedFile>, n: usize) -> Vec<FileGroup> {
        let n = n.clamp(1, files.len().max(1));
        let mut files = files;
        files.sort_by(|a, b| a.object_meta.location.cmp(&b.object_meta.location));
        let total: u64 = files.iter().map(|f| f.object_meta.size).sum();
        let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); n];
        let mut before = 0u64;
        for f in files {
            // The group where this file's first byte falls.
            let g = (u128::from(before) * n as u128 / u128::from(total.max(1))) as usize;
            groups[g.min(n - 1)].push(f.clone());
            before += f.object_meta.size;
        }
        groups
            .into_iter()
            .filter(|g| !g.is_empty())
            .map(FileGroup::new)
            .collect()
    }
}

impl LakeTable {
    /// Bytes of all its files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.object_meta.size).sum()
    }

    /// The files whose partition values can satisfy `filters` (those on partition
    /// columns alone, e.g. `year = 2024 AND month IN (5, 6)`): only these are read.
    fn files_matching(
        &self,
        state: &dyn Session,
        filters: &[Expr],
    ) -> Result<Vec<&PartitionedFile>> {
        let names: Vec<&str> = self
            .partition_cols
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let on_partitions = filters
            .iter()
            .filter(|f| !names.is_empty() && expr_applicable_for_cols(&names, f))
            .map(|f| unnormalize_col(f.clone()));
        let Some(predicate) = conjunction(on_partitions) else {
            return Ok(self.files.iter().collect());
        };
        let schema = Arc::new(Schema::new(self.partition_cols.clone()));
        let columns = (0..self.partition_cols.len())
            .map(|i| {
                ScalarValue::iter_to_array(self.files.iter().map(|f| f.partition_values[i].clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        let values = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let matches = state
            .create_physical_expr(predicate, &df_schema)?
            .evaluate(&values)?
            .into_array(values.num_rows())?;
        let matches = matches.as_boolean();
        Ok(self
            .files
            .iter()
            .enumerate()
            .filter(|(i, _)| matches.is_valid(*i) && matches.value(*i))
            .map(|(_, f)| f)
            .collect())
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Files are chosen by partition values and row groups pruned by the Parquet
        // reader; rows are still filtered above us.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files = self.files_matching(state, filters)?;
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let table_schema = TableSchema::builder(Arc::clone(&self.file_schema))
            .with_table_partition_cols(self.partition_cols.clone())
            .build();
        let source = self.format.file_source(table_schema);
        let config = FileScanConfigBuilder::new(self.store.clone(), source)
            .with_file_groups(Self::file_groups(files, state.config().target_partitions()))
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .with_expr_adapter(
                self.column_mapping
                    .clone()
                    .map(|m| m as Arc<dyn PhysicalExprAdapterFactory>),
            )
            .build();
        self.format.create_physical_plan(state, config).await
    }
}

/// A Parquet file as a file of a [`LakeTable`].
fn partitioned_file(path: &Path) -> Result<PartitionedFile> {
    let meta = std::fs::metadata(path)?;
    Ok(PartitionedFile::new_from_meta(ObjectMeta {
        location: StorePath::from_filesystem_path(path)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
        last_modified: chrono::DateTime::<chrono::Utc>::from(meta.modified()?),
        size: meta.len(),
        e_tag: None,
        version: None,
    }))
}

/// Parquet files of one schema written by datapunk (audience members and changes,
/// warehouse tables) as a table.
///
/// # Errors
/// A file cannot be found.
pub fn parquet_table(schema: SchemaRef, files: &[&Path]) -> Result<LakeTable> {
    let files = files
        .iter()
        .map(|p| partitioned_file(p))
        .collect::<Result<Vec<_>>>()?;
    // Read with the types they were written with (strings stay `Utf8`, not views).
    Ok(LakeTable::new(
        ObjectStoreUrl::local_filesystem(),
        schema,
        vec![],
        files,
        Arc::new(ParquetFormat::default().with_force_view_types(false)),
    ))
}

//! Erased rows by position: for each local Parquet file of a pii table, which rows the
//! erasures hide, found once by reading the file's identifier columns and then handed to
//! every scan of the file as a row selection the Parquet reader applies while decoding
//! (`ParquetRowSelection`, a deletion vector). A guarded query then reads no identifier
//! column and filters nothing: it decodes the rows it keeps, as if the file had been
//! purged. Positions are kept per file (path, size, modification time) and per set of
//! erasures; a scan this cannot take (another format, an object store, an identifier in
//! a partition column, files read through a column mapping) keeps the row filter of
//! `guarded_table`.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, BooleanArray};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfig, FileScanConfigBuilder, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::physical_plan::ExecutionPlan;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection};
use parquet::arrow::ProjectionMask;

use super::guarded_table::{keep_rows, ErasedRows};
use crate::lake::deleted_rows::with_kept_rows;

/// Identifies one version of a file under one set of erasures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileKey {
    path: String,
    size: u64,
    modified_ns: i64,
    /// How many erasure requests the positions apply.
    erasures: usize,
    /// The identifier columns.
    columns: String,
}

/// The erased rows of the files scanned so far (`None`: the file has none).
#[derive(Debug, Default)]
pub struct ErasedPositions {
    files: Mutex<HashMap<FileKey, Option<Arc<RowSelection>>>>,
}

impl ErasedPositions {
    /// `plan` (a table's scan) reading its files without the rows `erased` hides, or
    /// `None` when it is not a scan of local Parquet files whose identifier columns
    /// are in the files. `erasures` counts the erasure requests `erased` holds.
    ///
    /// # Errors
    /// A file cannot be read.
    pub async fn skip_erased(
        &self,
        plan: &Arc<dyn ExecutionPlan>,
        erased: &[ErasedRows],
        erasures: usize,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(exec) = plan.downcast_ref::<DataSourceExec>() else {
            return Ok(None);
        };
        let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>() else {
            return Ok(None);
        };
        if config
            .file_source()
            .downcast_ref::<ParquetSource>()
            .is_none()
            || config.object_store_url != ObjectStoreUrl::local_filesystem()
            // Files holding columns under other names than the table's (Iceberg field
            // ids, Delta column mapping): only the scan's own mapping finds them.
            || config.expr_adapter_factory.is_some()
        {
            return Ok(None);
        }
        let table_schema = config.file_source().table_schema();
        let file_schema = table_schema.file_schema();
        let rules: Vec<ErasedRows> = erased
            .iter()
            .filter(|r| table_schema.table_schema().index_of(&r.column).is_ok())
            .cloned()
            .collect();
        if rules.is_empty() {
            return Ok(Some(Arc::clone(plan)));
        }
        if rules
            .iter()
            .any(|r| file_schema.index_of(&r.column).is_err())
        {
            return Ok(None);
        }
        let columns: Vec<&str> = rules.iter().map(|r| r.column.as_str()).collect();
        let columns = format!("{columns:?}");
        let key = |file: &PartitionedFile| FileKey {
            path: file.object_meta.location.to_string(),
            size: file.object_meta.size,
            modified_ns: file
                .object_meta
                .last_modified
                .timestamp_nanos_opt()
                .unwrap_or_default(),
            erasures,
            columns: columns.clone(),
        };
        let keys: Vec<FileKey> = config
            .file_groups
            .iter()
            .flat_map(FileGroup::iter)
            .map(key)
            .collect();
        // What this scan uses is taken from the shared map once: another scan may
        // change the map meanwhile.
        let mut ours: HashMap<FileKey, Option<Arc<RowSelection>>> = HashMap::new();
        let mut missing: HashSet<FileKey> = HashSet::new();
        {
            let known = self.files.lock().map_err(|_| poisoned())?;
            for k in keys {
                match known.get(&k) {
                    Some(rows) => {
                        ours.insert(k, rows.clone());
                    }
                    None => {
                        missing.insert(k);
                    }
                }
            }
        }
        if !missing.is_empty() {
            let found = tokio::task::spawn_blocking(move || {
                missing
                    .into_iter()
                    .map(|k| {
                        let rows = erased_rows(&PathBuf::from(format!("/{}", k.path)), &rules)?;
                        Ok((k, rows.map(Arc::new)))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .await
            .map_err(|e| DataFusionError::Execution(format!("finding erased rows: {e}")))??;
            let mut known = self.files.lock().map_err(|_| poisoned())?;
            // Positions under fewer erasures are not asked for by new queries.
            known.retain(|k, _| k.erasures >= erasures);
            known.extend(found.iter().cloned());
            ours.extend(found);
        }
        let mut erased_any = false;
        let groups: Vec<FileGroup> = config
            .file_groups
            .iter()
            .map(|group| {
                let mut group_erased = false;
                let files = group
                    .iter()
                    .map(|file| match ours.get(&key(file)) {
                        Some(Some(rows)) => {
                            group_erased = true;
                            // With the rows a deletion vector already leaves out.
                            Ok(with_kept_rows(file.clone(), rows.as_ref().clone()))
                        }
                        Some(None) => Ok(file.clone()),
                        None => Err(DataFusionError::Internal(
                            "a file's erased rows were not looked for".into(),
                        )),
                    })
                    .collect::<Result<Vec<PartitionedFile>>>()?;
                erased_any |= group_erased;
                let mut out = FileGroup::new(files);
                if let Some(s) = group.file_statistics(None) {
                    let s = if group_erased {
                        s.clone().to_inexact()
                    } else {
                        s.clone()
                    };
                    out = out.with_statistics(Arc::new(s));
                }
                Ok(out)
            })
            .collect::<Result<_>>()?;
        let statistics = if erased_any {
            config.statistics().to_inexact()
        } else {
            config.statistics()
        };
        let config = FileScanConfigBuilder::from(config.clone())
            .with_file_groups(groups)
            .with_statistics(statistics)
            .build();
        Ok(Some(DataSourceExec::from_data_source(config)))
    }
}

/// The rows of the Parquet file at `path` that `rules` hide, as the rows to read; `None`
/// when it has none.
fn erased_rows(path: &std::path::Path, rules: &[ErasedRows]) -> Result<Option<RowSelection>> {
    let file = File::open(path)
        .map_err(|e| DataFusionError::Execution(format!("{}: {e}", path.display())))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let schema = Arc::clone(builder.schema());
    let roots: Vec<usize> = rules
        .iter()
        .filter_map(|r| schema.index_of(&r.column).ok())
        .collect();
    if roots.is_empty() {
        return Ok(None);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()?;
    let mut kept: Vec<BooleanArray> = Vec::new();
    let mut erased_any = false;
    for batch in reader {
        let batch = batch?;
        let Some(keep) = keep_rows(rules, &batch.schema())? else {
            return Ok(None);
        };
        let keep = keep.evaluate(&batch)?.into_array(batch.num_rows())?;
        let keep = keep
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| DataFusionError::Internal("a row test that is not boolean".into()))?
            .clone();
        erased_any |= keep.true_count() < keep.len();
        kept.push(keep);
    }
    Ok(erased_any.then(|| RowSelection::from_filters(&kept)))
}

fn poisoned() -> DataFusionError {
    DataFusionError::Internal("the erased row index is unavailable".into())
}

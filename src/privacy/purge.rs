//! Purge: rewrites the lake's Parquet files of `[[privacy.pii_tables]]` without the rows
//! of erased persons, then records the requests as purged. Each file is replaced
//! atomically (a hidden temporary file in the same folder, fsync, rename over the old
//! one, fsync of the folder), so a crash at any point leaves every file either whole and
//! old or whole and new; a purge run again finishes the job. Files without such rows are
//! not touched.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::error::DataFusionError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::guarded_table::{keep_rows, ErasedRows};

/// What a purge did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Files rewritten.
    pub files: u64,
    /// Rows removed.
    pub rows: u64,
    /// Tables (`lake.name`) that hold erased rows but could not be rewritten, and why.
    pub skipped: Vec<String>,
}

/// The hidden name a file is rewritten under before it replaces the file.
fn temp_name(file: &Path) -> PathBuf {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    file.with_file_name(format!(".{name}.purge-tmp"))
}

/// Removes the temporary files a crashed purge left in the folders of `files`.
fn remove_leftovers(files: &[PathBuf]) {
    let mut folders: Vec<&Path> = files.iter().filter_map(|f| f.parent()).collect();
    folders.sort_unstable();
    folders.dedup();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".purge-tmp") {
                if let Err(e) = std::fs::remove_file(entry.path()) {
                    tracing::warn!(file = %entry.path().display(), error = %e, "purge: cannot remove a leftover temporary file");
                }
            }
        }
    }
}

/// Every batch of the Parquet file `path` (tests check purged files with it).
///
/// # Errors
/// The file is not whole Parquet.
pub fn read_parquet_file(path: &Path) -> Result<Vec<RecordBatch>, DataFusionError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// Rewrites `file` without the rows `erased` names; the number of rows removed.
fn purge_file(file: &Path, erased: &[ErasedRows]) -> Result<u64, DataFusionError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(file)?)?;
    let schema = Arc::clone(builder.schema());
    let compression = builder
        .metadata()
        .row_groups()
        .first()
        .and_then(|g| g.columns().first())
        .map(|c| c.compression());
    let Some(keep) = keep_rows(erased, &schema)? else {
        return Ok(0);
    };
    let mut kept = Vec::new();
    let mut removed = 0u64;
    for batch in builder.build()? {
        let batch = batch?;
        let mask = keep.evaluate(&batch)?.into_array(batch.num_rows())?;
        let mask = mask.as_boolean();
        let survivors = filter_record_batch(&batch, mask)?;
        removed += (batch.num_rows() - survivors.num_rows()) as u64;
        kept.push(survivors);
    }
    if removed == 0 {
        return Ok(0);
    }
    let temp = temp_name(file);
    let written = (|| -> Result<(), DataFusionError> {
        let mut props = WriterProperties::builder();
        if let Some(c) = compression {
            props = props.set_compression(c);
        }
        let out = File::create(&temp)?;
        let mut writer = ArrowWriter::try_new(out, Arc::clone(&schema), Some(props.build()))?;
        for batch in kept.iter().filter(|b: &&RecordBatch| b.num_rows() > 0) {
            writer.write(batch)?;
        }
        let out = writer.into_inner()?;
        out.sync_all()?;
        std::fs::rename(&temp, file)?;
        crate::durable::sync_dir(file.parent().unwrap_or(Path::new(".")))?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    Ok(removed)
}

/// Rewrites the files of `tables` (table name → its files, or why they cannot be
/// rewritten) without the rows `rules` (table name → erased rows) name.
///
/// # Errors
/// A file cannot be read or written; files already rewritten stay rewritten.
pub fn purge_tables(
    schema: &str,
    tables: &BTreeMap<String, Result<Vec<PathBuf>, String>>,
    rules: &BTreeMap<String, Vec<ErasedRows>>,
) -> Result<Report, DataFusionError> {
    let mut report = Report::default();
    for (table, erased) in rules {
        if erased.iter().all(|e| e.ids.is_empty()) {
            continue;
        }
        match tables.get(table) {
            None => {}
            Some(Err(why)) => report.skipped.push(format!("{schema}.{table}: {why}")),
            Some(Ok(files)) => {
                remove_leftovers(files);
                for file in files {
                    let removed = purge_file(file, erased).map_err(|e| {
                        DataFusionError::Execution(format!("purge {}: {e}", file.display()))
                    })?;
                    if removed > 0 {
                        tracing::info!(file = %file.display(), rows = removed, "purge: rewrote a lake file without erased rows");
                        report.files += 1;
                        report.rows += removed;
                    }
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn write(path: &Path, ids: Vec<i64>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Int64, true),
            Field::new("note", DataType::Utf8, true),
        ]));
        let notes: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(notes)),
            ],
        )
        .unwrap();
        let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn ids(path: &Path) -> Vec<i64> {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        reader
            .flat_map(|b| {
                let b = b.unwrap();
                b.column(0)
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    #[test]
    fn only_the_erased_rows_are_removed_and_clean_files_are_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write(&a, (1..=1000).chain([43, 43]).collect());
        write(&b, (2000..2100).collect());
        std::fs::write(dir.path().join(".a.parquet.purge-tmp"), b"torn").unwrap();
        let before_b = std::fs::metadata(&b).unwrap().modified().unwrap();
        let erased = vec![ErasedRows {
            column: "customer_id".into(),
            ids: Arc::new(vec!["43".into(), "7".into(), "not a number".into()]),
        }];
        let tables = BTreeMap::from([("t".to_owned(), Ok(vec![a.clone(), b.clone()]))]);
        let rules = BTreeMap::from([("t".to_owned(), erased)]);
        let report = purge_tables("lake", &tables, &rules).unwrap();
        assert_eq!((report.files, report.rows), (1, 4));
        let left = ids(&a);
        assert_eq!(left.len(), 998);
        assert!(!left.contains(&43) && !left.contains(&7) && left.contains(&44));
        assert_eq!(std::fs::metadata(&b).unwrap().modified().unwrap(), before_b);
        assert!(!dir.path().join(".a.parquet.purge-tmp").exists());
        let again = purge_tables("lake", &tables, &rules).unwrap();
        assert_eq!((again.files, again.rows), (0, 0));
    }
}

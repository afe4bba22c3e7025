//! Merge-on-read deletes of an Iceberg snapshot, as the rows of each data file they
//! delete. A position delete file names rows by data file path and position; an
//! equality delete file deletes every row whose values in its columns (by field id)
//! equal one of its rows, null matching null. Either applies only to data files older
//! than itself by data sequence number (positions: not newer; equality: strictly older)
//! and an equality delete only within its partition unless its spec is unpartitioned.
//! Equality deletes are turned into positions here, by reading the delete columns of
//! the data files they may apply to, so the Parquet reader skips those rows like any
//! other deleted rows.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use apache_avro::types::Value;
use datafusion::arrow::array::{new_null_array, Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask, PARQUET_FIELD_ID_META_KEY};
use roaring::RoaringTreemap;

use super::Within;
use crate::lake::column_mapping::Column;
use crate::lake::deleted_rows::DeletedRows;
use crate::lake::store::read_object;

/// A data or delete file as a manifest lists it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// As written: an absolute path or URI.
    pub path: String,
    /// Its data sequence number (inherited from its manifest when the entry has none).
    pub sequence: i64,
    pub spec_id: i64,
    /// Its partition tuple (an empty record when its spec is unpartitioned).
    pub partition: Value,
    pub size: u64,
}

/// The delete files of a snapshot.
#[derive(Debug, Default)]
pub struct Deletes {
    pub positions: Vec<Entry>,
    /// With the field ids of the columns compared.
    pub equalities: Vec<(Entry, Vec<i32>)>,
}

impl Deletes {
    /// The rows `self` deletes in each of `data` (by path relative to the table), for
    /// `columns`, the snapshot's schema (to find a column by name in files written
    /// without field ids).
    ///
    /// # Errors
    /// A delete file or a data file's delete columns cannot be read.
    pub async fn rows_deleted(
        &self,
        store: &Arc<dyn ObjectStore>,
        within: &Within<'_>,
        columns: &[Column],
        data: &[Entry],
    ) -> Result<BTreeMap<String, Option<DeletedRows>>, String> {
        let mut files: BTreeMap<String, (RoaringTreemap, Vec<String>)> = BTreeMap::new();
        let by_path: BTreeMap<String, &Entry> = data
            .iter()
            .map(|e| Ok((within.relative(&e.path)?, e)))
            .collect::<Result<_, String>>()?;
        for delete in &self.positions {
            let name = within.relative(&delete.path)?;
            let bytes = read_object(store.as_ref(), &within.path(&delete.path)?).await?;
            let per_file = tokio::task::spawn_blocking(move || deleted_positions(bytes))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{name}: {e}"))?;
            for (data_file, positions) in per_file {
                let data_file = within.relative(&data_file)?;
                // A file the snapshot no longer has (compacted away), or one added
                // after the delete, is not affected.
                if by_path
                    .get(&data_file)
                    .is_some_and(|d| d.sequence <= delete.sequence)
                {
                    let (rows, from) = files.entry(data_file).or_default();
                    *rows |= positions;
                    from.push(name.clone());
                }
            }
        }
        // Each equality delete file's keys, read once; each data file is read once per
        // set of compared columns, against the delete files that apply to it.
        let mut equalities = Vec::new();
        for (delete, ids) in &self.equalities {
            let name = within.relative(&delete.path)?;
            let keys = DeletedKeys::read(store, &within.path(&delete.path)?, delete, ids, columns)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            equalities.push((name, delete, keys));
        }
        for (data_file, entry) in &by_path {
            let mut groups = ByColumns::new();
            for (name, delete, keys) in &equalities {
                let global = matches!(&delete.partition, Value::Record(f) if f.is_empty());
                let applies = entry.sequence < delete.sequence
                    && (global
                        || (entry.spec_id == delete.spec_id
                            && entry.partition == delete.partition));
                if applies && !keys.keys.is_empty() {
                    groups
                        .entry((&keys.ids, &keys.types))
                        .or_default()
                        .push((name, keys));
                }
            }
            for ((ids, types), group) in groups {
                let location = within.path(&entry.path)?;
                let rows = matching_rows(store, &location, entry.size, ids, types, columns, &group)
                    .await
                    .map_err(|e| format!("{data_file}: {e}"))?;
                if !rows.is_empty() {
                    let (all, from) = files.entry(data_file.clone()).or_default();
                    *all |= rows;
                    from.extend(group.iter().map(|(name, _)| (*name).to_owned()));
                }
            }
        }
        let mut deleted: BTreeMap<String, Option<DeletedRows>> =
            by_path.keys().map(|path| (path.clone(), None)).collect();
        for (data_file, (rows, from)) in files {
            deleted.insert(
                data_file,
                Some(DeletedRows {
                    id: format!("deletes {}", from.join(",")),
                    rows: Arc::new(rows),
                    kept: None,
                }),
            );
        }
        Ok(deleted)
    }
}

/// The rows a position delete file names, per data file (as written: absolute paths).
fn deleted_positions(bytes: bytes::Bytes) -> Result<Vec<(String, RoaringTreemap)>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| e.to_string())?;
    let fields = builder.schema().fields().clone();
    let index = |name: &str| {
        fields
            .iter()
            .position(|f| f.name() == name)
            .ok_or_else(|| format!("not a position delete file: no {name} column"))
    };
    let (path_at, pos_at) = (index("file_path")?, index("pos")?);
    let mask = ProjectionMask::roots(builder.parquet_schema(), [path_at, pos_at]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?;
    let mut per_file: Vec<(String, RoaringTreemap)> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let (path_in, pos_in) = if path_at < pos_at { (0, 1) } else { (1, 0) };
        let paths = cast(batch.column(path_in), &DataType::Utf8).map_err(|e| e.to_string())?;
        let positions = cast(batch.column(pos_in), &DataType::Int64).map_err(|e| e.to_string())?;
        let paths = paths.as_string::<i32>();
        let positions = positions.as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            if paths.is_null(row) || positions.is_null(row) {
                return Err("a position delete without a file or position".into());
            }
            let position = u64::try_from(positions.value(row))
                .map_err(|_| "a negative position".to_owned())?;
            let path = paths.value(row);
            // Deletes are sorted by file, then position.
            match per_file.last_mut() {
                Some((last, rows)) if last == path => {
                    rows.insert(position);
                }
                _ => per_file.push((path.to_owned(), std::iter::once(position).collect())),
            }
        }
    }
    Ok(per_file)
}

/// Equality delete files (name, keys) by the columns they compare and their types.
type ByColumns<'a> = BTreeMap<(&'a [i32], &'a [DataType]), Vec<(&'a str, &'a DeletedKeys)>>;

/// The rows of an equality delete file, as keys comparable with a data file's values.
struct DeletedKeys {
    ids: Vec<i32>,
    types: Vec<DataType>,
    /// Rows in the converter's byte form.
    keys: HashSet<Box<[u8]>>,
}

impl DeletedKeys {
    async fn read(
        store: &Arc<dyn ObjectStore>,
        path: &StorePath,
        delete: &Entry,
        ids: &[i32],
        columns: &[Column],
    ) -> Result<Self, String> {
        let batches = read_columns(store, path, delete.size, ids, None, columns).await?;
        let Some(first) = batches.first() else {
            return Ok(Self {
                ids: ids.to_vec(),
                types: Vec::new(),
                keys: HashSet::new(),
            });
        };
        let types: Vec<DataType> = first.iter().map(|c| c.data_type().clone()).collect();
        let converter = converter(&types)?;
        let mut keys = HashSet::new();
        for batch in &batches {
            let rows = converter
                .convert_columns(batch)
                .map_err(|e| e.to_string())?;
            keys.extend(rows.iter().map(|r| Box::<[u8]>::from(r.as_ref())));
        }
        Ok(Self {
            ids: ids.to_vec(),
            types,
            keys,
        })
    }
}

/// The positions of the rows of a data file whose values in columns `ids` (as `types`)
/// are among the keys of one of `deletes` (named for errors). A column the file does
/// not have (added since it was written) is null in all its rows.
async fn matching_rows(
    store: &Arc<dyn ObjectStore>,
    path: &StorePath,
    size: u64,
    ids: &[i32],
    types: &[DataType],
    columns: &[Column],
    deletes: &[(&str, &DeletedKeys)],
) -> Result<RoaringTreemap, String> {
    let names: Vec<&str> = deletes.iter().map(|(name, _)| *name).collect();
    let against = || format!("against {}", names.join(", "));
    let converter = converter(types)?;
    let mut deleted = RoaringTreemap::new();
    let mut position = 0u64;
    let batches = read_columns(store, path, size, ids, Some(types), columns)
        .await
        .map_err(|e| format!("{e} ({})", against()))?;
    for batch in batches {
        let batch = batch
            .iter()
            .zip(types)
            .map(|(column, ty)| cast(column, ty).map_err(|e| e.to_string()))
            .collect::<Result<Vec<ArrayRef>, String>>()?;
        let rows = converter
            .convert_columns(&batch)
            .map_err(|e| format!("{e} ({})", against()))?;
        for (i, row) in rows.iter().enumerate() {
            if deletes.iter().any(|(_, d)| d.keys.contains(row.as_ref())) {
                deleted.insert(position + i as u64);
            }
        }
        position += rows.num_rows() as u64;
    }
    Ok(deleted)
}

fn converter(types: &[DataType]) -> Result<RowConverter, String> {
    RowConverter::new(types.iter().cloned().map(SortField::new).collect())
        .map_err(|e| e.to_string())
}

/// The columns of field ids `ids` of a Parquet file of `size` bytes, in that order,
/// batch by batch; a column is found by its field id, else (a file written without ids)
/// by the names `columns` gives it. Only those column chunks are fetched. With `types`,
/// a column the file does not have reads as nulls of its type; without, it is an error.
async fn read_columns(
    store: &Arc<dyn ObjectStore>,
    path: &StorePath,
    size: u64,
    ids: &[i32],
    types: Option<&[DataType]>,
    columns: &[Column],
) -> Result<Vec<Vec<ArrayRef>>, String> {
    // (`AsyncFileReader` is `Send` already; the reader of a `Box` is without the bound.)
    let reader: Box<dyn AsyncFileReader> = DefaultParquetFileReaderFactory::new(Arc::clone(store))
        .create_reader(
            0,
            PartitionedFile::new(path.to_string(), size),
            None,
            &ExecutionPlanMetricsSet::new(),
        )
        .map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| e.to_string())?;
    let schema = Arc::clone(builder.schema());
    let roots = ids
        .iter()
        .map(|id| match (root_of(&schema, *id, columns), types) {
            (Some(root), _) => Ok(Some(root)),
            (None, Some(_)) => Ok(None),
            (None, None) => Err(format!("no column of field id {id}")),
        })
        .collect::<Result<Vec<Option<usize>>, String>>()?;
    // The projected columns come in file order.
    let mut in_file_order: Vec<usize> = roots.iter().flatten().copied().collect();
    in_file_order.sort_unstable();
    in_file_order.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), in_file_order.iter().copied());
    let stream = builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?;
    let batches: Vec<_> = stream.try_collect().await.map_err(|e| e.to_string())?;
    Ok(batches
        .into_iter()
        .map(|batch| {
            roots
                .iter()
                .enumerate()
                .map(|(i, root)| match root {
                    Some(root) => {
                        let at = in_file_order.iter().position(|r| r == root).unwrap_or(0);
                        Arc::clone(batch.column(at))
                    }
                    None => new_null_array(
                        types.and_then(|t| t.get(i)).unwrap_or(&DataType::Null),
                        batch.num_rows(),
                    ),
                })
                .collect()
        })
        .collect())
}

/// The top-level column of `schema` holding field `id`: by id, or (a file written
/// without ids) by the names `columns` gives it.
fn root_of(schema: &Schema, id: i32, columns: &[Column]) -> Option<usize> {
    let wanted = id.to_string();
    let has_ids = schema
        .fields()
        .iter()
        .any(|f| f.metadata().contains_key(PARQUET_FIELD_ID_META_KEY));
    if has_ids {
        return schema
            .fields()
            .iter()
            .position(|f| f.metadata().get(PARQUET_FIELD_ID_META_KEY) == Some(&wanted));
    }
    let names = columns
        .iter()
        .find(|c| c.field_id == Some(id))
        .map(|c| c.file_names.as_slice())
        .unwrap_or_default();
    names
        .iter()
        .find_map(|n| schema.fields().iter().position(|f| f.name() == n))
}

//! Where an indexed table's rows are and how to read a few of them by row number: the
//! batches of an in-memory table, or one Parquet file read through its page index (only
//! the pages holding the rows are decoded).

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::{concat_batches, interleave};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::Result;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;

use super::index::KeyIndex;

/// The rows of one table version.
#[derive(Debug)]
pub enum Rows {
    /// An in-memory table's batches, in scan order.
    Memory(Vec<RecordBatch>),
    /// One Parquet file.
    Parquet(PathBuf),
}

/// The index of a table version with what reading its rows back needs.
#[derive(Debug)]
pub struct Built {
    pub index: KeyIndex,
    reader: Reader,
}

#[derive(Debug)]
enum Reader {
    /// Batches and the first row number of each.
    Memory {
        batches: Vec<RecordBatch>,
        starts: Vec<u64>,
    },
    Parquet {
        path: PathBuf,
        metadata: ArrowReaderMetadata,
        /// First row number of each row group.
        starts: Vec<u64>,
    },
}

impl Rows {
    /// How many rows there are.
    ///
    /// # Errors
    /// The file's footer cannot be read.
    pub fn count(&self) -> Result<u64> {
        match self {
            Rows::Memory(batches) => Ok(batches.iter().map(|b| b.num_rows() as u64).sum()),
            Rows::Parquet(path) => {
                let metadata =
                    ArrowReaderMetadata::load(&File::open(path)?, ArrowReaderOptions::new())?;
                Ok(metadata.metadata().file_metadata().num_rows().max(0) as u64)
            }
        }
    }

    /// Reads the key column (`key`: its index in the schema) and indexes it.
    ///
    /// # Errors
    /// The file cannot be read, or the table is too large to index.
    pub fn build(&self, key: usize) -> Result<Built> {
        match self {
            Rows::Memory(batches) => {
                let index = KeyIndex::build(batches.iter().map(|b| b.column(key)))?;
                let mut starts = Vec::with_capacity(batches.len());
                let mut row = 0u64;
                for b in batches {
                    starts.push(row);
                    row += b.num_rows() as u64;
                }
                Ok(Built {
                    index,
                    reader: Reader::Memory {
                        batches: batches.clone(),
                        starts,
                    },
                })
            }
            Rows::Parquet(path) => {
                let metadata = ArrowReaderMetadata::load(
                    &File::open(path)?,
                    ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional),
                )?;
                let mask = ProjectionMask::roots(metadata.parquet_schema(), [key]);
                let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                    File::open(path)?,
                    metadata.clone(),
                )
                .with_projection(mask)
                .with_batch_size(64 * 1024)
                .build()?;
                let mut keys: Vec<ArrayRef> = Vec::new();
                for batch in reader {
                    keys.push(Arc::clone(batch?.column(0)));
                }
                let index = KeyIndex::build(keys.iter())?;
                drop(keys);
                let mut starts = Vec::new();
                let mut row = 0u64;
                for rg in metadata.metadata().row_groups() {
                    starts.push(row);
                    row += rg.num_rows() as u64;
                }
                Ok(Built {
                    index,
                    reader: Reader::Parquet {
                        path: path.clone(),
                        metadata,
                        starts,
                    },
                })
            }
        }
    }
}

impl Built {
    /// The rows numbered `rows` (ascending), with the columns of `schema` (the table's
    /// schema projected by `projection`).
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn read(
        &self,
        rows: &[u32],
        schema: &SchemaRef,
        projection: Option<&Vec<usize>>,
    ) -> Result<RecordBatch> {
        let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
        if rows.is_empty() {
            return Ok(RecordBatch::try_new_with_options(
                Arc::clone(schema),
                schema
                    .fields()
                    .iter()
                    .map(|f| datafusion::arrow::array::new_empty_array(f.data_type()))
                    .collect(),
                &options,
            )?);
        }
        match &self.reader {
            Reader::Memory { batches, starts } => {
                // Only the batches holding the rows take part, and text is copied out of
                // their shared buffers: the result owns a few bytes, not references to
                // the whole table's string data (which every later copy would carry).
                let mut used: Vec<usize> = Vec::new();
                let at: Vec<(usize, usize)> = rows
                    .iter()
                    .map(|&r| {
                        let b = starts.partition_point(|&s| s <= u64::from(r)) - 1;
                        if used.last() != Some(&b) {
                            used.push(b);
                        }
                        (used.len() - 1, (u64::from(r) - starts[b]) as usize)
                    })
                    .collect();
                let width = batches.first().map_or(0, RecordBatch::num_columns);
                let columns: Vec<usize> = match projection {
                    Some(p) => p.clone(),
                    None => (0..width).collect(),
                };
                let arrays = columns
                    .iter()
                    .map(|&c| {
                        let parts: Vec<&dyn Array> = used
                            .iter()
                            .map(|&b| batches[b].column(c).as_ref())
                            .collect();
                        interleave(&parts, &at).map(compact)
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(RecordBatch::try_new_with_options(
                    Arc::clone(schema),
                    arrays,
                    &options,
                )?)
            }
            Reader::Parquet {
                path,
                metadata,
                starts,
            } => {
                let (groups, selection) = selection(metadata, starts, rows);
                // The reader gives the chosen columns in the file's order: each wanted
                // column's place among them.
                let (mask, places) = match projection {
                    Some(p) => {
                        let mut in_file_order = p.clone();
                        in_file_order.sort_unstable();
                        let places: Vec<usize> = p
                            .iter()
                            .map(|c| in_file_order.partition_point(|x| x < c))
                            .collect();
                        let mask = ProjectionMask::roots(metadata.parquet_schema(), in_file_order);
                        (mask, Some(places))
                    }
                    None => (ProjectionMask::all(), None),
                };
                let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                    File::open(path)?,
                    metadata.clone(),
                )
                .with_row_groups(groups)
                .with_row_selection(selection)
                .with_projection(mask)
                .with_batch_size(rows.len())
                .build()?;
                let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
                let batch = concat_batches(&reader_schema(schema, &batches), &batches)?;
                let columns = match places {
                    Some(places) => places
                        .iter()
                        .map(|&i| Arc::clone(batch.column(i)))
                        .collect(),
                    None => batch.columns().to_vec(),
                };
                Ok(RecordBatch::try_new_with_options(
                    Arc::clone(schema),
                    columns,
                    &options,
                )?)
            }
        }
    }
}

/// The row groups holding `rows` (ascending row numbers) and a selection of exactly
/// those rows over the chosen groups read one after another.
fn selection(
    metadata: &ArrowReaderMetadata,
    starts: &[u64],
    rows: &[u32],
) -> (Vec<usize>, RowSelection) {
    let mut groups: Vec<usize> = Vec::new();
    let mut selectors: Vec<RowSelector> = Vec::new();
    // Rows of the chosen groups before the current one, and the next row not yet
    // skipped or selected (both counted in the chosen groups).
    let mut base = 0u64;
    let mut cursor = 0u64;
    let group_rows = |g: usize| metadata.metadata().row_group(g).num_rows() as u64;
    for &r in rows {
        let r = u64::from(r);
        let g = starts.partition_point(|&s| s <= r) - 1;
        if groups.last() != Some(&g) {
            if let Some(&previous) = groups.last() {
                base += group_rows(previous);
                skip_to(&mut selectors, &mut cursor, base);
            }
            groups.push(g);
        }
        skip_to(&mut selectors, &mut cursor, base + (r - starts[g]));
        selectors.push(RowSelector::select(1));
        cursor += 1;
    }
    if let Some(&last) = groups.last() {
        skip_to(&mut selectors, &mut cursor, base + group_rows(last));
    }
    (groups, RowSelection::from(selectors))
}

fn skip_to(selectors: &mut Vec<RowSelector>, cursor: &mut u64, to: u64) {
    if to > *cursor {
        selectors.push(RowSelector::skip((to - *cursor) as usize));
        *cursor = to;
    }
}

/// A view array with its own small buffers instead of views into the source's.
fn compact(array: ArrayRef) -> ArrayRef {
    match array.data_type() {
        DataType::Utf8View => Arc::new(array.as_string_view().gc()),
        DataType::BinaryView => Arc::new(array.as_binary_view().gc()),
        _ => array,
    }
}

fn reader_schema(wanted: &SchemaRef, batches: &[RecordBatch]) -> SchemaRef {
    batches
        .first()
        .map_or_else(|| Arc::clone(wanted), RecordBatch::schema)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    fn table(rows: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values((0..rows).map(|i| i * 3))),
                Arc::new(StringArray::from_iter(
                    (0..rows).map(|i| (i % 7 != 0).then(|| format!("n{i}"))),
                )),
            ],
        )
        .expect("batch")
    }

    fn ids(batch: &RecordBatch) -> Vec<i64> {
        batch
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec()
    }

    #[test]
    fn reads_rows_across_row_groups_and_pages_of_a_parquet_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.parquet");
        let batch = table(1000);
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(130))
            .set_data_page_row_count_limit(16)
            .set_write_batch_size(16)
            .build();
        let mut w = ArrowWriter::try_new(
            File::create(&path).expect("create"),
            batch.schema(),
            Some(props),
        )
        .expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let built = Rows::Parquet(path).build(0).expect("index");
        let schema = batch.schema();
        for rows in [
            vec![0u32],
            vec![129, 130],
            vec![5, 6, 7, 500, 999],
            vec![998, 999],
            (0..1000).step_by(97).collect(),
        ] {
            let got = built.read(&rows, &schema, None).expect("read");
            assert_eq!(
                ids(&got),
                rows.iter().map(|&r| i64::from(r) * 3).collect::<Vec<_>>()
            );
            let names = got.column(1).as_string::<i32>();
            for (i, &r) in rows.iter().enumerate() {
                assert_eq!(names.is_null(i), r % 7 == 0);
            }
        }
        let projected = Arc::new(schema.project(&[1]).expect("project"));
        let got = built
            .read(&[131], &projected, Some(&vec![1]))
            .expect("read");
        assert_eq!(got.column(0).as_string::<i32>().value(0), "n131");
        // Columns asked for out of the file's order come in the order asked for.
        let reversed = Arc::new(schema.project(&[1, 0]).expect("project"));
        let got = built
            .read(&[131], &reversed, Some(&vec![1, 0]))
            .expect("read");
        assert_eq!(got.column(0).as_string::<i32>().value(0), "n131");
        assert_eq!(ids(&got.project(&[1]).expect("project")), [393]);
        assert_eq!(built.read(&[], &schema, None).expect("none").num_rows(), 0);
    }

    #[test]
    fn rows_read_from_memory_own_their_text() {
        let names: ArrayRef =
            Arc::new(datafusion::arrow::array::StringViewArray::from_iter_values(
                (0..10_000).map(|i| format!("a name long enough to live in the data buffer {i}")),
            ));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "name",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![names]).expect("batch");
        let built = Rows::Memory(vec![batch.slice(0, 5000), batch.slice(5000, 5000)])
            .build(0)
            .expect("index");
        let got = built.read(&[7000], &schema, None).expect("read");
        assert_eq!(
            got.column(0).as_string_view().value(0),
            "a name long enough to live in the data buffer 7000"
        );
        assert!(
            got.get_array_memory_size() < 4096,
            "{}",
            got.get_array_memory_size()
        );
    }

    #[test]
    fn reads_rows_across_in_memory_batches() {
        let whole = table(100);
        let batches = vec![whole.slice(0, 40), whole.slice(40, 60)];
        let built = Rows::Memory(batches).build(0).expect("index");
        let got = built
            .read(&[1, 39, 40, 99], &whole.schema(), None)
            .expect("read");
        assert_eq!(ids(&got), vec![3, 117, 120, 297]);
        assert_eq!(
            built
                .index
                .candidates(&[super::super::index::Key::Int(120)]),
            vec![40]
        );
    }
}

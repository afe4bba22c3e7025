//! The membership diff of one refresh, streamed: the new members arrive sorted by their
//! key as text, the previous members are read back from their file (written in the same
//! order), and one merge pass writes the new members file (with `entered_at` carried
//! over for those who stay) and the change file (`entered` / `exited`). Memory holds one
//! batch of each side, whatever the audience's size.

use std::cmp::Ordering;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::error::{DataFusionError, Result};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};

/// The column the refresh query adds: the key as text, which the members are sorted by.
pub const KEY_TEXT: &str = "__datapunk_key";
/// The column datapunk adds to the members: when each member entered.
pub const ENTERED_AT: &str = "entered_at";

const CHANGE_BATCH: usize = 8_192;

/// Timestamps as the session shows them (`timestamptz`).
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
}

/// The schema of change files and of `datapunk.audience_changes`.
pub fn changes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("audience", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("change", DataType::Utf8, false),
        Field::new("at", timestamp_type(), false),
        Field::new("refresh_id", DataType::Int64, false),
    ]))
}

/// What one refresh is.
#[derive(Debug, Clone)]
pub struct Refresh<'a> {
    pub audience: &'a str,
    pub key_column: &'a str,
    pub refresh_id: i64,
    pub now_us: i64,
}

/// What a diff found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub members: u64,
    pub entered: u64,
    pub exited: u64,
}

/// The previous members, read back in key order.
struct Previous {
    batches: ParquetRecordBatchReader,
    keys: StringArray,
    entered: TimestampMicrosecondArray,
    row: usize,
}

impl Previous {
    fn open(path: &Path, key_column: &str) -> Result<Option<Self>> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
        let schema = builder.schema();
        let (Ok(key), Ok(entered)) = (schema.index_of(key_column), schema.index_of(ENTERED_AT))
        else {
            return Err(DataFusionError::Execution(format!(
                "{} has no {key_column} or {ENTERED_AT} column",
                path.display()
            )));
        };
        let mask = ProjectionMask::roots(builder.parquet_schema(), [key, entered]);
        let batches = builder.with_projection(mask).build()?;
        let mut previous = Self {
            batches,
            keys: StringArray::from(Vec::<String>::new()),
            entered: TimestampMicrosecondArray::from(Vec::<i64>::new()),
            row: 0,
        };
        previous.load()?;
        Ok(Some(previous))
    }

    /// Moves to the next non-empty batch, if any.
    fn load(&mut self) -> Result<()> {
        self.row = 0;
        for batch in self.batches.by_ref() {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            let key_index = usize::from(batch.schema().field(0).name() == ENTERED_AT);
            self.keys = cast(batch.column(key_index), &DataType::Utf8)?
                .as_string::<i32>()
                .clone();
            self.entered = batch
                .column(1 - key_index)
                .as_primitive::<TimestampMicrosecondType>()
                .clone();
            return Ok(());
        }
        self.keys = StringArray::from(Vec::<String>::new());
        Ok(())
    }

    fn key(&self) -> Option<&str> {
        (self.row < self.keys.len()).then(|| self.keys.value(self.row))
    }

    fn entered_at(&self) -> i64 {
        self.entered.value(self.row)
    }

    fn advance(&mut self) -> Result<()> {
        self.row += 1;
        if self.row >= self.keys.len() {
            self.load()?;
        }
        Ok(())
    }
}

/// The change file, written in batches, created on the first change.
struct ChangeLog<'a> {
    path: &'a Path,
    refresh: &'a Refresh<'a>,
    writer: Option<ArrowWriter<File>>,
    keys: StringBuilder,
    kinds: StringBuilder,
    counts: Counts,
}

impl<'a> ChangeLog<'a> {
    fn new(path: &'a Path, refresh: &'a Refresh<'a>) -> Self {
        Self {
            path,
            refresh,
            writer: None,
            keys: StringBuilder::new(),
            kinds: StringBuilder::new(),
            counts: Counts::default(),
        }
    }

    fn push(&mut self, key: &str, entered: bool) -> Result<()> {
        self.keys.append_value(key);
        self.kinds
            .append_value(if entered { "entered" } else { "exited" });
        if entered {
            self.counts.entered += 1;
        } else {
            self.counts.exited += 1;
        }
        if self.keys.len() >= CHANGE_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let n = self.keys.len();
        if n == 0 {
            return Ok(());
        }
        let r = self.refresh;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![r.audience; n])),
            Arc::new(self.keys.finish()),
            Arc::new(self.kinds.finish()),
            Arc::new(
                TimestampMicrosecondArray::from(vec![r.now_us; n])
                    .with_timezone("+00:00".to_owned()),
            ),
            Arc::new(Int64Array::from(vec![r.refresh_id; n])),
        ];
        let batch = RecordBatch::try_new(changes_schema(), columns)?;
        let writer = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert(ArrowWriter::try_new(
                File::create(self.path)?,
                changes_schema(),
                None,
            )?),
        };
        writer.write(&batch)?;
        Ok(())
    }

    /// Closes and syncs the file; whether there is one.
    fn finish(mut self) -> Result<(bool, Counts)> {
        self.flush()?;
        match self.writer {
            Some(writer) => {
                writer.into_inner()?.sync_all()?;
                Ok((true, self.counts))
            }
            None => Ok((false, self.counts)),
        }
    }
}

/// Diffs the new members (`next` yields them sorted by [`KEY_TEXT`], their last column)
/// against the previous members file, writing `members_path` and `changes_path` (synced;
/// the change file only when something changed). Returns the counts and whether a
/// change file was written.
///
/// # Errors
/// The query fails, a key is NULL or repeated, or a file cannot be read or written.
pub fn diff(
    refresh: &Refresh,
    previous: Option<(&Path, &str)>,
    schema: &SchemaRef,
    mut next: impl FnMut() -> Option<Result<RecordBatch>>,
    members_path: &Path,
    changes_path: &Path,
) -> Result<(Counts, bool)> {
    let mut previous = match previous {
        Some((path, key_column)) => Previous::open(path, key_column)?,
        None => None,
    };
    let key_text = schema.index_of(KEY_TEXT)?;
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != KEY_TEXT)
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(ENTERED_AT, timestamp_type(), false));
    let members_schema = Arc::new(Schema::new(fields));
    // Small pages: a point lookup (`crate::lookup`) decodes one page per column.
    let lookup_pages = parquet::file::properties::WriterProperties::builder()
        .set_data_page_row_count_limit(4096)
        .build();
    let mut members = ArrowWriter::try_new(
        File::create(members_path)?,
        Arc::clone(&members_schema),
        Some(lookup_pages),
    )?;
    let mut changes = ChangeLog::new(changes_path, refresh);
    let mut last_key = String::new();
    let mut member_count = 0u64;
    while let Some(batch) = next() {
        let batch = batch?;
        let keys = batch.column(key_text).as_string::<i32>();
        let mut entered_at = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            if keys.is_null(row) {
                return Err(DataFusionError::Execution(format!(
                    "audience {}: the key column {} is NULL in a member row",
                    refresh.audience, refresh.key_column
                )));
            }
            let key = keys.value(row);
            if member_count > 0 {
                match last_key.as_str().cmp(key) {
                    Ordering::Less => {}
                    Ordering::Equal => {
                        return Err(DataFusionError::Execution(format!(
                            "audience {}: key {key} ({}) appears in more than one row; an \
                             audience has one row per member",
                            refresh.audience, refresh.key_column
                        )))
                    }
                    Ordering::Greater => {
                        return Err(DataFusionError::Internal(
                            "audience members arrived out of key order".into(),
                        ))
                    }
                }
            }
            last_key.clear();
            last_key.push_str(key);
            member_count += 1;
            let mut stayed = None;
            if let Some(prev) = previous.as_mut() {
                while let Some(prev_key) = prev.key() {
                    match prev_key.cmp(key) {
                        Ordering::Less => {
                            changes.push(prev_key, false)?;
                            prev.advance()?;
                        }
                        Ordering::Equal => {
                            stayed = Some(prev.entered_at());
                            prev.advance()?;
                            break;
                        }
                        Ordering::Greater => break,
                    }
                }
            }
            entered_at.push(match stayed {
                Some(at) => at,
                None => {
                    changes.push(key, true)?;
                    refresh.now_us
                }
            });
        }
        let mut columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != key_text)
            .map(|(_, c)| Arc::clone(c))
            .collect();
        columns.push(Arc::new(
            TimestampMicrosecondArray::from(entered_at).with_timezone("+00:00".to_owned()),
        ));
        members.write(&RecordBatch::try_new(Arc::clone(&members_schema), columns)?)?;
    }
    if let Some(prev) = previous.as_mut() {
        while let Some(prev_key) = prev.key() {
            changes.push(prev_key, false)?;
            prev.advance()?;
        }
    }
    members.into_inner()?.sync_all()?;
    let (written, mut counts) = changes.finish()?;
    counts.members = member_count;
    Ok((counts, written))
}

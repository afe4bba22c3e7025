//! The membership diff of one refresh, streamed: the new members arrive sorted by their
//! key, the previous members are read back in the same order (their file was written in
//! it), and one merge pass writes the new members file (with `entered_at` carried over
//! for those who stay) and the change file (`entered` / `exited`, the key as text). Keys
//! of both sides are compared in arrow's row format, whose byte order is the sort order
//! of the key's type. Each file is encoded on a thread of its own beside the merge.
//! Memory holds a few batches of each side, whatever the audience's size.

use std::cmp::Ordering;
use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use datafusion::arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::error::{DataFusionError, Result};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::file::properties::WriterProperties;

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

/// Batches holding the previous members' key and [`ENTERED_AT`] columns (in any order,
/// found by name), sorted by the key.
pub type PreviousMembers = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// The previous members read straight from their file (written in key order), and the
/// type their key has there.
///
/// # Errors
/// The file cannot be read or lacks one of the two columns.
pub fn previous_members_file(path: &Path, key_column: &str) -> Result<(DataType, PreviousMembers)> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
    let schema = builder.schema();
    let (Ok(key), Ok(entered)) = (schema.index_of(key_column), schema.index_of(ENTERED_AT)) else {
        return Err(DataFusionError::Execution(format!(
            "{} has no {key_column} or {ENTERED_AT} column",
            path.display()
        )));
    };
    let key_type = schema.field(key).data_type().clone();
    let mask = ProjectionMask::roots(builder.parquet_schema(), [key, entered]);
    let batches = builder.with_projection(mask).build()?;
    Ok((
        key_type,
        Box::new(batches.map(|b| b.map_err(DataFusionError::from))),
    ))
}

/// One batch's keys: comparable bytes per row, and their text once a change needs it.
struct KeyBatch {
    keys: ArrayRef,
    rows: Rows,
    text: Option<StringArray>,
}

impl KeyBatch {
    fn new(keys: ArrayRef, converter: &RowConverter) -> Result<Self> {
        let rows = converter.convert_columns(&[Arc::clone(&keys)])?;
        Ok(Self {
            keys,
            rows,
            text: None,
        })
    }

    fn empty(converter: &RowConverter, key_type: &DataType) -> Result<Self> {
        Self::new(
            datafusion::arrow::array::new_empty_array(key_type),
            converter,
        )
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn bytes(&self, row: usize) -> &[u8] {
        self.rows.row(row).data()
    }

    fn text(&mut self, row: usize) -> Result<&str> {
        let text = match self.text.take() {
            Some(text) => text,
            None => cast(&self.keys, &DataType::Utf8)?
                .as_string::<i32>()
                .clone(),
        };
        Ok(self.text.insert(text).value(row))
    }
}

/// The previous members, read back in key order.
struct Previous<'a> {
    batches: PreviousMembers,
    key_column: &'a str,
    converter: &'a RowConverter,
    key_type: &'a DataType,
    keys: KeyBatch,
    entered: TimestampMicrosecondArray,
    row: usize,
}

impl<'a> Previous<'a> {
    fn open(
        batches: PreviousMembers,
        key_column: &'a str,
        converter: &'a RowConverter,
        key_type: &'a DataType,
    ) -> Result<Self> {
        let mut previous = Self {
            batches,
            key_column,
            converter,
            key_type,
            keys: KeyBatch::empty(converter, key_type)?,
            entered: TimestampMicrosecondArray::from(Vec::<i64>::new()),
            row: 0,
        };
        previous.load()?;
        Ok(previous)
    }

    /// Moves to the next non-empty batch, if any.
    fn load(&mut self) -> Result<()> {
        self.row = 0;
        for batch in self.batches.by_ref() {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            let schema = batch.schema();
            // Of the key's current type: a previous file of another type comes sorted
            // and cast by the engine (`Audiences::previous_members`).
            let keys = Arc::clone(batch.column(schema.index_of(self.key_column)?));
            self.keys = KeyBatch::new(keys, self.converter)?;
            self.entered = batch
                .column(schema.index_of(ENTERED_AT)?)
                .as_primitive::<TimestampMicrosecondType>()
                .clone();
            return Ok(());
        }
        self.keys = KeyBatch::empty(self.converter, self.key_type)?;
        Ok(())
    }

    fn has_key(&self) -> bool {
        self.row < self.keys.len()
    }

    fn key(&self) -> &[u8] {
        self.keys.bytes(self.row)
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

/// A Parquet file encoded and written on a thread of its own; batches reach it through
/// a short queue.
struct WriterThread {
    batches: Option<SyncSender<RecordBatch>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl WriterThread {
    fn spawn(path: &Path, schema: SchemaRef, properties: Option<WriterProperties>) -> Result<Self> {
        let mut writer = ArrowWriter::try_new(File::create(path)?, schema, properties)?;
        let (batches, queue) = sync_channel::<RecordBatch>(4);
        let thread = std::thread::Builder::new()
            .name("datapunk-parquet-writer".into())
            .spawn(move || {
                for batch in queue {
                    writer.write(&batch)?;
                }
                writer.into_inner()?.sync_all()?;
                Ok(())
            })?;
        Ok(Self {
            batches: Some(batches),
            thread: Some(thread),
        })
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let sent = match &self.batches {
            Some(batches) => batches.send(batch).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The thread stopped on an error: that error is the answer.
        self.join()?;
        Err(DataFusionError::Internal(
            "the Parquet writer thread stopped".into(),
        ))
    }

    /// Waits for the file to be written and synced.
    fn finish(mut self) -> Result<()> {
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        self.batches = None;
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(written)) => written,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for WriterThread {
    /// A diff that failed still waits for its writer: the caller removes the file next.
    fn drop(&mut self) {
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The change file, written in batches, created on the first change.
struct ChangeLog<'a> {
    path: &'a Path,
    refresh: &'a Refresh<'a>,
    writer: Option<WriterThread>,
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
            None => self
                .writer
                .insert(WriterThread::spawn(self.path, changes_schema(), None)?),
        };
        writer.write(batch)
    }

    /// Closes and syncs the file; whether there is one.
    fn finish(mut self) -> Result<(bool, Counts)> {
        self.flush()?;
        match self.writer.take() {
            Some(writer) => {
                writer.finish()?;
                Ok((true, self.counts))
            }
            None => Ok((false, self.counts)),
        }
    }
}

/// Diffs the new members (`next` yields them sorted by the key column) against the
/// previous members, writing `members_path` and `changes_path` (synced; the change file
/// only when something changed). Returns the counts and whether a change file was
/// written.
///
/// # Errors
/// The query fails, a key is NULL or repeated, or a file cannot be read or written.
pub fn diff(
    refresh: &Refresh,
    previous: Option<PreviousMembers>,
    schema: &SchemaRef,
    mut next: impl FnMut() -> Option<Result<RecordBatch>>,
    members_path: &Path,
    changes_path: &Path,
) -> Result<(Counts, bool)> {
    let key_index = schema.index_of(refresh.key_column)?;
    let key_type = schema.field(key_index).data_type().clone();
    let converter = RowConverter::new(vec![SortField::new(key_type.clone())])?;
    let mut previous = match previous {
        Some(batches) => Some(Previous::open(
            batches,
            refresh.key_column,
            &converter,
            &key_type,
        )?),
        None => None,
    };
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(ENTERED_AT, timestamp_type(), false));
    let members_schema = Arc::new(Schema::new(fields));
    let lookup_pages = crate::lookup::parquet_writer().build();
    let mut members = WriterThread::spawn(
        members_path,
        Arc::clone(&members_schema),
        Some(lookup_pages),
    )?;
    let mut changes = ChangeLog::new(changes_path, refresh);
    let mut last_key: Vec<u8> = Vec::new();
    let mut member_count = 0u64;
    while let Some(batch) = next() {
        let batch = batch?;
        let mut keys = KeyBatch::new(Arc::clone(batch.column(key_index)), &converter)?;
        if keys.keys.null_count() > 0 {
            return Err(DataFusionError::Execution(format!(
                "audience {}: the key column {} is NULL in a member row",
                refresh.audience, refresh.key_column
            )));
        }
        let mut entered_at = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            if member_count > 0 {
                match last_key.as_slice().cmp(keys.bytes(row)) {
                    Ordering::Less => {}
                    Ordering::Equal => {
                        return Err(DataFusionError::Execution(format!(
                            "audience {}: key {} ({}) appears in more than one row; an \
                             audience has one row per member",
                            refresh.audience,
                            keys.text(row)?,
                            refresh.key_column
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
            last_key.extend_from_slice(keys.bytes(row));
            member_count += 1;
            let mut stayed = None;
            if let Some(prev) = previous.as_mut() {
                while prev.has_key() {
                    match prev.key().cmp(keys.bytes(row)) {
                        Ordering::Less => {
                            let row = prev.row;
                            changes.push(prev.keys.text(row)?, false)?;
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
                    changes.push(keys.text(row)?, true)?;
                    refresh.now_us
                }
            });
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.push(Arc::new(
            TimestampMicrosecondArray::from(entered_at).with_timezone("+00:00".to_owned()),
        ));
        members.write(RecordBatch::try_new(Arc::clone(&members_schema), columns)?)?;
    }
    if let Some(prev) = previous.as_mut() {
        while prev.has_key() {
            let row = prev.row;
            changes.push(prev.keys.text(row)?, false)?;
            prev.advance()?;
        }
    }
    members.finish()?;
    let (written, mut counts) = changes.finish()?;
    counts.members = member_count;
    Ok((counts, written))
}

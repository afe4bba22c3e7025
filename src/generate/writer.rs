//! Streams rows of one table into numbered zstd Parquet files (`part-00000.parquet`, ...).
//! A file is written under a `_`-prefixed name and renamed when complete, so a lake being
//! served never sees a half-written file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

const BATCH_ROWS: usize = 65_536;

/// One cell.
#[derive(Debug, Clone)]
pub enum Value {
    I32(i32),
    OptI32(Option<i32>),
    I64(i64),
    OptI64(Option<i64>),
    Str(Option<String>),
    /// Cents, written as decimal(10,2).
    Money(Option<i64>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01 00:00:00.
    Ts(i64),
    Bool(bool),
}

/// A column builder matching one schema field.
#[derive(Debug)]
pub enum Column {
    I32(Int32Builder),
    I64(Int64Builder),
    Str(StringBuilder),
    Money(Decimal128Builder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Bool(BooleanBuilder),
}

impl Column {
    fn for_type(t: &DataType) -> Result<Self> {
        Ok(match t {
            DataType::Int32 => Self::I32(Int32Builder::new()),
            DataType::Int64 => Self::I64(Int64Builder::new()),
            DataType::Utf8 => Self::Str(StringBuilder::new()),
            DataType::Decimal128(p, s) => Self::Money(
                Decimal128Builder::new()
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| Error::Config(e.to_string()))?,
            ),
            DataType::Date32 => Self::Date(Date32Builder::new()),
            DataType::Timestamp(_, _) => Self::Ts(TimestampMicrosecondBuilder::new()),
            DataType::Boolean => Self::Bool(BooleanBuilder::new()),
            other => {
                return Err(Error::Config(format!(
                    "generator: unsupported type {other}"
                )))
            }
        })
    }

    fn push(&mut self, v: &Value) -> Result<()> {
        match (self, v) {
            (Self::I32(b), Value::I32(x)) => b.append_value(*x),
            (Self::I32(b), Value::OptI32(x)) => b.append_option(*x),
            (Self::I64(b), Value::I64(x)) => b.append_value(*x),
            (Self::I64(b), Value::OptI64(x)) => b.append_option(*x),
            (Self::Str(b), Value::Str(x)) => b.append_option(x.as_deref()),
            (Self::Money(b), Value::Money(x)) => b.append_option(x.map(i128::from)),
            (Self::Date(b), Value::Date(x)) => b.append_value(*x),
            (Self::Ts(b), Value::Ts(x)) => b.append_value(*x),
            (Self::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (col, v) => {
                return Err(Error::Config(format!(
                    "generator: value {v:?} does not fit column {col:?}"
                )))
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::I32(b) => Arc::new(b.finish()),
            Self::I64(b) => Arc::new(b.finish()),
            Self::Str(b) => Arc::new(b.finish()),
            Self::Money(b) => {
                let a = b.finish();
                let (p, s) = (a.precision(), a.scale());
                *b = Decimal128Builder::new()
                    .with_precision_and_scale(p, s)
                    .unwrap_or_default();
                Arc::new(a)
            }
            Self::Date(b) => Arc::new(b.finish()),
            Self::Ts(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// Writes one table as a sequence of Parquet files.
pub struct TableWriter {
    dir: PathBuf,
    schema: SchemaRef,
    columns: Vec<Column>,
    rows_per_file: usize,
    batch_rows: usize,
    file_rows: usize,
    files: usize,
    current: Option<(ArrowWriter<File>, PathBuf, PathBuf)>,
}

impl TableWriter {
    pub fn new(out: &Path, table: &str, schema: Schema, rows_per_file: usize) -> Result<Self> {
        let dir = out.join(table);
        std::fs::create_dir_all(&dir)?;
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column::for_type(f.data_type()))
            .collect::<Result<_>>()?;
        Ok(Self {
            dir,
            schema: Arc::new(schema),
            columns,
            rows_per_file: rows_per_file.max(1),
            batch_rows: 0,
            file_rows: 0,
            files: 0,
            current: None,
        })
    }

    pub fn row(&mut self, values: &[Value]) -> Result<()> {
        for (c, v) in self.columns.iter_mut().zip(values) {
            c.push(v)?;
        }
        self.batch_rows += 1;
        self.file_rows += 1;
        if self.batch_rows >= BATCH_ROWS || self.file_rows >= self.rows_per_file {
            self.flush()?;
        }
        if self.file_rows >= self.rows_per_file {
            self.close_file()?;
        }
        Ok(())
    }

    fn open_file(&mut self) -> Result<()> {
        let name = format!("part-{:05}.parquet", self.files);
        let tmp = self.dir.join(format!("_{name}.inprogress"));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).map_err(|e| Error::Config(e.to_string()))?,
            ))
            .set_max_row_group_row_count(Some(1_000_000))
            .build();
        let writer =
            ArrowWriter::try_new(File::create(&tmp)?, Arc::clone(&self.schema), Some(props))
                .map_err(|e| Error::DataFusion(e.into()))?;
        self.current = Some((writer, tmp, self.dir.join(name)));
        self.files += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.batch_rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(|e| Error::DataFusion(e.into()))?;
        if self.current.is_none() {
            self.open_file()?;
        }
        if let Some((w, _, _)) = &mut self.current {
            w.write(&batch).map_err(|e| Error::DataFusion(e.into()))?;
        }
        self.batch_rows = 0;
        Ok(())
    }

    fn close_file(&mut self) -> Result<()> {
        if let Some((w, tmp, done)) = self.current.take() {
            w.close().map_err(|e| Error::DataFusion(e.into()))?;
            std::fs::rename(tmp, done)?;
        }
        self.file_rows = 0;
        Ok(())
    }

    /// Writes what is left; a table with no rows still gets one (empty) file.
    pub fn finish(mut self) -> Result<()> {
        self.flush()?;
        if self.files == 0 {
            self.open_file()?;
        }
        self.close_file()
    }
}

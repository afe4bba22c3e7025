//! `COPY ... TO STDOUT`: the options (text, csv with HEADER, binary), the encoding of
//! result batches straight into `CopyData` chunks, and the sender.
//!
//! Owned here rather than taken from pgwire 0.41, whose sender answers a failure half-way
//! with a `CopyFail` message (a frontend message: psql says "unexpected response"), and
//! whose encoder allocates and copies several times per value. Rows are encoded a batch
//! at a time into one buffer and sent as one `CopyData` per row (slices of that buffer),
//! as PostgreSQL does and clients such as psycopg's `rows()` rely on; rows are counted as
//! they are encoded ([`CopyRows`]); a failure stops with the `ErrorResponse` alone.
//!
//! Values are written as PostgreSQL writes them: the common column types (decimals
//! through [`crate::server::numeric`]) have direct paths, every other type goes through arrow-pg's encoder (the one `SELECT` uses) with
//! the same [`TextFix`]es as `SELECT` text output.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, RecordBatch, StringArray,
    StringViewArray,
};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource,
};
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::arrow_pg::encoder::{encode_value, Encoder};
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{CopyResponse, FieldInfo, Response, Tag};
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use datafusion_postgres::pgwire::types::ToSqlText;
use futures::{Sink, SinkExt, StreamExt};
use postgres_types::{IsNull, ToSql};

use crate::engine::temporal::write_timestamp;
use crate::server::errors::user_error;
use crate::server::numeric::{write_numeric_binary, write_numeric_text, MAX_BINARY_SCALE};
use crate::server::text_output::{float4_text, float8_text, TextFix};
use crate::sqlstate::SqlState;

/// Microseconds and days between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i32 = 10_957;

/// Rows encoded by the running COPY of one connection, for its `COPY n` tag.
#[derive(Debug, Default)]
pub struct CopyRows(AtomicUsize);

impl CopyRows {
    fn reset(&self) {
        self.0.store(0, Ordering::SeqCst);
    }

    fn add(&self, n: usize) {
        self.0.fetch_add(n, Ordering::SeqCst);
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// How COPY output is written.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyFormat {
    Text {
        delimiter: u8,
        null: String,
    },
    Csv {
        delimiter: u8,
        null: String,
        quote: u8,
        escape: u8,
        header: bool,
    },
    Binary,
}

fn unsupported(what: impl std::fmt::Display) -> PgWireError {
    user_error(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("COPY option {what} is not supported"),
    )
}

fn one_byte(c: char, what: &str) -> PgWireResult<u8> {
    u8::try_from(c).ok().filter(u8::is_ascii).ok_or_else(|| {
        user_error(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("COPY {what} must be a single one-byte character"),
        )
    })
}

/// The output format the statement's options ask for, checked as PostgreSQL checks them.
///
/// # Errors
/// An unknown format (22023) or an option we do not implement (0A000).
pub fn copy_format(
    options: &[CopyOption],
    legacy: &[CopyLegacyOption],
) -> PgWireResult<CopyFormat> {
    let mut format = "text".to_owned();
    let mut delimiter = None;
    let mut null = None;
    let mut header = false;
    let mut quote = '"';
    let mut escape = None;
    for o in options {
        match o {
            CopyOption::Format(f) => format = f.value.to_lowercase(),
            CopyOption::Delimiter(c) => delimiter = Some(*c),
            CopyOption::Null(n) => null = Some(n.clone()),
            CopyOption::Header(h) => header = *h,
            CopyOption::Quote(c) => quote = *c,
            CopyOption::Escape(c) => escape = Some(*c),
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => return Err(unsupported(other)),
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Binary => format = "binary".into(),
            CopyLegacyOption::Csv(csv) => {
                format = "csv".into();
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => header = true,
                        CopyLegacyCsvOption::Quote(q) => quote = *q,
                        CopyLegacyCsvOption::Escape(e) => escape = Some(*e),
                        other => return Err(unsupported(other)),
                    }
                }
            }
            CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            CopyLegacyOption::Null(n) => null = Some(n.clone()),
            CopyLegacyOption::Header => header = true,
            other => return Err(unsupported(other)),
        }
    }
    match format.as_str() {
        "text" => Ok(CopyFormat::Text {
            delimiter: one_byte(delimiter.unwrap_or('\t'), "delimiter")?,
            null: null.unwrap_or_else(|| "\\N".into()),
        }),
        "csv" => Ok(CopyFormat::Csv {
            delimiter: one_byte(delimiter.unwrap_or(','), "delimiter")?,
            null: null.unwrap_or_default(),
            quote: one_byte(quote, "quote")?,
            escape: one_byte(escape.unwrap_or(quote), "escape")?,
            header,
        }),
        "binary" => Ok(CopyFormat::Binary),
        other => Err(user_error(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("COPY format \"{other}\" not recognized"),
        )),
    }
}

/// The query a COPY source stands for.
pub fn copy_query(source: &CopySource) -> String {
    match source {
        CopySource::Query(q) => q.to_string(),
        CopySource::Table {
            table_name,
            columns,
        } => {
            let cols = if columns.is_empty() {
                "*".to_owned()
            } else {
                columns
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("SELECT {cols} FROM {table_name}")
        }
    }
}

/// Runs `sql` and answers with its rows as a COPY OUT stream in `format`; rows are
/// counted into `rows` as they are encoded.
///
/// # Errors
/// Planning errors; execution errors arrive in the stream.
pub async fn copy_out(
    sql: &str,
    format: CopyFormat,
    ctx: &SessionContext,
    client: &dyn HookClient,
    rows: Arc<CopyRows>,
) -> PgWireResult<Response> {
    let api = |e: datafusion::error::DataFusionError| PgWireError::ApiError(Box::new(e));
    let df = ctx.sql(sql).await.map_err(api)?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let wire_format = if format == CopyFormat::Binary {
        Format::UnifiedBinary
    } else {
        Format::UnifiedText
    };
    let format_options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let fields = Arc::new(arrow_schema_to_pg_fields(
        &schema,
        &wire_format,
        Some(format_options),
    )?);
    let columns = fields.len();
    let mut encoder = RowEncoder::new(format.clone(), Arc::clone(&fields));
    let header = encoder.header(
        schema
            .fields()
            .iter()
            .map(|f| crate::engine::rewrite::client_name(f.name())),
    );
    let binary = format == CopyFormat::Binary;
    rows.reset();
    let batches = df.execute_stream().await.map_err(api)?;
    // One item per batch (its rows), then the end; the first failure ends the stream.
    let messages = futures::stream::unfold(Some((batches, encoder)), move |state| {
        let rows = Arc::clone(&rows);
        async move {
            let (mut batches, mut encoder) = state?;
            match batches.next().await {
                Some(Ok(batch)) => match encoder.encode(&batch, &rows) {
                    Ok(messages) => Some((Ok(messages), Some((batches, encoder)))),
                    Err(e) => Some((Err(e), None)),
                },
                Some(Err(e)) => Some((Err(api(e)), None)),
                None => Some((Ok(encoder.finish()), None)),
            }
        }
    })
    .flat_map(|messages| {
        futures::stream::iter(match messages {
            Ok(messages) => messages.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
    });
    let stream = futures::stream::iter(header.map(Ok))
        .chain(messages)
        .map(|message| message.map(CopyData::new));
    // `CopyResponse::new` would append a second binary trailer; ours is in the stream.
    let mut response = CopyResponse::new(0, columns, stream);
    response.format = i8::from(binary);
    Ok(Response::CopyOut(response))
}

/// Sends a COPY OUT response: `CopyOutResponse`, the data, `CopyDone` and `COPY n`. On a
/// failure half-way the error is returned for the caller to send as an `ErrorResponse`,
/// which is all PostgreSQL sends then.
///
/// # Errors
/// The stream failed, or the client is gone.
pub async fn send_copy_out<C>(
    client: &mut C,
    response: CopyResponse,
    rows: &CopyRows,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let column_formats = response.column_formats();
    let CopyResponse {
        format,
        columns,
        mut data_stream,
        ..
    } = response;
    let columns = i16::try_from(columns).unwrap_or(i16::MAX);
    client
        .send(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            format,
            columns,
            column_formats,
        )))
        .await?;
    // `feed` buffers; the socket is written as its buffer fills, and at the end.
    while let Some(message) = data_stream.next().await {
        client
            .feed(PgWireBackendMessage::CopyData(message?))
            .await?;
    }
    client
        .feed(PgWireBackendMessage::CopyDone(CopyDone::new()))
        .await?;
    let tag = Tag::new("COPY").with_rows(rows.get());
    client
        .send(PgWireBackendMessage::CommandComplete(tag.into()))
        .await?;
    Ok(())
}

/// One column of a batch: the array, the fix its text needs, and a direct path for the
/// common types.
struct Column<'a> {
    array: &'a ArrayRef,
    fix: TextFix,
    kind: Kind<'a>,
}

enum Kind<'a> {
    Int16(&'a PrimitiveArray<Int16Type>),
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    Float32(&'a PrimitiveArray<Float32Type>, i32),
    Float64(&'a PrimitiveArray<Float64Type>, i32),
    Bool(&'a BooleanArray),
    Utf8(&'a StringArray),
    Utf8View(&'a StringViewArray),
    Date32(&'a PrimitiveArray<Date32Type>),
    Timestamp(&'a PrimitiveArray<TimestampMicrosecondType>),
    /// A decimal and its scale (0..=[`MAX_BINARY_SCALE`]).
    Decimal(&'a PrimitiveArray<Decimal128Type>, u8),
    /// arrow-pg's encoder, then the column's [`TextFix`].
    Other,
}

fn primitive<T: ArrowPrimitiveType>(array: &ArrayRef) -> &PrimitiveArray<T> {
    array.as_primitive::<T>()
}

impl<'a> Column<'a> {
    fn new(array: &'a ArrayRef, field: &FieldInfo) -> Self {
        let extra = i32::from(field.format_options().extra_float_digits);
        let pg = field.datatype();
        let kind = match array.data_type() {
            DataType::Int16 if *pg == Type::INT2 => Kind::Int16(primitive(array)),
            DataType::Int32 if *pg == Type::INT4 => Kind::Int32(primitive(array)),
            DataType::Int64 if *pg == Type::INT8 => Kind::Int64(primitive(array)),
            DataType::Float32 if *pg == Type::FLOAT4 => Kind::Float32(primitive(array), extra),
            DataType::Float64 if *pg == Type::FLOAT8 => Kind::Float64(primitive(array), extra),
            DataType::Boolean if *pg == Type::BOOL => Kind::Bool(array.as_boolean()),
            DataType::Utf8 if *pg == Type::TEXT || *pg == Type::VARCHAR => {
                Kind::Utf8(array.as_string::<i32>())
            }
            DataType::Utf8View if *pg == Type::TEXT || *pg == Type::VARCHAR => {
                Kind::Utf8View(array.as_string_view())
            }
            DataType::Date32 if *pg == Type::DATE => Kind::Date32(primitive(array)),
            DataType::Timestamp(TimeUnit::Microsecond, None) if *pg == Type::TIMESTAMP => {
                Kind::Timestamp(primitive(array))
            }
            DataType::Decimal128(_, scale)
                if *pg == Type::NUMERIC && (0..=MAX_BINARY_SCALE).contains(scale) =>
            {
                Kind::Decimal(primitive(array), scale.unsigned_abs())
            }
            _ => Kind::Other,
        };
        Self {
            array,
            fix: TextFix::for_field(field),
            kind,
        }
    }
}

/// Encodes rows of one COPY into `CopyData` payloads.
struct RowEncoder {
    format: CopyFormat,
    fields: Arc<Vec<FieldInfo>>,
    out: BytesMut,
    /// Text of one value from arrow-pg, before escaping.
    scratch: BytesMut,
    /// Where the current value's length goes (binary format).
    length_at: usize,
}

impl RowEncoder {
    fn new(format: CopyFormat, fields: Arc<Vec<FieldInfo>>) -> Self {
        Self {
            format,
            fields,
            out: BytesMut::with_capacity(64 * 1024),
            scratch: BytesMut::with_capacity(64),
            length_at: 0,
        }
    }

    /// The CSV header line, a message of its own. The binary signature is not one: it
    /// rides with the first row (or the trailer), as PostgreSQL sends it.
    fn header<'n>(&mut self, names: impl Iterator<Item = &'n str>) -> Option<Bytes> {
        match &self.format {
            CopyFormat::Binary => {
                self.out.put_slice(b"PGCOPY\n\xFF\r\n\x00");
                self.out.put_i32(0); // flags
                self.out.put_i32(0); // header extension length
                None
            }
            CopyFormat::Csv { header: true, .. } => {
                for (i, name) in names.enumerate() {
                    self.delimit(i);
                    self.write_text(name.as_bytes());
                }
                self.out.put_u8(b'\n');
                Some(self.out.split().freeze())
            }
            _ => None,
        }
    }

    /// The rows of `batch`, one message each.
    fn encode(&mut self, batch: &RecordBatch, rows: &CopyRows) -> PgWireResult<Vec<Bytes>> {
        let fields = Arc::clone(&self.fields);
        let columns: Vec<Column<'_>> = batch
            .columns()
            .iter()
            .zip(fields.iter())
            .map(|(array, field)| Column::new(array, field))
            .collect();
        let schema = batch.schema();
        let binary = self.format == CopyFormat::Binary;
        let count = i16::try_from(columns.len()).unwrap_or(i16::MAX);
        let mut ends = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            if binary {
                self.out.put_i16(count);
            }
            for (i, column) in columns.iter().enumerate() {
                if !binary {
                    self.delimit(i);
                }
                self.write_value(column, row, schema.field(i), &fields[i])?;
            }
            if !binary {
                self.out.put_u8(b'\n');
            }
            ends.push(self.out.len());
        }
        let buffer = self.out.split().freeze();
        let mut start = 0;
        let messages = ends
            .into_iter()
            .map(|end| {
                let message = buffer.slice(start..end);
                start = end;
                message
            })
            .collect();
        rows.add(batch.num_rows());
        Ok(messages)
    }

    /// What follows the last row: the binary trailer (with the signature if no row
    /// carried it).
    fn finish(&mut self) -> Vec<Bytes> {
        if self.format != CopyFormat::Binary {
            return Vec::new();
        }
        self.out.put_i16(-1);
        vec![self.out.split().freeze()]
    }

    fn delimit(&mut self, column: usize) {
        if column > 0 {
            let d = match &self.format {
                CopyFormat::Text { delimiter, .. } | CopyFormat::Csv { delimiter, .. } => {
                    *delimiter
                }
                CopyFormat::Binary => return,
            };
            self.out.put_u8(d);
        }
    }

    fn write_null(&mut self) {
        match &self.format {
            CopyFormat::Text { null, .. } | CopyFormat::Csv { null, .. } => {
                self.out.put_slice(null.as_bytes());
            }
            CopyFormat::Binary => self.out.put_i32(-1),
        }
    }

    /// Writes one value's bytes in binary format (length first).
    fn write_binary(&mut self, bytes: &[u8]) {
        self.out
            .put_i32(i32::try_from(bytes.len()).unwrap_or(i32::MAX));
        self.out.put_slice(bytes);
    }

    fn write_value(
        &mut self,
        column: &Column<'_>,
        row: usize,
        arrow_field: &datafusion::arrow::datatypes::Field,
        pg_field: &FieldInfo,
    ) -> PgWireResult<()> {
        let binary = self.format == CopyFormat::Binary;
        if !matches!(column.kind, Kind::Other) && column.array.is_null(row) {
            self.write_null();
            return Ok(());
        }
        let mut itoa = itoa::Buffer::new();
        match &column.kind {
            Kind::Int16(a) if binary => self.write_binary(&a.value(row).to_be_bytes()),
            Kind::Int32(a) if binary => self.write_binary(&a.value(row).to_be_bytes()),
            Kind::Int64(a) if binary => self.write_binary(&a.value(row).to_be_bytes()),
            Kind::Float32(a, _) if binary => self.write_binary(&a.value(row).to_be_bytes()),
            Kind::Float64(a, _) if binary => self.write_binary(&a.value(row).to_be_bytes()),
            Kind::Bool(a) if binary => self.write_binary(&[u8::from(a.value(row))]),
            Kind::Utf8(a) if binary => self.write_binary(a.value(row).as_bytes()),
            Kind::Utf8View(a) if binary => self.write_binary(a.value(row).as_bytes()),
            Kind::Date32(a) if binary => {
                self.write_binary(&(a.value(row) - PG_EPOCH_DAYS).to_be_bytes());
            }
            Kind::Timestamp(a) if binary => {
                self.write_binary(&(a.value(row) - PG_EPOCH_MICROS).to_be_bytes());
            }
            Kind::Decimal(a, scale) if binary => {
                write_numeric_binary(&mut self.out, a.value(row), *scale);
            }
            Kind::Decimal(a, scale) => {
                let mut text = std::mem::take(&mut self.scratch);
                text.clear();
                write_numeric_text(&mut text, a.value(row), *scale);
                self.write_text(&text);
                self.scratch = text;
            }
            Kind::Int16(a) => self.out.put_slice(itoa.format(a.value(row)).as_bytes()),
            Kind::Int32(a) => self.out.put_slice(itoa.format(a.value(row)).as_bytes()),
            Kind::Int64(a) => self.out.put_slice(itoa.format(a.value(row)).as_bytes()),
            Kind::Float32(a, extra) => {
                self.write_text(float4_text(a.value(row), *extra).as_bytes());
            }
            Kind::Float64(a, extra) => {
                self.write_text(float8_text(a.value(row), *extra).as_bytes());
            }
            Kind::Bool(a) => self.out.put_u8(if a.value(row) { b't' } else { b'f' }),
            Kind::Utf8(a) => self.write_text(a.value(row).as_bytes()),
            Kind::Utf8View(a) => self.write_text(a.value(row).as_bytes()),
            Kind::Timestamp(a) if write_timestamp(&mut self.out, a.value(row)) => {}
            Kind::Date32(_) | Kind::Timestamp(_) | Kind::Other => {
                let mut value = OneValue {
                    encoder: self,
                    fix: column.fix,
                };
                encode_value(&mut value, column.array, row, arrow_field, pg_field)?;
            }
        }
        Ok(())
    }

    /// Writes a value's text, escaped or quoted for the format.
    fn write_text(&mut self, text: &[u8]) {
        match &self.format {
            CopyFormat::Text { delimiter, .. } => {
                write_text_escaped(&mut self.out, text, *delimiter);
            }
            CopyFormat::Csv {
                delimiter,
                null,
                quote,
                escape,
                ..
            } => {
                let single_column = self.fields.len() == 1;
                let needs_quotes = text == null.as_bytes()
                    || text
                        .iter()
                        .any(|b| *b == *delimiter || *b == *quote || *b == b'\n' || *b == b'\r')
                    || (single_column && text == b"\\.");
                if needs_quotes {
                    let (quote, escape) = (*quote, *escape);
                    self.out.put_u8(quote);
                    for &b in text {
                        if b == quote || b == escape {
                            self.out.put_u8(escape);
                        }
                        self.out.put_u8(b);
                    }
                    self.out.put_u8(quote);
                } else {
                    self.out.put_slice(text);
                }
            }
            CopyFormat::Binary => self.write_binary(text),
        }
    }
}

/// Text format escaping, as PostgreSQL's `CopyAttributeOutText`.
fn write_text_escaped(out: &mut BytesMut, text: &[u8], delimiter: u8) {
    let plain = |b: u8| b >= 0x20 && b != b'\\' && b != delimiter;
    if text.iter().all(|b| plain(*b)) {
        out.put_slice(text);
        return;
    }
    for &b in text {
        match b {
            b'\\' => out.put_slice(b"\\\\"),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            0x08 => out.put_slice(b"\\b"),
            0x0C => out.put_slice(b"\\f"),
            0x0B => out.put_slice(b"\\v"),
            d if d == delimiter => {
                out.put_u8(b'\\');
                out.put_u8(d);
            }
            other => out.put_u8(other),
        }
    }
}

/// arrow-pg's encoder writing one value into the COPY buffer (its text with the column's
/// [`TextFix`]).
struct OneValue<'e> {
    encoder: &'e mut RowEncoder,
    fix: TextFix,
}

impl Encoder for OneValue<'_> {
    type Item = ();

    fn encode_field<T>(&mut self, value: &T, pg_field: &FieldInfo) -> PgWireResult<()>
    where
        T: ToSql + ToSqlText + Sized,
    {
        let encoder = &mut *self.encoder;
        if encoder.format == CopyFormat::Binary {
            encoder.length_at = encoder.out.len();
            encoder.out.put_i32(-1);
            let is_null = value
                .to_sql(pg_field.datatype(), &mut encoder.out)
                .map_err(PgWireError::ApiError)?;
            if let IsNull::No = is_null {
                let length = encoder.out.len() - encoder.length_at - 4;
                let length = i32::try_from(length).unwrap_or(i32::MAX).to_be_bytes();
                encoder.out[encoder.length_at..encoder.length_at + 4].copy_from_slice(&length);
            }
            return Ok(());
        }
        encoder.scratch.clear();
        let is_null = value
            .to_sql_text(
                pg_field.datatype(),
                &mut encoder.scratch,
                pg_field.format_options(),
            )
            .map_err(PgWireError::ApiError)?;
        if let IsNull::Yes = is_null {
            encoder.write_null();
            return Ok(());
        }
        let text = std::mem::take(&mut encoder.scratch);
        match self.fix.apply(&text) {
            Some(fixed) => encoder.write_text(&fixed),
            None => encoder.write_text(&text),
        }
        encoder.scratch = text;
        Ok(())
    }

    fn take_row(&mut self) -> Self::Item {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str, delimiter: u8) -> String {
        let mut out = BytesMut::new();
        write_text_escaped(&mut out, s.as_bytes(), delimiter);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn text_escaping_follows_postgres() {
        assert_eq!(escaped("plain", b'\t'), "plain");
        assert_eq!(escaped("a\tb\nc\\d\re", b'\t'), "a\\tb\\nc\\\\d\\re");
        assert_eq!(escaped("a,b", b','), "a\\,b");
    }

    fn csv(text: &str, columns: usize) -> String {
        let fields: Vec<FieldInfo> = (0..columns)
            .map(|i| {
                FieldInfo::new(
                    format!("c{i}"),
                    None,
                    None,
                    Type::TEXT,
                    datafusion_postgres::pgwire::api::results::FieldFormat::Text,
                )
            })
            .collect();
        let format = CopyFormat::Csv {
            delimiter: b',',
            null: String::new(),
            quote: b'"',
            escape: b'"',
            header: false,
        };
        let mut encoder = RowEncoder::new(format, Arc::new(fields));
        encoder.write_text(text.as_bytes());
        String::from_utf8(encoder.out.to_vec()).unwrap()
    }

    #[test]
    fn csv_quoting_follows_postgres() {
        assert_eq!(csv("plain", 2), "plain");
        assert_eq!(csv("a,b", 2), "\"a,b\"");
        assert_eq!(csv("say \"hi\"", 2), "\"say \"\"hi\"\"\"");
        // The empty string is the NULL marker, so an empty value is quoted.
        assert_eq!(csv("", 2), "\"\"");
        assert_eq!(csv("\\.", 1), "\"\\.\"");
        assert_eq!(csv("\\.", 2), "\\.");
    }
}

//! Result batches to wire rows: `DataRow` messages for a query, `CopyData` payloads for
//! `COPY ... TO STDOUT` (text, csv, binary). Each value is written by
//! [`crate::server::values`] and framed here: a length first (`DataRow`, binary COPY),
//! or escaped (text COPY) or quoted (csv) between delimiters.
//!
//! Rows of a batch are encoded into one buffer, so a row costs no allocation of its own:
//! `DataRow`s are handed out as slices of it; COPY rows stay in it, each after its
//! length, and the sender makes one `CopyData` of each (as PostgreSQL sends them).

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion_postgres::pgwire::api::results::FieldInfo;
use datafusion_postgres::pgwire::error::PgWireResult;
use datafusion_postgres::pgwire::messages::data::DataRow;

use crate::server::values::{patch_length, plain_array, plain_field, Value};

/// How values are separated and marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Each value (or -1 for NULL) after its length: `DataRow`, binary COPY.
    Length,
    /// COPY text: escaped values between delimiters, `null` for NULL.
    Text { delimiter: u8, null: String },
    /// COPY csv: values quoted where needed.
    Csv {
        delimiter: u8,
        null: String,
        quote: u8,
        escape: u8,
    },
}

/// Encodes the rows of one result (its batches in turn).
#[derive(Debug)]
pub struct RowEncoder {
    framing: Framing,
    /// The wire columns: type, text or binary, float digits.
    fields: Arc<Vec<FieldInfo>>,
    /// The Arrow columns as encoded ([`plain_field`]).
    arrow: Vec<Arc<Field>>,
    out: BytesMut,
    /// One value's text before escaping (COPY text and csv).
    scratch: BytesMut,
    /// What the first COPY message starts with ([`RowEncoder::set_lead`]).
    lead: Option<&'static [u8]>,
    /// Bytes per row of the last batch, to size the buffer of the next.
    row_bytes: usize,
}

impl RowEncoder {
    /// An encoder of rows of `schema`, sent as `fields` say.
    pub fn new(framing: Framing, fields: Arc<Vec<FieldInfo>>, schema: &Schema) -> Self {
        Self {
            framing,
            fields,
            arrow: schema.fields().iter().map(plain_field).collect(),
            out: BytesMut::with_capacity(64 * 1024),
            scratch: BytesMut::with_capacity(64),
            lead: None,
            row_bytes: 64,
        }
    }

    /// The rows of `batch` as `DataRow`s.
    ///
    /// # Errors
    /// A value could not be encoded.
    pub fn data_rows(&mut self, batch: &RecordBatch) -> PgWireResult<Vec<DataRow>> {
        let count = i16::try_from(self.fields.len()).unwrap_or(i16::MAX);
        let ends = self.encode(batch, false)?;
        let mut rows = Vec::with_capacity(ends.len());
        let mut start = 0;
        for end in ends {
            rows.push(DataRow::new(self.out.split_to(end - start), count));
            start = end;
        }
        Ok(rows)
    }

    /// The rows of `batch` as COPY messages in one buffer, each after its length
    /// ([`start_message`](Self::start_message)); a binary tuple starts with its field
    /// count.
    ///
    /// # Errors
    /// A value could not be encoded.
    pub fn copy_batch(&mut self, batch: &RecordBatch) -> PgWireResult<Bytes> {
        self.encode(batch, true)?;
        Ok(self.take())
    }

    /// Starts a COPY message in the buffer: a length to be filled in by
    /// [`end_message`](Self::end_message), then the lead bytes if no message carried
    /// them yet. Returns where the length is.
    pub fn start_message(&mut self) -> usize {
        let length_at = self.out.len();
        self.out.put_i32(0);
        if let Some(lead) = self.lead.take() {
            self.out.put_slice(lead);
        }
        length_at
    }

    /// Ends the COPY message [`start_message`](Self::start_message) began at `length_at`.
    pub fn end_message(&mut self, length_at: usize) {
        patch_length(&mut self.out, length_at);
    }

    /// Bytes the first COPY message starts with (binary COPY's signature, which rides
    /// with the first row or the trailer, as PostgreSQL sends it).
    pub fn set_lead(&mut self, lead: &'static [u8]) {
        self.lead = Some(lead);
    }

    /// Writes every row of `batch` into `out`. A `DataRow`'s end offset in `out` is
    /// returned for each; COPY rows are messages of their own
    /// ([`start_message`](Self::start_message)) and end with a newline (text) or start
    /// with the field count (binary).
    fn encode(&mut self, batch: &RecordBatch, copy: bool) -> PgWireResult<Vec<usize>> {
        let arrays: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .zip(&self.arrow)
            .map(|(array, field)| plain_array(array, field))
            .collect::<PgWireResult<_>>()?;
        let fields = Arc::clone(&self.fields);
        let arrow = self.arrow.clone();
        let values: Vec<Value<'_>> = arrays
            .iter()
            .zip(&arrow)
            .zip(fields.iter())
            .map(|((array, arrow), pg)| Value::new(array, arrow, pg))
            .collect();
        let count = i16::try_from(values.len()).unwrap_or(i16::MAX);
        // Room for the batch at once: the last buffer went out with its rows, and growing
        // a new one by doubling copied each batch's bytes once more.
        self.out
            .reserve(batch.num_rows().saturating_mul(self.row_bytes) + self.row_bytes);
        let start = self.out.len();
        let mut ends = Vec::with_capacity(if copy { 0 } else { batch.num_rows() });
        for row in 0..batch.num_rows() {
            let message_at = if copy { self.start_message() } else { 0 };
            if copy && self.framing == Framing::Length {
                self.out.put_i16(count);
            }
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    self.delimit();
                }
                self.write_value(value, row)?;
            }
            if copy {
                if self.framing != Framing::Length {
                    self.out.put_u8(b'\n');
                }
                self.end_message(message_at);
            } else {
                ends.push(self.out.len());
            }
        }
        if batch.num_rows() > 0 {
            self.row_bytes = (self.out.len() - start).div_ceil(batch.num_rows());
        }
        Ok(ends)
    }

    fn delimit(&mut self) {
        match &self.framing {
            Framing::Text { delimiter, .. } | Framing::Csv { delimiter, .. } => {
                self.out.put_u8(*delimiter);
            }
            Framing::Length => {}
        }
    }

    fn write_value(&mut self, value: &Value<'_>, row: usize) -> PgWireResult<()> {
        let null = match &self.framing {
            Framing::Length => return value.write_with_length(row, &mut self.out),
            Framing::Text { null, .. } | Framing::Csv { null, .. } => null,
        };
        if value.is_null(row) {
            self.out.put_slice(null.as_bytes());
            return Ok(());
        }
        if !value.may_need_escaping() && !matches!(self.framing, Framing::Csv { .. }) {
            return value.write(row, &mut self.out);
        }
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let written = value.write(row, &mut text);
        self.write_text(&text);
        self.scratch = text;
        written
    }

    /// Writes a whole value's text, escaped or quoted for the framing: also the csv
    /// header's names.
    pub fn write_text(&mut self, text: &[u8]) {
        match &self.framing {
            Framing::Length => {
                self.out
                    .put_i32(i32::try_from(text.len()).unwrap_or(i32::MAX));
                self.out.put_slice(text);
            }
            Framing::Text { delimiter, .. } => write_text_escaped(&mut self.out, text, *delimiter),
            Framing::Csv {
                delimiter,
                null,
                quote,
                escape,
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
        }
    }

    /// Writes raw bytes (COPY's binary trailer, the csv header's delimiters and end).
    pub fn put(&mut self, bytes: &[u8]) {
        self.out.put_slice(bytes);
    }

    /// A delimiter between csv header names.
    pub fn put_delimiter(&mut self) {
        self.delimit();
    }

    /// Everything written since the last call (or the rows' slices).
    pub fn take(&mut self) -> Bytes {
        self.out.split().freeze()
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;
    use datafusion_postgres::pgwire::api::results::FieldFormat;
    use datafusion_postgres::pgwire::api::Type;

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
            .map(|i| FieldInfo::new(format!("c{i}"), None, None, Type::TEXT, FieldFormat::Text))
            .collect();
        let schema = Schema::new(
            (0..columns)
                .map(|i| Field::new(format!("c{i}"), DataType::Utf8, true))
                .collect::<Vec<_>>(),
        );
        let framing = Framing::Csv {
            delimiter: b',',
            null: String::new(),
            quote: b'"',
            escape: b'"',
        };
        let mut encoder = RowEncoder::new(framing, Arc::new(fields), &schema);
        encoder.write_text(text.as_bytes());
        String::from_utf8(encoder.take().to_vec()).unwrap()
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

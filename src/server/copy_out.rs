//! `COPY ... TO STDOUT`: the options (text, csv with HEADER, binary), the encoding of
//! result batches straight into `CopyData` chunks, and the sender.
//!
//! Owned here rather than taken from pgwire 0.41, whose sender answers a failure half-way
//! with a `CopyFail` message (a frontend message: psql says "unexpected response"), and
//! whose encoder allocates and copies several times per value. Rows are encoded a batch
//! at a time, travel as one buffer per batch, and are sent as one `CopyData` per row,
//! as PostgreSQL does and clients such as psycopg's `rows()` rely on; rows are counted as
//! they are encoded ([`CopyRows`]); a failure stops with the `ErrorResponse` alone.
//!
//! Values are written by [`crate::server::row_encoder`], the encoder `SELECT` rows use.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, Statement,
};
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{CopyResponse, Response, Tag};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use futures::{Sink, SinkExt, StreamExt};

use crate::engine::admission::QueryGate;
use crate::server::errors::user_error;
use crate::server::row_description::result_fields;
use crate::server::row_encoder::{Framing, RowEncoder};
use crate::sqlstate::SqlState;

/// Rows encoded by the running COPY of one connection, for its `COPY n` tag.
#[derive(Debug, Default)]
pub struct CopyRows(AtomicUsize);

impl CopyFormat {
    fn framing(&self) -> Framing {
        match self.clone() {
            Self::Text { delimiter, null } => Framing::Text { delimiter, null },
            Self::Csv {
                delimiter,
                null,
                quote,
                escape,
                ..
            } => Framing::Csv {
                delimiter,
                null,
                quote,
                escape,
            },
            Self::Binary => Framing::Length,
        }
    }
}

/// The CSV header line, a message of its own. The binary signature is not one: it rides
/// with the first row (or the trailer), as PostgreSQL sends it.
fn copy_header<'n>(
    format: &CopyFormat,
    encoder: &mut RowEncoder,
    names: impl Iterator<Item = &'n str>,
) -> Option<Bytes> {
    match format {
        CopyFormat::Binary => {
            // The signature, flags and header extension length.
            encoder.set_lead(b"PGCOPY\n\xFF\r\n\x00\0\0\0\0\0\0\0\0");
            None
        }
        CopyFormat::Csv { header: true, .. } => {
            let message = encoder.start_message();
            for (i, name) in names.enumerate() {
                if i > 0 {
                    encoder.put_delimiter();
                }
                encoder.write_text(name.as_bytes());
            }
            encoder.put(b"\n");
            encoder.end_message(message);
            Some(encoder.take())
        }
        _ => None,
    }
}

/// What follows the last row: the binary trailer (with the signature if no row carried it).
fn copy_trailer(binary: bool, encoder: &mut RowEncoder) -> Option<Bytes> {
    if !binary {
        return None;
    }
    let message = encoder.start_message();
    encoder.put(&(-1i16).to_be_bytes());
    encoder.end_message(message);
    Some(encoder.take())
}

/// Sends each message of `messages` (a [`RowEncoder::copy_batch`] buffer: messages, each
/// after its length) as a `CopyData` of its own.
async fn feed_messages<C>(client: &mut C, mut messages: Bytes) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    while messages.len() >= 4 {
        let length = u32::from_be_bytes([messages[0], messages[1], messages[2], messages[3]]);
        messages.advance(4);
        let message = messages.split_to((length as usize).min(messages.len()));
        client
            .feed(PgWireBackendMessage::CopyData(CopyData::new(message)))
            .await?;
    }
    Ok(())
}

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

/// The query a COPY source stands for: its own, or one reading the table.
///
/// # Errors
/// The table's name or columns do not make a query.
pub fn copy_query(source: &CopySource) -> datafusion::error::Result<Statement> {
    let sql = match source {
        CopySource::Query(q) => return Ok(Statement::Query(q.clone())),
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
    };
    crate::engine::prepare::parse(&sql)?
        .pop()
        .ok_or_else(|| datafusion::error::DataFusionError::Plan(format!("{sql} is no query")))
}

/// Runs `sql` and answers with its rows as a COPY OUT stream in `format`; rows are
/// counted into `rows` as they are encoded.
///
/// # Errors
/// Planning errors; execution errors arrive in the stream.
pub async fn copy_out(
    query: &Statement,
    format: CopyFormat,
    ctx: &SessionContext,
    client: &dyn HookClient,
    rows: Arc<CopyRows>,
    gate: &QueryGate,
) -> PgWireResult<Response> {
    let api = |e: datafusion::error::DataFusionError| PgWireError::ApiError(Box::new(e));
    let df = crate::server::results::run(query, ctx).await.map_err(api)?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let wire_format = if format == CopyFormat::Binary {
        Format::UnifiedBinary
    } else {
        Format::UnifiedText
    };
    let format_options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let fields = Arc::new(result_fields(&schema, &wire_format, format_options)?);
    let columns = fields.len();
    let mut encoder = RowEncoder::new(format.framing(), Arc::clone(&fields), &schema);
    let header = copy_header(
        &format,
        &mut encoder,
        schema
            .fields()
            .iter()
            .map(|f| crate::pg::dialect::client_name(f.name())),
    );
    let binary = format == CopyFormat::Binary;
    rows.reset();
    let batches = gate.execute(df).await.map_err(api)?;
    // One item per batch (its rows, each after its length: `feed_messages` makes a
    // `CopyData` of each), then the trailer; the first failure ends the stream. Rows
    // travel in batches so the streams between here and the socket do their work once
    // per batch, not once per row.
    let batches = futures::stream::unfold(Some((batches, encoder)), move |state| {
        let rows = Arc::clone(&rows);
        async move {
            let (mut batches, mut encoder) = state?;
            match batches.next().await {
                Some(Ok(batch)) => match encoder.copy_batch(&batch) {
                    Ok(messages) => {
                        rows.add(batch.num_rows());
                        Some((Ok(messages), Some((batches, encoder))))
                    }
                    Err(e) => Some((Err(e), None)),
                },
                Some(Err(e)) => Some((Err(api(e)), None)),
                None => copy_trailer(binary, &mut encoder).map(|trailer| (Ok(trailer), None)),
            }
        }
    });
    let stream = futures::stream::iter(header.map(Ok))
        .chain(batches)
        .map(|messages| messages.map(CopyData::new));
    // `CopyResponse::new` would append a second binary trailer; ours is in the stream.
    let mut response = CopyResponse::new(0, columns, stream);
    response.format = i8::from(binary);
    Ok(Response::CopyOut(response))
}

/// Sends a COPY OUT response made by this module: `CopyOutResponse`, the data (each item
/// a batch of messages, see [`feed_messages`]), `CopyDone` and `COPY n`. On a
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
    while let Some(messages) = data_stream.next().await {
        feed_messages(client, messages?.data).await?;
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

//! Text output exactly as PostgreSQL prints it, where the stock encoder differs:
//! timestamps and times carry no trailing fractional zeros (`10:00:00`, `10:00:00.5`,
//! never `10:00:00.000000`).
//!
//! Works on encoded `DataRow`s of text-format columns, so it applies to every path
//! (simple, extended, cursors) without touching the encoder; COPY text/csv output, which
//! carries no column types, gets the same rendering by turning those columns into text
//! first ([`temporal_as_text`]).

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::FormatOptions;
use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo, QueryResponse};
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::messages::data::DataRow;
use futures::StreamExt;

fn needs_fix(field: &FieldInfo) -> bool {
    field.format() == FieldFormat::Text
        && matches!(
            *field.datatype(),
            Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::TIME | Type::TIMETZ
        )
}

/// Drops trailing zeros of the fractional seconds (and the dot when nothing is left).
pub fn trim_fraction(value: &[u8]) -> Option<Vec<u8>> {
    // The fraction follows the seconds: "HH:MM:SS.ffffff", possibly followed by an offset.
    let colon = value.iter().rposition(|b| *b == b':')?;
    let mut dot = None;
    for (i, b) in value.iter().enumerate().skip(colon) {
        if *b == b'.' {
            dot = Some(i);
            break;
        }
    }
    let dot = dot?;
    let digits_end = value[dot + 1..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(value.len(), |p| dot + 1 + p);
    let mut keep = digits_end;
    while keep > dot + 1 && value[keep - 1] == b'0' {
        keep -= 1;
    }
    if keep == digits_end {
        return None;
    }
    if keep == dot + 1 {
        keep = dot;
    }
    let mut out = Vec::with_capacity(value.len());
    out.extend_from_slice(&value[..keep]);
    out.extend_from_slice(&value[digits_end..]);
    Some(out)
}

/// Whether a column is printed by [`temporal_as_text`].
fn is_local_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(_, None) | DataType::Time32(_) | DataType::Time64(_)
    )
}

/// The schema COPY text/csv output is encoded with: local timestamps and times as text.
pub fn temporal_as_text_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if is_local_temporal(f.data_type()) {
                Field::new(f.name(), DataType::Utf8, f.is_nullable())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Local timestamps and times of `batch` rendered as PostgreSQL prints them.
///
/// # Errors
/// A column cannot be cast (does not happen for the types converted).
pub fn temporal_as_text(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, ArrowError> {
    let options = CastOptions {
        safe: false,
        format_options: FormatOptions::default()
            .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.6f"))
            .with_time_format(Some("%H:%M:%S%.6f")),
    };
    let columns = batch
        .columns()
        .iter()
        .map(|c| {
            if !is_local_temporal(c.data_type()) {
                return Ok(Arc::clone(c));
            }
            let text = cast_with_options(c, &DataType::Utf8, &options)?;
            let text = text.as_string::<i32>();
            let trimmed: StringArray = text
                .iter()
                .map(|v| {
                    v.map(|v| {
                        trim_fraction(v.as_bytes())
                            .and_then(|t| String::from_utf8(t).ok())
                            .unwrap_or_else(|| v.to_owned())
                    })
                })
                .collect();
            Ok(Arc::new(trimmed) as ArrayRef)
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
}

fn fix_row(row: DataRow, fix: &[bool]) -> DataRow {
    let data = &row.data;
    let mut out = BytesMut::with_capacity(data.len());
    let mut pos = 0;
    for &needs in fix {
        if pos + 4 > data.len() {
            return row;
        }
        let len = i32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
        pos += 4;
        if len < 0 {
            out.put_i32(len);
            continue;
        }
        let end = pos + len as usize;
        if end > data.len() {
            return row;
        }
        let value = &data[pos..end];
        match needs.then(|| trim_fraction(value)).flatten() {
            Some(fixed) => {
                out.put_i32(fixed.len() as i32);
                out.extend_from_slice(&fixed);
            }
            None => {
                out.put_i32(len);
                out.extend_from_slice(value);
            }
        }
        pos = end;
    }
    DataRow::new(out, row.field_count)
}

/// Wraps a query response so its rows are printed as PostgreSQL prints them.
pub fn postgres_text(mut response: QueryResponse) -> QueryResponse {
    let fix: Vec<bool> = response.row_schema.iter().map(needs_fix).collect();
    if !fix.iter().any(|f| *f) {
        return response;
    }
    let fix = Arc::new(fix);
    response.data_rows = response
        .data_rows
        .map(move |row| row.map(|r| fix_row(r, &fix)))
        .boxed();
    response
}

#[cfg(test)]
mod tests {
    use super::trim_fraction;

    fn t(s: &str) -> String {
        trim_fraction(s.as_bytes())
            .map(|v| String::from_utf8(v).unwrap())
            .unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn fractions_lose_trailing_zeros() {
        assert_eq!(t("2024-01-01 10:00:00.000000"), "2024-01-01 10:00:00");
        assert_eq!(t("2024-01-01 10:00:00.500000"), "2024-01-01 10:00:00.5");
        assert_eq!(
            t("2024-01-01 10:00:00.123456"),
            "2024-01-01 10:00:00.123456"
        );
        assert_eq!(t("10:00:00.250000+02"), "10:00:00.25+02");
        assert_eq!(t("2024-01-01 10:00:00"), "2024-01-01 10:00:00");
    }
}

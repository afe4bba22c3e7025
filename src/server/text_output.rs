//! Text output exactly as PostgreSQL prints it, where the stock encoder differs:
//! timestamps and times carry no trailing fractional zeros (`10:00:00`, `10:00:00.5`,
//! never `10:00:00.000000`).
//!
//! Works on encoded `DataRow`s of text-format columns, so it applies to every path
//! (simple, extended, cursors) without touching the encoder.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
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

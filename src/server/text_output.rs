//! Text output exactly as PostgreSQL prints it, where the stock encoder differs:
//! - timestamps, times and intervals carry no trailing fractional zeros (`10:00:00`,
//!   `10:00:00.5`, `1 day 00:00:01.5`, never `10:00:00.000000`);
//! - floats follow `extra_float_digits` the way `float8out`/`float4out` do: shortest
//!   exact digits when it is above 0 (`1`, `1e+20`, `1.5e-05`, `Infinity`), otherwise
//!   `%.{15|6 + extra}g`.
//!
//! [`TextFix`] rewrites one value's text from arrow-pg's encoder, which
//! [`crate::server::values`] uses for the types it has no direct path for; the direct
//! paths print floats with [`float8_text`] and [`float4_text`] (`pg::float`'s, which SQL's
//! casts of floats to text use too).

use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo};

pub use crate::pg::float::{float4_text, float8_text};
use datafusion_postgres::pgwire::api::Type;

/// How the stock text of one column's values must be rewritten to read as PostgreSQL's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFix {
    None,
    /// Timestamps and times: no trailing fractional zeros.
    TrimFraction,
    /// Intervals: no trailing fractional zeros, and `+` on a positive part after a
    /// negative one (`-1 days +02:00:00`).
    Interval,
    /// `float8` with the connection's `extra_float_digits`.
    Float8(i32),
    /// `float4` with the connection's `extra_float_digits`.
    Float4(i32),
}

impl TextFix {
    /// The fix a text-format column needs (binary columns need none).
    pub fn for_field(field: &FieldInfo) -> Self {
        if field.format() != FieldFormat::Text {
            return Self::None;
        }
        let extra = i32::from(field.format_options().extra_float_digits);
        match *field.datatype() {
            Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::TIME | Type::TIMETZ => Self::TrimFraction,
            Type::INTERVAL => Self::Interval,
            Type::FLOAT8 => Self::Float8(extra),
            Type::FLOAT4 => Self::Float4(extra),
            _ => Self::None,
        }
    }

    /// The rewritten value, or `None` when the stock text is already right.
    pub fn apply(self, value: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::None => None,
            Self::TrimFraction => trim_fraction(value),
            Self::Interval => {
                let trimmed = trim_fraction(value);
                let text = trimmed.as_deref().unwrap_or(value);
                interval_signs(text).or(trimmed)
            }
            Self::Float8(extra) | Self::Float4(extra) => {
                let text = std::str::from_utf8(value).ok()?;
                let fixed = if let Self::Float4(_) = self {
                    float4_text(text.parse::<f32>().ok()?, extra)
                } else {
                    float8_text(text.parse::<f64>().ok()?, extra)
                };
                (fixed.as_bytes() != value).then(|| fixed.into_bytes())
            }
        }
    }
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

/// PostgreSQL's `+` before a positive part of an interval that follows a negative one
/// (`EncodeInterval`'s `is_before`): `-1 days 02:00:00` → `-1 days +02:00:00`.
fn interval_signs(value: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(value).ok()?;
    let mut out = String::with_capacity(text.len() + 2);
    let mut before_negative = false;
    let mut changed = false;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let is_number = word.starts_with(|c: char| c.is_ascii_digit() || c == '-');
        if is_number {
            if before_negative && !word.starts_with('-') {
                out.push('+');
                changed = true;
            }
            before_negative = word.starts_with('-');
        }
        out.push_str(word);
    }
    changed.then(|| out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::{float4_text, float8_text, trim_fraction, TextFix};

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
        // Intervals: only the seconds' fraction, never the days or months.
        assert_eq!(t("1 day 02:00:00.500000"), "1 day 02:00:00.5");
        assert_eq!(t("00:00:01.000000"), "00:00:01");
        assert_eq!(t("3 mons"), "3 mons");
    }

    #[test]
    fn interval_parts_after_a_negative_one_carry_their_sign() {
        // PostgreSQL 15.18's texts for the same intervals.
        let i = |s: &str| {
            let fixed = TextFix::Interval.apply(s.as_bytes());
            String::from_utf8(fixed.unwrap_or_else(|| s.as_bytes().to_vec())).unwrap()
        };
        assert_eq!(i("-1 mons 3 days"), "-1 mons +3 days");
        assert_eq!(i("-1 days 02:00:00.500000"), "-1 days +02:00:00.5");
        assert_eq!(i("1 day -02:00:00"), "1 day -02:00:00");
        assert_eq!(i("-1 years -2 mons"), "-1 years -2 mons");
    }

    #[test]
    fn floats_print_as_postgres_does() {
        // extra_float_digits = 1 (PostgreSQL's default and what drivers set): shortest.
        let cases = [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1e15, "1e+15"),
            (123_456_789_012_345.0, "123456789012345"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (-0.0, "-0"),
            (0.0, "0"),
            (std::f64::consts::PI, "3.141592653589793"),
        ];
        for (v, want) in cases {
            assert_eq!(float8_text(v, 1), want, "{v}");
        }
        // extra_float_digits = 0: %.15g.
        assert_eq!(float8_text(0.1 + 0.2, 0), "0.3");
        assert_eq!(float8_text(0.1 + 0.2, 1), "0.30000000000000004");
        assert_eq!(float8_text(1e15, 0), "1e+15");
        assert_eq!(float8_text(123_456.0, -10), "1.2346e+05");
        assert_eq!(float8_text(123_456.0, -15), "1e+05");
        // float4: FLT_DIG = 6.
        assert_eq!(float4_text(1e6, 1), "1e+06");
        assert_eq!(float4_text(123_456.0, 1), "123456");
        assert_eq!(float4_text(0.1, 1), "0.1");
        assert_eq!(float4_text(1.1, 0), "1.1");
        assert_eq!(float4_text(f32::INFINITY, 1), "Infinity");
    }

    #[test]
    fn stock_float_text_is_rewritten() {
        let fix = TextFix::Float8(1);
        assert_eq!(fix.apply(b"1.0"), Some(b"1".to_vec()));
        assert_eq!(fix.apply(b"inf"), Some(b"Infinity".to_vec()));
        assert_eq!(fix.apply(b"1e20"), Some(b"1e+20".to_vec()));
        assert_eq!(fix.apply(b"2.5"), None);
    }
}

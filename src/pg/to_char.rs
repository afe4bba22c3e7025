//! PostgreSQL's `to_char`, replacing DataFusion's (which reads chrono's `%Y-%m-%d`, so
//! `to_char(order_ts, 'YYYY-MM')` answered the pattern itself). Two families, as in
//! PostgreSQL's `formatting.c`:
//! - dates and timestamps: `YYYY`, `MM`, `DD`, `HH24`, `MI`, `SS`, `Mon`, `Month`, `Day`,
//!   `Q`, `IW`, `AM`, ... with the `FM` (no padding) and `TH` (ordinal) modifiers, quoted
//!   text and backslash escapes ([`DatePattern`]);
//! - numbers: `9`, `0`, `.`/`D`, `,`/`G`, `FM`, `S`, `MI`, `PR` and quoted text
//!   ([`NumberPattern`]); other number patterns fail with 0A000.
//!
//! DataFusion's chrono-pattern function and its alias `date_format` are gone with it.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{not_impl_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `to_char(value, pattern)`: see the module header.
pub fn to_char_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(ToChar {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ToChar {
    signature: Signature,
}

impl ScalarUDFImpl for ToChar {
    fn name(&self) -> &str {
        "to_char"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args.first() {
            Some(t) if is_datetime(t) || t.is_numeric() || t.is_null() => Ok(DataType::Utf8),
            Some(t) => plan_err!(
                "No function matches the given name and argument types 'to_char({t}, text)'"
            ),
            None => Ok(DataType::Utf8),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let values = args.args[0].clone().into_array(rows)?;
        let patterns = cast(&args.args[1].clone().into_array(rows)?, &DataType::Utf8)?;
        let patterns = patterns.as_string::<i32>();
        let kind = values.data_type().clone();
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        // The pattern is nearly always one literal: parsed once, then per row if it varies.
        let mut parsed: Option<(String, Formatter)> = None;
        let values = Values::new(&values)?;
        for row in 0..rows {
            if values.is_null(row) || patterns.is_null(row) {
                out.append_null();
                continue;
            }
            let text = patterns.value(row);
            if parsed.as_ref().is_none_or(|(p, _)| p != text) {
                parsed = Some((text.to_owned(), Formatter::parse(&kind, text)?));
            }
            let (_, formatter) = parsed.as_ref().expect("parsed above");
            out.append_value(formatter.format(&values, row)?);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

fn is_datetime(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    )
}

/// The value column, in the forms the formatters read.
enum Values {
    /// Timestamps as microseconds, with the column's zone (`None`: without time zone).
    Micros(Vec<Option<i64>>, Option<chrono_tz::Tz>),
    /// Floats, as doubles.
    Doubles(Float64Array),
    /// Integers and decimals as their exact text, cast once per batch.
    Exact(StringArray),
    Null,
}

impl Values {
    fn new(array: &ArrayRef) -> Result<Self> {
        Ok(match array.data_type() {
            DataType::Null => Values::Null,
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => {
                let zone = match array.data_type() {
                    DataType::Timestamp(_, Some(zone)) => {
                        Some(zone.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC))
                    }
                    _ => None,
                };
                let micros = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
                let micros =
                    micros.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
                Values::Micros(micros.iter().collect(), zone)
            }
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                Values::Doubles(cast(array, &DataType::Float64)?.as_primitive().clone())
            }
            _ => Values::Exact(cast(array, &DataType::Utf8)?.as_string::<i32>().clone()),
        })
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Values::Micros(v, _) => v[row].is_none(),
            Values::Doubles(a) => a.is_null(row),
            Values::Exact(a) => a.is_null(row),
            Values::Null => true,
        }
    }
}

/// A parsed pattern of either family.
enum Formatter {
    Date(DatePattern),
    Number(NumberPattern),
    Null,
}

impl Formatter {
    fn parse(kind: &DataType, pattern: &str) -> Result<Self> {
        Ok(if is_datetime(kind) {
            Formatter::Date(DatePattern::parse(pattern))
        } else if kind.is_null() {
            Formatter::Null
        } else {
            Formatter::Number(NumberPattern::parse(pattern)?)
        })
    }

    fn format(&self, values: &Values, row: usize) -> Result<String> {
        match (self, values) {
            (Formatter::Date(p), Values::Micros(v, zone)) => {
                let micros = v[row].unwrap_or_default();
                let utc = DateTime::from_timestamp_micros(micros)
                    .map(|d| d.naive_utc())
                    .unwrap_or_default();
                Ok(match zone {
                    Some(tz) => {
                        let local = tz.from_utc_datetime(&utc);
                        let offset = chrono::Offset::fix(local.offset()).local_minus_utc();
                        let abbreviation = local.format("%Z").to_string();
                        p.format(&local.naive_local(), Some((abbreviation.as_str(), offset)))
                    }
                    None => p.format(&utc, None),
                })
            }
            (Formatter::Number(p), Values::Doubles(a)) => {
                Ok(p.format(Number::Double(a.value(row))))
            }
            (Formatter::Number(p), Values::Exact(a)) => Ok(p.format(Number::Exact(a.value(row)))),
            _ => Ok(String::new()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Dates and times.

/// One date or time field of a pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Year4,
    YearComma,
    Year3,
    Year2,
    Year1,
    IsoYear4,
    IsoYear3,
    IsoYear2,
    IsoYear1,
    Century,
    Quarter,
    Month,
    MonthName(Case),
    MonthAbbrev(Case),
    RomanMonth(Case),
    WeekOfYear,
    WeekOfMonth,
    IsoWeek,
    DayOfYear,
    IsoDayOfYear,
    DayOfMonth,
    DayOfWeek,
    IsoDayOfWeek,
    DayName(Case),
    DayAbbrev(Case),
    Julian,
    Hour24,
    Hour12,
    Minute,
    Second,
    SecondsOfDay,
    Millis,
    Micros,
    Meridiem(Case, bool),
    Era(Case, bool),
    ZoneName(Case),
    Offset,
    OffsetHours,
    OffsetMinutes,
}

/// How a name is written: `MONTH`, `Month` or `month`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Upper,
    Title,
    Lower,
}

impl Case {
    fn apply(self, name: &str) -> String {
        match self {
            Case::Upper => name.to_uppercase(),
            Case::Title => name.to_owned(),
            Case::Lower => name.to_lowercase(),
        }
    }
}

/// The keywords of a date pattern, longest first where one starts another, as
/// PostgreSQL's `DCH_keywords` matches them (case-sensitive; names in three cases).
const DATE_KEYWORDS: &[(&str, Field)] = {
    use Case::{Lower, Title, Upper};
    use Field::*;
    &[
        ("A.D.", Era(Upper, true)),
        ("a.d.", Era(Lower, true)),
        ("B.C.", Era(Upper, true)),
        ("b.c.", Era(Lower, true)),
        ("AD", Era(Upper, false)),
        ("ad", Era(Lower, false)),
        ("BC", Era(Upper, false)),
        ("bc", Era(Lower, false)),
        ("A.M.", Meridiem(Upper, true)),
        ("a.m.", Meridiem(Lower, true)),
        ("P.M.", Meridiem(Upper, true)),
        ("p.m.", Meridiem(Lower, true)),
        ("AM", Meridiem(Upper, false)),
        ("am", Meridiem(Lower, false)),
        ("PM", Meridiem(Upper, false)),
        ("pm", Meridiem(Lower, false)),
        ("CC", Century),
        ("cc", Century),
        ("DAY", DayName(Upper)),
        ("Day", DayName(Title)),
        ("day", DayName(Lower)),
        ("DDD", DayOfYear),
        ("ddd", DayOfYear),
        ("DD", DayOfMonth),
        ("dd", DayOfMonth),
        ("DY", DayAbbrev(Upper)),
        ("Dy", DayAbbrev(Title)),
        ("dy", DayAbbrev(Lower)),
        ("D", DayOfWeek),
        ("d", DayOfWeek),
        ("HH24", Hour24),
        ("hh24", Hour24),
        ("HH12", Hour12),
        ("hh12", Hour12),
        ("HH", Hour12),
        ("hh", Hour12),
        ("IDDD", IsoDayOfYear),
        ("iddd", IsoDayOfYear),
        ("ID", IsoDayOfWeek),
        ("id", IsoDayOfWeek),
        ("IW", IsoWeek),
        ("iw", IsoWeek),
        ("IYYY", IsoYear4),
        ("iyyy", IsoYear4),
        ("IYY", IsoYear3),
        ("iyy", IsoYear3),
        ("IY", IsoYear2),
        ("iy", IsoYear2),
        ("I", IsoYear1),
        ("i", IsoYear1),
        ("J", Julian),
        ("j", Julian),
        ("MI", Minute),
        ("mi", Minute),
        ("MM", Month),
        ("mm", Month),
        ("MONTH", MonthName(Upper)),
        ("Month", MonthName(Title)),
        ("month", MonthName(Lower)),
        ("MON", MonthAbbrev(Upper)),
        ("Mon", MonthAbbrev(Title)),
        ("mon", MonthAbbrev(Lower)),
        ("MS", Millis),
        ("ms", Millis),
        ("OF", Offset),
        ("of", Offset),
        ("Q", Quarter),
        ("q", Quarter),
        ("RM", RomanMonth(Upper)),
        ("rm", RomanMonth(Lower)),
        ("SSSSS", SecondsOfDay),
        ("sssss", SecondsOfDay),
        ("SSSS", SecondsOfDay),
        ("ssss", SecondsOfDay),
        ("SS", Second),
        ("ss", Second),
        ("TZH", OffsetHours),
        ("tzh", OffsetHours),
        ("TZM", OffsetMinutes),
        ("tzm", OffsetMinutes),
        ("TZ", ZoneName(Upper)),
        ("tz", ZoneName(Lower)),
        ("US", Micros),
        ("us", Micros),
        ("WW", WeekOfYear),
        ("ww", WeekOfYear),
        ("W", WeekOfMonth),
        ("w", WeekOfMonth),
        ("Y,YYY", YearComma),
        ("y,yyy", YearComma),
        ("YYYY", Year4),
        ("yyyy", Year4),
        ("YYY", Year3),
        ("yyy", Year3),
        ("YY", Year2),
        ("yy", Year2),
        ("Y", Year1),
        ("y", Year1),
    ]
};

/// A piece of a date pattern.
#[derive(Debug, Clone, PartialEq)]
enum DatePart {
    Text(String),
    Field {
        field: Field,
        /// `FM`: no padding.
        fill: bool,
        /// `TH` / `th`: an ordinal suffix, in upper case when `Some(true)`.
        ordinal: Option<bool>,
    },
}

/// A parsed date pattern.
#[derive(Debug, Clone, PartialEq)]
struct DatePattern(Vec<DatePart>);

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

fn push_text(parts: &mut Vec<DatePart>, c: char) {
    if let Some(DatePart::Text(t)) = parts.last_mut() {
        t.push(c);
    } else {
        parts.push(DatePart::Text(c.to_string()));
    }
}

impl DatePattern {
    fn parse(pattern: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = pattern;
        while let Some(c) = rest.chars().next() {
            let mut fill = false;
            let mut after_modifiers = rest;
            loop {
                if let Some(r) = after_modifiers
                    .strip_prefix("FM")
                    .or_else(|| after_modifiers.strip_prefix("fm"))
                {
                    fill = true;
                    after_modifiers = r;
                } else if let Some(r) = after_modifiers
                    .strip_prefix("TM")
                    .or_else(|| after_modifiers.strip_prefix("tm"))
                {
                    after_modifiers = r;
                } else {
                    break;
                }
            }
            if let Some((keyword, field)) = DATE_KEYWORDS
                .iter()
                .find(|(k, _)| after_modifiers.starts_with(k))
            {
                rest = &after_modifiers[keyword.len()..];
                let ordinal = if let Some(r) = rest.strip_prefix("TH") {
                    rest = r;
                    Some(true)
                } else if let Some(r) = rest.strip_prefix("th") {
                    rest = r;
                    Some(false)
                } else {
                    None
                };
                parts.push(DatePart::Field {
                    field: *field,
                    fill,
                    ordinal,
                });
                continue;
            }
            match c {
                '"' => {
                    let mut chars = rest[1..].char_indices();
                    let mut end = rest.len();
                    while let Some((i, ch)) = chars.next() {
                        match ch {
                            '\\' => {
                                if let Some((_, escaped)) = chars.next() {
                                    push_text(&mut parts, escaped);
                                }
                            }
                            '"' => {
                                end = i + 2;
                                break;
                            }
                            other => push_text(&mut parts, other),
                        }
                    }
                    rest = &rest[end.min(rest.len())..];
                }
                '\\' if rest[1..].starts_with('"') => {
                    push_text(&mut parts, '"');
                    rest = &rest[2..];
                }
                _ => {
                    push_text(&mut parts, c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        DatePattern(parts)
    }

    /// `at` formatted; `zone` is the abbreviation and offset of a timestamptz.
    fn format(&self, at: &NaiveDateTime, zone: Option<(&str, i32)>) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                DatePart::Text(t) => out.push_str(t),
                DatePart::Field {
                    field,
                    fill,
                    ordinal,
                } => {
                    let (text, number) = field_text(*field, *fill, at, zone);
                    out.push_str(&text);
                    if let (Some(upper), Some(n)) = (ordinal, number) {
                        let suffix = ordinal_suffix(n);
                        out.push_str(&if *upper {
                            suffix.to_uppercase()
                        } else {
                            suffix.to_owned()
                        });
                    }
                }
            }
        }
        out
    }
}

fn ordinal_suffix(n: i64) -> &'static str {
    let n = n.abs();
    if (11..=13).contains(&(n % 100)) {
        return "th";
    }
    match n % 10 {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    }
}

/// A number at least `width` digits wide (`fill`: as it is).
fn padded(n: i64, width: usize, fill: bool) -> String {
    if fill {
        n.to_string()
    } else if n < 0 {
        format!("-{:0width$}", -n, width = width.saturating_sub(1))
    } else {
        format!("{n:0width$}")
    }
}

/// A name padded to `width` with blanks, unless `fill`.
fn named(name: String, width: usize, fill: bool) -> String {
    if fill {
        name
    } else {
        format!("{name:<width$}")
    }
}

/// A field's text and, for numeric fields, its number (for `TH`).
fn field_text(
    field: Field,
    fill: bool,
    at: &NaiveDateTime,
    zone: Option<(&str, i32)>,
) -> (String, Option<i64>) {
    use Field::*;
    let year = i64::from(at.year());
    let iso = at.iso_week();
    let number = |n: i64, width: usize| (padded(n, width, fill), Some(n));
    let hour12 = match at.hour() % 12 {
        0 => 12,
        h => i64::from(h),
    };
    let offset = zone.map_or(0, |(_, o)| o);
    match field {
        Year4 => number(year, 4),
        YearComma => (
            format!("{},{:03}", year / 1000, (year % 1000).abs()),
            Some(year),
        ),
        Year3 => number(year % 1000, 3),
        Year2 => number(year % 100, 2),
        Year1 => number(year % 10, 1),
        IsoYear4 => number(i64::from(iso.year()), 4),
        IsoYear3 => number(i64::from(iso.year()) % 1000, 3),
        IsoYear2 => number(i64::from(iso.year()) % 100, 2),
        IsoYear1 => number(i64::from(iso.year()) % 10, 1),
        Century => number(
            if year > 0 {
                (year + 99) / 100
            } else {
                year / 100 - 1
            },
            2,
        ),
        Quarter => number(i64::from(at.month0() / 3 + 1), 1),
        Month => number(i64::from(at.month()), 2),
        MonthName(case) => (
            named(case.apply(MONTHS[at.month0() as usize]), 9, fill),
            None,
        ),
        MonthAbbrev(case) => (case.apply(&MONTHS[at.month0() as usize][..3]), None),
        RomanMonth(case) => (
            named(case.apply(ROMAN[at.month0() as usize]), 4, fill),
            None,
        ),
        WeekOfYear => number(i64::from(at.ordinal0() / 7 + 1), 2),
        WeekOfMonth => number(i64::from(at.day0() / 7 + 1), 1),
        IsoWeek => number(i64::from(iso.week()), 2),
        DayOfYear => number(i64::from(at.ordinal()), 3),
        IsoDayOfYear => {
            let day =
                (i64::from(iso.week()) - 1) * 7 + i64::from(at.weekday().number_from_monday());
            number(day, 3)
        }
        DayOfMonth => number(i64::from(at.day()), 2),
        DayOfWeek => number(i64::from(at.weekday().number_from_sunday()), 1),
        IsoDayOfWeek => number(i64::from(at.weekday().number_from_monday()), 1),
        DayName(case) => {
            let name = DAYS[at.weekday().num_days_from_sunday() as usize];
            (named(case.apply(name), 9, fill), None)
        }
        DayAbbrev(case) => {
            let name = DAYS[at.weekday().num_days_from_sunday() as usize];
            (case.apply(&name[..3]), None)
        }
        Julian => {
            // Days since 4714-11-24 BC (proleptic Gregorian), day 0 being its noon-less start.
            let days = i64::from(at.date().num_days_from_ce()) + 1_721_425;
            (days.to_string(), Some(days))
        }
        Hour24 => number(i64::from(at.hour()), 2),
        Hour12 => number(hour12, 2),
        Minute => number(i64::from(at.minute()), 2),
        Second => number(i64::from(at.second()), 2),
        SecondsOfDay => number(i64::from(at.num_seconds_from_midnight()), 1),
        Millis => number(i64::from(at.nanosecond() / 1_000_000), 3),
        Micros => number(i64::from(at.nanosecond() / 1_000), 6),
        Meridiem(case, dots) => {
            let text = match (at.hour() < 12, dots) {
                (true, false) => "AM",
                (false, false) => "PM",
                (true, true) => "A.M.",
                (false, true) => "P.M.",
            };
            (case.apply(text), None)
        }
        Era(case, dots) => {
            let text = match (year > 0, dots) {
                (true, false) => "AD",
                (false, false) => "BC",
                (true, true) => "A.D.",
                (false, true) => "B.C.",
            };
            (case.apply(text), None)
        }
        ZoneName(case) => (
            zone.map_or(String::new(), |(name, _)| case.apply(name)),
            None,
        ),
        Offset => {
            let sign = if offset < 0 { '-' } else { '+' };
            let (hours, minutes) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
            let text = if minutes == 0 {
                format!("{sign}{hours:02}")
            } else {
                format!("{sign}{hours:02}:{minutes:02}")
            };
            (text, None)
        }
        OffsetHours => {
            let sign = if offset < 0 { '-' } else { '+' };
            (format!("{sign}{:02}", offset.abs() / 3600), None)
        }
        OffsetMinutes => (format!("{:02}", offset.abs() % 3600 / 60), None),
    }
}

// ---------------------------------------------------------------------------------------
// Numbers.

/// A piece of a number pattern.
#[derive(Debug, Clone, PartialEq)]
enum NumberPart {
    /// `9`: a digit, blank when a leading zero.
    Nine,
    /// `0`: a digit, always.
    Zero,
    /// `.` or `D`.
    Point,
    /// `,` or `G`: a separator, blank (or dropped under FM) among leading blanks.
    Group,
    /// `S`: the sign, `+` or `-`.
    Sign,
    /// `MI`: `-` for a negative value, else a blank (nothing under FM).
    Minus,
    Text(String),
}

/// A parsed number pattern.
#[derive(Debug, Clone, PartialEq)]
struct NumberPattern {
    parts: Vec<NumberPart>,
    fill: bool,
    /// `PR`: a negative value in angle brackets.
    brackets: bool,
}

impl NumberPattern {
    fn parse(pattern: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut fill = false;
        let mut brackets = false;
        let mut rest = pattern;
        while let Some(c) = rest.chars().next() {
            let upper = rest.to_ascii_uppercase();
            let (part, length) = if upper.starts_with("FM") {
                fill = true;
                (None, 2)
            } else if upper.starts_with("PR") {
                brackets = true;
                (None, 2)
            } else if upper.starts_with("MI") {
                (Some(NumberPart::Minus), 2)
            } else if upper.starts_with("EEEE")
                || upper.starts_with("RN")
                || upper.starts_with("TH")
                || upper.starts_with("PL")
                || upper.starts_with("SG")
                || c == 'V'
                || c == 'v'
                || c == 'L'
                || c == 'l'
            {
                return not_impl_err!("to_char pattern {rest:?} is not supported for numbers");
            } else {
                match c {
                    '9' => (Some(NumberPart::Nine), 1),
                    '0' => (Some(NumberPart::Zero), 1),
                    '.' | 'D' | 'd' => (Some(NumberPart::Point), 1),
                    ',' | 'G' | 'g' => (Some(NumberPart::Group), 1),
                    'S' | 's' => (Some(NumberPart::Sign), 1),
                    '"' => {
                        let end = rest[1..].find('"').map_or(rest.len(), |i| i + 2);
                        let text = rest[1..end.saturating_sub(1).max(1)].to_owned();
                        (Some(NumberPart::Text(text)), end)
                    }
                    other => (Some(NumberPart::Text(other.to_string())), other.len_utf8()),
                }
            };
            if let Some(part) = part {
                parts.push(part);
            }
            rest = &rest[length.min(rest.len())..];
        }
        Ok(NumberPattern {
            parts,
            fill,
            brackets,
        })
    }

    /// Digit positions before and after the point.
    fn positions(&self) -> (usize, usize) {
        let point = self
            .parts
            .iter()
            .position(|p| *p == NumberPart::Point)
            .unwrap_or(self.parts.len());
        let digit = |p: &&NumberPart| matches!(p, NumberPart::Nine | NumberPart::Zero);
        (
            self.parts[..point].iter().filter(digit).count(),
            self.parts[point..].iter().filter(digit).count(),
        )
    }

    /// The sign written just before the number's first character: `-` or a blank by
    /// default, `-`/`+` for a leading `S`, `<` or a blank for `PR`, none with `MI` or a
    /// trailing `S` (written where they stand). A blank is dropped under FM.
    fn anchored_sign(&self, negative: bool) -> &'static str {
        let leading_s = self
            .parts
            .iter()
            .take_while(|p| !matches!(p, NumberPart::Nine | NumberPart::Zero | NumberPart::Point))
            .any(|p| *p == NumberPart::Sign);
        let written_apart = self.parts.contains(&NumberPart::Minus)
            || (self.parts.contains(&NumberPart::Sign) && !leading_s);
        let sign = match (leading_s, self.brackets, negative) {
            _ if written_apart => "",
            (true, _, true) => "-",
            (true, _, false) => "+",
            (false, true, true) => "<",
            (false, false, true) => "-",
            (false, _, false) => " ",
        };
        if self.fill && sign == " " {
            ""
        } else {
            sign
        }
    }

    fn format(&self, value: Number<'_>) -> String {
        let (whole_positions, fraction_positions) = self.positions();
        let has_point = self.parts.contains(&NumberPart::Point);
        let (negative, whole, fraction) = decimal_digits(value, fraction_positions);
        // A zero whole part is no digit when a fraction follows (`9.99` prints ` .50`).
        let whole: Vec<char> = if whole == "0" && has_point {
            Vec::new()
        } else {
            whole.chars().collect()
        };
        let overflow = whole.len() > whole_positions;
        let first_digit = whole_positions.saturating_sub(whole.len());
        let digit_parts = |p: &&NumberPart| matches!(p, NumberPart::Nine | NumberPart::Zero);
        // From the first `0` on, leading positions print zeros.
        let zeros_from = self
            .parts
            .iter()
            .take_while(|p| **p != NumberPart::Point)
            .filter(digit_parts)
            .position(|p| *p == NumberPart::Zero)
            .unwrap_or(usize::MAX);
        let fraction: Vec<char> = fraction.chars().collect();
        // FM drops the fraction's trailing zeros that `9`s stand for.
        let kept_fraction = if self.fill {
            let last_nonzero = fraction
                .iter()
                .rposition(|c| *c != '0')
                .map_or(0, |i| i + 1);
            let last_zero = self
                .parts
                .iter()
                .skip_while(|p| **p != NumberPart::Point)
                .filter(digit_parts)
                .enumerate()
                .filter(|(_, p)| **p == NumberPart::Zero)
                .map(|(i, _)| i + 1)
                .max()
                .unwrap_or(0);
            last_nonzero.max(last_zero)
        } else {
            fraction.len()
        };
        let mut sign = Some(self.anchored_sign(negative));
        let mut out = String::new();
        let mut position = 0;
        let mut fraction_index = 0;
        let mut after_point = false;
        let mut printing = false;
        for part in &self.parts {
            match part {
                NumberPart::Nine | NumberPart::Zero if !after_point => {
                    let k = position;
                    position += 1;
                    if overflow || k >= first_digit || k >= zeros_from {
                        out.push_str(sign.take().unwrap_or_default());
                        out.push(if overflow {
                            '#'
                        } else if k >= first_digit {
                            whole[k - first_digit]
                        } else {
                            '0'
                        });
                        printing = true;
                    } else if !self.fill {
                        out.push(' ');
                    }
                }
                NumberPart::Nine | NumberPart::Zero => {
                    let j = fraction_index;
                    fraction_index += 1;
                    if overflow {
                        out.push('#');
                    } else if j < kept_fraction {
                        out.push(fraction[j]);
                    }
                }
                NumberPart::Point => {
                    after_point = true;
                    out.push_str(sign.take().unwrap_or_default());
                    out.push('.');
                }
                NumberPart::Group => {
                    if printing {
                        out.push(',');
                    } else if !self.fill {
                        out.push(' ');
                    }
                }
                NumberPart::Sign => {
                    // A trailing `S`; a leading one is the anchored sign.
                    if self.anchored_sign(negative).is_empty() {
                        out.push(if negative { '-' } else { '+' });
                    }
                }
                NumberPart::Minus => {
                    if negative {
                        out.push('-');
                    } else if !self.fill {
                        out.push(' ');
                    }
                }
                NumberPart::Text(t) => out.push_str(t),
            }
        }
        if let Some(sign) = sign {
            out.insert_str(0, sign);
        }
        if self.brackets {
            if negative {
                out.push('>');
            } else if !self.fill {
                out.push(' ');
            }
        }
        out
    }
}

/// A number to format: a double, or the exact text of an integer or decimal.
#[derive(Debug, Clone, Copy)]
enum Number<'a> {
    Double(f64),
    Exact(&'a str),
}

/// `value` rounded half away from zero to `scale` digits: its sign, whole digits and
/// fraction digits (exactly `scale` of them).
fn decimal_digits(value: Number<'_>, scale: usize) -> (bool, String, String) {
    let text = match value {
        Number::Double(v) => format!("{v:.scale$}"),
        Number::Exact(exact) => round_decimal_text(exact, scale),
    };
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches('-');
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let negative = negative && (whole.bytes().chain(fraction.bytes()).any(|b| b != b'0'));
    (negative, whole.to_owned(), fraction.to_owned())
}

/// Decimal text (`-12.345`) rounded half away from zero to `scale` fraction digits.
fn round_decimal_text(text: &str, scale: usize) -> String {
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches(['-', '+']);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut all: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes().chain(std::iter::repeat(b'0')).take(scale))
        .collect();
    let round_up = fraction.as_bytes().get(scale).is_some_and(|d| *d >= b'5');
    if round_up {
        let mut i = all.len();
        loop {
            if i == 0 {
                all.insert(0, b'1');
                break;
            }
            i -= 1;
            if all[i] == b'9' {
                all[i] = b'0';
            } else {
                all[i] += 1;
                break;
            }
        }
    }
    let split = all.len() - scale;
    let whole = String::from_utf8_lossy(&all[..split])
        .trim_start_matches('0')
        .to_owned();
    let whole = if whole.is_empty() {
        "0".to_owned()
    } else {
        whole
    };
    let sign = if negative { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{}", String::from_utf8_lossy(&all[split..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2023, 2, 7)
            .unwrap()
            .and_hms_micro_opt(7, 18, 7, 123_456)
            .unwrap()
    }

    fn date(pattern: &str) -> String {
        DatePattern::parse(pattern).format(&at(), None)
    }

    #[test]
    fn date_patterns_print_as_postgres_15_prints_them() {
        // Each expectation is PostgreSQL 15.18's for timestamp '2023-02-07 07:18:07.123456'.
        assert_eq!(date("YYYY-MM-DD HH24:MI:SS"), "2023-02-07 07:18:07");
        assert_eq!(date("YYYY-MM"), "2023-02");
        assert_eq!(date("Mon DD, YYYY"), "Feb 07, 2023");
        assert_eq!(date("FMMonth FMDDth"), "February 7th");
        assert_eq!(date("Month"), "February ");
        assert_eq!(date("Day, DD MON"), "Tuesday  , 07 FEB");
        assert_eq!(date("\"Q\"Q YYYY"), "Q1 2023");
        assert_eq!(date("HH12:MI AM"), "07:18 AM");
        assert_eq!(date("IYYY-IW"), "2023-06");
        assert_eq!(date("MS US"), "123 123456");
        assert_eq!(date("DDD D ID"), "038 3 2");
        assert_eq!(date("dy mon"), "tue feb");
    }

    fn number(value: Number<'_>, pattern: &str) -> String {
        NumberPattern::parse(pattern).unwrap().format(value)
    }

    #[test]
    fn number_patterns_print_as_postgres_15_prints_them() {
        let f = Number::Double;
        assert_eq!(number(f(12.5), "99.99"), " 12.50");
        assert_eq!(number(f(-12.5), "9999.99"), "  -12.50");
        assert_eq!(number(f(1234.5), "999,999.00"), "   1,234.50");
        assert_eq!(number(f(1234.5), "FM999,999.00"), "1,234.50");
        assert_eq!(number(f(12.5), "FM99.99"), "12.5");
        assert_eq!(number(f(0.5), "FM90.00"), "0.50");
        assert_eq!(number(f(0.5), "9.99"), "  .50");
        assert_eq!(number(f(0.5), "0.99"), " 0.50");
        assert_eq!(number(f(123.0), "99"), " ##");
        assert_eq!(number(f(99.99), "99.9"), " ##.#");
        assert_eq!(number(f(7.0), "000"), " 007");
        assert_eq!(number(f(7.0), "9909"), "   07");
        assert_eq!(number(f(0.0), "9999"), "    0");
        assert_eq!(number(f(-0.001), "99.99"), "   .00");
        assert_eq!(number(f(-7.0), "999MI"), "  7-");
        assert_eq!(number(f(-7.0), "S999"), "  -7");
        assert_eq!(number(f(7.0), "S999"), "  +7");
        assert_eq!(number(f(-5.0), "999PR"), "  <5>");
        assert_eq!(number(f(5.0), "999PR"), "   5 ");
        assert_eq!(number(f(5.5), "\"$\"999.99"), "$   5.50");
        assert_eq!(number(f(5.5), "FM$999.99"), "$5.5");
        assert_eq!(number(f(12.0), "9,999"), "    12");
        assert_eq!(number(f(1.5), "FM999.990"), "1.500");
        assert_eq!(round_decimal_text("2.345", 2), "2.35");
        assert_eq!(round_decimal_text("-9.995", 2), "-10.00");
    }
}

//! PostgreSQL's meaning for dates and times where DataFusion's differs:
//! - date and timestamp literals are read as PostgreSQL reads them: `'2024-03-01 12:00'`
//!   (no seconds), `'2024-3-1'`, `'20240301'`, `'epoch'`, `'today'`; a zone on a
//!   `timestamp` (without time zone) is ignored, not converted (DataFusion moved
//!   `'12:00+02'` to 10:00). Read after type coercion, so the casts DataFusion adds to a
//!   compared literal (`order_ts >= '2024-03-01 12:00'`) are covered too;
//! - `timestamp - timestamp` is an interval of days and time (`60 days 01:30:00`), not a
//!   duration (`1441:30:00`, which DataFusion also compared wrongly with intervals);
//! - `date ± interval` is a timestamp (DataFusion kept a date), and an interval times or
//!   divided by a number (`interval '1 day' * 3`, `/ 2`), which DataFusion cannot plan,
//!   scales as PostgreSQL's `interval_mul` does. These are planned by [`TemporalPlanner`]
//!   while the SQL becomes a plan, so the types clients are told are PostgreSQL's; the
//!   other fixes are analyzer rules, which must keep every output type as it is.
//! - a timestamp cast to text reads as PostgreSQL prints it (`2024-03-01 12:00:00`,
//!   `+00` after a timestamptz), not ISO 8601 with a `T`;
//! - `age(timestamp, timestamp)` and `age(timestamp)`: PostgreSQL's symbolic difference
//!   in years, months and days (`age(xid)`, which catalog queries call, answers 0);
//! - interval literals in PostgreSQL's own output form (`1 day 02:00:00`, `-02:00:00`,
//!   `@ 1 day ago`, `1000 years` as `1 millennium`) are rewritten ([`interval_text`]) into
//!   the unit form DataFusion reads; `INTERVAL '...'` literals are rewritten in the SQL,
//!   casts of quoted literals here.

use std::str::FromStr;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike,
};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{AsArray, IntervalMonthDayNanoArray, PrimitiveArray, StringBuilder};
use datafusion::arrow::datatypes::{
    DataType, FieldRef, IntervalMonthDayNano, IntervalUnit, TimeUnit, TimestampMicrosecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{exec_err, plan_err, DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    BinaryExpr, Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TryCast, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use crate::pg::coercion::rewrite_expressions;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The scalar functions the rules below call, and `age`.
pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(TimestampDifference::new()),
        ScalarUDF::new_from_impl(TimestampText::new()),
        ScalarUDF::new_from_impl(IntervalText::new()),
        ScalarUDF::new_from_impl(Age::new()),
        ScalarUDF::new_from_impl(IntervalScale::multiply()),
        ScalarUDF::new_from_impl(IntervalScale::divide()),
    ]
}

// ---------------------------------------------------------------------------------------
// The analyzer rules.

/// Arithmetic planned with PostgreSQL's result types, while the SQL is turned into a plan
/// (so clients are told those types): `timestamp - timestamp` → [`TimestampDifference`],
/// `date ± interval` → a timestamp ± the interval, `interval * number`, `number *
/// interval`, `interval / number` → [`IntervalScale`].
#[derive(Debug)]
pub struct TemporalPlanner {
    difference: Arc<ScalarUDF>,
    multiply: Arc<ScalarUDF>,
    divide: Arc<ScalarUDF>,
}

impl Default for TemporalPlanner {
    fn default() -> Self {
        Self {
            difference: Arc::new(ScalarUDF::new_from_impl(TimestampDifference::new())),
            multiply: Arc::new(ScalarUDF::new_from_impl(IntervalScale::multiply())),
            divide: Arc::new(ScalarUDF::new_from_impl(IntervalScale::divide())),
        }
    }
}

impl ExprPlanner for TemporalPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        use datafusion::sql::sqlparser::ast::BinaryOperator;
        let type_of = |e: &Expr| e.get_type(schema).ok();
        let is_timestamp = |e: &Expr| matches!(type_of(e), Some(DataType::Timestamp(_, _)));
        let is_date = |e: &Expr| matches!(type_of(e), Some(DataType::Date32 | DataType::Date64));
        let is_interval = |e: &Expr| matches!(type_of(e), Some(DataType::Interval(_)));
        let is_number = |e: &Expr| type_of(e).is_some_and(|t| t.is_numeric());
        let call = |udf: &Arc<ScalarUDF>, args: Vec<Expr>| {
            PlannerResult::Planned(Expr::ScalarFunction(ScalarFunction::new_udf(
                Arc::clone(udf),
                args,
            )))
        };
        let as_timestamp = |e: Expr| {
            Box::new(Expr::Cast(Cast::new(
                Box::new(e),
                DataType::Timestamp(TimeUnit::Microsecond, None),
            )))
        };
        let RawBinaryExpr { op, left, right } = expr;
        Ok(match op {
            BinaryOperator::Minus if is_timestamp(&left) && is_timestamp(&right) => {
                call(&self.difference, vec![left, right])
            }
            // A date against a timestamp is the timestamp of its midnight, as in PostgreSQL.
            BinaryOperator::Minus if is_timestamp(&left) && is_date(&right) => {
                call(&self.difference, vec![left, *as_timestamp(right)])
            }
            BinaryOperator::Minus if is_date(&left) && is_timestamp(&right) => {
                call(&self.difference, vec![*as_timestamp(left), right])
            }
            BinaryOperator::Plus if is_date(&left) && is_interval(&right) => {
                PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
                    as_timestamp(left),
                    Operator::Plus,
                    Box::new(right),
                )))
            }
            BinaryOperator::Minus if is_date(&left) && is_interval(&right) => {
                PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
                    as_timestamp(left),
                    Operator::Minus,
                    Box::new(right),
                )))
            }
            BinaryOperator::Plus if is_interval(&left) && is_date(&right) => {
                PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(left),
                    Operator::Plus,
                    as_timestamp(right),
                )))
            }
            BinaryOperator::Multiply if is_interval(&left) && is_number(&right) => {
                call(&self.multiply, vec![left, right])
            }
            BinaryOperator::Multiply if is_number(&left) && is_interval(&right) => {
                call(&self.multiply, vec![right, left])
            }
            BinaryOperator::Divide if is_interval(&left) && is_number(&right) => {
                call(&self.divide, vec![left, right])
            }
            op => PlannerResult::Original(RawBinaryExpr { op, left, right }),
        })
    }
}

/// Date and timestamp literals read as PostgreSQL reads them, and timestamps cast to
/// text printed as PostgreSQL prints them; after type coercion.
#[derive(Debug)]
pub struct TemporalCastsRule {
    text: Arc<ScalarUDF>,
    interval_text: Arc<ScalarUDF>,
}

impl Default for TemporalCastsRule {
    fn default() -> Self {
        Self {
            text: Arc::new(ScalarUDF::new_from_impl(TimestampText::new())),
            interval_text: Arc::new(ScalarUDF::new_from_impl(IntervalText::new())),
        }
    }
}

impl AnalyzerRule for TemporalCastsRule {
    fn name(&self) -> &str {
        "datapunk_temporal_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |expr, schema| self.rewrite(expr, schema))
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

impl TemporalCastsRule {
    fn rewrite(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let (inner, field, try_cast) = match expr {
            Expr::Cast(Cast { expr, field }) => (expr, field, false),
            Expr::TryCast(TryCast { expr, field }) => (expr, field, true),
            other => return Ok(Transformed::no(other)),
        };
        let to = field.data_type().clone();
        let rebuild = |inner: Box<Expr>, field: FieldRef| {
            if try_cast {
                Expr::TryCast(TryCast::new_from_field(inner, field))
            } else {
                Expr::Cast(Cast::new_from_field(inner, field))
            }
        };
        if let Expr::Literal(value, _) = inner.as_ref() {
            let text = match value {
                ScalarValue::Utf8(Some(s))
                | ScalarValue::Utf8View(Some(s))
                | ScalarValue::LargeUtf8(Some(s)) => Some(s.as_str()),
                _ => None,
            };
            if let Some(read) = text.and_then(|t| literal_as(t, &to)) {
                return Ok(Transformed::yes(Expr::Literal(read, None)));
            }
            if let (Some(text), DataType::Interval(_)) = (text, &to) {
                if let Some(units) = interval_text(text) {
                    let literal = Expr::Literal(ScalarValue::Utf8(Some(units)), None);
                    return Ok(Transformed::yes(rebuild(Box::new(literal), field)));
                }
            }
        }
        if let (true, Ok(DataType::Timestamp(unit, zone))) = (is_text(&to), inner.get_type(schema))
        {
            // After type coercion: the argument is brought to microseconds here.
            let argument = if unit == TimeUnit::Microsecond {
                *inner
            } else {
                Expr::Cast(Cast::new(
                    inner,
                    DataType::Timestamp(TimeUnit::Microsecond, zone),
                ))
            };
            let printed = Expr::ScalarFunction(ScalarFunction::new_udf(
                Arc::clone(&self.text),
                vec![argument],
            ));
            return Ok(Transformed::yes(if to == DataType::Utf8 {
                printed
            } else {
                rebuild(Box::new(printed), field)
            }));
        }
        if let (true, Ok(DataType::Interval(IntervalUnit::MonthDayNano))) =
            (is_text(&to), inner.get_type(schema))
        {
            let printed = Expr::ScalarFunction(ScalarFunction::new_udf(
                Arc::clone(&self.interval_text),
                vec![*inner],
            ));
            return Ok(Transformed::yes(if to == DataType::Utf8 {
                printed
            } else {
                rebuild(Box::new(printed), field)
            }));
        }
        Ok(Transformed::no(rebuild(inner, field)))
    }
}

// ---------------------------------------------------------------------------------------
// Reading literals.

/// A zone written in a literal.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

/// A date and time literal as PostgreSQL's datetime input reads the common forms.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Written {
    date: NaiveDate,
    time: NaiveTime,
    zone: Option<Zone>,
}

fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    (s.len() >= min && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn read_date(s: &str) -> Option<NaiveDate> {
    if let Some(all) = digits(s, 8, 8) {
        return NaiveDate::from_ymd_opt((all / 10_000) as i32, all / 100 % 100, all % 100);
    }
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(y, 4, 4)? as i32, digits(m, 1, 2)?, digits(d, 1, 2)?)
}

fn read_time(s: &str) -> Option<NaiveTime> {
    let (clock, fraction) = match s.split_once('.') {
        Some((c, f)) => (c, Some(f)),
        None => (s, None),
    };
    let mut parts = clock.split(':');
    let hour = digits(parts.next()?, 1, 2)?;
    let minute = digits(parts.next()?, 2, 2)?;
    let second = match parts.next() {
        Some(sec) => digits(sec, 2, 2)?,
        None if fraction.is_none() => 0,
        None => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    let nanos = match fraction {
        Some(f) => {
            let value = digits(f, 1, 9)?;
            value * 10u32.pow(9 - f.len() as u32)
        }
        None => 0,
    };
    if hour == 24 && minute == 0 && second == 0 && nanos == 0 {
        // PostgreSQL reads 24:00:00 as the end of the day; the caller adds the day.
        return None;
    }
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
}

fn read_zone(s: &str) -> Option<Zone> {
    if ["z", "utc", "gmt"].contains(&s.to_ascii_lowercase().as_str()) {
        return Some(Zone::Fixed(FixedOffset::east_opt(0)?));
    }
    if let Some(rest) = s.strip_prefix('+').or_else(|| s.strip_prefix('-')) {
        let sign = if s.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = match rest.split_once(':') {
            Some((h, m)) => (digits(h, 1, 2)?, digits(m, 2, 2)?),
            None if rest.len() == 4 => (digits(&rest[..2], 2, 2)?, digits(&rest[2..], 2, 2)?),
            None => (digits(rest, 1, 2)?, 0),
        };
        let seconds = sign * (hours as i32 * 3600 + minutes as i32 * 60);
        return FixedOffset::east_opt(seconds).map(Zone::Fixed);
    }
    chrono_tz::Tz::from_str(s).ok().map(Zone::Named)
}

/// Reads `text` as PostgreSQL reads a date or timestamp; `None` for forms left to
/// DataFusion (which then reads or rejects them).
fn read_datetime(text: &str, today: NaiveDate) -> Option<Written> {
    let text = text.trim();
    let midnight = NaiveTime::MIN;
    let on = |date: Option<NaiveDate>| {
        date.map(|date| Written {
            date,
            time: midnight,
            zone: None,
        })
    };
    match text.to_ascii_lowercase().as_str() {
        "epoch" => {
            return Some(Written {
                date: DateTime::UNIX_EPOCH.date_naive(),
                time: midnight,
                zone: Some(Zone::Fixed(FixedOffset::east_opt(0)?)),
            })
        }
        "today" => return on(Some(today)),
        "tomorrow" => return on(today.succ_opt()),
        "yesterday" => return on(today.pred_opt()),
        _ => {}
    }
    let date_end = text.find([' ', 'T', 't']).unwrap_or(text.len());
    let date = read_date(&text[..date_end])?;
    let rest = text[date_end..].trim_start_matches([' ', 'T', 't']);
    let time_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
        .unwrap_or(rest.len());
    let (clock, zone) = (&rest[..time_end], rest[time_end..].trim());
    let time = if clock.is_empty() {
        midnight
    } else {
        read_time(clock)?
    };
    let zone = if zone.is_empty() {
        None
    } else {
        Some(read_zone(zone)?)
    };
    Some(Written { date, time, zone })
}

/// The UTC offset of `zone` at local time `local`.
fn offset_at(zone: Zone, local: &NaiveDateTime) -> Option<FixedOffset> {
    match zone {
        Zone::Fixed(offset) => Some(offset),
        Zone::Named(tz) => tz
            .offset_from_local_datetime(local)
            .earliest()
            .map(|o| o.fix()),
    }
}

/// The literal `text` as a value of `to` (a date or a timestamp), read as PostgreSQL
/// reads it; `None` when `to` is no such type or the text is left to DataFusion.
pub fn literal_as(text: &str, to: &DataType) -> Option<ScalarValue> {
    let today = chrono::Utc::now().date_naive();
    let written = read_datetime(text, today)?;
    let local = written.date.and_time(written.time);
    match to {
        DataType::Date32 => {
            let days = (written.date - DateTime::UNIX_EPOCH.date_naive()).num_days();
            Some(ScalarValue::Date32(Some(i32::try_from(days).ok()?)))
        }
        DataType::Timestamp(unit, tz) => {
            let instant = match tz {
                // Without time zone: the wall time as written, any zone ignored.
                None => local,
                Some(target) => {
                    let offset = match written.zone {
                        Some(zone) => offset_at(zone, &local)?,
                        None => {
                            let target: Tz = target.parse().ok()?;
                            target.offset_from_local_datetime(&local).earliest()?.fix()
                        }
                    };
                    local - Duration::seconds(i64::from(offset.local_minus_utc()))
                }
            };
            let nanos = instant.and_utc().timestamp_nanos_opt();
            let micros = instant.and_utc().timestamp_micros();
            let tz = tz.clone();
            Some(match unit {
                TimeUnit::Second => {
                    ScalarValue::TimestampSecond(Some(micros.div_euclid(1_000_000)), tz)
                }
                TimeUnit::Millisecond => {
                    ScalarValue::TimestampMillisecond(Some(micros.div_euclid(1_000)), tz)
                }
                TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(micros), tz),
                TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(nanos?), tz),
            })
        }
        _ => None,
    }
}

/// An interval literal PostgreSQL reads but DataFusion does not, rewritten into units
/// (`1 day 02:30:00` → `1 day 2 hours 30 minutes 0 seconds`); `None` when `text` needs no
/// rewriting (or is nothing this reads: DataFusion then reads or rejects it).
pub fn interval_text(text: &str) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    let mut changed = false;
    let mut ago = false;
    for word in text.split([' ', '\t', ',']).filter(|w| !w.is_empty()) {
        let lower = word.to_ascii_lowercase();
        if lower == "@" {
            changed = true;
        } else if lower == "ago" {
            changed = true;
            ago = true;
        } else if matches!(lower.as_str(), "millennium" | "millennia" | "millenniums") {
            // DataFusion knows centuries, not millennia.
            let count = words.pop()?;
            let count: f64 = count.parse().ok()?;
            words.push(format!("{}", count * 10.0));
            words.push("centuries".into());
            changed = true;
        } else if word.contains(':') {
            let (sign, clock) = match word.as_bytes()[0] {
                b'-' => ("-", &word[1..]),
                b'+' => ("", &word[1..]),
                _ => ("", word),
            };
            let mut parts = clock.split(':');
            let hours = digits(parts.next()?, 1, 9)?;
            let minutes = digits(parts.next()?, 1, 2)?;
            let seconds = match parts.next() {
                Some(s) => {
                    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
                    digits(whole, 1, 2)?;
                    if !fraction.is_empty() {
                        digits(fraction, 1, 9)?;
                    }
                    s.to_owned()
                }
                None => "0".to_owned(),
            };
            if parts.next().is_some() {
                return None;
            }
            words.extend([
                format!("{sign}{hours}"),
                "hours".into(),
                format!("{sign}{minutes}"),
                "minutes".into(),
                format!("{sign}{seconds}"),
                "seconds".into(),
            ]);
            changed = true;
        } else {
            words.push(word.to_owned());
        }
    }
    if !changed {
        return None;
    }
    if ago {
        for word in &mut words {
            if word.parse::<f64>().is_ok() {
                *word = match word.strip_prefix('-') {
                    Some(positive) => positive.to_owned(),
                    None => format!("-{}", word.trim_start_matches('+')),
                };
            }
        }
    }
    Some(words.join(" "))
}

// ---------------------------------------------------------------------------------------
// Printing.

/// A local timestamp as PostgreSQL prints it (`2024-01-02 03:04:05.5`); `false` (nothing
/// written) outside years 1..=9999, which callers print another way.
pub fn write_timestamp(out: &mut BytesMut, micros: i64) -> bool {
    let Some(t) = DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc()) else {
        return false;
    };
    let (year, month, day) = (t.year(), t.month(), t.day());
    if !(1..=9999).contains(&year) {
        return false;
    }
    let two = |out: &mut BytesMut, v: u32| {
        out.put_u8(b'0' + (v / 10) as u8);
        out.put_u8(b'0' + (v % 10) as u8);
    };
    let year = year.unsigned_abs();
    two(out, year / 100);
    two(out, year % 100);
    out.put_u8(b'-');
    two(out, month);
    out.put_u8(b'-');
    two(out, day);
    out.put_u8(b' ');
    two(out, t.hour());
    out.put_u8(b':');
    two(out, t.minute());
    out.put_u8(b':');
    two(out, t.second());
    write_fraction(out, t.nanosecond() / 1000);
    true
}

/// `.` and the microseconds of a time without trailing zeros (nothing when 0).
fn write_fraction(out: &mut BytesMut, micros: u32) {
    if micros == 0 {
        return;
    }
    let mut digits = [0u8; 6];
    let mut rest = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let kept = 6 - digits.iter().rev().take_while(|d| **d == b'0').count();
    out.put_u8(b'.');
    out.put_slice(&digits[..kept]);
}

/// A time of day (microseconds since midnight) as PostgreSQL prints it: `10:00:00`,
/// `10:00:00.5`, `24:00:00`.
pub fn write_time(out: &mut BytesMut, micros: i64) {
    let micros = micros.clamp(0, 86_400_000_000);
    let seconds = micros / 1_000_000;
    let two = |out: &mut BytesMut, v: i64| {
        out.put_u8(b'0' + (v / 10) as u8);
        out.put_u8(b'0' + (v % 10) as u8);
    };
    two(out, seconds / 3600);
    out.put_u8(b':');
    two(out, seconds / 60 % 60);
    out.put_u8(b':');
    two(out, seconds % 60);
    write_fraction(out, (micros % 1_000_000) as u32);
}

/// A UTC offset as PostgreSQL prints it after a timestamptz: `+00`, `+05:30`, `-03`.
fn write_offset(out: &mut BytesMut, seconds: i32) {
    let sign = if seconds < 0 { '-' } else { '+' };
    let (hours, minutes) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
    let text = if minutes == 0 {
        format!("{sign}{hours:02}")
    } else {
        format!("{sign}{hours:02}:{minutes:02}")
    };
    out.put_slice(text.as_bytes());
}

/// `micros` (UTC) as text: local time in `zone` with its offset when there is one.
fn timestamp_text(out: &mut BytesMut, micros: i64, zone: Option<&Tz>) {
    let (local, offset) = match zone {
        None => (micros, None),
        Some(tz) => {
            let offset = DateTime::from_timestamp_micros(micros).map_or(0, |t| {
                tz.offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc()
            });
            (micros + i64::from(offset) * 1_000_000, Some(offset))
        }
    };
    if !write_timestamp(out, local) {
        let fallback = DateTime::from_timestamp_micros(local)
            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
            .unwrap_or_default();
        out.put_slice(fallback.as_bytes());
    }
    if let Some(offset) = offset {
        write_offset(out, offset);
    }
}

// ---------------------------------------------------------------------------------------
// The functions.

fn microsecond_timestamps(arg_types: &[DataType], name: &str) -> Result<Vec<DataType>> {
    let zone = |t: &DataType| match t {
        DataType::Timestamp(_, tz) => Some(tz.clone()),
        // Dates, and quoted literals (PostgreSQL's unknown type) read as timestamps.
        DataType::Date32 | DataType::Date64 | DataType::Null => Some(None),
        t if is_text(t) => Some(None),
        _ => None,
    };
    let zones: Option<Vec<_>> = arg_types.iter().map(zone).collect();
    let Some(zones) = zones else {
        return plan_err!("{name} takes timestamps, not {arg_types:?}");
    };
    // Mixed zones meet in the zoned one (PostgreSQL reads the other in the session zone).
    let common = zones.iter().flatten().next().cloned();
    Ok(zones
        .iter()
        .map(|_| DataType::Timestamp(TimeUnit::Microsecond, common.clone()))
        .collect())
}

fn micros_arrays(
    args: &ScalarFunctionArgs,
) -> Result<Vec<PrimitiveArray<TimestampMicrosecondType>>> {
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    Ok(arrays
        .iter()
        .map(|a| a.as_primitive::<TimestampMicrosecondType>().clone())
        .collect())
}

/// `a - b` for timestamps: PostgreSQL's `timestamp_mi` (whole days, then the time).
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampDifference {
    signature: Signature,
}

impl TimestampDifference {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The interval from `b` to `a`, as `timestamp_mi` makes it.
fn difference(a: i64, b: i64) -> Result<IntervalMonthDayNano> {
    let Some(micros) = a.checked_sub(b) else {
        return Err(crate::pg::fault::Fault::IntervalOutOfRange.into());
    };
    let days = i32::try_from(micros / MICROS_PER_DAY);
    match days {
        Ok(days) => Ok(IntervalMonthDayNano::new(
            0,
            days,
            (micros % MICROS_PER_DAY) * 1000,
        )),
        Err(_) => Err(crate::pg::fault::Fault::IntervalOutOfRange.into()),
    }
}

impl ScalarUDFImpl for TimestampDifference {
    fn name(&self) -> &str {
        "pg_timestamp_difference"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        microsecond_timestamps(arg_types, self.name())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = micros_arrays(&args)?;
        let [a, b] = arrays.as_slice() else {
            return exec_err!("pg_timestamp_difference takes two timestamps");
        };
        let out: IntervalMonthDayNanoArray = a
            .iter()
            .zip(b.iter())
            .map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => difference(a, b).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `interval * number` and `interval / number`: PostgreSQL's `interval_mul` (months and
/// days scaled, their fractions cascaded down at 30 days a month, the time rounded to
/// microseconds).
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalScale {
    signature: Signature,
    divide: bool,
}

impl IntervalScale {
    fn multiply() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            divide: false,
        }
    }

    fn divide() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            divide: true,
        }
    }
}

/// `span * factor` as `interval_mul` computes it; `None` when out of range.
pub fn scale_interval(span: IntervalMonthDayNano, factor: f64) -> Option<IntervalMonthDayNano> {
    const DAYS_PER_MONTH: f64 = 30.0;
    const SECS_PER_DAY: f64 = 86_400.0;
    let round_micros = |v: f64| (v * 1e6).round() / 1e6;
    let in_i32 = |v: f64| (v.is_finite() && v.abs() < f64::from(i32::MAX)).then_some(v as i32);
    let months_exact = f64::from(span.months) * factor;
    let days_exact = f64::from(span.days) * factor;
    let months = in_i32(months_exact)?;
    let mut days = in_i32(days_exact)?;
    let month_remainder_days = round_micros((months_exact - f64::from(months)) * DAYS_PER_MONTH);
    let mut sec_remainder = round_micros(
        (days_exact - f64::from(days) + month_remainder_days - month_remainder_days.trunc())
            * SECS_PER_DAY,
    );
    if sec_remainder.abs() >= SECS_PER_DAY {
        let whole = (sec_remainder / SECS_PER_DAY).trunc();
        days = days.checked_add(whole as i32)?;
        sec_remainder -= whole * SECS_PER_DAY;
    }
    days = days.checked_add(month_remainder_days.trunc() as i32)?;
    let micros = ((span.nanoseconds as f64 / 1000.0) * factor + sec_remainder * 1e6).round();
    if !micros.is_finite() || micros.abs() >= 9.2e18 / 1000.0 {
        return None;
    }
    Some(IntervalMonthDayNano::new(
        months,
        days,
        micros as i64 * 1000,
    ))
}

impl ScalarUDFImpl for IntervalScale {
    fn name(&self) -> &str {
        if self.divide {
            "pg_interval_divide"
        } else {
            "pg_interval_multiply"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, _arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(vec![
            DataType::Interval(IntervalUnit::MonthDayNano),
            DataType::Float64,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::datatypes::{Float64Type, IntervalMonthDayNanoType};
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [spans, factors] = arrays.as_slice() else {
            return exec_err!("{} takes an interval and a number", self.name());
        };
        let spans = spans.as_primitive::<IntervalMonthDayNanoType>();
        let factors = factors.as_primitive::<Float64Type>();
        let out: IntervalMonthDayNanoArray = spans
            .iter()
            .zip(factors.iter())
            .map(|(span, factor)| {
                let (Some(span), Some(factor)) = (span, factor) else {
                    return Ok(None);
                };
                let factor = if self.divide {
                    if factor == 0.0 {
                        return Err(DataFusionError::ArrowError(
                            Box::new(ArrowError::DivideByZero),
                            None,
                        ));
                    }
                    1.0 / factor
                } else {
                    factor
                };
                match scale_interval(span, factor) {
                    Some(scaled) => Ok(Some(scaled)),
                    None => Err(crate::pg::fault::Fault::IntervalOutOfRange.into()),
                }
            })
            .collect::<Result<_>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// A timestamp as text, as PostgreSQL prints it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampText {
    signature: Signature,
}

impl TimestampText {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TimestampText {
    fn name(&self) -> &str {
        "pg_timestamp_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        microsecond_timestamps(arg_types, self.name())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone: Option<Tz> = match args.args.first().map(ColumnarValue::data_type) {
            Some(DataType::Timestamp(_, Some(tz))) => Some(tz.parse()?),
            _ => None,
        };
        let arrays = micros_arrays(&args)?;
        let Some(values) = arrays.first() else {
            return exec_err!("pg_timestamp_text takes one timestamp");
        };
        let mut out = StringBuilder::with_capacity(values.len(), values.len() * 26);
        let mut text = BytesMut::with_capacity(32);
        for value in values.iter() {
            match value {
                Some(micros) => {
                    text.clear();
                    timestamp_text(&mut text, micros, zone.as_ref());
                    out.append_value(std::str::from_utf8(&text).unwrap_or_default());
                }
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `interval_out` with `IntervalStyle = postgres`: `1 year 2 mons -3 days +04:05:06.5`,
/// `00:00:00` for a zero interval. Nanoseconds are truncated to PostgreSQL's microseconds.
pub fn interval_out(months: i32, days: i32, nanos: i64) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(32);
    let mut is_zero = true;
    let mut is_before = false;
    let mut part = |out: &mut String, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        let _ = write!(
            out,
            "{}{}{value} {unit}{}",
            if is_zero { "" } else { " " },
            if is_before && value > 0 { "+" } else { "" },
            if value == 1 { "" } else { "s" }
        );
        is_before = value < 0;
        is_zero = false;
    };
    part(&mut out, i64::from(months / 12), "year");
    part(&mut out, i64::from(months % 12), "mon");
    part(&mut out, i64::from(days), "day");
    let micros = nanos / 1_000;
    if is_zero || micros != 0 {
        let minus = micros < 0;
        let micros = micros.unsigned_abs();
        let (hours, minutes, seconds, fraction) = (
            micros / 3_600_000_000,
            micros / 60_000_000 % 60,
            micros / 1_000_000 % 60,
            micros % 1_000_000,
        );
        let sign = if minus {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        let _ = write!(
            out,
            "{}{sign}{hours:02}:{minutes:02}:{seconds:02}",
            if is_zero { "" } else { " " }
        );
        if fraction != 0 {
            let digits = format!("{fraction:06}");
            let _ = write!(out, ".{}", digits.trim_end_matches('0'));
        }
    }
    out
}

/// `pg_interval_text(x)`: an interval as [`interval_out`] prints it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalText {
    signature: Signature,
}

impl IntervalText {
    fn new() -> Self {
        Self {
            signature: Signature::exact(
                vec![DataType::Interval(IntervalUnit::MonthDayNano)],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for IntervalText {
    fn name(&self) -> &str {
        "pg_interval_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::datatypes::IntervalMonthDayNanoType;
        let values = args.args[0].clone().into_array(args.number_rows)?;
        let values = values.as_primitive::<IntervalMonthDayNanoType>();
        let text: datafusion::arrow::array::StringArray = values
            .iter()
            .map(|v| v.map(|v| interval_out(v.months, v.days, v.nanoseconds)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(text)))
    }
}

/// `age`: of two timestamps (or one, from today's midnight), PostgreSQL's symbolic
/// difference; of a transaction id, 0 (every transaction in datapunk is the current one).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Age {
    signature: Signature,
}

impl Age {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
        }
    }
}

fn is_transaction_id(arg_types: &[DataType]) -> bool {
    matches!(
        arg_types,
        [DataType::Int64 | DataType::Int32 | DataType::UInt32]
    )
}

/// Days in `month` (1-based) of `year`.
fn days_in_month(year: i32, month: u32) -> i64 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days(),
        _ => 30,
    }
}

/// PostgreSQL's `timestamp_age`: the field-by-field difference `a - b`, negative fields
/// borrowed from the next larger one (days from the month of the earlier side).
fn symbolic_age(a: i64, b: i64) -> Option<IntervalMonthDayNano> {
    let t1 = DateTime::from_timestamp_micros(a)?.naive_utc();
    let t2 = DateTime::from_timestamp_micros(b)?.naive_utc();
    let micros_of = |t: &NaiveDateTime| i64::from(t.nanosecond() / 1000);
    let mut fsec = micros_of(&t1) - micros_of(&t2);
    let mut sec = i64::from(t1.second()) - i64::from(t2.second());
    let mut min = i64::from(t1.minute()) - i64::from(t2.minute());
    let mut hour = i64::from(t1.hour()) - i64::from(t2.hour());
    let mut mday = i64::from(t1.day()) - i64::from(t2.day());
    let mut mon = i64::from(t1.month()) - i64::from(t2.month());
    let mut year = i64::from(t1.year()) - i64::from(t2.year());
    let flip = a < b;
    let negate_all = |v: [&mut i64; 7]| {
        for x in v {
            *x = -*x;
        }
    };
    if flip {
        negate_all([
            &mut fsec, &mut sec, &mut min, &mut hour, &mut mday, &mut mon, &mut year,
        ]);
    }
    while fsec < 0 {
        fsec += 1_000_000;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        mday -= 1;
    }
    while mday < 0 {
        let from = if flip { &t1 } else { &t2 };
        mday += days_in_month(from.year(), from.month());
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    if flip {
        negate_all([
            &mut fsec, &mut sec, &mut min, &mut hour, &mut mday, &mut mon, &mut year,
        ]);
    }
    let time_micros = ((hour * 60 + min) * 60 + sec) * 1_000_000 + fsec;
    Some(IntervalMonthDayNano::new(
        i32::try_from(year * 12 + mon).ok()?,
        i32::try_from(mday).ok()?,
        time_micros * 1000,
    ))
}

impl ScalarUDFImpl for Age {
    fn name(&self) -> &str {
        "age"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if is_transaction_id(arg_types) {
            return Ok(arg_types.to_vec());
        }
        if !(1..=2).contains(&arg_types.len()) {
            return plan_err!("age takes one or two timestamps");
        }
        // age works on local times (the session zone is UTC): zones are dropped.
        Ok(microsecond_timestamps(arg_types, self.name())?
            .into_iter()
            .map(|_| DataType::Timestamp(TimeUnit::Microsecond, None))
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(if is_transaction_id(arg_types) {
            DataType::Int32
        } else {
            DataType::Interval(IntervalUnit::MonthDayNano)
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(ColumnarValue::data_type).collect();
        if is_transaction_id(&types) {
            return Ok(ColumnarValue::Scalar(ScalarValue::Int32(Some(0))));
        }
        let arrays = micros_arrays(&args)?;
        let today = chrono::Utc::now()
            .date_naive()
            .and_time(NaiveTime::MIN)
            .and_utc()
            .timestamp_micros();
        let out: IntervalMonthDayNanoArray = match arrays.as_slice() {
            [b] => b.iter().map(|b| symbolic_age(today, b?)).collect(),
            [a, b] => a
                .iter()
                .zip(b.iter())
                .map(|(a, b)| symbolic_age(a?, b?))
                .collect(),
            _ => return exec_err!("age takes one or two timestamps"),
        };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    fn ts(v: ScalarValue) -> String {
        match v {
            ScalarValue::TimestampMicrosecond(Some(m), _) => {
                let mut out = BytesMut::new();
                timestamp_text(&mut out, m, None);
                String::from_utf8(out.to_vec()).unwrap()
            }
            other => panic!("not a timestamp: {other:?}"),
        }
    }

    #[test]
    fn literals_read_as_postgres_reads_them() {
        let naive = DataType::Timestamp(TimeUnit::Microsecond, None);
        let zoned = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        let read = |t: &str, to: &DataType| literal_as(t, to).map(ts);
        assert_eq!(
            read("2024-03-01 12:00", &naive).unwrap(),
            "2024-03-01 12:00:00"
        );
        assert_eq!(read("2024-3-1", &naive).unwrap(), "2024-03-01 00:00:00");
        assert_eq!(read("20240301", &naive).unwrap(), "2024-03-01 00:00:00");
        assert_eq!(
            read("2024-03-01T09:05:06.25", &naive).unwrap(),
            "2024-03-01 09:05:06.25"
        );
        // A zone on a timestamp without time zone is ignored; on a timestamptz it counts.
        assert_eq!(
            read("2024-03-01 12:00+02", &naive).unwrap(),
            "2024-03-01 12:00:00"
        );
        assert_eq!(
            read("2024-03-01 12:00+02", &zoned).unwrap(),
            "2024-03-01 10:00:00"
        );
        assert_eq!(
            read("2024-03-01 12:00:00 -0330", &zoned).unwrap(),
            "2024-03-01 15:30:00"
        );
        assert_eq!(
            read("2024-07-01 12:00 Europe/Paris", &zoned).unwrap(),
            "2024-07-01 10:00:00"
        );
        assert_eq!(read("epoch", &naive).unwrap(), "1970-01-01 00:00:00");
        assert_eq!(
            literal_as("2024-03-01 23:59", &DataType::Date32),
            Some(ScalarValue::Date32(Some(19_783)))
        );
        // Left to DataFusion: not a form read here, or not a date type.
        assert_eq!(literal_as("March 1", &naive), None);
        assert_eq!(literal_as("2024-02-30", &naive), None);
        assert_eq!(literal_as("2024-03-01", &DataType::Utf8), None);
    }

    #[test]
    fn interval_literals_in_postgres_forms_become_units() {
        let t = |s| interval_text(s);
        assert_eq!(t("1 day"), None);
        assert_eq!(
            t("1 day 02:00:00").as_deref(),
            Some("1 day 2 hours 0 minutes 00 seconds")
        );
        assert_eq!(
            t("-1 days +02:30:00.5").as_deref(),
            Some("-1 days 2 hours 30 minutes 00.5 seconds")
        );
        assert_eq!(
            t("-02:00").as_deref(),
            Some("-2 hours -0 minutes -0 seconds")
        );
        assert_eq!(t("@ 1 day 3 hours ago").as_deref(), Some("-1 day -3 hours"));
        assert_eq!(t("2 millennium").as_deref(), Some("20 centuries"));
        assert_eq!(t("1:2:3:4"), None);
    }

    #[test]
    fn timestamps_print_as_postgres_prints_them() {
        let text = |micros, zone: Option<&str>| {
            let mut out = BytesMut::new();
            let tz: Option<Tz> = zone.map(|z| z.parse().unwrap());
            timestamp_text(&mut out, micros, tz.as_ref());
            String::from_utf8(out.to_vec()).unwrap()
        };
        assert_eq!(text(0, None), "1970-01-01 00:00:00");
        assert_eq!(text(1_500_000, None), "1970-01-01 00:00:01.5");
        assert_eq!(
            text(1_704_164_645_123_456, None),
            "2024-01-02 03:04:05.123456"
        );
        assert_eq!(text(-1, None), "1969-12-31 23:59:59.999999");
        assert_eq!(text(0, Some("+00:00")), "1970-01-01 00:00:00+00");
        assert_eq!(text(0, Some("+05:30")), "1970-01-01 05:30:00+05:30");
        assert_eq!(text(0, Some("America/Sao_Paulo")), "1969-12-31 21:00:00-03");
    }

    #[test]
    fn differences_are_days_and_time() {
        let d = difference(at("2024-03-01 12:00:00"), at("2024-01-01 10:30:00")).unwrap();
        assert_eq!(
            (d.months, d.days, d.nanoseconds),
            (0, 60, 5_400_000_000_000)
        );
        let d = difference(at("2024-01-01 10:30:00"), at("2024-03-01 12:00:00")).unwrap();
        assert_eq!(
            (d.months, d.days, d.nanoseconds),
            (0, -60, -5_400_000_000_000)
        );
    }

    #[test]
    fn intervals_scale_as_interval_mul() {
        let scaled = |months, days, seconds: i64, factor| {
            let v = scale_interval(
                IntervalMonthDayNano::new(months, days, seconds * 1_000_000_000),
                factor,
            )
            .unwrap();
            (v.months, v.days, v.nanoseconds / 1_000_000)
        };
        // PostgreSQL 15.18: '1 day' * 3 = 3 days; '3 days' / 2 = 1 day 12:00:00;
        // '1 mon' * 1.5 = 1 mon 15 days; '1 hour' * 2.5 = 02:30:00; '1 mon' / 7 = 4 days 06:51:25.6896
        // (the days of a month's fraction rounded to microseconds first, as TSROUND does).
        assert_eq!(scaled(0, 1, 0, 3.0), (0, 3, 0));
        assert_eq!(scaled(0, 3, 0, 0.5), (0, 1, 43_200_000));
        assert_eq!(scaled(1, 0, 0, 1.5), (1, 15, 0));
        assert_eq!(scaled(0, 0, 3600, 2.5), (0, 0, 9_000_000));
        let v = scale_interval(IntervalMonthDayNano::new(1, 0, 0), 1.0 / 7.0).unwrap();
        assert_eq!(
            (v.months, v.days, v.nanoseconds / 1000),
            (0, 4, 24_685_689_600)
        );
    }

    #[test]
    fn age_is_postgres_symbolic_difference() {
        // PostgreSQL 15.18's answers: 1 year 1 mon 17 days, -1 years -1 mons -17 days,
        // 1 mon 1 day 22:00:00.
        let age = |a, b| {
            let v = symbolic_age(at(a), at(b)).unwrap();
            (v.months, v.days, v.nanoseconds / 1_000_000_000)
        };
        assert_eq!(
            age("2024-03-01 00:00:00", "2023-01-15 00:00:00"),
            (13, 17, 0)
        );
        assert_eq!(
            age("2023-01-15 00:00:00", "2024-03-01 00:00:00"),
            (-13, -17, 0)
        );
        assert_eq!(
            age("2024-03-31 10:00:00", "2024-02-29 12:00:00"),
            (1, 1, 22 * 3600)
        );
    }

    #[test]
    fn intervals_print_as_interval_out_prints_them() {
        assert_eq!(interval_out(0, 3, 14_706_000_000_000), "3 days 04:05:06");
        assert_eq!(interval_out(0, 0, 0), "00:00:00");
        assert_eq!(interval_out(14, 0, 0), "1 year 2 mons");
        assert_eq!(interval_out(0, -1, 7_200_000_000_000), "-1 days +02:00:00");
        assert_eq!(
            interval_out(1, 1, -1_500_000_000),
            "1 mon 1 day -00:00:01.5"
        );
        assert_eq!(interval_out(0, 0, 90_061_000_000_000), "25:01:01");
    }
}

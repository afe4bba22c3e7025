//! PostgreSQL's `float4in` / `float8in` for text, in one place: [`float_in`] reads a bound
//! parameter (`server::parameters`) and every cast of text to a float in SQL
//! (`'1e400'::float8`, `price_text::real`, and the casts DataFusion's type coercion adds
//! to a compared literal, `x > '1e400'`). Arrow's cast made a number past the type's
//! range infinity or zero; PostgreSQL refuses it with 22003
//! (`"1e400" is out of range for type double precision`), and so do we.
//!
//! And `float4out` / `float8out` ([`float4_text`], [`float8_text`]): how the wire prints
//! a float and what a float cast to text reads (`CAST(2 ^ 10 AS text)` is `1024`,
//! `1e20::float8::text` is `1e+20`; Arrow's cast wrote `1024.0` and `1e20`), with
//! PostgreSQL's default `extra_float_digits` (1: the shortest exact digits).
//!
//! [`FloatCasts`] is the analyzer rule (after type coercion) that sends those casts
//! through `pg_float4` / `pg_float8` / `pg_float_text` ([`udfs`]); output types stay as
//! they were.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType, Float32Type, Float64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// Why text is no value of a float type.
#[derive(Debug, PartialEq, Eq)]
pub enum FloatText {
    /// Not a number's text (22P02).
    Invalid,
    /// A number past the type's range, either way (22003).
    OutOfRange,
}

/// `float4in` / `float8in`: Rust reads the same numbers and spellings of infinity and
/// NaN (surrounding blanks trimmed, as PostgreSQL does), but makes a number past the
/// type's range infinity or zero where PostgreSQL refuses it.
pub fn float_in<T: std::str::FromStr + Into<f64> + Copy>(text: &str) -> Result<T, FloatText> {
    let trimmed = text.trim();
    let value: T = trimmed.parse().map_err(|_| FloatText::Invalid)?;
    let wide: f64 = value.into();
    let mantissa = trimmed.split(['e', 'E']).next().unwrap_or_default();
    let overflowed = wide.is_infinite() && mantissa.bytes().any(|b| b.is_ascii_digit());
    let underflowed = wide == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'));
    if overflowed || underflowed {
        Err(FloatText::OutOfRange)
    } else {
        Ok(value)
    }
}

/// PostgreSQL's message for `text` out of range of a float type named `type_name`.
pub fn out_of_range_message(type_name: &str, text: &str) -> String {
    format!("\"{text}\" is out of range for type {type_name}")
}

/// `float8out`: a double as PostgreSQL prints it with `extra_float_digits`.
pub fn float8_text(value: f64, extra_float_digits: i32) -> String {
    float_text(value, extra_float_digits, 15, |v, p| match p {
        Some(p) => format!("{v:.p$e}"),
        None => format!("{v:e}"),
    })
}

/// `float4out`: a real as PostgreSQL prints it with `extra_float_digits`.
pub fn float4_text(value: f32, extra_float_digits: i32) -> String {
    float_text(f64::from(value), extra_float_digits, 6, |v, p| {
        // Narrowing back is exact: `v` came from an f32.
        #[allow(clippy::cast_possible_truncation)]
        let v = v as f32;
        match p {
            Some(p) => format!("{v:.p$e}"),
            None => format!("{v:e}"),
        }
    })
}

/// Shared by [`float8_text`] and [`float4_text`]; `digits` is DBL_DIG or FLT_DIG and
/// `scientific(v, precision)` renders `v` as Rust's `{:e}` (shortest exact digits when
/// `precision` is `None`).
fn float_text(
    value: f64,
    extra_float_digits: i32,
    digits: i32,
    scientific: impl Fn(f64, Option<usize>) -> String,
) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if extra_float_digits > 0 {
        // Shortest exact digits; fixed notation while the decimal exponent is in -4..digits.
        let sci = scientific(value, None);
        layout(&sci, |exponent| (-4..digits).contains(&exponent))
    } else {
        // printf's %.{precision}g.
        let precision = (digits + extra_float_digits).max(1);
        let sci = scientific(value, Some((precision - 1) as usize));
        layout(&sci, |exponent| exponent >= -4 && exponent < precision)
    }
}

/// Lays out Rust's `{:e}` text (`-1.2345e-7`) as printf's `%g` would: fixed notation when
/// `fixed(exponent)`, else `d.ddde±XX`; trailing fractional zeros dropped.
fn layout(sci: &str, fixed: impl Fn(i32) -> bool) -> String {
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    if fixed(exponent) {
        // The decimal point goes after `point` digits.
        let point = exponent + 1;
        let len = digits.len() as i32;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else if point >= len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (point - len) as usize));
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.abs()));
    }
    out
}

/// `pg_float4(text)`, `pg_float8(text)` and `pg_float_text(float)`, the casts
/// [`FloatCasts`] plans.
pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(FloatCast::new(DataType::Float32)),
        ScalarUDF::new_from_impl(FloatCast::new(DataType::Float64)),
        ScalarUDF::new_from_impl(FloatToText::default()),
    ]
}

/// What a float cast to text reads without a session's `extra_float_digits`: PostgreSQL's
/// default.
const DEFAULT_EXTRA_FLOAT_DIGITS: i32 = 1;

/// `pg_float_text(x)`: a `real` or `double precision` as `float4out` / `float8out` print it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FloatToText {
    signature: Signature,
}

impl Default for FloatToText {
    fn default() -> Self {
        Self {
            signature: Signature::uniform(
                1,
                vec![DataType::Float32, DataType::Float64],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for FloatToText {
    fn name(&self) -> &str {
        "pg_float_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::StringArray;
        let input = args.args[0].clone().into_array(args.number_rows)?;
        let text: StringArray = match input.data_type() {
            DataType::Float32 => input
                .as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(|v| float4_text(v, DEFAULT_EXTRA_FLOAT_DIGITS)))
                .collect(),
            _ => input
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(|v| float8_text(v, DEFAULT_EXTRA_FLOAT_DIGITS)))
                .collect(),
        };
        Ok(ColumnarValue::Array(Arc::new(text)))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FloatCast {
    target: DataType,
    signature: Signature,
}

impl FloatCast {
    fn new(target: DataType) -> Self {
        Self {
            target,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FloatCast {
    fn name(&self) -> &str {
        match self.target {
            DataType::Float32 => "pg_float4",
            _ => "pg_float8",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.target.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].clone().into_array(args.number_rows)?;
        let text = cast(&input, &DataType::Utf8)?;
        let floats: ArrayRef = match self.target {
            DataType::Float32 => Arc::new(read_floats::<Float32Type>(&text, "real")?),
            _ => Arc::new(read_floats::<Float64Type>(&text, "double precision")?),
        };
        Ok(ColumnarValue::Array(floats))
    }
}

/// Every value of a text array read by [`float_in`]; NULL stays NULL.
fn read_floats<T>(text: &ArrayRef, type_name: &str) -> Result<PrimitiveArray<T>, ArrowError>
where
    T: ArrowPrimitiveType,
    T::Native: std::str::FromStr + Into<f64> + Copy,
{
    let strings = text.as_string::<i32>();
    let mut values = Vec::with_capacity(strings.len());
    for i in 0..strings.len() {
        if strings.is_null(i) {
            values.push(None);
            continue;
        }
        let s = strings.value(i);
        values.push(Some(float_in::<T::Native>(s).map_err(|e| match e {
            // Worded by `error::classify` as PostgreSQL words it (22P02).
            FloatText::Invalid => ArrowError::CastError(format!(
                "Cannot cast string '{s}' to value of {} type",
                T::DATA_TYPE
            )),
            FloatText::OutOfRange => {
                ArrowError::ArithmeticOverflow(out_of_range_message(type_name, s))
            }
        })?));
    }
    Ok(values.into_iter().collect())
}

/// See the module header.
#[derive(Debug)]
pub struct FloatCasts {
    float4: Arc<ScalarUDF>,
    float8: Arc<ScalarUDF>,
    text: Arc<ScalarUDF>,
}

impl Default for FloatCasts {
    fn default() -> Self {
        Self {
            float4: Arc::new(ScalarUDF::new_from_impl(FloatCast::new(DataType::Float32))),
            float8: Arc::new(ScalarUDF::new_from_impl(FloatCast::new(DataType::Float64))),
            text: Arc::new(ScalarUDF::new_from_impl(FloatToText::default())),
        }
    }
}

impl AnalyzerRule for FloatCasts {
    fn name(&self) -> &str {
        "datapunk_float_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        crate::pg::coercion::rewrite_expressions(plan, |expr, schema| self.rewrite(expr, schema))
    }
}

impl FloatCasts {
    fn rewrite(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::Cast(Cast { expr: inner, field }) = expr else {
            return Ok(Transformed::no(expr));
        };
        let Ok(from) = inner.get_type(schema) else {
            return Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field })));
        };
        let call = |udf: &Arc<ScalarUDF>, arg: Expr| {
            Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(udf), vec![arg]))
        };
        let to = field.data_type().clone();
        Ok(match (&to, &from) {
            (DataType::Float32, from) if is_text(from) => {
                Transformed::yes(call(&self.float4, *inner))
            }
            (DataType::Float64, from) if is_text(from) => {
                Transformed::yes(call(&self.float8, *inner))
            }
            (to, DataType::Float32 | DataType::Float64) if is_text(to) => {
                let text = call(&self.text, *inner);
                // Utf8 as the function answers, then the cast's own text type.
                Transformed::yes(if to == &DataType::Utf8 {
                    text
                } else {
                    Expr::Cast(Cast::new(Box::new(text), to.clone()))
                })
            }
            _ => Transformed::no(Expr::Cast(Cast { expr: inner, field })),
        })
    }
}

/// Text, or dictionary-encoded text (as a Parquet file may hold a column of few values).
fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => true,
        DataType::Dictionary(_, values) => is_text(values),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_past_the_range_are_refused_and_the_rest_read_as_postgres_reads_them() {
        for far in ["1e400", "-1e400", "1e-400", " 2e308 "] {
            assert_eq!(float_in::<f64>(far), Err(FloatText::OutOfRange), "{far}");
        }
        assert_eq!(float_in::<f32>("1e39"), Err(FloatText::OutOfRange));
        assert_eq!(float_in::<f32>("1e-50"), Err(FloatText::OutOfRange));
        for bad in ["", "abc", "1.5x", "1e", "--1"] {
            assert_eq!(float_in::<f64>(bad), Err(FloatText::Invalid), "{bad:?}");
        }
        for (text, value) in [
            (" 1.5 ", 1.5),
            ("-Infinity", f64::NEG_INFINITY),
            ("inf", f64::INFINITY),
            ("0e-400", 0.0),
            ("1e308", 1e308),
        ] {
            assert_eq!(float_in::<f64>(text), Ok(value), "{text}");
        }
        assert!(float_in::<f64>("NaN").is_ok_and(f64::is_nan));
        assert!(float_in::<f64>("-nan").is_ok_and(f64::is_nan));
    }
}

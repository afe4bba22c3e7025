//! PostgreSQL's `float4in` / `float8in` for text, in one place: [`float_in`] reads a bound
//! parameter (`server::parameters`) and every cast of text to a float in SQL
//! (`'1e400'::float8`, `price_text::real`, and the casts DataFusion's type coercion adds
//! to a compared literal, `x > '1e400'`). Arrow's cast made a number past the type's
//! range infinity or zero; PostgreSQL refuses it with 22003
//! (`"1e400" is out of range for type double precision`), and so do we.
//!
//! [`TextToFloatCasts`] is the analyzer rule (after type coercion) that sends those casts
//! through `pg_float4` / `pg_float8` ([`udfs`]); output types stay as they were.

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

/// `pg_float4(text)` and `pg_float8(text)`, the casts [`TextToFloatCasts`] plans.
pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(FloatCast::new(DataType::Float32)),
        ScalarUDF::new_from_impl(FloatCast::new(DataType::Float64)),
    ]
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
pub struct TextToFloatCasts {
    float4: Arc<ScalarUDF>,
    float8: Arc<ScalarUDF>,
}

impl Default for TextToFloatCasts {
    fn default() -> Self {
        Self {
            float4: Arc::new(ScalarUDF::new_from_impl(FloatCast::new(DataType::Float32))),
            float8: Arc::new(ScalarUDF::new_from_impl(FloatCast::new(DataType::Float64))),
        }
    }
}

impl AnalyzerRule for TextToFloatCasts {
    fn name(&self) -> &str {
        "datapunk_text_to_float_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        crate::pg::coercion::rewrite_expressions(plan, |expr, schema| self.rewrite(expr, schema))
    }
}

impl TextToFloatCasts {
    fn rewrite(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::Cast(Cast { expr: inner, field }) = expr else {
            return Ok(Transformed::no(expr));
        };
        let udf = match field.data_type() {
            DataType::Float32 => &self.float4,
            DataType::Float64 => &self.float8,
            _ => return Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field }))),
        };
        if !inner.get_type(schema).is_ok_and(|t| is_text(&t)) {
            return Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field })));
        }
        Ok(Transformed::yes(Expr::ScalarFunction(
            ScalarFunction::new_udf(Arc::clone(udf), vec![*inner]),
        )))
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

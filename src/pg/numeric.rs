//! PostgreSQL's unconstrained `numeric` cast. DataFusion reads `x::numeric` (no precision)
//! as numeric(38,10), so `count(*)::numeric` printed `5.0000000000` and `'1.25'::numeric`
//! `1.2500000000` where PostgreSQL keeps the value's own scale. the dialect's syntax rules
//! give a literal its own precision and scale ([`literal_numeric_type`]) and sends any
//! other operand through `pg_numeric` ([`numeric_udf`]), which keeps an integer's scale
//! 0 and a decimal's type. Floats and text keep DataFusion's numeric(38,10): their scale
//! in PostgreSQL depends on each value, which one Arrow column type cannot hold. A
//! parameter (`$1::numeric`) keeps the plain cast, so the client's value is typed numeric
//! and parsed as PostgreSQL's `numeric_in` would.

use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{self, ExactNumberInfo, Expr, UnaryOperator, Value};

/// `pg_numeric(x)`: `x::numeric` as PostgreSQL types it (see the module header).
pub fn numeric_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(NumericCast {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NumericCast {
    signature: Signature,
}

/// The decimal type `x::numeric` has for an `x` of type `input`.
fn numeric_type(input: &DataType) -> DataType {
    match input {
        DataType::Int8 | DataType::UInt8 => DataType::Decimal128(3, 0),
        DataType::Int16 | DataType::UInt16 => DataType::Decimal128(5, 0),
        DataType::Int32 | DataType::UInt32 => DataType::Decimal128(10, 0),
        DataType::Int64 => DataType::Decimal128(19, 0),
        DataType::UInt64 => DataType::Decimal128(20, 0),
        DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => input.clone(),
        DataType::Dictionary(_, values) => numeric_type(values),
        _ => DataType::Decimal128(38, 10),
    }
}

impl ScalarUDFImpl for NumericCast {
    fn name(&self) -> &str {
        "pg_numeric"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(numeric_type(args.first().unwrap_or(&DataType::Null)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let target = args.return_type().clone();
        let rows = args.number_rows;
        let input = args.args[0].clone().into_array(rows)?;
        // Strict: text that is no number is an error (22P02), never a NULL.
        let strict = CastOptions {
            safe: false,
            ..CastOptions::default()
        };
        Ok(ColumnarValue::Array(cast_with_options(
            &input, &target, &strict,
        )?))
    }
}

/// `ceil`, `floor` and one-argument `trunc` as PostgreSQL has them: of a numeric, a
/// numeric of scale 0 (`ceil(1.2)` is `2`; DataFusion kept the operand's scale: `2.0`);
/// of anything else, DataFusion's own, which this wraps.
pub fn whole_number_udfs() -> Vec<ScalarUDF> {
    use datafusion::functions::math;
    [math::ceil(), math::floor(), math::trunc()]
        .into_iter()
        .map(|inner| ScalarUDF::new_from_impl(WholeNumber { inner }))
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct WholeNumber {
    inner: std::sync::Arc<ScalarUDF>,
}

/// The type of a whole number of a decimal of type `input`, or `None` when `input` is
/// no decimal with a fraction.
fn whole_decimal(input: &DataType) -> Option<DataType> {
    match input {
        DataType::Decimal128(p, s) if *s > 0 => {
            let integer_digits = i16::from(*p) - i16::from(*s);
            Some(DataType::Decimal128(
                u8::try_from((integer_digits + 1).clamp(1, 38)).unwrap_or(38),
                0,
            ))
        }
        _ => None,
    }
}

impl ScalarUDFImpl for WholeNumber {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [one] => whole_decimal(one).map_or_else(|| self.inner.return_type(args), Ok),
            _ => self.inner.return_type(args),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let whole = match args.arg_fields.as_slice() {
            [one] => whole_decimal(one.data_type()),
            _ => None,
        };
        let Some(target) = whole else {
            return self.inner.invoke_with_args(args);
        };
        let rows = args.number_rows;
        let own = std::sync::Arc::new(datafusion::arrow::datatypes::Field::new(
            self.name(),
            args.arg_fields[0].data_type().clone(),
            true,
        ));
        let result = self.inner.invoke_with_args(ScalarFunctionArgs {
            return_field: own,
            ..args
        })?;
        let values = result.into_array(rows)?;
        Ok(ColumnarValue::Array(cast_with_options(
            &values,
            &target,
            &CastOptions::default(),
        )?))
    }
}

/// Whether a SQL type is `numeric`/`decimal` without precision.
pub fn is_unconstrained_numeric(data_type: &ast::DataType) -> bool {
    matches!(
        data_type,
        ast::DataType::Numeric(ExactNumberInfo::None)
            | ast::DataType::Decimal(ExactNumberInfo::None)
            | ast::DataType::Dec(ExactNumberInfo::None)
    )
}

/// `numeric(p,s)` of a literal written as a plain decimal numeral (`12.50`, `'-0.5'`), so
/// `12.50::numeric` keeps its two digits; `None` for anything else.
pub fn literal_numeric_type(expr: &Expr) -> Option<ast::DataType> {
    let text = match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.to_string(),
            Value::SingleQuotedString(s) => s.trim().to_owned(),
            _ => return None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => return literal_numeric_type(expr),
        Expr::Nested(inner) => return literal_numeric_type(inner),
        _ => return None,
    };
    let (precision, scale) = decimal_shape(&text)?;
    Some(ast::DataType::Numeric(ExactNumberInfo::PrecisionAndScale(
        precision, scale,
    )))
}

/// Precision and scale of a plain decimal numeral (`-012.50` → (4, 2)); `None` for
/// exponents, `NaN` or more digits than a Decimal128 holds.
fn decimal_shape(text: &str) -> Option<(u64, i64)> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = int
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit());
    if !all_digits || (int.is_empty() && fraction.is_empty()) {
        return None;
    }
    let precision = (int.trim_start_matches('0').len() + fraction.len()).max(1);
    (precision <= 38).then_some((precision as u64, fraction.len() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerals_keep_their_own_scale() {
        assert_eq!(decimal_shape("12.50"), Some((4, 2)));
        assert_eq!(decimal_shape("-0.5"), Some((1, 1)));
        assert_eq!(decimal_shape("007"), Some((1, 0)));
        assert_eq!(decimal_shape(".25"), Some((2, 2)));
        assert_eq!(decimal_shape("1e3"), None);
        assert_eq!(decimal_shape("NaN"), None);
        assert_eq!(decimal_shape("."), None);
        assert_eq!(decimal_shape(&"9".repeat(39)), None);
    }

    #[test]
    fn integers_cast_with_scale_zero_and_decimals_unchanged() {
        assert_eq!(numeric_type(&DataType::Int64), DataType::Decimal128(19, 0));
        assert_eq!(
            numeric_type(&DataType::Decimal128(12, 2)),
            DataType::Decimal128(12, 2)
        );
        assert_eq!(
            numeric_type(&DataType::Float64),
            DataType::Decimal128(38, 10)
        );
    }
}

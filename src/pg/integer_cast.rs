//! PostgreSQL's casts of fractional numbers to integers, which round where Arrow's cast
//! truncates (`avg(x)::int` of 1.5 was 1, PostgreSQL says 2; `2.7::numeric::int` was 2).
//! Values round half away from zero, as PostgreSQL rounds a `numeric`. PostgreSQL rounds
//! a `double precision` half to even (`rint`: `2.5::float8::int` is 2); here a double
//! rounds as a numeric does, because the doubles that reach such a cast are mostly
//! PostgreSQL's numerics: literals with a point (`2.5::int` is 3 there) and `avg` of
//! integers (`avg(x)::int` of 2.5 is 3 there).
//!
//! [`IntegerCasts`] is the analyzer rule (after type coercion) that puts `pg_round_away`
//! ([`round_away_udf`]) under such a cast; output types stay as they were.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float32Type, Float64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// `pg_round_away(x)`: `x` rounded half away from zero to a whole number, of `x`'s type.
pub fn round_away_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(RoundAway {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundAway {
    signature: Signature,
}

/// `value` at `scale` rounded half away from zero to a whole number, at the same scale.
fn round_decimal(value: i128, scale: i8) -> i128 {
    let Some(unit) = u32::try_from(scale)
        .ok()
        .and_then(|s| 10_i128.checked_pow(s))
        .filter(|u| *u > 1)
    else {
        return value;
    };
    let whole = value / unit;
    let rest = value % unit;
    let away = if rest.unsigned_abs() * 2 >= unit.unsigned_abs() {
        rest.signum()
    } else {
        0
    };
    (whole + away).saturating_mul(unit)
}

impl ScalarUDFImpl for RoundAway {
    fn name(&self) -> &str {
        "pg_round_away"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args.first().cloned().unwrap_or(DataType::Null))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].clone().into_array(args.number_rows)?;
        let rounded: ArrayRef = match input.data_type() {
            DataType::Float64 => Arc::new(
                input
                    .as_primitive::<Float64Type>()
                    .unary::<_, Float64Type>(f64::round),
            ),
            DataType::Float32 => Arc::new(
                input
                    .as_primitive::<Float32Type>()
                    .unary::<_, Float32Type>(f32::round),
            ),
            DataType::Decimal128(precision, scale) => {
                let (precision, scale) = (*precision, *scale);
                let decimals: PrimitiveArray<Decimal128Type> = input
                    .as_primitive::<Decimal128Type>()
                    .unary(|v| round_decimal(v, scale));
                Arc::new(decimals.with_precision_and_scale(precision, scale)?)
            }
            _ => input,
        };
        Ok(ColumnarValue::Array(rounded))
    }
}

/// See the module header.
#[derive(Debug)]
pub struct IntegerCasts {
    round_away: Arc<ScalarUDF>,
}

impl Default for IntegerCasts {
    fn default() -> Self {
        Self {
            round_away: Arc::new(round_away_udf()),
        }
    }
}

impl AnalyzerRule for IntegerCasts {
    fn name(&self) -> &str {
        "datapunk_integer_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        crate::pg::coercion::rewrite_expressions(plan, |expr, schema| self.rewrite(expr, schema))
    }
}

impl IntegerCasts {
    fn rewrite(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::Cast(Cast { expr: inner, field }) = expr else {
            return Ok(Transformed::no(expr));
        };
        let keep = |inner, field| Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field })));
        if !field.data_type().is_integer() {
            return keep(inner, field);
        }
        if !matches!(
            inner.get_type(schema),
            Ok(DataType::Float32 | DataType::Float64 | DataType::Decimal128(..))
        ) {
            return keep(inner, field);
        }
        let rounded = Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::clone(&self.round_away),
            vec![*inner],
        ));
        Ok(Transformed::yes(Expr::Cast(Cast {
            expr: Box::new(rounded),
            field,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_half_away_from_zero() {
        // At scale 2: 2.50 → 3.00, -2.50 → -3.00, 2.49 → 2.00, 7 at scale 0 stays.
        assert_eq!(round_decimal(250, 2), 300);
        assert_eq!(round_decimal(-250, 2), -300);
        assert_eq!(round_decimal(249, 2), 200);
        assert_eq!(round_decimal(7, 0), 7);
    }
}

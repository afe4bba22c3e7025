//! PostgreSQL's casts of fractional numbers to integers, which round where Arrow's cast
//! truncates (`avg(x)::int` of 1.5 was 1, PostgreSQL says 2):
//! - a `double precision` or `real` value rounds half to even, as `rint` does
//!   (`1.5::float8::int` is 2, `2.5::float8::int` is 2);
//! - a `numeric` value rounds half away from zero (`2.5::numeric::int` is 3). A literal
//!   written with a point (`2.5::int`) is a numeric in PostgreSQL and a double here, so
//!   it rounds as a numeric does.
//!
//! [`IntegerCasts`] is the analyzer rule (after type coercion) that puts `pg_rint` or
//! `pg_round_away` ([`udfs`]) under such a cast; output types stay as they were.

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

/// How a fractional value is brought to a whole one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rounding {
    /// `rint`: half to even (floats).
    HalfEven,
    /// `numeric`'s: half away from zero.
    HalfAway,
}

/// `pg_rint(x)` and `pg_round_away(x)`: `x` rounded to a whole number, of `x`'s type.
pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(RoundWhole::new(Rounding::HalfEven)),
        ScalarUDF::new_from_impl(RoundWhole::new(Rounding::HalfAway)),
    ]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundWhole {
    rounding: Rounding,
    signature: Signature,
}

impl RoundWhole {
    fn new(rounding: Rounding) -> Self {
        Self {
            rounding,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

fn round_float(x: f64, rounding: Rounding) -> f64 {
    match rounding {
        Rounding::HalfEven => x.round_ties_even(),
        Rounding::HalfAway => x.round(),
    }
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

impl ScalarUDFImpl for RoundWhole {
    fn name(&self) -> &str {
        match self.rounding {
            Rounding::HalfEven => "pg_rint",
            Rounding::HalfAway => "pg_round_away",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args.first().cloned().unwrap_or(DataType::Null))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].clone().into_array(args.number_rows)?;
        let rounding = self.rounding;
        let rounded: ArrayRef = match input.data_type() {
            DataType::Float64 => Arc::new(
                input
                    .as_primitive::<Float64Type>()
                    .unary::<_, Float64Type>(|x| round_float(x, rounding)),
            ),
            DataType::Float32 => Arc::new(
                input
                    .as_primitive::<Float32Type>()
                    .unary::<_, Float32Type>(|x| round_float(f64::from(x), rounding) as f32),
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
    rint: Arc<ScalarUDF>,
    round_away: Arc<ScalarUDF>,
}

impl Default for IntegerCasts {
    fn default() -> Self {
        Self {
            rint: Arc::new(ScalarUDF::new_from_impl(RoundWhole::new(
                Rounding::HalfEven,
            ))),
            round_away: Arc::new(ScalarUDF::new_from_impl(RoundWhole::new(
                Rounding::HalfAway,
            ))),
        }
    }
}

impl AnalyzerRule for IntegerCasts {
    fn name(&self) -> &str {
        "datapunk_integer_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        crate::engine::coercion::rewrite_expressions(plan, |expr, schema| {
            self.rewrite(expr, schema)
        })
    }
}

/// A number written in the statement (`2.5`, `-2.5`).
fn is_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Literal(..) => true,
        Expr::Negative(inner) => is_literal(inner),
        _ => false,
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
        let udf = match inner.get_type(schema) {
            Ok(DataType::Float32 | DataType::Float64) if !is_literal(&inner) => &self.rint,
            Ok(DataType::Float32 | DataType::Float64 | DataType::Decimal128(..)) => {
                &self.round_away
            }
            _ => return keep(inner, field),
        };
        let rounded = Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(udf), vec![*inner]));
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
    fn floats_round_half_to_even_and_numerics_half_away_from_zero() {
        let even: Vec<f64> = [0.5, 1.5, 2.5, -2.5, 2.6]
            .iter()
            .map(|x| round_float(*x, Rounding::HalfEven))
            .collect();
        assert_eq!(even, [0.0, 2.0, 2.0, -2.0, 3.0]);
        let away: Vec<f64> = [0.5, 2.5, -2.5, 2.4]
            .iter()
            .map(|x| round_float(*x, Rounding::HalfAway))
            .collect();
        assert_eq!(away, [1.0, 3.0, -3.0, 2.0]);
        // At scale 2: 2.50 → 3.00, -2.50 → -3.00, 2.49 → 2.00, 7 at scale 0 stays.
        assert_eq!(round_decimal(250, 2), 300);
        assert_eq!(round_decimal(-250, 2), -300);
        assert_eq!(round_decimal(249, 2), 200);
        assert_eq!(round_decimal(7, 0), 7);
    }
}

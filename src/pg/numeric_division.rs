//! Numeric division as PostgreSQL has it: `numeric / numeric` (and a numeric divided by
//! or into an integer) rounds the exact quotient half away from zero to at least 16
//! digits after the point (`numeric_div`, `select_div_scale`), where DataFusion keeps
//! four more digits than the dividend and truncates (`sum(x)::numeric / count(*)` of 5
//! and 3 was `1.6666`, PostgreSQL: `1.6666666666666667`). PostgreSQL chooses the scale
//! per value so that 16 significant digits show; an Arrow column has one scale, so the
//! quotient keeps 16 digits after the point or the larger operand scale: PostgreSQL's
//! own scale for quotients from 1 to 9999 whose operands start with different digits.
//! [`rounded_quotient`] is the one rounding rule, also used by `avg`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{i256, DataType, Decimal128Type};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::pg::fault::Fault;

/// Digits after the point of a quotient or an average, at the least.
pub const QUOTIENT_SCALE: i8 = 16;

/// The largest Decimal128 precision.
const MAX_PRECISION: u8 = 38;

/// `numerator / denominator` rounded half away from zero, as PostgreSQL's numeric
/// division rounds; 22012 for a zero denominator, 22003 when the result has more than 38
/// digits.
///
/// # Errors
/// Division by zero, or a result past 38 digits.
pub fn rounded_quotient(numerator: i256, denominator: i256) -> Result<i128> {
    if denominator == i256::ZERO {
        return Err(Fault::DivisionByZero.into());
    }
    let overflow = || -> datafusion::error::DataFusionError { Fault::NumericOverflow.into() };
    let quotient = numerator.checked_div(denominator).ok_or_else(overflow)?;
    let remainder = numerator.checked_rem(denominator).ok_or_else(overflow)?;
    let twice = remainder.wrapping_abs().wrapping_mul(i256::from_i128(2));
    let rounded = if twice >= denominator.wrapping_abs() {
        if (numerator < i256::ZERO) != (denominator < i256::ZERO) {
            quotient.wrapping_sub(i256::ONE)
        } else {
            quotient.wrapping_add(i256::ONE)
        }
    } else {
        quotient
    };
    rounded
        .to_i128()
        .filter(|v| v.unsigned_abs() < 10u128.pow(u32::from(MAX_PRECISION)))
        .ok_or_else(overflow)
}

/// `10^exponent` as an i256, or 22003 past what it holds.
fn power_of_ten(exponent: i32) -> Result<i256> {
    let exponent = u32::try_from(exponent).map_err(|_| Fault::NumericOverflow)?;
    i256::from_i128(10)
        .checked_pow(exponent)
        .ok_or_else(|| Fault::NumericOverflow.into())
}

/// The Decimal128 an operand is divided as: decimals as they are, integers with scale 0.
fn as_decimal(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Decimal128(..) => Some(t.clone()),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Some(DataType::Decimal128(5, 0)),
        DataType::Int32 | DataType::UInt16 => Some(DataType::Decimal128(10, 0)),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => Some(DataType::Decimal128(20, 0)),
        _ => None,
    }
}

fn scale_of(t: &DataType) -> i8 {
    match t {
        DataType::Decimal128(_, s) => *s,
        _ => 0,
    }
}

/// The type of `a / b` for decimals of scales `left` and `right`.
fn quotient_type(left: i8, right: i8) -> DataType {
    DataType::Decimal128(MAX_PRECISION, QUOTIENT_SCALE.max(left).max(right))
}

/// `pg_numeric_div(a, b)`: two Decimal128 operands, the quotient at [`quotient_type`].
#[derive(Debug, PartialEq, Eq, Hash)]
struct NumericDivide {
    signature: Signature,
}

/// The function the planner calls for numeric `/`.
pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(NumericDivide {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

impl ScalarUDFImpl for NumericDivide {
    fn name(&self) -> &str {
        "pg_numeric_div"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [left, right] => Ok(quotient_type(scale_of(left), scale_of(right))),
            _ => datafusion::common::plan_err!("pg_numeric_div takes two numerics"),
        }
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [left, right] => Ok(format!("{} / {}", left.schema_name(), right.schema_name())),
            _ => Ok(self.name().to_owned()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [left, right] = args.args.as_slice() else {
            return datafusion::common::exec_err!("pg_numeric_div takes two numerics");
        };
        let (left, right) = (
            left.to_array_of_size(args.number_rows)?,
            right.to_array_of_size(args.number_rows)?,
        );
        let (DataType::Decimal128(_, left_scale), DataType::Decimal128(_, right_scale)) =
            (left.data_type().clone(), right.data_type().clone())
        else {
            return datafusion::common::exec_err!("pg_numeric_div takes two numerics");
        };
        let DataType::Decimal128(precision, scale) = quotient_type(left_scale, right_scale) else {
            unreachable!("a quotient is a Decimal128")
        };
        // a/10^ls ÷ b/10^rs at scale s is a·10^(s + rs − ls) ÷ b.
        let factor =
            power_of_ten(i32::from(scale) + i32::from(right_scale) - i32::from(left_scale))?;
        let (left, right) = (
            left.as_primitive::<Decimal128Type>(),
            right.as_primitive::<Decimal128Type>(),
        );
        let quotients = (0..left.len())
            .map(|i| {
                if left.is_null(i) || right.is_null(i) {
                    return Ok(None);
                }
                let numerator = i256::from_i128(left.value(i))
                    .checked_mul(factor)
                    .ok_or(Fault::NumericOverflow)?;
                rounded_quotient(numerator, i256::from_i128(right.value(i))).map(Some)
            })
            .collect::<Result<Decimal128Array>>()?
            .with_precision_and_scale(precision, scale)?;
        Ok(ColumnarValue::Array(Arc::new(quotients)))
    }
}

/// Plans `/` with a numeric operand and a numeric or integer other one as
/// `pg_numeric_div`; other divisions are DataFusion's.
#[derive(Debug)]
pub struct NumericDivision {
    function: Arc<ScalarUDF>,
}

impl Default for NumericDivision {
    fn default() -> Self {
        Self {
            function: Arc::new(udf()),
        }
    }
}

impl ExprPlanner for NumericDivision {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        if expr.op != BinaryOperator::Divide {
            return Ok(PlannerResult::Original(expr));
        }
        let (Ok(left_type), Ok(right_type)) =
            (expr.left.get_type(schema), expr.right.get_type(schema))
        else {
            return Ok(PlannerResult::Original(expr));
        };
        let either_numeric = matches!(left_type, DataType::Decimal128(..))
            || matches!(right_type, DataType::Decimal128(..));
        let (Some(left_decimal), Some(right_decimal)) =
            (as_decimal(&left_type), as_decimal(&right_type))
        else {
            return Ok(PlannerResult::Original(expr));
        };
        if !either_numeric {
            return Ok(PlannerResult::Original(expr));
        }
        let as_type = |e: Expr, from: &DataType, to: DataType| {
            if *from == to {
                e
            } else {
                Expr::Cast(Cast::new(Box::new(e), to))
            }
        };
        let RawBinaryExpr { left, right, .. } = expr;
        let args = vec![
            as_type(left, &left_type, left_decimal),
            as_type(right, &right_type, right_decimal),
        ];
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(Arc::clone(&self.function), args),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotient(n: i128, d: i128) -> Result<i128> {
        rounded_quotient(i256::from_i128(n), i256::from_i128(d))
    }

    #[test]
    fn quotients_round_half_away_from_zero_whatever_the_signs() {
        assert_eq!(quotient(5, 2).unwrap(), 3);
        assert_eq!(quotient(-5, 2).unwrap(), -3);
        assert_eq!(quotient(5, -2).unwrap(), -3);
        assert_eq!(quotient(-5, -2).unwrap(), 3);
        assert_eq!(quotient(4, 3).unwrap(), 1);
        assert_eq!(quotient(-4, 3).unwrap(), -1);
    }

    #[test]
    fn zero_divisors_and_oversized_results_are_postgres_faults() {
        let zero = quotient(1, 0).unwrap_err();
        assert!(zero.to_string().contains("division by zero"), "{zero}");
        let big = rounded_quotient(i256::from_i128(10).wrapping_pow(40), i256::ONE).unwrap_err();
        assert!(big.to_string().contains("numeric field overflow"), "{big}");
    }
}

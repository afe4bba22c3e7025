//! Integer arithmetic that fails on overflow, as PostgreSQL's does: `+`, `-` and `*` of
//! two integers are planned ([`CheckedArithmetic`], an expression planner) as
//! `pg_int_add` / `pg_int_sub` / `pg_int_mul`, which run Arrow's checked kernels and
//! answer an overflow with 22003 (`integer out of range`, `bigint out of range`).
//! DataFusion's operators wrap around (`9223372036854775807 + 1` was
//! `-9223372036854775808`, `product_id * 1000000` on an int column went negative).
//! The result type is the one DataFusion's operator has, and the column is named as the
//! operator's would be.

use std::sync::Arc;

use datafusion::arrow::compute::kernels::numeric::{add, mul, sub};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// The checked operators, one function each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Arithmetic {
    Add,
    Subtract,
    Multiply,
}

impl Arithmetic {
    const ALL: [Arithmetic; 3] = [Self::Add, Self::Subtract, Self::Multiply];

    fn operator(self) -> Operator {
        match self {
            Self::Add => Operator::Plus,
            Self::Subtract => Operator::Minus,
            Self::Multiply => Operator::Multiply,
        }
    }
}

/// `pg_int_add`, `pg_int_sub`, `pg_int_mul`.
pub fn udfs() -> Vec<ScalarUDF> {
    Arithmetic::ALL
        .into_iter()
        .map(|op| ScalarUDF::new_from_impl(Checked::new(op)))
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    op: Arithmetic,
    signature: Signature,
}

impl Checked {
    fn new(op: Arithmetic) -> Self {
        Self {
            op,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// PostgreSQL's name of an integer type in its overflow message.
fn integer_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int8 | DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        _ => "bigint",
    }
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        match self.op {
            Arithmetic::Add => "pg_int_add",
            Arithmetic::Subtract => "pg_int_sub",
            Arithmetic::Multiply => "pg_int_mul",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args.first().cloned().unwrap_or(DataType::Int64))
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [left, right] => Ok(format!(
                "{} {} {}",
                left.schema_name(),
                self.op.operator(),
                right.schema_name()
            )),
            _ => Ok(self.name().to_owned()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [left, right] = args.args.as_slice() else {
            return datafusion::common::exec_err!("{} takes two integers", self.name());
        };
        let (left, right) = (
            left.to_array_of_size(args.number_rows)?,
            right.to_array_of_size(args.number_rows)?,
        );
        let result = match self.op {
            Arithmetic::Add => add(&left, &right),
            Arithmetic::Subtract => sub(&left, &right),
            Arithmetic::Multiply => mul(&left, &right),
        };
        let result = result.map_err(|e| match e {
            ArrowError::ArithmeticOverflow(_) => ArrowError::ArithmeticOverflow(format!(
                "{} out of range",
                integer_name(left.data_type())
            )),
            other => other,
        })?;
        Ok(ColumnarValue::Array(result))
    }
}

/// See the module header.
#[derive(Debug)]
pub struct CheckedArithmetic {
    functions: Vec<(Arithmetic, Arc<ScalarUDF>)>,
}

impl Default for CheckedArithmetic {
    fn default() -> Self {
        Self {
            functions: Arithmetic::ALL
                .into_iter()
                .map(|op| (op, Arc::new(ScalarUDF::new_from_impl(Checked::new(op)))))
                .collect(),
        }
    }
}

fn is_signed_integer(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    )
}

impl ExprPlanner for CheckedArithmetic {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let op = match expr.op {
            BinaryOperator::Plus => Arithmetic::Add,
            BinaryOperator::Minus => Arithmetic::Subtract,
            BinaryOperator::Multiply => Arithmetic::Multiply,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (Ok(left_type), Ok(right_type)) =
            (expr.left.get_type(schema), expr.right.get_type(schema))
        else {
            return Ok(PlannerResult::Original(expr));
        };
        if !is_signed_integer(&left_type) || !is_signed_integer(&right_type) {
            return Ok(PlannerResult::Original(expr));
        }
        let operator = op.operator();
        let Ok(result_type) =
            BinaryTypeCoercer::new(&left_type, &operator, &right_type).get_result_type()
        else {
            return Ok(PlannerResult::Original(expr));
        };
        let widen = |e: Expr, from: &DataType| {
            if *from == result_type {
                e
            } else {
                Expr::Cast(Cast::new(Box::new(e), result_type.clone()))
            }
        };
        let RawBinaryExpr { left, right, .. } = expr;
        let args = vec![widen(left, &left_type), widen(right, &right_type)];
        let udf = self
            .functions
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, f)| Arc::clone(f))
            .expect("one function per operator");
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(udf, args),
        )))
    }
}

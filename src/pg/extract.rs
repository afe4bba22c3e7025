//! `EXTRACT(field FROM x)` as PostgreSQL has it: a `numeric` (DataFusion: an integer, or
//! a double for `epoch`), with the fraction PostgreSQL keeps: `second` and the `epoch` of
//! a timestamp, time or interval have 6 digits after the point (`10.500000`),
//! `milliseconds` 3 (`10500.000`), every other field and the `epoch` of a date none.
//! DataFusion's `date_part` computes the value ([`ExtractPlanner`] plans it, asked
//! before DataFusion's own planner); [`extract_numeric_udf`] gives it its scale.
//! `date_part(...)` itself stays a double, as in PostgreSQL.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, FieldRef, Float64Type, Int64Type,
};
use datafusion::common::{exec_err, internal_err, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// How PostgreSQL's numeric for one field is read from DataFusion's `date_part`.
struct Reading {
    /// The `date_part` field that gives the value.
    part: &'static str,
    /// Digits after the point.
    scale: i8,
    /// What `date_part`'s value is multiplied by to give the unscaled digits.
    multiplier: f64,
}

fn reading(field: &str, input: &DataType) -> Option<Reading> {
    let is_date = matches!(input, DataType::Date32 | DataType::Date64);
    Some(match field {
        // Whole microseconds: the seconds with their fraction.
        "second" | "seconds" => Reading {
            part: "microsecond",
            scale: 6,
            multiplier: 1.0,
        },
        "millisecond" | "milliseconds" => Reading {
            part: "microsecond",
            scale: 3,
            multiplier: 1.0,
        },
        "epoch" if !is_date => Reading {
            part: "epoch",
            scale: 6,
            multiplier: 1e6,
        },
        "epoch" => Reading {
            part: "epoch",
            scale: 0,
            multiplier: 1.0,
        },
        _ => return None,
    })
}

/// Plans `EXTRACT` as `pg_extract_numeric(date_part(...), scale, multiplier)`.
#[derive(Debug, Default)]
pub struct ExtractPlanner;

impl ExprPlanner for ExtractPlanner {
    fn plan_extract(&self, args: Vec<Expr>) -> Result<PlannerResult<Vec<Expr>>> {
        let [Expr::Literal(ScalarValue::Utf8(Some(field)), _), value] = args.as_slice() else {
            return Ok(PlannerResult::Original(args));
        };
        let field = field.to_ascii_lowercase();
        // The part does not depend on the input's type (which planning an extract is not
        // told): the scale, which does, is decided when the call is typed.
        let part = reading(&field, &DataType::Null).map_or(field.clone(), |r| r.part.to_owned());
        let date_part = Expr::ScalarFunction(ScalarFunction::new_udf(
            datafusion::functions::datetime::date_part(),
            vec![
                Expr::Literal(ScalarValue::Utf8(Some(part)), None),
                value.clone(),
            ],
        ));
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(
                Arc::new(extract_numeric_udf()),
                vec![
                    date_part,
                    Expr::Literal(ScalarValue::Utf8(Some(field)), None),
                    value.clone(),
                ],
            ),
        )))
    }
}

/// `pg_extract_numeric(date_part_value, field, x)`: the value as the numeric `EXTRACT`
/// gives (the module header); `x` only tells the type, for the scale.
pub fn extract_numeric_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(ExtractNumeric {
        signature: Signature::any(3, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExtractNumeric {
    signature: Signature,
}

fn field_of(argument: Option<&ScalarValue>) -> Option<String> {
    match argument {
        Some(ScalarValue::Utf8(Some(f)) | ScalarValue::Utf8View(Some(f))) => {
            Some(f.to_ascii_lowercase())
        }
        _ => None,
    }
}

impl ScalarUDFImpl for ExtractNumeric {
    fn name(&self) -> &str {
        "pg_extract_numeric"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("pg_extract_numeric is typed from its arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let Some(field) = field_of(args.scalar_arguments.get(1).copied().flatten()) else {
            return exec_err!("pg_extract_numeric needs a constant field");
        };
        let scale = reading(&field, args.arg_fields[2].data_type()).map_or(0, |r| r.scale);
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Decimal128(38, scale),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Decimal128(_, scale) = *args.return_type() else {
            return internal_err!("pg_extract_numeric returns a decimal");
        };
        let field = match &args.args[1] {
            ColumnarValue::Scalar(s) => field_of(Some(s)),
            ColumnarValue::Array(_) => None,
        };
        let multiplier = field
            .and_then(|f| reading(&f, args.arg_fields[2].data_type()))
            .map_or(1.0, |r| r.multiplier);
        let is_scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let values: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let digits: Decimal128Array = if multiplier == 1.0 && values.data_type().is_integer() {
            // Whole numbers (year, month, microseconds): the digits as they are.
            cast(&values, &DataType::Int64)?
                .as_primitive::<Int64Type>()
                .unary::<_, Decimal128Type>(i128::from)
        } else {
            cast(&values, &DataType::Float64)?
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(|v| (v * multiplier).round() as i128))
                .collect::<Decimal128Array>()
        }
        .with_precision_and_scale(38, scale)?;
        if is_scalar && digits.len() == 1 {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &digits, 0,
            )?));
        }
        Ok(ColumnarValue::Array(Arc::new(digits)))
    }
}

//! `avg` as PostgreSQL has it. Integers and numerics average to a `numeric`
//! ([`super::decimal_avg`]: exact and rounded, where DataFusion gives a double for
//! integers); intervals average as intervals, which DataFusion refuses
//! (`avg(shipped_at - ordered_at)`, the time from order to shipment): PostgreSQL sums the
//! months, days and time of the intervals separately and divides each by the count as
//! `interval_div` does, carrying fractions of a month into days (30 a month) and of a
//! day into time. Floats and durations use DataFusion's own `avg`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::common::{plan_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, ReversedUDAF,
    Signature, Volatility,
};

use super::decimal_avg::{self, DecimalAvg};

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);

/// `avg`, replacing DataFusion's (which it runs for floats and durations).
pub fn avg_udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(PgAvg {
        builtin: datafusion::functions_aggregate::average::avg_udaf(),
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgAvg {
    builtin: Arc<AggregateUDF>,
    signature: Signature,
}

fn is_interval(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Interval(_))
}

/// The type `avg` reads a value of type `input` as.
fn averaged_as(input: &DataType) -> Option<DataType> {
    use DataType::*;
    Some(match input {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => {
            decimal_avg::INTEGER_AS_DECIMAL
        }
        Decimal32(p, s) | Decimal64(p, s) => Decimal128(*p, *s),
        Decimal128(..) | Decimal256(..) | Duration(_) => input.clone(),
        Float16 | Float32 | Float64 | Null => Float64,
        Interval(_) => INTERVAL,
        Dictionary(_, values) => return averaged_as(values),
        _ => return None,
    })
}

/// The one argument of aggregate `name` coerced by `to` (`None`: no such function).
pub(crate) fn one_argument_as(
    name: &str,
    arg_types: &[DataType],
    to: impl Fn(&DataType) -> Option<DataType>,
) -> Result<Vec<DataType>> {
    match arg_types {
        [input] => match to(input) {
            Some(coerced) => Ok(vec![coerced]),
            None => {
                plan_err!("No function matches the given name and argument types '{name}({input})'")
            }
        },
        _ => plan_err!("{name} takes one argument"),
    }
}

/// The scale of a `Decimal128` average's input and output, if it is one.
fn decimal_scales(args: &AccumulatorArgs) -> Option<(i8, i8)> {
    match (
        args.expr_fields[0].data_type(),
        args.return_field.data_type(),
    ) {
        (DataType::Decimal128(_, input), DataType::Decimal128(_, output)) => {
            Some((*input, *output))
        }
        _ => None,
    }
}

impl AggregateUDFImpl for PgAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn aliases(&self) -> &[String] {
        self.builtin.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        one_argument_as("avg", arg_types, averaged_as)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] if is_interval(t) => Ok(INTERVAL),
            [DataType::Decimal128(_, scale)] => Ok(decimal_avg::average_type(*scale)),
            _ => self.builtin.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if let (Some((input, output)), false) = (decimal_scales(&args), args.is_distinct) {
            return Ok(Box::new(DecimalAvg::new(input, output)));
        }
        if !is_interval(args.return_field.data_type()) {
            return self.builtin.inner().accumulator(args);
        }
        if args.is_distinct {
            return Err(DataFusionError::NotImplemented(
                "avg(DISTINCT interval) is not supported".to_owned(),
            ));
        }
        Ok(Box::<IntervalAvg>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if let (DataType::Decimal128(_, input), DataType::Decimal128(..), false) = (
            args.input_fields[0].data_type(),
            args.return_type(),
            args.is_distinct,
        ) {
            return Ok(decimal_avg::state_fields(args.name, *input));
        }
        if !is_interval(args.return_type()) {
            return self.builtin.inner().state_fields(args);
        }
        Ok(["months", "days", "nanoseconds", "count"]
            .iter()
            .map(|part| {
                Arc::new(Field::new(
                    format!("{}[{part}]", args.name),
                    DataType::Int64,
                    true,
                ))
            })
            .collect())
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !is_interval(args.return_field.data_type())
            && self.builtin.inner().groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if let Some((input, output)) = decimal_scales(&args) {
            return Ok(decimal_avg::groups_accumulator(input, output));
        }
        self.builtin.inner().create_groups_accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.builtin.documentation()
    }
}

/// Sums of the intervals' parts and their count; NULLs are skipped.
#[derive(Debug, Default)]
struct IntervalAvg {
    months: i64,
    days: i64,
    nanoseconds: i64,
    count: i64,
}

fn out_of_range() -> DataFusionError {
    crate::pg::fault::Fault::IntervalOutOfRange.into()
}

impl IntervalAvg {
    fn add(&mut self, months: i64, days: i64, nanoseconds: i64, count: i64) -> Result<()> {
        self.months = self.months.checked_add(months).ok_or_else(out_of_range)?;
        self.days = self.days.checked_add(days).ok_or_else(out_of_range)?;
        self.nanoseconds = self
            .nanoseconds
            .checked_add(nanoseconds)
            .ok_or_else(out_of_range)?;
        self.count += count;
        Ok(())
    }
}

impl Accumulator for IntervalAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = datafusion::arrow::compute::cast(&values[0], &INTERVAL)?;
        let values = values.as_primitive::<IntervalMonthDayNanoType>();
        for value in values.iter().flatten() {
            self.add(
                i64::from(value.months),
                i64::from(value.days),
                value.nanoseconds,
                1,
            )?;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let parts: Vec<&Int64Array> = states.iter().map(|s| s.as_primitive()).collect();
        for row in 0..parts[0].len() {
            if parts[3].is_valid(row) {
                self.add(
                    parts[0].value(row),
                    parts[1].value(row),
                    parts[2].value(row),
                    parts[3].value(row),
                )?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok([self.months, self.days, self.nanoseconds, self.count]
            .into_iter()
            .map(|v| ScalarValue::Int64(Some(v)))
            .collect())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.count == 0 {
            return Ok(ScalarValue::IntervalMonthDayNano(None));
        }
        // The sum is an interval itself in PostgreSQL (interval_pl), so it must fit one.
        let sum = IntervalMonthDayNano::new(
            i32::try_from(self.months).map_err(|_| out_of_range())?,
            i32::try_from(self.days).map_err(|_| out_of_range())?,
            self.nanoseconds,
        );
        let average = crate::pg::temporal::scale_interval(sum, 1.0 / self.count as f64)
            .ok_or_else(out_of_range)?;
        Ok(ScalarValue::IntervalMonthDayNano(Some(average)))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn average(values: &[IntervalMonthDayNano]) -> IntervalMonthDayNano {
        let array: ArrayRef = Arc::new(datafusion::arrow::array::IntervalMonthDayNanoArray::from(
            values.to_vec(),
        ));
        let mut acc = IntervalAvg::default();
        acc.update_batch(&[array]).unwrap();
        match acc.evaluate().unwrap() {
            ScalarValue::IntervalMonthDayNano(Some(v)) => v,
            other => panic!("{other:?}"),
        }
    }

    const HOUR: i64 = 3_600_000_000_000;

    #[test]
    fn month_fractions_carry_into_days_and_day_fractions_into_time() {
        // PostgreSQL 15: avg of '1 day', '2 days 03:00', '1 mon' is '11 days 01:00:00'.
        let got = average(&[
            IntervalMonthDayNano::new(0, 1, 0),
            IntervalMonthDayNano::new(0, 2, 3 * HOUR),
            IntervalMonthDayNano::new(1, 0, 0),
        ]);
        assert_eq!(got, IntervalMonthDayNano::new(0, 11, HOUR));
        // '1 day' and '2 days': 1 day 12:00:00.
        let got = average(&[
            IntervalMonthDayNano::new(0, 1, 0),
            IntervalMonthDayNano::new(0, 2, 0),
        ]);
        assert_eq!(got, IntervalMonthDayNano::new(0, 1, 12 * HOUR));
    }

    #[test]
    fn partial_states_merge() {
        let mut a = IntervalAvg::default();
        a.add(0, 1, 0, 1).unwrap();
        let mut b = IntervalAvg::default();
        b.add(0, 2, 0, 1).unwrap();
        let states: Vec<ArrayRef> = b
            .state()
            .unwrap()
            .into_iter()
            .map(|s| s.to_array().unwrap())
            .collect();
        a.merge_batch(&states).unwrap();
        assert_eq!(
            a.evaluate().unwrap(),
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 1, 12 * HOUR)))
        );
    }
}

//! `date_trunc` to a day, week, month, quarter or year for timestamps without a time
//! zone, as DataFusion's but by calendar arithmetic in the timestamp's own unit, with the
//! bucket of the previous row remembered: the rows of a lake file are mostly in time
//! order, so most rows are one comparison. Every other case (time zones, finer fields,
//! times, scalars) is DataFusion's own function.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::{
    ArrowTimestampType, DataType, FieldRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::{exec_datafusion_err, Result, ScalarValue};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};

/// DataFusion's `date_trunc`, with the fast path of the module header.
pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(CalendarDateTrunc {
        builtin: datafusion::functions::datetime::date_trunc(),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CalendarDateTrunc {
    builtin: Arc<ScalarUDF>,
}

/// The fields truncated by calendar arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Field {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "quarter" => Self::Quarter,
            "year" => Self::Year,
            _ => return None,
        })
    }

    /// The first day of the bucket holding `day` and the first day of the next one
    /// (days since 1970-01-01).
    fn bucket(self, day: i64) -> (i64, i64) {
        let months = |months: i64| {
            let (year, month, _) = civil_from_days(day);
            let first = (month - 1) / months * months + 1;
            let next = first + months;
            (
                days_from_civil(year, first, 1),
                days_from_civil(year + (next - 1) / 12, (next - 1) % 12 + 1, 1),
            )
        };
        match self {
            Self::Day => (day, day + 1),
            // Weeks start on Monday; 1970-01-01 was a Thursday.
            Self::Week => {
                let monday = day - (day + 3).rem_euclid(7);
                (monday, monday + 7)
            }
            Self::Month => months(1),
            Self::Quarter => months(3),
            Self::Year => months(12),
        }
    }
}

impl ScalarUDFImpl for CalendarDateTrunc {
    fn name(&self) -> &str {
        self.builtin.name()
    }

    fn aliases(&self) -> &[String] {
        self.builtin.aliases()
    }

    fn signature(&self) -> &Signature {
        self.builtin.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.builtin.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.builtin.return_field_from_args(args)
    }

    fn output_ordering(&self, input: &[ExprProperties]) -> Result<SortProperties> {
        self.builtin.output_ordering(input)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.builtin.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let field = match &args.args[0] {
            ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(name))
                | ScalarValue::Utf8View(Some(name))
                | ScalarValue::LargeUtf8(Some(name)),
            ) => Field::parse(name),
            _ => None,
        };
        let truncated = match (field, &args.args[1]) {
            (Some(field), ColumnarValue::Array(array)) => truncate_array(array, field)?,
            _ => None,
        };
        match truncated {
            Some(array) => Ok(ColumnarValue::Array(array)),
            None => self.builtin.invoke_with_args(args),
        }
    }
}

/// The array truncated to `field`, or `None` for a type the fast path leaves alone.
fn truncate_array(array: &ArrayRef, field: Field) -> Result<Option<ArrayRef>> {
    Ok(Some(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, None) => {
            truncate::<TimestampSecondType>(array, field, 86_400)?
        }
        DataType::Timestamp(TimeUnit::Millisecond, None) => {
            truncate::<TimestampMillisecondType>(array, field, 86_400_000)?
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            truncate::<TimestampMicrosecondType>(array, field, 86_400_000_000)?
        }
        DataType::Timestamp(TimeUnit::Nanosecond, None) => {
            truncate::<TimestampNanosecondType>(array, field, 86_400_000_000_000)?
        }
        _ => return Ok(None),
    }))
}

fn truncate<T: ArrowTimestampType>(
    array: &ArrayRef,
    field: Field,
    per_day: i64,
) -> Result<ArrayRef> {
    let values = array.as_primitive::<T>();
    // [low, high) in the array's unit is the bucket starting at `start`.
    let (mut low, mut high, mut start) = (1i64, 0i64, 0i64);
    let mut out = Vec::with_capacity(values.len());
    for (i, &value) in values.values().iter().enumerate() {
        if value < low || value >= high {
            if values.is_null(i) {
                out.push(0);
                continue;
            }
            let (first, next) = field.bucket(value.div_euclid(per_day));
            let out_of_range = || exec_datafusion_err!("Timestamp {value} out of range");
            start = first.checked_mul(per_day).ok_or_else(out_of_range)?;
            low = start;
            high = next.checked_mul(per_day).unwrap_or(i64::MAX);
        }
        out.push(start);
    }
    let truncated = PrimitiveArray::<T>::new(out.into(), values.nulls().cloned());
    Ok(Arc::new(truncated))
}

/// Days from 1970-01-01 to 0000-03-01 in the proleptic Gregorian calendar.
const DAYS_EPOCH_SHIFT: i64 = 719_468;

/// Days in a 400-year era.
const DAYS_PER_ERA: i64 = 146_097;

/// (year, month 1-12, day 1-31) of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + DAYS_EPOCH_SHIFT;
    let era = z.div_euclid(DAYS_PER_ERA);
    let day_of_era = z.rem_euclid(DAYS_PER_ERA);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// The day counted from 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    era * DAYS_PER_ERA + year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year
        - DAYS_EPOCH_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::TimestampMicrosecondArray;
    use datafusion::arrow::datatypes::Field as ArrowField;
    use datafusion::common::config::ConfigOptions;

    fn call(udf: &ScalarUDF, field: &str, array: ArrayRef) -> Result<ArrayRef> {
        let args = vec![
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(field.into()))),
            ColumnarValue::Array(Arc::clone(&array)),
        ];
        let arg_fields = vec![
            Arc::new(ArrowField::new("f", DataType::Utf8, false)),
            Arc::new(ArrowField::new("t", array.data_type().clone(), true)),
        ];
        let return_field = Arc::new(ArrowField::new("r", array.data_type().clone(), true));
        udf.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: array.len(),
            return_field,
            config_options: Arc::new(ConfigOptions::default()),
        })?
        .into_array(array.len())
    }

    /// Timestamps from 1700 to 2200 (DataFusion's nanosecond range), in time order and
    /// shuffled, with nulls and the edges of buckets.
    fn timestamps() -> Vec<ArrayRef> {
        let day = 86_400_000_000i64;
        let mut values: Vec<Option<i64>> = (0..20_000i64)
            .map(|i| Some(-98 * 365 * day * 2 + i * 8 * day + (i * 7_919_111) % day))
            .collect();
        values.extend((0..2_000).map(|i| Some(i * day - 1)));
        values.extend([None, Some(0), Some(-1), None]);
        let ordered: ArrayRef = Arc::new(TimestampMicrosecondArray::from(values.clone()));
        let mut shuffled = values;
        let n = shuffled.len();
        for i in 0..n {
            shuffled.swap(i, (i * 48_271 + 11) % n);
        }
        vec![ordered, Arc::new(TimestampMicrosecondArray::from(shuffled))]
    }

    #[test]
    fn equals_datafusions_date_trunc() {
        let ours = udf();
        let builtin = datafusion::functions::datetime::date_trunc();
        for field in ["day", "week", "month", "Quarter", "YEAR"] {
            for array in timestamps() {
                let expected = call(&builtin, field, Arc::clone(&array)).unwrap();
                let got = call(&ours, field, Arc::clone(&array)).unwrap();
                assert_eq!(got.as_ref(), expected.as_ref(), "{field}");
            }
        }
    }

    #[test]
    fn other_fields_and_types_are_datafusions() {
        let ours = udf();
        let array: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_700_000_000_123_456)])
                .with_timezone("+02:00"),
        );
        for field in ["hour", "second", "month"] {
            let expected = call(
                &datafusion::functions::datetime::date_trunc(),
                field,
                Arc::clone(&array),
            );
            let got = call(&ours, field, Arc::clone(&array)).unwrap();
            assert_eq!(got.as_ref(), expected.unwrap().as_ref());
        }
        assert!(call(&ours, "fortnight", array).is_err());
    }

    #[test]
    fn dates_before_datafusions_nanosecond_range_are_truncated() {
        let year_1500 = days_from_civil(1500, 5, 17) * 86_400_000_000 + 12_345;
        let array: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![year_1500]));
        let got = call(&udf(), "month", array).unwrap();
        let got = got.as_primitive::<TimestampMicrosecondType>().value(0);
        assert_eq!(got, days_from_civil(1500, 5, 1) * 86_400_000_000);
        assert_eq!(civil_from_days(days_from_civil(1500, 5, 1)), (1500, 5, 1));
    }
}

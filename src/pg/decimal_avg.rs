//! `avg` of integers and numerics as PostgreSQL has it: a `numeric`, the exact sum
//! divided by the count and rounded half away from zero (`numeric_avg`, `int8_avg`),
//! where DataFusion gives a double for integers and truncates decimals to four more
//! digits. PostgreSQL picks the result's scale per value (at least 16 significant
//! digits, `select_div_scale`); an Arrow column has one scale, so the average keeps 16
//! digits after the point (or the input's scale if that is more): PostgreSQL's own
//! scale for averages from 1 to 9999 whose sum and count start with different digits.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, UInt64Array,
};
use datafusion::arrow::datatypes::{i256, DataType, Decimal128Type, Field, FieldRef, UInt64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

use crate::pg::numeric_division::{rounded_quotient, QUOTIENT_SCALE};

/// Digits after the point of an average (see the module header).
pub const AVERAGE_SCALE: i8 = QUOTIENT_SCALE;

/// The decimal type an integer is averaged as (every 64-bit integer fits).
pub const INTEGER_AS_DECIMAL: DataType = DataType::Decimal128(20, 0);

/// The type of the average of a `Decimal128(_, scale)`.
pub fn average_type(scale: i8) -> DataType {
    DataType::Decimal128(38, scale.max(AVERAGE_SCALE))
}

/// The type the sum is kept in, in the state and between partial aggregates.
fn sum_type(scale: i8) -> DataType {
    DataType::Decimal128(38, scale)
}

/// The state of a partial average: the count and the sum, as DataFusion's `avg` keeps it.
pub fn state_fields(name: &str, input_scale: i8) -> Vec<FieldRef> {
    vec![
        Arc::new(Field::new(format!("{name}[count]"), DataType::UInt64, true)),
        Arc::new(Field::new(
            format!("{name}[sum]"),
            sum_type(input_scale),
            true,
        )),
    ]
}

fn numeric_overflow() -> datafusion::error::DataFusionError {
    crate::pg::fault::Fault::NumericOverflow.into()
}

/// `sum` (at `sum_scale`) divided by `count` at `target_scale` (not less than
/// `sum_scale`), rounded half away from zero as PostgreSQL's numeric division rounds.
pub fn rounded_average(sum: i128, sum_scale: i8, count: u64, target_scale: i8) -> Result<i128> {
    let shift = u32::try_from(target_scale - sum_scale).map_err(|_| numeric_overflow())?;
    let factor = 10i128.checked_pow(shift).ok_or_else(numeric_overflow)?;
    let numerator = i256::from_i128(sum)
        .checked_mul(i256::from_i128(factor))
        .ok_or_else(numeric_overflow)?;
    rounded_quotient(numerator, i256::from_i128(i128::from(count)))
}

/// The per-group accumulator (what `GROUP BY` uses).
pub fn groups_accumulator(input_scale: i8, target_scale: i8) -> Box<dyn GroupsAccumulator> {
    Box::new(DecimalAvgGroups {
        sums: Vec::new(),
        counts: Vec::new(),
        input_scale,
        target_scale,
    })
}

/// Each group's sum and count.
#[derive(Debug)]
struct DecimalAvgGroups {
    sums: Vec<i128>,
    counts: Vec<u64>,
    input_scale: i8,
    target_scale: i8,
}

impl DecimalAvgGroups {
    fn grow(&mut self, total_num_groups: usize) {
        self.sums.resize(total_num_groups, 0);
        self.counts.resize(total_num_groups, 0);
    }
}

/// Whether row `row` passes the aggregate's `FILTER`.
fn selected(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

impl GroupsAccumulator for DecimalAvgGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let values = values[0].as_primitive::<Decimal128Type>();
        let raw = values.values();
        for (row, &group) in group_indices.iter().enumerate() {
            if values.is_valid(row) && selected(opt_filter, row) {
                self.sums[group] = self.sums[group].wrapping_add(raw[row]);
                self.counts[group] += 1;
            }
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let counts = values[0].as_primitive::<UInt64Type>();
        let sums = values[1].as_primitive::<Decimal128Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if counts.is_valid(row) {
                self.counts[group] += counts.value(row);
            }
            if sums.is_valid(row) {
                self.sums[group] = self.sums[group].wrapping_add(sums.value(row));
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<Decimal128Type>();
        let counted = |row: usize| values.is_valid(row) && selected(opt_filter, row);
        let counts: UInt64Array = (0..values.len())
            .map(|row| u64::from(counted(row)))
            .collect();
        let sums = (0..values.len())
            .map(|row| if counted(row) { values.value(row) } else { 0 })
            .collect::<Decimal128Array>()
            .with_precision_and_scale(38, self.input_scale)?;
        Ok(vec![Arc::new(counts), Arc::new(sums)])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        let counts = emit_to.take_needed(&mut self.counts);
        let averages = sums
            .into_iter()
            .zip(counts)
            .map(|(sum, count)| {
                (count > 0)
                    .then(|| rounded_average(sum, self.input_scale, count, self.target_scale))
                    .transpose()
            })
            .collect::<Result<Decimal128Array>>()?
            .with_precision_and_scale(38, self.target_scale)?;
        Ok(Arc::new(averages))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let sums = emit_to.take_needed(&mut self.sums);
        let counts = emit_to.take_needed(&mut self.counts);
        let sums = Decimal128Array::from(sums).with_precision_and_scale(38, self.input_scale)?;
        Ok(vec![Arc::new(UInt64Array::from(counts)), Arc::new(sums)])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * 16 + self.counts.capacity() * 8
    }
}

/// The one-group accumulator (no `GROUP BY`, windows: it retracts).
#[derive(Debug)]
pub struct DecimalAvg {
    sum: i128,
    count: u64,
    input_scale: i8,
    target_scale: i8,
}

impl DecimalAvg {
    pub fn new(input_scale: i8, target_scale: i8) -> Self {
        Self {
            sum: 0,
            count: 0,
            input_scale,
            target_scale,
        }
    }

    fn add(&mut self, values: &ArrayRef, sign: i128) {
        let values = values.as_primitive::<Decimal128Type>();
        for value in values.iter().flatten() {
            self.sum = self.sum.wrapping_add(sign * value);
        }
        let counted = (values.len() - values.null_count()) as u64;
        if sign > 0 {
            self.count += counted;
        } else {
            self.count -= counted;
        }
    }
}

impl Accumulator for DecimalAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], 1);
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], -1);
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = states[0].as_primitive::<UInt64Type>();
        let sums = states[1].as_primitive::<Decimal128Type>();
        for row in 0..counts.len() {
            if counts.is_valid(row) {
                self.count += counts.value(row);
            }
            if sums.is_valid(row) {
                self.sum = self.sum.wrapping_add(sums.value(row));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::UInt64(Some(self.count)),
            ScalarValue::Decimal128(Some(self.sum), 38, self.input_scale),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let average = if self.count == 0 {
            None
        } else {
            Some(rounded_average(
                self.sum,
                self.input_scale,
                self.count,
                self.target_scale,
            )?)
        };
        Ok(ScalarValue::Decimal128(average, 38, self.target_scale))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero_at_the_target_scale() {
        // PostgreSQL 15: avg of 1, 1, 3 (int) is 1.6666666666666667.
        assert_eq!(
            rounded_average(5, 0, 3, 16).unwrap(),
            16_666_666_666_666_667
        );
        assert_eq!(
            rounded_average(-5, 0, 3, 16).unwrap(),
            -16_666_666_666_666_667
        );
        // 4 / 3 = 1.3333333333333333 (rounds down).
        assert_eq!(
            rounded_average(4, 0, 3, 16).unwrap(),
            13_333_333_333_333_333
        );
        // avg(12.50, 13.25) = 12.8750000000000000: the sum keeps its scale 2.
        assert_eq!(
            rounded_average(2575, 2, 2, 16).unwrap(),
            128_750_000_000_000_000
        );
    }

    #[test]
    fn an_average_past_38_digits_is_a_numeric_overflow() {
        let err = rounded_average(i128::MAX / 2, 0, 1, 16).unwrap_err();
        assert!(err.to_string().contains("numeric field overflow"), "{err}");
    }
}

//! The order lines the per-customer table functions (`rfm`, `clv_summary`,
//! `customer_clv`) read: the caller's table or query reduced to a `customer` key
//! (integer or text), a `day` (the date or timestamp column's raw integer, with the
//! units per day to turn it into days) and an `amount` (exact decimal or double), and
//! the readers of those columns from Arrow batches.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal128Type, Float64Type, Int64Type, TimeUnit,
};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{cast, col, Expr, LogicalPlan, LogicalPlanBuilder};

use crate::marketing::customer_book::CustomerKey;
use crate::marketing::exact_sum::DoubleDouble;
use crate::marketing::rfm_table::Amount;

/// How customer keys are read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyKind {
    Integer,
    Text,
}

impl KeyKind {
    pub fn arrow_type(self) -> DataType {
        match self {
            KeyKind::Integer => DataType::Int64,
            KeyKind::Text => DataType::Utf8,
        }
    }
}

/// How amounts are read and summed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AmountKind {
    /// Decimal (or integer, scale 0) summed exactly at this scale.
    Decimal(i8),
    Float,
}

impl AmountKind {
    pub fn arrow_type(self) -> DataType {
        match self {
            AmountKind::Decimal(s) => DataType::Decimal128(38, s),
            AmountKind::Float => DataType::Float64,
        }
    }
}

/// The order lines of one call, with the types their columns are read as.
#[derive(Debug, Clone)]
pub struct OrderLines {
    /// The input with the projections `customer`, `day`, `amount` (and the caller's extra
    /// ones) applied.
    pub plan: LogicalPlan,
    pub customer: KeyKind,
    /// The `day` column arrives as an integer in these units per day (1 for dates).
    pub units_per_day: i64,
    pub amount: AmountKind,
}

impl OrderLines {
    /// Projects `source` to `customer`, `day`, `amount` from the named columns, then the
    /// `extra` expressions. `bad` makes the function's 22023 error.
    ///
    /// # Errors
    /// A column is missing (42703) or of a type the function cannot read.
    pub fn resolve(
        source: LogicalPlan,
        [customer_column, date_column, amount_column]: [&str; 3],
        extra: impl FnOnce(&dyn Fn(&str) -> Result<DataType>) -> Result<Vec<Expr>>,
        bad: impl Fn(String) -> DataFusionError,
    ) -> Result<Self> {
        let field_type = |name: &str| -> Result<DataType> {
            Ok(source
                .schema()
                .field_with_unqualified_name(name)?
                .data_type()
                .clone())
        };
        let customer_type = field_type(customer_column)?;
        let customer = if customer_type.is_integer() {
            KeyKind::Integer
        } else if matches!(
            customer_type,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        ) {
            KeyKind::Text
        } else {
            return Err(bad(format!(
                "customer column {customer_column} must be an integer or text, not {customer_type}"
            )));
        };
        let date_type = field_type(date_column)?;
        // Days are computed from the raw integers (UTC for timestamps with a time zone):
        // much cheaper than a per-value calendar conversion.
        let units_per_day = match date_type {
            DataType::Date32 => 1,
            DataType::Date64 => 86_400_000,
            DataType::Timestamp(unit, _) => match unit {
                TimeUnit::Second => 86_400,
                TimeUnit::Millisecond => 86_400_000,
                TimeUnit::Microsecond => 86_400_000_000,
                TimeUnit::Nanosecond => 86_400_000_000_000,
            },
            _ => {
                return Err(bad(format!(
                    "date column {date_column} must be a date or timestamp, not {date_type}"
                )))
            }
        };
        let amount = match field_type(amount_column)? {
            DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => AmountKind::Decimal(s),
            t if t.is_integer() => AmountKind::Decimal(0),
            t if t.is_floating() => AmountKind::Float,
            t => {
                return Err(bad(format!(
                    "amount column {amount_column} must be numeric, not {t}"
                )))
            }
        };
        let mut projection = vec![
            cast(col(customer_column), customer.arrow_type()).alias("customer"),
            cast(col(date_column), DataType::Int64).alias("day"),
            cast(col(amount_column), amount.arrow_type()).alias("amount"),
        ];
        projection.extend(extra(&field_type)?);
        let plan = LogicalPlanBuilder::from(source)
            .project(projection)?
            .build()?;
        Ok(Self {
            plan,
            customer,
            units_per_day,
            amount,
        })
    }
}

/// A batch's column of keys or amounts: read in place where the Arrow layout is the
/// type's (integers, decimals, doubles), copied out otherwise (text).
#[derive(Debug)]
pub enum Column<'a, T> {
    InPlace(&'a [T], Option<&'a NullBuffer>),
    Copied(Vec<Option<T>>),
}

impl<T> Column<'_, T> {
    /// The value of a row, `None` when it is null.
    pub fn get(&self, row: usize) -> Option<&T> {
        match self {
            Column::InPlace(values, nulls) => {
                nulls.is_none_or(|n| n.is_valid(row)).then(|| &values[row])
            }
            Column::Copied(values) => values[row].as_ref(),
        }
    }
}

fn in_place<T: ArrowPrimitiveType>(array: &ArrayRef) -> Column<'_, T::Native> {
    let array = array.as_primitive::<T>();
    Column::InPlace(array.values(), array.nulls())
}

/// Customer keys as Arrow columns.
pub trait Key: CustomerKey + Send + Sync + 'static {
    fn read(array: &ArrayRef) -> Column<'_, Self>;
    fn build(keys: Vec<Self>) -> ArrayRef;
}

impl Key for i64 {
    fn read(array: &ArrayRef) -> Column<'_, Self> {
        in_place::<Int64Type>(array)
    }
    fn build(keys: Vec<Self>) -> ArrayRef {
        Arc::new(Int64Array::from(keys))
    }
}

impl Key for String {
    fn read(array: &ArrayRef) -> Column<'_, Self> {
        Column::Copied(
            array
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect(),
        )
    }
    fn build(keys: Vec<Self>) -> ArrayRef {
        Arc::new(StringArray::from(keys))
    }
}

/// Amounts as Arrow columns.
pub trait AmountColumn: Amount + Sync {
    fn read(array: &ArrayRef) -> Column<'_, Self>;
    fn build(values: Vec<Self>, data_type: &DataType) -> Result<ArrayRef>;
}

impl AmountColumn for i128 {
    fn read(array: &ArrayRef) -> Column<'_, Self> {
        in_place::<Decimal128Type>(array)
    }
    fn build(values: Vec<Self>, data_type: &DataType) -> Result<ArrayRef> {
        Ok(Arc::new(
            Decimal128Array::from(values).with_data_type(data_type.clone()),
        ))
    }
}

impl AmountColumn for f64 {
    fn read(array: &ArrayRef) -> Column<'_, Self> {
        in_place::<Float64Type>(array)
    }
    fn build(values: Vec<Self>, _data_type: &DataType) -> Result<ArrayRef> {
        Ok(Arc::new(Float64Array::from(values)))
    }
}

/// Doubles summed in double-double: a customer's sum does not depend on the order of
/// its lines (nor on how they were split into partitions).
impl AmountColumn for DoubleDouble {
    fn read(array: &ArrayRef) -> Column<'_, Self> {
        Column::Copied(
            array
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(|v| DoubleDouble(v, 0.0)))
                .collect(),
        )
    }
    fn build(values: Vec<Self>, _data_type: &DataType) -> Result<ArrayRef> {
        Ok(Arc::new(Float64Array::from_iter_values(
            values.into_iter().map(DoubleDouble::value),
        )))
    }
}

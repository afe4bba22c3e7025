//! `double precision[]` for aggregate states and model fields: its Arrow type and a
//! one-row value, shared by the aggregates that carry lists of doubles.

use std::sync::Arc;

use datafusion::arrow::array::ListArray;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type};
use datafusion::common::ScalarValue;

/// A list of nullable doubles.
pub fn float_list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// One list of doubles as a scalar.
pub fn float_list_value(values: impl IntoIterator<Item = f64>) -> ScalarValue {
    ScalarValue::List(Arc::new(
        ListArray::from_iter_primitive::<Float64Type, _, _>(std::iter::once(Some(
            values.into_iter().map(Some),
        ))),
    ))
}

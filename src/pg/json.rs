//! PostgreSQL's JSON constructors `json_build_object(k1, v1, ...)` and
//! `json_build_array(v1, ...)` (SQLAlchemy's column reflection, analysts' exports).
//! datapunk has no `json` column type yet, so they answer the JSON as text, written as
//! PostgreSQL writes it (`{"a" : 1, "b" : "x"}` and `[1, "x"]`).

use std::sync::Arc;

use crate::pg::fault::Fault;
use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Both constructors.
pub fn udfs() -> Vec<ScalarUDF> {
    [Shape::Object, Shape::Array]
        .into_iter()
        .map(|shape| {
            ScalarUDF::new_from_impl(JsonBuild {
                shape,
                signature: Signature::variadic_any(Volatility::Stable),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Object,
    Array,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuild {
    shape: Shape,
    signature: Signature,
}

/// `text` as a JSON string, escaped as PostgreSQL's `escape_json` does.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One value as JSON: numbers and booleans bare, NULL as `null`, the rest as strings.
fn json_value(value: &ScalarValue) -> String {
    if value.is_null() {
        return "null".to_owned();
    }
    match value {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::UInt8(_)
        | ScalarValue::UInt16(_)
        | ScalarValue::UInt32(_)
        | ScalarValue::UInt64(_)
        | ScalarValue::Decimal128(..)
        | ScalarValue::Decimal256(..) => value.to_string(),
        ScalarValue::Float32(Some(f)) if f.is_finite() => crate::pg::float::float4_text(*f, 1),
        ScalarValue::Float64(Some(f)) if f.is_finite() => crate::pg::float::float8_text(*f, 1),
        other => json_string(&other.to_string()),
    }
}

impl ScalarUDFImpl for JsonBuild {
    fn name(&self) -> &str {
        match self.shape {
            Shape::Object => "json_build_object",
            Shape::Array => "json_build_array",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if self.shape == Shape::Object && args.args.len() % 2 == 1 {
            return Err(Fault::InvalidArgument(
                "argument list must have even number of elements".to_owned(),
            )
            .into());
        }
        let columns: Vec<ArrayRef> = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            let values = columns
                .iter()
                .map(|c| ScalarValue::try_from_array(c, row))
                .collect::<Result<Vec<_>>>()?;
            let text = match self.shape {
                Shape::Array => {
                    let items: Vec<String> = values.iter().map(json_value).collect();
                    format!("[{}]", items.join(", "))
                }
                Shape::Object => {
                    let mut items = Vec::with_capacity(values.len() / 2);
                    for pair in values.chunks(2) {
                        if pair[0].is_null() {
                            return Err(Fault::InvalidArgument(
                                "null value not allowed for object key".to_owned(),
                            )
                            .into());
                        }
                        let key = json_string(&pair[0].to_string());
                        items.push(format!("{key} : {}", json_value(&pair[1])));
                    }
                    format!("{{{}}}", items.join(", "))
                }
            };
            out.append_value(text);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

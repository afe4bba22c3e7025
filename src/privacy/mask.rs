//! How a masked column reads to a user without `pii = true`: a keyed hash (HMAC-SHA-256
//! with the server's secret, so equal values stay equal and masked columns still join and
//! group, but the value cannot be guessed back by hashing candidates) or NULL. Text keeps
//! its type (`masked:` and 16 hex digits), integers become a hashed integer, every other
//! type is NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The masking function.
#[derive(Debug)]
pub struct Mask {
    key: ring::hmac::Key,
    /// NULL instead of a hash.
    null: bool,
    signature: Signature,
}

impl PartialEq for Mask {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Mask {}

impl std::hash::Hash for Mask {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.null.hash(state);
    }
}

impl Mask {
    pub fn udf(secret: &[u8], null: bool) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            null,
            signature: Signature::any(1, Volatility::Immutable),
        }))
    }

    fn digest(&self, bytes: &[u8]) -> [u8; 8] {
        let tag = ring::hmac::sign(&self.key, bytes);
        let mut out = [0u8; 8];
        out.copy_from_slice(&tag.as_ref()[..8]);
        out
    }

    fn mask(&self, values: &ArrayRef) -> Result<ArrayRef> {
        let data_type = values.data_type();
        if self.null {
            return Ok(datafusion::arrow::array::new_null_array(
                data_type,
                values.len(),
            ));
        }
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let text = cast(values, &DataType::Utf8)?;
                let masked: StringArray = text
                    .as_string::<i32>()
                    .iter()
                    .map(|v| {
                        v.map(|v| {
                            let d = self.digest(v.as_bytes());
                            let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
                            format!("masked:{hex}")
                        })
                    })
                    .collect();
                Ok(cast(&(Arc::new(masked) as ArrayRef), data_type)?)
            }
            t if t.is_integer() => {
                let ints = cast(values, &DataType::Int64)?;
                let masked: Int64Array = ints
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .iter()
                    .map(|v| v.map(|v| i64::from_be_bytes(self.digest(&v.to_be_bytes())) >> 1))
                    .collect();
                Ok(cast(&(Arc::new(masked) as ArrayRef), data_type)?)
            }
            other => Ok(datafusion::arrow::array::new_null_array(
                other,
                values.len(),
            )),
        }
    }
}

impl ScalarUDFImpl for Mask {
    fn name(&self) -> &'static str {
        "datapunk_mask"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Null))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let values = match args.args.into_iter().next() {
            Some(v) => v.into_array(rows)?,
            None => return Ok(ColumnarValue::Scalar(datafusion::scalar::ScalarValue::Null)),
        };
        Ok(ColumnarValue::Array(self.mask(&values)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_mask_equal_and_differ_by_key() {
        let a = Mask {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"one"),
            null: false,
            signature: Signature::any(1, Volatility::Immutable),
        };
        let b = Mask {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"two"),
            null: false,
            signature: Signature::any(1, Volatility::Immutable),
        };
        let values: ArrayRef =
            Arc::new(StringArray::from(vec![Some("x@y.z"), None, Some("x@y.z")]));
        let ma = a.mask(&values).unwrap();
        let ma = ma.as_string::<i32>();
        assert_eq!(ma.value(0), ma.value(2));
        assert!(ma.value(0).starts_with("masked:"));
        assert!(ma.is_null(1));
        let mb = b.mask(&values).unwrap();
        assert_ne!(ma.value(0), mb.as_string::<i32>().value(0));
    }
}

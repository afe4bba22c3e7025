//! PostgreSQL's `uuid` over Arrow's canonical `arrow.uuid` (16 bytes, tagged): the type
//! `uuid` names ([`uuid_type_field`], for `pg::type_planner`), the `pg_uuid(x)` function
//! reading text as `uuid_in` does, and [`QuotedUuids`], the analyzer rule that makes a
//! cast of text to uuid (`'…'::uuid`, `CAST($1 AS uuid)`) a call of `pg_uuid` and reads a
//! quoted literal compared with a uuid column as a uuid (`WHERE id = 'a0eebc99-…'`), as
//! PostgreSQL reads an untyped literal as the other side's type. Text that is no uuid
//! fails with 22P02, as in PostgreSQL.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};

use datafusion::arrow::array::{ArrayRef, AsArray, FixedSizeBinaryBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use crate::pg::coercion::is_comparison;
use crate::pg::types::{semantic, with_semantic, Semantic};

/// `pg_uuid(text)`: see the module header (DataFusion's own `uuid()` makes random ones).
pub fn uuid_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(UuidCast {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct UuidCast {
    signature: Signature,
}

/// The field of a uuid value: 16 bytes tagged `arrow.uuid`.
fn uuid_field(name: &str, nullable: bool) -> Field {
    with_semantic(
        Field::new(name, DataType::FixedSizeBinary(16), nullable),
        Semantic::Uuid,
    )
}

/// `uuid_in`: 32 hex digits, optionally in braces, with a hyphen after any group of four.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let mut bytes = [0u8; 16];
    let mut digits = 0;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        let value = c.to_digit(16)?;
        if digits >= 32 {
            return None;
        }
        bytes[digits / 2] |= (value as u8) << if digits % 2 == 0 { 4 } else { 0 };
        digits += 1;
        if digits % 4 == 0 && digits < 32 && chars.peek() == Some(&'-') {
            chars.next();
        }
    }
    (digits == 32).then_some(bytes)
}

fn invalid(text: &str) -> DataFusionError {
    DataFusionError::ArrowError(
        Box::new(ArrowError::ParseError(format!(
            "invalid input syntax for type uuid: \"{text}\""
        ))),
        None,
    )
}

impl ScalarUDFImpl for UuidCast {
    fn name(&self) -> &str {
        "pg_uuid"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::FixedSizeBinary(16))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(uuid_field("uuid", nullable)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let input = args.args[0].clone().into_array(rows)?;
        let output: ArrayRef = match input.data_type() {
            DataType::FixedSizeBinary(16) => input,
            _ => {
                let text = datafusion::arrow::compute::cast(&input, &DataType::Utf8)?;
                let mut out = FixedSizeBinaryBuilder::with_capacity(rows, 16);
                for value in text.as_string::<i32>() {
                    match value {
                        Some(t) => out.append_value(parse_uuid(t).ok_or_else(|| invalid(t))?)?,
                        None => out.append_null(),
                    }
                }
                Arc::new(out.finish())
            }
        };
        Ok(ColumnarValue::Array(output))
    }
}

/// `pg_uuid_text(uuid)`: `uuid_out`, what a uuid cast to text reads (DataFusion's cast
/// would take the 16 bytes for UTF-8).
pub fn uuid_text_udf() -> ScalarUDF {
    datafusion::logical_expr::create_udf(
        "pg_uuid_text",
        vec![DataType::FixedSizeBinary(16)],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let bytes = args[0].to_array(1)?;
            let text: datafusion::arrow::array::StringArray = bytes
                .as_fixed_size_binary()
                .iter()
                .map(|b| b.map(uuid_out))
                .collect();
            Ok(match &args[0] {
                ColumnarValue::Scalar(_) => {
                    ColumnarValue::Scalar(ScalarValue::try_from_array(&text, 0)?)
                }
                ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(text)),
            })
        }),
    )
}

/// Lowercase hexadecimal digits, for `uuid_out` and `byteaout`.
pub const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `uuid_out`: 8-4-4-4-12 lowercase hex digits.
pub fn write_uuid(out: &mut BytesMut, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.put_u8(b'-');
        }
        out.put_u8(HEX_DIGITS[usize::from(b >> 4)]);
        out.put_u8(HEX_DIGITS[usize::from(b & 0x0f)]);
    }
}

fn uuid_out(bytes: &[u8]) -> String {
    let mut out = BytesMut::with_capacity(36);
    write_uuid(&mut out, bytes);
    String::from_utf8_lossy(&out).into_owned()
}

/// See the module header; also casts of a uuid to text go through [`uuid_text_udf`].
#[derive(Debug, Default)]
pub struct QuotedUuids;

impl AnalyzerRule for QuotedUuids {
    fn name(&self) -> &str {
        "datapunk_quoted_uuids"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        crate::pg::coercion::rewrite_expressions(plan, quoted_uuids)
    }
}

fn is_uuid(expr: &Expr, schema: &DFSchema) -> bool {
    expr.to_field(schema)
        .is_ok_and(|(_, f)| semantic(&f) == Semantic::Uuid)
}

/// A quoted literal as a uuid literal (`None` when `expr` is no quoted literal).
fn as_uuid(expr: &Expr) -> Option<Result<Expr>> {
    let Expr::Literal(
        ScalarValue::Utf8(Some(text))
        | ScalarValue::Utf8View(Some(text))
        | ScalarValue::LargeUtf8(Some(text)),
        _,
    ) = expr
    else {
        return None;
    };
    Some(match parse_uuid(text) {
        Some(bytes) => Ok(Expr::Literal(
            ScalarValue::FixedSizeBinary(16, Some(bytes.to_vec())),
            None,
        )),
        None => Err(invalid(text)),
    })
}

fn quoted_uuids(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            let (left, right) = if is_uuid(&left, schema) {
                match as_uuid(&right) {
                    Some(r) => (left, Box::new(r?)),
                    None => {
                        return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                            left,
                            op,
                            right,
                        })))
                    }
                }
            } else if is_uuid(&right, schema) {
                match as_uuid(&left) {
                    Some(l) => (Box::new(l?), right),
                    None => {
                        return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                            left,
                            op,
                            right,
                        })))
                    }
                }
            } else {
                return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                    left,
                    op,
                    right,
                })));
            };
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                left,
                op,
                right,
            })))
        }
        Expr::InList(mut list) if is_uuid(&list.expr, schema) => {
            let mut changed = false;
            for item in &mut list.list {
                if let Some(uuid) = as_uuid(item) {
                    *item = uuid?;
                    changed = true;
                }
            }
            let expr = Expr::InList(list);
            Ok(if changed {
                Transformed::yes(expr)
            } else {
                Transformed::no(expr)
            })
        }
        Expr::Cast(cast)
            if matches!(
                cast.field.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ) && is_uuid(&cast.expr, schema) =>
        {
            let text = uuid_text_udf().call(vec![*cast.expr]);
            Ok(Transformed::yes(Expr::Cast(
                datafusion::logical_expr::Cast::new_from_field(Box::new(text), cast.field),
            )))
        }
        // `x::uuid` (the type planner's uuid field) of anything but a uuid reads text.
        Expr::Cast(cast)
            if semantic(&cast.field) == Semantic::Uuid && !is_uuid(&cast.expr, schema) =>
        {
            Ok(Transformed::yes(uuid_udf().call(vec![*cast.expr])))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// The field `uuid` names in SQL (the type planner's answer for it).
pub fn uuid_type_field() -> FieldRef {
    Arc::new(uuid_field("uuid", true))
}

#[cfg(test)]
mod tests {
    use super::parse_uuid;

    #[test]
    fn uuid_text_is_read_as_uuid_in_reads_it() {
        let want = Some([
            0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
            0x0a, 0x11,
        ]);
        // The forms PostgreSQL's documentation lists.
        for text in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
        ] {
            assert_eq!(parse_uuid(text), want, "{text}");
        }
        for bad in [
            "",
            "a0eebc99",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11x",
            "-a0eebc99",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
    }
}

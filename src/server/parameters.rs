//! Bind parameters as PostgreSQL has them, for the extended protocol.
//!
//! - [`described_types`]: the type each `$n` is described with (ParameterDescription), our
//!   one type mapping ([`types::pg_type`]) of the value the plan expects there, `text`
//!   where nothing is expected (as PostgreSQL resolves an unknown parameter);
//! - [`bind`]: the values a client binds, text or binary, read as the PostgreSQL type they
//!   were sent as (the Parse message's type, else the described one) and then made the
//!   Arrow type the plan expects. Text sent without a type (psycopg's strings, JDBC's
//!   `setString`) is read as the expected type, as PostgreSQL reads an unknown literal.
//!
//! arrow-pg's decoder, which datafusion-postgres uses, read a uuid only from text, a
//! numeric only within `rust_decimal`'s 28 digits (and never for an `int2` or `Decimal256`
//! column), and arrays of a few types only; bad input came back as a driver error.
//! Here every PostgreSQL error is the one PostgreSQL sends: 22P02 for text that is no
//! value of its type, 22P03 for malformed binary, 22003 for a value out of range.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{i256, DataType, Field, FieldRef, IntervalUnit, TimeUnit};
use datafusion::common::metadata::{FieldMetadata, ScalarAndMetadata};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ParamValues, ScalarValue};
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::data::FORMAT_CODE_BINARY;
use postgres_types::{Kind, Type};

use crate::pg::float::{self, FloatText};
use crate::pg::types::{input_type_name, pg_type, semantic, with_semantic, Semantic};
use crate::server::errors::user_error;
use crate::sqlstate::SqlState;

/// Microseconds and days from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i32 = 10_957;

/// The field the plan expects at each parameter position (`$1` first); `None` where
/// DataFusion could not tell.
///
/// # Errors
/// Conflicting types for one placeholder (DataFusion's error).
pub fn expected_fields(plan: &LogicalPlan) -> PgWireResult<Vec<Option<FieldRef>>> {
    let mut fields = plan
        .get_parameter_fields()
        .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    // `$1::int` leaves the placeholder untyped; the cast says what it becomes.
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::Cast(cast) = e {
                    if let Expr::Placeholder(p) = cast.expr.as_ref() {
                        let slot = fields.entry(p.id.clone()).or_insert(None);
                        if slot.is_none() {
                            // With its metadata: `$1::uuid` expects a uuid, not bytes.
                            *slot = Some(Arc::new(
                                cast.field
                                    .as_ref()
                                    .clone()
                                    .with_name("")
                                    .with_nullable(true),
                            ));
                        }
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    // `x = ANY($1)` (DataFusion's `array_has($1, x)`) expects an array of x's type.
    let _ = plan.apply_with_subqueries(|node| {
        let [input] = node.inputs()[..] else {
            return Ok(TreeNodeRecursion::Continue);
        };
        let schema = input.schema();
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Some((id, element)) = any_array_placeholder(e, schema) {
                    let slot = fields.entry(id).or_insert(None);
                    if slot.is_none() {
                        let list =
                            DataType::List(Arc::new(element.as_ref().clone().with_name("item")));
                        *slot = Some(Arc::new(Field::new("", list, true)));
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    Ok(by_position(fields))
}

/// An untyped placeholder searched for a typed value (`array_has($1, x)`), and the
/// field of that value.
fn any_array_placeholder(expr: &Expr, schema: &DFSchema) -> Option<(String, FieldRef)> {
    let Expr::ScalarFunction(call) = expr else {
        return None;
    };
    if call.name() != "array_has" {
        return None;
    }
    let [Expr::Placeholder(p), needle] = call.args.as_slice() else {
        return None;
    };
    if p.field.is_some() {
        return None;
    }
    let (_, field) = needle.to_field(schema).ok()?;
    Some((p.id.clone(), field))
}

/// The most parameters a Bind message can carry (its count is an int16).
const MAX_PARAMETERS: usize = u16::MAX as usize;

fn by_position(fields: HashMap<String, Option<FieldRef>>) -> Vec<Option<FieldRef>> {
    let numbered: Vec<(usize, Option<FieldRef>)> = fields
        .into_iter()
        .filter_map(|(id, f)| Some((id.strip_prefix('$')?.parse::<usize>().ok()?, f)))
        .filter(|(n, _)| (1..=MAX_PARAMETERS).contains(n))
        .collect();
    let count = numbered.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut ordered = vec![None; count];
    for (n, field) in numbered {
        ordered[n - 1] = field;
    }
    ordered
}

/// The plan with each placeholder DataFusion left untyped given the type the client
/// declared for it in Parse, so `SELECT $1` bound as an `int4` is an `int4` column, as
/// in PostgreSQL. `numeric` stays untyped: no one Arrow decimal keeps every scale.
///
/// # Errors
/// A plan whose schema cannot be recomputed (DataFusion's error).
pub fn with_declared_types(
    plan: LogicalPlan,
    declared: &[Option<Type>],
) -> datafusion::error::Result<LogicalPlan> {
    let declared_type = |id: &str| {
        let n = id.strip_prefix('$')?.parse::<usize>().ok()?;
        let t = declared.get(n.checked_sub(1)?)?.as_ref()?;
        let semantic = match *t {
            Type::NUMERIC | Type::UNKNOWN => return None,
            Type::UUID => Semantic::Uuid,
            Type::JSON | Type::JSONB => Semantic::Json,
            _ => Semantic::Plain,
        };
        Some(with_semantic(
            Field::new("", natural_type(t)?, true),
            semantic,
        ))
    };
    let untyped = plan.get_parameter_fields()?;
    if !untyped
        .iter()
        .any(|(id, f)| f.is_none() && declared_type(id).is_some())
    {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|expr| {
            expr.transform(|e| match e {
                Expr::Placeholder(Placeholder { id, field: None }) => match declared_type(&id) {
                    Some(field) => Ok(Transformed::yes(Expr::Placeholder(
                        Placeholder::new_with_field(id, Some(Arc::new(field))),
                    ))),
                    None => Ok(Transformed::no(Expr::Placeholder(Placeholder {
                        id,
                        field: None,
                    }))),
                },
                other => Ok(Transformed::no(other)),
            })
        })?
        .map_data(LogicalPlan::recompute_schema)
    })
    .map(|t| t.data)
}

/// ParameterDescription's types for a statement's plan.
///
/// # Errors
/// See [`expected_fields`].
pub fn described_types(plan: &LogicalPlan) -> PgWireResult<Vec<Type>> {
    Ok(expected_fields(plan)?
        .iter()
        .map(|f| described_type(f.as_ref()))
        .collect())
}

fn described_type(field: Option<&FieldRef>) -> Type {
    field.and_then(|f| pg_type(f).ok()).unwrap_or(Type::TEXT)
}

/// The values bound to a portal, each of the type the plan expects.
///
/// # Errors
/// A value that is no value of its type, or out of the expected type's range, with
/// PostgreSQL's SQLSTATE.
pub fn bind<S>(portal: &Portal<S>, plan: &LogicalPlan) -> PgWireResult<ParamValues> {
    let expected = expected_fields(plan)?;
    let mut values = Vec::with_capacity(portal.parameters.len());
    for (i, bytes) in portal.parameters.iter().enumerate() {
        let field = expected.get(i).cloned().flatten();
        let sent = portal
            .statement
            .parameter_types
            .get(i)
            .cloned()
            .flatten()
            .filter(|t| *t != Type::UNKNOWN);
        let value = match bytes {
            None => null_of(field.as_deref(), sent.as_ref()),
            Some(bytes) => {
                let described = described_type(field.as_ref());
                let binary = match &portal.parameter_format {
                    Format::Individual(codes) => codes.get(i) == Some(&FORMAT_CODE_BINARY),
                    unified => unified.is_binary(i),
                };
                let value = if binary {
                    read_binary(sent.as_ref().unwrap_or(&described), bytes)
                        .map_err(|_| bad_binary(i))?
                } else {
                    let text = std::str::from_utf8(bytes).map_err(|_| not_utf8())?;
                    match sent {
                        Some(t) if !is_text(&t) => read_text(&t, text)?,
                        _ => read_text(&described, text)?,
                    }
                };
                fit(value, field.as_deref())?
            }
        };
        let metadata = field
            .as_deref()
            .filter(|f| !f.metadata().is_empty())
            .map(FieldMetadata::from);
        values.push(ScalarAndMetadata::new(value, metadata));
    }
    Ok(ParamValues::List(values))
}

fn is_text(t: &Type) -> bool {
    matches!(
        *t,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

/// A NULL of the expected type (else of the type it was sent as).
fn null_of(field: Option<&Field>, sent: Option<&Type>) -> ScalarValue {
    let data_type = field
        .map(|f| f.data_type().clone())
        .or_else(|| sent.and_then(natural_type));
    data_type
        .and_then(|t| ScalarValue::try_from(&t).ok())
        .unwrap_or(ScalarValue::Null)
}

/// The Arrow type a value of PostgreSQL type `t` is read into.
fn natural_type(t: &Type) -> Option<DataType> {
    Some(match *t {
        Type::BOOL => DataType::Boolean,
        Type::INT2 => DataType::Int16,
        Type::INT4 => DataType::Int32,
        Type::INT8 | Type::OID => DataType::Int64,
        Type::FLOAT4 => DataType::Float32,
        Type::FLOAT8 => DataType::Float64,
        Type::NUMERIC => DataType::Decimal128(38, 10),
        Type::BYTEA => DataType::Binary,
        Type::DATE => DataType::Date32,
        Type::TIME => DataType::Time64(TimeUnit::Microsecond),
        Type::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
        Type::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Type::INTERVAL => DataType::Interval(IntervalUnit::MonthDayNano),
        Type::UUID => DataType::FixedSizeBinary(16),
        _ => match t.kind() {
            Kind::Array(element) => {
                DataType::new_list(natural_type(element).unwrap_or(DataType::Utf8), true)
            }
            _ => DataType::Utf8,
        },
    })
}

// ---------------------------------------------------------------------------------------
// Binary forms (`*_recv`).

/// Malformed binary input; the caller reports which parameter.
struct Malformed;

fn take<const N: usize>(bytes: &[u8]) -> Result<[u8; N], Malformed> {
    bytes.try_into().map_err(|_| Malformed)
}

fn read_binary(t: &Type, bytes: &[u8]) -> Result<ScalarValue, Malformed> {
    Ok(match *t {
        Type::BOOL => ScalarValue::Boolean(Some(take::<1>(bytes)?[0] != 0)),
        Type::INT2 => ScalarValue::Int16(Some(i16::from_be_bytes(take(bytes)?))),
        Type::INT4 => ScalarValue::Int32(Some(i32::from_be_bytes(take(bytes)?))),
        Type::INT8 => ScalarValue::Int64(Some(i64::from_be_bytes(take(bytes)?))),
        Type::OID => ScalarValue::Int64(Some(i64::from(u32::from_be_bytes(take(bytes)?)))),
        Type::FLOAT4 => ScalarValue::Float32(Some(f32::from_be_bytes(take(bytes)?))),
        Type::FLOAT8 => ScalarValue::Float64(Some(f64::from_be_bytes(take(bytes)?))),
        Type::NUMERIC => numeric_recv(bytes)?,
        Type::BYTEA => ScalarValue::Binary(Some(bytes.to_vec())),
        Type::DATE => {
            let days = i32::from_be_bytes(take(bytes)?);
            ScalarValue::Date32(Some(days.checked_add(PG_EPOCH_DAYS).ok_or(Malformed)?))
        }
        Type::TIME => ScalarValue::Time64Microsecond(Some(i64::from_be_bytes(take(bytes)?))),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let micros = i64::from_be_bytes(take(bytes)?)
                .checked_add(PG_EPOCH_MICROS)
                .ok_or(Malformed)?;
            let zone = (*t == Type::TIMESTAMPTZ).then(|| "UTC".into());
            ScalarValue::TimestampMicrosecond(Some(micros), zone)
        }
        Type::INTERVAL => {
            let bytes: [u8; 16] = take(bytes)?;
            let micros = i64::from_be_bytes(take(&bytes[..8])?);
            let days = i32::from_be_bytes(take(&bytes[8..12])?);
            let months = i32::from_be_bytes(take(&bytes[12..])?);
            let nanos = micros.checked_mul(1000).ok_or(Malformed)?;
            ScalarValue::new_interval_mdn(months, days, nanos)
        }
        Type::UUID => ScalarValue::FixedSizeBinary(16, Some(take::<16>(bytes)?.to_vec())),
        Type::JSONB => {
            let (version, text) = bytes.split_first().ok_or(Malformed)?;
            if *version != 1 {
                return Err(Malformed);
            }
            utf8(text)?
        }
        _ => match t.kind() {
            Kind::Array(element) => array_recv(element, bytes)?,
            _ => utf8(bytes)?,
        },
    })
}

fn utf8(bytes: &[u8]) -> Result<ScalarValue, Malformed> {
    let text = std::str::from_utf8(bytes).map_err(|_| Malformed)?;
    Ok(ScalarValue::Utf8(Some(text.to_owned())))
}

/// `numeric_recv`: digit count, weight, sign, display scale, then base-10000 digits.
fn numeric_recv(bytes: &[u8]) -> Result<ScalarValue, Malformed> {
    let header: [u8; 8] = take(bytes.get(..8).ok_or(Malformed)?)?;
    let count = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let weight = i32::from(i16::from_be_bytes([header[2], header[3]]));
    let sign = u16::from_be_bytes([header[4], header[5]]);
    let scale = i32::from(u16::from_be_bytes([header[6], header[7]]));
    match sign {
        0xC000 => return Ok(ScalarValue::Float64(Some(f64::NAN))),
        0xD000 => return Ok(ScalarValue::Float64(Some(f64::INFINITY))),
        0xF000 => return Ok(ScalarValue::Float64(Some(f64::NEG_INFINITY))),
        0x0000 | 0x4000 => {}
        _ => return Err(Malformed),
    }
    let digits = bytes.get(8..).ok_or(Malformed)?;
    if digits.len() != 2 * count {
        return Err(Malformed);
    }
    let mut mantissa = i256::ZERO;
    // The value times 10^scale: digit i weighs 10000^(weight - i).
    let mut exponent = 4 * weight + scale;
    for pair in digits.chunks_exact(2) {
        let digit = i128::from(u16::from_be_bytes([pair[0], pair[1]]));
        if digit >= 10_000 {
            return Err(Malformed);
        }
        let digit = i256::from_i128(digit);
        if exponent >= 0 {
            let place = i256::from_i128(10)
                .checked_pow(u32::try_from(exponent).map_err(|_| Malformed)?)
                .ok_or(Malformed)?;
            mantissa = mantissa
                .checked_add(digit.checked_mul(place).ok_or(Malformed)?)
                .ok_or(Malformed)?;
        } else if exponent > -4 {
            // Digits past the display scale: PostgreSQL never sends them; truncate.
            mantissa = mantissa
                .checked_add(digit.wrapping_div(i256::from_i128(10).wrapping_pow(-exponent as u32)))
                .ok_or(Malformed)?;
        }
        exponent -= 4;
    }
    if sign == 0x4000 {
        mantissa = mantissa.wrapping_neg();
    }
    decimal(mantissa, scale).ok_or(Malformed)
}

/// A decimal scalar of the narrowest width that holds `mantissa` × 10^-`scale`.
fn decimal(mantissa: i256, scale: i32) -> Option<ScalarValue> {
    let digits = mantissa.wrapping_abs().to_string().len() as i32;
    let precision = digits.max(scale).max(1);
    let scale = i8::try_from(scale).ok()?;
    if precision <= 38 {
        Some(ScalarValue::Decimal128(
            Some(mantissa.as_i128()),
            precision as u8,
            scale,
        ))
    } else if precision <= 76 {
        Some(ScalarValue::Decimal256(
            Some(mantissa),
            precision as u8,
            scale,
        ))
    } else {
        None
    }
}

/// `array_recv`: dimensions, a NULL flag, the element type, each dimension's size and
/// lower bound, then the elements (length-prefixed, -1 for NULL) in row-major order.
fn array_recv(element: &Type, bytes: &[u8]) -> Result<ScalarValue, Malformed> {
    let word = |at: usize| -> Result<i32, Malformed> {
        Ok(i32::from_be_bytes(take(
            bytes.get(at..at + 4).ok_or(Malformed)?,
        )?))
    };
    let dimensions = usize::try_from(word(0)?).map_err(|_| Malformed)?;
    if dimensions > MAX_ARRAY_DIMENSIONS {
        return Err(Malformed);
    }
    let mut sizes = Vec::with_capacity(dimensions);
    for d in 0..dimensions {
        sizes.push(usize::try_from(word(12 + 8 * d)?).map_err(|_| Malformed)?);
    }
    let mut at = 12 + 8 * dimensions;
    let total: usize = if dimensions == 0 {
        0
    } else {
        sizes
            .iter()
            .try_fold(1usize, |n, &size| n.checked_mul(size))
            .ok_or(Malformed)?
    };
    // Every element takes at least its 4-byte length.
    if total > bytes.len() / 4 {
        return Err(Malformed);
    }
    let mut values = Vec::with_capacity(total);
    for _ in 0..total {
        let length = word(at)?;
        at += 4;
        if length == -1 {
            values.push(None);
        } else if length < 0 {
            return Err(Malformed);
        } else {
            let end = at + length as usize;
            values.push(Some(read_binary(
                element,
                bytes.get(at..end).ok_or(Malformed)?,
            )?));
            at = end;
        }
    }
    if at != bytes.len() {
        return Err(Malformed);
    }
    nest(values, &sizes, element)
}

/// Row-major element values as nested lists of the given dimension sizes.
fn nest(
    values: Vec<Option<ScalarValue>>,
    sizes: &[usize],
    element: &Type,
) -> Result<ScalarValue, Malformed> {
    let fallback = natural_type(element).unwrap_or(DataType::Utf8);
    let leaf = element_type(values.iter().flatten(), &fallback);
    let mut level = values
        .into_iter()
        .map(|v| as_element(v, &leaf))
        .collect::<Result<Vec<_>, _>>()?;
    let mut item_type = leaf;
    for &size in sizes.iter().skip(1).rev() {
        level = level
            .chunks(size.max(1))
            .map(|chunk| list_of(chunk.to_vec(), &item_type))
            .collect::<Result<_, _>>()?;
        item_type = DataType::new_list(item_type, true);
    }
    list_of(level, &item_type)
}

/// The one Arrow type every element of an array parameter is read as: the widest of the
/// decimals the elements were read as (`{1.5,10.25}` is numeric(4,2) throughout), else
/// the first element's type, else `fallback` (all NULL).
fn element_type<'a>(
    values: impl Iterator<Item = &'a ScalarValue>,
    fallback: &DataType,
) -> DataType {
    let decimal = |t: &DataType| match *t {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => Some((p, s)),
        _ => None,
    };
    let mut common: Option<DataType> = None;
    for value in values.filter(|v| !v.is_null()) {
        let t = value.data_type();
        common = Some(match common {
            None => t,
            Some(c) => match (decimal(&c), decimal(&t)) {
                (Some((p1, s1)), Some((p2, s2))) => {
                    let scale = s1.max(s2);
                    let digits = (p1 as i16 - s1 as i16).max(p2 as i16 - s2 as i16);
                    let precision = u8::try_from(digits + scale as i16).unwrap_or(u8::MAX);
                    if precision <= 38 {
                        DataType::Decimal128(precision, scale)
                    } else {
                        DataType::Decimal256(precision.min(76), scale)
                    }
                }
                _ => c,
            },
        });
    }
    common.unwrap_or_else(|| fallback.clone())
}

/// An element as `leaf` (a NULL of it when absent); an element of another kind (a
/// sub-array among scalars, NaN among decimals) is malformed.
fn as_element(value: Option<ScalarValue>, leaf: &DataType) -> Result<ScalarValue, Malformed> {
    match value {
        None => ScalarValue::try_from(leaf).map_err(|_| Malformed),
        Some(v) if v.data_type() == *leaf => Ok(v),
        Some(v) => v.cast_to(leaf).map_err(|_| Malformed),
    }
}

/// One list of `items`, each of `item_type` (Arrow's own list builder panics on mixed
/// types, which client input must never reach).
fn list_of(items: Vec<ScalarValue>, item_type: &DataType) -> Result<ScalarValue, Malformed> {
    if items.iter().any(|v| v.data_type() != *item_type) {
        return Err(Malformed);
    }
    let values = if items.is_empty() {
        datafusion::arrow::array::new_empty_array(item_type)
    } else {
        ScalarValue::iter_to_array(items).map_err(|_| Malformed)?
    };
    Ok(ScalarValue::List(Arc::new(
        datafusion::common::utils::SingleRowListArrayBuilder::new(values)
            .with_nullable(true)
            .build_list_array(),
    )))
}

// ---------------------------------------------------------------------------------------
// Text forms (`*_in`).

fn read_text(t: &Type, text: &str) -> PgWireResult<ScalarValue> {
    let invalid = || invalid_text(t, text);
    Ok(match *t {
        Type::BOOL => ScalarValue::Boolean(Some(bool_in(text).ok_or_else(invalid)?)),
        Type::INT2 => ScalarValue::Int16(Some(integer_in(t, text)?)),
        Type::INT4 => ScalarValue::Int32(Some(integer_in(t, text)?)),
        Type::INT8 | Type::OID => ScalarValue::Int64(Some(integer_in(t, text)?)),
        Type::FLOAT4 => ScalarValue::Float32(Some(float_in(t, text)?)),
        Type::FLOAT8 => ScalarValue::Float64(Some(float_in(t, text)?)),
        Type::NUMERIC => numeric_in(text.trim()).map_err(|e| match e {
            NumericText::Invalid => invalid(),
            NumericText::Overflow => out_of_range(t, text),
        })?,
        Type::BYTEA => ScalarValue::Binary(Some(bytea_in(text).ok_or_else(invalid)?)),
        Type::DATE | Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let to = natural_type(t).unwrap_or(DataType::Utf8);
            crate::pg::temporal::literal_as(text.trim(), &to)
                .ok_or_else(|| invalid_datetime(t, text))?
        }
        Type::TIME => cast_text(text, &DataType::Time64(TimeUnit::Microsecond))
            .ok_or_else(|| invalid_datetime(t, text))?,
        Type::INTERVAL => {
            let units = crate::pg::temporal::interval_text(text);
            let units = units.as_deref().unwrap_or(text);
            cast_text(units, &DataType::Interval(IntervalUnit::MonthDayNano))
                .ok_or_else(|| invalid_datetime(t, text))?
        }
        Type::UUID => ScalarValue::FixedSizeBinary(
            16,
            Some(
                crate::pg::uuid::parse_uuid(text.trim())
                    .ok_or_else(invalid)?
                    .to_vec(),
            ),
        ),
        _ => match t.kind() {
            Kind::Array(element) => {
                let tree = ArrayText::parse(text).map_err(|e| match e {
                    ArrayTextError::Invalid => invalid(),
                    ArrayTextError::TooManyDimensions => user_error(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        format!(
                            "number of array dimensions ({}) exceeds the maximum allowed ({})",
                            MAX_ARRAY_DIMENSIONS + 1,
                            MAX_ARRAY_DIMENSIONS
                        ),
                    ),
                })?;
                tree.into_scalar(element)?.ok_or_else(invalid)?
            }
            _ => ScalarValue::Utf8(Some(text.to_owned())),
        },
    })
}

/// Arrow's own reading of text as `to` (times, intervals).
fn cast_text(text: &str, to: &DataType) -> Option<ScalarValue> {
    ScalarValue::Utf8(Some(text.trim().to_owned()))
        .cast_to(to)
        .ok()
}

/// `boolin`: `t`/`true`/`yes`/`on`/`1` and their opposites, any case, any unique prefix.
fn bool_in(text: &str) -> Option<bool> {
    let word = text.trim().to_ascii_lowercase();
    let prefix_of = |full: &str, min: usize| word.len() >= min && full.starts_with(&word);
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || word == "1" {
        Some(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || word == "0" {
        Some(false)
    } else {
        None
    }
}

fn integer_in<T: std::str::FromStr>(t: &Type, text: &str) -> PgWireResult<T> {
    let trimmed = text.trim();
    trimmed.parse().map_err(|_| {
        let digits = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            out_of_range(t, text)
        } else {
            invalid_text(t, text)
        }
    })
}

/// `float4in` / `float8in` ([`float::float_in`]) with PostgreSQL's errors.
fn float_in<T: std::str::FromStr + Into<f64> + Copy>(t: &Type, text: &str) -> PgWireResult<T> {
    float::float_in(text).map_err(|e| match e {
        FloatText::Invalid => invalid_text(t, text),
        FloatText::OutOfRange => user_error(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            float::out_of_range_message(input_type_name(t), text),
        ),
    })
}

/// Why text is no `numeric` value.
#[derive(Debug)]
enum NumericText {
    /// Not a number's text (22P02).
    Invalid,
    /// A number, but too large or too precise for a decimal (22003).
    Overflow,
}

/// `numeric_in`: digits with an optional point and exponent, or `NaN` / `Infinity`
/// (read as a float, as their binary form is).
fn numeric_in(text: &str) -> Result<ScalarValue, NumericText> {
    use NumericText::{Invalid, Overflow};
    let (negative, unsigned) = match text.as_bytes().first().ok_or(Invalid)? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if let Some(special) = special_float(unsigned) {
        if special.is_nan() && unsigned.len() != text.len() {
            return Err(Invalid);
        }
        let value = if negative { -special } else { special };
        return Ok(ScalarValue::Float64(Some(value)));
    }
    let (body, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], exponent_in(&unsigned[at + 1..])?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(Invalid);
    }
    let fraction_digits = i64::try_from(fraction.len()).map_err(|_| Overflow)?;
    let mut scale = fraction_digits - exponent;
    let mut mantissa = i256::ZERO;
    let ten = i256::from_i128(10);
    for b in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .checked_mul(ten)
            .and_then(|m| m.checked_add(i256::from_i128(i128::from(b - b'0'))))
            .ok_or(Overflow)?;
    }
    if scale < 0 {
        let shift = u32::try_from(-scale).map_err(|_| Overflow)?;
        if mantissa != i256::ZERO {
            mantissa = ten
                .checked_pow(shift)
                .and_then(|p| mantissa.checked_mul(p))
                .ok_or(Overflow)?;
        }
        scale = 0;
    }
    if negative {
        mantissa = mantissa.wrapping_neg();
    }
    let scale = i32::try_from(scale).map_err(|_| Overflow)?;
    decimal(mantissa, scale).ok_or(Overflow)
}

/// A numeric's exponent: an optionally signed integer; one of more than a few thousand
/// digits' reach is out of range, as PostgreSQL's `NUMERIC_MAX_PRECISION` makes it.
fn exponent_in(text: &str) -> Result<i64, NumericText> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumericText::Invalid);
    }
    match text.parse::<i64>() {
        Ok(exponent) if exponent.unsigned_abs() <= 1000 => Ok(exponent),
        _ => Err(NumericText::Overflow),
    }
}

/// `NaN` or `Infinity` in any case (the sign already taken off).
fn special_float(text: &str) -> Option<f64> {
    if text.eq_ignore_ascii_case("nan") {
        Some(f64::NAN)
    } else if text.eq_ignore_ascii_case("infinity") {
        Some(f64::INFINITY)
    } else {
        None
    }
}

/// `byteain`: `\x` and hex digit pairs, or the escape form (`\\`, `\ooo`, other bytes).
fn bytea_in(text: &str) -> Option<Vec<u8>> {
    if let Some(hex) = text.strip_prefix("\\x") {
        let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !digits.len().is_multiple_of(2) {
            return None;
        }
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        return digits
            .chunks_exact(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
            .collect();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = bytes.get(i + 1..i + 4)?;
            if !octal.iter().all(|b| (b'0'..=b'7').contains(b)) {
                return None;
            }
            let octal = std::str::from_utf8(octal).ok()?;
            out.push(u8::from_str_radix(octal, 8).ok()?);
            i += 4;
        }
    }
    Some(out)
}

/// An array's text form (`array_in`), parsed into nested items.
enum ArrayText {
    Item(Option<String>),
    Nested(Vec<ArrayText>),
}

impl ArrayText {
    fn parse(text: &str) -> Result<ArrayText, ArrayTextError> {
        let chars: Vec<char> = text.trim().chars().collect();
        let mut at = 0;
        let tree = Self::nested(&chars, &mut at, 1)?;
        if at == chars.len() {
            Ok(tree)
        } else {
            Err(ArrayTextError::Invalid)
        }
    }

    /// One `{...}` at nesting `depth`: PostgreSQL's arrays have at most 6 dimensions, and
    /// the limit also keeps client text from recursing without end.
    fn nested(chars: &[char], at: &mut usize, depth: usize) -> Result<ArrayText, ArrayTextError> {
        if chars.get(*at) != Some(&'{') {
            return Err(ArrayTextError::Invalid);
        }
        if depth > MAX_ARRAY_DIMENSIONS {
            return Err(ArrayTextError::TooManyDimensions);
        }
        *at += 1;
        let mut items = Vec::new();
        skip_spaces(chars, at);
        if chars.get(*at) == Some(&'}') {
            *at += 1;
            return Ok(ArrayText::Nested(items));
        }
        loop {
            skip_spaces(chars, at);
            let item = match chars.get(*at).ok_or(ArrayTextError::Invalid)? {
                '{' => Self::nested(chars, at, depth + 1)?,
                '"' => {
                    *at += 1;
                    let mut s = String::new();
                    loop {
                        match chars.get(*at).ok_or(ArrayTextError::Invalid)? {
                            '"' => break,
                            '\\' => {
                                *at += 1;
                                s.push(*chars.get(*at).ok_or(ArrayTextError::Invalid)?);
                            }
                            c => s.push(*c),
                        }
                        *at += 1;
                    }
                    *at += 1;
                    ArrayText::Item(Some(s))
                }
                _ => {
                    let mut s = String::new();
                    while let Some(&c) = chars.get(*at) {
                        if c == ',' || c == '}' {
                            break;
                        }
                        if c == '\\' {
                            *at += 1;
                            s.push(*chars.get(*at).ok_or(ArrayTextError::Invalid)?);
                        } else {
                            s.push(c);
                        }
                        *at += 1;
                    }
                    let s = s.trim_end().to_owned();
                    if s.eq_ignore_ascii_case("null") {
                        ArrayText::Item(None)
                    } else {
                        ArrayText::Item(Some(s))
                    }
                }
            };
            items.push(item);
            skip_spaces(chars, at);
            match chars.get(*at).ok_or(ArrayTextError::Invalid)? {
                ',' => *at += 1,
                '}' => {
                    *at += 1;
                    return Ok(ArrayText::Nested(items));
                }
                _ => return Err(ArrayTextError::Invalid),
            }
        }
    }

    /// The array as nested lists of one element type, or `None` when it is not an array
    /// of `element` PostgreSQL would build (scalars beside sub-arrays, sub-arrays of
    /// different lengths).
    fn into_scalar(self, element: &Type) -> PgWireResult<Option<ScalarValue>> {
        let mut leaves = Vec::new();
        self.read_leaves(element, &mut leaves)?;
        let fallback = natural_type(element).unwrap_or(DataType::Utf8);
        let leaf = element_type(leaves.iter().flatten(), &fallback);
        let mut leaves = leaves.into_iter();
        Ok(self.build(&mut leaves, &leaf).ok().map(|(value, _)| value))
    }

    /// Every element's value, in order.
    fn read_leaves(&self, element: &Type, out: &mut Vec<Option<ScalarValue>>) -> PgWireResult<()> {
        match self {
            ArrayText::Item(None) => out.push(None),
            ArrayText::Item(Some(text)) => out.push(Some(read_text(element, text)?)),
            ArrayText::Nested(items) => {
                for item in items {
                    item.read_leaves(element, out)?;
                }
            }
        }
        Ok(())
    }

    /// The value (its elements taken from `leaves`, as `leaf`) and its Arrow type.
    fn build(
        &self,
        leaves: &mut std::vec::IntoIter<Option<ScalarValue>>,
        leaf: &DataType,
    ) -> Result<(ScalarValue, DataType), Malformed> {
        match self {
            ArrayText::Item(_) => {
                let value = as_element(leaves.next().ok_or(Malformed)?, leaf)?;
                Ok((value, leaf.clone()))
            }
            ArrayText::Nested(items) => {
                let lengths = items.iter().map(|item| match item {
                    ArrayText::Nested(inner) => Some(inner.len()),
                    ArrayText::Item(_) => None,
                });
                let mut lengths = lengths.collect::<Vec<_>>();
                lengths.dedup();
                if lengths.len() > 1 {
                    return Err(Malformed);
                }
                let mut values = Vec::with_capacity(items.len());
                let mut item_type = leaf.clone();
                for item in items {
                    let (value, t) = item.build(leaves, leaf)?;
                    item_type = t;
                    values.push(value);
                }
                let list = list_of(values, &item_type)?;
                let list_type = list.data_type();
                Ok((list, list_type))
            }
        }
    }
}

/// Why text is no array's text.
#[derive(Debug)]
enum ArrayTextError {
    Invalid,
    /// Nested past [`MAX_ARRAY_DIMENSIONS`] (54000 in PostgreSQL).
    TooManyDimensions,
}

/// PostgreSQL's `MAXDIM`.
const MAX_ARRAY_DIMENSIONS: usize = 6;

fn skip_spaces(chars: &[char], at: &mut usize) {
    while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
        *at += 1;
    }
}

// ---------------------------------------------------------------------------------------
// Making a read value the expected type.

fn fit(value: ScalarValue, field: Option<&Field>) -> PgWireResult<ScalarValue> {
    let Some(field) = field else {
        return Ok(value);
    };
    let to = field.data_type();
    if value.data_type() == *to {
        return Ok(value);
    }
    match (&value, to) {
        (ScalarValue::FixedSizeBinary(16, bytes), DataType::Utf8 | DataType::LargeUtf8) => {
            let text = bytes.as_ref().map(|b| {
                let mut out = bytes::BytesMut::new();
                crate::pg::uuid::write_uuid(&mut out, b);
                String::from_utf8_lossy(&out).into_owned()
            });
            return ScalarValue::Utf8(text).cast_to(to).map_err(internal);
        }
        (ScalarValue::Utf8(Some(text)), DataType::FixedSizeBinary(16))
            if semantic(field) == Semantic::Uuid =>
        {
            return read_text(&Type::UUID, text);
        }
        _ => {}
    }
    let expected = || described_type(Some(&Arc::new(field.clone())));
    let fitted = value.cast_to(to).map_err(|_| {
        if value.data_type().is_numeric() && to.is_numeric() {
            out_of_range(&expected(), &value.to_string())
        } else {
            invalid_text(&expected(), &value.to_string())
        }
    })?;
    if drops_digits(&value, &fitted) {
        let expected = match to {
            DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("numeric({p},{s})"),
            _ => input_type_name(&expected()).to_owned(),
        };
        return Err(user_error(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value {value} has more fractional digits than type {expected} keeps"),
        ));
    }
    Ok(fitted)
}

/// Whether making an exact number (a decimal, or a float into an integer) the expected
/// type changed it: Arrow rounds `1.5` bound for a `bigint` column to 2 and `1.555` for
/// a `numeric(10,2)` one to 1.56, which would compare equal to rows PostgreSQL does not
/// match. Such a value is refused rather than answered wrongly.
fn drops_digits(sent: &ScalarValue, fitted: &ScalarValue) -> bool {
    let exact_target = fitted.data_type().is_integer() || fitted.data_type().is_decimal();
    let exact_source = sent.data_type().is_decimal()
        || (sent.data_type().is_floating() && fitted.data_type().is_integer());
    exact_target
        && exact_source
        && fitted
            .cast_to(&sent.data_type())
            .map_or(true, |back| back != *sent)
}

fn internal(e: impl std::fmt::Display) -> PgWireError {
    user_error(SqlState::INTERNAL_ERROR, e.to_string())
}

fn invalid_text(t: &Type, text: &str) -> PgWireError {
    user_error(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!(
            "invalid input syntax for type {}: \"{text}\"",
            input_type_name(t)
        ),
    )
}

fn invalid_datetime(t: &Type, text: &str) -> PgWireError {
    user_error(
        SqlState::INVALID_DATETIME_FORMAT,
        format!(
            "invalid input syntax for type {}: \"{text}\"",
            input_type_name(t)
        ),
    )
}

fn out_of_range(t: &Type, text: &str) -> PgWireError {
    user_error(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!(
            "value \"{text}\" is out of range for type {}",
            input_type_name(t)
        ),
    )
}

fn bad_binary(index: usize) -> PgWireError {
    user_error(
        SqlState::INVALID_BINARY_REPRESENTATION,
        format!(
            "incorrect binary data format in bind parameter {}",
            index + 1
        ),
    )
}

fn not_utf8() -> PgWireError {
    user_error(
        SqlState::CHARACTER_NOT_IN_REPERTOIRE,
        "invalid byte sequence for encoding \"UTF8\"",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_send(text: &str) -> Vec<u8> {
        let ScalarValue::Decimal128(Some(v), _, s) = numeric_in(text).unwrap() else {
            panic!("{text}")
        };
        let mut out = bytes::BytesMut::new();
        crate::server::numeric::write_numeric_binary(&mut out, v, s as u8);
        out.to_vec()
    }

    #[test]
    fn numeric_text_and_binary_agree() {
        for text in [
            "0",
            "0.00",
            "-12.30",
            "123456789.000001",
            "1e3",
            "-0.5e-2",
            "99999999",
        ] {
            let from_text = numeric_in(text).unwrap();
            let from_binary = numeric_recv(&numeric_send(text)).ok().unwrap();
            assert_eq!(from_text, from_binary, "{text}");
        }
        assert_eq!(
            numeric_in("-12.30").ok(),
            Some(ScalarValue::Decimal128(Some(-1230), 4, 2))
        );
        assert_eq!(
            numeric_in("1e3").ok(),
            Some(ScalarValue::Decimal128(Some(1000), 4, 0))
        );
        let wide = "123456789012345678901234567890123456789012345678.90";
        assert!(matches!(
            numeric_in(wide),
            Ok(ScalarValue::Decimal256(_, 50, 2))
        ));
    }

    fn code(e: PgWireError) -> String {
        match e {
            PgWireError::UserError(info) => info.code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_that_is_no_value_is_told_from_a_value_out_of_range() {
        let error = |t: &Type, text: &str| code(read_text(t, text).unwrap_err());
        for bad in ["", "1e", "1.2.3", "abc", "-NaN", "1e+", "--1", "inf"] {
            assert_eq!(error(&Type::NUMERIC, bad), "22P02", "{bad:?}");
        }
        let huge = "9".repeat(80);
        for far in ["1e99999999999999999999", "1e-5000", huge.as_str()] {
            assert_eq!(error(&Type::NUMERIC, far), "22003", "{far:?}");
        }
        for (t, text) in [
            (&Type::FLOAT8, "1e400"),
            (&Type::FLOAT8, "-1e400"),
            (&Type::FLOAT8, "1e-400"),
            (&Type::FLOAT4, "1e39"),
            (&Type::FLOAT4, "1e-50"),
        ] {
            assert_eq!(error(t, text), "22003", "{text}");
        }
        assert_eq!(error(&Type::FLOAT8, "1.5x"), "22P02");
        for (text, value) in [
            ("-Infinity", f64::NEG_INFINITY),
            ("inf", f64::INFINITY),
            ("0e-400", 0.0),
        ] {
            assert_eq!(
                read_text(&Type::FLOAT8, text).ok(),
                Some(ScalarValue::Float64(Some(value))),
                "{text}"
            );
        }
        assert!(matches!(
            read_text(&Type::NUMERIC, "NaN"),
            Ok(ScalarValue::Float64(Some(v))) if v.is_nan()
        ));
        for (t, text) in [
            (&Type::TIME, "25:99:99x"),
            (&Type::INTERVAL, "soon"),
            (&Type::DATE, "yesterdayish"),
        ] {
            assert_eq!(error(t, text), "22007", "{text}");
        }
        let deep = format!("{}1{}", "{".repeat(7), "}".repeat(7));
        assert_eq!(error(&Type::INT4_ARRAY, &deep), "54000");
    }

    #[test]
    fn booleans_read_as_boolin() {
        for t in ["t", "TRUE", " yes ", "on", "1", "tr"] {
            assert_eq!(bool_in(t), Some(true), "{t}");
        }
        for f in ["f", "False", "no", "off", "0"] {
            assert_eq!(bool_in(f), Some(false), "{f}");
        }
        for bad in ["o", "maybe", "", "2"] {
            assert_eq!(bool_in(bad), None, "{bad}");
        }
    }

    #[test]
    fn bytea_reads_hex_and_escape_forms() {
        assert_eq!(bytea_in("\\x00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(bytea_in("a\\\\b\\001"), Some(vec![b'a', b'\\', b'b', 1]));
        assert_eq!(bytea_in("\\x0"), None);
        assert_eq!(bytea_in("\\x+1"), None);
        assert_eq!(bytea_in("\\8xx"), None);
    }

    #[test]
    fn array_text_reads_quotes_nulls_and_nesting() {
        let value = ArrayText::parse(r#"{a,"b c",NULL,"NULL","q\"\\"}"#)
            .unwrap()
            .into_scalar(&Type::TEXT)
            .unwrap()
            .unwrap();
        assert_eq!(
            value.to_string(),
            ScalarValue::List(ScalarValue::new_list_nullable(
                &[
                    ScalarValue::from("a"),
                    ScalarValue::from("b c"),
                    ScalarValue::Utf8(None),
                    ScalarValue::from("NULL"),
                    ScalarValue::from("q\"\\"),
                ],
                &DataType::Utf8
            ))
            .to_string()
        );
        let grid = ArrayText::parse("{{1,2},{3,4}}")
            .unwrap()
            .into_scalar(&Type::INT4)
            .unwrap()
            .unwrap();
        assert_eq!(
            grid.data_type(),
            DataType::new_list(DataType::new_list(DataType::Int32, true), true)
        );
        assert!(ArrayText::parse("{1,2").is_err());
        assert!(ArrayText::parse("1,2}").is_err());
    }

    #[test]
    fn array_text_that_postgres_refuses_is_refused_without_a_panic() {
        let read = |text: &str, element: &Type| {
            ArrayText::parse(text)
                .ok()
                .and_then(|tree| tree.into_scalar(element).ok().flatten())
        };
        // Decimals of different scales are read as one type, each value kept.
        let numbers = read("{1.5,10.25,NULL}", &Type::NUMERIC).unwrap();
        // Arrow prints a NULL element as nothing.
        assert_eq!(numbers.to_string(), "[1.50, 10.25, ]");
        assert!(read("{1,{2}}", &Type::INT4).is_none());
        assert!(read("{{1},NULL}", &Type::INT4).is_none());
        assert!(read("{{1,2},{3}}", &Type::INT4).is_none());
        assert!(read("{{{{{{1}}}}}}", &Type::INT4).is_some());
        assert!(read("{{{{{{{1}}}}}}}", &Type::INT4).is_none());
        let deep = format!("{}1{}", "{".repeat(100_000), "}".repeat(100_000));
        assert!(matches!(
            ArrayText::parse(&deep),
            Err(ArrayTextError::TooManyDimensions)
        ));
        assert!(matches!(
            ArrayText::parse("{{1},2"),
            Err(ArrayTextError::Invalid)
        ));
    }

    #[test]
    fn binary_arrays_nest_by_dimension() {
        // int4[] {{1,2},{3,NULL}}: 2 dims, has nulls, int4, (2,1), (2,1).
        let mut bytes = Vec::new();
        for word in [2i32, 1, 23, 2, 1, 2, 1] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        for v in [Some(1i32), Some(2), Some(3), None] {
            match v {
                Some(v) => {
                    bytes.extend_from_slice(&4i32.to_be_bytes());
                    bytes.extend_from_slice(&v.to_be_bytes());
                }
                None => bytes.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let value = array_recv(&Type::INT4, &bytes).ok().unwrap();
        let text = ArrayText::parse("{{1,2},{3,NULL}}")
            .unwrap()
            .into_scalar(&Type::INT4)
            .unwrap()
            .unwrap();
        assert_eq!(value, text);
        assert!(array_recv(&Type::INT4, &bytes[..bytes.len() - 1]).is_err());
        // Dimensions whose product overflows, or more elements than bytes, are malformed.
        let mut huge = Vec::new();
        for word in [3i32, 0, 23, i32::MAX, 1, i32::MAX, 1, i32::MAX, 1] {
            huge.extend_from_slice(&word.to_be_bytes());
        }
        assert!(array_recv(&Type::INT4, &huge).is_err());
    }

    #[test]
    fn integers_tell_bad_text_from_out_of_range() {
        assert_eq!(integer_in::<i16>(&Type::INT2, " 42 ").ok(), Some(42));
        assert_eq!(
            code(integer_in::<i16>(&Type::INT2, "70000").unwrap_err()),
            "22003"
        );
        assert_eq!(
            code(integer_in::<i32>(&Type::INT4, "4x").unwrap_err()),
            "22P02"
        );
    }
}

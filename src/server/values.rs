//! One value of a result column in PostgreSQL's text (`typoutput`) or binary (`typsend`)
//! form, without framing: [`crate::server::row_encoder`] frames it for a `DataRow` or a
//! COPY line. `SELECT` and `COPY` share these writers, so a value reads the same on
//! every path.
//!
//! The types a lake holds have direct paths (integers, floats per `extra_float_digits`,
//! bool, strings and JSON, dates, timestamps, times, decimals of every width with their
//! scale, uuid, arrays of any dimension); the rest go through arrow-pg's encoder with
//! the text fixes of [`TextFix`]. Columns are first made plain ([`plain_field`]):
//! dictionaries become their values, narrow and unsigned integers the PostgreSQL integer
//! they map to, narrow decimals `Decimal128`, second and millisecond timestamps
//! microseconds, maps their `json` text.

use std::ops::Range;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, BooleanArray, FixedSizeBinaryArray,
    LargeBinaryArray, LargeListArray, LargeStringArray, ListArray, MapArray, PrimitiveArray,
    StringArray, StringBuilder, StringViewArray, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::i256;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Decimal256Type, Field, Fields,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Time64MicrosecondType, TimeUnit,
    TimestampMicrosecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::writer::{make_encoder, EncoderOptions};
use datafusion_postgres::arrow_pg::encoder::{encode_value, Encoder};
use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo};
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::types::ToSqlText;
use postgres_types::{IsNull, ToSql};

use crate::pg::temporal::{write_time, write_timestamp};
use crate::pg::types::{list_element, pg_type, semantic, with_semantic, Semantic};
use crate::pg::uuid::{write_uuid, HEX_DIGITS};
use crate::server::errors::user_error;
use crate::server::numeric::{
    write_numeric_binary, write_numeric_digits_binary, write_numeric_digits_text,
    write_numeric_text, MAX_BINARY_SCALE,
};
use crate::server::text_output::{float4_text, float8_text, TextFix};
use crate::sqlstate::SqlState;

/// Microseconds and days between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i32 = 10_957;

/// The plain field a (nested) field of an array or struct is encoded as, if it is not
/// plain already: a map becomes its JSON text, tagged JSON so it keeps its type.
fn plain_child(field: &Arc<Field>) -> Option<Arc<Field>> {
    if matches!(field.data_type(), DataType::Map(..)) {
        let text = field.as_ref().clone().with_data_type(DataType::Utf8);
        return Some(Arc::new(with_semantic(text, Semantic::Json)));
    }
    plain_type(field.data_type()).map(|t| Arc::new(field.as_ref().clone().with_data_type(t)))
}

/// The plain type a column of `data_type` is encoded from, if it is not plain already.
fn plain_type(data_type: &DataType) -> Option<DataType> {
    match data_type {
        DataType::Dictionary(_, values) => {
            Some(plain_type(values).unwrap_or_else(|| values.as_ref().clone()))
        }
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => Some(DataType::Decimal128(*p, *s)),
        // The integer PostgreSQL type each maps to (arrow-pg wrote an int8 as one byte).
        DataType::Int8 | DataType::UInt8 => Some(DataType::Int16),
        DataType::UInt16 => Some(DataType::Int32),
        DataType::UInt32 => Some(DataType::Int64),
        DataType::UInt64 => Some(DataType::Decimal128(20, 0)),
        DataType::Float16 => Some(DataType::Float32),
        DataType::Timestamp(TimeUnit::Second | TimeUnit::Millisecond, tz) => {
            Some(DataType::Timestamp(TimeUnit::Microsecond, tz.clone()))
        }
        DataType::List(f) => plain_child(f).map(DataType::List),
        DataType::LargeList(f) => plain_child(f).map(DataType::LargeList),
        DataType::FixedSizeList(f, n) => plain_child(f).map(|f| DataType::FixedSizeList(f, *n)),
        DataType::Struct(fields) => {
            let plain: Vec<Option<Arc<Field>>> = fields.iter().map(plain_child).collect();
            plain.iter().any(Option::is_some).then(|| {
                let fields = fields.iter().zip(plain);
                DataType::Struct(
                    fields
                        .map(|(f, p)| p.unwrap_or_else(|| Arc::clone(f)))
                        .collect(),
                )
            })
        }
        _ => None,
    }
}

/// The field a column is encoded as: `field` itself, or its plain form (see the module
/// header), whose arrays come from [`plain_array`].
pub fn plain_field(field: &Arc<Field>) -> Arc<Field> {
    plain_child(field).unwrap_or_else(|| Arc::clone(field))
}

/// `array` cast to `field`'s (plain) type where it differs; maps (also inside lists and
/// structs) become their JSON text ([`map_json`]).
///
/// # Errors
/// The cast failed (it does not for the types [`plain_field`] produces), or a map's
/// values have no JSON form.
pub fn plain_array(array: &ArrayRef, field: &Field) -> PgWireResult<ArrayRef> {
    let failed = |e: ArrowError| PgWireError::ApiError(Box::new(e));
    if array.data_type() == field.data_type() {
        return Ok(Arc::clone(array));
    }
    if !holds_map(array.data_type()) {
        return datafusion::arrow::compute::cast(array, field.data_type()).map_err(failed);
    }
    Ok(match (array.data_type(), field.data_type()) {
        (DataType::Map(..), _) => map_json(array).map_err(failed)?,
        (DataType::List(_), DataType::List(element)) => {
            let list = array.as_list::<i32>();
            let values = plain_array(list.values(), element)?;
            let (offsets, nulls) = (list.offsets().clone(), list.nulls().cloned());
            Arc::new(
                ListArray::try_new(Arc::clone(element), offsets, values, nulls).map_err(failed)?,
            )
        }
        (DataType::LargeList(_), DataType::LargeList(element)) => {
            let list = array.as_list::<i64>();
            let values = plain_array(list.values(), element)?;
            let (offsets, nulls) = (list.offsets().clone(), list.nulls().cloned());
            Arc::new(
                LargeListArray::try_new(Arc::clone(element), offsets, values, nulls)
                    .map_err(failed)?,
            )
        }
        (DataType::Struct(_), DataType::Struct(fields)) => {
            let record = array.as_struct();
            let columns = record
                .columns()
                .iter()
                .zip(fields.iter())
                .map(|(column, field)| plain_array(column, field))
                .collect::<PgWireResult<Vec<_>>>()?;
            let nulls = record.nulls().cloned();
            Arc::new(StructArray::try_new(fields.clone(), columns, nulls).map_err(failed)?)
        }
        (_, target) => {
            let message = format!("no PostgreSQL form for {} as {target}", array.data_type());
            return Err(failed(ArrowError::NotYetImplemented(message)));
        }
    })
}

/// Whether a map is in `data_type` (it, or inside its lists and structs).
fn holds_map(data_type: &DataType) -> bool {
    match data_type {
        DataType::Map(..) => true,
        DataType::Struct(fields) => fields.iter().any(|f| holds_map(f.data_type())),
        other => list_element(other).is_some_and(|f| holds_map(f.data_type())),
    }
}

/// A map column as `json` text, one object per row (`{"a":1,"b":null}`, keys as text,
/// NULL entries kept, a NULL map NULL): PostgreSQL has no map type, and JSON is what
/// every client and BI tool reads. Values are arrow-json's (numbers, strings, nested
/// objects and arrays, timestamps as `"2024-03-01T12:00:00"` as PostgreSQL's `to_json`).
fn map_json(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let map = text_keyed(array.as_map())?;
    let field = Arc::new(Field::new("map", map.data_type().clone(), true));
    let options = EncoderOptions::default().with_explicit_nulls(true);
    let mut encoder = make_encoder(&field, &map, &options)?;
    let mut texts = StringBuilder::with_capacity(map.len(), map.len() * 32);
    let mut text = Vec::new();
    for row in 0..map.len() {
        if map.is_null(row) {
            texts.append_null();
            continue;
        }
        text.clear();
        encoder.encode(row, &mut text);
        let json = std::str::from_utf8(&text).map_err(|e| ArrowError::JsonError(e.to_string()))?;
        texts.append_value(json);
    }
    Ok(Arc::new(texts.finish()))
}

/// `map` with its keys as text (arrow-json writes only text keys; JSON's are text).
fn text_keyed(map: &MapArray) -> Result<MapArray, ArrowError> {
    if matches!(map.key_type(), DataType::Utf8 | DataType::LargeUtf8) {
        return Ok(map.clone());
    }
    let DataType::Map(entries_field, ordered) = map.data_type() else {
        unreachable!("a MapArray is of a map type");
    };
    let DataType::Struct(fields) = entries_field.data_type() else {
        unreachable!("a map's entries are a struct");
    };
    let keys = datafusion::arrow::compute::cast(map.keys(), &DataType::Utf8)?;
    let key_field = fields[0].as_ref().clone().with_data_type(DataType::Utf8);
    let fields = Fields::from(vec![Arc::new(key_field), Arc::clone(&fields[1])]);
    let entries = StructArray::try_new(fields.clone(), vec![keys, Arc::clone(map.values())], None)?;
    let entries_field = entries_field
        .as_ref()
        .clone()
        .with_data_type(DataType::Struct(fields));
    MapArray::try_new(
        Arc::new(entries_field),
        map.offsets().clone(),
        entries,
        map.nulls().cloned(),
        *ordered,
    )
}

/// The binary array types a `bytea` column comes from.
enum Bytes<'a> {
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
    View(&'a BinaryViewArray),
    Fixed(&'a FixedSizeBinaryArray),
}

impl Bytes<'_> {
    fn value(&self, row: usize) -> &[u8] {
        match self {
            Self::Binary(a) => a.value(row),
            Self::LargeBinary(a) => a.value(row),
            Self::View(a) => a.value(row),
            Self::Fixed(a) => a.value(row),
        }
    }
}

/// Where the elements of each row of a list column are in its values.
enum Offsets<'a> {
    Small(&'a [i32]),
    Large(&'a [i64]),
    Fixed(usize),
}

impl Offsets<'_> {
    fn range(&self, row: usize) -> Range<usize> {
        let span = |a: usize, b: usize| a..b;
        match self {
            Self::Small(o) => span(o[row] as usize, o[row + 1] as usize),
            Self::Large(o) => span(o[row] as usize, o[row + 1] as usize),
            Self::Fixed(n) => span(row * n, (row + 1) * n),
        }
    }
}

enum Kind<'a> {
    Int16(&'a PrimitiveArray<Int16Type>),
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    Float32(&'a PrimitiveArray<Float32Type>, i32),
    Float64(&'a PrimitiveArray<Float64Type>, i32),
    Bool(&'a BooleanArray),
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Date32(&'a PrimitiveArray<Date32Type>),
    Timestamp(&'a PrimitiveArray<TimestampMicrosecondType>),
    Time(&'a PrimitiveArray<Time64MicrosecondType>),
    /// A decimal and its scale (0 or more).
    Decimal(&'a PrimitiveArray<Decimal128Type>, u8),
    Decimal256(&'a PrimitiveArray<Decimal256Type>, u8),
    Uuid(&'a FixedSizeBinaryArray),
    /// `bytea` from any binary column.
    Bytes(Bytes<'a>),
    /// An array: where each row's elements are, and the elements as a column.
    List(Offsets<'a>, Box<Value<'a>>),
    /// A row value (`record`) from a struct: its fields as columns.
    Record(Vec<Value<'a>>),
    /// arrow-pg's encoder, then the column's [`TextFix`].
    Other,
}

fn primitive<T: ArrowPrimitiveType>(array: &ArrayRef) -> &PrimitiveArray<T> {
    array.as_primitive::<T>()
}

/// The writer of one column's values: the array, its PostgreSQL type and form.
pub struct Value<'a> {
    array: &'a ArrayRef,
    nulls: Option<NullBuffer>,
    kind: Kind<'a>,
    /// The field arrow-pg's encoder is given (type and form); for [`Kind::Other`].
    pg_field: FieldInfo,
    arrow_field: &'a Field,
    fix: TextFix,
    binary: bool,
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value")
            .field("field", self.arrow_field)
            .field("pg_type", self.pg_field.datatype())
            .field("binary", &self.binary)
            .finish_non_exhaustive()
    }
}

impl<'a> Value<'a> {
    /// The writer of `array` (already plain: [`plain_array`]) of type `arrow_field`, sent
    /// as `pg_field` says (type, text or binary, float digits).
    pub fn new(array: &'a ArrayRef, arrow_field: &'a Field, pg_field: &FieldInfo) -> Self {
        let binary = pg_field.format() == FieldFormat::Binary;
        let extra = i32::from(pg_field.format_options().extra_float_digits);
        let pg = pg_field.datatype();
        let kind = match array.data_type() {
            DataType::Int16 if *pg == Type::INT2 => Kind::Int16(primitive(array)),
            DataType::Int32 if *pg == Type::INT4 => Kind::Int32(primitive(array)),
            DataType::Int64 if *pg == Type::INT8 => Kind::Int64(primitive(array)),
            DataType::Float32 if *pg == Type::FLOAT4 => Kind::Float32(primitive(array), extra),
            DataType::Float64 if *pg == Type::FLOAT8 => Kind::Float64(primitive(array), extra),
            DataType::Boolean if *pg == Type::BOOL => Kind::Bool(array.as_boolean()),
            DataType::Utf8 if textual(pg) => Kind::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 if textual(pg) => Kind::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View if textual(pg) => Kind::Utf8View(array.as_string_view()),
            DataType::Date32 if *pg == Type::DATE => Kind::Date32(primitive(array)),
            DataType::Timestamp(TimeUnit::Microsecond, None) if *pg == Type::TIMESTAMP => {
                Kind::Timestamp(primitive(array))
            }
            DataType::Time64(TimeUnit::Microsecond) if *pg == Type::TIME => {
                Kind::Time(primitive(array))
            }
            DataType::Decimal128(_, scale) if *pg == Type::NUMERIC && *scale >= 0 => {
                Kind::Decimal(primitive(array), scale.unsigned_abs())
            }
            DataType::Decimal256(_, scale) if *pg == Type::NUMERIC && *scale >= 0 => {
                Kind::Decimal256(primitive(array), scale.unsigned_abs())
            }
            DataType::FixedSizeBinary(16)
                if *pg == Type::UUID && semantic(arrow_field) == Semantic::Uuid =>
            {
                Kind::Uuid(array.as_fixed_size_binary())
            }
            DataType::Binary if *pg == Type::BYTEA => Kind::Bytes(Bytes::Binary(array.as_binary())),
            DataType::LargeBinary if *pg == Type::BYTEA => {
                Kind::Bytes(Bytes::LargeBinary(array.as_binary()))
            }
            DataType::BinaryView if *pg == Type::BYTEA => {
                Kind::Bytes(Bytes::View(array.as_binary_view()))
            }
            DataType::FixedSizeBinary(_) if *pg == Type::BYTEA => {
                Kind::Bytes(Bytes::Fixed(array.as_fixed_size_binary()))
            }
            DataType::Struct(_) if pg.oid() == Type::RECORD.oid() => {
                Self::record_kind(array, pg_field).unwrap_or(Kind::Other)
            }
            _ => Self::list_kind(array, pg_field).unwrap_or(Kind::Other),
        };
        Self {
            array,
            nulls: array.logical_nulls(),
            kind,
            pg_field: pg_field.clone(),
            arrow_field,
            fix: TextFix::for_field(pg_field),
            binary,
        }
    }

    /// A list column whose elements (at every depth) have direct paths.
    fn list_kind(array: &'a ArrayRef, pg_field: &FieldInfo) -> Option<Kind<'a>> {
        let element_field = list_element(array.data_type())?;
        let (offsets, values) = match array.data_type() {
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                (Offsets::Small(list.offsets()), list.values())
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                (Offsets::Large(list.offsets()), list.values())
            }
            DataType::FixedSizeList(_, n) => {
                let list = array.as_fixed_size_list();
                (Offsets::Fixed(usize::try_from(*n).ok()?), list.values())
            }
            _ => return None,
        };
        let element = Self::inner(values, element_field, pg_field)?;
        if matches!(element.kind, Kind::Other) {
            return None;
        }
        Some(Kind::List(offsets, Box::new(element)))
    }

    /// A struct column: each field a column of its own (arrow-pg's encoder for those
    /// without a direct path).
    fn record_kind(array: &'a ArrayRef, pg_field: &FieldInfo) -> Option<Kind<'a>> {
        let record = array.as_struct();
        let fields = record.fields().iter().zip(record.columns());
        let fields = fields.map(|(field, column)| Self::inner(column, field, pg_field));
        Some(Kind::Record(fields.collect::<Option<Vec<_>>>()?))
    }

    /// The writer of a column inside an array or record, in the outer column's form;
    /// `None` for a type PostgreSQL has no counterpart for.
    fn inner(array: &'a ArrayRef, field: &'a Arc<Field>, outer: &FieldInfo) -> Option<Self> {
        let pg = FieldInfo::new(
            field.name().clone(),
            None,
            None,
            pg_type(field).ok()?,
            outer.format(),
        )
        .with_format_options(Arc::clone(outer.format_options()));
        Some(Value::new(array, field.as_ref(), &pg))
    }

    /// Writes the value at `row` after its length, or -1 for NULL: a `DataRow` or binary
    /// COPY field, an array or record element. Inlined into the row loop: a binary value
    /// of a fixed width (integers, floats, bool, dates, times) is written in place.
    #[inline(always)]
    pub fn write_with_length(&self, row: usize, out: &mut BytesMut) -> PgWireResult<()> {
        if self.is_null(row) {
            out.put_i32(-1);
            return Ok(());
        }
        if let Some((width, bits)) = self.binary.then(|| self.fixed_binary(row)).flatten() {
            out.put_i32(i32::from(width));
            put_fixed(out, width, bits);
            return Ok(());
        }
        let length_at = out.len();
        out.put_i32(0);
        self.write(row, out)?;
        patch_length(out, length_at);
        Ok(())
    }

    /// The width and big-endian bits of a fixed-width binary value.
    #[inline(always)]
    fn fixed_binary(&self, row: usize) -> Option<(u8, u64)> {
        Some(match &self.kind {
            Kind::Bool(a) => (1, u64::from(a.value(row))),
            Kind::Int16(a) => (2, u64::from(a.value(row) as u16)),
            Kind::Int32(a) => (4, u64::from(a.value(row) as u32)),
            Kind::Int64(a) => (8, a.value(row) as u64),
            Kind::Float32(a, _) => (4, u64::from(a.value(row).to_bits())),
            Kind::Float64(a, _) => (8, a.value(row).to_bits()),
            Kind::Date32(a) => (4, u64::from((a.value(row) - PG_EPOCH_DAYS) as u32)),
            Kind::Timestamp(a) => (8, (a.value(row) - PG_EPOCH_MICROS) as u64),
            Kind::Time(a) => (8, a.value(row) as u64),
            _ => return None,
        })
    }

    /// Whether values are sent in binary form.
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    pub fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(row))
    }

    /// Whether the text of a value may hold characters COPY must escape or quote.
    pub fn may_need_escaping(&self) -> bool {
        matches!(
            self.kind,
            Kind::Utf8(_)
                | Kind::LargeUtf8(_)
                | Kind::Utf8View(_)
                | Kind::Bytes(_)
                | Kind::List(..)
                | Kind::Record(_)
                | Kind::Other
        )
    }

    /// Appends the value at `row` (not null) in the column's form to `out`.
    ///
    /// # Errors
    /// A value PostgreSQL cannot represent (a ragged multidimensional array), or
    /// arrow-pg's encoder failed.
    pub fn write(&self, row: usize, out: &mut BytesMut) -> PgWireResult<()> {
        if self.binary {
            self.write_binary(row, out)
        } else {
            self.write_text(row, out)
        }
    }

    fn write_text(&self, row: usize, out: &mut BytesMut) -> PgWireResult<()> {
        let mut itoa = itoa::Buffer::new();
        match &self.kind {
            Kind::Int16(a) => out.put_slice(itoa.format(a.value(row)).as_bytes()),
            Kind::Int32(a) => out.put_slice(itoa.format(a.value(row)).as_bytes()),
            Kind::Int64(a) => out.put_slice(itoa.format(a.value(row)).as_bytes()),
            Kind::Float32(a, extra) => out.put_slice(float4_text(a.value(row), *extra).as_bytes()),
            Kind::Float64(a, extra) => out.put_slice(float8_text(a.value(row), *extra).as_bytes()),
            Kind::Bool(a) => out.put_u8(if a.value(row) { b't' } else { b'f' }),
            Kind::Utf8(a) => out.put_slice(a.value(row).as_bytes()),
            Kind::LargeUtf8(a) => out.put_slice(a.value(row).as_bytes()),
            Kind::Utf8View(a) => out.put_slice(a.value(row).as_bytes()),
            Kind::Decimal(a, scale) => write_numeric_text(out, a.value(row), *scale),
            Kind::Decimal256(a, scale) => {
                let (negative, digits) = magnitude_digits(a.value(row));
                write_numeric_digits_text(out, negative, digits.as_bytes(), *scale);
            }
            Kind::Uuid(a) => write_uuid(out, a.value(row)),
            Kind::Bytes(a) => write_bytea(out, a.value(row)),
            Kind::Time(a) => write_time(out, a.value(row)),
            Kind::Timestamp(a) if write_timestamp(out, a.value(row)) => {}
            Kind::List(offsets, element) => {
                self.check_dimensions(row)?;
                write_array_text(offsets, element, row, out)?;
            }
            Kind::Record(fields) => write_record_text(fields, row, out)?,
            Kind::Date32(_) | Kind::Timestamp(_) | Kind::Other => self.write_other(row, out)?,
        }
        Ok(())
    }

    fn write_binary(&self, row: usize, out: &mut BytesMut) -> PgWireResult<()> {
        if let Some((width, bits)) = self.fixed_binary(row) {
            put_fixed(out, width, bits);
            return Ok(());
        }
        match &self.kind {
            Kind::Utf8(a) => out.put_slice(a.value(row).as_bytes()),
            Kind::LargeUtf8(a) => out.put_slice(a.value(row).as_bytes()),
            Kind::Utf8View(a) => out.put_slice(a.value(row).as_bytes()),
            Kind::Decimal(a, scale) if *scale <= MAX_BINARY_SCALE.unsigned_abs() => {
                write_numeric_binary(out, a.value(row), *scale);
            }
            Kind::Decimal(a, scale) => {
                let value = a.value(row);
                let digits = itoa::Buffer::new().format(value.unsigned_abs()).to_owned();
                write_numeric_digits_binary(out, value < 0, digits.as_bytes(), *scale);
            }
            Kind::Decimal256(a, scale) => {
                let (negative, digits) = magnitude_digits(a.value(row));
                write_numeric_digits_binary(out, negative, digits.as_bytes(), *scale);
            }
            Kind::Uuid(a) => out.put_slice(a.value(row)),
            Kind::Bytes(a) => out.put_slice(a.value(row)),
            Kind::List(offsets, element) => {
                let dimensions = self.check_dimensions(row)?;
                write_array_binary(offsets, element, row, &dimensions, out)?;
            }
            Kind::Record(fields) => write_record_binary(fields, row, out)?,
            Kind::Other => self.write_other(row, out)?,
            Kind::Int16(_)
            | Kind::Int32(_)
            | Kind::Int64(_)
            | Kind::Float32(..)
            | Kind::Float64(..)
            | Kind::Bool(_)
            | Kind::Date32(_)
            | Kind::Timestamp(_)
            | Kind::Time(_) => unreachable!("fixed-width values are written above"),
        }
        Ok(())
    }

    /// The dimensions of the array at `row`, outermost first (none for an empty array).
    ///
    /// # Errors
    /// A sub-array is NULL or its length differs from its siblings': PostgreSQL's
    /// arrays are rectangular.
    fn check_dimensions(&self, row: usize) -> PgWireResult<Vec<usize>> {
        let mut dimensions = Vec::new();
        let mut level = self;
        let mut rows = vec![row];
        while let Kind::List(offsets, element) = &level.kind {
            let lengths: Vec<Range<usize>> = rows.iter().map(|r| offsets.range(*r)).collect();
            let length = lengths.first().map_or(0, ExactSizeIterator::len);
            if lengths.iter().any(|r| r.len() != length) {
                return Err(ragged());
            }
            if length == 0 {
                return Ok(Vec::new());
            }
            dimensions.push(length);
            rows = lengths.into_iter().flatten().collect();
            if matches!(element.kind, Kind::List(..)) && rows.iter().any(|r| element.is_null(*r)) {
                return Err(ragged());
            }
            level = element;
        }
        Ok(dimensions)
    }

    /// arrow-pg's encoder for the value, with the column's text fix.
    fn write_other(&self, row: usize, out: &mut BytesMut) -> PgWireResult<()> {
        let mut one = OneValue {
            out,
            fix: self.fix,
            binary: self.binary,
        };
        encode_value(&mut one, self.array, row, self.arrow_field, &self.pg_field)
    }
}

/// The low `width` bytes of `bits`, most significant first.
#[inline(always)]
fn put_fixed(out: &mut BytesMut, width: u8, bits: u64) {
    match width {
        1 => out.put_u8(bits as u8),
        2 => out.put_u16(bits as u16),
        4 => out.put_u32(bits as u32),
        _ => out.put_u64(bits),
    }
}

/// The sign and the decimal digits of the magnitude of a `Decimal256` value.
fn magnitude_digits(value: i256) -> (bool, String) {
    let text = value.to_string();
    match text.strip_prefix('-') {
        Some(digits) => (true, digits.to_owned()),
        None => (false, text),
    }
}

fn textual(pg: &Type) -> bool {
    *pg == Type::TEXT || *pg == Type::VARCHAR || *pg == Type::JSON
}

fn ragged() -> PgWireError {
    user_error(
        SqlState::ARRAY_SUBSCRIPT_ERROR,
        "multidimensional arrays must have sub-arrays with matching dimensions".to_owned(),
    )
}

/// `byteaout` with `bytea_output = hex`: `\x` and two lowercase hex digits a byte.
fn write_bytea(out: &mut BytesMut, bytes: &[u8]) {
    out.reserve(2 + 2 * bytes.len());
    out.put_slice(b"\\x");
    for b in bytes {
        out.put_u8(HEX_DIGITS[usize::from(b >> 4)]);
        out.put_u8(HEX_DIGITS[usize::from(b & 0x0f)]);
    }
}

/// `array_out`: `{1,2,NULL}`, `{{1,2},{3,4}}`; elements quoted where PostgreSQL quotes them.
fn write_array_text(
    offsets: &Offsets<'_>,
    element: &Value<'_>,
    row: usize,
    out: &mut BytesMut,
) -> PgWireResult<()> {
    out.put_u8(b'{');
    let mut text = BytesMut::new();
    for (n, i) in offsets.range(row).enumerate() {
        if n > 0 {
            out.put_u8(b',');
        }
        if element.is_null(i) {
            out.put_slice(b"NULL");
            continue;
        }
        if let Kind::List(inner, grand) = &element.kind {
            write_array_text(inner, grand, i, out)?;
            continue;
        }
        text.clear();
        element.write_text(i, &mut text)?;
        write_array_element(out, &text);
    }
    out.put_u8(b'}');
    Ok(())
}

/// One element of an array's text, quoted as `array_out` quotes it.
fn write_array_element(out: &mut BytesMut, text: &[u8]) {
    let needs_quotes = text.is_empty()
        || text.eq_ignore_ascii_case(b"NULL")
        || text.iter().any(|b| {
            matches!(
                b,
                b'"' | b'\\' | b'{' | b'}' | b',' | b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C
            )
        });
    if !needs_quotes {
        out.put_slice(text);
        return;
    }
    out.put_u8(b'"');
    for &b in text {
        if b == b'"' || b == b'\\' {
            out.put_u8(b'\\');
        }
        out.put_u8(b);
    }
    out.put_u8(b'"');
}

/// `record_out`: `(1,"a b",,"say ""hi""")`: a NULL field is nothing, a field quoted
/// (quotes and backslashes doubled) when it is empty or holds `"\\(),` or a space.
fn write_record_text(fields: &[Value<'_>], row: usize, out: &mut BytesMut) -> PgWireResult<()> {
    out.put_u8(b'(');
    let mut text = BytesMut::new();
    for (n, field) in fields.iter().enumerate() {
        if n > 0 {
            out.put_u8(b',');
        }
        if field.is_null(row) {
            continue;
        }
        text.clear();
        field.write_text(row, &mut text)?;
        let needs_quotes = text.is_empty()
            || text.iter().any(|b| {
                matches!(b, b'"' | b'\\' | b'(' | b')' | b',')
                    || b.is_ascii_whitespace()
                    || *b == 0x0B
            });
        if !needs_quotes {
            out.put_slice(&text);
            continue;
        }
        out.put_u8(b'"');
        for &b in text.iter() {
            if b == b'"' || b == b'\\' {
                out.put_u8(b);
            }
            out.put_u8(b);
        }
        out.put_u8(b'"');
    }
    out.put_u8(b')');
    Ok(())
}

/// `record_send`: the field count, then each field's type OID and value (length first,
/// -1 for NULL).
fn write_record_binary(fields: &[Value<'_>], row: usize, out: &mut BytesMut) -> PgWireResult<()> {
    out.put_i32(i32::try_from(fields.len()).unwrap_or(i32::MAX));
    for field in fields {
        out.put_u32(field.pg_field.datatype().oid());
        field.write_with_length(row, out)?;
    }
    Ok(())
}

/// `array_send`: dimensions, NULL flag, element type, then each element (length first).
fn write_array_binary(
    offsets: &Offsets<'_>,
    element: &Value<'_>,
    row: usize,
    dimensions: &[usize],
    out: &mut BytesMut,
) -> PgWireResult<()> {
    let mut innermost = element;
    let mut rows: Vec<usize> = offsets.range(row).collect();
    while let Kind::List(inner, grand) = &innermost.kind {
        rows = rows.iter().flat_map(|r| inner.range(*r)).collect();
        innermost = grand;
    }
    if dimensions.is_empty() {
        rows.clear();
    }
    let has_nulls = rows.iter().any(|r| innermost.is_null(*r));
    out.put_i32(i32::try_from(dimensions.len()).unwrap_or(i32::MAX));
    out.put_i32(i32::from(has_nulls));
    out.put_u32(innermost.pg_field.datatype().oid());
    for d in dimensions {
        out.put_i32(i32::try_from(*d).unwrap_or(i32::MAX));
        out.put_i32(1);
    }
    for r in rows {
        innermost.write_with_length(r, out)?;
    }
    Ok(())
}

/// Writes the length of what follows the 4-byte placeholder at `length_at`.
pub fn patch_length(out: &mut BytesMut, length_at: usize) {
    let length = out.len() - length_at - 4;
    let length = i32::try_from(length).unwrap_or(i32::MAX).to_be_bytes();
    out[length_at..length_at + 4].copy_from_slice(&length);
}

/// arrow-pg's encoder writing one value into `out` (its text with the column's [`TextFix`]).
struct OneValue<'o> {
    out: &'o mut BytesMut,
    fix: TextFix,
    binary: bool,
}

impl Encoder for OneValue<'_> {
    type Item = ();

    fn encode_field<T>(&mut self, value: &T, pg_field: &FieldInfo) -> PgWireResult<()>
    where
        T: ToSql + ToSqlText + Sized,
    {
        if self.binary {
            value
                .to_sql(pg_field.datatype(), self.out)
                .map_err(PgWireError::ApiError)?;
            return Ok(());
        }
        let start = self.out.len();
        let is_null = value
            .to_sql_text(pg_field.datatype(), self.out, pg_field.format_options())
            .map_err(PgWireError::ApiError)?;
        if let (IsNull::No, Some(fixed)) = (is_null, self.fix.apply(&self.out[start..])) {
            self.out.truncate(start);
            self.out.put_slice(&fixed);
        }
        Ok(())
    }

    fn take_row(&mut self) -> Self::Item {}
}

//! The one mapping from an Arrow column to the PostgreSQL type clients see: its OID (in
//! RowDescription, `pg_attribute.atttypid`, `information_schema.columns`) and its type
//! modifier (`numeric(p,s)`).
//!
//! arrow-pg's mapping is the base; on top of it, what a Parquet lake holds and it misses:
//! Arrow's canonical `arrow.uuid` and `arrow.json` extension types (Parquet's UUID and
//! JSON logical types) are `uuid` and `json`, every decimal width is `numeric`, a list of
//! lists is an array of its innermost element (PostgreSQL arrays have any number of
//! dimensions and one type), a map is `json` (PostgreSQL has no map type), and a
//! dictionary column has the type of its values.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion_postgres::arrow_pg::datatypes::{field_into_pg_type, into_pg_type};
use postgres_types::Type;

/// Arrow's extension-name metadata key and the canonical names we map.
const EXTENSION_NAME: &str = "ARROW:extension:name";
const UUID_EXTENSION: &str = "arrow.uuid";
const JSON_EXTENSION: &str = "arrow.json";

/// What a column's values are, as far as PostgreSQL cares beyond the Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantic {
    Plain,
    Uuid,
    Json,
}

/// The semantic tag of a field (its canonical extension type), if the storage fits it.
pub fn semantic(field: &Field) -> Semantic {
    match (
        field.metadata().get(EXTENSION_NAME).map(String::as_str),
        field.data_type(),
    ) {
        (Some(UUID_EXTENSION), DataType::FixedSizeBinary(16)) => Semantic::Uuid,
        (Some(JSON_EXTENSION), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
            Semantic::Json
        }
        _ => Semantic::Plain,
    }
}

/// `field` tagged with the extension type of `semantic` (untouched for `Plain`).
pub fn with_semantic(field: Field, semantic: Semantic) -> Field {
    let name = match semantic {
        Semantic::Plain => return field,
        Semantic::Uuid => UUID_EXTENSION,
        Semantic::Json => JSON_EXTENSION,
    };
    let mut metadata = field.metadata().clone();
    metadata.insert(EXTENSION_NAME.to_owned(), name.to_owned());
    field.with_metadata(metadata)
}

/// The element field of a list type, if `data_type` is one.
pub fn list_element(data_type: &DataType) -> Option<&Arc<Field>> {
    match data_type {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => Some(f),
        _ => None,
    }
}

/// The innermost non-list field of a (possibly nested) list, and how many list levels
/// wrap it (0 for a field that is not a list).
pub fn innermost(field: &Field) -> (&Field, usize) {
    let mut current = field;
    let mut depth = 0;
    while let Some(element) = list_element(current.data_type()) {
        current = element.as_ref();
        depth += 1;
    }
    (current, depth)
}

/// The PostgreSQL type of a scalar (non-list) field.
fn scalar_type(field: &Field) -> Option<Type> {
    match semantic(field) {
        Semantic::Uuid => return Some(Type::UUID),
        Semantic::Json => return Some(Type::JSON),
        Semantic::Plain => {}
    }
    match field.data_type() {
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Some(Type::NUMERIC),
        // An untyped NULL (`SELECT NULL`): PostgreSQL resolves unknown output columns to text.
        DataType::Null => Some(Type::TEXT),
        // PostgreSQL has no map type: a map is sent as a JSON object (`server::values`).
        DataType::Map(..) => Some(Type::JSON),
        DataType::Dictionary(_, values) => {
            scalar_type(&Field::new(field.name(), values.as_ref().clone(), true))
        }
        _ => None,
    }
}

fn array_of(element: &Type) -> Option<Type> {
    Some(match *element {
        Type::UUID => Type::UUID_ARRAY,
        Type::JSON => Type::JSON_ARRAY,
        Type::NUMERIC => Type::NUMERIC_ARRAY,
        _ => return None,
    })
}

/// The PostgreSQL type clients are told a column of `field` has.
///
/// # Errors
/// A type PostgreSQL has no counterpart for (arrow-pg's error).
pub fn pg_type(field: &Arc<Field>) -> datafusion_postgres::pgwire::error::PgWireResult<Type> {
    let (element, depth) = innermost(field);
    if depth == 0 {
        return match scalar_type(field) {
            Some(t) => Ok(t),
            None => field_into_pg_type(field),
        };
    }
    if let Some(t) = scalar_type(element).as_ref().and_then(array_of) {
        return Ok(t);
    }
    let element = match element.data_type() {
        DataType::Dictionary(_, values) => values.as_ref().clone(),
        other => other.clone(),
    };
    // A one-level list of the innermost element has the array type of any depth.
    into_pg_type(&DataType::List(Arc::new(Field::new_list_field(
        element, true,
    ))))
}

/// PostgreSQL's `atttypmod` for a column type (`numeric(p,s)` → `((p << 16) | s) + 4`);
/// `None` where it is -1.
pub fn typmod(data_type: &DataType) -> Option<i32> {
    match data_type {
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            Some(((i32::from(*p) << 16) | i32::from((*s).max(0) as u8)) + 4)
        }
        DataType::Dictionary(_, values) => typmod(values),
        _ => None,
    }
}

/// The name PostgreSQL's input and range errors give a type (`invalid input syntax for
/// type integer`, not `int4`).
pub fn input_type_name(t: &Type) -> &str {
    match *t {
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::BOOL => "boolean",
        Type::TIMESTAMP => "timestamp",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        _ => t.name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn field(data_type: DataType) -> Arc<Field> {
        Arc::new(Field::new("c", data_type, true))
    }

    fn tagged(data_type: DataType, extension: &str) -> Arc<Field> {
        Arc::new(
            Field::new("c", data_type, true).with_metadata(HashMap::from([(
                EXTENSION_NAME.to_owned(),
                extension.to_owned(),
            )])),
        )
    }

    fn list(element: DataType) -> DataType {
        DataType::List(Arc::new(Field::new_list_field(element, true)))
    }

    #[test]
    fn extension_types_are_uuid_and_json() {
        let uuid = tagged(DataType::FixedSizeBinary(16), UUID_EXTENSION);
        assert_eq!(pg_type(&uuid).unwrap(), Type::UUID);
        assert_eq!(
            pg_type(&field(DataType::FixedSizeBinary(16))).unwrap(),
            Type::BYTEA
        );
        assert_eq!(
            pg_type(&tagged(DataType::Utf8, JSON_EXTENSION)).unwrap(),
            Type::JSON
        );
        assert_eq!(
            pg_type(&tagged(DataType::Utf8View, JSON_EXTENSION)).unwrap(),
            Type::JSON
        );
    }

    #[test]
    fn every_decimal_is_numeric_with_its_typmod() {
        let wide = field(DataType::Decimal256(50, 2));
        assert_eq!(pg_type(&wide).unwrap(), Type::NUMERIC);
        assert_eq!(typmod(wide.data_type()), Some((50 << 16 | 2) + 4));
        assert_eq!(
            pg_type(&field(DataType::Decimal64(12, 3))).unwrap(),
            Type::NUMERIC
        );
        assert_eq!(typmod(&DataType::Int64), None);
    }

    #[test]
    fn lists_of_lists_are_arrays_of_the_innermost_element() {
        assert_eq!(
            pg_type(&field(list(list(DataType::Int64)))).unwrap(),
            Type::INT8_ARRAY
        );
        assert_eq!(
            pg_type(&field(list(DataType::Utf8))).unwrap(),
            Type::TEXT_ARRAY
        );
        assert_eq!(
            pg_type(&field(list(DataType::Decimal256(40, 1)))).unwrap(),
            Type::NUMERIC_ARRAY
        );
    }

    #[test]
    fn dictionaries_have_the_type_of_their_values() {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert_eq!(pg_type(&field(dict.clone())).unwrap(), Type::TEXT);
        assert_eq!(pg_type(&field(list(dict))).unwrap(), Type::TEXT_ARRAY);
    }
}

//! `information_schema.columns` as PostgreSQL fills it: SQL type names in `data_type`
//! (`bigint`, `numeric`, `timestamp without time zone`; DataFusion's own view says
//! `Int64`, `Decimal128(10, 2)`), `udt_schema`/`udt_name` (`pg_catalog`, `int8`), integer
//! precision in bits with radix 2, and the identity/generated columns tools read
//! (Power BI, Grafana, Metabase, DBeaver).

use std::sync::Arc;

use async_trait::async_trait;

use crate::pg::catalog::computed_view::ComputedRows;
use crate::pg::types::pg_type;
use datafusion::arrow::array::{ArrayRef, Int32Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{CatalogProviderList, Session};
use datafusion::error::Result;
use datafusion_postgres::pgwire::api::Type;

/// Text columns, in PostgreSQL's order, then the integer ones.
const TEXT_COLUMNS: &[&str] = &[
    "table_catalog",
    "table_schema",
    "table_name",
    "column_name",
    "column_default",
    "is_nullable",
    "data_type",
    "udt_catalog",
    "udt_schema",
    "udt_name",
    "is_identity",
    "identity_generation",
    "is_generated",
    "generation_expression",
    "is_updatable",
    "collation_name",
];
const INT_COLUMNS: &[&str] = &[
    "ordinal_position",
    "character_maximum_length",
    "character_octet_length",
    "numeric_precision",
    "numeric_precision_radix",
    "numeric_scale",
    "datetime_precision",
];

/// What PostgreSQL reports for a column of this Arrow type.
#[derive(Debug, PartialEq)]
struct PgColumnType {
    data_type: &'static str,
    udt_name: String,
    precision: Option<i32>,
    radix: Option<i32>,
    scale: Option<i32>,
    datetime_precision: Option<i32>,
}

fn pg_column_type(field: &Arc<Field>) -> PgColumnType {
    let arrow = field.data_type();
    let pg = pg_type(field).unwrap_or(Type::TEXT);
    let data_type = match pg {
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::NUMERIC => "numeric",
        Type::BOOL => "boolean",
        Type::TEXT => "text",
        Type::VARCHAR => "character varying",
        Type::DATE => "date",
        Type::TIME => "time without time zone",
        Type::TIMESTAMP => "timestamp without time zone",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        Type::INTERVAL => "interval",
        Type::BYTEA => "bytea",
        Type::UUID => "uuid",
        Type::JSON => "json",
        Type::JSONB => "jsonb",
        ref t if t.name().starts_with('_') => "ARRAY",
        _ => "USER-DEFINED",
    };
    let (precision, radix, scale) = match arrow {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => (Some(16), Some(2), Some(0)),
        DataType::Int32 | DataType::UInt16 => (Some(32), Some(2), Some(0)),
        DataType::Int64 | DataType::UInt32 => (Some(64), Some(2), Some(0)),
        DataType::Float16 | DataType::Float32 => (Some(24), Some(2), None),
        DataType::Float64 => (Some(53), Some(2), None),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => {
            (Some(i32::from(*p)), Some(10), Some(i32::from(*s)))
        }
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            (Some(i32::from(*p)), Some(10), Some(i32::from(*s)))
        }
        _ => (None, None, None),
    };
    let datetime_precision = match arrow {
        DataType::Date32 | DataType::Date64 => Some(0),
        DataType::Timestamp(unit, _) | DataType::Time64(unit) | DataType::Time32(unit) => {
            Some(match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond | TimeUnit::Nanosecond => 6,
            })
        }
        DataType::Interval(_) | DataType::Duration(_) => Some(6),
        _ => None,
    };
    PgColumnType {
        data_type,
        udt_name: pg.name().to_owned(),
        precision,
        radix,
        scale,
        datetime_precision,
    }
}

/// The view; rows are computed from the catalogs at each scan.
#[derive(Debug)]
pub struct ColumnsView {
    catalogs: Arc<dyn CatalogProviderList>,
    schema: SchemaRef,
}

impl ColumnsView {
    pub fn new(catalogs: Arc<dyn CatalogProviderList>) -> Self {
        let fields: Vec<Field> = TEXT_COLUMNS
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .chain(
                INT_COLUMNS
                    .iter()
                    .map(|c| Field::new(*c, DataType::Int32, true)),
            )
            .collect();
        Self {
            catalogs,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    async fn batch(&self) -> Result<RecordBatch> {
        let mut text: Vec<StringBuilder> =
            TEXT_COLUMNS.iter().map(|_| StringBuilder::new()).collect();
        let mut ints: Vec<Int32Builder> = INT_COLUMNS.iter().map(|_| Int32Builder::new()).collect();
        for catalog_name in self.catalogs.catalog_names() {
            let Some(catalog) = self.catalogs.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                let mut tables = schema.table_names();
                tables.sort();
                for table_name in tables {
                    let Some(table) = schema.table(&table_name).await? else {
                        continue;
                    };
                    for (i, field) in table.schema().fields().iter().enumerate() {
                        let t = pg_column_type(field);
                        let values: [Option<&str>; 16] = [
                            Some(&catalog_name),
                            Some(&schema_name),
                            Some(&table_name),
                            Some(field.name()),
                            None,
                            Some(if field.is_nullable() { "YES" } else { "NO" }),
                            Some(t.data_type),
                            Some(&catalog_name),
                            Some("pg_catalog"),
                            Some(&t.udt_name),
                            Some("NO"),
                            None,
                            Some("NEVER"),
                            None,
                            Some("NO"),
                            None,
                        ];
                        for (builder, value) in text.iter_mut().zip(values) {
                            builder.append_option(value);
                        }
                        let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
                        let numbers = [
                            Some(position),
                            None,
                            None,
                            t.precision,
                            t.radix,
                            t.scale,
                            t.datetime_precision,
                        ];
                        for (builder, value) in ints.iter_mut().zip(numbers) {
                            builder.append_option(value);
                        }
                    }
                }
            }
        }
        let columns: Vec<ArrayRef> = text
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .chain(ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef))
            .collect();
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[async_trait]
impl ComputedRows for ColumnsView {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    async fn rows(&self, _state: &dyn Session) -> Result<Vec<RecordBatch>> {
        Ok(vec![self.batch().await?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg_column_type(data_type: &DataType) -> PgColumnType {
        super::pg_column_type(&Arc::new(Field::new("c", data_type.clone(), true)))
    }

    #[test]
    fn arrow_types_get_postgres_names() {
        let t = pg_column_type(&DataType::Int64);
        assert_eq!((t.data_type, t.udt_name.as_str()), ("bigint", "int8"));
        assert_eq!(
            (t.precision, t.radix, t.scale),
            (Some(64), Some(2), Some(0))
        );
        let t = pg_column_type(&DataType::Decimal128(10, 2));
        assert_eq!((t.data_type, t.udt_name.as_str()), ("numeric", "numeric"));
        assert_eq!(
            (t.precision, t.radix, t.scale),
            (Some(10), Some(10), Some(2))
        );
        let t = pg_column_type(&DataType::Timestamp(TimeUnit::Microsecond, None));
        assert_eq!(t.data_type, "timestamp without time zone");
        assert_eq!(t.datetime_precision, Some(6));
        assert_eq!(pg_column_type(&DataType::Utf8View).data_type, "text");
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
        let t = pg_column_type(&list);
        assert_eq!((t.data_type, t.udt_name.as_str()), ("ARRAY", "_int4"));
    }
}

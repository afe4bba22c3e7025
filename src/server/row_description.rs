//! RowDescription: the columns of a result as clients are told them. [`result_fields`]
//! builds them from the result's Arrow schema (types from [`crate::pg::types`]);
//! [`complete`] fills in, for responses built upstream, what PostgreSQL sends and
//! pgwire leaves at its defaults: the names of duplicate outputs (without the suffix
//! DataFusion needed), the `typlen` of every column, and the `typmod` of `numeric(p,s)`
//! columns (from the Arrow decimal) that JDBC, Npgsql and asyncpg read as precision and
//! scale.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo};
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::error::PgWireResult;
use datafusion_postgres::pgwire::types::format::FormatOptions;

use crate::pg::dialect::client_name;
use crate::pg::types::{pg_type, typmod};

/// The columns of a result of `schema`, each in the form `format` gives it.
///
/// # Errors
/// A column type PostgreSQL has no counterpart for.
pub fn result_fields(
    schema: &Schema,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<Vec<FieldInfo>> {
    let fields = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Ok(FieldInfo::new(
                f.name().clone(),
                None,
                None,
                pg_type(f)?,
                format_of(format, i),
            )
            .with_format_options(Arc::clone(&options)))
        })
        .collect::<PgWireResult<Vec<_>>>()?;
    Ok(complete(fields, Some(schema)))
}

/// Column `i`'s format; text where a list of codes has none for it (Bind checks the
/// count, this never panics on a short list).
fn format_of(format: &Format, i: usize) -> FieldFormat {
    match format {
        Format::Individual(codes) => codes
            .get(i)
            .copied()
            .map_or(FieldFormat::Text, FieldFormat::from),
        _ => format.format_for(i),
    }
}

/// `pg_type.typlen`: the fixed width of a type, -1 for variable-width ones.
pub fn type_size(t: &Type) -> i16 {
    match *t {
        Type::BOOL | Type::CHAR => 1,
        Type::INT2 => 2,
        Type::INT4 | Type::FLOAT4 | Type::DATE | Type::OID => 4,
        Type::INT8 | Type::FLOAT8 | Type::TIME | Type::TIMESTAMP | Type::TIMESTAMPTZ => 8,
        Type::TIMETZ => 12,
        Type::INTERVAL | Type::UUID => 16,
        Type::NAME => 64,
        _ => -1,
    }
}

/// Fills in `typlen` and, where `schema` (the result's Arrow schema) has decimals, `typmod`.
pub fn complete(fields: Vec<FieldInfo>, schema: Option<&Schema>) -> Vec<FieldInfo> {
    fields
        .into_iter()
        .enumerate()
        .map(|(i, field)| {
            let field = match client_name(field.name()) {
                name if name.len() < field.name().len() => FieldInfo::new(
                    name.to_owned(),
                    field.table_id(),
                    field.column_id(),
                    field.datatype().clone(),
                    field.format(),
                )
                .with_format_options(Arc::clone(field.format_options())),
                _ => field,
            };
            let size = type_size(field.datatype());
            let field = field.with_type_size(size);
            let modifier = schema
                .and_then(|s| s.fields().get(i))
                .and_then(|f| typmod(f.data_type()));
            match modifier {
                Some(m) if *field.datatype() == Type::NUMERIC => field.with_type_modifier(m),
                _ => field,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion_postgres::pgwire::api::results::FieldFormat;

    #[test]
    fn numeric_columns_carry_precision_and_scale() {
        let schema = Schema::new(vec![
            Field::new("price", DataType::Decimal128(10, 2), false),
            Field::new("n", DataType::Int64, false),
        ]);
        let fields = vec![
            FieldInfo::new("price".into(), None, None, Type::NUMERIC, FieldFormat::Text),
            FieldInfo::new("n".into(), None, None, Type::INT8, FieldFormat::Text),
        ];
        let done = complete(fields, Some(&schema));
        assert_eq!(done[0].type_modifier(), (10 << 16 | 2) + 4);
        assert_eq!(done[0].type_size(), -1);
        assert_eq!(done[1].type_modifier(), -1);
        assert_eq!(done[1].type_size(), 8);
    }
}

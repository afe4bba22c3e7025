//! PostgreSQL's meaning of type names DataFusion reads differently or not at all, through
//! DataFusion's `TypePlanner` extension point, so it holds wherever a type is written
//! (casts, `CREATE TABLE` columns, `PREPARE` parameter types, `TRY_CAST`):
//! - `float` is `double precision` (DataFusion: a 4-byte real), `float(p)` is a `real`
//!   up to 24 bits of precision and a `double precision` up to 53, beyond which
//!   PostgreSQL refuses it (22023);
//! - the catalog's one-byte `"char"` and the identifier type `name` are text (datapunk
//!   has one character type);
//! - `uuid` is Arrow's canonical `arrow.uuid` (DataFusion has none); reading text as a
//!   uuid is `pg::uuid`'s analyzer rule.
//!
//! An unconstrained `x::numeric` stays a syntax rewrite in `dialect`: its scale is the
//! operand's, which no type name can say.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::datatype::DataTypeExt;
use datafusion::common::Result;
use datafusion::logical_expr::planner::TypePlanner;
use datafusion::sql::sqlparser::ast::{self, ExactNumberInfo};

use crate::pg::fault::Fault;

/// See the module header; types it does not know are the planner it was put over's
/// (datafusion-pg-catalog's, for `oid`, `regclass`, ...).
#[derive(Debug, Default)]
pub struct PostgresTypes {
    over: Option<Arc<dyn TypePlanner>>,
}

impl PostgresTypes {
    /// PostgreSQL's types, asked before `over`.
    pub fn over(over: Option<Arc<dyn TypePlanner>>) -> Self {
        Self { over }
    }
}

impl TypePlanner for PostgresTypes {
    #[allow(deprecated)] // `plan_type` is where plain types are answered.
    fn plan_type_field(&self, sql_type: &ast::DataType) -> Result<Option<FieldRef>> {
        if matches!(sql_type, ast::DataType::Uuid) {
            return Ok(Some(crate::pg::uuid::uuid_type_field()));
        }
        if let Some(t) = self.plan_type(sql_type)? {
            return Ok(Some(t.into_nullable_field_ref()));
        }
        match &self.over {
            Some(over) => over.plan_type_field(sql_type),
            None => Ok(None),
        }
    }

    #[allow(deprecated)] // `plan_type_field` falls back on this for plain types.
    fn plan_type(&self, sql_type: &ast::DataType) -> Result<Option<DataType>> {
        Ok(match sql_type {
            ast::DataType::Float(info) => Some(float_type(info)?),
            ast::DataType::Custom(name, modifiers) if modifiers.is_empty() => {
                text_alias(name).then_some(DataType::Utf8)
            }
            _ => None,
        })
    }
}

/// PostgreSQL's `float(p)`: bits of precision choose the width.
fn float_type(info: &ExactNumberInfo) -> Result<DataType> {
    let bits = match info {
        ExactNumberInfo::None => return Ok(DataType::Float64),
        ExactNumberInfo::Precision(p) | ExactNumberInfo::PrecisionAndScale(p, _) => *p,
    };
    match bits {
        0 => Err(Fault::InvalidArgument(
            "precision for type float must be at least 1 bit".to_owned(),
        )
        .into()),
        1..=24 => Ok(DataType::Float32),
        25..=53 => Ok(DataType::Float64),
        _ => Err(Fault::InvalidArgument(
            "precision for type float must be less than 54 bits".to_owned(),
        )
        .into()),
    }
}

/// `"char"` (quoted: unquoted `char` is `character`) and `name`, alone or in
/// `pg_catalog`.
fn text_alias(name: &ast::ObjectName) -> bool {
    let parts: Vec<&ast::Ident> = name.0.iter().filter_map(|p| p.as_ident()).collect();
    let (schema, last) = match parts.as_slice() {
        [last] => (None, *last),
        [schema, last] => (Some(*schema), *last),
        _ => return false,
    };
    if schema.is_some_and(|s| !s.value.eq_ignore_ascii_case("pg_catalog")) {
        return false;
    }
    match last.quote_style {
        Some('"') => last.value == "char" || last.value == "name",
        Some(_) => false,
        None => last.value.eq_ignore_ascii_case("name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

    fn custom(parts: &[Ident]) -> ast::DataType {
        ast::DataType::Custom(ObjectName::from(parts.to_vec()), vec![])
    }

    #[test]
    #[allow(deprecated)]
    fn float_precision_chooses_real_or_double_as_postgres_does() {
        let plan = |info| PostgresTypes::default().plan_type(&ast::DataType::Float(info));
        assert_eq!(
            plan(ExactNumberInfo::None).unwrap(),
            Some(DataType::Float64)
        );
        assert_eq!(
            plan(ExactNumberInfo::Precision(24)).unwrap(),
            Some(DataType::Float32)
        );
        assert_eq!(
            plan(ExactNumberInfo::Precision(25)).unwrap(),
            Some(DataType::Float64)
        );
        let too_wide = plan(ExactNumberInfo::Precision(54))
            .unwrap_err()
            .to_string();
        assert!(too_wide.contains("less than 54 bits"), "{too_wide}");
    }

    #[test]
    #[allow(deprecated)]
    fn quoted_char_and_name_are_text_but_unquoted_char_is_not_custom() {
        let text = Some(DataType::Utf8);
        let plan = |t: ast::DataType| PostgresTypes::default().plan_type(&t).unwrap();
        assert_eq!(plan(custom(&[Ident::with_quote('"', "char")])), text);
        assert_eq!(plan(custom(&[Ident::new("name")])), text);
        assert_eq!(
            plan(custom(&[Ident::new("pg_catalog"), Ident::new("name")])),
            text
        );
        assert_eq!(
            plan(custom(&[Ident::new("other"), Ident::new("name")])),
            None
        );
        assert_eq!(plan(custom(&[Ident::new("widget")])), None);
    }
}

//! The catalog functions tools call while browsing (SQLAlchemy's inspector, psql's
//! describe commands, pgjdbc's `DatabaseMetaData`, DBeaver), answered from what datapunk
//! has: every object is visible, there are no sequences and no indexes, sizes are not
//! tracked (0 bytes), there are no stored expressions (defaults), types are found by name in the one type mapping, and datapunk's
//! own functions have signatures, descriptions and definitions from their documentation
//! ([`crate::pg::function_doc`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, AsArray, Int32Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;

use crate::pg::system_info::constant_udf;

/// The `pg_*_is_visible(oid)` functions: true (every object is on the search path).
/// `pg_table_is_visible` stays datafusion-pg-catalog's (also always true).
const VISIBILITY_FUNCTIONS: &[&str] = &[
    "pg_function_is_visible",
    "pg_type_is_visible",
    "pg_collation_is_visible",
    "pg_conversion_is_visible",
    "pg_operator_is_visible",
    "pg_opclass_is_visible",
    "pg_opfamily_is_visible",
    "pg_statistics_obj_is_visible",
    "pg_ts_config_is_visible",
    "pg_ts_dict_is_visible",
    "pg_ts_parser_is_visible",
    "pg_ts_template_is_visible",
];

/// Size functions of a relation or database (bigint bytes): 0, as PostgreSQL reports an
/// empty relation; the lake's files are not relations PostgreSQL would size.
const SIZE_FUNCTIONS: &[&str] = &[
    "pg_table_size",
    "pg_indexes_size",
    "pg_relation_size",
    "pg_total_relation_size",
    "pg_database_size",
];

/// Every function of this module.
pub fn udfs() -> Vec<ScalarUDF> {
    let mut all: Vec<ScalarUDF> = VISIBILITY_FUNCTIONS
        .iter()
        .map(|name| {
            constant_udf(
                name,
                [1],
                ScalarValue::Boolean(Some(true)),
                Volatility::Stable,
            )
        })
        .collect();
    all.extend(SIZE_FUNCTIONS.iter().map(|name| {
        constant_udf(
            name,
            [1, 2],
            ScalarValue::Int64(Some(0)),
            Volatility::Stable,
        )
    }));
    // No sequence owns a column; no index has a definition (there are no indexes).
    all.push(constant_udf(
        "pg_get_serial_sequence",
        [2],
        ScalarValue::Utf8(None),
        Volatility::Stable,
    ));
    all.push(constant_udf(
        "pg_get_indexdef",
        [1, 2, 3],
        ScalarValue::Utf8(None),
        Volatility::Stable,
    ));
    // datapunk stores no expressions (column defaults, index predicates).
    all.push(constant_udf(
        "pg_get_expr",
        [2, 3],
        ScalarValue::Utf8(None),
        Volatility::Stable,
    ));
    all.push(to_regtype_udf());
    all.extend(function_description_udfs());
    all
}

/// Type names `to_regtype` knows besides each type's `regtype` and internal names.
const TYPE_ALIASES: &[(&str, &str)] = &[
    ("int", "int4"),
    ("decimal", "numeric"),
    ("float", "float8"),
    ("timestamp", "timestamp"),
    ("timestamptz", "timestamptz"),
    ("time", "time"),
    ("varchar", "varchar"),
    ("char", "bpchar"),
    ("bool", "bool"),
];

/// Type oids by every name `to_regtype` accepts (lower case).
fn types_by_name() -> &'static HashMap<String, u32> {
    static NAMES: OnceLock<HashMap<String, u32>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = HashMap::new();
        for oid in 0..=10_000 {
            if let Some(t) = postgres_types::Type::from_oid(oid) {
                names.insert(t.name().to_owned(), oid);
                names.insert(crate::pg::system_info::regtype_name(&t), oid);
            }
        }
        for (alias, name) in TYPE_ALIASES {
            if let Some(&oid) = names.get(*name) {
                names.insert((*alias).to_owned(), oid);
            }
        }
        names
    })
}

/// The oid of the type named `name` as SQL writes it (`integer`, `int4`, `pg_catalog.text`,
/// `numeric(10,2)`, `text[]`), if datapunk knows it.
pub fn type_oid(name: &str) -> Option<u32> {
    let name = name.trim().trim_matches('"').to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let name = match name.find('(') {
        Some(open) if name.ends_with(')') || name.ends_with("[]") => {
            let close = name.rfind(')').unwrap_or(name.len());
            format!("{}{}", name[..open].trim_end(), &name[close + 1..])
        }
        _ => name.to_owned(),
    };
    let names = types_by_name();
    if let Some(element) = name.strip_suffix("[]") {
        let element = names.get(element.trim_end())?;
        let element = postgres_types::Type::from_oid(*element)?;
        return names.get(&format!("_{}", element.name())).copied();
    }
    names.get(name.as_str()).copied()
}

/// `to_regtype(text)`: the type's oid, NULL for an unknown name (psycopg's `TypeInfo`).
fn to_regtype_udf() -> ScalarUDF {
    create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = arrays[0].as_string::<i32>();
            let oids: Int32Array = names
                .iter()
                .map(|n| n.and_then(type_oid).and_then(|o| i32::try_from(o).ok()))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(oids)))
        }),
    )
}

/// `pg_get_function_result(oid)`, `pg_get_function_arguments(oid)` and
/// `obj_description(oid [, catalog])` (psql `\df`, `\df+`) and `pg_get_functiondef(oid)`
/// (psql `\sf`, DBeaver's source tab): the documented signature, description and
/// definition of datapunk's functions ([`crate::pg::function_doc`]); NULL for the functions of
/// the static pg_proc, which carry none here. `pg_get_function_sqlbody`,
/// `shobj_description` and `col_description`: always NULL (no SQL bodies or comments).
fn function_description_udfs() -> Vec<ScalarUDF> {
    let lookups = [
        ("pg_get_function_result", DocField::Result),
        ("pg_get_function_arguments", DocField::Arguments),
        ("obj_description", DocField::Description),
        ("pg_get_functiondef", DocField::Definition),
    ];
    let mut all: Vec<ScalarUDF> = lookups
        .into_iter()
        .map(|(name, answer)| {
            let arities = if name == "obj_description" {
                vec![1, 2]
            } else {
                vec![1]
            };
            let signature = Signature::one_of(
                arities
                    .into_iter()
                    .map(datafusion::logical_expr::TypeSignature::Any)
                    .collect(),
                Volatility::Stable,
            );
            ScalarUDF::new_from_impl(DocLookup {
                name,
                signature,
                answer,
            })
        })
        .collect();
    all.extend(
        [
            "pg_get_function_sqlbody",
            "shobj_description",
            "col_description",
        ]
        .into_iter()
        .map(|name| constant_udf(name, [1, 2], ScalarValue::Utf8(None), Volatility::Stable)),
    );
    all
}

/// What a [`DocLookup`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DocField {
    Result,
    Arguments,
    Description,
    Definition,
}

impl DocField {
    fn of(self, doc: &crate::pg::function_doc::FunctionDoc) -> String {
        match self {
            DocField::Result => doc.result.to_owned(),
            DocField::Arguments => doc.arguments(),
            DocField::Description => doc.description.to_owned(),
            DocField::Definition => function_definition(doc),
        }
    }
}

/// A function of an oid answered from datapunk's function docs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DocLookup {
    name: &'static str,
    signature: Signature,
    answer: DocField,
}

impl ScalarUDFImpl for DocLookup {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let oids = datafusion::arrow::compute::cast(&arrays[0], &DataType::Int64)?;
        let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        // obj_description(oid, catalog) describes functions only for 'pg_proc'.
        let catalogs = arrays
            .get(1)
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8))
            .transpose()?;
        let out: datafusion::arrow::array::StringArray = (0..oids.len())
            .map(|i| {
                let about_functions = catalogs.as_ref().is_none_or(|c| {
                    let c = c.as_string::<i32>();
                    c.is_valid(i) && c.value(i).ends_with("pg_proc")
                });
                if oids.is_null(i) || !about_functions {
                    return None;
                }
                crate::pg::function_doc::by_oid(oids.value(i)).map(|d| self.answer.of(d))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// A documented function as `pg_get_functiondef` prints a built-in one.
fn function_definition(doc: &crate::pg::function_doc::FunctionDoc) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION public.{name}({})\n RETURNS {}\n LANGUAGE internal\n IMMUTABLE\nAS $function${name}$function$\n",
        doc.arguments(),
        doc.result,
        name = doc.name,
    )
}

#[cfg(test)]
mod tests {
    use super::type_oid;

    #[test]
    fn type_names_as_sql_writes_them() {
        assert_eq!(type_oid("integer"), Some(23));
        assert_eq!(type_oid("int4"), Some(23));
        assert_eq!(type_oid("pg_catalog.text"), Some(25));
        assert_eq!(type_oid("numeric(10,2)"), Some(1700));
        assert_eq!(type_oid("timestamp with time zone"), Some(1184));
        assert_eq!(type_oid("text[]"), Some(1009));
        assert_eq!(type_oid("double precision"), Some(701));
        assert_eq!(type_oid("hstore"), None);
    }
}

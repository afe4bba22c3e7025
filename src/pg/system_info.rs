//! PostgreSQL functions whose answers depend on datapunk or on the connection:
//! `version()` and `current_user` / `session_user` / `user`; and the catalog functions
//! tools and analysts call that DataFusion lacks (`format_type`, `pg_typeof`, ...).
//!
//! `version()` and the startup `server_version` come from the same constants so drivers
//! (SQLAlchemy, JDBC) parse one consistent version.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;

/// The PostgreSQL version datapunk speaks (protocol and catalog follow PostgreSQL 16).
pub const PG_VERSION: &str = "16.6";
/// `server_version_num` for [`PG_VERSION`].
pub const PG_VERSION_NUM: &str = "160006";

/// `server_version` as sent at startup and by `SHOW server_version`.
pub fn server_version() -> String {
    format!("{PG_VERSION} (datapunk {})", env!("CARGO_PKG_VERSION"))
}

/// The `version()` string, in PostgreSQL's shape so drivers can parse it.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (datapunk {}) on {}-{}, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// A function of `arity` arguments of any type that always answers `value` (its type is
/// the return type). Any argument types, because clients pass oids as int4 or int8;
/// `arity` may be a list (`1 | 2` as `&[1, 2]`).
pub(crate) fn constant_udf(
    name: &str,
    arity: impl Into<Vec<usize>>,
    value: ScalarValue,
    volatility: Volatility,
) -> ScalarUDF {
    use datafusion::logical_expr::TypeSignature;
    let forms = arity
        .into()
        .into_iter()
        .map(|n| {
            if n == 0 {
                TypeSignature::Nullary
            } else {
                TypeSignature::Any(n)
            }
        })
        .collect();
    let signature = Signature::one_of(forms, volatility);
    ScalarUDF::new_from_impl(Constant {
        name: name.to_owned(),
        signature,
        value,
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Constant {
    name: String,
    signature: Signature,
    value: ScalarValue,
}

impl ScalarUDFImpl for Constant {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(
        &self,
        _args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

fn text(value: String) -> ScalarValue {
    ScalarValue::Utf8(Some(value))
}

/// `version()`.
pub fn version_udf() -> ScalarUDF {
    constant_udf(
        "version",
        [0],
        text(version_string()),
        Volatility::Immutable,
    )
}

/// `pg_get_viewdef(oid [, pretty])`: NULL (DataGrip, DBeaver); warehouse views are defined by
/// their scripts.
pub fn pg_get_viewdef_udf() -> ScalarUDF {
    constant_udf(
        "pg_get_viewdef",
        [1, 2],
        ScalarValue::Utf8(None),
        Volatility::Stable,
    )
}

/// `txid_current()` (DataGrip): datapunk has no write transactions; always 1.
pub fn txid_current_udf() -> ScalarUDF {
    constant_udf(
        "txid_current",
        [0],
        ScalarValue::Int64(Some(1)),
        Volatility::Stable,
    )
}

/// `pg_tablespace_location(oid)`: the empty string, PostgreSQL's answer for the default
/// tablespaces (datapunk has no others).
pub fn pg_tablespace_location_udf() -> ScalarUDF {
    constant_udf(
        "pg_tablespace_location",
        [1],
        text(String::new()),
        Volatility::Stable,
    )
}

/// `pg_postmaster_start_time()`: when this server process started.
pub fn pg_postmaster_start_time_udf() -> ScalarUDF {
    static STARTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let micros = *STARTED.get_or_init(|| chrono::Utc::now().timestamp_micros());
    constant_udf(
        "pg_postmaster_start_time",
        [0],
        ScalarValue::TimestampMicrosecond(Some(micros), Some("+00:00".into())),
        Volatility::Stable,
    )
}

/// `information_schema._pg_expandarray(int2[])` (pgjdbc's `getPrimaryKeys`, Metabase,
/// Tableau): PostgreSQL returns one `(x, n)` row per element; this answers the first
/// element with `n = 1`, enough for the single-column keys catalogs list here (the lake
/// and warehouse have no keys at all).
pub fn pg_expandarray_udf() -> ScalarUDF {
    use datafusion::arrow::array::{Array, AsArray, Int16Builder, Int32Builder, StructArray};
    use datafusion::arrow::datatypes::{Field, Fields, Int16Type};
    let fields = Fields::from(vec![
        Field::new("x", DataType::Int16, true),
        Field::new("n", DataType::Int32, true),
    ]);
    let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int16, true)));
    let out = fields.clone();
    create_udf(
        "_pg_expandarray",
        vec![list],
        DataType::Struct(fields),
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let lists = arrays[0].as_list::<i32>();
            let mut x = Int16Builder::new();
            let mut n = Int32Builder::new();
            for i in 0..lists.len() {
                let first = (!lists.is_null(i))
                    .then(|| lists.value(i))
                    .filter(|v| !v.is_empty() && !v.is_null(0))
                    .map(|v| v.as_primitive::<Int16Type>().value(0));
                x.append_option(first);
                n.append_option(first.map(|_| 1));
            }
            let columns: Vec<Arc<dyn Array>> = vec![Arc::new(x.finish()), Arc::new(n.finish())];
            Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(
                out.clone(),
                columns,
                None,
            )?)))
        }),
    )
}

/// PostgreSQL's `pg_size_pretty(bigint)`: 10 kB steps as PostgreSQL rounds them.
pub fn pg_size_pretty(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    let mut size = bytes;
    if size.abs() < 10 * 1024 {
        return format!("{size} bytes");
    }
    let mut unit = 0;
    size = (size + if size < 0 { -512 } else { 512 }) / 1024;
    while size.abs() >= 10 * 1024 && unit + 1 < UNITS.len() {
        size = (size + if size < 0 { -512 } else { 512 }) / 1024;
        unit += 1;
    }
    format!("{size} {}", UNITS[unit])
}

/// `pg_size_pretty(bigint)`.
pub fn pg_size_pretty_udf() -> ScalarUDF {
    create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let sizes = datafusion::common::cast::as_int64_array(&arrays[0])?;
            let out: datafusion::arrow::array::StringArray =
                sizes.iter().map(|v| v.map(pg_size_pretty)).collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// `current_setting(name)` ([`crate::pg::settings`]): unknown names are an error (42704).
pub fn current_setting_udf() -> ScalarUDF {
    create_udf(
        "current_setting",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = datafusion::common::cast::as_string_array(&arrays[0])?;
            let mut out = datafusion::arrow::array::StringBuilder::new();
            for name in names.iter() {
                match name {
                    None => out.append_null(),
                    Some(n) => match crate::pg::settings::value(n) {
                        Some(v) => out.append_value(v),
                        None => {
                            return Err(
                                crate::pg::fault::Fault::UnrecognizedSetting(n.to_owned()).into()
                            )
                        }
                    },
                }
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    )
}

/// `pg_typeof(x)`: the name of the PostgreSQL type clients are told `x` has (the one
/// mapping of `pg::types`), as PostgreSQL's `regtype` prints it (`integer`,
/// `timestamp without time zone`, `text[]`).
pub fn pg_typeof_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(PgTypeof {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgTypeof {
    signature: Signature,
}

/// `regtypeout` of a type: SQL's spelling where PostgreSQL has one.
pub(crate) fn regtype_name(pg_type: &postgres_types::Type) -> String {
    use postgres_types::Type;
    if let postgres_types::Kind::Array(element) = pg_type.kind() {
        return format!("{}[]", regtype_name(element));
    }
    let name = match *pg_type {
        Type::BOOL => "boolean",
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::VARCHAR => "character varying",
        Type::BPCHAR => "character",
        Type::CHAR => "\"char\"",
        Type::TIME => "time without time zone",
        Type::TIMETZ => "time with time zone",
        Type::TIMESTAMP => "timestamp without time zone",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        _ => pg_type.name(),
    };
    name.to_owned()
}

impl ScalarUDFImpl for PgTypeof {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let name = match args.arg_fields.first().map(crate::pg::types::pg_type) {
            Some(Ok(pg_type)) if args.arg_fields[0].data_type() != &DataType::Null => {
                regtype_name(&pg_type)
            }
            _ => "unknown".to_owned(),
        };
        Ok(ColumnarValue::Scalar(text(name)))
    }
}

/// `pg_is_in_recovery()`: datapunk is never a standby.
pub fn pg_is_in_recovery_udf() -> ScalarUDF {
    constant_udf(
        "pg_is_in_recovery",
        [0],
        ScalarValue::Boolean(Some(false)),
        Volatility::Stable,
    )
}

/// `current_user`, `session_user` and `user` for one connection's logged-in user.
/// `pg_backend_pid()` for one connection: the pid its client got in BackendKeyData (what
/// `pg_cancel_backend` and `pg_stat_ssl.pid` go by).
pub fn backend_pid_udf(pid: i32) -> ScalarUDF {
    constant_udf(
        "pg_backend_pid",
        [0],
        ScalarValue::Int32(Some(pid)),
        Volatility::Stable,
    )
}

/// `current_schema()` and `current_schemas(include_implicit)` for one connection, read
/// from its search path at each call (`path`): the first schema of the path, and the
/// path (with `pg_catalog` first when implicit schemas are asked for, as PostgreSQL has).
pub fn search_path_udfs(path: impl Fn() -> Vec<String> + Send + Sync + 'static) -> Vec<ScalarUDF> {
    use datafusion::arrow::array::{BooleanArray, ListBuilder, StringBuilder};
    use datafusion::arrow::datatypes::Field;
    let path = Arc::new(path);
    let first = Arc::clone(&path);
    let schema = create_udf(
        "current_schema",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(
                first().into_iter().next(),
            )))
        }),
    );
    let schemas = create_udf(
        "current_schemas",
        vec![DataType::Boolean],
        DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let implicit = arrays[0]
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| datafusion::error::DataFusionError::Internal("boolean".into()))?;
            let mut out = ListBuilder::new(StringBuilder::new());
            for i in 0..implicit.len() {
                if implicit.is_valid(i) && implicit.value(i) {
                    out.values().append_value("pg_catalog");
                }
                for schema in path().into_iter().filter(|s| s != "pg_catalog") {
                    out.values().append_value(schema);
                }
                out.append(true);
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    );
    vec![schema, schemas]
}

pub fn user_udfs(user: &str) -> Vec<ScalarUDF> {
    ["current_user", "session_user", "user"]
        .into_iter()
        .map(|name| constant_udf(name, [0], text(user.to_owned()), Volatility::Stable))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn size_pretty_matches_postgres() {
        assert_eq!(super::pg_size_pretty(10239), "10239 bytes");
        assert_eq!(super::pg_size_pretty(10240), "10 kB");
        assert_eq!(super::pg_size_pretty(1_000_000), "977 kB");
        assert_eq!(super::pg_size_pretty(123_456_789), "118 MB");
    }
}

/// PostgreSQL's `format(fmt, args...)` with `%s`, `%I` (identifier, quoted when needed),
/// `%L` (literal, `NULL` for NULL) and `%%` (Metabase builds names and types with it).
pub fn format_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Format {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Format {
    signature: Signature,
}

/// `%I`: a name as PostgreSQL's `quote_ident` writes it.
fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// One row of `format`.
fn format_row(template: &str, args: &[Option<String>]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut next = args.iter();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') => out.push_str(next.next().and_then(Option::as_deref).unwrap_or("")),
            Some('I') => out.push_str(&quote_ident(
                next.next().and_then(Option::as_deref).unwrap_or(""),
            )),
            Some('L') => match next.next().and_then(Option::as_deref) {
                Some(v) => out.push_str(&format!("'{}'", v.replace('\'', "''"))),
                None => out.push_str("NULL"),
            },
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

impl ScalarUDFImpl for Format {
    fn name(&self) -> &str {
        "format"
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
        use datafusion::arrow::array::{Array, AsArray, StringArray};
        use datafusion::arrow::compute::cast;
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = arrays
            .iter()
            .map(|a| cast(a, &DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let out: StringArray = (0..rows)
            .map(|row| {
                let template = text.first().map(|t| t.as_string::<i32>())?;
                if template.is_null(row) {
                    return None;
                }
                let values: Vec<Option<String>> = text[1..]
                    .iter()
                    .map(|a| {
                        let a = a.as_string::<i32>();
                        (!a.is_null(row)).then(|| a.value(row).to_owned())
                    })
                    .collect();
                Some(format_row(template.value(row), &values))
            })
            .collect();
        Ok(ColumnarValue::Array(std::sync::Arc::new(out)))
    }
}

#[cfg(test)]
mod format_tests {
    use super::format_row;

    #[test]
    fn format_follows_postgres() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(format_row("%s", &[s("int8")]), "int8");
        assert_eq!(
            format_row("%I.%I", &[s("lake"), s("Orders")]),
            "lake.\"Orders\""
        );
        assert_eq!(
            format_row("%L and %L", &[s("it's"), None]),
            "'it''s' and NULL"
        );
        assert_eq!(format_row("100%%", &[]), "100%");
    }
}

/// `format_type(oid, typmod)` as PostgreSQL prints it: datafusion-pg-catalog's, except
/// that a numeric of scale 0 keeps it (`numeric(38,0)`; it printed `numeric(38)`).
pub fn format_type_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(FormatType(
        datafusion_postgres::datafusion_pg_catalog::pg_catalog::format_type::create_format_type_udf(
        ),
    ))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatType(ScalarUDF);

const NUMERIC_OID: i64 = 1700;

impl ScalarUDFImpl for FormatType {
    fn name(&self) -> &str {
        "format_type"
    }

    fn signature(&self) -> &Signature {
        self.0.signature()
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let named = self.0.invoke_with_args(args)?.into_array(rows)?;
        let named = datafusion::arrow::compute::cast(&named, &DataType::Utf8)?;
        let (Some(oids), Some(typmods)) = (arrays.first(), arrays.get(1)) else {
            return Ok(ColumnarValue::Array(named));
        };
        let int64 = |a| datafusion::arrow::compute::cast(a, &DataType::Int64);
        let (oids, typmods) = (int64(oids)?, int64(typmods)?);
        let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let typmods = typmods.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let names: datafusion::arrow::array::StringArray = named
            .as_string::<i32>()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let typmod = typmods.is_valid(i).then(|| typmods.value(i));
                match (oids.is_valid(i).then(|| oids.value(i)), typmod) {
                    (Some(NUMERIC_OID), Some(m)) if m >= 4 && (m - 4) & 0xffff == 0 => {
                        Some(format!("numeric({},0)", ((m - 4) >> 16) & 0xffff))
                    }
                    _ => name.map(str::to_owned),
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(names)))
    }
}

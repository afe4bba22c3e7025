//! The crate's error type and the one mapping from errors (ours and DataFusion's) to
//! SQLSTATE codes with PostgreSQL-style messages.
//!
//! `server::errors` turns the result into wire errors; nothing else decides a SQLSTATE.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use postgres_types::Type;

use crate::pg::types::{input_type_name, pg_type};
use crate::sqlstate::SqlState;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with context.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot execute {statement} in a read-only database: schemas lake and warehouse are maintained by datapunk")]
    ReadOnly { statement: String },
    #[error("permission denied: {what} requires an admin user")]
    NotAdmin { what: String },
    /// A table or schema the user may not read (`what`: `table lake.customers`).
    #[error("permission denied for {what}")]
    PermissionDenied { what: String },
    #[error("{path}:{line}: {message}")]
    Script {
        path: String,
        line: usize,
        message: String,
    },
    #[error("lake: {0}")]
    Lake(String),
    #[error("{what} \"{name}\" does not exist")]
    Undefined { what: &'static str, name: String },
    #[error("{what} \"{name}\" already exists")]
    Duplicate { what: &'static str, name: String },
    /// The object exists but cannot be used yet (55000).
    #[error("{0}")]
    NotReady(String),
    #[error("column \"{column}\" does not exist: {hint}")]
    UndefinedColumn { column: String, hint: String },
    #[error("invalid {what} name \"{name}\": {rule}")]
    InvalidName {
        what: &'static str,
        name: String,
        rule: &'static str,
    },
    /// A function argument outside the values the function accepts (22023).
    #[error("{function}: {message}")]
    InvalidArgument {
        function: &'static str,
        message: String,
    },
    /// An input larger than a function can take (54000).
    #[error("{function}: {message}")]
    LimitExceeded {
        function: &'static str,
        message: String,
    },
    /// The cluster's scheduler cannot be reached (08001).
    #[error("the cluster's scheduler at {scheduler} cannot be reached: {cause}")]
    ClusterUnreachable { scheduler: String, cause: String },
    /// An error a query met on a cluster executor, with the SQLSTATE it has locally.
    #[error("{message}")]
    Remote { state: SqlState, message: String },
    /// The cluster lost the query while it ran (08006).
    #[error("the cluster lost this query: {0}")]
    ClusterLost(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

impl Error {
    /// The SQLSTATE a client sees for this error and the message to send.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            Error::Config(_) | Error::InvalidArgument { .. } => SqlState::INVALID_PARAMETER_VALUE,
            Error::ReadOnly { .. } => SqlState::READ_ONLY_SQL_TRANSACTION,
            Error::NotAdmin { .. } | Error::PermissionDenied { .. } => {
                SqlState::INSUFFICIENT_PRIVILEGE
            }
            Error::Script { .. } | Error::Lake(_) => SqlState::INTERNAL_ERROR,
            Error::Undefined { .. } => SqlState::UNDEFINED_OBJECT,
            Error::Duplicate { .. } => SqlState::DUPLICATE_OBJECT,
            Error::InvalidName { .. } => SqlState::INVALID_NAME,
            Error::UndefinedColumn { .. } => SqlState::UNDEFINED_COLUMN,
            Error::NotReady(_) => SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            Error::LimitExceeded { .. } => SqlState::PROGRAM_LIMIT_EXCEEDED,
            Error::Io(_) => SqlState::IO_ERROR,
            Error::ClusterUnreachable { .. } => {
                SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
            }
            Error::ClusterLost(_) => SqlState::CONNECTION_FAILURE,
            Error::Remote { state, .. } => *state,
            Error::DataFusion(e) => classify_datafusion(e).0,
        }
    }
}

/// The DataFusion error for a bad argument of `function` (22023 on the wire).
pub fn invalid_argument(function: &'static str, message: impl Into<String>) -> DataFusionError {
    DataFusionError::External(Box::new(Error::InvalidArgument {
        function,
        message: message.into(),
    }))
}

/// The DataFusion error for an input beyond what `function` can take (54000 on the wire).
pub fn limit_exceeded(function: &'static str, message: impl Into<String>) -> DataFusionError {
    DataFusionError::External(Box::new(Error::LimitExceeded {
        function,
        message: message.into(),
    }))
}

/// Maps any error raised while planning or running a query to a SQLSTATE and a
/// PostgreSQL-style message (lower case, no "Error during planning:" prefixes).
pub fn classify(error: &(dyn std::error::Error + 'static)) -> (SqlState, String) {
    if let Some(e) = error.downcast_ref::<DataFusionError>() {
        return classify_datafusion(e);
    }
    if let Some(e) = error.downcast_ref::<Error>() {
        return match e {
            Error::DataFusion(df) => classify_datafusion(df),
            other => (other.sqlstate(), other.to_string()),
        };
    }
    if let Some(fault) = error.downcast_ref::<crate::pg::fault::Fault>() {
        return (fault_state(fault), fault.to_string());
    }
    if let Some(e) = error.downcast_ref::<ParserError>() {
        return (SqlState::SYNTAX_ERROR, parser_message(e));
    }
    if let Some(e) = error.downcast_ref::<ArrowError>() {
        return classify_arrow(e);
    }
    if let Some(e) = error.downcast_ref::<std::io::Error>() {
        return (SqlState::IO_ERROR, e.to_string());
    }
    (SqlState::INTERNAL_ERROR, error.to_string())
}

/// Where in the client's `sql` the error points, as PostgreSQL's `P` field counts
/// (characters from 1): from the span DataFusion's planner attached (an unknown column,
/// table or function), or the parser's location of a syntax error. Spans come from the
/// client's text as parsed, never from rewritten SQL; a node the dialect wrote has none.
pub fn position(error: &DataFusionError, sql: &str) -> Option<usize> {
    let (line, column) = match error.diagnostic().and_then(|d| d.span) {
        Some(span) => (span.start.line as usize, span.start.column as usize),
        None => parser_location(error)?,
    };
    if (line, column) == (usize::MAX, 0) {
        return Some(sql.trim_end().chars().count() + 1);
    }
    if line == 0 || column == 0 {
        return None;
    }
    let before: usize = sql
        .split('\n')
        .take(line - 1)
        .map(|l| l.chars().count() + 1)
        .sum();
    let at = before + column;
    (at <= sql.chars().count()).then_some(at)
}

/// The line and column of a syntax error, from sqlparser's message (`... at Line: 1,
/// Column: 8`: the parser's errors carry no location otherwise).
fn parser_location(error: &DataFusionError) -> Option<(usize, usize)> {
    let DataFusionError::SQL(parser_error, _) = error else {
        return None;
    };
    let message = parser_error.to_string();
    if message.ends_with("found: EOF") {
        // At the end of the input, as PostgreSQL's `syntax error at end of input` points.
        return Some((usize::MAX, 0));
    }
    let (_, at) = message.rsplit_once(" at Line: ")?;
    let (line, column) = at.split_once(", Column: ")?;
    let column: String = column.chars().take_while(char::is_ascii_digit).collect();
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// The SQLSTATE of a fault the PostgreSQL layer raised.
fn fault_state(fault: &crate::pg::fault::Fault) -> SqlState {
    use crate::pg::fault::Fault;
    match fault {
        Fault::IntervalOutOfRange => SqlState::DATETIME_FIELD_OVERFLOW,
        Fault::MalformedArrayLiteral(_) => SqlState::INVALID_TEXT_REPRESENTATION,
        Fault::PatternEndsWithEscape => SqlState::INVALID_ESCAPE_SEQUENCE,
        Fault::EscapeNotOneCharacter => SqlState::INVALID_ESCAPE_CHARACTER,
        Fault::UnrecognizedSetting(_) => SqlState::UNDEFINED_OBJECT,
        Fault::InvalidArgument(_) => SqlState::INVALID_PARAMETER_VALUE,
        Fault::NumericOverflow => SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        Fault::DivisionByZero => SqlState::DIVISION_BY_ZERO,
    }
}

fn parser_message(e: &ParserError) -> String {
    match e {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => {
            format!("syntax error: {m}")
        }
        ParserError::RecursionLimitExceeded => "statement is too deeply nested".to_owned(),
    }
}

fn classify_arrow(e: &ArrowError) -> (SqlState, String) {
    match e {
        ArrowError::DivideByZero => (SqlState::DIVISION_BY_ZERO, "division by zero".to_owned()),
        ArrowError::CastError(m) | ArrowError::ParseError(m) => {
            text_cast_error(m).unwrap_or_else(|| (SqlState::INVALID_TEXT_REPRESENTATION, m.clone()))
        }
        ArrowError::ArithmeticOverflow(m) => (SqlState::NUMERIC_VALUE_OUT_OF_RANGE, m.clone()),
        ArrowError::MemoryError(m) => (SqlState::OUT_OF_MEMORY, m.clone()),
        ArrowError::ExternalError(inner) => classify(inner.as_ref()),
        other => (SqlState::INTERNAL_ERROR, other.to_string()),
    }
}

/// Arrow's "Cannot cast string 'abc' to value of Int32 type" as PostgreSQL words it:
/// `invalid input syntax for type integer: "abc"` (22P02; 22007 for dates and times).
fn text_cast_error(message: &str) -> Option<(SqlState, String)> {
    let rest = message.strip_prefix("Cannot cast string '")?;
    let (text, arrow_type) = rest.rsplit_once("' to value of ")?;
    let arrow_type: DataType = arrow_type.strip_suffix(" type")?.parse().ok()?;
    let pg = pg_type(&Arc::new(Field::new("", arrow_type, true))).ok()?;
    let code = match pg {
        Type::DATE | Type::TIME | Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::INTERVAL => {
            SqlState::INVALID_DATETIME_FORMAT
        }
        _ => SqlState::INVALID_TEXT_REPRESENTATION,
    };
    let name = input_type_name(&pg);
    Some((
        code,
        format!("invalid input syntax for type {name}: \"{text}\""),
    ))
}

/// The DataFusion arm of [`classify`]. Some failures only arrive as plan strings; the
/// string matching stays here, and every branch has an integration test.
pub fn classify_datafusion(error: &DataFusionError) -> (SqlState, String) {
    let root = error.find_root();
    match root {
        DataFusionError::SQL(e, _) => (SqlState::SYNTAX_ERROR, parser_message(e)),
        DataFusionError::ArrowError(e, _) => classify_arrow(e),
        DataFusionError::SchemaError(e, _) => {
            use datafusion::common::SchemaError;
            match e.as_ref() {
                SchemaError::FieldNotFound { field, .. } => (
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{}\" does not exist", field.name),
                ),
                SchemaError::AmbiguousReference { field } => (
                    SqlState::AMBIGUOUS_COLUMN,
                    format!("column reference \"{}\" is ambiguous", field.name),
                ),
                other => (
                    SqlState::DUPLICATE_OBJECT,
                    strip_backtrace(&other.to_string()),
                ),
            }
        }
        DataFusionError::NotImplemented(m) => (SqlState::FEATURE_NOT_SUPPORTED, m.clone()),
        DataFusionError::Configuration(m) => (SqlState::INVALID_PARAMETER_VALUE, m.clone()),
        DataFusionError::ResourcesExhausted(m) => {
            (SqlState::OUT_OF_MEMORY, format!("out of memory: {m}"))
        }
        DataFusionError::IoError(e) => (SqlState::IO_ERROR, e.to_string()),
        DataFusionError::ObjectStore(e) => (SqlState::IO_ERROR, e.to_string()),
        DataFusionError::ParquetError(e) => (SqlState::IO_ERROR, e.to_string()),
        DataFusionError::External(inner) => classify(inner.as_ref()),
        DataFusionError::Plan(m) => classify_plan_message(m),
        DataFusionError::Execution(m) => classify_execution_message(m),
        other => (SqlState::INTERNAL_ERROR, other.message().into_owned()),
    }
}

fn strip_backtrace(m: &str) -> String {
    m.split("\n\nbacktrace")
        .next()
        .unwrap_or(m)
        .trim()
        .to_owned()
}

fn classify_plan_message(m: &str) -> (SqlState, String) {
    let m = strip_backtrace(m);
    let lower = m.to_lowercase();
    // "table 'datapunk.public.nope' not found"
    if lower.starts_with("table '") && lower.ends_with("' not found") {
        let name = &m["table '".len()..m.len() - "' not found".len()];
        let short = name.rsplit('.').next().unwrap_or(name);
        return (
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{short}\" does not exist"),
        );
    }
    if lower.contains("invalid function")
        || lower.contains("no function matches")
        || lower.contains("unknown function")
        || lower.contains("function not found")
        || lower.contains("failed to coerce arguments to satisfy a call to")
        || lower.contains("does not support zero arguments")
    {
        return (SqlState::UNDEFINED_FUNCTION, m);
    }
    if lower.contains("schema") && lower.contains("not found") {
        return (SqlState::UNDEFINED_TABLE, m);
    }
    if lower.contains("cannot coerce")
        || lower.contains("cannot infer common")
        || lower.contains("type coercion")
        || lower.contains("cannot be cast")
        || lower.contains("unsupported cast")
        || lower.contains("cannot automatically convert")
        || lower.contains("there isn't a common type")
    {
        return (SqlState::DATATYPE_MISMATCH, m);
    }
    if lower.contains("unsupported") || lower.contains("not supported") {
        return (SqlState::FEATURE_NOT_SUPPORTED, m);
    }
    (SqlState::SYNTAX_ERROR, m)
}

fn classify_execution_message(m: &str) -> (SqlState, String) {
    let m = strip_backtrace(m);
    let lower = m.to_lowercase();
    if lower.contains("divide by zero") || lower.contains("division by zero") {
        (SqlState::DIVISION_BY_ZERO, "division by zero".to_owned())
    } else if lower.contains("cannot cast")
        || lower.contains("cast error")
        || lower.contains("invalid input syntax")
        || lower.contains("parse error")
    {
        (SqlState::INVALID_TEXT_REPRESENTATION, m)
    } else if lower.contains("coercion failed") || lower.contains("no function matches") {
        (SqlState::UNDEFINED_FUNCTION, m)
    } else if lower.contains("statement timeout") || lower.contains("canceling statement") {
        (SqlState::QUERY_CANCELED, m)
    } else {
        (SqlState::INVALID_PARAMETER_VALUE, m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax_error_position(sql: &str) -> Option<usize> {
        let error = crate::engine::prepare::parse(sql).expect_err("does not parse");
        position(&error, sql)
    }

    #[test]
    fn syntax_errors_point_where_postgres_points() {
        // PostgreSQL 15: `SELEC 1` at 1; `SELECT 1 +` and `SELECT (1 + 2` at the end.
        assert_eq!(syntax_error_position("SELEC 1"), Some(1));
        assert_eq!(syntax_error_position("SELECT 1 +"), Some(11));
        assert_eq!(syntax_error_position("SELECT (1 + 2"), Some(14));
        assert_eq!(syntax_error_position("SELECT 1;\nSELEC 2"), Some(11));
    }

    #[test]
    fn arrow_text_casts_are_worded_as_postgres_words_them() {
        let cast = |m: &str| classify_arrow(&ArrowError::CastError(m.to_owned()));
        assert_eq!(
            cast("Cannot cast string 'abc' to value of Int32 type"),
            (
                SqlState::INVALID_TEXT_REPRESENTATION,
                "invalid input syntax for type integer: \"abc\"".to_owned()
            )
        );
        assert_eq!(
            cast("Cannot cast string 'it's' to value of Decimal128(38, 10) type").1,
            "invalid input syntax for type numeric: \"it's\""
        );
        assert_eq!(
            cast("Cannot cast string 'x' to value of Date32 type").0,
            SqlState::INVALID_DATETIME_FORMAT
        );
        assert_eq!(
            cast("Cannot cast string 'x' to value of Time64(µs) type").1,
            "invalid input syntax for type time: \"x\""
        );
        assert_eq!(
            cast("Cannot cast string 'x' to value of Timestamp(µs, \"+00:00\") type").1,
            "invalid input syntax for type timestamp with time zone: \"x\""
        );
        let other = "Cannot cast to Int32 from a list";
        assert_eq!(
            cast(other),
            (SqlState::INVALID_TEXT_REPRESENTATION, other.to_owned())
        );
    }

    #[test]
    fn unknown_table_gets_postgres_wording() {
        let e = DataFusionError::Plan("table 'datapunk.public.nope' not found".into());
        assert_eq!(
            classify_datafusion(&e),
            (
                SqlState::UNDEFINED_TABLE,
                "relation \"nope\" does not exist".into()
            )
        );
    }

    #[test]
    fn nested_errors_are_unwrapped() {
        let e = DataFusionError::Context(
            "ctx".into(),
            Box::new(DataFusionError::ArrowError(
                Box::new(ArrowError::DivideByZero),
                None,
            )),
        );
        assert_eq!(classify_datafusion(&e).0, SqlState::DIVISION_BY_ZERO);
    }
}

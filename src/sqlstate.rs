//! The SQLSTATE codes datapunk sends, named after PostgreSQL's condition names.
//!
//! Only codes listed here are ever emitted. Imports nothing from the crate.

/// A five-character SQLSTATE code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlState(pub &'static str);

impl SqlState {
    pub const SYNTAX_ERROR: Self = Self("42601");
    pub const UNDEFINED_TABLE: Self = Self("42P01");
    pub const UNDEFINED_COLUMN: Self = Self("42703");
    pub const UNDEFINED_FUNCTION: Self = Self("42883");
    pub const AMBIGUOUS_COLUMN: Self = Self("42702");
    pub const DATATYPE_MISMATCH: Self = Self("42804");
    pub const DUPLICATE_OBJECT: Self = Self("42710");
    pub const INVALID_NAME: Self = Self("42602");
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: Self = Self("55000");
    pub const INSUFFICIENT_PRIVILEGE: Self = Self("42501");
    pub const FEATURE_NOT_SUPPORTED: Self = Self("0A000");
    pub const INVALID_PARAMETER_VALUE: Self = Self("22023");
    pub const DIVISION_BY_ZERO: Self = Self("22012");
    pub const INVALID_TEXT_REPRESENTATION: Self = Self("22P02");
    pub const NUMERIC_VALUE_OUT_OF_RANGE: Self = Self("22003");
    pub const INVALID_DATETIME_FORMAT: Self = Self("22007");
    pub const DATETIME_FIELD_OVERFLOW: Self = Self("22008");
    pub const INVALID_ESCAPE_SEQUENCE: Self = Self("22025");
    pub const INVALID_ESCAPE_CHARACTER: Self = Self("22019");
    pub const UNDEFINED_OBJECT: Self = Self("42704");
    pub const INVALID_BINARY_REPRESENTATION: Self = Self("22P03");
    pub const CHARACTER_NOT_IN_REPERTOIRE: Self = Self("22021");
    pub const ARRAY_SUBSCRIPT_ERROR: Self = Self("2202E");
    pub const OUT_OF_MEMORY: Self = Self("53200");
    pub const PROGRAM_LIMIT_EXCEEDED: Self = Self("54000");
    pub const TOO_MANY_CONNECTIONS: Self = Self("53300");
    pub const IO_ERROR: Self = Self("58030");
    pub const QUERY_CANCELED: Self = Self("57014");
    pub const ADMIN_SHUTDOWN: Self = Self("57P01");
    pub const READ_ONLY_SQL_TRANSACTION: Self = Self("25006");
    pub const IN_FAILED_SQL_TRANSACTION: Self = Self("25P02");
    pub const INVALID_PASSWORD: Self = Self("28P01");
    pub const INVALID_AUTHORIZATION_SPECIFICATION: Self = Self("28000");
    pub const INVALID_CATALOG_NAME: Self = Self("3D000");
    pub const PROTOCOL_VIOLATION: Self = Self("08P01");
    /// A server datapunk depends on (the cluster's scheduler) cannot be reached.
    pub const SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION: Self = Self("08001");
    /// A connection to the cluster broke while the query ran.
    pub const CONNECTION_FAILURE: Self = Self("08006");
    pub const INTERNAL_ERROR: Self = Self("XX000");

    pub fn code(self) -> &'static str {
        self.0
    }

    /// User mistakes (classes 22 and 42) are logged at debug, not error.
    pub fn is_user_error(self) -> bool {
        self.0.starts_with("22")
            || self.0.starts_with("42")
            || self.0 == "0A000"
            || self.0 == "25006"
    }
}

impl std::fmt::Display for SqlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

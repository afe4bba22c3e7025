//! The faults the PostgreSQL layer knows the moment it raises them, as typed values: a
//! function or rule returns `Fault::X.into()` and `crate::error` decides the SQLSTATE
//! from the variant, never from the message. The messages are PostgreSQL's.

use datafusion::error::DataFusionError;

/// A fault in the PostgreSQL layer, with PostgreSQL's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An interval that does not fit (22008).
    IntervalOutOfRange,
    /// A quoted array literal that is not one (22P02).
    MalformedArrayLiteral(String),
    /// A LIKE pattern ending with its escape character (22025).
    PatternEndsWithEscape,
    /// An ESCAPE of more than one character (22019).
    EscapeNotOneCharacter,
    /// `current_setting` of a setting datapunk does not have (42704).
    UnrecognizedSetting(String),
    /// An argument a function refuses, with why (22023).
    InvalidArgument(String),
    /// A numeric result past the digits it may have (22003).
    NumericOverflow,
    /// A division (or remainder) by zero (22012).
    DivisionByZero,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::IntervalOutOfRange => f.write_str("interval out of range"),
            Fault::MalformedArrayLiteral(text) => write!(f, "malformed array literal: \"{text}\""),
            Fault::PatternEndsWithEscape => {
                f.write_str("LIKE pattern must not end with escape character")
            }
            Fault::EscapeNotOneCharacter => {
                f.write_str("invalid escape string: escape string must be empty or one character")
            }
            Fault::UnrecognizedSetting(name) => {
                write!(f, "unrecognized configuration parameter \"{name}\"")
            }
            Fault::InvalidArgument(message) => f.write_str(message),
            Fault::NumericOverflow => f.write_str("numeric field overflow"),
            Fault::DivisionByZero => f.write_str("division by zero"),
        }
    }
}

impl std::error::Error for Fault {}

impl From<Fault> for DataFusionError {
    fn from(fault: Fault) -> Self {
        DataFusionError::External(Box::new(fault))
    }
}

//! `LIKE ... ESCAPE 'c'` with any escape character, as PostgreSQL allows (SQLAlchemy
//! writes `ESCAPE '/'`): DataFusion's LIKE knows only the backslash, so the dialect turns
//! `x LIKE p ESCAPE 'c'` into `x LIKE pg_like_pattern(p, 'c')`, the same pattern written
//! with backslash escapes. `ESCAPE ''` means no escape character at all. A pattern ending
//! with its escape character is refused whatever the text (22025); PostgreSQL refuses it
//! only when matching reaches the end (`'a' LIKE 'a/' ESCAPE '/'` is false there).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};

use crate::pg::fault::Fault;

/// The function the dialect calls.
pub const FUNCTION: &str = "pg_like_pattern";

/// `pattern` with escape character `escape` (none when empty) rewritten for a LIKE whose
/// escape character is the backslash.
///
/// # Errors
/// The pattern ends with the escape character, or the escape is longer than one
/// character.
pub fn backslash_pattern(pattern: &str, escape: &str) -> Result<String> {
    let mut chars = escape.chars();
    let escape = match (chars.next(), chars.next()) {
        (None, _) => None,
        (Some(c), None) => Some(c),
        _ => return Err(Fault::EscapeNotOneCharacter.into()),
    };
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut rest = pattern.chars();
    while let Some(c) = rest.next() {
        if Some(c) == escape {
            match rest.next() {
                Some(next @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(next);
                }
                Some(next) => out.push(next),
                None => return Err(Fault::PatternEndsWithEscape.into()),
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// `pg_like_pattern(pattern, escape)`.
pub fn udf() -> ScalarUDF {
    create_udf(
        FUNCTION,
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let patterns = arrays[0].as_string::<i32>();
            let escapes = arrays[1].as_string::<i32>();
            let mut out = StringBuilder::new();
            for i in 0..patterns.len() {
                if patterns.is_null(i) || escapes.is_null(i) {
                    out.append_null();
                } else {
                    out.append_value(backslash_pattern(patterns.value(i), escapes.value(i))?);
                }
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::backslash_pattern;

    #[test]
    fn escapes_become_backslashes() {
        assert_eq!(backslash_pattern("pg/_%", "/").unwrap(), "pg\\_%");
        assert_eq!(backslash_pattern("a//b", "/").unwrap(), "a/b");
        assert_eq!(backslash_pattern("a\\b/%", "/").unwrap(), "a\\\\b\\%");
        assert_eq!(backslash_pattern("a\\_", "").unwrap(), "a\\\\_");
        assert_eq!(backslash_pattern("x!_y", "!").unwrap(), "x\\_y");
        assert!(backslash_pattern("ab/", "/").is_err());
        assert!(backslash_pattern("ab", "//").is_err());
    }
}

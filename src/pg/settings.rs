//! The server settings clients read, in one table: `current_setting(name)`, `SHOW name`
//! and the `pg_settings` view all answer from [`SETTINGS`], with PostgreSQL's names,
//! values and types. Per-session settings (`search_path`, `application_name`) are the
//! session's, not here.

use crate::pg::system_info::{server_version, PG_VERSION_NUM};

/// One server setting as `pg_settings` describes it.
#[derive(Debug)]
pub struct Setting {
    /// PostgreSQL's spelling (`TimeZone`, `DateStyle`); lookups ignore case.
    pub name: &'static str,
    pub value: fn() -> String,
    /// `bool`, `integer`, `string` or `enum`.
    pub vartype: &'static str,
    pub category: &'static str,
    pub short_desc: &'static str,
}

const fn fixed(
    name: &'static str,
    value: fn() -> String,
    vartype: &'static str,
    category: &'static str,
    short_desc: &'static str,
) -> Setting {
    Setting {
        name,
        value,
        vartype,
        category,
        short_desc,
    }
}

const PRESET: &str = "Preset Options";
const LOCALE: &str = "Client Connection Defaults / Locale and Formatting";
const STATEMENT: &str = "Client Connection Defaults / Statement Behavior";
const COMPATIBILITY: &str = "Version and Platform Compatibility / Previous PostgreSQL Versions";

/// Every server setting datapunk answers, sorted by name as `pg_settings` lists them.
pub const SETTINGS: &[Setting] = &[
    fixed(
        "block_size",
        || "8192".into(),
        "integer",
        PRESET,
        "Shows the size of a disk block.",
    ),
    fixed(
        "client_encoding",
        || "UTF8".into(),
        "string",
        LOCALE,
        "Sets the client's character set encoding.",
    ),
    fixed(
        "DateStyle",
        || "ISO, MDY".into(),
        "string",
        LOCALE,
        "Sets the display format for date and time values.",
    ),
    fixed(
        "default_transaction_isolation",
        || "read committed".into(),
        "enum",
        STATEMENT,
        "Sets the transaction isolation level of each new transaction.",
    ),
    fixed(
        "default_transaction_read_only",
        || "off".into(),
        "bool",
        STATEMENT,
        "Sets the default read-only status of new transactions.",
    ),
    fixed(
        "extra_float_digits",
        || "1".into(),
        "integer",
        LOCALE,
        "Sets the number of digits displayed for floating-point values.",
    ),
    fixed(
        "integer_datetimes",
        || "on".into(),
        "bool",
        PRESET,
        "Shows whether datetimes are integer based.",
    ),
    fixed(
        "IntervalStyle",
        || "postgres".into(),
        "enum",
        LOCALE,
        "Sets the display format for interval values.",
    ),
    fixed(
        "lc_collate",
        || "en_US.UTF-8".into(),
        "string",
        PRESET,
        "Shows the collation order locale.",
    ),
    fixed(
        "lc_ctype",
        || "en_US.UTF-8".into(),
        "string",
        PRESET,
        "Shows the character classification and case conversion locale.",
    ),
    fixed(
        "max_identifier_length",
        || "63".into(),
        "integer",
        PRESET,
        "Shows the maximum identifier length.",
    ),
    fixed(
        "max_index_keys",
        || "32".into(),
        "integer",
        PRESET,
        "Shows the maximum number of index keys.",
    ),
    fixed(
        "server_encoding",
        || "UTF8".into(),
        "string",
        PRESET,
        "Shows the server (database) character set encoding.",
    ),
    fixed(
        "server_version",
        server_version,
        "string",
        PRESET,
        "Shows the server version.",
    ),
    fixed(
        "server_version_num",
        || PG_VERSION_NUM.into(),
        "integer",
        PRESET,
        "Shows the server version as an integer.",
    ),
    fixed(
        "standard_conforming_strings",
        || "on".into(),
        "bool",
        COMPATIBILITY,
        "Causes '...' strings to treat backslashes literally.",
    ),
    fixed(
        "TimeZone",
        || "UTC".into(),
        "string",
        LOCALE,
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    fixed(
        "transaction_isolation",
        || "read committed".into(),
        "enum",
        STATEMENT,
        "Sets the current transaction's isolation level.",
    ),
    fixed(
        "transaction_read_only",
        || "off".into(),
        "bool",
        STATEMENT,
        "Sets the current transaction's read-only status.",
    ),
];

/// The setting `name` (any case; `transaction isolation level` is SHOW's spelling).
pub fn find(name: &str) -> Option<&'static Setting> {
    let name = match name.to_ascii_lowercase().as_str() {
        "transaction isolation level" => "transaction_isolation".to_owned(),
        "time zone" => "timezone".to_owned(),
        other => other.to_owned(),
    };
    SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(&name))
}

/// The value of setting `name`, if datapunk has it.
pub fn value(name: &str) -> Option<String> {
    find(name).map(|s| (s.value)())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorted_and_found_in_any_case() {
        let names: Vec<String> = super::SETTINGS
            .iter()
            .map(|s| s.name.to_lowercase())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(super::value("timezone").as_deref(), Some("UTC"));
        assert_eq!(super::value("TIME ZONE").as_deref(), Some("UTC"));
        assert_eq!(
            super::find("transaction isolation level").unwrap().name,
            "transaction_isolation"
        );
        assert!(super::find("nope").is_none());
    }
}

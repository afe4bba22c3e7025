//! Warehouse scripts on disk: finding `NNN_name.sql` files in numeric order, parsing each
//! into the one `CREATE TABLE|VIEW warehouse.x AS <query>` it must hold, and turning
//! errors into `path:line: message`.

use std::path::{Path, PathBuf};

use datafusion::sql::sqlparser::ast::{ObjectName, Query, Spanned, Statement};

use crate::engine::WAREHOUSE_SCHEMA;

/// What a script creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Table,
    View,
}

/// One parsed script.
#[derive(Debug, Clone)]
pub struct Script {
    /// Shown in errors and logs, e.g. `sql/warehouse/020_customers.sql`.
    pub path: String,
    pub table: String,
    pub kind: Kind,
    pub query: Query,
    /// 1-based line of the statement, for errors that carry no position.
    pub line: usize,
    /// The column point lookups use (`-- key: column`; else the first column).
    pub key: Option<String>,
}

/// A script that could not be read or parsed.
#[derive(Debug, Clone)]
pub struct ScriptError {
    pub path: String,
    pub line: usize,
    pub message: String,
    /// The table the file name promises, to keep its status row.
    pub table: Option<String>,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

/// The `NNN_name.sql` files of `dir`, in numeric order (then by name).
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut scripts: Vec<(u64, String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".sql") || name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        let Ok(order) = digits.parse::<u64>() else {
            tracing::warn!(script = %path.display(), "ignoring warehouse script without a numeric prefix (NNN_name.sql)");
            continue;
        };
        scripts.push((order, name.to_owned(), path));
    }
    scripts.sort();
    Ok(scripts.into_iter().map(|(_, _, p)| p).collect())
}

/// `020_customers.sql` → `customers`.
fn table_from_file_name(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".sql").unwrap_or(file_name);
    let name = stem
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches('_');
    (!name.is_empty()).then(|| name.to_owned())
}

fn warehouse_table(name: &ObjectName) -> Result<String, String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| p.to_string().trim_matches('"').to_owned())
        .collect();
    match parts.as_slice() {
        [table] => Ok(table.clone()),
        [schema, table] if schema == WAREHOUSE_SCHEMA => Ok(table.clone()),
        _ => Err(format!(
            "a warehouse script must create a table or view in schema {WAREHOUSE_SCHEMA}, not {name}"
        )),
    }
}

/// Reads and parses one script file.
///
/// # Errors
/// The file cannot be read, or see [`parse`].
pub fn load(path: &Path, shown_as: &str) -> Result<Script, ScriptError> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, file_name, shown_as),
        Err(e) => Err(ScriptError {
            path: shown_as.to_owned(),
            line: 1,
            message: e.to_string(),
            table: table_from_file_name(file_name),
        }),
    }
}

/// Parses a script's text.
///
/// # Errors
/// It does not parse, or is not exactly one CREATE TABLE/VIEW ... AS.
pub fn parse(text: &str, file_name: &str, shown_as: &str) -> Result<Script, ScriptError> {
    let fail = |line: usize, message: String| ScriptError {
        path: shown_as.to_owned(),
        line,
        message,
        table: table_from_file_name(file_name),
    };
    let statements = crate::engine::prepare::parse(text).map_err(|e| {
        let message = match &e {
            datafusion::error::DataFusionError::SQL(parser, _) => parser.to_string(),
            other => other.to_string(),
        };
        fail(
            crate::engine::prepare::line_in_message(&message).unwrap_or(1),
            message
                .split(" at Line: ")
                .next()
                .unwrap_or(&message)
                .trim_start_matches("sql parser error: ")
                .to_owned(),
        )
    })?;
    let [statement] = statements.as_slice() else {
        let line = statements
            .get(1)
            .map_or(1, |s| usize::try_from(s.span().start.line).unwrap_or(1));
        return Err(fail(
            line,
            format!(
                "a warehouse script holds exactly one CREATE TABLE ... AS or CREATE VIEW ... AS statement, found {}",
                statements.len()
            ),
        ));
    };
    let line = usize::try_from(statement.span().start.line)
        .unwrap_or(1)
        .max(1);
    let (name, kind, query) = match statement {
        Statement::CreateTable(create) => match &create.query {
            Some(q) => (&create.name, Kind::Table, q.as_ref().clone()),
            None => {
                return Err(fail(
                    line,
                    "CREATE TABLE needs AS <query>: warehouse tables are built from queries".into(),
                ))
            }
        },
        Statement::CreateView(view) => (&view.name, Kind::View, view.query.as_ref().clone()),
        other => {
            return Err(fail(
                line,
                format!(
                "a warehouse script must be CREATE TABLE ... AS or CREATE VIEW ... AS, found: {}",
                other.to_string().chars().take(60).collect::<String>()
            ),
            ))
        }
    };
    let table = warehouse_table(name).map_err(|m| fail(line, m))?;
    Ok(Script {
        path: shown_as.to_owned(),
        table,
        kind,
        query,
        line,
        key: crate::engine::prepare::comment_setting(text, "key"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("020_x.sql");
        std::fs::write(&p, "-- header\n\nCREATE TABLE warehouse.x AS\nSELEC 1").unwrap();
        let e = load(&p, "sql/warehouse/020_x.sql").unwrap_err();
        assert!(
            e.to_string().starts_with("sql/warehouse/020_x.sql:4: "),
            "{e}"
        );
        assert_eq!(e.table.as_deref(), Some("x"));
    }

    #[test]
    fn scripts_sort_numerically() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["100_c.sql", "20_b.sql", "010_a.sql", "notes.txt"] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let names: Vec<String> = list(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["010_a.sql", "20_b.sql", "100_c.sql"]);
    }
}

//! Audience definitions: one `NAME.sql` file per audience in the audiences folder, each
//! one query returning one row per member. `CREATE AUDIENCE` writes such a file
//! (atomically) and `DROP AUDIENCE` removes it, so definitions made over SQL survive a
//! restart exactly as files put there by hand do.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::durable::{sync_dir, write_atomically};

/// The column that identifies a member unless the definition names another
/// (`-- key: column` on a line of its own).
pub const DEFAULT_KEY: &str = "customer_id";

/// One audience as defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    pub sql: String,
    pub key_column: String,
    /// A cron schedule of extra refreshes (`-- schedule: pattern`).
    pub schedule: Option<String>,
    /// The file it came from, as errors show it.
    pub path: PathBuf,
}

impl Definition {
    /// Whether an admin opted this audience out of marketing consent
    /// (`-- consent: ignore`).
    pub fn ignores_consent(&self) -> bool {
        crate::engine::prepare::comment_setting(&self.sql, "consent").as_deref() == Some("ignore")
    }
}

/// Whether `name` may name an audience (a lower-case SQL identifier, so `audience.NAME`
/// needs no quotes and the file name is portable).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// The key column a definition names with a `-- key: column` line, else the default.
fn key_column(sql: &str) -> String {
    crate::engine::prepare::comment_setting(sql, "key").unwrap_or_else(|| DEFAULT_KEY.to_owned())
}

/// The audiences folder.
#[derive(Debug, Clone)]
pub struct Definitions {
    dir: PathBuf,
}

impl Definitions {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every definition in the folder, by name; files whose name is not a valid audience
    /// name are reported and skipped.
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn load(&self) -> io::Result<Vec<Definition>> {
        let mut definitions = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(definitions),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if !valid_name(name) {
                tracing::warn!(file = %path.display(), "skipped: an audience name is a lower-case identifier (letters, digits, _)");
                continue;
            }
            let sql = fs::read_to_string(&path)?;
            definitions.push(Definition {
                name: name.to_owned(),
                key_column: key_column(&sql),
                schedule: crate::engine::prepare::comment_setting(&sql, "schedule"),
                sql,
                path,
            });
        }
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(definitions)
    }

    /// `definition` as its file now reads, when the file was edited since (a file that
    /// cannot be read keeps the definition as it was).
    pub fn reread(definition: &Definition) -> Option<Definition> {
        let sql = fs::read_to_string(&definition.path).ok()?;
        (sql != definition.sql).then(|| Definition {
            name: definition.name.clone(),
            key_column: key_column(&sql),
            schedule: crate::engine::prepare::comment_setting(&sql, "schedule"),
            path: definition.path.clone(),
            sql,
        })
    }

    /// The definition `CREATE AUDIENCE name AS sql` makes (not yet written).
    pub fn define(&self, name: &str, sql: &str) -> Definition {
        let sql = format!("{}\n", sql.trim().trim_end_matches(';').trim_end());
        Definition {
            name: name.to_owned(),
            key_column: key_column(&sql),
            schedule: crate::engine::prepare::comment_setting(&sql, "schedule"),
            path: self.dir.join(format!("{name}.sql")),
            sql,
        }
    }

    /// Writes a definition's file atomically.
    ///
    /// # Errors
    /// The folder cannot be created or written.
    pub fn write(&self, definition: &Definition) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        write_atomically(&definition.path, definition.sql.as_bytes())
    }

    /// Removes a definition's file.
    ///
    /// # Errors
    /// The file cannot be removed.
    pub fn remove(&self, definition: &Definition) -> io::Result<()> {
        match fs::remove_file(&definition.path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert!(valid_name("win_back"));
        assert!(valid_name("_x1"));
        assert!(!valid_name("WinBack"));
        assert!(!valid_name("1x"));
        assert!(!valid_name("../x"));
        assert!(!valid_name(""));
        assert_eq!(key_column("SELECT 1"), "customer_id");
        let sql = "-- who\n-- key: email\n-- schedule: */15 * * * *\nSELECT email FROM t";
        assert_eq!(key_column(sql), "email");
        assert_eq!(
            crate::engine::prepare::comment_setting(sql, "schedule").as_deref(),
            Some("*/15 * * * *")
        );
    }

    #[test]
    fn definitions_round_trip_through_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let defs = Definitions::new(dir.path().join("audiences"));
        assert!(defs.load().expect("load").is_empty());
        let d = defs.define("vip", "SELECT customer_id FROM t ;");
        defs.write(&d).expect("write");
        std::fs::write(dir.path().join("audiences/Bad Name.sql"), "SELECT 1").expect("write");
        let loaded = defs.load().expect("load");
        assert_eq!(loaded, vec![d.clone()]);
        assert_eq!(loaded[0].sql, "SELECT customer_id FROM t\n");
        defs.remove(&d).expect("remove");
        assert!(defs.load().expect("load").is_empty());
    }
}

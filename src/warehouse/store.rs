//! The warehouse on disk: each built table is one Parquet file in the state dir's
//! `warehouse/` folder, and `manifest.toml` names the current file of every table with
//! what it was built from. A table is written to a new file (temp name, fsync, rename)
//! and the manifest is then replaced atomically: the manifest is the commit point, so a
//! kill -9 at any moment leaves every table at its last completed build, and a restart
//! serves them without building again. The file a table replaced is kept one build
//! longer, for queries that were reading it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::{read_toml, remove_files_except, sync_dir, write_toml};

const MANIFEST: &str = "manifest.toml";

/// What the builds so far left.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    /// Tables built so far (numbers the files).
    pub builds: u64,
    pub tables: BTreeMap<String, Built>,
}

/// A table's current version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Built {
    /// The Parquet file with its rows.
    pub file: String,
    /// The file before it, kept one build longer for queries reading it.
    pub previous_file: Option<String>,
    /// What it was built from: the script's text and the versions of the tables it read
    /// (empty when that cannot tell: the script calls `now()` or reads a system table).
    pub fingerprint: String,
    /// `schema.name` of each table it read.
    pub reads: Vec<String>,
    pub key_column: String,
    pub script: String,
    pub rows: u64,
    /// When the build completed, in microseconds since the epoch.
    pub built_at_us: i64,
    pub duration_ms: u64,
}

/// The `warehouse/` folder of the state dir.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating) the folder, reads its manifest and removes the files it does not
    /// name (an interrupted build's).
    ///
    /// # Errors
    /// The folder cannot be created or the manifest read.
    pub fn open(dir: PathBuf) -> io::Result<(Self, Manifest)> {
        std::fs::create_dir_all(&dir)?;
        let manifest: Manifest = read_toml(&dir.join(MANIFEST))?;
        let store = Self { dir };
        store.remove_unlisted(&manifest);
        Ok((store, manifest))
    }

    /// Makes `manifest` the committed state.
    ///
    /// # Errors
    /// The disk is full, ...
    pub fn commit(&self, manifest: &Manifest) -> io::Result<()> {
        write_toml(&self.dir.join(MANIFEST), manifest)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Makes the files renamed into the folder durable.
    ///
    /// # Errors
    /// The folder cannot be synced.
    pub fn sync(&self) -> io::Result<()> {
        sync_dir(&self.dir)
    }

    /// Removes the files `manifest` does not name.
    fn remove_unlisted(&self, manifest: &Manifest) {
        let named: Vec<&str> = manifest
            .tables
            .values()
            .flat_map(|t| std::iter::once(t.file.as_str()).chain(t.previous_file.as_deref()))
            .chain([MANIFEST])
            .collect();
        if let Err(e) = remove_files_except(&self.dir, &named) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot list the warehouse folder");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_the_manifest_does_not_name_are_removed_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, mut manifest) = Store::open(dir.path().to_path_buf()).expect("open");
        assert_eq!(manifest, Manifest::default());
        for name in [
            "orders-1.parquet",
            "orders-2.parquet",
            "orders-3.parquet.tmp",
        ] {
            std::fs::write(store.file(name), "x").expect("write");
        }
        manifest.tables.insert(
            "orders".into(),
            Built {
                file: "orders-2.parquet".into(),
                previous_file: Some("orders-1.parquet".into()),
                ..Built::default()
            },
        );
        store.commit(&manifest).expect("commit");
        let (store, reopened) = Store::open(dir.path().to_path_buf()).expect("reopen");
        assert_eq!(reopened, manifest);
        assert!(store.file("orders-1.parquet").exists());
        assert!(store.file("orders-2.parquet").exists());
        assert!(!store.file("orders-3.parquet.tmp").exists());
    }
}

//! Durable state on disk: files written atomically (temp file, fsync, rename, fsync of
//! the folder) and one manifest per audience naming its current files. The manifest is
//! the commit point: a file it does not name is leftover of an interrupted refresh and
//! is removed when the audience is opened, so a kill -9 at any moment leaves either the
//! state before or the state after a refresh.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::durable::{read_toml, remove_files_except, write_toml};

use serde::{Deserialize, Serialize};

/// What an audience's last completed refresh left.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    /// Refreshes completed so far (the id of the last one).
    pub refresh_id: i64,
    /// The key column the members were diffed on.
    pub key_column: String,
    /// The members file, none before the first refresh.
    pub members: Option<String>,
    /// Whether the members file is sorted by the key's value (files of older versions
    /// were sorted by the key's text).
    pub members_sorted_by_key: bool,
    /// The members file before it, kept one refresh longer for queries planned on it.
    pub previous_members: Option<String>,
    /// The change files, oldest first.
    pub changes: Vec<String>,
    /// Change files merged into another by the last compaction, removed by the next
    /// (a query planned before it may still read them).
    pub retired_changes: Vec<String>,
    pub member_count: u64,
    pub entered: u64,
    pub exited: u64,
    /// When the last refresh completed, in microseconds since the epoch.
    pub refreshed_at_us: i64,
    pub duration_ms: u64,
}

const MANIFEST: &str = "manifest.toml";

/// One audience's folder in the state dir.
#[derive(Debug, Clone)]
pub struct AudienceDir {
    dir: PathBuf,
}

impl AudienceDir {
    /// Opens (creating) the folder, reads its manifest and removes files the manifest
    /// does not name (an interrupted refresh's).
    ///
    /// # Errors
    /// The folder cannot be created or read, or the manifest is corrupt.
    pub fn open(dir: PathBuf) -> io::Result<(Self, Manifest)> {
        fs::create_dir_all(&dir)?;
        let this = Self { dir };
        let manifest = this.read_manifest()?;
        let keep: Vec<&str> = manifest
            .members
            .iter()
            .chain(&manifest.previous_members)
            .chain(&manifest.changes)
            .chain(&manifest.retired_changes)
            .map(String::as_str)
            .chain([MANIFEST])
            .collect();
        remove_files_except(&this.dir, &keep)?;
        Ok((this, manifest))
    }

    fn read_manifest(&self) -> io::Result<Manifest> {
        read_toml(&self.dir.join(MANIFEST))
    }

    /// Commits a refresh: its files must already be written and synced.
    ///
    /// # Errors
    /// The manifest cannot be written.
    pub fn commit(&self, manifest: &Manifest) -> io::Result<()> {
        write_toml(&self.dir.join(MANIFEST), manifest)
    }

    /// A file of this audience's folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Removes files no longer named by `manifest` (after a commit replaced them).
    pub fn remove_unlisted(&self, manifest: &Manifest, candidates: &[String]) {
        for name in candidates {
            let listed = manifest.members.as_deref() == Some(name.as_str())
                || manifest.previous_members.as_deref() == Some(name.as_str())
                || manifest.changes.contains(name)
                || manifest.retired_changes.contains(name);
            if !listed {
                let _ = fs::remove_file(self.dir.join(name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_folder_keeps_the_committed_files_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (audience, manifest) = AudienceDir::open(dir.path().join("a")).expect("open");
        assert_eq!(manifest, Manifest::default());
        fs::write(audience.file("members-000001.parquet"), b"one").expect("write");
        fs::write(audience.file("members-000000.parquet"), b"zero").expect("write");
        let committed = Manifest {
            refresh_id: 1,
            key_column: "customer_id".into(),
            members: Some("members-000001.parquet".into()),
            previous_members: Some("members-000000.parquet".into()),
            ..Manifest::default()
        };
        audience.commit(&committed).expect("commit");
        // An interrupted second refresh: its files were written, the manifest was not.
        fs::write(audience.file("members-000002.parquet"), b"two").expect("write");
        fs::write(audience.file("manifest.toml.tmp"), b"half").expect("write");
        let (audience, manifest) = AudienceDir::open(dir.path().join("a")).expect("reopen");
        assert_eq!(manifest, committed);
        assert!(audience.file("members-000001.parquet").exists());
        assert!(audience.file("members-000000.parquet").exists());
        assert!(!audience.file("members-000002.parquet").exists());
        assert!(!audience.file("manifest.toml.tmp").exists());
    }
}

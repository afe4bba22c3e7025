//! Files written so that a crash at any moment leaves the old version or the whole new
//! one: a temporary file, fsync, rename into place, fsync of the folder. Every piece of
//! durable state (audiences, exports, warehouse tables, definitions) is written here.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `path` atomically: a reader sees the old file or the whole new one.
///
/// # Errors
/// The folder is not writable, the disk is full, ...
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// The temporary name `path` is written under before it is renamed into place.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Makes a rename or a new file in `dir` durable.
///
/// # Errors
/// The folder cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads the TOML file `path` (a manifest); a missing file is `T::default()`.
///
/// # Errors
/// The file cannot be read or is not a `T`.
pub fn read_toml<T: serde::de::DeserializeOwned + Default>(path: &Path) -> io::Result<T> {
    match fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e),
    }
}

/// Writes `value` to `path` as TOML, atomically.
///
/// # Errors
/// The disk is full, ...
pub fn write_toml<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let text = toml::to_string(value).map_err(io::Error::other)?;
    write_atomically(path, text.as_bytes())
}

/// Removes the files of `dir` not named in `keep`: what an interrupted write left.
///
/// # Errors
/// The folder cannot be read.
pub fn remove_files_except(dir: &Path, keep: &[&str]) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !keep.contains(&name.to_string_lossy().as_ref()) {
            tracing::info!(file = %entry.path().display(), "removing what an interrupted write left");
            if let Err(e) = fs::remove_file(entry.path()) {
                tracing::warn!(file = %entry.path().display(), error = %e, "cannot remove it");
            }
        }
    }
    Ok(())
}

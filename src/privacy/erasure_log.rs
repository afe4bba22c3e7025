//! The erasure log: every `datapunk_forget` request and every purge that completed it,
//! one JSON line each, appended and fsynced before the request is acknowledged. Nothing
//! is ever rewritten; a line torn by a crash while it was written is dropped when the log
//! is opened, so the log holds exactly the requests that were acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A person (or a lone identifier) is to be forgotten.
    Requested(Request),
    /// The lake files were rewritten without the rows of these requests.
    Purged {
        requests: Vec<u64>,
        /// RFC 3339.
        at: String,
        rows: u64,
    },
}

/// One erasure request as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub request: u64,
    /// RFC 3339.
    pub at: String,
    /// The user who asked.
    pub by: String,
    pub id_type: String,
    pub id: String,
    /// The person the identifier belongs to in the identity table, if it is there.
    pub person_id: Option<i64>,
    /// Every identifier of the person (`id_type`, `id`), the asked one included; the
    /// person itself as (`person`, its id).
    pub identifiers: Vec<(String, String)>,
}

/// The log file, open for appending.
#[derive(Debug)]
pub struct ErasureLog {
    path: PathBuf,
    file: File,
}

impl ErasureLog {
    /// Opens (or creates) the log at `path` and reads its events; a torn last line is
    /// cut off.
    ///
    /// # Errors
    /// The file cannot be read or written, or a complete line is not an event.
    pub fn open(path: &Path) -> io::Result<(Self, Vec<Event>)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(path)?;
        let mut events = Vec::new();
        let mut whole = 0u64;
        let mut reader = BufReader::new(&file);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 {
                break;
            }
            if !line.ends_with('\n') {
                tracing::warn!(log = %path.display(), "erasure log: dropping a line torn by a crash");
                break;
            }
            let event = serde_json::from_str(line.trim_end()).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: line {}: {e}", path.display(), events.len() + 1),
                )
            })?;
            events.push(event);
            whole += n as u64;
        }
        drop(reader);
        if file.metadata()?.len() != whole {
            file.set_len(whole)?;
            file.sync_all()?;
        }
        file.seek(io::SeekFrom::End(0))?;
        if let Some(dir) = path.parent() {
            crate::durable::sync_dir(dir)?;
        }
        Ok((
            Self {
                path: path.to_owned(),
                file,
            },
            events,
        ))
    }

    /// Appends `event` and waits until it is on disk.
    ///
    /// # Errors
    /// The disk is full or the file cannot be written.
    pub fn append(&mut self, event: &Event) -> io::Result<()> {
        let mut line = serde_json::to_string(event).map_err(io::Error::other)?;
        line.push('\n');
        let before = self.file.metadata()?.len();
        let written = self
            .file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Never leave half a line behind an acknowledged one.
            let _ = self.file.set_len(before);
            return Err(e);
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: u64) -> Event {
        Event::Requested(Request {
            request: n,
            at: "2026-12-06T10:00:00Z".into(),
            by: "admin".into(),
            id_type: "email".into(),
            id: format!("p{n}@example.org"),
            person_id: Some(7),
            identifiers: vec![("email".into(), format!("p{n}@example.org"))],
        })
    }

    #[test]
    fn events_survive_reopening_and_a_torn_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("erasure_log.jsonl");
        {
            let (mut log, events) = ErasureLog::open(&path).unwrap();
            assert!(events.is_empty());
            log.append(&request(1)).unwrap();
            log.append(&request(2)).unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"event\":\"requested\",\"requ");
        std::fs::write(&path, &bytes).unwrap();
        let (mut log, events) = ErasureLog::open(&path).unwrap();
        assert_eq!(events, vec![request(1), request(2)]);
        log.append(&request(3)).unwrap();
        drop(log);
        let (_, events) = ErasureLog::open(&path).unwrap();
        assert_eq!(events, vec![request(1), request(2), request(3)]);
    }

    #[test]
    fn a_corrupt_complete_line_is_an_error_not_a_silent_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("erasure_log.jsonl");
        std::fs::write(&path, "not json\n").unwrap();
        assert!(ErasureLog::open(&path).is_err());
    }
}

//! The durable record of an export's runs (`runs.toml` in its state folder, rewritten
//! atomically). A run is recorded as `running` before its file is written and `ok` once
//! the file and its `.done` manifest are in place, so after a crash an interrupted run is
//! found, its partial file removed, and its rows delivered by the next run: never lost,
//! never delivered twice.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::{temp_path, write_atomically};

/// One run of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: i64,
    pub started_us: i64,
    pub finished_us: Option<i64>,
    /// The audience refreshes whose changes it delivers: (from, to].
    pub from_refresh: i64,
    pub to_refresh: i64,
    /// When refresh `to_refresh` ran (0 in runs recorded before it was kept).
    #[serde(default)]
    pub to_refreshed_at_us: i64,
    pub rows: Option<u64>,
    pub file: String,
    /// `running`, `ok` or `failed`.
    pub state: String,
    pub error: Option<String>,
    /// 1 for the first try of these changes, 2 for the retry after a failure, ...
    pub attempt: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct RunsFile {
    #[serde(default)]
    runs: Vec<Run>,
}

/// An export's runs.
#[derive(Debug)]
pub struct Runs {
    path: PathBuf,
    runs: Vec<Run>,
}

impl Runs {
    /// Reads the runs, settling any left `running` by a crash: `ok` when its file and
    /// `.done` manifest made it, `failed` (and its partial file removed) otherwise.
    ///
    /// # Errors
    /// The folder cannot be created or the record is corrupt.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let path = dir.join("runs.toml");
        let runs = match fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str::<RunsFile>(&text)
                    .map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}: {e}", path.display()),
                        )
                    })?
                    .runs
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut this = Self { path, runs };
        let mut settled = false;
        for run in &mut this.runs {
            if run.state != "running" {
                continue;
            }
            settled = true;
            if Path::new(&done_path(&run.file)).exists() {
                run.state = "ok".into();
                tracing::info!(file = %run.file, "an interrupted export run had completed");
            } else {
                for partial in [
                    run.file.clone(),
                    temp_path(Path::new(&run.file)).display().to_string(),
                    temp_path(Path::new(&done_path(&run.file)))
                        .display()
                        .to_string(),
                ] {
                    let _ = fs::remove_file(partial);
                }
                run.state = "failed".into();
                run.error = Some("interrupted (the server stopped during the run)".into());
                tracing::warn!(file = %run.file, "an interrupted export run is retried by the next run");
            }
        }
        if settled {
            this.save()?;
        }
        Ok(this)
    }

    pub fn all(&self) -> &[Run] {
        &self.runs
    }

    /// The refresh the last successful run delivered up to (0 before any).
    pub fn delivered_up_to(&self) -> i64 {
        self.runs
            .iter()
            .rev()
            .find(|r| r.state == "ok")
            .map_or(0, |r| r.to_refresh)
    }

    /// When the refresh the last successful run delivered up to ran: `None` when that
    /// run predates the record of it, `Some(i64::MIN)` before any successful run.
    pub fn delivered_up_to_time(&self) -> Option<i64> {
        match self.runs.iter().rev().find(|r| r.state == "ok") {
            None => Some(i64::MIN),
            Some(r) if r.to_refreshed_at_us > 0 => Some(r.to_refreshed_at_us),
            Some(_) => None,
        }
    }

    /// Failures since the last success.
    pub fn failures_since_ok(&self) -> u32 {
        self.runs
            .iter()
            .rev()
            .take_while(|r| r.state != "ok")
            .count() as u32
    }

    pub fn next_id(&self) -> i64 {
        self.runs.last().map_or(1, |r| r.run_id + 1)
    }

    /// Records `run` (new or updated) durably.
    ///
    /// # Errors
    /// The record cannot be written.
    pub fn record(&mut self, run: Run) -> io::Result<()> {
        match self.runs.iter_mut().find(|r| r.run_id == run.run_id) {
            Some(r) => *r = run,
            None => self.runs.push(run),
        }
        self.save()
    }

    fn save(&self) -> io::Result<()> {
        let text = toml::to_string(&RunsFile {
            runs: self.runs.clone(),
        })
        .map_err(io::Error::other)?;
        write_atomically(&self.path, text.as_bytes())
    }
}

/// The manifest that says an export file is complete.
pub fn done_path(file: &str) -> String {
    format!("{file}.done")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(run_id: i64, state: &str, to_refresh: i64, to_refreshed_at_us: i64) -> Run {
        Run {
            run_id,
            started_us: 0,
            finished_us: None,
            from_refresh: 0,
            to_refresh,
            to_refreshed_at_us,
            rows: None,
            file: format!("/nowhere/run-{run_id}.csv"),
            state: state.into(),
            error: None,
            attempt: 1,
        }
    }

    #[test]
    fn the_delivered_refresh_and_its_time_come_from_the_last_successful_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut runs = Runs::open(dir.path()).expect("open");
        assert_eq!(
            (runs.delivered_up_to(), runs.delivered_up_to_time()),
            (0, Some(i64::MIN))
        );
        runs.record(run(1, "ok", 3, 300)).expect("record");
        runs.record(run(2, "failed", 5, 500)).expect("record");
        assert_eq!(
            (runs.delivered_up_to(), runs.delivered_up_to_time()),
            (3, Some(300))
        );
        // A run recorded before refresh times were kept: its time is unknown.
        runs.record(run(3, "ok", 6, 0)).expect("record");
        assert_eq!(
            (runs.delivered_up_to(), runs.delivered_up_to_time()),
            (6, None)
        );
        // Records written before the field existed read as unknown, too.
        let old = "[[runs]]\nrun_id = 1\nstarted_us = 0\nfrom_refresh = 0\nto_refresh = 2\n\
                   file = \"f.csv\"\nstate = \"ok\"\nattempt = 1\n";
        let other = tempfile::tempdir().expect("tempdir");
        std::fs::write(other.path().join("runs.toml"), old).expect("write");
        let runs = Runs::open(other.path()).expect("open old");
        assert_eq!(
            (runs.delivered_up_to(), runs.delivered_up_to_time()),
            (2, None)
        );
    }
}

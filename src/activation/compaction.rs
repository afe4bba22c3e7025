//! Change-file compaction: an audience's history stays in few files however often it
//! refreshes. Each refresh that changes something writes one change file (level 0);
//! when the history ends with [`FAN_IN`] files of one level they are merged, in order,
//! into one file of the next level. An audience refreshed every 15 minutes for a year
//! then has at most a few dozen change files, and each change row is rewritten once per
//! level (about five times), not once per refresh.
//!
//! A merged file is written and synced before the manifest names it; the files it
//! replaces stay listed as retired until the next compaction (a query planned on them may
//! still be reading), so a kill -9 at any moment leaves either the old files or the new.

use std::fs::File;
use std::path::Path;

use datafusion::error::{DataFusionError, Result};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use super::diff::changes_schema;

/// How many files of one level make one of the next.
pub const FAN_IN: usize = 8;

/// The first and last refresh a change file covers, and its level, from its name:
/// `changes-000007.parquet` (one refresh, level 0) or
/// `changes-000001-000064-l2.parquet` (a merged file).
pub fn parse_name(name: &str) -> Option<(i64, i64, u32)> {
    let stem = name.strip_prefix("changes-")?.strip_suffix(".parquet")?;
    let mut parts = stem.split('-');
    let first: i64 = parts.next()?.parse().ok()?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, None, None) => Some((first, first, 0)),
        (Some(last), Some(level), None) => Some((
            first,
            last.parse().ok()?,
            level.strip_prefix('l')?.parse().ok()?,
        )),
        _ => None,
    }
}

/// The name of the file merging refreshes `first..=last` at `level`.
pub fn merged_name(first: i64, last: i64, level: u32) -> String {
    format!("changes-{first:06}-{last:06}-l{level}.parquet")
}

/// The files to merge next, if the history (oldest first) ends with [`FAN_IN`] files of
/// one level: their index in `changes`, and the level of the file they make.
pub fn due(changes: &[String]) -> Option<(usize, u32)> {
    let start = changes.len().checked_sub(FAN_IN)?;
    let levels: Vec<u32> = changes[start..]
        .iter()
        .map(|name| parse_name(name).map(|(_, _, level)| level))
        .collect::<Option<_>>()?;
    let level = levels[0];
    levels
        .iter()
        .all(|l| *l == level)
        .then_some((start, level + 1))
}

/// Merges `names` (files of `dir`, oldest first) into one file of `level`, synced;
/// returns its name.
///
/// # Errors
/// A name is not a change file's, or a file cannot be read or written.
pub fn merge(dir: &Path, names: &[String], level: u32) -> Result<String> {
    let range = |name: &String| {
        parse_name(name)
            .ok_or_else(|| DataFusionError::Internal(format!("{name} is not a change file")))
    };
    let (Some(first), Some(last)) = (names.first(), names.last()) else {
        return Err(DataFusionError::Internal("nothing to merge".into()));
    };
    let name = merged_name(range(first)?.0, range(last)?.1, level);
    let path = dir.join(&name);
    let written = (|| {
        let mut writer = ArrowWriter::try_new(File::create(&path)?, changes_schema(), None)?;
        for source in names {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(File::open(dir.join(source))?)?.build()?;
            for batch in reader {
                writer.write(&batch?)?;
            }
        }
        writer.into_inner()?.sync_all()?;
        Ok(())
    })();
    match written {
        Ok(()) => Ok(name),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(levels: &[u32]) -> Vec<String> {
        let mut next = 1;
        levels
            .iter()
            .map(|&level| {
                let span = 1 << (3 * level);
                let name = if level == 0 {
                    format!("changes-{next:06}.parquet")
                } else {
                    merged_name(next, next + span - 1, level)
                };
                next += span;
                name
            })
            .collect()
    }

    #[test]
    fn names_say_what_they_cover() {
        assert_eq!(parse_name("changes-000007.parquet"), Some((7, 7, 0)));
        assert_eq!(parse_name(&merged_name(1, 64, 2)), Some((1, 64, 2)));
        assert_eq!(parse_name("members-000007.parquet"), None);
        assert_eq!(parse_name("changes-000007-x.parquet"), None);
    }

    #[test]
    fn eight_files_of_one_level_at_the_end_are_due() {
        assert_eq!(due(&names(&[0; 7])), None);
        assert_eq!(due(&names(&[0; 8])), Some((0, 1)));
        assert_eq!(due(&names(&[1, 0, 0, 0, 0, 0, 0, 0, 0])), Some((1, 1)));
        assert_eq!(due(&names(&[1, 1, 1, 1, 1, 1, 1, 0])), None);
        assert_eq!(due(&names(&[2, 1, 1, 1, 1, 1, 1, 1, 1])), Some((1, 2)));
    }

    #[test]
    fn a_year_of_refreshes_every_quarter_hour_stays_in_few_files() {
        let mut history: Vec<String> = Vec::new();
        let mut rewritten = 0usize;
        for refresh in 1..=35_040 {
            history.push(format!("changes-{refresh:06}.parquet"));
            while let Some((start, level)) = due(&history) {
                let merged: Vec<String> = history.drain(start..).collect();
                let first = parse_name(&merged[0]).map(|r| r.0).unwrap_or_default();
                let last = parse_name(&merged[FAN_IN - 1])
                    .map(|r| r.1)
                    .unwrap_or_default();
                rewritten += (last - first + 1) as usize;
                history.push(merged_name(first, last, level));
            }
        }
        assert!(history.len() <= 7 * 6, "{} files", history.len());
        assert!(rewritten <= 35_040 * 6, "{rewritten} rows rewritten");
        // Merged in order: the ranges follow each other.
        let mut expected = 1;
        for name in &history {
            let (first, last, _) = parse_name(name).expect("a change file");
            assert_eq!(first, expected);
            expected = last + 1;
        }
        assert_eq!(expected, 35_041);
    }
}

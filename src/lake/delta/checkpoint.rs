//! Delta Lake checkpoints: a Parquet file (or the numbered parts of one) holding the
//! table's state at a version, written every so many commits so that readers need not
//! replay the whole log, and so that old commits can be cleaned up. The replay starts
//! from the newest complete checkpoint that every later commit follows; a log without
//! one is replayed from commit 0. Checkpoint rows become the same JSON actions as a
//! commit's lines. V2 checkpoints (UUID-named, with sidecar files) are not read.

use std::collections::BTreeMap;

use bytes::Bytes;
use datafusion::arrow::json::writer::{LineDelimited, WriterBuilder};
use object_store::{ObjectMeta, ObjectStore};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use super::{commit_version, version_of, LOG_FOLDER};
use crate::lake::store::read_object;

/// The columns of a checkpoint this reader needs: the files with their partition values
/// and deletion vectors, the protocol, the schema and the table configuration
/// (statistics, transaction ids and tombstones are not read).
const STATE_COLUMNS: &[&[&str]] = &[
    &["add", "path"],
    &["add", "partitionValues"],
    &["add", "deletionVector"],
    &["protocol"],
    &["metaData", "schemaString"],
    &["metaData", "partitionColumns"],
    &["metaData", "configuration"],
];

/// Which part of a checkpoint a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Part {
    pub version: u64,
    /// 1-based, of `parts`.
    pub part: u64,
    pub parts: u64,
}

impl Part {
    /// `00000000000000000010.checkpoint.parquet` (one part) or
    /// `00000000000000000010.checkpoint.0000000001.0000000003.parquet`.
    pub fn of(file_name: &str) -> Option<Self> {
        let (version, rest) = file_name.split_once(".checkpoint.")?;
        let version = version_of(version)?;
        let rest = rest.strip_suffix("parquet")?;
        if rest.is_empty() {
            return Some(Self {
                version,
                part: 1,
                parts: 1,
            });
        }
        let (part, parts) = rest.strip_suffix('.')?.split_once('.')?;
        let number = |digits: &str| {
            (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<u64>().ok())
                .flatten()
        };
        let (part, parts) = (number(part)?, number(parts)?);
        (1..=parts).contains(&part).then_some(Self {
            version,
            part,
            parts,
        })
    }
}

/// What to read, in order, for the table's current files.
#[derive(Debug)]
pub struct Replay<'a> {
    /// The parts of the checkpoint to start from (none: start at commit 0).
    pub checkpoint: Vec<&'a ObjectMeta>,
    /// The commits after it, in version order.
    pub commits: Vec<(u64, &'a ObjectMeta)>,
}

impl<'a> Replay<'a> {
    /// The shortest replay that reaches the newest version: from the newest complete
    /// checkpoint every later commit follows, else from commit 0.
    ///
    /// # Errors
    /// The log is empty, or a commit is missing with no checkpoint after it.
    pub fn plan(log: &'a [ObjectMeta]) -> Result<Self, String> {
        let mut commits: BTreeMap<u64, &ObjectMeta> = BTreeMap::new();
        let mut checkpoints: BTreeMap<(u64, u64), BTreeMap<u64, &ObjectMeta>> = BTreeMap::new();
        for meta in log {
            let name = meta.location.filename().unwrap_or_default();
            if let Some(version) = commit_version(name) {
                commits.insert(version, meta);
            } else if let Some(part) = Part::of(name) {
                checkpoints
                    .entry((part.version, part.parts))
                    .or_default()
                    .insert(part.part, meta);
            }
        }
        let newest_checkpoint = checkpoints.keys().map(|(v, _)| *v).max();
        let Some(last) = commits.keys().copied().max().max(newest_checkpoint) else {
            return Err(format!("{LOG_FOLDER} has no commits"));
        };
        let follows = |from: u64| (from..=last).all(|v| commits.contains_key(&v));
        let usable = checkpoints
            .iter()
            .rev()
            .find(|((version, parts), found)| found.len() as u64 == *parts && follows(version + 1));
        match usable {
            Some(((version, _), parts)) => Ok(Self {
                checkpoint: parts.values().copied().collect(),
                commits: commits
                    .range(version + 1..)
                    .map(|(v, m)| (*v, *m))
                    .collect(),
            }),
            None => match (0..=last).find(|v| !commits.contains_key(v)) {
                Some(missing) => Err(format!(
                    "{LOG_FOLDER}: commit {missing} is missing and no checkpoint after it \
                     is complete"
                )),
                None => Ok(Self {
                    checkpoint: Vec::new(),
                    commits: commits.into_iter().collect(),
                }),
            },
        }
    }
}

/// The actions of one checkpoint part that make up the table, as JSON objects of the
/// commit form (`{"add": {...}}`).
///
/// # Errors
/// The part cannot be read or is not a checkpoint.
pub async fn actions(
    store: &dyn ObjectStore,
    part: &ObjectMeta,
) -> Result<Vec<serde_json::Value>, String> {
    let bytes = read_object(store, &part.location).await?;
    tokio::task::spawn_blocking(move || rows_as_actions(bytes))
        .await
        .map_err(|e| e.to_string())?
}

fn rows_as_actions(bytes: Bytes) -> Result<Vec<serde_json::Value>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| e.to_string())?;
    let leaves: Vec<usize> = builder
        .parquet_schema()
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, column)| {
            let parts = column.path().parts();
            STATE_COLUMNS.iter().any(|wanted| {
                parts.len() >= wanted.len() && wanted.iter().zip(parts).all(|(w, p)| w == p)
            })
        })
        .map(|(i, _)| i)
        .collect();
    if leaves.is_empty() {
        return Err("not a checkpoint: it has no add.path or protocol".into());
    }
    let mask = ProjectionMask::leaves(builder.parquet_schema(), leaves);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?;
    let mut actions = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let mut lines = Vec::new();
        let mut writer = WriterBuilder::new()
            .with_explicit_nulls(false)
            .build::<_, LineDelimited>(&mut lines);
        writer.write(&batch).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        drop(writer);
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let action: serde_json::Value =
                serde_json::from_slice(line).map_err(|e| e.to_string())?;
            if action.as_object().is_some_and(|o| !o.is_empty()) {
                actions.push(action);
            }
        }
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            location: object_store::path::Path::from(format!("t/{LOG_FOLDER}/{name}")),
            last_modified: chrono::DateTime::default(),
            size: 1,
            e_tag: None,
            version: None,
        }
    }

    fn commit(v: u64) -> ObjectMeta {
        meta(&format!("{v:020}.json"))
    }

    fn names(metas: &[&ObjectMeta]) -> Vec<String> {
        metas
            .iter()
            .map(|m| m.location.filename().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn checkpoint_parts_are_named_by_version_part_and_count() {
        let one = Part::of("00000000000000000010.checkpoint.parquet").unwrap();
        assert_eq!((one.version, one.part, one.parts), (10, 1, 1));
        let two = Part::of("00000000000000000010.checkpoint.0000000002.0000000003.parquet");
        assert_eq!(two.map(|p| (p.part, p.parts)), Some((2, 3)));
        for other in [
            "00000000000000000010.checkpoint.0000000004.0000000003.parquet",
            "00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.parquet",
            "00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json",
            "10.checkpoint.parquet",
            "00000000000000000010.json",
        ] {
            assert_eq!(Part::of(other), None, "{other}");
        }
    }

    #[test]
    fn replay_starts_at_the_newest_checkpoint_all_later_commits_follow() {
        // Commits 0-12, checkpoints at 5 and 10: start at 10.
        let mut log: Vec<ObjectMeta> = (0..=12).map(commit).collect();
        log.push(meta("00000000000000000005.checkpoint.parquet"));
        log.push(meta("00000000000000000010.checkpoint.parquet"));
        let plan = Replay::plan(&log).unwrap();
        assert_eq!(
            names(&plan.checkpoint),
            ["00000000000000000010.checkpoint.parquet"]
        );
        assert_eq!(
            plan.commits.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
            [11, 12]
        );

        // Cleaned up before 8, commit 11 lost: only a full replay could help, and it
        // cannot.
        let mut log: Vec<ObjectMeta> = [8, 9, 10, 12].into_iter().map(commit).collect();
        log.push(meta("00000000000000000010.checkpoint.parquet"));
        assert!(Replay::plan(&log)
            .unwrap_err()
            .contains("commit 0 is missing"));

        // A checkpoint missing a part is skipped for an older complete one.
        let mut log: Vec<ObjectMeta> = (3..=9).map(commit).collect();
        log.push(meta("00000000000000000002.checkpoint.parquet"));
        log.push(meta(
            "00000000000000000008.checkpoint.0000000001.0000000002.parquet",
        ));
        let plan = Replay::plan(&log).unwrap();
        assert_eq!(
            names(&plan.checkpoint),
            ["00000000000000000002.checkpoint.parquet"]
        );
        log.push(meta(
            "00000000000000000008.checkpoint.0000000002.0000000002.parquet",
        ));
        let plan = Replay::plan(&log).unwrap();
        assert_eq!(plan.checkpoint.len(), 2);
        assert_eq!(
            plan.commits.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
            [9]
        );

        // No checkpoint: from 0.
        let log: Vec<ObjectMeta> = (0..=2).map(commit).collect();
        let plan = Replay::plan(&log).unwrap();
        assert!(plan.checkpoint.is_empty());
        assert_eq!(plan.commits.len(), 3);
        assert!(Replay::plan(&[]).is_err());
    }
}

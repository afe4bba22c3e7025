//! Delta Lake tables in the lake: a table folder holding a `_delta_log/` is the set of
//! data files its log says are current, not every file in the folder (the files a
//! DELETE, UPDATE or compaction replaced stay on disk until VACUUM), each with the rows
//! its deletion vector marks deleted. The log is replayed from its newest checkpoint
//! that every later commit follows ([`checkpoint`]), else from commit 0: adds minus
//! removes, a file being its path and deletion vector as the protocol reconciles them.
//! Columns and partition values are the log's ([`schema`]), column mapping included.
//! What this reader does not understand is refused with a message rather than read
//! wrong: V2 checkpoints and other reader features, deletion vectors stored by absolute
//! path.

pub mod checkpoint;
mod deletion_vector;
pub mod schema;

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore};

use super::deleted_rows::DeletedRows;
use super::store::read_object;
use super::time_travel::At;

pub use deletion_vector::DeletionVector;
use schema::TableSchema;

/// The folder of a table's log.
pub const LOG_FOLDER: &str = "_delta_log";

/// Reader features a table may use that this reader honours or that change nothing
/// for it.
const SUPPORTED_FEATURES: &[&str] = &[
    "timestampNtz",
    "vacuumProtocolCheck",
    "appendOnly",
    "deletionVectors",
    "columnMapping",
];

/// The version of a commit file (`00000000000000000012.json`).
pub fn commit_version(file_name: &str) -> Option<u64> {
    version_of(file_name.strip_suffix(".json")?)
}

/// A log version in its 20-digit form.
fn version_of(digits: &str) -> Option<u64> {
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Whether a file in `_delta_log/` is one the table's current files are read from.
pub fn is_log_file(file_name: &str) -> bool {
    commit_version(file_name).is_some() || checkpoint::Part::of(file_name).is_some()
}

/// A version of a table as its log has it.
#[derive(Debug)]
pub struct Version<F> {
    /// The current data files, as paths relative to the table folder (decoded).
    pub files: BTreeMap<String, F>,
    /// Its columns (`None`: the log has no metadata).
    pub schema: Option<TableSchema>,
}

/// A current data file.
#[derive(Debug)]
pub struct File<D> {
    /// Its deletion vector, or the rows it marks deleted.
    pub deleted: Option<D>,
    /// In the order of [`TableSchema::partitions`].
    pub partition_values: Vec<Option<String>>,
}

/// The current data files by their deletion vectors.
type CurrentFiles = Version<File<DeletionVector>>;

/// The data files current at the last commit (or at version `at`), each with the rows
/// its deletion vector marks deleted, and the columns of that version. `table` is the
/// table folder, `log` the listing of `_delta_log/` files [`is_log_file`] accepts, in
/// any order.
///
/// # Errors
/// A commit, checkpoint or deletion vector cannot be read or parsed, a commit is
/// missing with no checkpoint after it, the version is not in the log, or the table
/// uses a feature this reader does not support.
pub async fn files_at(
    store: &dyn ObjectStore,
    table: &StorePath,
    log: &[ObjectMeta],
    at: Option<&At>,
) -> Result<Version<File<DeletedRows>>, String> {
    let until;
    let log = match at {
        Some(at) => {
            until = up_to(log, at)?;
            &until[..]
        }
        None => log,
    };
    let current = replay(store, log).await?;
    let mut files = BTreeMap::new();
    for (path, file) in current.files {
        let deleted = match file.deleted {
            Some(v) => Some(DeletedRows {
                id: v.id(),
                rows: Arc::new(
                    v.deleted_rows(store, table)
                        .await
                        .map_err(|e| format!("{path}: {e}"))?,
                ),
                kept: None,
            }),
            None => None,
        };
        let partition_values = file.partition_values;
        files.insert(
            path,
            File {
                deleted,
                partition_values,
            },
        );
    }
    Ok(Version {
        files,
        schema: current.schema,
    })
}

/// The log up to the version `at` names: a version number, or the last commit written
/// at or before a time (a commit's time is its file's, as the protocol has it).
fn up_to(log: &[ObjectMeta], at: &At) -> Result<Vec<ObjectMeta>, String> {
    let version_of = |m: &ObjectMeta| {
        let name = m.location.filename().unwrap_or_default();
        commit_version(name).or_else(|| checkpoint::Part::of(name).map(|p| p.version))
    };
    let newest = log.iter().filter_map(version_of).max().unwrap_or(0);
    let version = match at {
        At::Version(v) => u64::try_from(*v)
            .ok()
            .filter(|v| *v <= newest)
            .ok_or_else(|| format!("no version {v}: the newest is {newest}"))?,
        At::Time(time) => log
            .iter()
            .filter(|m| m.last_modified <= *time)
            .filter_map(|m| commit_version(m.location.filename().unwrap_or_default()))
            .max()
            .ok_or_else(|| format!("no version was committed at or before {time}"))?,
    };
    let kept: Vec<ObjectMeta> = log
        .iter()
        .filter(|m| version_of(m).is_some_and(|v| v <= version))
        .cloned()
        .collect();
    if !kept.iter().any(|m| version_of(m) == Some(version)) {
        return Err(format!(
            "version {version} is no longer in the log (cleaned up)"
        ));
    }
    Ok(kept)
}

/// The log replayed: the current files with their deletion vectors.
async fn replay(store: &dyn ObjectStore, log: &[ObjectMeta]) -> Result<CurrentFiles, String> {
    let plan = checkpoint::Replay::plan(log)?;
    let mut live = Live::default();
    for part in &plan.checkpoint {
        let name = part.location.filename().unwrap_or_default().to_owned();
        for action in checkpoint::actions(store, part).await? {
            live.apply(&action, From::Checkpoint)
                .map_err(|e| format!("{LOG_FOLDER}/{name}: {e}"))?;
        }
    }
    for (version, meta) in plan.commits {
        let bytes = read_object(store, &meta.location).await?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            format!(
                "{LOG_FOLDER}/{}: {e}",
                meta.location.filename().unwrap_or("")
            )
        })?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let action: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| format!("{LOG_FOLDER} commit {version}: {e}"))?;
            live.apply(&action, From::Commit)
                .map_err(|e| format!("{LOG_FOLDER} commit {version}: {e}"))?;
        }
    }
    live.into_files()
}

/// Where an action was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    /// A checkpoint: its adds are the table; its removes are only tombstones for VACUUM.
    Checkpoint,
    Commit,
}

/// The files live so far in a replay, by (path, deletion vector id): a DELETE that
/// marks rows of a file removes it with its old vector and adds it with a new one.
/// Each with its vector and its partition values as the log keys them.
#[derive(Debug, Default)]
struct Live {
    files: BTreeMap<(String, Option<String>), (Option<DeletionVector>, serde_json::Value)>,
    /// The newest protocol and metadata: what the table is now (an older commit may
    /// have needed a feature the table has since dropped).
    protocol: Option<serde_json::Value>,
    metadata: Option<serde_json::Value>,
}

impl Live {
    /// One action of a commit or checkpoint.
    fn apply(&mut self, action: &serde_json::Value, from: From) -> Result<(), String> {
        if let Some(add) = action.get("add") {
            let vector = DeletionVector::of(add)?;
            let key = (path_of(add)?, vector.as_ref().map(DeletionVector::id));
            let partition_values = add.get("partitionValues").cloned().unwrap_or_default();
            self.files.insert(key, (vector, partition_values));
        } else if let Some(remove) = action.get("remove") {
            if from == From::Commit {
                let vector = DeletionVector::of(remove)?;
                self.files
                    .remove(&(path_of(remove)?, vector.as_ref().map(DeletionVector::id)));
            }
        } else if let Some(protocol) = action.get("protocol") {
            self.protocol = Some(protocol.clone());
        } else if let Some(metadata) = action.get("metaData") {
            self.metadata = Some(metadata.clone());
        }
        Ok(())
    }

    /// The files, once the table's protocol and metadata say this reader can read them.
    fn into_files(self) -> Result<CurrentFiles, String> {
        if let Some(protocol) = &self.protocol {
            check_protocol(protocol)?;
        }
        let schema = self.metadata.as_ref().map(TableSchema::of).transpose()?;
        let mut files = BTreeMap::new();
        for ((path, _), (deleted, partition_values)) in self.files {
            if files.contains_key(&path) {
                return Err(format!(
                    "{path} is current twice in the log (with two deletion vectors)"
                ));
            }
            let partition_values = match &schema {
                Some(schema) => schema
                    .partition_values(&partition_values)
                    .map_err(|e| format!("{path}: {e}"))?,
                None => Vec::new(),
            };
            files.insert(
                path,
                File {
                    deleted,
                    partition_values,
                },
            );
        }
        Ok(Version { files, schema })
    }
}

/// An action's file path, decoded (the log holds it URI-encoded).
fn path_of(action: &serde_json::Value) -> Result<String, String> {
    let path = action
        .get("path")
        .and_then(serde_json::Value::as_str)
        .ok_or("an action without a path")?;
    if path.contains("://") {
        return Err(format!(
            "{path}: files outside the table folder are not supported"
        ));
    }
    Ok(super::percent_decode(path))
}

fn check_protocol(protocol: &serde_json::Value) -> Result<(), String> {
    let version = protocol
        .get("minReaderVersion")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(1);
    let features: Vec<&str> = protocol
        .get("readerFeatures")
        .and_then(serde_json::Value::as_array)
        .map(|f| f.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    let unsupported: Vec<&str> = features
        .into_iter()
        .filter(|f| !SUPPORTED_FEATURES.contains(f))
        .collect();
    if !unsupported.is_empty() {
        return Err(format!(
            "reader features not supported yet: {}",
            unsupported.join(", ")
        ));
    }
    if version > 3 {
        return Err(format!("reader version {version} is not supported"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_files_are_recognised_by_their_twenty_digits() {
        assert_eq!(commit_version("00000000000000000012.json"), Some(12));
        assert_eq!(
            commit_version("00000000000000000012.checkpoint.parquet"),
            None
        );
        assert_eq!(commit_version("_last_checkpoint"), None);
        assert_eq!(commit_version("12.json"), None);
    }

    fn apply_all(live: &mut Live, lines: &[&str], from: From) -> Result<(), String> {
        for line in lines {
            live.apply(&serde_json::from_str(line).unwrap(), from)?;
        }
        Ok(())
    }

    const VECTOR_1: &str = r#"{"storageType":"u","pathOrInlineDv":"ab^-aqEH.-t@S}K{vb[*k^","offset":1,"sizeInBytes":36,"cardinality":2}"#;
    const VECTOR_2: &str = r#"{"storageType":"u","pathOrInlineDv":"ab^-aqEH.-t@S}K{vb[*k^","offset":41,"sizeInBytes":38,"cardinality":3}"#;

    #[test]
    fn adds_minus_removes_and_refusals() {
        let mut live = Live::default();
        apply_all(
            &mut live,
            &[
                r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#,
                r#"{"add":{"path":"a=1/x%20y.parquet","partitionValues":{"a":"1"}}}"#,
                r#"{"add":{"path":"b.parquet","deletionVector":null}}"#,
                r#"{"remove":{"path":"b.parquet"}}"#,
                r#"{"commitInfo":{"operation":"WRITE"}}"#,
                r#"{"protocol":{"minReaderVersion":3,"readerFeatures":["deletionVectors","timestampNtz"]}}"#,
            ],
            From::Commit,
        )
        .unwrap();
        let files = live.into_files().unwrap().files;
        assert_eq!(files.keys().collect::<Vec<_>>(), ["a=1/x y.parquet"]);
        for refused in [
            r#"{"add":{"path":"c.parquet","deletionVector":{"storageType":"u"}}}"#,
            r#"{"protocol":{"minReaderVersion":3,"readerFeatures":["v2Checkpoint"]}}"#,
            r#"{"protocol":{"minReaderVersion":4}}"#,
            r#"{"metaData":{"configuration":{"delta.columnMapping.mode":"other"}}}"#,
            r#"{"add":{"path":"s3://elsewhere/c.parquet"}}"#,
        ] {
            let mut live = Live::default();
            let read =
                apply_all(&mut live, &[refused], From::Commit).and_then(|()| live.into_files());
            assert!(read.is_err(), "{refused}");
        }
        // Only the newest protocol counts: a feature dropped since is no refusal.
        let mut live = Live::default();
        apply_all(
            &mut live,
            &[
                r#"{"protocol":{"minReaderVersion":3,"readerFeatures":["v2Checkpoint"]}}"#,
                r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#,
            ],
            From::Commit,
        )
        .unwrap();
        assert!(live.into_files().is_ok());
    }

    #[test]
    fn a_file_is_its_path_and_deletion_vector() {
        // A DELETE marking more rows of c.parquet: the file with its old vector goes,
        // the same file with the new vector comes, in either order.
        let add_1 = format!(r#"{{"add":{{"path":"c.parquet","deletionVector":{VECTOR_1}}}}}"#);
        let add_2 = format!(r#"{{"add":{{"path":"c.parquet","deletionVector":{VECTOR_2}}}}}"#);
        let remove_1 =
            format!(r#"{{"remove":{{"path":"c.parquet","deletionVector":{VECTOR_1}}}}}"#);
        for second_commit in [[&add_2, &remove_1], [&remove_1, &add_2]] {
            let mut live = Live::default();
            apply_all(&mut live, &[&add_1], From::Commit).unwrap();
            let lines: Vec<&str> = second_commit.iter().map(|l| l.as_str()).collect();
            apply_all(&mut live, &lines, From::Commit).unwrap();
            let files = live.into_files().unwrap().files;
            assert_eq!(files.len(), 1);
            assert_eq!(
                files["c.parquet"].deleted.as_ref().unwrap().cardinality(),
                3
            );
        }
        // A checkpoint's removes are tombstones: its adds are the table.
        let mut live = Live::default();
        apply_all(&mut live, &[&add_2, &remove_1], From::Checkpoint).unwrap();
        let remove_2 =
            format!(r#"{{"remove":{{"path":"c.parquet","deletionVector":{VECTOR_2}}}}}"#);
        apply_all(&mut live, &[&remove_2], From::Checkpoint).unwrap();
        assert_eq!(live.into_files().unwrap().files.len(), 1);
        // Two live vectors for one file is a broken log.
        let mut live = Live::default();
        apply_all(&mut live, &[&add_1, &add_2], From::Commit).unwrap();
        assert!(live.into_files().is_err());
    }
}

//! Delta Lake tables in the lake: a table folder holding a `_delta_log/` is the set of
//! data files its log says are current, not every file in the folder (the files a
//! DELETE, UPDATE or compaction replaced stay on disk until VACUUM). The JSON commits
//! are replayed in version order, `add` minus `remove`. What this reader does not
//! understand is refused with a message rather than read wrong: a log that no longer
//! starts at version 0 (checkpoints), deletion vectors, column mapping and other reader
//! features.

use std::collections::BTreeSet;

use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

/// The folder of a table's log.
pub const LOG_FOLDER: &str = "_delta_log";

/// Reader features a table may use that change nothing for this reader.
const HARMLESS_FEATURES: &[&str] = &["timestampNtz", "vacuumProtocolCheck", "appendOnly"];

/// The version of a commit file (`00000000000000000012.json`).
pub fn commit_version(file_name: &str) -> Option<u64> {
    let digits = file_name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The data files current at the last commit, as paths relative to the table folder
/// (decoded). `commits` are the log's commit files, in any order.
///
/// # Errors
/// A commit cannot be read or parsed, the log has a gap or does not start at 0, or the
/// table uses a feature this reader does not support.
pub async fn current_files(
    store: &dyn ObjectStore,
    commits: &[ObjectMeta],
) -> Result<BTreeSet<String>, String> {
    let mut versions: Vec<(u64, &ObjectMeta)> = commits
        .iter()
        .filter_map(|c| Some((commit_version(c.location.filename()?)?, c)))
        .collect();
    versions.sort_by_key(|(v, _)| *v);
    let mut files = BTreeSet::new();
    for (expected, (version, meta)) in versions.iter().enumerate() {
        if *version != expected as u64 {
            return Err(format!(
                "{LOG_FOLDER}: commit {expected} is missing (the log starts at or skips to \
                 {version}; checkpoints are not read yet)"
            ));
        }
        let bytes = store
            .get(&meta.location)
            .await
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            format!(
                "{LOG_FOLDER}/{}: {e}",
                meta.location.filename().unwrap_or("")
            )
        })?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            apply(line, &mut files).map_err(|e| format!("{LOG_FOLDER} commit {version}: {e}"))?;
        }
    }
    Ok(files)
}

/// One action of a commit.
fn apply(line: &str, files: &mut BTreeSet<String>) -> Result<(), String> {
    let action: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if let Some(add) = action.get("add") {
        if add.get("deletionVector").is_some_and(|d| !d.is_null()) {
            return Err("deletion vectors are not supported yet".into());
        }
        files.insert(path_of(add)?);
    } else if let Some(remove) = action.get("remove") {
        files.remove(&path_of(remove)?);
    } else if let Some(protocol) = action.get("protocol") {
        check_protocol(protocol)?;
    } else if let Some(metadata) = action.get("metaData") {
        let mapping = metadata
            .pointer("/configuration/delta.columnMapping.mode")
            .and_then(serde_json::Value::as_str);
        if mapping.is_some_and(|m| m != "none") {
            return Err("column mapping is not supported yet".into());
        }
    }
    Ok(())
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
        .filter(|f| !HARMLESS_FEATURES.contains(f))
        .collect();
    if version == 2 || !unsupported.is_empty() {
        let what = if unsupported.is_empty() {
            "column mapping".to_owned()
        } else {
            unsupported.join(", ")
        };
        return Err(format!("reader features not supported yet: {what}"));
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

    #[test]
    fn adds_minus_removes_and_refusals() {
        let mut files = BTreeSet::new();
        for line in [
            r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#,
            r#"{"add":{"path":"a=1/x%20y.parquet","partitionValues":{"a":"1"}}}"#,
            r#"{"add":{"path":"b.parquet","deletionVector":null}}"#,
            r#"{"remove":{"path":"b.parquet"}}"#,
            r#"{"commitInfo":{"operation":"WRITE"}}"#,
        ] {
            apply(line, &mut files).unwrap();
        }
        assert_eq!(files, BTreeSet::from(["a=1/x y.parquet".to_owned()]));
        for refused in [
            r#"{"add":{"path":"c.parquet","deletionVector":{"storageType":"u"}}}"#,
            r#"{"protocol":{"minReaderVersion":3,"readerFeatures":["deletionVectors"]}}"#,
            r#"{"protocol":{"minReaderVersion":2}}"#,
            r#"{"metaData":{"configuration":{"delta.columnMapping.mode":"name"}}}"#,
            r#"{"add":{"path":"s3://elsewhere/c.parquet"}}"#,
        ] {
            assert!(apply(refused, &mut files).is_err(), "{refused}");
        }
        apply(
            r#"{"protocol":{"minReaderVersion":3,"readerFeatures":["timestampNtz"]}}"#,
            &mut files,
        )
        .unwrap();
    }
}

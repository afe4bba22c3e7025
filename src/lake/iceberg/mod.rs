//! Apache Iceberg tables in the lake: a table folder holding `metadata/*.metadata.json`
//! is the set of data files its current snapshot lists, not every file in the folder
//! (files an overwrite or compaction replaced stay until their snapshots expire).
//!
//! The current metadata file is the one `metadata/version-hint.text` names, else the
//! highest-numbered one (`v3.metadata.json`, `00003-<uuid>.metadata.json`: the file a
//! catalog commit writes). Its current snapshot's manifest list and manifests (Avro) are
//! read; the live entries of the data manifests are the table's files. The columns
//! served are the current schema's. An earlier snapshot (time travel) is chosen by id or
//! by the snapshot log's time and read with its own schema. Columns are read by field
//! id ([`super::column_mapping`]), so a renamed column keeps its values. Rows position
//! and equality delete files delete ([`deletes`]) are skipped by the Parquet reader.
//! What this reader does not understand is refused with a message rather than read
//! wrong: deletion vectors (Puffin), data files that are not Parquet or lie outside the
//! table folder.

use std::collections::BTreeMap;
use std::sync::Arc;

use apache_avro::types::Value;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore};

mod deletes;

use super::column_mapping::Column;
use super::deleted_rows::DeletedRows;
use super::store::read_object;
use super::time_travel::At;
use deletes::Deletes;

/// The folder of a table's metadata.
pub const METADATA_FOLDER: &str = "metadata";

/// The Hadoop-catalog file naming the current metadata version.
const VERSION_HINT: &str = "version-hint.text";

/// Whether a file in `metadata/` is one this reader chooses the current version from.
pub fn is_version_file(file_name: &str) -> bool {
    file_name == VERSION_HINT || metadata_version(file_name).is_some()
}

/// The version of a metadata file: `v12.metadata.json` or `00012-<uuid>.metadata.json`.
pub fn metadata_version(file_name: &str) -> Option<u64> {
    let stem = file_name.strip_suffix(".metadata.json")?;
    let digits = match stem.strip_prefix('v') {
        Some(n) => n,
        None => stem.split_once('-')?.0,
    };
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// What a snapshot of a table is made of.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Data files, as paths relative to the table folder, with the rows delete files
    /// mark deleted in them.
    pub files: BTreeMap<String, Option<DeletedRows>>,
    /// The columns of its schema, in order.
    pub columns: Vec<Column>,
}

/// The data files and columns of the table's current snapshot, or of the one `at`
/// names (by id, or current at a time). `table` is the table folder in the store,
/// `versions` the listed files of its `metadata/` folder that [`is_version_file`]
/// accepts.
///
/// # Errors
/// A metadata, manifest list or manifest file cannot be read or parsed, the table has
/// no snapshot, or it uses a feature this reader does not support.
pub async fn snapshot_at(
    store: &Arc<dyn ObjectStore>,
    table: &StorePath,
    versions: &[ObjectMeta],
    at: Option<&At>,
) -> Result<Snapshot, String> {
    let current = current_metadata(store.as_ref(), versions).await?;
    let name = current.location.filename().unwrap_or_default().to_owned();
    let text = read_object(store.as_ref(), &current.location).await?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{METADATA_FOLDER}/{name}: {e}"))?;
    let within = Within::table(&metadata, table)?;
    let in_metadata = |e: String| format!("{METADATA_FOLDER}/{name}: {e}");
    let Some(snapshot) = chosen_snapshot(&metadata, at).map_err(in_metadata)? else {
        return Err("the table has no snapshot yet".into());
    };
    // An earlier snapshot is read with the schema it was written with.
    let schema_id = match at {
        Some(_) => snapshot
            .get("schema-id")
            .and_then(serde_json::Value::as_i64),
        None => None,
    };
    let columns = columns(&metadata, schema_id).map_err(in_metadata)?;
    let list = snapshot
        .get("manifest-list")
        .and_then(serde_json::Value::as_str)
        .ok_or("snapshots without a manifest list (format v1 `manifests`) are not supported")?;
    let mut data = Vec::new();
    let mut deletes = Deletes::default();
    for manifest in avro_records(store.as_ref(), &within.path(list)?).await? {
        let path = string(&manifest, "manifest_path")?;
        // Format v1 lists data manifests only; v2 says which kind each is, and numbers
        // the changes: an entry added by this manifest's snapshot inherits its number.
        let delete_manifest = int(&manifest, "content").unwrap_or(0) == 1;
        let manifest_sequence = optional_int(&manifest, "sequence_number")?.unwrap_or(0);
        let spec_id = optional_int(&manifest, "partition_spec_id")?.unwrap_or(0);
        for entry in avro_records(store.as_ref(), &within.path(path)?).await? {
            // 0 existing, 1 added, 2 deleted in this snapshot.
            if int(&entry, "status")? == 2 {
                continue;
            }
            let file = field(&entry, "data_file")?;
            let path = string(file, "file_path")?;
            let format = string(file, "file_format")?;
            let listed = deletes::Entry {
                path: path.to_owned(),
                sequence: optional_int(&entry, "sequence_number")?.unwrap_or(manifest_sequence),
                spec_id,
                partition: field(file, "partition")?.clone(),
                size: u64::try_from(int(file, "file_size_in_bytes")?).unwrap_or(0),
            };
            let parquet = format.eq_ignore_ascii_case("parquet");
            match (delete_manifest, int(file, "content").unwrap_or(0)) {
                (false, 0) if parquet => data.push(listed),
                (false, 0) => {
                    return Err(format!("{path}: {format} data files are not supported"));
                }
                (true, 1) if parquet => deletes.positions.push(listed),
                (true, 1) => {
                    return Err(format!(
                        "{path}: position deletes in {format} files (deletion vectors) are \
                         not supported yet"
                    ));
                }
                (true, 2) if parquet => {
                    let ids = equality_ids(file).map_err(|e| format!("{path}: {e}"))?;
                    deletes.equalities.push((listed, ids));
                }
                (_, content) => {
                    return Err(format!(
                        "{path}: a {format} manifest entry of content {content}"
                    ));
                }
            }
        }
    }
    let files = deletes
        .rows_deleted(store, &within, &columns, &data)
        .await?;
    Ok(Snapshot { files, columns })
}

/// The metadata file that is current: the one `version-hint.text` names, else the
/// highest version.
async fn current_metadata<'a>(
    store: &dyn ObjectStore,
    versions: &'a [ObjectMeta],
) -> Result<&'a ObjectMeta, String> {
    let numbered = || {
        versions
            .iter()
            .filter_map(|m| Some((metadata_version(m.location.filename()?)?, m)))
    };
    if let Some(hint) = versions
        .iter()
        .find(|m| m.location.filename() == Some(VERSION_HINT))
    {
        let text = read_object(store, &hint.location).await?;
        let wanted = String::from_utf8_lossy(&text).trim().to_owned();
        let version = wanted.strip_suffix(".metadata.json").map_or_else(
            || wanted.trim_start_matches('v').parse().ok(),
            |_| metadata_version(&wanted),
        );
        return version
            .and_then(|v| numbered().find(|(n, _)| *n == v).map(|(_, m)| m))
            .ok_or_else(|| {
                format!("{METADATA_FOLDER}/{VERSION_HINT} names {wanted:?}, which is not there")
            });
    }
    numbered()
        .max_by_key(|(n, _)| *n)
        .map(|(_, m)| m)
        .ok_or_else(|| format!("no {METADATA_FOLDER}/*.metadata.json"))
}

/// The snapshot `at` names (an id, or the one current at a time by the snapshot log),
/// else the current one; `None` for a table without snapshots.
fn chosen_snapshot<'m>(
    metadata: &'m serde_json::Value,
    at: Option<&At>,
) -> Result<Option<&'m serde_json::Value>, String> {
    let number = |v: &serde_json::Value, key: &str| v.get(key).and_then(serde_json::Value::as_i64);
    let id = match at {
        None => number(metadata, "current-snapshot-id").filter(|id| *id != -1),
        Some(At::Version(id)) => Some(*id),
        Some(At::Time(time)) => {
            let millis = At::millis(time);
            // The log of which snapshot was current when; else the current snapshot's
            // ancestors (not branches or staged snapshots), at their own times.
            let log: Vec<(i64, i64)> = match metadata
                .get("snapshot-log")
                .and_then(serde_json::Value::as_array)
                .filter(|log| !log.is_empty())
            {
                Some(log) => log
                    .iter()
                    .filter_map(|e| Some((number(e, "timestamp-ms")?, number(e, "snapshot-id")?)))
                    .collect(),
                None => ancestors(metadata),
            };
            let current_then = log
                .into_iter()
                .filter(|(at, _)| *at <= millis)
                .max_by_key(|(at, _)| *at)
                .map(|(_, id)| id);
            Some(current_then.ok_or_else(|| format!("no snapshot was current at {time}"))?)
        }
    };
    let Some(id) = id else {
        return Ok(None);
    };
    metadata
        .get("snapshots")
        .and_then(serde_json::Value::as_array)
        .and_then(|all| all.iter().find(|s| number(s, "snapshot-id") == Some(id)))
        .map(Some)
        .ok_or_else(|| format!("snapshot {id} is not in the metadata"))
}

/// The current snapshot and its ancestors, as (time, id), newest first.
fn ancestors(metadata: &serde_json::Value) -> Vec<(i64, i64)> {
    let number = |v: &serde_json::Value, key: &str| v.get(key).and_then(serde_json::Value::as_i64);
    let snapshots: Vec<&serde_json::Value> = metadata
        .get("snapshots")
        .and_then(serde_json::Value::as_array)
        .map(|all| all.iter().collect())
        .unwrap_or_default();
    let mut chain = Vec::new();
    let mut next = number(metadata, "current-snapshot-id");
    // A parent link that loops stops at the number of snapshots.
    while let Some(id) = next.filter(|_| chain.len() < snapshots.len()) {
        let Some(snapshot) = snapshots
            .iter()
            .find(|s| number(s, "snapshot-id") == Some(id))
        else {
            break;
        };
        if let Some(at) = number(snapshot, "timestamp-ms") {
            chain.push((at, id));
        }
        next = number(snapshot, "parent-snapshot-id");
    }
    chain
}

/// The top-level columns of schema `schema_id` (`None`: the current schema), read by
/// field id: each with the names it had in the other schemas, the newest first, for
/// files written before a rename.
fn columns(metadata: &serde_json::Value, schema_id: Option<i64>) -> Result<Vec<Column>, String> {
    let schemas: Vec<&serde_json::Value> = match metadata
        .get("schemas")
        .and_then(serde_json::Value::as_array)
    {
        Some(all) => all.iter().collect(),
        None => metadata.get("schema").into_iter().collect(),
    };
    let chosen_id = schema_id.or_else(|| {
        metadata
            .get("current-schema-id")
            .and_then(serde_json::Value::as_i64)
    });
    let chosen = schemas
        .iter()
        .find(|s| {
            chosen_id.is_none()
                || s.get("schema-id").and_then(serde_json::Value::as_i64) == chosen_id
        })
        .ok_or("the schema is not in the metadata")?;
    let fields = |schema: &serde_json::Value| -> Vec<(i32, String, Option<DataType>)> {
        schema
            .get("fields")
            .and_then(serde_json::Value::as_array)
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| {
                        Some((
                            i32::try_from(f.get("id")?.as_i64()?).ok()?,
                            f.get("name")?.as_str()?.to_owned(),
                            f.get("type").and_then(primitive_type),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(fields(chosen)
        .into_iter()
        .map(|(id, name, data_type)| {
            let mut file_names = vec![name.clone()];
            for schema in schemas.iter().rev() {
                for (other_id, other_name, _) in fields(schema) {
                    if other_id == id && !file_names.contains(&other_name) {
                        file_names.push(other_name);
                    }
                }
            }
            Column {
                name,
                data_type,
                field_id: Some(id),
                file_names,
            }
        })
        .collect())
}

/// The Arrow type of an Iceberg primitive type (`long`, `decimal(10, 2)`, ...).
fn primitive_type(iceberg: &serde_json::Value) -> Option<DataType> {
    let name = iceberg.as_str()?;
    Some(match name {
        "boolean" => DataType::Boolean,
        "int" => DataType::Int32,
        "long" => DataType::Int64,
        "float" => DataType::Float32,
        "double" => DataType::Float64,
        "date" => DataType::Date32,
        "time" => DataType::Time64(TimeUnit::Microsecond),
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "timestamp_ns" => DataType::Timestamp(TimeUnit::Nanosecond, None),
        "timestamptz_ns" => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        "string" => DataType::Utf8,
        "uuid" => DataType::FixedSizeBinary(16),
        "binary" => DataType::Binary,
        _ => {
            if let Some(args) = name
                .strip_prefix("decimal(")
                .and_then(|r| r.strip_suffix(')'))
            {
                let (p, s) = args.split_once(',')?;
                DataType::Decimal128(p.trim().parse().ok()?, s.trim().parse().ok()?)
            } else {
                let length = name.strip_prefix("fixed[")?.strip_suffix(']')?;
                DataType::FixedSizeBinary(length.parse().ok()?)
            }
        }
    })
}

/// Where the table's metadata says it lives, to turn the absolute paths in its
/// manifests into paths in the store under the table folder.
struct Within<'a> {
    location: String,
    table: &'a StorePath,
}

impl<'a> Within<'a> {
    fn table(metadata: &serde_json::Value, table: &'a StorePath) -> Result<Self, String> {
        let location = metadata
            .get("location")
            .and_then(serde_json::Value::as_str)
            .ok_or("the metadata has no table location")?;
        Ok(Self {
            location: without_scheme(location).trim_end_matches('/').to_owned(),
            table,
        })
    }

    /// `absolute` relative to the table folder.
    fn relative(&self, absolute: &str) -> Result<String, String> {
        without_scheme(absolute)
            .strip_prefix(&self.location)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_owned)
            .ok_or_else(|| format!("{absolute}: files outside the table folder are not supported"))
    }

    /// `absolute` in the store.
    fn path(&self, absolute: &str) -> Result<StorePath, String> {
        let relative = self.relative(absolute)?;
        Ok(relative
            .split('/')
            .filter(|p| !p.is_empty())
            .fold(self.table.clone(), |path, part| path.join(part)))
    }
}

/// A path or URI without its scheme and authority's slashes: `file:///a/b`, `file:/a/b`
/// and `/a/b` are the same; `s3://bucket/a` becomes `bucket/a`.
fn without_scheme(uri: &str) -> &str {
    let rest = match uri.split_once("://") {
        Some((_, rest)) => rest,
        None => uri.strip_prefix("file:").unwrap_or(uri),
    };
    rest.trim_start_matches('/')
}

/// The records of an Avro object container file.
async fn avro_records(store: &dyn ObjectStore, path: &StorePath) -> Result<Vec<Value>, String> {
    let name = path.filename().unwrap_or_default().to_owned();
    let bytes = read_object(store, path).await?;
    let reader = apache_avro::Reader::new(&bytes[..]).map_err(|e| format!("{name}: {e}"))?;
    reader
        .map(|record| record.map_err(|e| format!("{name}: {e}")))
        .collect()
}

/// A record's field, through a `["null", T]` union.
fn field<'v>(record: &'v Value, name: &str) -> Result<&'v Value, String> {
    let Value::Record(fields) = record else {
        return Err(format!("expected a record holding {name}"));
    };
    let value = fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("a manifest record without {name}"))?;
    Ok(match value {
        Value::Union(_, inner) => inner,
        other => other,
    })
}

fn string<'v>(record: &'v Value, name: &str) -> Result<&'v str, String> {
    match field(record, name)? {
        Value::String(s) => Ok(s),
        other => Err(format!("{name} is {other:?}, not a string")),
    }
}

/// An optional integer field (`None` when absent or null).
fn optional_int(record: &Value, name: &str) -> Result<Option<i64>, String> {
    match field(record, name) {
        Err(_) | Ok(Value::Null) => Ok(None),
        Ok(_) => int(record, name).map(Some),
    }
}

/// The field ids an equality delete file compares.
fn equality_ids(file: &Value) -> Result<Vec<i32>, String> {
    let ids = match field(file, "equality_ids")? {
        Value::Array(ids) => ids
            .iter()
            .map(|id| match id {
                Value::Int(id) => Ok(*id),
                Value::Long(id) => i32::try_from(*id).map_err(|e| format!("equality id {id}: {e}")),
                other => Err(format!("equality id {other:?}")),
            })
            .collect::<Result<Vec<i32>, String>>()?,
        _ => Vec::new(),
    };
    if ids.is_empty() {
        return Err("an equality delete file without equality ids".into());
    }
    Ok(ids)
}

fn int(record: &Value, name: &str) -> Result<i64, String> {
    match field(record, name)? {
        Value::Int(i) => Ok(i64::from(*i)),
        Value::Long(i) => Ok(*i),
        other => Err(format!("{name} is {other:?}, not an integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_snapshot_log_time_travel_follows_the_current_snapshots_ancestors() {
        let metadata = serde_json::json!({
            "current-snapshot-id": 3,
            "snapshots": [
                {"snapshot-id": 1, "timestamp-ms": 100, "manifest-list": "a"},
                {"snapshot-id": 2, "timestamp-ms": 200, "manifest-list": "b",
                 "parent-snapshot-id": 1},
                {"snapshot-id": 9, "timestamp-ms": 250, "manifest-list": "z",
                 "parent-snapshot-id": 2},
                {"snapshot-id": 3, "timestamp-ms": 300, "manifest-list": "c",
                 "parent-snapshot-id": 2}
            ]
        });
        assert_eq!(ancestors(&metadata), [(300, 3), (200, 2), (100, 1)]);
        let at = |millis| {
            let time = chrono::DateTime::from_timestamp_millis(millis).unwrap();
            chosen_snapshot(&metadata, Some(&At::Time(time))).map(|s| {
                s.and_then(|s| s.get("snapshot-id"))
                    .and_then(serde_json::Value::as_i64)
            })
        };
        // Snapshot 9 (a branch) was never current.
        assert_eq!(at(260), Ok(Some(2)));
        assert_eq!(at(300), Ok(Some(3)));
        assert!(at(50).is_err());
    }

    #[test]
    fn metadata_files_are_numbered_by_their_prefix() {
        assert_eq!(metadata_version("v12.metadata.json"), Some(12));
        assert_eq!(
            metadata_version("00003-5e840217-5319-468e-8be0-2257e2d7d177.metadata.json"),
            Some(3)
        );
        assert_eq!(metadata_version("snap-1-0-abc.avro"), None);
        assert_eq!(metadata_version("abc.metadata.json"), None);
        assert!(is_version_file("version-hint.text"));
    }

    #[test]
    fn absolute_paths_map_under_the_table_folder() {
        let table = StorePath::from("lake/events");
        for location in [
            "file:///tmp/wh/events",
            "file:/tmp/wh/events/",
            "/tmp/wh/events",
        ] {
            let metadata = serde_json::json!({ "location": location });
            let within = Within::table(&metadata, &table).unwrap();
            assert_eq!(
                within.path("file:///tmp/wh/events/data/a.parquet").unwrap(),
                StorePath::from("lake/events/data/a.parquet")
            );
            assert!(within.relative("file:///tmp/wh/other/a.parquet").is_err());
            assert!(within.relative("file:///tmp/wh/eventsx/a.parquet").is_err());
        }
        let metadata = serde_json::json!({ "location": "s3://bucket/wh/events" });
        let within = Within::table(&metadata, &table).unwrap();
        assert_eq!(
            within
                .relative("s3://bucket/wh/events/data/a.parquet")
                .unwrap(),
            "data/a.parquet"
        );
    }

    #[test]
    fn columns_are_read_by_id_under_the_names_they_had() {
        let schema = |id: i64, fields: serde_json::Value| serde_json::json!({"schema-id": id, "fields": fields});
        let evolved = serde_json::json!({
            "current-schema-id": 1,
            "schemas": [
                schema(0, serde_json::json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])),
                schema(1, serde_json::json!([{"id": 1, "name": "a"}, {"id": 3, "name": "c"}])),
            ]
        });
        let names: Vec<String> = columns(&evolved, None)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["a", "c"]);
        let renamed = serde_json::json!({
            "current-schema-id": 1,
            "schemas": [
                schema(0, serde_json::json!([{"id": 1, "name": "a"}])),
                schema(1, serde_json::json!([{"id": 1, "name": "z"}])),
            ]
        });
        let z = &columns(&renamed, None).unwrap()[0];
        assert_eq!(
            (z.field_id, z.file_names.clone()),
            (Some(1), vec!["z".into(), "a".into()])
        );
        // An earlier snapshot's schema is read under its own names.
        assert_eq!(columns(&renamed, Some(0)).unwrap()[0].name, "a");
    }
}

#[cfg(test)]
mod type_tests {
    use super::*;

    #[test]
    fn primitive_types_map_to_arrow() {
        let ty = |s: &str| primitive_type(&serde_json::json!(s));
        assert_eq!(ty("decimal(10, 2)"), Some(DataType::Decimal128(10, 2)));
        assert_eq!(ty("fixed[4]"), Some(DataType::FixedSizeBinary(4)));
        assert_eq!(ty("long"), Some(DataType::Int64));
        assert_eq!(primitive_type(&serde_json::json!({"type": "struct"})), None);
    }
}

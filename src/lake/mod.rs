//! The lake: every sub-folder of the lake root is a table in schema `lake`
//! (`ROOT/orders/**/*.parquet` → `lake.orders`), hive-style `key=value` folders become
//! partition columns, and single `.parquet`/`.csv` files at the root are tables too.
//!
//! Files and folders whose names start with `.` or `_` are ignored (writers use them for
//! in-progress files). A table whose files cannot all be read keeps its last good version
//! (or stays absent), and `datapunk.lake_tables` says why. Registers tables into the
//! engine; never called by it.

pub mod table;
pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::ObjectMeta;
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use datafusion::scalar::ScalarValue;

use crate::engine::system::LakeTableStatus;
use crate::engine::Engine;
pub use table::LakeTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Parquet,
    Csv,
}

impl Format {
    fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "parquet" => Some(Self::Parquet),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    fn file_format(self) -> Arc<dyn FileFormat> {
        match self {
            Self::Parquet => Arc::new(ParquetFormat::default()),
            Self::Csv => Arc::new(CsvFormat::default().with_has_header(true)),
        }
    }
}

/// Puts back the Arrow extension types of the first file's columns (`arrow.uuid` and
/// `arrow.json`, from Parquet's UUID and JSON logical types or the writer's Arrow schema)
/// on the inferred columns of the same name and type: DataFusion's inference drops all
/// field metadata so that files whose metadata differ still merge, and clients need the
/// tags to see `uuid` and `json`.
async fn with_extension_types(
    schema: SchemaRef,
    state: &dyn datafusion::catalog::Session,
    store: &Arc<dyn datafusion::object_store::ObjectStore>,
    metas: &[ObjectMeta],
) -> SchemaRef {
    let Some(first) = metas.first() else {
        return schema;
    };
    let format = ParquetFormat::default().with_skip_metadata(false);
    let Ok(tagged) = format
        .infer_schema(state, store, std::slice::from_ref(first))
        .await
    else {
        return schema;
    };
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|field| {
            let extension: HashMap<String, String> = match tagged.field_with_name(field.name()) {
                Ok(t) if t.data_type() == field.data_type() => t
                    .metadata()
                    .iter()
                    .filter(|(k, _)| k.starts_with("ARROW:extension:"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                _ => return Arc::clone(field),
            };
            if extension.is_empty() {
                return Arc::clone(field);
            }
            let mut metadata = field.metadata().clone();
            metadata.extend(extension);
            Arc::new(field.as_ref().clone().with_metadata(metadata))
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// One data file found under a table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DataFile {
    path: PathBuf,
    /// `key=value` folders between the table folder and the file.
    partitions: Vec<(String, String)>,
    size: u64,
    modified: SystemTime,
}

/// Names the version of a table made of `files`: their paths, sizes and modification
/// times (a warehouse table built from it is current while this is).
fn files_tag(files: &[DataFile]) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    for f in files {
        let modified = f
            .modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        digest.update(format!("{}\t{}\t{modified}\n", f.path.display(), f.size).as_bytes());
    }
    digest
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A table as found on disk, before its files are read.
#[derive(Debug, Clone)]
struct Candidate {
    name: String,
    format: Format,
    files: Vec<DataFile>,
}

/// What a rescan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub failed: Vec<String>,
}

impl ScanSummary {
    pub fn is_change(&self) -> bool {
        !(self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty())
    }
}

/// The lake rooted at one folder.
#[derive(Debug)]
pub struct Lake {
    root: PathBuf,
    engine: Arc<Engine>,
    /// The files each registered table was built from, to skip unchanged tables.
    registered: Mutex<HashMap<String, Vec<DataFile>>>,
    /// Row counts from Parquet footers, keyed by file and its size and mtime.
    footers: Mutex<HashMap<PathBuf, (u64, SystemTime, u64)>>,
    /// One rescan at a time.
    scanning: tokio::sync::Mutex<()>,
}

/// Table names are folded to lower case and limited to `[a-z0-9_]`, like unquoted
/// PostgreSQL identifiers.
fn table_name(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn is_ignored(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

fn data_file(path: &Path, partitions: Vec<(String, String)>) -> Option<DataFile> {
    let meta = std::fs::metadata(path).ok()?;
    Some(DataFile {
        path: path.to_path_buf(),
        partitions,
        size: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    })
}

/// Walks a table folder; `partitions` holds the `key=value` folders above `dir`.
fn walk(dir: &Path, partitions: &[(String, String)], out: &mut Vec<DataFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_ignored(&name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            let mut parts = partitions.to_vec();
            if let Some((k, v)) = name.split_once('=') {
                parts.push((k.to_owned(), v.to_owned()));
            }
            walk(&path, &parts, out);
        } else if Format::of(&path).is_some() {
            if let Some(f) = data_file(&path, partitions.to_vec()) {
                out.push(f);
            }
        }
    }
}

/// Finds the tables under `root`.
fn discover(root: &Path) -> Vec<Candidate> {
    let mut tables: BTreeMap<String, Candidate> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let raw = entry.file_name().to_string_lossy().into_owned();
        if is_ignored(&raw) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            let mut files = Vec::new();
            walk(&path, &[], &mut files);
            // A folder holds one format: Parquet if it has any, CSV otherwise.
            let format = if files
                .iter()
                .any(|f| Format::of(&f.path) == Some(Format::Parquet))
            {
                Format::Parquet
            } else {
                Format::Csv
            };
            files.retain(|f| Format::of(&f.path) == Some(format));
            tables.insert(
                table_name(&raw),
                Candidate {
                    name: table_name(&raw),
                    format,
                    files,
                },
            );
        } else if let Some(format) = Format::of(&path) {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = table_name(&stem);
            if tables.contains_key(&name) {
                tracing::warn!(file = %path.display(), table = %name, "ignoring file: a folder already defines this table");
                continue;
            }
            if let Some(f) = data_file(&path, Vec::new()) {
                tables.insert(
                    name.clone(),
                    Candidate {
                        name,
                        format,
                        files: vec![f],
                    },
                );
            }
        }
    }
    tables.into_values().collect()
}

/// Partition values are BIGINT when every value is an integer, text otherwise.
fn partition_columns(files: &[DataFile]) -> Result<Vec<(FieldRef, bool)>, String> {
    let Some(first) = files.first() else {
        return Ok(Vec::new());
    };
    let keys: Vec<&str> = first.partitions.iter().map(|(k, _)| k.as_str()).collect();
    for f in files {
        let these: Vec<&str> = f.partitions.iter().map(|(k, _)| k.as_str()).collect();
        if these != keys {
            return Err(format!(
                "inconsistent partition folders: {} has {:?}, {} has {:?}",
                first.path.display(),
                keys,
                f.path.display(),
                these
            ));
        }
    }
    Ok(keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let integer = files.iter().all(|f| {
                let v = &f.partitions[i].1;
                v == HIVE_NULL || v.parse::<i64>().is_ok()
            });
            let ty = if integer {
                DataType::Int64
            } else {
                DataType::Utf8
            };
            (Arc::new(Field::new(*k, ty, true)), integer)
        })
        .collect())
}

const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

fn partition_value(raw: &str, integer: bool) -> ScalarValue {
    let decoded = percent_decode(raw);
    if raw == HIVE_NULL {
        if integer {
            ScalarValue::Int64(None)
        } else {
            ScalarValue::Utf8(None)
        }
    } else if integer {
        ScalarValue::Int64(decoded.parse().ok())
    } else {
        ScalarValue::Utf8(Some(decoded))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

impl Lake {
    pub fn new(root: PathBuf, engine: Arc<Engine>) -> Self {
        Self {
            root,
            engine,
            registered: Mutex::new(HashMap::new()),
            footers: Mutex::new(HashMap::new()),
            scanning: tokio::sync::Mutex::new(()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Rows in a Parquet file, from its footer; an error when the file is not valid
    /// Parquet (half-written, truncated, corrupt).
    fn parquet_rows(&self, f: &DataFile) -> Result<u64, String> {
        if let Ok(cache) = self.footers.lock() {
            if let Some((size, modified, rows)) = cache.get(&f.path) {
                if *size == f.size && *modified == f.modified {
                    return Ok(*rows);
                }
            }
        }
        let file = std::fs::File::open(&f.path).map_err(|e| e.to_string())?;
        let meta = ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .map_err(|e| e.to_string())?;
        let rows = u64::try_from(meta.file_metadata().num_rows()).unwrap_or(0);
        if let Ok(mut cache) = self.footers.lock() {
            cache.insert(f.path.clone(), (f.size, f.modified, rows));
        }
        Ok(rows)
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Builds one table version from its files.
    async fn load(&self, c: &Candidate) -> Result<(LakeTable, Option<u64>), String> {
        if c.files.is_empty() {
            return Err("no .parquet or .csv files".to_owned());
        }
        let rows = if c.format == Format::Parquet {
            let mut total = 0u64;
            for f in &c.files {
                total += self
                    .parquet_rows(f)
                    .map_err(|e| format!("{}: {e}", self.relative(&f.path)))?;
            }
            Some(total)
        } else {
            None
        };
        let partitions = partition_columns(&c.files)?;
        let metas = c
            .files
            .iter()
            .map(|f| {
                Ok(ObjectMeta {
                    location: StorePath::from_filesystem_path(&f.path)
                        .map_err(|e| e.to_string())?,
                    last_modified: chrono::DateTime::<chrono::Utc>::from(f.modified),
                    size: f.size,
                    e_tag: None,
                    version: None,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let session = self.engine.session();
        let state = session.ctx.state();
        let store = state
            .runtime_env()
            .object_store(ObjectStoreUrl::local_filesystem())
            .map_err(|e| e.to_string())?;
        let format = c.format.file_format();
        let schema = format
            .infer_schema(&state, &store, &metas)
            .await
            .map_err(|e| e.to_string())?;
        let schema = match c.format {
            Format::Parquet => with_extension_types(schema, &state, &store, &metas).await,
            Format::Csv => schema,
        };
        for (field, _) in &partitions {
            if schema.field_with_name(field.name()).is_ok() {
                return Err(format!(
                    "partition column {} is also a column in the files",
                    field.name()
                ));
            }
        }
        let files = metas
            .into_iter()
            .zip(&c.files)
            .map(|(meta, f)| {
                let values = f
                    .partitions
                    .iter()
                    .zip(&partitions)
                    .map(|((_, v), (_, integer))| partition_value(v, *integer))
                    .collect();
                PartitionedFile::new_from_meta(meta).with_partition_values(values)
            })
            .collect();
        let cols = partitions.into_iter().map(|(f, _)| f).collect();
        Ok((LakeTable::new(schema, cols, files, format), rows))
    }

    fn set_status(&self, name: &str, status: Option<LakeTableStatus>) {
        if let Ok(mut map) = self.engine.status().lake.write() {
            match status {
                Some(s) => {
                    map.insert(name.to_owned(), s);
                }
                None => {
                    map.remove(name);
                }
            }
        }
    }

    /// Looks at the whole lake and registers new and changed tables, drops removed ones.
    /// A table that fails to load keeps its last good version.
    pub async fn rescan(&self) -> ScanSummary {
        let _one_at_a_time = self.scanning.lock().await;
        let root = self.root.clone();
        let candidates = tokio::task::spawn_blocking(move || discover(&root))
            .await
            .unwrap_or_default();
        let mut summary = ScanSummary::default();
        let schema = Arc::clone(self.engine.lake());
        let previous: HashMap<String, Vec<DataFile>> = self
            .registered
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();

        for c in &candidates {
            if previous.get(&c.name) == Some(&c.files) {
                continue;
            }
            let existed = schema.table_exist(&c.name);
            let old = self
                .engine
                .status()
                .lake
                .read()
                .ok()
                .and_then(|m| m.get(&c.name).cloned());
            let versions = old.as_ref().map_or(0, |o| o.versions);
            match self.load(c).await {
                Ok((table, rows)) => {
                    schema.publish(&c.name, Arc::new(table), files_tag(&c.files));
                    if let Ok(mut m) = self.registered.lock() {
                        m.insert(c.name.clone(), c.files.clone());
                    }
                    self.set_status(
                        &c.name,
                        Some(LakeTableStatus {
                            files: c.files.len(),
                            versions: versions + 1,
                            rows,
                            state: "ok",
                            error: None,
                            loaded_at: Some(SystemTime::now()),
                        }),
                    );
                    tracing::info!(table = %format!("lake.{}", c.name), files = c.files.len(), rows = ?rows, "lake table loaded");
                    if existed {
                        summary.changed.push(c.name.clone());
                    } else {
                        summary.added.push(c.name.clone());
                    }
                }
                Err(error) => {
                    tracing::warn!(table = %format!("lake.{}", c.name), %error, "{}", if existed { "lake table not reloaded; serving its last good version" } else { "lake table not loaded" });
                    self.set_status(
                        &c.name,
                        Some(LakeTableStatus {
                            files: c.files.len(),
                            versions,
                            rows: old.as_ref().and_then(|o| o.rows).filter(|_| existed),
                            state: if existed { "stale" } else { "error" },
                            error: Some(error),
                            loaded_at: old.and_then(|o| o.loaded_at).filter(|_| existed),
                        }),
                    );
                    summary.failed.push(c.name.clone());
                }
            }
        }

        let present: std::collections::HashSet<&str> =
            candidates.iter().map(|c| c.name.as_str()).collect();
        for name in previous.keys() {
            if !present.contains(name.as_str()) {
                schema.remove(name);
                if let Ok(mut m) = self.registered.lock() {
                    m.remove(name);
                }
                tracing::info!(table = %format!("lake.{name}"), "lake table removed");
                summary.removed.push(name.clone());
            }
        }
        // Drop status rows of tables that are gone and never loaded.
        if let Ok(mut map) = self.engine.status().lake.write() {
            map.retain(|name, _| present.contains(name.as_str()));
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_like_unquoted_identifiers() {
        assert_eq!(table_name("Order-Lines"), "order_lines");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
    }
}

//! The lake: every sub-folder of the lake root (a local folder or a prefix in object
//! storage, see [`store`]) is a table in schema `lake` (`ROOT/orders/**/*.parquet` →
//! `lake.orders`), hive-style `key=value` folders become partition columns, and single
//! `.parquet`/`.csv` files at the root are tables too. A folder with a Delta log
//! ([`delta`]) or Iceberg metadata ([`iceberg`]) is the files its log or current
//! snapshot names.
//!
//! Files and folders whose names start with `.` or `_` are ignored (writers use them for
//! in-progress files). A table whose files cannot all be read keeps its last good version
//! (or stays absent), and `datapunk.lake_tables` says why. Registers tables into the
//! engine; never called by it.

pub mod column_mapping;
pub mod deleted_rows;
pub mod delta;
pub mod iceberg;
pub mod ship;
pub mod store;
pub mod table;
pub mod time_travel;
pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::scalar::ScalarValue;
use object_store::path::Path as StorePath;
use object_store::ObjectMeta;

use crate::engine::system::LakeTableStatus;
use crate::engine::Engine;
use column_mapping::Column;
use deleted_rows::DeletedRows;
pub use store::LakeStore;
pub use table::LakeTable;
use time_travel::At;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Parquet,
    Csv,
}

impl Format {
    /// By a file name's extension.
    fn of(name: &str) -> Option<Self> {
        let (_, extension) = name.rsplit_once('.')?;
        match extension.to_ascii_lowercase().as_str() {
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

/// A table version's files and, for Delta and Iceberg, the columns its log declares.
struct VersionFiles {
    files: Vec<DataFile>,
    columns: Option<Vec<Column>>,
    /// The partition columns a Delta log declares; each file carries their values.
    partitions: Option<Vec<FieldRef>>,
}

/// One data file found under a table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DataFile {
    meta: ObjectMeta,
    /// Partition columns and values (`None`: null): the `key=value` folders between the
    /// table folder and the file, or a Delta log's values.
    partitions: Vec<(String, Option<String>)>,
    /// Rows its table format marks deleted (a Delta deletion vector, Iceberg position
    /// delete files).
    deleted: Option<DeletedRows>,
}

impl DataFile {
    fn name(&self) -> &str {
        self.meta.location.filename().unwrap_or_default()
    }

    fn format(&self) -> Option<Format> {
        Format::of(self.name())
    }
}

/// Names the version of a table made of `files`: their paths, sizes, modification
/// times and entity tags (a warehouse table built from it is current while this is).
fn files_tag(files: &[DataFile]) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    for f in files {
        let modified = f.meta.last_modified.timestamp_nanos_opt().unwrap_or(0);
        let tag = f.meta.e_tag.as_deref().unwrap_or_default();
        let deleted = f.deleted.as_ref().map_or("", |d| d.id.as_str());
        digest.update(
            format!(
                "{}\t{}\t{modified}\t{tag}\t{deleted}\n",
                f.meta.location, f.meta.size
            )
            .as_bytes(),
        );
    }
    digest
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A table as found in the listing, before its files are read.
#[derive(Debug, Clone)]
struct Candidate {
    name: String,
    format: Format,
    files: Vec<DataFile>,
    log: TableLog,
}

impl Candidate {
    /// What a rescan compares to tell whether the table changed.
    fn listed(&self) -> Listed {
        Listed {
            files: self.files.clone(),
            log: self.log.clone(),
        }
    }
}

/// What says which of a table folder's files are the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum TableLog {
    /// A plain folder: every data file.
    #[default]
    Folder,
    /// The commits of a Delta table's `_delta_log/`.
    Delta(Vec<ObjectMeta>),
    /// The metadata versions (and version hint) in an Iceberg table's `metadata/`.
    Iceberg(Vec<ObjectMeta>),
}

/// The objects a table was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    files: Vec<DataFile>,
    log: TableLog,
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

    /// This and `other` (the rescan of another root) as one.
    pub fn merge(mut self, other: ScanSummary) -> Self {
        self.added.extend(other.added);
        self.changed.extend(other.changed);
        self.removed.extend(other.removed);
        self.failed.extend(other.failed);
        self
    }
}

/// The lake under one root.
#[derive(Debug)]
pub struct Lake {
    root: LakeStore,
    engine: Arc<Engine>,
    /// The schema its tables are served in: `lake`, or a mount's name.
    schema_name: String,
    schema: Arc<crate::engine::SwapSchema>,
    /// The files each registered table was built from, to skip unchanged tables.
    registered: Mutex<HashMap<String, Listed>>,
    /// Row counts from Parquet footers, keyed by the object as listed.
    footers: Mutex<HashMap<ObjectKey, u64>>,
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

/// The folders and file name of an object under `prefix`, as named on disk or in the
/// bucket (object paths percent-encode some characters; hive's own escapes stay).
fn relative_parts(location: &StorePath, prefix: &StorePath) -> Option<Vec<String>> {
    let parts: Vec<String> = location
        .prefix_match(prefix)?
        .map(|p| percent_decode(p.as_ref()))
        .collect();
    Some(parts)
}

/// Finds the tables in a listing of everything under `prefix`: each first-level folder
/// is a table of the files below it (one format: Parquet if it has any, CSV
/// otherwise), each data file at the root a table of its own unless a folder defines
/// that table.
fn discover(objects: Vec<ObjectMeta>, prefix: &StorePath) -> Vec<Candidate> {
    let mut folders: BTreeMap<String, Vec<DataFile>> = BTreeMap::new();
    let mut singles: BTreeMap<String, DataFile> = BTreeMap::new();
    let mut delta_logs: BTreeMap<String, Vec<ObjectMeta>> = BTreeMap::new();
    let mut iceberg_metadata: BTreeMap<String, Vec<ObjectMeta>> = BTreeMap::new();
    for meta in objects {
        let Some(parts) = relative_parts(&meta.location, prefix) else {
            continue;
        };
        if let [folder, log, file] = parts.as_slice() {
            if log == delta::LOG_FOLDER && delta::is_log_file(file) {
                delta_logs.entry(folder.clone()).or_default().push(meta);
                continue;
            }
            if log == iceberg::METADATA_FOLDER && iceberg::is_version_file(file) {
                iceberg_metadata
                    .entry(folder.clone())
                    .or_default()
                    .push(meta);
                continue;
            }
        }
        if parts.is_empty() || parts.iter().any(|p| is_ignored(p)) {
            continue;
        }
        match parts.as_slice() {
            [file] => {
                let Some(stem) = Format::of(file).and(file.rsplit_once('.')).map(|(s, _)| s) else {
                    continue;
                };
                singles.insert(
                    table_name(stem),
                    DataFile {
                        meta,
                        partitions: Vec::new(),
                        deleted: None,
                    },
                );
            }
            [folder, between @ .., _file] => {
                let partitions = between
                    .iter()
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| (k.to_owned(), (v != HIVE_NULL).then(|| percent_decode(v))))
                    .collect();
                folders.entry(folder.clone()).or_default().push(DataFile {
                    meta,
                    partitions,
                    deleted: None,
                });
            }
            [] => {}
        }
    }
    let mut tables: BTreeMap<String, Candidate> = BTreeMap::new();
    for (raw, mut files) in folders {
        files.sort_by(|a, b| a.meta.location.cmp(&b.meta.location));
        let format = if files.iter().any(|f| f.format() == Some(Format::Parquet)) {
            Format::Parquet
        } else {
            Format::Csv
        };
        files.retain(|f| f.format() == Some(format));
        let name = table_name(&raw);
        let log = match (delta_logs.remove(&raw), iceberg_metadata.remove(&raw)) {
            (Some(commits), _) => TableLog::Delta(sorted(commits)),
            (None, Some(versions)) => TableLog::Iceberg(sorted(versions)),
            (None, None) => TableLog::Folder,
        };
        tables.insert(
            name.clone(),
            Candidate {
                name,
                format,
                files,
                log,
            },
        );
    }
    for (name, file) in singles {
        if tables.contains_key(&name) {
            tracing::warn!(file = %file.meta.location, table = %name, "ignoring file: a folder already defines this table");
            continue;
        }
        let Some(format) = file.format() else {
            continue;
        };
        tables.insert(
            name.clone(),
            Candidate {
                name,
                format,
                files: vec![file],
                log: TableLog::Folder,
            },
        );
    }
    tables.into_values().collect()
}

/// The Parquet files of each table of a local lake, by table name, as the lake reads
/// them: what `PURGE ERASED` may rewrite in place. A table it may not rewrite (Delta or
/// Iceberg, whose logs name the files; CSV; a lake in object storage) is `Err(why)`.
///
/// # Errors
/// The lake cannot be listed.
pub async fn rewritable_files(
    root: &LakeStore,
) -> Result<BTreeMap<String, Result<Vec<std::path::PathBuf>, String>>, String> {
    let objects = root.list().await?;
    let mut tables = BTreeMap::new();
    for c in discover(objects, root.prefix()) {
        let files = match (root.local_folder(), &c.log, c.format) {
            (None, _, _) => Err("the lake is in object storage".to_owned()),
            (_, TableLog::Delta(_), _) => {
                Err("a Delta table: rewrite it with its writer".to_owned())
            }
            (_, TableLog::Iceberg(_), _) => {
                Err("an Iceberg table: rewrite it with its writer".to_owned())
            }
            (_, _, Format::Csv) => Err("a CSV table".to_owned()),
            (Some(folder), TableLog::Folder, _) => Ok(c
                .files
                .iter()
                .filter_map(|f| relative_parts(&f.meta.location, root.prefix()))
                .map(|parts| {
                    parts
                        .iter()
                        .fold(folder.to_path_buf(), |p, part| p.join(part))
                })
                .collect()),
        };
        tables.insert(c.name, files);
    }
    Ok(tables)
}

/// The table folder of an object in a table's log folder (`<table>/metadata/<file>`).
fn table_folder(location: &StorePath) -> StorePath {
    let parts: Vec<_> = location.parts().collect();
    StorePath::from_iter(parts[..parts.len().saturating_sub(2)].iter().cloned())
}

fn sorted(mut objects: Vec<ObjectMeta>) -> Vec<ObjectMeta> {
    objects.sort_by(|a, b| a.location.cmp(&b.location));
    objects
}

/// The partition columns of `files`: as `declared` (a Delta log's), else BIGINT when
/// every folder's value is an integer, text otherwise.
fn partition_columns(
    files: &[DataFile],
    declared: Option<Vec<FieldRef>>,
) -> Result<Vec<FieldRef>, String> {
    let Some(first) = files.first() else {
        return Ok(declared.unwrap_or_default());
    };
    let keys: Vec<&str> = first.partitions.iter().map(|(k, _)| k.as_str()).collect();
    for f in files {
        let these: Vec<&str> = f.partitions.iter().map(|(k, _)| k.as_str()).collect();
        if these != keys {
            return Err(format!(
                "inconsistent partition folders: {} has {:?}, {} has {:?}",
                first.meta.location, keys, f.meta.location, these
            ));
        }
    }
    if let Some(declared) = declared {
        return Ok(declared);
    }
    Ok(keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let integer = files.iter().all(|f| {
                f.partitions[i]
                    .1
                    .as_ref()
                    .is_none_or(|v| v.parse::<i64>().is_ok())
            });
            let ty = if integer {
                DataType::Int64
            } else {
                DataType::Utf8
            };
            Arc::new(Field::new(*k, ty, true))
        })
        .collect())
}

const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// A partition value as its column's type.
fn partition_value(value: Option<&str>, column: &Field) -> Result<ScalarValue, String> {
    let ty = column.data_type();
    match value {
        None => ScalarValue::try_from(ty),
        Some(v) => ScalarValue::try_from_string(v.to_owned(), ty),
    }
    .map_err(|e| format!("partition column {}: {e}", column.name()))
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

/// A listed object as the footer cache knows it: changed when any of these changes.
type ObjectKey = (
    StorePath,
    u64,
    chrono::DateTime<chrono::Utc>,
    Option<String>,
);

fn object_key(meta: &ObjectMeta) -> ObjectKey {
    (
        meta.location.clone(),
        meta.size,
        meta.last_modified,
        meta.e_tag.clone(),
    )
}

impl Lake {
    /// The lake, served as schema `lake`.
    pub fn new(root: LakeStore, engine: Arc<Engine>) -> Self {
        let schema = Arc::clone(engine.lake());
        Self::serving(root, engine, crate::engine::LAKE_SCHEMA, schema)
    }

    /// A mounted root, served as schema `name` (`[[lake.mounts]]`).
    ///
    /// # Errors
    /// The schema cannot be made.
    pub fn mounted(root: LakeStore, engine: Arc<Engine>, name: &str) -> crate::Result<Self> {
        let schema = engine.mount(name)?;
        Ok(Self::serving(root, engine, name, schema))
    }

    fn serving(
        root: LakeStore,
        engine: Arc<Engine>,
        schema_name: &str,
        schema: Arc<crate::engine::SwapSchema>,
    ) -> Self {
        Self {
            root,
            engine,
            schema_name: schema_name.to_owned(),
            schema,
            registered: Mutex::new(HashMap::new()),
            footers: Mutex::new(HashMap::new()),
            scanning: tokio::sync::Mutex::new(()),
        }
    }

    pub fn root(&self) -> &LakeStore {
        &self.root
    }

    /// The schema its tables are served in (`lake`, or a mount's name).
    pub fn schema_name(&self) -> &str {
        &self.schema_name
    }

    /// The table as `datapunk.lake_tables` lists it: its name in the lake, and
    /// `mount.name` in a mount.
    fn status_key(&self, table: &str) -> String {
        if self.schema_name == crate::engine::LAKE_SCHEMA {
            table.to_owned()
        } else {
            format!("{}.{table}", self.schema_name)
        }
    }

    /// Whether a `datapunk.lake_tables` key is one of this lake's tables.
    fn owns_status(&self, key: &str) -> bool {
        match key.split_once('.') {
            Some((mount, _)) => mount == self.schema_name,
            None => self.schema_name == crate::engine::LAKE_SCHEMA,
        }
    }

    /// Rows in a Parquet file, from its footer (read once per version of the object);
    /// an error when the file is not valid Parquet (half-written, truncated, corrupt).
    async fn parquet_rows(&self, f: &DataFile) -> Result<u64, String> {
        let key = object_key(&f.meta);
        if let Some(rows) = self.footers.lock().ok().and_then(|c| c.get(&key).copied()) {
            return Ok(rows);
        }
        let meta = DFParquetMetadata::new(self.root.store().as_ref(), &f.meta)
            .fetch_metadata()
            .await
            .map_err(|e| e.to_string())?;
        let rows = u64::try_from(meta.file_metadata().num_rows()).unwrap_or(0);
        if let Ok(mut cache) = self.footers.lock() {
            cache.insert(key, rows);
        }
        Ok(rows)
    }

    /// A file's path under the root.
    fn relative(&self, f: &DataFile) -> String {
        relative_parts(&f.meta.location, self.root.prefix())
            .map_or_else(|| f.meta.location.to_string(), |parts| parts.join("/"))
    }

    /// The files a table is made of: those its Delta log or Iceberg snapshot lists (every
    /// data file of a plain folder), with the columns and partitions the log declares.
    async fn current_files(&self, c: &Candidate, at: Option<&At>) -> Result<VersionFiles, String> {
        let store = self.root.store().as_ref();
        let (TableLog::Delta(log) | TableLog::Iceberg(log)) = &c.log else {
            if at.is_some() {
                return Err(
                    "a folder of files has no versions (Delta and Iceberg tables do)".into(),
                );
            }
            return Ok(VersionFiles {
                files: c.files.clone(),
                columns: None,
                partitions: None,
            });
        };
        let table = log
            .first()
            .map(|m| table_folder(&m.location))
            .unwrap_or_default();
        // Per current file: its deleted rows and, from a Delta log, partition values.
        type Current =
            BTreeMap<String, (Option<DeletedRows>, Option<Vec<(String, Option<String>)>>)>;
        let (mut current, columns, partitions, kind): (Current, _, _, _) = match &c.log {
            TableLog::Iceberg(_) => {
                let snapshot = iceberg::snapshot_at(self.root.store(), &table, log, at).await?;
                let files = snapshot
                    .files
                    .into_iter()
                    // Iceberg's partition values are columns of its files, whatever
                    // the folders are called.
                    .map(|(path, deleted)| (path, (deleted, Some(Vec::new()))))
                    .collect();
                (files, Some(snapshot.columns), None, "Iceberg snapshot")
            }
            _ => {
                let version = delta::files_at(store, &table, log, at).await?;
                let schema = version.schema;
                let files = version
                    .files
                    .into_iter()
                    .map(|(path, file)| {
                        let partitions = schema.as_ref().map(|s| {
                            s.partitions
                                .iter()
                                .map(|(field, _)| field.name().clone())
                                .zip(file.partition_values)
                                .collect()
                        });
                        (path, (file.deleted, partitions))
                    })
                    .collect();
                let partitions = schema
                    .as_ref()
                    .map(|s| s.partitions.iter().map(|(f, _)| Arc::clone(f)).collect());
                (files, schema.map(|s| s.columns), partitions, "Delta log")
            }
        };
        let files: Vec<DataFile> = c
            .files
            .iter()
            .filter_map(|f| {
                let (deleted, partitions) = current.remove(
                    &relative_parts(&f.meta.location, self.root.prefix())?[1..].join("/"),
                )?;
                Some(DataFile {
                    meta: f.meta.clone(),
                    partitions: partitions.unwrap_or_else(|| f.partitions.clone()),
                    deleted,
                })
            })
            .collect();
        match current.into_keys().next() {
            Some(missing) => Err(format!("{missing} is in the {kind} but not in the folder")),
            None => Ok(VersionFiles {
                files,
                columns,
                partitions,
            }),
        }
    }

    /// Builds one table version from its files; the files it is made of.
    async fn load(
        &self,
        c: &Candidate,
        at: Option<&At>,
    ) -> Result<(LakeTable, Option<u64>, Vec<DataFile>), String> {
        let VersionFiles {
            mut files,
            columns,
            partitions,
        } = self.current_files(c, at).await?;
        if files.is_empty() {
            return Err("no .parquet or .csv files".to_owned());
        }
        let rows = if c.format == Format::Parquet {
            let mut total = 0u64;
            for f in &mut files {
                let rows = self
                    .parquet_rows(f)
                    .await
                    .map_err(|e| format!("{}: {e}", self.relative(f)))?;
                let name = self.relative(f);
                if let Some(deleted) = &mut f.deleted {
                    deleted.kept = Some(
                        deleted_rows::kept_rows(&deleted.rows, rows)
                            .map_err(|e| format!("{name}: {e}"))?,
                    );
                }
                total += rows - f.deleted.as_ref().map_or(0, |d| d.rows.len());
            }
            Some(total)
        } else {
            None
        };
        if files
            .iter()
            .any(|f| f.deleted.as_ref().is_some_and(|d| d.kept.is_none()))
        {
            return Err("rows are marked deleted in a file that is not Parquet".into());
        }
        let partitions = partition_columns(&files, partitions)?;
        let metas: Vec<ObjectMeta> = files.iter().map(|f| f.meta.clone()).collect();
        let session = self.engine.session();
        let state = session.ctx.state();
        let store = Arc::clone(self.root.store());
        let format = c.format.file_format();
        let schema = format
            .infer_schema(&state, &store, &metas)
            .await
            .map_err(|e| e.to_string())?;
        let schema = match c.format {
            Format::Parquet => with_extension_types(schema, &state, &store, &metas).await,
            Format::Csv => schema,
        };
        let (schema, mapping) = match columns {
            Some(columns) => column_mapping::table_schema(&schema, &columns)?,
            None => (schema, None),
        };
        for field in &partitions {
            if schema.field_with_name(field.name()).is_ok() {
                return Err(format!(
                    "partition column {} is also a column in the files",
                    field.name()
                ));
            }
        }
        let partitioned = metas
            .into_iter()
            .zip(&files)
            .map(|(meta, f)| {
                let values = f
                    .partitions
                    .iter()
                    .zip(&partitions)
                    .map(|((_, v), column)| partition_value(v.as_deref(), column))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(|e| format!("{}: {e}", self.relative(f)))?;
                let file = PartitionedFile::new_from_meta(meta).with_partition_values(values);
                Ok(match f.deleted.as_ref().and_then(|d| d.kept.clone()) {
                    Some(kept) => deleted_rows::with_kept_rows(file, kept),
                    None => file,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let table = LakeTable::new(
            self.root.url().clone(),
            schema,
            partitions,
            partitioned,
            format,
        )
        .with_column_mapping(mapping);
        Ok((table, rows, files))
    }

    /// Table `name` at an earlier version (`None`: no such table), read from its log or
    /// metadata as they are now.
    ///
    /// # Errors
    /// It is not a Delta or Iceberg table, has no such version, or cannot be read.
    pub async fn table_at(&self, name: &str, at: &At) -> Result<Option<LakeTable>, String> {
        let objects = self.root.list().await?;
        let Some(c) = discover(objects, self.root.prefix())
            .into_iter()
            .find(|c| c.name == name)
        else {
            return Ok(None);
        };
        let (table, _, _) = self.load(&c, Some(at)).await?;
        Ok(Some(table))
    }

    /// Serves the versions of its tables through its schema (`lake."name@version"`).
    pub fn keep_history(self: &Arc<Self>) {
        self.schema
            .keep_history(Arc::new(time_travel::LakeHistory(Arc::downgrade(self))));
    }

    fn set_status(&self, name: &str, status: Option<LakeTableStatus>) {
        let key = self.status_key(name);
        if let Ok(mut map) = self.engine.status().lake.write() {
            match status {
                Some(s) => {
                    map.insert(key, s);
                }
                None => {
                    map.remove(&key);
                }
            }
        }
    }

    /// Looks at the whole lake and registers new and changed tables, drops removed ones.
    /// A table that fails to load keeps its last good version.
    pub async fn rescan(&self) -> ScanSummary {
        let _one_at_a_time = self.scanning.lock().await;
        let candidates = match self.root.list().await {
            Ok(objects) => discover(objects, self.root.prefix()),
            Err(error) => {
                // Serving goes on with what was loaded; the next scan tries again.
                tracing::warn!(lake = %self.root.shown(), %error, "lake not rescanned");
                return ScanSummary::default();
            }
        };
        let mut summary = ScanSummary::default();
        let schema = Arc::clone(&self.schema);
        let previous: HashMap<String, Listed> = self
            .registered
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();

        for c in &candidates {
            if previous.get(&c.name) == Some(&c.listed()) {
                continue;
            }
            let existed = schema.table_exist(&c.name);
            let old = self
                .engine
                .status()
                .lake
                .read()
                .ok()
                .and_then(|m| m.get(&self.status_key(&c.name)).cloned());
            let versions = old.as_ref().map_or(0, |o| o.versions);
            match self.load(c, None).await {
                Ok((table, rows, files)) => {
                    schema.publish(&c.name, Arc::new(table), files_tag(&files));
                    if let Ok(mut m) = self.registered.lock() {
                        m.insert(c.name.clone(), c.listed());
                    }
                    self.set_status(
                        &c.name,
                        Some(LakeTableStatus {
                            files: files.len(),
                            versions: versions + 1,
                            rows,
                            state: "ok",
                            error: None,
                            loaded_at: Some(SystemTime::now()),
                        }),
                    );
                    tracing::info!(table = %format!("{}.{}", self.schema_name, c.name), files = files.len(), rows = ?rows, "lake table loaded");
                    if existed {
                        summary.changed.push(self.status_key(&c.name));
                    } else {
                        summary.added.push(self.status_key(&c.name));
                    }
                }
                Err(error) => {
                    tracing::warn!(table = %format!("{}.{}", self.schema_name, c.name), %error, "{}", if existed { "lake table not reloaded; serving its last good version" } else { "lake table not loaded" });
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
                    summary.failed.push(self.status_key(&c.name));
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
                tracing::info!(table = %format!("{}.{name}", self.schema_name), "lake table removed");
                summary.removed.push(self.status_key(name));
            }
        }
        // Drop status rows of tables that are gone and never loaded.
        if let Ok(mut map) = self.engine.status().lake.write() {
            map.retain(|key, _| {
                !self.owns_status(key)
                    || candidates.iter().any(|c| self.status_key(&c.name) == *key)
            });
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

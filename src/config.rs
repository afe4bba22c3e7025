//! The configuration tree: built-in defaults, the `--config` TOML file, CLI overrides
//! and validation.
//!
//! Owns every key a user can set. `conf/default.toml` documents each key and a unit test
//! keeps it equal to [`Config::default`]. Imports nothing else from the crate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole configuration, as read from TOML.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub lake: LakeConfig,
    pub warehouse: WarehouseConfig,
    pub audiences: AudiencesConfig,
    pub state: StateConfig,
    pub activation: ActivationConfig,
    pub exports: Vec<ExportConfig>,
    pub auth: AuthConfig,
    pub privacy: PrivacyConfig,
    pub engine: EngineConfig,
    pub log: LogConfig,
}

/// `[engine]`: where queries run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// `local`: every query runs in this process. `ballista`: queries over the lake run
    /// on the Apache Ballista cluster at `scheduler`, the rest here.
    pub mode: String,
    /// The cluster's scheduler, `df://host:port` (mode = "ballista").
    pub scheduler: String,
    /// Plans whose tables hold fewer megabytes of files than this run here, where they
    /// answer without a job's overhead (mode = "ballista"; 0: every plan it can run).
    pub min_cluster_mb: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            mode: "local".to_owned(),
            scheduler: String::new(),
            min_cluster_mb: 0,
        }
    }
}

impl EngineConfig {
    /// The scheduler address queries go to, when in ballista mode.
    pub fn cluster(&self) -> Option<&str> {
        (self.mode == "ballista").then_some(self.scheduler.as_str())
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.mode.as_str() {
            "local" => {}
            "ballista" => {
                let address = self.scheduler.strip_prefix("df://").unwrap_or_default();
                let port = address.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
                if !matches!(port, Some(Ok(p)) if p > 0) {
                    problems.push(format!(
                        "engine.scheduler = {:?} must be df://HOST:PORT when engine.mode = \"ballista\"",
                        self.scheduler
                    ));
                }
            }
            other => problems.push(format!(
                "engine.mode = {other:?}: expected \"local\" or \"ballista\""
            )),
        }
        problems
    }
}

/// The PostgreSQL listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: String,
    /// The database name clients connect to; any other name is refused with 3D000.
    pub database: String,
    /// Connections beyond this number are refused (0 = no limit).
    pub max_connections: usize,
    /// Seconds running queries get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Memory all running queries may use together, in MiB; sorts, joins and
    /// aggregations spill to disk and then fail with 53200 beyond it (0 = no limit).
    pub memory_limit_mb: u64,
    /// Where queries spill (created if missing); empty = the system's temp dir.
    pub spill_dir: String,
    /// Memory for results kept to answer identical queries over unchanged tables
    /// again, in MiB (0 = no result cache).
    pub result_cache_mb: u64,
    /// Client queries reading tables that run at once; the others wait their turn in
    /// arrival order (0 = no limit). Each query already uses every core.
    pub max_running_queries: usize,
    pub tls: TlsConfig,
}

/// `[server.tls]`: encryption of client connections.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key`, enables TLS.
    pub cert: String,
    /// PEM private key.
    pub key: String,
    /// Refuse connections that do not use TLS.
    pub require: bool,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        !self.cert.is_empty()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:5433".to_owned(),
            database: "datapunk".to_owned(),
            max_connections: 100,
            shutdown_grace_secs: 30,
            memory_limit_mb: 0,
            spill_dir: String::new(),
            result_cache_mb: 256,
            max_running_queries: 4,
            tls: TlsConfig::default(),
        }
    }
}

/// The Parquet/CSV lake.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LakeConfig {
    /// Lake root: a folder, or `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix`. Empty: generate (once) and serve the built-in demo lake.
    pub root: String,
    /// Where the demo lake is generated when `root` is empty. Empty: the user cache dir.
    pub demo_dir: String,
    /// Watch the lake for changes and reload without a restart.
    pub watch: bool,
    /// Quiet period after the last file change before the lake is rescanned, in milliseconds.
    pub debounce_ms: u64,
    /// How often a lake in object storage is listed for changes, in milliseconds (a
    /// folder is watched instead).
    pub poll_ms: u64,
    /// Connection to an `s3://` root (any S3-compatible service).
    pub s3: S3Config,
    /// More lake roots, each served as a schema of its own.
    pub mounts: Vec<MountConfig>,
}

impl Default for LakeConfig {
    fn default() -> Self {
        Self {
            root: String::new(),
            demo_dir: String::new(),
            watch: true,
            debounce_ms: 1000,
            poll_ms: 10_000,
            s3: S3Config::default(),
            mounts: Vec::new(),
        }
    }
}

impl LakeConfig {
    /// The root's object store scheme (`s3`, `gs`, `az`), `None` for a folder.
    pub fn object_store_scheme(&self) -> Option<&str> {
        object_store_scheme(&self.root)
    }

    /// The lake configuration of mount `mount`: its root, this lake's other settings.
    pub fn of_mount(&self, mount: &MountConfig) -> LakeConfig {
        LakeConfig {
            root: mount.root.clone(),
            mounts: Vec::new(),
            ..self.clone()
        }
    }
}

/// `s3`, `gs` or `az` of an object store URL, `None` for a folder.
fn object_store_scheme(root: &str) -> Option<&str> {
    let (scheme, _) = root.split_once("://")?;
    Some(scheme)
}

/// A lake root served as schema `name` (`[[lake.mounts]]`): a folder or an object store
/// prefix, laid out like the lake, listed or watched like it, with the `[lake.s3]`
/// connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MountConfig {
    pub name: String,
    pub root: String,
}

/// Schemas a mount cannot take.
const RESERVED_SCHEMAS: &[&str] = &[
    "lake",
    "warehouse",
    "audience",
    "datapunk",
    "public",
    "pg_catalog",
    "information_schema",
];

impl MountConfig {
    /// What is wrong with the i-th mount on its own, as messages naming the key.
    fn problems(&self, i: usize) -> Vec<String> {
        let key = |k: &str| format!("lake.mounts[{i}].{k}");
        let mut problems = Vec::new();
        let mut chars = self.name.chars();
        let identifier = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !identifier {
            problems.push(format!(
                "{} = {:?}: a mount is named like a schema (lower-case letters, digits, _)",
                key("name"),
                self.name
            ));
        } else if RESERVED_SCHEMAS.contains(&self.name.as_str()) {
            problems.push(format!(
                "{} = {:?} is a schema of datapunk's own",
                key("name"),
                self.name
            ));
        }
        match object_store_scheme(&self.root) {
            Some("s3" | "gs" | "az") => {}
            Some(other) => problems.push(format!(
                "{} = {:?}: {other}:// is not a supported object store (s3://, gs://, az://)",
                key("root"),
                self.root
            )),
            None if !Path::new(&self.root).is_dir() => problems.push(format!(
                "{} = {:?} is not a directory",
                key("root"),
                self.root
            )),
            None => {}
        }
        problems
    }
}

/// An S3-compatible service. Empty keys fall back to the standard AWS environment
/// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, ...).
#[derive(Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// The service's URL, for a service other than AWS (`http://127.0.0.1:9000`).
    pub endpoint: String,
    pub region: String,
    /// Allow a plain `http://` endpoint (a local test server).
    pub allow_http: bool,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |set: &str| if set.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .field("access_key_id", &shown(&self.access_key_id))
            .field("secret_access_key", &shown(&self.secret_access_key))
            .finish()
    }
}

/// The warehouse build scripts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarehouseConfig {
    /// Folder of `NNN_name.sql` scripts run in numeric order. Empty: the built-in demo
    /// scripts when serving the demo lake, none otherwise.
    pub scripts_dir: String,
    /// Rebuild the warehouse after the lake changes.
    pub rebuild_on_lake_change: bool,
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        Self {
            scripts_dir: String::new(),
            rebuild_on_lake_change: true,
        }
    }
}

/// Who may connect.
/// Audiences: named queries whose membership datapunk refreshes and records.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudiencesConfig {
    /// Folder of `NAME.sql` audience definitions; `CREATE AUDIENCE` writes there too.
    /// Empty: `audience-definitions` in the state dir (with the demo audiences when serving the
    /// demo lake).
    pub dir: String,
}

/// Where datapunk keeps what must survive a restart (audience memberships, their
/// change history, export runs).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// Empty: $XDG_DATA_HOME/datapunk/state-lake-... (or ~/.local/share/...), one per
    /// lake; the demo lake's in the cache dir.
    pub dir: String,
}

/// Where exports may write, and the zone schedules are read in.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivationConfig {
    /// Folders export paths must lie in. Empty: only `exports` in the state dir.
    pub export_roots: Vec<String>,
    /// IANA time zone of export and audience schedules.
    pub timezone: String,
}

impl Default for ActivationConfig {
    fn default() -> Self {
        Self {
            export_roots: Vec::new(),
            timezone: "UTC".to_owned(),
        }
    }
}

/// One campaign export (`[[exports]]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    pub name: String,
    /// The audience exported, or
    pub audience: String,
    /// a query (mode `full` only).
    pub query: String,
    /// `full`: every member; `entered` / `exited`: the changes since the last successful
    /// run.
    pub mode: String,
    /// `csv`, `parquet` or `jsonl`.
    pub format: String,
    /// The folder the files go to.
    pub path: String,
    /// Optional `http://...` URL the rows are POSTed to as JSON lines.
    pub webhook: String,
    /// Optional cron schedule (five fields, or six with seconds first), in
    /// `activation.timezone`.
    pub schedule: String,
    /// Rows whose value in this column is not true are never exported.
    pub consent_column: String,
    /// Export rows without `[privacy]` consent too (logged on every run).
    pub ignore_consent: bool,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            audience: String::new(),
            query: String::new(),
            mode: "full".to_owned(),
            format: "csv".to_owned(),
            path: String::new(),
            webhook: String::new(),
            schedule: String::new(),
            consent_column: "marketing_opt_in".to_owned(),
            ignore_consent: false,
        }
    }
}

impl PrivacyConfig {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, t) in self.pii_tables.iter().enumerate() {
            if t.table.split('.').count() != 2 || t.table.split('.').any(str::is_empty) {
                problems.push(format!(
                    "privacy.pii_tables[{i}].table {:?} must be schema.table",
                    t.table
                ));
            }
            if t.id_type.is_empty() || t.column.is_empty() {
                problems.push(format!("privacy.pii_tables[{i}] needs id_type and column"));
            }
        }
        if !matches!(self.mask.as_str(), "hash" | "null") {
            problems.push(format!(
                "privacy.mask = {:?}: expected \"hash\" or \"null\"",
                self.mask
            ));
        }
        if !self.consent_table.is_empty()
            && (self.consent_table.split('.').count() != 2
                || self.consent_key.is_empty()
                || self.consent_column.is_empty())
        {
            problems.push(format!(
                "privacy.consent_table {:?} must be schema.table, with consent_key and consent_column",
                self.consent_table
            ));
        }
        if self.identity_table.split('.').count() != 2 {
            problems.push(format!(
                "privacy.identity_table {:?} must be schema.table",
                self.identity_table
            ));
        }
        problems
    }
}

impl ExportConfig {
    /// What is wrong with this export on its own (the i-th), as messages naming the key.
    pub fn problems(&self, i: usize) -> Vec<String> {
        let key = |k: &str| format!("exports[{i}].{k}");
        let mut problems = Vec::new();
        let valid_name = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            problems.push(format!(
                "{} = {:?}: an export name is letters, digits, _ and -",
                key("name"),
                self.name
            ));
        }
        match (self.audience.is_empty(), self.query.is_empty()) {
            (true, true) => problems.push(format!(
                "{} or {}: an export needs one of them",
                key("audience"),
                key("query")
            )),
            (false, false) => problems.push(format!(
                "{} and {}: an export has one of them, not both",
                key("audience"),
                key("query")
            )),
            _ => {}
        }
        if !["full", "entered", "exited"].contains(&self.mode.as_str()) {
            problems.push(format!(
                "{} = {:?}: one of full, entered, exited",
                key("mode"),
                self.mode
            ));
        } else if self.mode != "full" && self.audience.is_empty() {
            problems.push(format!(
                "{} = {:?} needs {}: only an audience has changes",
                key("mode"),
                self.mode,
                key("audience")
            ));
        }
        if !["csv", "parquet", "jsonl"].contains(&self.format.as_str()) {
            problems.push(format!(
                "{} = {:?}: one of csv, parquet, jsonl",
                key("format"),
                self.format
            ));
        }
        if self.path.is_empty() {
            problems.push(format!("{} must name a folder", key("path")));
        } else if Path::new(&self.path)
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            problems.push(format!(
                "{} = {:?} must not contain ..",
                key("path"),
                self.path
            ));
        }
        let is_url = ["http://", "https://"]
            .iter()
            .any(|scheme| self.webhook.starts_with(scheme));
        if !self.webhook.is_empty() && !is_url {
            problems.push(format!(
                "{} = {:?}: an http:// or https:// URL",
                key("webhook"),
                self.webhook
            ));
        }
        problems
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Users allowed to log in with SCRAM-SHA-256. None configured and a loopback listen
    /// address: any user connects without a password (trust).
    pub users: Vec<UserConfig>,
}

/// One `[[auth.users]]` entry.
#[derive(Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// Plain text, or a `SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey` verifier
    /// (`datapunk passwd` prints one).
    pub password: String,
    /// May run admin statements such as `REFRESH WAREHOUSE`, reads every schema and sees
    /// masked columns in clear.
    pub admin: bool,
    /// The schemas this user may read (`pg_catalog`, `information_schema` and `datapunk`
    /// always); absent = all.
    pub schemas: Option<Vec<String>>,
    /// Sees `privacy.masked_columns` in clear.
    pub pii: bool,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("admin", &self.admin)
            .field("schemas", &self.schemas)
            .field("pii", &self.pii)
            .finish()
    }
}

/// `[privacy]`: who is erased, which tables hold personal rows, which columns are masked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Tables holding personal rows: an erased person's rows are never returned from them.
    pub pii_tables: Vec<PiiTableConfig>,
    /// The table (`id_type`, `id`, `person_id`) `datapunk_forget` resolves a person through.
    pub identity_table: String,
    /// Columns (by name, in any table) returned masked to users without `pii = true`.
    pub masked_columns: Vec<String>,
    /// `hash`: a keyed hash (equal values stay equal, so masked columns still join);
    /// `null`: NULL.
    pub mask: String,
    /// Where marketing consent is recorded: audiences and exports keep only rows whose
    /// `consent_key` has `consent_column` true in this table (empty: no consent rule).
    pub consent_table: String,
    pub consent_key: String,
    pub consent_column: String,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            pii_tables: Vec::new(),
            identity_table: "warehouse.identity_graph".to_owned(),
            masked_columns: Vec::new(),
            mask: "hash".to_owned(),
            consent_table: String::new(),
            consent_key: "customer_id".to_owned(),
            consent_column: "marketing_opt_in".to_owned(),
        }
    }
}

/// One `[[privacy.pii_tables]]` entry: `column` of `table` holds identifiers of type
/// `id_type` (`person` = the `person_id` of the identity table).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiiTableConfig {
    /// `schema.table`.
    pub table: String,
    pub id_type: String,
    pub column: String,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// tracing EnvFilter directive; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
        }
    }
}

/// Values given on the command line; each one given replaces the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub lake: Option<PathBuf>,
    pub warehouse_scripts_dir: Option<PathBuf>,
    pub database: Option<String>,
    /// `local` or `ballista` (`[engine] mode`).
    pub engine: Option<String>,
    /// `df://host:port` (`[engine] scheduler`).
    pub scheduler: Option<String>,
    /// `[state] dir`.
    pub state_dir: Option<PathBuf>,
}

impl Config {
    /// Reads a TOML file. Unknown keys are errors that name the key.
    ///
    /// # Errors
    /// The file cannot be read or is not valid configuration.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading config {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("config {}: {e}", path.display()))
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// The text is not valid configuration.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies CLI flags: only those given override the file.
    pub fn apply(&mut self, overrides: &Overrides) {
        if let Some(listen) = &overrides.listen {
            self.server.listen.clone_from(listen);
        }
        if let Some(lake) = &overrides.lake {
            self.lake.root = lake.display().to_string();
        }
        if let Some(dir) = &overrides.warehouse_scripts_dir {
            self.warehouse.scripts_dir = dir.display().to_string();
        }
        if let Some(db) = &overrides.database {
            self.server.database.clone_from(db);
        }
        if let Some(mode) = &overrides.engine {
            self.engine.mode.clone_from(mode);
        }
        if let Some(scheduler) = &overrides.scheduler {
            self.engine.scheduler.clone_from(scheduler);
        }
        if let Some(dir) = &overrides.state_dir {
            self.state.dir = dir.display().to_string();
        }
    }

    /// The listen address, parsed.
    ///
    /// # Errors
    /// `server.listen` is not `host:port`.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        use std::net::ToSocketAddrs;
        self.server
            .listen
            .to_socket_addrs()
            .map_err(|e| format!("server.listen = {:?}: {e}", self.server.listen))?
            .next()
            .ok_or_else(|| format!("server.listen = {:?}: no address", self.server.listen))
    }

    /// Whether logins need no password (no users configured).
    pub fn is_trust(&self) -> bool {
        self.auth.users.is_empty()
    }

    pub fn debounce(&self) -> Duration {
        Duration::from_millis(self.lake.debounce_ms)
    }

    /// Checks the whole configuration and reports every problem at once, each with its key.
    ///
    /// # Errors
    /// One message listing all problems.
    pub fn validate(&self) -> Result<(), String> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }

    /// Every problem of the configuration on its own, each naming its key (what can be
    /// checked without the lake, the state dir or the audience definitions).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.engine.problems();
        match self.listen_addr() {
            Err(e) => problems.push(e),
            Ok(addr) if !addr.ip().is_loopback() && self.is_trust() => problems.push(format!(
                "server.listen = {:?} is not a loopback address and no [[auth.users]] are configured: \
                 password-less (trust) logins are only allowed on loopback. Add users \
                 (`datapunk passwd` prints a verifier) or listen on 127.0.0.1",
                self.server.listen
            )),
            Ok(_) => {}
        }
        let tls = &self.server.tls;
        if tls.cert.is_empty() != tls.key.is_empty() {
            problems.push("server.tls.cert and server.tls.key go together".to_owned());
        }
        if tls.require && !tls.enabled() {
            problems.push("server.tls.require needs server.tls.cert and server.tls.key".to_owned());
        }
        if self.server.database.is_empty() {
            problems.push("server.database must not be empty".to_owned());
        }
        if self.lake.debounce_ms == 0 {
            problems.push("lake.debounce_ms must be at least 1".to_owned());
        }
        if !self.server.spill_dir.is_empty() && Path::new(&self.server.spill_dir).is_file() {
            problems.push(format!(
                "server.spill_dir = {:?} is a file, not a directory",
                self.server.spill_dir
            ));
        }
        if self.lake.poll_ms == 0 {
            problems.push("lake.poll_ms must be at least 1".to_owned());
        }
        match self.lake.object_store_scheme() {
            Some("s3" | "gs" | "az") | None => {}
            Some(other) => problems.push(format!(
                "lake.root = {:?}: {other}:// is not a supported object store (s3://, gs://, az://)",
                self.lake.root
            )),
        }
        if !self.lake.root.is_empty()
            && self.lake.object_store_scheme().is_none()
            && !Path::new(&self.lake.root).is_dir()
        {
            problems.push(format!(
                "lake.root = {:?} is not a directory",
                self.lake.root
            ));
        }
        if !self.warehouse.scripts_dir.is_empty()
            && !Path::new(&self.warehouse.scripts_dir).is_dir()
        {
            problems.push(format!(
                "warehouse.scripts_dir = {:?} is not a directory",
                self.warehouse.scripts_dir
            ));
        }
        let mut mounts = std::collections::HashSet::new();
        for (i, mount) in self.lake.mounts.iter().enumerate() {
            problems.extend(mount.problems(i));
            if !mounts.insert(mount.name.as_str()) {
                problems.push(format!(
                    "lake.mounts[{i}].name {:?} is used twice",
                    mount.name
                ));
            }
        }
        let mut exports = std::collections::HashSet::new();
        for (i, export) in self.exports.iter().enumerate() {
            problems.extend(export.problems(i));
            if !export.name.is_empty() && !exports.insert(export.name.as_str()) {
                problems.push(format!("exports[{i}].name {:?} is used twice", export.name));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, user) in self.auth.users.iter().enumerate() {
            if user.name.is_empty() {
                problems.push(format!("auth.users[{i}].name must not be empty"));
            } else if !seen.insert(user.name.as_str()) {
                problems.push(format!(
                    "auth.users[{i}].name {:?} is listed twice",
                    user.name
                ));
            }
            if user.password.is_empty() {
                problems.push(format!("auth.users[{i}].password must not be empty"));
            } else if user.password.starts_with("SCRAM-SHA-256$")
                && crate::scram::Verifier::parse(&user.password).is_none()
            {
                problems.push(format!(
                    "auth.users[{i}].password looks like a SCRAM-SHA-256 verifier but is malformed"
                ));
            }
        }
        problems.extend(self.privacy.problems());
        problems
    }

    /// The configuration as it may be logged: passwords are redacted by `UserConfig`'s Debug.
    pub fn redacted(&self) -> String {
        format!("{self:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_toml_documents_the_defaults() {
        let text = include_str!("../conf/default.toml");
        let parsed = Config::from_toml(text).expect("conf/default.toml parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn example_config_parses_and_its_verifiers_are_valid() {
        let c = Config::from_toml(include_str!("../conf/example.toml")).expect("parses");
        assert_eq!(c.auth.users.len(), 2);
        for u in &c.auth.users {
            let v = crate::scram::Verifier::parse(&u.password).expect("a valid verifier");
            // The example's verifiers are for the password its comment names.
            assert_eq!(
                crate::scram::Verifier::derive("change-me", &v.salt, v.iterations),
                v
            );
        }
        assert!(c.server.tls.require);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let err = Config::from_toml("[server]\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(err.contains("listen_addr"), "{err}");
    }

    #[test]
    fn all_problems_reported_at_once() {
        let mut c = Config::default();
        c.server.listen = "0.0.0.0:5433".into();
        c.server.database = String::new();
        c.lake.debounce_ms = 0;
        let err = c.validate().unwrap_err();
        assert_eq!(err.lines().count(), 3, "{err}");
        assert!(err.contains("trust"));
    }

    #[test]
    fn flags_override_only_when_given() {
        let mut c = Config::from_toml("[server]\nlisten = \"127.0.0.1:7000\"\n").unwrap();
        c.apply(&Overrides::default());
        assert_eq!(c.server.listen, "127.0.0.1:7000");
        c.apply(&Overrides {
            listen: Some("127.0.0.1:7001".into()),
            ..Default::default()
        });
        assert_eq!(c.server.listen, "127.0.0.1:7001");
    }

    #[test]
    fn passwords_are_redacted() {
        let mut c = Config::default();
        c.auth.users.push(UserConfig {
            name: "ann".into(),
            password: "hunter2".into(),
            ..Default::default()
        });
        assert!(!c.redacted().contains("hunter2"));
    }
}

//! Command-line interface (clap derive). No logic: `main.rs` acts on these values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// datapunk: a PostgreSQL-compatible customer warehouse over a Parquet lake.
#[derive(Debug, Parser)]
#[command(name = "datapunk", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the PostgreSQL server. With no lake configured it generates and serves a
    /// demo retail lake.
    Serve(ServeArgs),
    /// Write the deterministic retail data set (demo or benchmark sizes) as Parquet.
    Generate(GenerateArgs),
    /// Print a SCRAM-SHA-256 verifier for a password read from stdin (or a prompt), for
    /// `[[auth.users]] password = "..."`.
    Passwd,
    /// Run one `[[exports]]` now and exit (for your own cron; while a server runs on the
    /// same state dir, use `RUN EXPORT name` on it instead).
    Export(ExportArgs),
    /// Rewrite the lake's Parquet files of `[[privacy.pii_tables]]` without the rows of
    /// erased persons, then mark their requests purged (while a server runs on the same
    /// state dir, use `PURGE ERASED` on it instead).
    Purge(PurgeArgs),
    /// Start an Apache Ballista scheduler that knows every datapunk function
    /// (`[engine] mode = "ballista"` servers send it their lake queries).
    Scheduler(SchedulerArgs),
    /// Start an Apache Ballista executor for a `datapunk scheduler`.
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on for executors and servers, e.g. 127.0.0.1:50050 (port 0
    /// picks a free port, printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub bind: String,
    /// The host executors and servers reach this scheduler at (default: the bind
    /// address; needed when binding 0.0.0.0).
    #[arg(long, value_name = "HOST")]
    pub advertise: Option<String>,
    /// Seconds without a heartbeat after which an executor counts as dead and its
    /// tasks are run elsewhere.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub executor_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler, HOST:PORT (or df://HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address to serve results on (Arrow Flight); the scheduler calls the executor on
    /// the next port. Port 0 picks two free ports (printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
    pub bind: String,
    /// Folder for shuffle files and spills (created if missing).
    #[arg(long, value_name = "DIR")]
    pub work_dir: PathBuf,
    /// The host the scheduler and servers reach this executor at (default: the bind
    /// address; needed when binding 0.0.0.0).
    #[arg(long, value_name = "HOST")]
    pub advertise: Option<String>,
    /// Tasks run at once (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub vcores: usize,
    /// Memory all tasks may use together, in MiB (default: 70% of the machine's).
    #[arg(long, value_name = "MIB", default_value_t = 0)]
    pub memory_limit_mb: u64,
    /// Seconds between heartbeats to the scheduler.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub heartbeat: u64,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// TOML configuration file (its lake, state dir and `[privacy]`).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The export's name (`[[exports]] name`).
    pub name: String,
    /// TOML configuration file with the export.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file (see conf/default.toml for every key).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:5433 (overrides server.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Lake root folder (overrides lake.root). Without one, the demo lake is served.
    #[arg(long, value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Folder of warehouse scripts NNN_name.sql (overrides warehouse.scripts_dir).
    #[arg(long, value_name = "DIR")]
    pub warehouse: Option<PathBuf>,
    /// Database name clients connect to (overrides server.database).
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
    /// Where queries run: local or ballista (overrides engine.mode).
    #[arg(long, value_name = "MODE")]
    pub engine: Option<String>,
    /// The Ballista scheduler, df://HOST:PORT (overrides engine.scheduler).
    #[arg(long, value_name = "URL")]
    pub scheduler: Option<String>,
    /// The server's own folder: warehouse tables, audiences, logs (overrides state.dir;
    /// in ballista mode on storage the executors share, at the same path).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output folder; one sub-folder per table is written into it.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of order lines (customers = lines/50, orders ≈ lines/2.5). Accepts 1e7.
    #[arg(long, value_name = "N", default_value = "200000")]
    pub order_lines: String,
    /// Random seed; the same seed and size give the same files.
    #[arg(long, value_name = "S", default_value_t = 42)]
    pub seed: u64,
    /// Rows per Parquet file.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub rows_per_file: usize,
}

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

//! datapunk: a PostgreSQL-compatible customer warehouse server over a Parquet lake.
//!
//! Architecture: `app` wires a shared [`engine::Engine`] (DataFusion catalog with schemas
//! `lake`, `warehouse`, `datapunk`, `pg_catalog`), the [`lake`] (folders of Parquet/CSV
//! files, watched), the [`warehouse`] (SQL build scripts) and the [`server`] (pgwire accept
//! loop, one session per connection, datafusion-postgres handlers).
//!
//! Layout:
//! - `cli`, `config`, `telemetry`, `allocator`: process setup; `background`: the
//!   low-priority runtime of rebuilds, refreshes and exports; `durable`: atomic file
//!   writes
//! - `error`, `sqlstate`: one error type, one SQLSTATE mapping
//! - `pg`: PostgreSQL's behaviour over DataFusion (dialect, types, functions, catalogs)
//! - `engine`: catalog, per-connection sessions, system tables, and the one door for SQL
//!   text (`engine::prepare`)
//! - `lake`, `warehouse`: what is served
//! - `activation`: audiences (refreshed, diffed, recorded durably) and their exports
//! - `lookup`: key indexes for point lookups on warehouse and audience tables
//! - `lineage`: the table versions a query reads; `result_cache`: repeated queries
//!   over unchanged tables answered from memory
//! - `server`: the PostgreSQL protocol
//! - `cluster`: Apache Ballista scale-out (scheduler, executors, what runs where)
//! - `scram`: SCRAM-SHA-256 verifiers and exchange
//! - `udf`: the registry of datapunk SQL functions
//! - `generate`: the deterministic retail data set
//! - `testing`: fixtures shared by tests and benches

pub mod activation;
pub mod allocator;
pub mod app;
pub mod background;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod durable;
pub mod engine;
pub mod error;
pub mod generate;
pub mod lake;
pub mod lineage;
pub mod lookup;
pub mod marketing;
pub mod pg;
pub mod privacy;
pub mod result_cache;
pub mod scram;
pub mod server;
pub mod sqlstate;
pub mod telemetry;
#[doc(hidden)]
pub mod testing;
pub mod udf;
pub mod warehouse;

pub use app::App;
pub use config::Config;
pub use error::{Error, Result};

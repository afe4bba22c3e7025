//! PostgreSQL's behaviour over DataFusion, in one layer below the engine and the server:
//! what a client's SQL means, which types and values it sees, and which catalogs it
//! reads. Nothing here knows of connections, the lake or the warehouse.
//!
//! - [`dialect`]: SQL text to statements, parsed once, with the syntax rewrites that need
//!   the syntax tree (named arguments, PostgreSQL's column names, catalog-query shapes);
//! - [`literals`]: PostgreSQL's types for numeric literals (`integer`, `numeric`);
//! - [`result_types`]: PostgreSQL's result types of functions DataFusion types otherwise;
//! - [`types`]: the one mapping from Arrow columns to PostgreSQL types (OIDs, typmods);
//! - meaning where DataFusion's differs, by topic, each with its functions, planners and
//!   analyzer rules: [`temporal`] (dates, times, intervals), [`numeric`], [`float`],
//!   [`integer_cast`], [`checked_arithmetic`], [`avg`], [`to_char`], [`uuid`], [`like`], [`json`], and
//!   [`coercion`] (quoted literals read as the other side's type; where the rules go);
//! - [`system_info`]: PostgreSQL's system information and catalog functions
//!   (`version()`, `format_type`, `pg_typeof`, ...);
//! - [`settings`]: the server settings `current_setting`, `SHOW` and `pg_settings` read;
//! - [`introspection`]: the catalog functions tools call while browsing (visibility,
//!   sizes, serial sequences, index and function definitions, `to_regtype`);
//! - [`catalog`]: `pg_catalog` and `information_schema` as tools read them.

pub mod avg;
pub mod catalog;
pub mod checked_arithmetic;
pub mod coercion;
pub mod dialect;
pub mod float;
pub mod integer_cast;
pub mod introspection;
pub mod json;
pub mod like;
pub mod literals;
pub mod numeric;
pub mod result_types;
pub mod settings;
pub mod system_info;
pub mod temporal;
pub mod to_char;
pub mod types;
pub mod uuid;

//! The catalogs PostgreSQL clients read, over datafusion-pg-catalog's `pg_catalog`:
//! what it lacks or gets wrong ([`overlay`]), the views it lacks altogether ([`extra`]),
//! `information_schema` with PostgreSQL's columns and constraint views
//! ([`information_schema`], [`columns_view`]), and the one mechanism behind views whose
//! rows are computed at scan time ([`computed_view`]); rows of schemas the session may not
//! read are not listed ([`visible`]).

pub mod columns_view;
pub mod computed_view;
pub mod extra;
pub mod information_schema;
pub mod overlay;
pub mod visible;

//! PostgreSQL's behaviour over DataFusion, in one layer below the engine and the server:
//! what a client's SQL means, which types and values it sees, and which catalogs it
//! reads. Nothing here knows of connections, the lake or the warehouse.
//!
//! - [`dialect`]: SQL text to statements, parsed once, with the syntax rewrites that need
//!   the syntax tree (named arguments, PostgreSQL's column names, catalog-query shapes);
//! - [`literals`]: PostgreSQL's types for numeric literals (`integer`, `numeric`);
//! - [`result_types`]: PostgreSQL's result types of functions DataFusion types otherwise;
//! - [`types`]: the one mapping from Arrow columns to PostgreSQL types (OIDs, typmods);
//! - [`type_planner`]: what PostgreSQL's type names mean (`float`, `"char"`, `name`);
//! - [`operators`]: PostgreSQL's operator syntax (`OPERATOR(pg_catalog.=)`, regex
//!   `substring`);
//! - meaning where DataFusion's differs, by topic, each with its functions, planners and
//!   analyzer rules: [`temporal`] (dates, times, intervals), [`extract`], [`numeric`],
//!   [`numeric_division`], [`float`], [`integer_cast`], [`checked_arithmetic`], [`avg`]
//!   ([`decimal_avg`]), [`sum`], [`to_char`], [`uuid`], [`like`], [`json`], and [`coercion`] (quoted literals read as the other side's type), with
//!   [`with_postgres_rules`] placing their analyzer rules around DataFusion's;
//! - [`system_info`]: PostgreSQL's system information and catalog functions
//!   (`version()`, `format_type`, `pg_typeof`, ...);
//! - [`settings`]: the server settings `current_setting`, `SHOW` and `pg_settings` read;
//! - [`introspection`]: the catalog functions tools call while browsing (visibility,
//!   sizes, serial sequences, index and function definitions, `to_regtype`);
//! - [`function_doc`]: how a function is documented, and the documented functions the
//!   catalogs, `\df` and named arguments answer from;
//! - [`fault`]: the faults this layer raises, typed (the SQLSTATE is decided from them);
//! - [`catalog`]: `pg_catalog` and `information_schema` as tools read them.

pub mod avg;
pub mod catalog;
pub mod checked_arithmetic;
pub mod coercion;
pub mod decimal_avg;
pub mod dialect;
pub mod extract;
pub mod fault;
pub mod float;
pub mod function_doc;
pub mod integer_cast;
pub mod introspection;
pub mod json;
pub mod like;
pub mod literals;
pub mod numeric;
pub mod numeric_division;
pub mod operators;
pub mod result_types;
pub mod settings;
pub mod sum;
pub mod system_info;
pub mod temporal;
pub mod to_char;
pub mod type_planner;
pub mod types;
pub mod uuid;
pub mod volatile_after_limit;

use std::sync::Arc;

use datafusion::optimizer::{AnalyzerRule, OptimizerRule};
use datafusion::sql::sqlparser::ast::Expr;

/// The name a function call calls (lower case, without its schema), if `expr` is one.
pub(crate) fn function_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// DataFusion's optimizer rules with the ones that must know our functions wrapped, and
/// volatile select lists computed after `ORDER BY ... LIMIT`.
pub fn with_postgres_optimizer_rules(
    rules: Vec<Arc<dyn OptimizerRule + Send + Sync>>,
) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    let mut rules: Vec<Arc<dyn OptimizerRule + Send + Sync>> = rules
        .into_iter()
        .map(|rule| -> Arc<dyn OptimizerRule + Send + Sync> {
            if rule.name() == "single_distinct_aggregation_to_group_by" {
                Arc::new(sum::SingleDistinctSums(rule))
            } else {
                rule
            }
        })
        .collect();
    rules.push(Arc::new(volatile_after_limit::VolatileAfterLimit));
    rules
}

/// DataFusion's analyzer rules with ours around its type coercion: the ones that must
/// see the types as written before it, the ones that must see its casts after it. None
/// may change an output column's type: clients are told the types of the plan before
/// analysis (type changes belong in `temporal::TemporalPlanner`).
pub fn with_postgres_rules(
    mut rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>>,
) -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let at = rules
        .iter()
        .position(|r| r.name() == "type_coercion")
        .unwrap_or(rules.len());
    let after: Arc<dyn AnalyzerRule + Send + Sync> =
        Arc::new(temporal::TemporalCastsRule::default());
    rules.insert((at + 1).min(rules.len()), after);
    rules.insert(
        (at + 1).min(rules.len()),
        Arc::new(float::FloatCasts::default()),
    );
    rules.insert(
        (at + 1).min(rules.len()),
        Arc::new(integer_cast::IntegerCasts::default()),
    );
    rules.insert(at, Arc::new(uuid::QuotedUuids));
    rules.insert(at, Arc::new(coercion::QuotedBooleans));
    rules
}

//! The one registry of datapunk's SQL functions (marketing analytics and PostgreSQL
//! compatibility). `register_all` works on any `FunctionRegistry` (a `SessionState`,
//! a Ballista executor's registry) so every process that plans or runs our queries
//! registers exactly the same functions.
//!
//! No function logic here: each family lives in its own file and exposes its lists.

mod ab_aggregates;
mod ab_test;
mod baskets;
mod clv;
mod clv_predictions;
mod clv_summary;
pub mod computed_table;
mod customer_clv;
mod date_trunc;
mod float_lists;
mod folded_table;
mod identity_stitch;
mod keys;
mod kmeans;
mod order_lines;
mod query_table;
mod recommend;
mod rfm;
mod rfm_table;
mod table_args;
mod trait_aggregates;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};

use crate::pg::function_doc::FunctionDoc;

/// The documentation of every datapunk (marketing) function users are told about.
pub fn docs() -> &'static [FunctionDoc] {
    &[
        ab_test::AB_BAYES_PROPORTIONS,
        ab_test::AB_CHI2_2X2,
        ab_test::AB_FISHER_EXACT,
        ab_test::AB_PROPORTIONS_ZTEST,
        ab_test::AB_SAMPLE_SIZE,
        recommend::ALS_RECOMMEND,
        clv::BGNBD_FIT,
        clv_predictions::BGNBD_EXPECTED_PURCHASES,
        clv_predictions::BGNBD_EXPECTED_PURCHASES_NEW,
        clv_predictions::BGNBD_P_ALIVE,
        clv_predictions::CLV,
        clv_summary::CLV_SUMMARY,
        ab_aggregates::CUPED_TTEST,
        customer_clv::CUSTOMER_CLV,
        clv_predictions::GAMMAGAMMA_EXPECTED_SPEND,
        clv::GAMMAGAMMA_FIT,
        identity_stitch::IDENTITY_STITCH,
        baskets::ASSOCIATION_RULES,
        baskets::FREQUENT_ITEMSETS,
        baskets::ITEM_COOCCURRENCE,
        kmeans::KMEANS_ASSIGN,
        kmeans::KMEANS_DISTANCE,
        kmeans::KMEANS_FIT,
        ab_aggregates::MANN_WHITNEY_U,
        trait_aggregates::MAX_BY,
        trait_aggregates::MIN_BY,
        trait_aggregates::MODE,
        clv_predictions::PARETONBD_EXPECTED_PURCHASES,
        clv_predictions::PARETONBD_EXPECTED_PURCHASES_NEW,
        clv::PARETONBD_FIT,
        clv_predictions::PARETONBD_P_ALIVE,
        query_table::QUERY,
        recommend::REC_EVAL,
        recommend::RECOMMEND_ITEMS,
        rfm_table::RFM,
        rfm::RFM_SCORE,
        rfm::RFM_SEGMENT,
        rfm::RFM_SEGMENT_RF,
        ab_test::SRM_TEST,
        ab_aggregates::STUDENT_TTEST,
        ab_aggregates::WELCH_TTEST,
        ab_test::WELCH_TTEST_FROM_STATS,
        ab_test::WILSON_CI,
    ]
}

/// Scalar functions of all families.
fn scalar() -> Vec<ScalarUDF> {
    let mut all = vec![crate::pg::system_info::version_udf()];
    all.extend(crate::pg::introspection::udfs());
    all.push(crate::pg::system_info::pg_get_viewdef_udf());
    all.push(crate::pg::system_info::pg_postmaster_start_time_udf());
    all.push(crate::pg::system_info::pg_expandarray_udf());
    all.push(crate::pg::system_info::txid_current_udf());
    all.extend(crate::pg::temporal::udfs());
    all.push(crate::pg::system_info::pg_tablespace_location_udf());
    all.push(crate::pg::system_info::format_udf());
    all.push(crate::pg::system_info::pg_size_pretty_udf());
    all.push(crate::pg::system_info::current_setting_udf());
    all.push(crate::pg::system_info::pg_is_in_recovery_udf());
    all.push(crate::pg::system_info::format_type_udf());
    all.push(crate::pg::system_info::pg_typeof_udf());
    all.push(crate::pg::numeric::numeric_udf());
    all.extend(crate::pg::numeric::whole_number_udfs());
    all.extend(crate::pg::float::udfs());
    all.push(crate::pg::integer_cast::round_away_udf());
    all.push(crate::pg::to_char::to_char_udf());
    all.extend(crate::pg::checked_arithmetic::udfs());
    all.push(crate::pg::numeric_division::udf());
    // Planned for EXTRACT; registered so plans naming it decode on a cluster.
    all.push(crate::pg::extract::extract_numeric_udf());
    all.push(crate::pg::uuid::uuid_udf());
    all.push(crate::pg::uuid::uuid_text_udf());
    all.push(crate::pg::like::udf());
    all.extend(crate::pg::json::udfs());
    all.push(date_trunc::udf());
    all.extend(rfm::scalar_udfs());
    all.extend(kmeans::scalar_udfs());
    all.extend(ab_test::scalar_udfs());
    all.extend(clv_predictions::scalar_udfs());
    all
}

/// Aggregate functions.
fn aggregate() -> Vec<AggregateUDF> {
    // PostgreSQL's name for the sample variance, beside DataFusion's `var` and `var_samp`.
    let variance = datafusion::functions_aggregate::variance::var_samp_udaf()
        .as_ref()
        .clone()
        .with_aliases(["variance"]);
    let mut all = vec![
        crate::pg::avg::avg_udaf(),
        crate::pg::sum::sum_udaf(),
        variance,
    ];
    all.extend(kmeans::aggregate_udfs());
    all.extend(ab_aggregates::aggregate_udfs());
    all.extend(trait_aggregates::aggregate_udfs());
    all.extend(clv::aggregate_udfs());
    all
}

/// Window functions.
fn window() -> Vec<WindowUDF> {
    rfm::window_udfs()
}

/// Table functions (used in FROM).
fn table() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![
        (rfm_table::RFM.name, Arc::new(rfm_table::RfmFunction)),
        (
            clv_summary::CLV_SUMMARY.name,
            Arc::new(clv_summary::ClvSummaryFunction),
        ),
        (
            customer_clv::CUSTOMER_CLV.name,
            Arc::new(customer_clv::CustomerClvFunction),
        ),
        (
            query_table::QUERY.name,
            Arc::new(query_table::QueryFunction),
        ),
        (
            identity_stitch::IDENTITY_STITCH.name,
            Arc::new(identity_stitch::IdentityStitchFunction),
        ),
        (
            baskets::ITEM_COOCCURRENCE.name,
            Arc::new(baskets::ItemCooccurrenceFunction),
        ),
        (
            baskets::FREQUENT_ITEMSETS.name,
            Arc::new(baskets::FrequentItemsetsFunction),
        ),
        (
            baskets::ASSOCIATION_RULES.name,
            Arc::new(baskets::AssociationRulesFunction),
        ),
        (
            recommend::RECOMMEND_ITEMS.name,
            Arc::new(recommend::RecommendItemsFunction),
        ),
        (
            recommend::ALS_RECOMMEND.name,
            Arc::new(recommend::AlsRecommendFunction),
        ),
        (
            recommend::REC_EVAL.name,
            Arc::new(recommend::RecEvalFunction),
        ),
    ]
}

/// Registers the table functions, which live in a `SessionState` rather than in a
/// `FunctionRegistry` (they are planned where SQL is planned, never on executors).
pub fn register_table_functions(state: &mut SessionState) {
    for (name, function) in table() {
        state.register_udtf(name, function);
    }
}

/// Installs every function into a session state being built (what `Engine::new` is
/// given): datapunk's table functions, datafusion-postgres's PostgreSQL functions, then
/// [`register_all`], whose PostgreSQL functions replace some of those on purpose.
///
/// # Errors
/// A name collision.
pub fn install(state: &mut SessionState) -> Result<()> {
    register_table_functions(state);
    datafusion_postgres::datafusion_pg_functions::register_all(state);
    let builtin_planners = state.expr_planners().len();
    register_all(state)?;
    // PostgreSQL's planners are asked first: DataFusion's would plan EXTRACT its way.
    let mut planners = state.expr_planners().to_vec();
    let ours = planners.split_off(builtin_planners);
    *state = SessionStateBuilder::new_from_existing(state.clone())
        .with_expr_planners(ours.into_iter().chain(planners).collect())
        .build();
    Ok(())
}

/// Functions whose names replace a DataFusion built-in on purpose.
const REPLACES_BUILTIN: &[&str] = &[
    "version",
    "format_type",
    "avg",
    "sum",
    "var",
    "to_char",
    "ceil",
    "floor",
    "trunc",
    "pg_relation_size",
    "pg_total_relation_size",
    "pg_get_expr",
    "date_trunc",
];

/// Registers every datapunk function; a name that collides with an existing function is
/// an error unless it is a deliberate PostgreSQL-compatibility replacement.
///
/// # Errors
/// A name collision.
pub fn register_all(registry: &mut dyn FunctionRegistry) -> Result<()> {
    crate::pg::function_doc::install(docs());
    // `OPERATOR(pg_catalog.=)` as its operator, first, so the planners below see it.
    registry.register_expr_planner(Arc::new(crate::pg::operators::PostgresOperators))?;
    // PostgreSQL's date and interval arithmetic, planned with its result types.
    registry.register_expr_planner(Arc::new(crate::pg::temporal::TemporalPlanner::default()))?;
    // EXTRACT as a numeric with PostgreSQL's scale.
    registry.register_expr_planner(Arc::new(crate::pg::extract::ExtractPlanner))?;
    // Integer `+ - *` that fail on overflow (22003) instead of wrapping around.
    registry.register_expr_planner(Arc::new(
        crate::pg::checked_arithmetic::CheckedArithmetic::default(),
    ))?;
    // Numeric `/` rounded to PostgreSQL's scale instead of truncated to four digits more.
    registry.register_expr_planner(Arc::new(
        crate::pg::numeric_division::NumericDivision::default(),
    ))?;
    // A replaced built-in's other names are dropped with it: left in the registry, the
    // old function would come back under its own name whenever a session state is
    // rebuilt from this one (each registered function is registered again, in no order).
    for udf in scalar() {
        let name = udf.name().to_owned();
        let ours: Vec<String> = udf.aliases().to_vec();
        let replaced = registry.register_udf(Arc::new(udf))?;
        if let Some(old) = replaced {
            if !REPLACES_BUILTIN.contains(&name.as_str()) {
                return Err(DataFusionError::Plan(format!(
                    "function {name} is registered twice"
                )));
            }
            for alias in old.aliases().iter().filter(|a| !ours.contains(a)) {
                registry.deregister_udf(alias)?;
            }
        }
    }
    for udaf in aggregate() {
        let name = udaf.name().to_owned();
        let ours: Vec<String> = udaf.aliases().to_vec();
        let replaced = registry.register_udaf(Arc::new(udaf))?;
        if let Some(old) = replaced {
            if !REPLACES_BUILTIN.contains(&name.as_str()) {
                return Err(DataFusionError::Plan(format!(
                    "function {name} is registered twice"
                )));
            }
            for alias in old.aliases().iter().filter(|a| !ours.contains(a)) {
                registry.deregister_udaf(alias)?;
            }
        }
    }
    for udwf in window() {
        let name = udwf.name().to_owned();
        if registry.register_udwf(Arc::new(udwf))?.is_some() {
            return Err(DataFusionError::Plan(format!(
                "function {name} is registered twice"
            )));
        }
    }
    Ok(())
}

/// The plans a table function's rows are computed from, when `provider` is the result
/// of one of datapunk's table functions (what the result cache reads through to find
/// the tables a query depends on). Its other arguments are in the statement's text.
pub fn table_function_inputs(
    provider: &dyn datafusion::catalog::TableProvider,
) -> Option<Vec<&datafusion::logical_expr::LogicalPlan>> {
    let any: &dyn std::any::Any = provider;
    if let Some(t) = any.downcast_ref::<folded_table::FoldedTable>() {
        return Some(vec![t.input()]);
    }
    if let Some(t) = any.downcast_ref::<computed_table::ComputedTable>() {
        return Some(t.inputs().iter().collect());
    }
    any.downcast_ref::<query_table::QueryTable>()
        .map(|t| vec![t.plan()])
}

/// Names of every function `register_all` adds, sorted.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = scalar().iter().map(|f| f.name().to_owned()).collect();
    names.extend(window().iter().map(|f| f.name().to_owned()));
    names.extend(aggregate().iter().map(|f| f.name().to_owned()));
    names.extend(table().iter().map(|(name, _)| (*name).to_owned()));
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    #[test]
    fn registered_names_are_deliberate() {
        assert_eq!(
            super::names(),
            vec![
                "_pg_expandarray",
                "ab_bayes_proportions",
                "ab_chi2_2x2",
                "ab_fisher_exact",
                "ab_proportions_ztest",
                "ab_sample_size",
                "age",
                "als_recommend",
                "association_rules",
                "avg",
                "bgnbd_expected_purchases",
                "bgnbd_expected_purchases_new",
                "bgnbd_fit",
                "bgnbd_p_alive",
                "ceil",
                "clv",
                "clv_summary",
                "col_description",
                "cuped_ttest",
                "current_setting",
                "customer_clv",
                "date_trunc",
                "floor",
                "format",
                "format_type",
                "frequent_itemsets",
                "gammagamma_expected_spend",
                "gammagamma_fit",
                "identity_stitch",
                "item_cooccurrence",
                "json_build_array",
                "json_build_object",
                "kmeans_assign",
                "kmeans_distance",
                "kmeans_fit",
                "mann_whitney_u",
                "max_by",
                "min_by",
                "mode",
                "obj_description",
                "paretonbd_expected_purchases",
                "paretonbd_expected_purchases_new",
                "paretonbd_fit",
                "paretonbd_p_alive",
                "pg_collation_is_visible",
                "pg_conversion_is_visible",
                "pg_database_size",
                "pg_extract_numeric",
                "pg_float4",
                "pg_float8",
                "pg_float_text",
                "pg_function_is_visible",
                "pg_get_expr",
                "pg_get_function_arguments",
                "pg_get_function_result",
                "pg_get_function_sqlbody",
                "pg_get_functiondef",
                "pg_get_indexdef",
                "pg_get_serial_sequence",
                "pg_get_viewdef",
                "pg_indexes_size",
                "pg_int_add",
                "pg_int_mul",
                "pg_int_sub",
                "pg_interval_divide",
                "pg_interval_multiply",
                "pg_interval_text",
                "pg_is_in_recovery",
                "pg_like_pattern",
                "pg_numeric",
                "pg_numeric_div",
                "pg_opclass_is_visible",
                "pg_operator_is_visible",
                "pg_opfamily_is_visible",
                "pg_postmaster_start_time",
                "pg_relation_size",
                "pg_round_away",
                "pg_size_pretty",
                "pg_statistics_obj_is_visible",
                "pg_table_size",
                "pg_tablespace_location",
                "pg_timestamp_difference",
                "pg_timestamp_text",
                "pg_total_relation_size",
                "pg_ts_config_is_visible",
                "pg_ts_dict_is_visible",
                "pg_ts_parser_is_visible",
                "pg_ts_template_is_visible",
                "pg_type_is_visible",
                "pg_typeof",
                "pg_uuid",
                "pg_uuid_text",
                "query",
                "rec_eval",
                "recommend_items",
                "rfm",
                "rfm_score",
                "rfm_segment",
                "rfm_segment_rf",
                "shobj_description",
                "srm_test",
                "student_ttest",
                "sum",
                "to_char",
                "to_regtype",
                "trunc",
                "txid_current",
                "var",
                "version",
                "welch_ttest",
                "welch_ttest_from_stats",
                "wilson_ci"
            ]
        );
    }

    #[test]
    fn every_documented_function_is_registered() {
        let names = super::names();
        for doc in super::docs() {
            assert!(
                names.iter().any(|n| n == doc.name),
                "{} not registered",
                doc.name
            );
        }
    }
}

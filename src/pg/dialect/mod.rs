//! PostgreSQL's SQL text to statements: parsed once, as PostgreSQL writes it, with the
//! rewrites that need the syntax tree applied ([`parse`]), then datafusion-pg-catalog's
//! rules for tools' catalog queries. Where a rewrite goes:
//! - [`column_names`]: PostgreSQL's names for unaliased output columns;
//! - [`named_arguments`]: defaults of skipped optional parameters of datapunk functions;
//! - [`syntax`]: PostgreSQL syntax DataFusion lacks or reads differently and has no
//!   extension point for (`ARRAY(subquery)`, `'\x01'::bytea`, `INTERVAL '1 day
//!   02:00:00'`, `LIKE ... ESCAPE`, `(row).field`, ...);
//! - [`catalog_queries`]: tools' catalog queries in shapes DataFusion plans;
//! - [`as_of`] (on the text, before parsing): `FOR SYSTEM_TIME AS OF` and Spark's
//!   `VERSION AS OF` / `TIMESTAMP AS OF` as the lake's versioned table names.
//!
//! What DataFusion has an extension point for is not here: type names
//! (`pg::type_planner`), operators (`pg::operators`), literals' types (`pg::literals`),
//! function results (`pg::result_types`). SQL that does not parse is passed through
//! untouched, so the normal path reports the error.

mod as_of;
mod catalog_queries;
mod column_names;
mod named_arguments;
mod syntax;

pub use catalog_queries::catalog_retry;
pub use column_names::{client_name, DUPLICATE_NAME_MARK};
pub use named_arguments::fill_named_arguments;

use catalog_queries::reads_only_empty_tables;
use catalog_queries::{
    catalog_system_columns, compare_regproc_by_name, computed_regclass_in_descriptions,
    mentions_catalog, still_has_array_subqueries, tables_visible_by_search_path,
};
use column_names::{dedupe_set_expr, dedupe_set_operation_branches, ident_name, name_columns};
use syntax::{
    calls, field_access_as_get_field, keep_scalar_subqueries, only_argument, postgres_syntax,
    rewrite_array_subqueries, set_returning_series,
};

use std::borrow::Cow;

use datafusion::sql::sqlparser::ast::{Expr, Query, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// datafusion-pg-catalog's rewrites of tool catalog queries: stubs for known queries it
/// cannot plan (matched by tokens), then its syntax rules.
fn catalog_parser() -> &'static PostgresCompatibilityParser {
    static PARSER: std::sync::OnceLock<PostgresCompatibilityParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(PostgresCompatibilityParser::new)
}

/// Parses `sql` once, as PostgreSQL writes it, and applies the dialect: our rules, then
/// datafusion-pg-catalog's. Spans point into `sql`.
///
/// A catalog query (`pg_*`, `information_schema`) is printed after our rules and read
/// again by datafusion-pg-catalog, whose stubs for known tool queries match tokens.
///
/// # Errors
/// The text does not parse (42601).
pub fn parse(sql: &str) -> Result<Vec<Statement>, ParserError> {
    parse_with(sql, |_| false)
}

/// [`parse`] with `extra` applied to each statement before the dialect's rules.
fn parse_with(
    sql: &str,
    extra: impl Fn(&mut Statement) -> bool,
) -> Result<Vec<Statement>, ParserError> {
    let versioned = as_of::versioned_names(sql);
    let sql = versioned.as_deref().unwrap_or(sql);
    let mut statements = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)?
        .parse_statements()?;
    let catalog = mentions_catalog(sql);
    let mut changed = false;
    for statement in &mut statements {
        changed |= extra(statement);
    }
    changed |= apply(&mut statements, sql, catalog);
    if catalog {
        let text: Cow<'_, str> = if changed {
            Cow::Owned(to_text(&statements))
        } else {
            Cow::Borrowed(sql)
        };
        return catalog_parser().parse(&text);
    }
    Ok(statements
        .into_iter()
        .map(|s| catalog_parser().rewrite(s))
        .collect())
}

fn to_text(statements: &[Statement]) -> String {
    statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";\n")
}

/// The query a statement runs, where our rules on queries apply: the statement itself,
/// `COPY (query) TO`, `CREATE TABLE ... AS`, `CREATE VIEW ... AS`, `DECLARE ... CURSOR FOR`,
/// and what `EXPLAIN` explains (so it shows the plan the statement runs).
fn queries_of(statement: &mut Statement) -> Vec<&mut Query> {
    use datafusion::sql::sqlparser::ast::CopySource;
    match statement {
        Statement::Query(q) => vec![q.as_mut()],
        Statement::Explain { statement, .. } => queries_of(statement),
        Statement::Copy {
            source: CopySource::Query(q),
            ..
        } => vec![q.as_mut()],
        Statement::CreateTable(create) => create.query.iter_mut().map(AsMut::as_mut).collect(),
        Statement::CreateView(view) => vec![view.query.as_mut()],
        Statement::Declare { stmts } => stmts
            .iter_mut()
            .filter_map(|d| d.for_query.as_mut().map(AsMut::as_mut))
            .collect(),
        _ => Vec::new(),
    }
}

/// Our rules, applied to `statements` parsed from `sql`; whether any applied.
fn apply(statements: &mut [Statement], sql: &str, catalog: bool) -> bool {
    let mut changed = false;
    // Only datafusion-pg-catalog's stubs of tool queries (catalog queries) must keep
    // their `ARRAY(subquery)`.
    let arrays = !catalog || still_has_array_subqueries(sql);
    for statement in statements.iter_mut() {
        changed |= fill_named_arguments(statement);
        if arrays {
            changed |= rewrite_array_subqueries(statement);
        }
        changed |= postgres_syntax(statement);
        if catalog {
            changed |= compare_regproc_by_name(statement);
            changed |= field_access_as_get_field(statement);
            changed |= catalog_system_columns(statement);
            changed |= computed_regclass_in_descriptions(statement);
            changed |= tables_visible_by_search_path(statement);
        }
        if !catalog {
            changed |= keep_scalar_subqueries(statement);
            for q in queries_of(statement) {
                changed |= name_columns(q);
            }
            // After naming, which names `(address).city` after its field.
            changed |= field_access_as_get_field(statement);
            changed |= set_returning_series(statement);
            // After naming: a literal's name is PostgreSQL's whatever its type.
            for q in queries_of(statement) {
                changed |= crate::pg::literals::type_literals(q);
                changed |= crate::pg::result_types::cast_results(q);
            }
        }
        // Last, so the rules above see the statement as the client wrote it.
        for q in queries_of(statement) {
            changed |= dedupe_set_expr(&mut q.body);
        }
    }
    changed
}

/// One SQL expression, parsed as PostgreSQL writes it.
fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// Our rules alone, printed: what the unit tests read. Integer literals are shown as
/// written (`pg::literals` has its own tests).
#[cfg(test)]
fn rewrite(sql: &str) -> String {
    crate::pg::function_doc::install(crate::udf::docs());
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("test SQL parses");
    if !apply(&mut statements, sql, mentions_catalog(sql)) {
        return sql.to_owned();
    }
    let text = to_text(&statements);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("CAST(") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 5..];
        match after.split_once(" AS INT4)") {
            Some((n, tail)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                out.push_str(n);
                rest = tail;
            }
            _ => {
                out.push_str("CAST(");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn duplicate_output_names_get_a_marked_suffix() {
        let out = rewrite("SELECT count(*), count(*), NULL, NULL FROM t");
        assert_eq!(
            out,
            "SELECT count(*) AS \"count\", count(*) AS \"count\u{1f}2\", NULL AS \"?column?\", NULL AS \"?column?\u{1f}2\" FROM t"
        );
        assert_eq!(super::client_name("count\u{1f}2"), "count");
        // Catalog queries too (psqlODBC).
        assert_eq!(
            rewrite("select NULL, nspname, NULL from pg_catalog.pg_namespace n"),
            "SELECT NULL AS \"?column?\", nspname, NULL AS \"?column?\u{1f}2\" FROM pg_catalog.pg_namespace n"
        );
        // Different expressions of the same PostgreSQL name stay as they are.
        let distinct = "SELECT pg_get_expr(a, b), pg_get_expr(c, b) FROM pg_catalog.pg_policy";
        assert_eq!(rewrite(distinct), distinct);
    }

    #[test]
    fn explain_explains_the_statement_as_it_runs() {
        assert_eq!(
            rewrite("EXPLAIN SELECT count(*), count(*) FROM t WHERE a % 100 = 0"),
            "EXPLAIN SELECT count(*) AS \"count\", count(*) AS \"count\u{1f}2\" FROM t WHERE a % 100 = 0"
        );
    }

    #[test]
    fn named_arguments_of_datapunk_functions_get_defaults() {
        assert_eq!(
            rewrite("SELECT rfm_score(x, ties => 'same') OVER (ORDER BY id) AS s FROM t"),
            "SELECT rfm_score(x, 5, true, 'same') OVER (ORDER BY id) AS s FROM t"
        );
        assert_eq!(
            rewrite("SELECT rfm_score(x, higher_is_better => false) OVER () AS r FROM t"),
            "SELECT rfm_score(x, 5, false) OVER () AS r FROM t"
        );
        // Unknown names and other functions are DataFusion's to judge.
        let untouched = "SELECT rfm_score(x, nope => 1) OVER () AS r FROM t";
        assert_eq!(rewrite(untouched), untouched);
        assert_eq!(
            rewrite("SELECT * FROM rfm('t', 'c', 'd', 'a', DATE '2020-01-01', ties => 'same')"),
            "SELECT * FROM rfm('t', 'c', 'd', 'a', DATE '2020-01-01', 5, 'same')"
        );
        let other = "SELECT make_date(year => 2020, month => 1, day => 1) AS d";
        assert_eq!(rewrite(other), other);
    }

    #[test]
    fn columns_get_postgres_names() {
        assert_eq!(
            rewrite("SELECT count(*), sum(x), x, 1 + 1 FROM t"),
            "SELECT count(*) AS \"count\", sum(x) AS \"sum\", x, 1 + 1 AS \"?column?\" FROM t"
        );
        assert_eq!(
            rewrite("SELECT 1.5::float8, CAST(x AS INT), true"),
            "SELECT 1.5::FLOAT8 AS \"float8\", CAST(x AS INT) AS \"x\", true AS \"?column?\""
        );
        // A cast is named after its column or function; an unconstrained numeric keeps a
        // literal's scale and an operand's type.
        assert_eq!(
            rewrite("SELECT count(*)::int, 12.50::numeric, x::numeric, (x + 1)::numeric FROM t"),
            "SELECT count(*)::INT AS \"count\", 12.50::NUMERIC(4,2) AS \"numeric\", \
             pg_numeric(x) AS \"x\", pg_numeric((x + 1)) AS \"numeric\u{1f}2\" FROM t"
        );
        // A scalar subquery after its output.
        assert_eq!(
            rewrite("SELECT (SELECT max(x) FROM t), (SELECT y AS z FROM t), (SELECT u.w FROM u)"),
            "SELECT ((SELECT max(x) FROM t)) AS \"max\", ((SELECT y AS z FROM t)) AS \"z\", \
             ((SELECT u.w FROM u)) AS \"w\""
        );
        // Subscripts are named after their column, field access after its field, and
        // unquoted names fold to lower case.
        assert_eq!(
            rewrite("SELECT tags[1], (attrs)['a'], (address).City, X::int, \"Y\"::int FROM t"),
            "SELECT tags[1] AS \"tags\", (attrs)['a'] AS \"attrs\", \
             get_field((address), 'city') AS \"city\", \
             X::INT AS \"x\", \"Y\"::INT AS \"Y\" FROM t"
        );
        // SQL's special forms are named as PostgreSQL names them.
        assert_eq!(
            rewrite(
                "SELECT extract(dow FROM d), substr(c, 1, 1), substring(c FROM 2), trim(c), \
                 ceil(x), floor(x), position('b' IN c), interval '1 day', date '2024-01-01' FROM t"
            ),
            "SELECT EXTRACT(DOW FROM d) AS \"extract\", SUBSTR(c, 1, 1) AS \"substr\", \
             SUBSTRING(c FROM 2) AS \"substring\", TRIM(c) AS \"btrim\", CEIL(x) AS \"ceil\", \
             FLOOR(x) AS \"floor\", POSITION('b' IN c) AS \"position\", \
             INTERVAL '1 day' AS \"interval\", DATE '2024-01-01' AS \"date\" FROM t"
        );
        // Duplicates get PostgreSQL's name too (a marked suffix for DataFusion); explicit
        // aliases win.
        assert_eq!(
            rewrite("SELECT count(*) AS n, count(x), count(y) FROM t"),
            "SELECT count(*) AS n, count(x) AS \"count\", count(y) AS \"count\u{1f}2\" FROM t"
        );
    }

    #[test]
    fn generate_series_makes_rows_and_names_its_column() {
        assert_eq!(
            rewrite("SELECT generate_series(1, 3)"),
            "SELECT unnest(generate_series(1, 3)) AS \"generate_series\""
        );
        assert_eq!(
            rewrite("SELECT unnest(generate_series(1, 3)) AS n"),
            "SELECT unnest(generate_series(1, 3)) AS n"
        );
        assert_eq!(
            rewrite("SELECT g FROM generate_series(1, 3) g"),
            "SELECT g FROM generate_series(1, 3) g (g)"
        );
        assert_eq!(
            rewrite("SELECT * FROM generate_series(1, 3)"),
            "SELECT * FROM generate_series(1, 3) AS generate_series (generate_series)"
        );
        let named = "SELECT * FROM generate_series(1, 3) AS s (n)";
        assert_eq!(rewrite(named), named);
    }

    #[test]
    fn array_subqueries_become_array_agg() {
        assert_eq!(
            rewrite("SELECT ARRAY(SELECT a FROM t WHERE t.k = u.k ORDER BY 1 DESC) AS arr FROM u"),
            "SELECT ((SELECT array_agg((a) ORDER BY a DESC) FROM t WHERE t.k = u.k)) AS arr FROM u"
        );
        let grouped = rewrite("SELECT ARRAY(SELECT a FROM t GROUP BY a) AS arr FROM u");
        assert!(grouped.contains("array_agg(_array.c)"), "{grouped}");
        assert_eq!(
            rewrite("SELECT ARRAY(SELECT polname FROM pg_catalog.pg_policy WHERE polrelid = c.oid) FROM pg_class c"),
            "SELECT CAST(NULL AS TEXT[]) FROM pg_class c"
        );
    }

    #[test]
    fn sql_that_does_not_parse_is_an_error() {
        assert!(super::parse("SELEC 1").is_err());
    }

    #[test]
    fn positions_point_into_the_clients_text() {
        use datafusion::sql::sqlparser::ast::Spanned;
        let statements =
            super::parse("-- report\nSELECT count(*),\n       bad_name FROM t").unwrap();
        assert_eq!(statements[0].span().start.line, 2);
    }
}

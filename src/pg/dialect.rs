//! PostgreSQL-compatibility rewrites applied to client SQL text before planning:
//! - `ARRAY(subquery)` (psql `\d+`, `\du`) becomes an `array_agg` over the subquery;
//! - unaliased output columns get PostgreSQL's names (`count(*)` → `count`,
//!   `current_user` → `current_user`, `1 + 1` → `?column?`), so headers and driver
//!   column names match what PostgreSQL returns;
//! - in catalog queries (pgjdbc, Npgsql), `regproc` columns, which the catalog holds as
//!   function names, are compared by name (`p.oid = t.typreceive` → `p.proname = ...`,
//!   `typinput = 'pg_catalog.array_in'::regproc` → `typinput = 'array_in'`), and scalar
//!   subqueries that look a row up by key get an aggregate around their one output when
//!   DataFusion refuses them unaggregated ([`catalog_retry`], a retry);
//! - field access on a row value, `(address).city` or pgjdbc's
//!   `(_pg_expandarray(indkey)).n`, becomes `get_field(address, 'city')` (DataFusion
//!   refuses the dot after parentheses), named after the field;
//! - calls of datapunk functions with named arguments get every skipped optional
//!   parameter's default ([`fill_named_arguments`]), as PostgreSQL does;
//! - PostgreSQL syntax DataFusion lacks or reads differently and has no extension point
//!   for ([`postgres_syntax`]): `'\x01'::bytea`, `generate_subscripts(a, 1)` (SQLAlchemy), `INTERVAL '1 day 02:00:00'` (PostgreSQL's
//!   own interval form, see `temporal::interval_text`), an unconstrained `x::numeric` (`pg::numeric`: the operand's own
//!   scale); casts are named as PostgreSQL names them (`x::int` is `x`);
//! - the system column `xmin` of catalog tables (DataGrip's state numbers) reads as 1
//!   ([`catalog_system_columns`]); a regclass cast of a computed name inside
//!   `col_description` (Metabase) is NULL ([`computed_regclass_in_descriptions`]);
//!
//! SQL that does not parse is passed through untouched, so the normal path reports the
//! error. Catalog queries from tools are left to datafusion-pg-catalog's own rewrites.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, AccessExpr, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Ident, ObjectName, Query, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut,
    VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::pg::numeric;

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
/// `COPY (query) TO`, `CREATE TABLE ... AS`, `CREATE VIEW ... AS`, `DECLARE ... CURSOR FOR`.
fn queries_of(statement: &mut Statement) -> Vec<&mut Query> {
    use datafusion::sql::sqlparser::ast::CopySource;
    match statement {
        Statement::Query(q) => vec![q.as_mut()],
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

/// The retry for a catalog query DataFusion could not plan: the same query with
/// correlated scalar subqueries aggregated ([`aggregate_lookup_subqueries`]) and the
/// branches of set operations given unique output names
/// ([`dedupe_set_operation_branches`]), or `None` when that changes nothing. Only a
/// retry: psql's own catalog queries plan as they are and must stay as they are.
pub fn catalog_retry(sql: &str) -> Option<Vec<Statement>> {
    if !mentions_catalog(sql) || !retry_changes(sql) {
        return None;
    }
    parse_with(sql, |statement| {
        let mut changed = aggregate_lookup_subqueries(statement);
        if let Statement::Query(q) = statement {
            changed |= dedupe_set_operation_branches(&mut q.body);
        }
        changed
    })
    .ok()
}

/// Whether [`catalog_retry`]'s rules change `sql` at all.
fn retry_changes(sql: &str) -> bool {
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return false;
    };
    let mut changed = false;
    for statement in &mut statements {
        changed |= aggregate_lookup_subqueries(statement);
        if let Statement::Query(q) = statement {
            changed |= dedupe_set_operation_branches(&mut q.body);
        }
    }
    changed
}

/// Whether datafusion-pg-catalog's own handling (it swaps some known client queries for
/// stubs) leaves an `ARRAY(subquery)` behind; only then is ours needed. Rewriting a query
/// it knows would stop it from recognising the query.
fn still_has_array_subqueries(sql: &str) -> bool {
    if !sql.to_ascii_lowercase().contains("array") {
        return false;
    }
    let Ok(mut statements) = catalog_parser().parse(sql) else {
        return false;
    };
    let mut found = false;
    for statement in &mut statements {
        let _ = visit_expressions_mut(statement, |expr| {
            if let Expr::Function(f) = expr {
                if f.name.to_string().eq_ignore_ascii_case("array")
                    && matches!(f.args, FunctionArguments::Subquery(_))
                {
                    found = true;
                }
            }
            ControlFlow::<()>::Continue(())
        });
    }
    found
}

/// Functions analysts call whose `pg_` prefix does not make a query a catalog query.
const ANALYST_PG_FUNCTIONS: &[&str] = &["pg_typeof", "pg_size_pretty", "pg_backend_pid"];

fn mentions_catalog(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("information_schema")
        || lower.match_indices("pg_").any(|(at, _)| {
            !ANALYST_PG_FUNCTIONS
                .iter()
                .any(|f| lower[at..].starts_with(f))
        })
}

/// `ARRAY(SELECT x FROM ...)` → `(SELECT array_agg(c) FROM (SELECT x FROM ...) AS _array(c))`.
fn rewrite_array_subqueries(statement: &mut Statement) -> bool {
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr {
            if f.name.to_string().eq_ignore_ascii_case("array") {
                if let FunctionArguments::Subquery(query) = &f.args {
                    let q = query.to_string();
                    // psql `\d+` unnests the toast table's reloptions (a LATERAL
                    // reference DataFusion cannot plan); relation options are always
                    // empty in datapunk, so the array is NULL.
                    let text = if q.contains("reloptions") || reads_only_empty_tables(query) {
                        "CAST(NULL AS TEXT[])".to_owned()
                    } else if let Some(direct) = aggregated_in_place(query) {
                        direct
                    } else {
                        format!("(SELECT array_agg(_array.c) FROM ({q}) AS _array(c))")
                    };
                    if let Some(new) = parse_expr(&text) {
                        *expr = new;
                        changed = true;
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// `ARRAY(SELECT x FROM t WHERE ... ORDER BY y)` as `(SELECT array_agg(x ORDER BY y)
/// FROM t WHERE ...)`, which DataFusion decorrelates (a correlated derived table it
/// cannot); `None` unless the query is one plain SELECT of one column from tables (a
/// table function's column names are another matter).
fn aggregated_in_place(query: &Query) -> Option<String> {
    use datafusion::sql::sqlparser::ast::{GroupByExpr, OrderByKind};
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let plain = query.with.is_none()
        && query.limit_clause.is_none()
        && query.fetch.is_none()
        && select.distinct.is_none()
        && select.having.is_none()
        && matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
        && select.projection.len() == 1
        && select.from.iter().all(|f| {
            use datafusion::sql::sqlparser::ast::TableFactor;
            std::iter::once(&f.relation)
                .chain(f.joins.iter().map(|j| &j.relation))
                .all(|r| matches!(r, TableFactor::Table { args: None, .. }))
        });
    if !plain {
        return None;
    }
    let value = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e.to_string(),
        _ => return None,
    };
    let order = match query.order_by.as_ref().map(|o| &o.kind) {
        None => String::new(),
        Some(OrderByKind::Expressions(items)) => {
            let keys: Vec<String> = items
                .iter()
                .map(|item| {
                    let key = match &item.expr {
                        Expr::Value(v) if v.value.to_string() == "1" => value.clone(),
                        other => other.to_string(),
                    };
                    format!("{key}{}", item.options)
                })
                .collect();
            format!(" ORDER BY {}", keys.join(", "))
        }
        Some(_) => return None,
    };
    let mut rest = select.clone();
    rest.projection = vec![SelectItem::UnnamedExpr(parse_expr(&format!(
        "array_agg(({value}){order})"
    ))?)];
    Some(format!("({rest})"))
}

/// One SQL expression, parsed as PostgreSQL writes it.
fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// PostgreSQL syntax DataFusion does not plan (or plans differently) and has no
/// extension point for (operators and type names have theirs: `pg::operators`,
/// `pg::type_planner`), in any query:
/// - `'\x01ff'::bytea` → the bytes 01 ff (DataFusion would take the text's bytes);
/// - `generate_subscripts(a, d)` → `unnest(generate_series(1, array_length(a, d)))`, a
///   set-returning call beside `unnest(a)` as SQLAlchemy writes it;
/// - `INTERVAL '1 day 02:00:00'` → the units DataFusion reads;
/// - `x LIKE p ESCAPE '/'` → `x LIKE pg_like_pattern(p, '/')` ([`crate::pg::like`]).
fn postgres_syntax(statement: &mut Statement) -> bool {
    use datafusion::sql::sqlparser::ast::DataType;
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        match expr {
            Expr::Cast {
                expr: operand,
                data_type: DataType::Bytea,
                ..
            } if bytea_hex(operand).is_some() => {
                if let Some(hex) = bytea_hex(operand) {
                    *expr = Expr::value(Value::HexStringLiteral(hex));
                    changed = true;
                }
            }
            Expr::Cast {
                expr: operand,
                data_type,
                ..
            } if numeric::is_unconstrained_numeric(data_type)
                && !matches!(**operand, Expr::Value(ref v) if matches!(v.value, Value::Placeholder(_))) =>
            {
                if let Some(typed) = numeric::literal_numeric_type(operand) {
                    *data_type = typed;
                    changed = true;
                } else if let Some(new) = parse_expr(&format!("pg_numeric({operand})")) {
                    *expr = new;
                    changed = true;
                }
            }
            Expr::Like {
                pattern,
                escape_char,
                ..
            }
            | Expr::ILike {
                pattern,
                escape_char,
                ..
            } => {
                let escape = match escape_char.as_ref().map(|e| &e.value) {
                    Some(Value::SingleQuotedString(e)) if e != "\\" => e.replace('\'', "''"),
                    _ => return ControlFlow::Continue(()),
                };
                let text = format!("{}(({pattern}), '{escape}')", crate::pg::like::FUNCTION);
                if let Some(new) = parse_expr(&text) {
                    **pattern = new;
                    *escape_char = None;
                    changed = true;
                }
            }
            Expr::Interval(interval) if interval.leading_field.is_none() => {
                use datafusion::sql::sqlparser::ast::ValueWithSpan;
                if let Expr::Value(ValueWithSpan {
                    value: Value::SingleQuotedString(text),
                    ..
                }) = interval.value.as_mut()
                {
                    if let Some(units) = crate::pg::temporal::interval_text(text) {
                        *text = units;
                        changed = true;
                    }
                }
            }
            Expr::Function(f)
                if f.name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .is_some_and(|i| i.value.eq_ignore_ascii_case("generate_subscripts")) =>
            {
                if let FunctionArguments::List(list) = &f.args {
                    if let [FunctionArg::Unnamed(FunctionArgExpr::Expr(array)), FunctionArg::Unnamed(FunctionArgExpr::Expr(dim))] =
                        list.args.as_slice()
                    {
                        let text =
                            format!("unnest(generate_series(1, array_length({array}, {dim})))");
                        if let Some(new) = parse_expr(&text) {
                            *expr = new;
                            changed = true;
                        }
                    }
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// `col_description(CAST(format('%I.%I', s, t) AS regclass), n)` (Metabase) →
/// `col_description(CAST(NULL AS INT), n)`: a regclass cast of a computed name cannot
/// be planned (datafusion-pg-catalog resolves only quoted names, and DataFusion cannot
/// decorrelate the lookup), and datapunk has no table or column comments, so the
/// description is NULL either way. Only inside `col_description` / `obj_description`.
fn computed_regclass_in_descriptions(statement: &mut Statement) -> bool {
    use datafusion::sql::sqlparser::ast::DataType;
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        let Expr::Function(f) = expr else {
            return ControlFlow::<()>::Continue(());
        };
        let name = f.name.to_string().to_lowercase();
        let name = name.rsplit('.').next().unwrap_or(&name);
        if name != "col_description" && name != "obj_description" {
            return ControlFlow::<()>::Continue(());
        }
        let FunctionArguments::List(list) = &mut f.args else {
            return ControlFlow::<()>::Continue(());
        };
        if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) = list.args.first_mut() {
            let _ = visit_expressions_mut(first, |inner| {
                if let Expr::Cast {
                    expr: operand,
                    data_type,
                    ..
                } = inner
                {
                    let regclass = match data_type {
                        DataType::Regclass => true,
                        DataType::Custom(n, _) => {
                            n.to_string()
                                .to_lowercase()
                                .trim_start_matches("pg_catalog.")
                                == "regclass"
                        }
                        _ => false,
                    };
                    let quoted = matches!(&**operand, Expr::Value(_));
                    if regclass && !quoted {
                        **operand = Expr::value(Value::Null);
                        *data_type = DataType::Int(None);
                        changed = true;
                    }
                }
                ControlFlow::<()>::Continue(())
            });
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// The hex digits of a quoted bytea literal in PostgreSQL's hex format (`'\x01ff'`).
fn bytea_hex(expr: &Expr) -> Option<String> {
    use datafusion::sql::sqlparser::ast::ValueWithSpan;
    let Expr::Value(ValueWithSpan {
        value: Value::SingleQuotedString(text),
        ..
    }) = expr
    else {
        return None;
    };
    let hex = text.strip_prefix("\\x")?;
    (hex.len() % 2 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_owned())
}

/// `SELECT (SELECT count(*) FROM l WHERE l.id = o.id) FROM o` → the same with the
/// subquery in parentheses once more: datafusion-pg-catalog replaces a correlated
/// subquery that is a whole output column with NULL (a shortcut for tools' catalog
/// queries), which silently answered NULL to users; DataFusion plans it when it is
/// nested. Only outside catalog queries, which keep that shortcut.
fn keep_scalar_subqueries(statement: &mut Statement) -> bool {
    struct Nest(bool);
    impl VisitorMut for Nest {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let SetExpr::Select(select) = query.body.as_mut() {
                for item in &mut select.projection {
                    let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) =
                        item
                    else {
                        continue;
                    };
                    if matches!(expr, Expr::Subquery(_)) {
                        let inner = std::mem::replace(expr, Expr::value(Value::Null));
                        *expr = Expr::Nested(Box::new(inner));
                        self.0 = true;
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut nest = Nest(false);
    let _ = statement.visit(&mut nest);
    nest.0
}

/// `T.xmin` → `1` where `T` is a `pg_catalog` table of the query: DataGrip reads the
/// system column `xmin` as a state number to notice changes; datapunk's catalog has no
/// system columns, and a constant says "unchanged" (DataGrip then re-reads on refresh).
fn catalog_system_columns(statement: &mut Statement) -> bool {
    let mut catalog_names = CatalogRelations::default();
    let _ = statement.visit(&mut catalog_names);
    if catalog_names.names.is_empty() {
        return false;
    }
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::CompoundIdentifier(parts) = expr {
            if let [relation, column] = parts.as_slice() {
                if column.value.eq_ignore_ascii_case("xmin")
                    && catalog_names.names.contains(&relation.value.to_lowercase())
                {
                    *expr = Expr::value(Value::Number("1".into(), false));
                    changed = true;
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// The names (aliases, or table names when unaliased) under which `pg_catalog` tables
/// are read in a statement.
#[derive(Default)]
struct CatalogRelations {
    names: HashSet<String>,
}

impl VisitorMut for CatalogRelations {
    type Break = ();

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = table {
            let parts: Vec<String> = name
                .0
                .iter()
                .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
                .collect();
            let is_catalog = match parts.as_slice() {
                [schema, table] => schema == "pg_catalog" || table.starts_with("pg_"),
                [table] => table.starts_with("pg_"),
                _ => false,
            };
            if is_catalog {
                let name = match alias {
                    Some(a) => a.name.value.to_lowercase(),
                    None => parts.last().cloned().unwrap_or_default(),
                };
                self.names.insert(name);
            }
        }
        ControlFlow::Continue(())
    }
}

/// `pg_type` columns of type `regproc`, held as function names by the catalog.
const REGPROC_COLUMNS: &[&str] = &[
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typmodin",
    "typmodout",
    "typanalyze",
];

fn last_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(i) => Some(i.value.to_lowercase()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.to_lowercase()),
        _ => None,
    }
}

/// `x.oid = t.typreceive` → `x.proname = t.typreceive`;
/// `typinput = 'pg_catalog.array_in'::regproc` → `typinput = 'array_in'`.
fn compare_regproc_by_name(statement: &mut Statement) -> bool {
    use datafusion::sql::sqlparser::ast::BinaryOperator;
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = expr
        {
            changed |= regproc_side_by_name(left, right);
            changed |= regproc_side_by_name(right, left);
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// Rewrites `side` when `other` is a regproc column; see [`compare_regproc_by_name`].
fn regproc_side_by_name(side: &mut Expr, other: &Expr) -> bool {
    use datafusion::sql::sqlparser::ast::{DataType, ValueWithSpan};
    let Some(column) = last_name(other) else {
        return false;
    };
    if !REGPROC_COLUMNS.contains(&column.as_str()) {
        return false;
    }
    match side {
        Expr::CompoundIdentifier(parts)
            if parts
                .last()
                .is_some_and(|i| i.value.eq_ignore_ascii_case("oid")) =>
        {
            if let Some(last) = parts.last_mut() {
                *last = Ident::new("proname");
                return true;
            }
            false
        }
        Expr::Cast {
            expr: inner,
            data_type: DataType::Custom(name, _),
            ..
        } if name.to_string().eq_ignore_ascii_case("regproc") => {
            if let Expr::Value(ValueWithSpan {
                value: Value::SingleQuotedString(function),
                ..
            }) = &**inner
            {
                let bare = function.rsplit('.').next().unwrap_or(function).to_owned();
                *side = Expr::value(Value::SingleQuotedString(bare));
                return true;
            }
            false
        }
        _ => false,
    }
}

/// `(expr).field` → `get_field(expr, 'field')`, which DataFusion plans for structs.
fn field_access_as_get_field(statement: &mut Statement) -> bool {
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        let Expr::CompoundFieldAccess { root, access_chain } = expr else {
            return ControlFlow::<()>::Continue(());
        };
        let mut text = root.to_string();
        for access in access_chain.iter() {
            let AccessExpr::Dot(Expr::Identifier(field)) = access else {
                return ControlFlow::<()>::Continue(());
            };
            text = format!(
                "get_field({text}, '{}')",
                ident_name(field).replace('\'', "''")
            );
        }
        if let Some(new) = parse_expr(&text) {
            *expr = new;
            changed = true;
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// PostgreSQL's set-returning `generate_series`, where DataFusion's differs:
/// - in a select list (`SELECT generate_series(1, 3)`) it makes rows; DataFusion's scalar
///   function made one array, so the call is unnested (after naming: the column is
///   still `generate_series`);
/// - in FROM its one column is named after the alias (`FROM generate_series(1, 3) g`
///   has column `g`, the idiom analysts write) or else the function; DataFusion's is
///   `value`.
fn set_returning_series(statement: &mut Statement) -> bool {
    let mut series = Series { changed: false };
    let _ = statement.visit(&mut series);
    series.changed
}

/// The visitor behind [`set_returning_series`].
struct Series {
    changed: bool,
}

/// Whether `expr` calls the function `name` (unqualified or in `pg_catalog`).
fn calls(expr: &Expr, name: &str) -> bool {
    let Expr::Function(f) = expr else {
        return false;
    };
    match f.name.0.as_slice() {
        [function] => function
            .as_ident()
            .is_some_and(|i| i.value.eq_ignore_ascii_case(name)),
        [schema, function] => {
            schema
                .as_ident()
                .is_some_and(|i| i.value.eq_ignore_ascii_case("pg_catalog"))
                && function
                    .as_ident()
                    .is_some_and(|i| i.value.eq_ignore_ascii_case(name))
        }
        _ => false,
    }
}

/// `WHERE ... AND pg_table_is_visible(c.oid)` (psql's `\d`, `\dv`, ... without a
/// pattern) → `... AND c.oid IN (relations of the schemas on the search path)`: the
/// function itself cannot know the connection's search path and says true for every
/// relation. Only as a conjunct of a WHERE clause, where DataFusion plans the IN
/// subquery; a name shadowed by one earlier on the path still counts as visible.
fn tables_visible_by_search_path(statement: &mut Statement) -> bool {
    struct Visibility(bool);
    impl VisitorMut for Visibility {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            self.0 |= visibility_in_body(&mut query.body);
            ControlFlow::Continue(())
        }
    }
    fn visibility_in_body(body: &mut SetExpr) -> bool {
        match body {
            SetExpr::Select(select) => select
                .selection
                .as_mut()
                .is_some_and(visibility_in_conjuncts),
            SetExpr::SetOperation { left, right, .. } => {
                let l = visibility_in_body(left);
                visibility_in_body(right) | l
            }
            _ => false,
        }
    }
    fn visibility_in_conjuncts(expr: &mut Expr) -> bool {
        use datafusion::sql::sqlparser::ast::BinaryOperator;
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                let l = visibility_in_conjuncts(left);
                visibility_in_conjuncts(right) | l
            }
            Expr::Nested(inner) => visibility_in_conjuncts(inner),
            _ if calls(expr, "pg_table_is_visible") => {
                let Some(oid) = only_argument(expr) else {
                    return false;
                };
                let text = format!(
                    "({oid}) IN (SELECT _visible.oid FROM pg_catalog.pg_class AS _visible \
                     JOIN pg_catalog.pg_namespace AS _visible_ns ON _visible_ns.oid = _visible.relnamespace \
                     WHERE _visible_ns.nspname = ANY(current_schemas(true)))"
                );
                match parse_expr(&text) {
                    Some(new) => {
                        *expr = new;
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }
    let mut visibility = Visibility(false);
    let _ = statement.visit(&mut visibility);
    visibility.0
}

/// The one argument of a call, if it has exactly one.
fn only_argument(expr: &Expr) -> Option<&Expr> {
    let Expr::Function(f) = expr else {
        return None;
    };
    match &f.args {
        FunctionArguments::List(list) => match list.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] => Some(arg),
            _ => None,
        },
        _ => None,
    }
}

impl VisitorMut for Series {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if calls(expr, "generate_series") {
            if let Some(unnested) = parse_expr(&format!("unnest({expr})")) {
                *expr = unnested;
                self.changed = true;
            }
        } else if calls(expr, "unnest") {
            // `unnest(generate_series(..))` as written (or by `generate_subscripts`): its
            // inner call was unnested above; once is enough.
            let inner = only_argument(expr)
                .filter(|arg| {
                    calls(arg, "unnest")
                        && only_argument(arg).is_some_and(|a| calls(a, "generate_series"))
                })
                .cloned();
            if let Some(inner) = inner {
                *expr = inner;
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::{TableAlias, TableAliasColumnDef};
        let TableFactor::Table {
            name,
            alias,
            args: Some(_),
            with_ordinality: false,
            ..
        } = table
        else {
            return ControlFlow::Continue(());
        };
        let is_series = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .is_some_and(|i| i.value.eq_ignore_ascii_case("generate_series"));
        if !is_series {
            return ControlFlow::Continue(());
        }
        match alias {
            Some(alias) if alias.columns.is_empty() => {
                alias.columns = vec![TableAliasColumnDef::from_name(ident_name(&alias.name))];
                self.changed = true;
            }
            Some(_) => {}
            None => {
                *alias = Some(TableAlias {
                    explicit: true,
                    name: Ident::new("generate_series"),
                    columns: vec![TableAliasColumnDef::from_name("generate_series")],
                    at: None,
                });
                self.changed = true;
            }
        }
        ControlFlow::Continue(())
    }
}

/// `rfm_score(x, ties => 'same')` → `rfm_score(x, 5, true, 'same')`: calls of datapunk
/// functions with named arguments become positional calls, every skipped optional
/// parameter taking its documented default ([`crate::pg::function_doc`]). DataFusion resolves
/// names itself only when no parameter before the last one given is skipped. Calls
/// naming an unknown parameter are left alone, so DataFusion reports them.
pub fn fill_named_arguments<V: VisitMut>(node: &mut V) -> bool {
    let mut calls = NamedArguments { changed: false };
    let _ = node.visit(&mut calls);
    calls.changed
}

/// The visitor behind [`fill_named_arguments`]: function calls in expressions and table
/// functions in FROM.
struct NamedArguments {
    changed: bool,
}

impl VisitorMut for NamedArguments {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            if let FunctionArguments::List(list) = &mut function.args {
                if let Some(args) = positional(&function.name, &list.args) {
                    list.args = args;
                    self.changed = true;
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<()> {
        let (name, args) = match table {
            TableFactor::Table {
                name,
                args: Some(args),
                ..
            } => (&*name, &mut args.args),
            TableFactor::Function { name, args, .. } => (&*name, args),
            _ => return ControlFlow::Continue(()),
        };
        if let Some(new) = positional(name, args) {
            *args = new;
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}

/// The positional arguments of a call of a datapunk function that names some of its
/// arguments, or `None` when nothing is named or the call is not ours to fix.
fn positional(name: &ObjectName, args: &[FunctionArg]) -> Option<Vec<FunctionArg>> {
    if args.iter().all(|a| matches!(a, FunctionArg::Unnamed(_))) {
        return None;
    }
    let doc = crate::pg::function_doc::by_name(&name.0.last()?.as_ident()?.value)?;
    let mut slots: Vec<Option<FunctionArgExpr>> = vec![None; doc.params.len()];
    for (i, arg) in args.iter().enumerate() {
        let (slot, value) = match arg {
            FunctionArg::Unnamed(value) => (Some(i), value),
            FunctionArg::Named { name, arg, .. }
            | FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg,
                ..
            } => (
                doc.params
                    .iter()
                    .position(|p| p.name.eq_ignore_ascii_case(&name.value)),
                arg,
            ),
            FunctionArg::ExprNamed { .. } => return None,
        };
        match slots.get_mut(slot?) {
            Some(place @ None) => *place = Some(value.clone()),
            _ => return None,
        }
    }
    let given = slots.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    let mut out = Vec::with_capacity(given);
    for (slot, param) in slots.into_iter().zip(doc.params).take(given) {
        let value = match (slot, param.default) {
            (Some(value), _) => value,
            (None, Some(default)) => FunctionArgExpr::Expr(parse_expr(default)?),
            // A required parameter is missing: DataFusion says so.
            (None, None) => return None,
        };
        out.push(FunctionArg::Unnamed(value));
    }
    Some(out)
}

/// Catalog tables that are always empty in datapunk (no sequences, column defaults or
/// row security policies): a scalar or ARRAY subquery reading only them is NULL, which
/// DataFusion need not decorrelate.
const EMPTY_CATALOG_TABLES: &[&str] = &["pg_sequence", "pg_attrdef", "pg_policy"];

/// Whether `query` is one SELECT reading only [`EMPTY_CATALOG_TABLES`].
fn reads_only_empty_tables(query: &Query) -> bool {
    use datafusion::sql::sqlparser::ast::TableFactor;
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    !select.from.is_empty()
        && select.from.iter().all(|f| {
            f.joins.is_empty()
                && matches!(&f.relation, TableFactor::Table { name, .. }
                    if EMPTY_CATALOG_TABLES.contains(&last_part(name).as_str()))
        })
}

/// `(SELECT c.relkind = 'c' FROM pg_class c WHERE c.oid = t.typrelid)` →
/// `(SELECT max(c.relkind = 'c') FROM ...)`: one output, no aggregate, no GROUP BY, a
/// WHERE clause (a lookup by key, at most one row in PostgreSQL's catalogs).
fn aggregate_lookup_subqueries(statement: &mut Statement) -> bool {
    use datafusion::sql::sqlparser::ast::GroupByExpr;
    let mut changed = false;
    let _ = visit_expressions_mut(statement, |expr| {
        let Expr::Subquery(query) = expr else {
            return ControlFlow::<()>::Continue(());
        };
        if reads_only_empty_tables(query) {
            *expr = Expr::value(Value::Null);
            changed = true;
            return ControlFlow::<()>::Continue(());
        }
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::<()>::Continue(());
        };
        let grouped = !matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
        if select.projection.len() != 1 || grouped || select.selection.is_none() {
            return ControlFlow::<()>::Continue(());
        }
        let (output, alias) = match &select.projection[0] {
            SelectItem::UnnamedExpr(output) => (output, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.clone())),
            _ => return ControlFlow::<()>::Continue(()),
        };
        let text = output.to_string();
        let lower = text.to_lowercase();
        let aggregated = [
            "max(",
            "min(",
            "count(",
            "sum(",
            "avg(",
            "array_agg(",
            "bool_",
        ]
        .iter()
        .any(|a| lower.contains(a));
        if aggregated {
            return ControlFlow::<()>::Continue(());
        }
        if let Some(new) = parse_expr(&format!("max({text})")) {
            select.projection[0] = match alias {
                Some(alias) => SelectItem::ExprWithAlias { expr: new, alias },
                None => SelectItem::UnnamedExpr(new),
            };
            changed = true;
        }
        // Conditions on the outer query alone move out of the subquery, which DataFusion
        // cannot decorrelate with them: `(SELECT x FROM t WHERE o.a AND t.k = o.k)` →
        // `CASE WHEN o.a THEN (SELECT x FROM t WHERE t.k = o.k) END`, the same value.
        let inner: Vec<String> = select.from.iter().flat_map(relation_names).collect();
        let conjuncts = select.selection.as_ref().map(split_and).unwrap_or_default();
        let (outer, own): (Vec<Expr>, Vec<Expr>) = conjuncts
            .into_iter()
            .partition(|c| !own_columns_in(c, &inner));
        if !outer.is_empty() && !own.is_empty() {
            let join = |parts: &[Expr]| {
                parts
                    .iter()
                    .map(|p| format!("({p})"))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            };
            select.selection = parse_expr(&join(&own));
            let text = format!("CASE WHEN {} THEN ({query}) END", join(&outer));
            if let Some(new) = parse_expr(&text) {
                *expr = new;
                changed = true;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// The conjuncts of `a AND b AND ...`.
fn split_and(expr: &Expr) -> Vec<Expr> {
    use datafusion::sql::sqlparser::ast::BinaryOperator;
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut parts = split_and(left);
            parts.extend(split_and(right));
            parts
        }
        Expr::Nested(inner) => split_and(inner),
        other => vec![other.clone()],
    }
}

/// The names a FROM item's relations are referred to by (alias, or the table's name).
fn relation_names(from: &datafusion::sql::sqlparser::ast::TableWithJoins) -> Vec<String> {
    use datafusion::sql::sqlparser::ast::TableFactor;
    let name = |factor: &TableFactor| match factor {
        TableFactor::Table { name, alias, .. } => Some(match alias {
            Some(a) => a.name.value.to_lowercase(),
            None => last_part(name),
        }),
        TableFactor::Derived { alias, .. } => alias.as_ref().map(|a| a.name.value.to_lowercase()),
        _ => None,
    };
    std::iter::once(&from.relation)
        .chain(from.joins.iter().map(|j| &j.relation))
        .filter_map(name)
        .collect()
}

fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .map(|p| p.to_string().trim_matches('"').to_lowercase())
        .unwrap_or_default()
}

/// Whether `expr` may read a column of the relations `inner` (or has a nested query, or
/// an unqualified column, which could be theirs).
fn own_columns_in(expr: &Expr, inner: &[String]) -> bool {
    let mut own = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(expr, |e| {
        match e {
            Expr::Identifier(_)
            | Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::InSubquery { .. } => {
                own = true;
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let table = parts[parts.len() - 2].value.to_lowercase();
                own |= inner.contains(&table);
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    own
}

/// The name PostgreSQL gives an unaliased output expression, when it differs from the
/// one DataFusion would pick.
fn postgres_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => None,
        Expr::Nested(inner) => postgres_name(inner),
        Expr::Function(f) => {
            let name = f
                .name
                .0
                .last()
                .map(|p| p.to_string().trim_matches('"').to_lowercase())?;
            // Our cast functions are named as the casts they stand for.
            let cast_to = match name.as_str() {
                "pg_numeric" => "numeric",
                _ => return Some(name),
            };
            match &f.args {
                FunctionArguments::List(list) => match list.args.as_slice() {
                    [FunctionArg::Unnamed(FunctionArgExpr::Expr(operand))] => {
                        cast_name(operand, Some(cast_to.to_owned()))
                    }
                    _ => Some(cast_to.to_owned()),
                },
                _ => Some(cast_to.to_owned()),
            }
        }
        Expr::Cast {
            expr, data_type, ..
        } => cast_name(expr, postgres_type_name(&data_type.to_string())),
        Expr::Extract { .. } => Some("extract".to_owned()),
        Expr::Substring { shorthand, .. } => {
            Some(if *shorthand { "substr" } else { "substring" }.to_owned())
        }
        Expr::Trim { trim_where, .. } => {
            use datafusion::sql::sqlparser::ast::TrimWhereField;
            Some(
                match trim_where {
                    Some(TrimWhereField::Leading) => "ltrim",
                    Some(TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                }
                .to_owned(),
            )
        }
        Expr::Ceil { .. } => Some("ceil".to_owned()),
        Expr::Floor { .. } => Some("floor".to_owned()),
        Expr::Position { .. } => Some("position".to_owned()),
        Expr::Overlay { .. } => Some("overlay".to_owned()),
        Expr::AtTimeZone { .. } => Some("timezone".to_owned()),
        Expr::Interval(_) => Some("interval".to_owned()),
        Expr::TypedString(typed) => postgres_type_name(&typed.data_type.to_string()),
        Expr::Array(_) => Some("array".to_owned()),
        // `tags[1]` and `attrs['a']` are named after their column, `(address).city` after
        // its field (DataFusion: `t.tags[1]`, `t.attrs[a]`).
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.last() {
            Some(AccessExpr::Dot(Expr::Identifier(field))) => Some(ident_name(field)),
            _ => cast_name(unnested(root), Some("?column?".to_owned())),
        },
        Expr::Case { .. } => Some("case".to_owned()),
        Expr::Exists { .. } => Some("exists".to_owned()),
        // A scalar subquery is named after its one output (`(SELECT max(x) FROM t)` is
        // `max`).
        Expr::Subquery(query) => match query.body.as_ref() {
            SetExpr::Select(select) => match select.projection.first() {
                Some(SelectItem::ExprWithAlias { alias, .. }) => Some(ident_name(alias)),
                Some(SelectItem::UnnamedExpr(expr)) => {
                    cast_name(unnested(expr), None).or_else(|| postgres_name(expr))
                }
                _ => None,
            },
            _ => None,
        },
        Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => None,
        Expr::Value(_)
        | Expr::BinaryOp { .. }
        | Expr::UnaryOp { .. }
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::Between { .. }
        | Expr::InList { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::SimilarTo { .. }
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..) => Some("?column?".to_owned()),
        _ => None,
    }
}

/// The name PostgreSQL gives a cast (`FigureColname`): the operand's when it is a column
/// or a function call (`x::int` is `x`, `count(*)::numeric` is `count`), else the type's.
fn cast_name(operand: &Expr, type_name: Option<String>) -> Option<String> {
    match operand {
        Expr::Identifier(i) => Some(ident_name(i)),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name),
        Expr::Function(_) => postgres_name(operand).or(type_name),
        _ => type_name,
    }
}

/// A column name as PostgreSQL folds it: unquoted names in lower case.
fn ident_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// `expr` without the parentheses around it.
fn unnested(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => unnested(inner),
        other => other,
    }
}

/// PostgreSQL's internal name for a cast's target type (`'1'::int` is named `int4`).
fn postgres_type_name(sql_type: &str) -> Option<String> {
    let t = sql_type.to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or(&t).trim();
    let name = match base {
        "int" | "integer" | "int4" => "int4",
        "bigint" | "int8" => "int8",
        "smallint" | "int2" => "int2",
        "double precision" | "float8" | "double" => "float8",
        "real" | "float4" => "float4",
        "numeric" | "decimal" => "numeric",
        "text" => "text",
        "varchar" | "character varying" => "varchar",
        "boolean" | "bool" => "bool",
        "date" => "date",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "interval" => "interval",
        "uuid" => "uuid",
        "name" => "name",
        "\"char\"" => "char",
        // `float(p)`: a real up to 24 bits (`pg::type_planner`).
        "float" => match t
            .split_once('(')
            .and_then(|(_, p)| p.trim_end_matches(')').trim().parse::<u64>().ok())
        {
            Some(bits) if bits <= 24 => "float4",
            _ => "float8",
        },
        _ => return None,
    };
    Some(name.to_owned())
}

/// Aliases unaliased top-level output columns with PostgreSQL's names. DataFusion needs
/// unique names, so a name already taken keeps DataFusion's own.
fn name_columns(query: &mut Query) -> bool {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let mut taken: HashSet<String> = select.projection.iter().filter_map(written_name).collect();
    let mut changed = false;
    for item in &mut select.projection {
        if let SelectItem::UnnamedExpr(expr) = item {
            if let Some(name) = postgres_name(expr) {
                // PostgreSQL allows two outputs of the same name, DataFusion does not:
                // the second gets a marked suffix that RowDescription drops.
                let mut n = 1;
                while !taken.insert(marked(&name, n)) {
                    n += 1;
                }
                let alias = marked(&name, n);
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::with_quote('"', alias),
                };
                changed = true;
            }
        }
    }
    changed
}

/// A plain SELECT body with duplicate output names made unique by [`dedupe_select`].
/// Set operations are left alone here: their later branches may repeat names (psql's own
/// `\d` queries do, and datafusion-pg-catalog recognises those only as written); they
/// are deduplicated in the retry ([`catalog_retry`]) of a query that failed.
fn dedupe_set_expr(body: &mut SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => dedupe_select(select),
        _ => false,
    }
}

/// Each branch of a set operation (DBeaver's `... UNION ALL SELECT oid, 'c', oid ...`)
/// with duplicate output names made unique by [`dedupe_select`].
fn dedupe_set_operation_branches(body: &mut SetExpr) -> bool {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            let left = dedupe_set_operation_branches(left) | dedupe_set_expr(left);
            dedupe_set_operation_branches(right) | dedupe_set_expr(right) | left
        }
        _ => false,
    }
}

/// `SELECT NULL, x, NULL` or `SELECT oid, 'c', oid` (psqlODBC, DBeaver): PostgreSQL
/// allows outputs of the same name, DataFusion does not. Outputs whose PostgreSQL names
/// collide get those names as aliases, the second and later with a marked suffix that
/// the RowDescription drops ([`client_name`]).
fn dedupe_select(select: &mut datafusion::sql::sqlparser::ast::Select) -> bool {
    // Names as DataFusion sees them: an alias, a column, or the expression's text.
    let datafusion_names: Vec<Option<String>> = select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) if written_name(item).is_none() => Some(e.to_string()),
            _ => written_name(item),
        })
        .collect();
    let collides = |i: usize| {
        datafusion_names[i].as_ref().is_some_and(|n| {
            datafusion_names
                .iter()
                .filter(|m| m.as_ref() == Some(n))
                .count()
                > 1
        })
    };
    if !(0..datafusion_names.len()).any(collides) {
        return false;
    }
    // PostgreSQL's names for those outputs.
    let names: Vec<Option<String>> = select
        .projection
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            _ if !collides(i) => None,
            SelectItem::UnnamedExpr(e) if written_name(item).is_none() => postgres_name(e),
            _ => written_name(item),
        })
        .collect();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut changed = false;
    for (item, name) in select.projection.iter_mut().zip(names.iter()) {
        let Some(name) = name else { continue };
        let count = names.iter().filter(|n| n.as_ref() == Some(name)).count();
        if count < 2 {
            continue;
        }
        let nth = seen.entry(name.clone()).or_insert(0);
        *nth += 1;
        let alias = marked(name, *nth);
        match item {
            SelectItem::UnnamedExpr(expr) => {
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::with_quote('"', alias),
                };
                changed = true;
            }
            SelectItem::ExprWithAlias { alias: a, .. } if *nth > 1 => {
                *a = Ident::with_quote('"', alias);
                changed = true;
            }
            _ => {}
        }
    }
    changed
}

/// The name an output has as written: its alias, or the column it names.
fn written_name(item: &SelectItem) -> Option<String> {
    // Unquoted names fold to lower case, as both PostgreSQL and DataFusion fold them.
    let folded = |i: &Ident| match i.quote_style {
        Some(_) => i.value.clone(),
        None => i.value.to_lowercase(),
    };
    match item {
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(folded(i)),
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => p.last().map(folded),
        _ => None,
    }
}

/// The `nth` output called `name`: the name itself first, then with a marked suffix.
fn marked(name: &str, nth: usize) -> String {
    if nth <= 1 {
        name.to_owned()
    } else {
        format!("{name}{DUPLICATE_NAME_MARK}{nth}")
    }
}

/// Separates an output name from the suffix that makes a duplicate name unique for
/// DataFusion (a control character no client-written name contains).
pub const DUPLICATE_NAME_MARK: char = '\u{1f}';

/// The name a client sees for an output column: without a duplicate-name suffix.
pub fn client_name(name: &str) -> &str {
    name.split(DUPLICATE_NAME_MARK).next().unwrap_or(name)
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
mod catalog_tests {
    use super::rewrite;

    #[test]
    fn regproc_columns_compare_by_name() {
        let sql = "SELECT typinput = 'pg_catalog.array_in'::regproc AS is_array FROM pg_catalog.pg_type t JOIN pg_proc p ON p.oid = t.typreceive";
        let out = rewrite(sql);
        assert!(out.contains("typinput = 'array_in'"), "{out}");
        assert!(out.contains("p.proname = t.typreceive"), "{out}");
    }

    #[test]
    fn field_access_on_expressions_uses_get_field() {
        let sql =
            "SELECT (information_schema._pg_expandarray(i.indkey)).n FROM pg_catalog.pg_index i";
        let out = rewrite(sql);
        assert!(
            out.contains("get_field((information_schema._pg_expandarray(i.indkey)), 'n')"),
            "{out}"
        );
    }

    #[test]
    fn lookup_subqueries_are_aggregated() {
        use super::catalog_retry;
        let sql = "SELECT t.typname FROM pg_catalog.pg_type t WHERE t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)";
        let out = super::to_text(&catalog_retry(sql).unwrap());
        assert!(out.contains("SELECT max(c.relkind = 'c')"), "{out}");
        // Not on the first try, and not when already aggregated.
        assert!(!rewrite(sql).contains("max("));
        let sql = "SELECT (SELECT count(*) FROM pg_class c WHERE c.oid = 1)";
        assert!(catalog_retry(sql).is_none());
    }

    #[test]
    fn outer_conditions_leave_lookup_subqueries_and_empty_catalogs_are_null() {
        use super::catalog_retry;
        // SQLAlchemy's column reflection: `a.atthasdef` is about the outer row only.
        let sql = "SELECT (SELECT d.adbin AS x FROM pg_catalog.pg_type d \
                   WHERE pg_catalog.pg_attribute.atthasdef AND d.oid = pg_catalog.pg_attribute.atttypid) \
                   FROM pg_catalog.pg_attribute";
        let out = super::to_text(&catalog_retry(sql).unwrap());
        assert!(
            out.contains("CASE WHEN (pg_catalog.pg_attribute.atthasdef) THEN (SELECT max(d.adbin) AS x FROM pg_catalog.pg_type d WHERE (d.oid = pg_catalog.pg_attribute.atttypid)) END"),
            "{out}"
        );
        let sql = "SELECT (SELECT s.seqstart FROM pg_catalog.pg_sequence s WHERE s.seqrelid = a.attrelid) \
                   FROM pg_catalog.pg_attribute a";
        let out = super::to_text(&catalog_retry(sql).unwrap());
        assert_eq!(out, "SELECT NULL FROM pg_catalog.pg_attribute a");
    }

    #[test]
    fn visibility_follows_the_search_path_in_where_clauses() {
        let out = rewrite(
            "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relkind = 'r' AND pg_catalog.pg_table_is_visible(c.oid)",
        );
        assert!(
            out.contains(
                "AND (c.oid) IN (SELECT _visible.oid FROM pg_catalog.pg_class AS _visible"
            ),
            "{out}"
        );
        assert!(out.contains("ANY(current_schemas(true))"), "{out}");
        // Elsewhere the function stays.
        let sql = "SELECT pg_catalog.pg_table_is_visible(c.oid) FROM pg_catalog.pg_class c";
        assert!(rewrite(sql).contains("pg_table_is_visible(c.oid)"));
    }
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

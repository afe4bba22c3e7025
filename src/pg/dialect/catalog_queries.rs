//! Tools' catalog queries (pgjdbc, Npgsql, psql, DataGrip, Metabase) in shapes
//! DataFusion plans: `regproc` columns compared by function name, the system column
//! `xmin` of catalog tables, a regclass cast of a computed name inside `col_description`,
//! tables visible by `search_path`, and [`catalog_retry`]: a second reading of a catalog
//! query DataFusion refused, with an aggregate around scalar subqueries that look a row
//! up by key.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    ObjectName, Query, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::*;

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
pub(super) fn retry_changes(sql: &str) -> bool {
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
pub(super) fn still_has_array_subqueries(sql: &str) -> bool {
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
pub(super) const ANALYST_PG_FUNCTIONS: &[&str] = &["pg_typeof", "pg_size_pretty", "pg_backend_pid"];

pub(super) fn mentions_catalog(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("information_schema")
        || lower.match_indices("pg_").any(|(at, _)| {
            !ANALYST_PG_FUNCTIONS
                .iter()
                .any(|f| lower[at..].starts_with(f))
        })
}

/// `col_description(CAST(format('%I.%I', s, t) AS regclass), n)` (Metabase) →
/// `col_description(CAST(NULL AS INT), n)`: a regclass cast of a computed name cannot
/// be planned (datafusion-pg-catalog resolves only quoted names, and DataFusion cannot
/// decorrelate the lookup), and datapunk has no table or column comments, so the
/// description is NULL either way. Only inside `col_description` / `obj_description`.
pub(super) fn computed_regclass_in_descriptions(statement: &mut Statement) -> bool {
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

/// `T.xmin` → `1` where `T` is a `pg_catalog` table of the query: DataGrip reads the
/// system column `xmin` as a state number to notice changes; datapunk's catalog has no
/// system columns, and a constant says "unchanged" (DataGrip then re-reads on refresh).
pub(super) fn catalog_system_columns(statement: &mut Statement) -> bool {
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
pub(super) struct CatalogRelations {
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
pub(super) const REGPROC_COLUMNS: &[&str] = &[
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typmodin",
    "typmodout",
    "typanalyze",
];

pub(super) fn last_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(i) => Some(i.value.to_lowercase()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.to_lowercase()),
        _ => None,
    }
}

/// `x.oid = t.typreceive` → `x.proname = t.typreceive`;
/// `typinput = 'pg_catalog.array_in'::regproc` → `typinput = 'array_in'`.
pub(super) fn compare_regproc_by_name(statement: &mut Statement) -> bool {
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
pub(super) fn regproc_side_by_name(side: &mut Expr, other: &Expr) -> bool {
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

/// `WHERE ... AND pg_table_is_visible(c.oid)` (psql's `\d`, `\dv`, ... without a
/// pattern) → `... AND c.oid IN (relations of the schemas on the search path)`: the
/// function itself cannot know the connection's search path and says true for every
/// relation. Only as a conjunct of a WHERE clause, where DataFusion plans the IN
/// subquery; a name shadowed by one earlier on the path still counts as visible.
pub(super) fn tables_visible_by_search_path(statement: &mut Statement) -> bool {
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

/// Catalog tables that are always empty in datapunk (no sequences, column defaults or
/// row security policies): a scalar or ARRAY subquery reading only them is NULL, which
/// DataFusion need not decorrelate.
pub(super) const EMPTY_CATALOG_TABLES: &[&str] = &["pg_sequence", "pg_attrdef", "pg_policy"];

/// Whether `query` is one SELECT reading only [`EMPTY_CATALOG_TABLES`].
pub(super) fn reads_only_empty_tables(query: &Query) -> bool {
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
pub(super) fn aggregate_lookup_subqueries(statement: &mut Statement) -> bool {
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
pub(super) fn split_and(expr: &Expr) -> Vec<Expr> {
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
pub(super) fn relation_names(
    from: &datafusion::sql::sqlparser::ast::TableWithJoins,
) -> Vec<String> {
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

pub(super) fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .map(|p| p.to_string().trim_matches('"').to_lowercase())
        .unwrap_or_default()
}

/// Whether `expr` may read a column of the relations `inner` (or has a nested query, or
/// an unqualified column, which could be theirs).
pub(super) fn own_columns_in(expr: &Expr, inner: &[String]) -> bool {
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

#[cfg(test)]
mod tests {
    use crate::pg::dialect::rewrite;

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

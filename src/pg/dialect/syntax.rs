//! PostgreSQL syntax DataFusion lacks or reads differently and has no extension point
//! for (operators and type names have theirs: `pg::operators`, `pg::type_planner`):
//! `ARRAY(subquery)`, `'\x01'::bytea`, `generate_subscripts(a, 1)`, `INTERVAL '1 day
//! 02:00:00'`, `LIKE ... ESCAPE`, an unconstrained `x::numeric`, field access on a row
//! value (`(address).city`), and scalar subqueries kept scalar.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, AccessExpr, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Ident, Query, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};

use super::*;
use crate::pg::numeric;

/// `ARRAY(SELECT x FROM ...)` → `(SELECT array_agg(c) FROM (SELECT x FROM ...) AS _array(c))`.
pub(super) fn rewrite_array_subqueries(statement: &mut Statement) -> bool {
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
pub(super) fn aggregated_in_place(query: &Query) -> Option<String> {
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

/// PostgreSQL syntax DataFusion does not plan (or plans differently) and has no
/// extension point for (operators and type names have theirs: `pg::operators`,
/// `pg::type_planner`), in any query:
/// - `'\x01ff'::bytea` → the bytes 01 ff (DataFusion would take the text's bytes);
/// - `generate_subscripts(a, d)` → `unnest(generate_series(1, array_length(a, d)))`, a
///   set-returning call beside `unnest(a)` as SQLAlchemy writes it;
/// - `INTERVAL '1 day 02:00:00'` → the units DataFusion reads;
/// - `x LIKE p ESCAPE '/'` → `x LIKE pg_like_pattern(p, '/')` ([`crate::pg::like`]).
pub(super) fn postgres_syntax(statement: &mut Statement) -> bool {
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

/// The hex digits of a quoted bytea literal in PostgreSQL's hex format (`'\x01ff'`).
pub(super) fn bytea_hex(expr: &Expr) -> Option<String> {
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
pub(super) fn keep_scalar_subqueries(statement: &mut Statement) -> bool {
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

/// `(expr).field` → `get_field(expr, 'field')`, which DataFusion plans for structs.
pub(super) fn field_access_as_get_field(statement: &mut Statement) -> bool {
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
pub(super) fn set_returning_series(statement: &mut Statement) -> bool {
    let mut series = Series { changed: false };
    let _ = statement.visit(&mut series);
    series.changed
}

/// The visitor behind [`set_returning_series`].
pub(super) struct Series {
    changed: bool,
}

/// Whether `expr` calls the function `name` (unqualified or in `pg_catalog`).
pub(super) fn calls(expr: &Expr, name: &str) -> bool {
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

/// The one argument of a call, if it has exactly one.
pub(super) fn only_argument(expr: &Expr) -> Option<&Expr> {
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

//! PostgreSQL's names for unaliased output columns (`count(*)` is `count`, `1 + 1` is
//! `?column?`, `x::int` is `x`), so headers and drivers' column names are PostgreSQL's;
//! duplicate names get a marked suffix Arrow can hold ([`DUPLICATE_NAME_MARK`]), which
//! [`client_name`] takes off before a client sees it.

use std::collections::HashSet;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query, SelectItem,
    SetExpr,
};

/// The name PostgreSQL gives an unaliased output expression, when it differs from the
/// one DataFusion would pick.
pub(super) fn postgres_name(expr: &Expr) -> Option<String> {
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
pub(super) fn cast_name(operand: &Expr, type_name: Option<String>) -> Option<String> {
    match operand {
        Expr::Identifier(i) => Some(ident_name(i)),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name),
        Expr::Function(_) => postgres_name(operand).or(type_name),
        _ => type_name,
    }
}

/// A column name as PostgreSQL folds it: unquoted names in lower case.
pub(super) fn ident_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// `expr` without the parentheses around it.
pub(super) fn unnested(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => unnested(inner),
        other => other,
    }
}

/// PostgreSQL's internal name for a cast's target type (`'1'::int` is named `int4`).
pub(super) fn postgres_type_name(sql_type: &str) -> Option<String> {
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
pub(super) fn name_columns(query: &mut Query) -> bool {
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
pub(super) fn dedupe_set_expr(body: &mut SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => dedupe_select(select),
        _ => false,
    }
}

/// Each branch of a set operation (DBeaver's `... UNION ALL SELECT oid, 'c', oid ...`)
/// with duplicate output names made unique by [`dedupe_select`].
pub(super) fn dedupe_set_operation_branches(body: &mut SetExpr) -> bool {
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
pub(super) fn dedupe_select(select: &mut datafusion::sql::sqlparser::ast::Select) -> bool {
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
pub(super) fn written_name(item: &SelectItem) -> Option<String> {
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
pub(super) fn marked(name: &str, nth: usize) -> String {
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

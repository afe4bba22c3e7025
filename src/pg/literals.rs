//! PostgreSQL's types for numeric literals, given in the syntax tree before planning so
//! every client is told them (RowDescription, `pg_typeof`) and arithmetic follows them:
//! - an integer literal that fits 32 bits is an `integer` (DataFusion: every integer
//!   literal a `bigint`), so `SELECT 1` reaches node-postgres as a number and
//!   `2147483647 + 1` is `integer out of range`, as in PostgreSQL;
//! - a literal with a point or an exponent is a `numeric` of the digits written
//!   (DataFusion: a double; the engine's `parse_float_as_decimal` makes it a decimal),
//!   with an exponent written out as PostgreSQL's `numeric_in` reads it (`1.5e3` is
//!   `1500`, `1e-3` is `0.001`). Past the 38 digits of a decimal, a double.
//!
//! Integers where SQL means a position or a count keep their literal: `ORDER BY 1`,
//! `GROUP BY 1`, `LIMIT`, `OFFSET`, `FETCH`, window frames' `n PRECEDING`, and the
//! arguments of `generate_series` and `range` (whose bigint forms DataFusion has).

use std::ops::ControlFlow;

use datafusion::arrow::datatypes::DataType as ArrowType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Cast, Expr as PlanExpr, LogicalPlan};
use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, Function, GroupByExpr, LimitClause, NamedWindowDefinition,
    NamedWindowExpr, OrderByKind, Query, SetExpr, TableFactor, Value, VisitMut, VisitorMut,
    WindowFrameBound, WindowSpec, WindowType,
};

/// Types the numeric literals of `query`; whether any changed.
pub fn type_literals(query: &mut Query) -> bool {
    let mut visitor = Literals::default();
    let _ = query.visit(&mut visitor);
    visitor.changed
}

/// The plan of a statement whose literals [`type_literals`] typed, with each
/// `CAST(n AS INT4)` folded into an `integer` literal, so what reads its arguments'
/// values while planning (`round(x, 2)`'s scale) sees a literal, as it would have.
///
/// # Errors
/// A node's schema cannot be recomputed.
pub fn fold_integer_literals(plan: LogicalPlan) -> Result<LogicalPlan> {
    crate::pg::coercion::rewrite_expressions(plan, |expr, _| {
        let folded = match &expr {
            PlanExpr::Cast(Cast { expr: inner, field })
                if field.data_type() == &ArrowType::Int32 =>
            {
                match inner.as_ref() {
                    PlanExpr::Literal(ScalarValue::Int64(Some(n)), _) => i32::try_from(*n).ok(),
                    _ => None,
                }
            }
            _ => None,
        };
        Ok(match folded {
            Some(n) => Transformed::yes(PlanExpr::Literal(ScalarValue::Int32(Some(n)), None)),
            None => Transformed::no(expr),
        })
    })
}

#[derive(Default)]
struct Literals {
    /// How many calls whose integer arguments stay bigint enclose the current node.
    keep_bigint: usize,
    changed: bool,
}

/// Functions whose integer arguments stay as DataFusion reads them.
fn keeps_bigint(name: &str) -> bool {
    matches!(name, "generate_series" | "range")
}

fn table_function_name(table: &TableFactor) -> Option<String> {
    let name = match table {
        TableFactor::Table {
            name,
            args: Some(_),
            ..
        } => name,
        TableFactor::Function { name, .. } => name,
        TableFactor::TableFunction { expr, .. } => return crate::pg::function_name(expr),
        _ => return None,
    };
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_ascii_lowercase())
}

/// `CAST(n AS INT4)`: the form only this module writes, so it can be undone where the
/// literal means a position or a count.
fn as_integer(literal: Expr) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(literal),
        data_type: DataType::Int4(None),
        array: false,
        format: None,
    }
}

/// The literal inside [`as_integer`]'s cast, put back.
fn undo(expr: &mut Expr) {
    if let Expr::Cast {
        kind: CastKind::Cast,
        expr: inner,
        data_type: DataType::Int4(None),
        array: false,
        format: None,
    } = expr
    {
        if matches!(&**inner, Expr::Value(v) if matches!(v.value, Value::Number(..))) {
            *expr = (**inner).clone();
        }
    }
}

/// `1.5e3` → `1500`, `2.5e-7` → `0.00000025`: the digits `numeric_in` keeps (scale =
/// digits after the point minus the exponent, at least 0); `None` past 38 digits or
/// when `text` has no exponent.
pub fn without_exponent(text: &str) -> Option<String> {
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let exponent: i64 = exponent.parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = i64::try_from(fraction.len()).ok()? - exponent;
    let (int_part, frac_part) = if scale <= 0 {
        let zeros = usize::try_from(-scale).ok()?;
        (format!("{digits}{}", "0".repeat(zeros)), String::new())
    } else {
        let scale = usize::try_from(scale).ok()?;
        let padded = format!("{}{digits}", "0".repeat(scale.saturating_sub(digits.len())));
        let split = padded.len() - scale;
        (padded[..split].to_owned(), padded[split..].to_owned())
    };
    let int_part = int_part.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let significant = int_part.trim_start_matches('0').len() + frac_part.len();
    if significant > 38 {
        return None;
    }
    Some(if frac_part.is_empty() {
        int_part.to_owned()
    } else {
        format!("{int_part}.{frac_part}")
    })
}

fn number(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(text, false) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

impl VisitorMut for Literals {
    type Break = ();

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<()> {
        if table_function_name(table).is_some_and(|n| keeps_bigint(&n)) {
            self.keep_bigint += 1;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<()> {
        if table_function_name(table).is_some_and(|n| keeps_bigint(&n)) {
            self.keep_bigint -= 1;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if crate::pg::function_name(expr).is_some_and(|n| keeps_bigint(&n)) {
            self.keep_bigint += 1;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if crate::pg::function_name(expr).is_some_and(|n| keeps_bigint(&n)) {
            self.keep_bigint -= 1;
            return ControlFlow::Continue(());
        }
        if let Expr::Function(Function {
            over: Some(WindowType::WindowSpec(spec)),
            ..
        }) = expr
        {
            frame_offsets(spec);
        }
        if let Expr::Cast {
            expr: inner,
            data_type: DataType::Int4(None),
            ..
        } = expr
        {
            // Typed twice: once is enough.
            if matches!(&**inner, Expr::Cast { data_type: DataType::Int4(None), expr, .. } if number(expr).is_some())
            {
                *expr = (**inner).clone();
            }
        }
        let Some(text) = number(expr).map(str::to_owned) else {
            return ControlFlow::Continue(());
        };
        if text.contains(['e', 'E']) {
            *expr = match without_exponent(&text) {
                Some(plain) => Expr::value(Value::Number(plain, false)),
                // Past a decimal's digits: a double, as DataFusion would read it.
                None => Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(Expr::value(Value::SingleQuotedString(text))),
                    data_type: DataType::DoublePrecision,
                    array: false,
                    format: None,
                },
            };
            self.changed = true;
        } else if self.keep_bigint == 0 && text.parse::<i32>().is_ok() {
            *expr = as_integer(expr.clone());
            self.changed = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(order_by) = &mut query.order_by {
            if let OrderByKind::Expressions(items) = &mut order_by.kind {
                items.iter_mut().for_each(|item| undo(&mut item.expr));
            }
        }
        match &mut query.limit_clause {
            Some(LimitClause::LimitOffset { limit, offset, .. }) => {
                limit.iter_mut().for_each(undo);
                offset.iter_mut().for_each(|o| undo(&mut o.value));
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                undo(offset);
                undo(limit);
            }
            None => {}
        }
        if let Some(fetch) = &mut query.fetch {
            fetch.quantity.iter_mut().for_each(undo);
        }
        positions_in_group_by(&mut query.body);
        ControlFlow::Continue(())
    }
}

/// A window frame's `n PRECEDING` / `n FOLLOWING`: a count of rows or groups (or a
/// distance on the ORDER BY column, which is typed from that column).
fn frame_offsets(spec: &mut WindowSpec) {
    let Some(frame) = &mut spec.window_frame else {
        return;
    };
    let bounds = std::iter::once(&mut frame.start_bound).chain(frame.end_bound.as_mut());
    for bound in bounds {
        if let WindowFrameBound::Preceding(Some(offset))
        | WindowFrameBound::Following(Some(offset)) = bound
        {
            undo(offset);
        }
    }
}

/// `GROUP BY 1` and window frame offsets in every SELECT of a body (set operations
/// included).
fn positions_in_group_by(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
                exprs.iter_mut().for_each(undo);
            }
            for NamedWindowDefinition(_, window) in &mut select.named_window {
                if let NamedWindowExpr::WindowSpec(spec) = window {
                    frame_offsets(spec);
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            positions_in_group_by(left);
            positions_in_group_by(right);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn typed(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        if let datafusion::sql::sqlparser::ast::Statement::Query(q) = &mut statements[0] {
            type_literals(q);
            type_literals(q);
        }
        statements[0].to_string()
    }

    #[test]
    fn small_integers_are_integers_except_positions_and_counts() {
        assert_eq!(
            typed("SELECT 1, 2147483648, x + 2 FROM t GROUP BY 1 ORDER BY 1 LIMIT 5 OFFSET 2"),
            "SELECT CAST(1 AS INT4), 2147483648, x + CAST(2 AS INT4) FROM t GROUP BY 1 ORDER BY 1 LIMIT 5 OFFSET 2"
        );
        assert_eq!(
            typed(
                "SELECT sum(x) OVER (ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING), \
                   avg(x) OVER w FROM t WINDOW w AS (ROWS 3 PRECEDING)"
            ),
            "SELECT sum(x) OVER (ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING), \
             avg(x) OVER w FROM t WINDOW w AS (ROWS 3 PRECEDING)"
        );
        assert_eq!(
            typed("SELECT * FROM generate_series(1, 3) g"),
            "SELECT * FROM generate_series(1, 3) g"
        );
    }

    #[test]
    fn exponents_are_written_out_as_numeric_in_reads_them() {
        assert_eq!(without_exponent("1.5e3").as_deref(), Some("1500"));
        assert_eq!(without_exponent("1e-3").as_deref(), Some("0.001"));
        assert_eq!(without_exponent("2.5E-7").as_deref(), Some("0.00000025"));
        assert_eq!(without_exponent("1.23e+5").as_deref(), Some("123000"));
        assert_eq!(without_exponent("12.5e1").as_deref(), Some("125"));
        assert_eq!(without_exponent("1.2345e2").as_deref(), Some("123.45"));
        assert_eq!(without_exponent("1e400"), None);
        assert_eq!(without_exponent("1.5"), None);
        assert_eq!(
            typed("SELECT 1e400"),
            "SELECT CAST('1e400' AS DOUBLE PRECISION)"
        );
    }
}

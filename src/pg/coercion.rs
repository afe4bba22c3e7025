//! PostgreSQL's coercion of quoted literals that DataFusion lacks, as an analyzer rule
//! run before DataFusion's own type coercion: a quoted literal compared with a boolean
//! (`ix.indisprimary = 'f'` from SQLAlchemy, `opted_in = 'true'` from an analyst) is
//! read as a boolean, as PostgreSQL reads an untyped literal as the other side's type.
//! A literal that is no boolean (`flag = 'maybe'`) fails with 22P02, as in PostgreSQL.
//! Likewise a quoted literal compared with an array is an array literal
//! (`pol.polroles = '{0}'`, psql's `\dp`).
//!
//! Also the one traversal our analyzer rules share ([`rewrite_expressions`]).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

/// See the module header.
#[derive(Debug, Default)]
pub struct QuotedBooleans;

impl AnalyzerRule for QuotedBooleans {
    fn name(&self) -> &str {
        "datapunk_quoted_booleans"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, coerce_comparison)
    }
}

/// Rewrites every expression of every node of `plan` (subqueries too) bottom-up with
/// `rewrite(expr, schema of the node's inputs)`, keeping output names.
pub fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    let node = |plan: LogicalPlan| -> Result<Transformed<LogicalPlan>> {
        let schema = merge_schema(&plan.inputs());
        let preserver = NamePreserver::new(&plan);
        let result = plan.map_expressions(|expr| {
            let name = preserver.save(&expr);
            let rewritten = expr.transform_up(|e| rewrite(e, &schema))?;
            Ok(rewritten.update_data(|e| name.restore(e)))
        })?;
        if result.transformed {
            result.map_data(|p| p.recompute_schema())
        } else {
            Ok(result)
        }
    };
    Ok(plan.transform_up_with_subqueries(node)?.data)
}

/// The operators PostgreSQL resolves an untyped literal against the other side's type for.
pub fn is_comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

fn is_boolean(expr: &Expr, schema: &DFSchema) -> bool {
    !matches!(expr, Expr::Literal(..)) && matches!(expr.get_type(schema), Ok(DataType::Boolean))
}

fn quoted(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Literal(
            ScalarValue::Utf8(Some(_)) | ScalarValue::Utf8View(Some(_)),
            _
        )
    )
}

fn as_boolean(expr: Expr) -> Expr {
    Expr::Cast(Cast::new(Box::new(expr), DataType::Boolean))
}

/// The element type of a non-literal list expression.
fn list_element(expr: &Expr, schema: &DFSchema) -> Option<DataType> {
    if matches!(expr, Expr::Literal(..)) {
        return None;
    }
    match expr.get_type(schema).ok()? {
        DataType::List(f) | DataType::LargeList(f) => Some(f.data_type().clone()),
        _ => None,
    }
}

/// A quoted array literal (`'{1,2}'`, `'{"a b",NULL}'`) as a list of `element`s.
fn as_array(literal: &Expr, element: &DataType) -> Result<Expr> {
    let Expr::Literal(ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)), _) =
        literal
    else {
        return Ok(literal.clone());
    };
    let malformed = || crate::pg::fault::Fault::MalformedArrayLiteral(text.clone());
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(malformed)?;
    let mut items = Vec::new();
    if !body.trim().is_empty() {
        for raw in body.split(',') {
            let raw = raw.trim();
            let item = if raw.eq_ignore_ascii_case("null") {
                ScalarValue::try_from(element)?
            } else {
                ScalarValue::Utf8(Some(raw.trim_matches('"').to_owned()))
                    .cast_to(element)
                    .map_err(|_| malformed())?
            };
            items.push(item);
        }
    }
    Ok(Expr::Literal(
        ScalarValue::List(ScalarValue::new_list_nullable(&items, element)),
        None,
    ))
}

fn coerce_comparison(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return Ok(Transformed::no(expr));
    };
    if !is_comparison(op) {
        return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
            left,
            op,
            right,
        })));
    }
    let (left, right, changed) = if is_boolean(&left, schema) && quoted(&right) {
        (left, Box::new(as_boolean(*right)), true)
    } else if quoted(&left) && is_boolean(&right, schema) {
        (Box::new(as_boolean(*left)), right, true)
    } else if let (Some(element), true) = (list_element(&left, schema), quoted(&right)) {
        (left, Box::new(as_array(&right, &element)?), true)
    } else if let (true, Some(element)) = (quoted(&left), list_element(&right, schema)) {
        (Box::new(as_array(&left, &element)?), right, true)
    } else {
        (left, right, false)
    };
    let expr = Expr::BinaryExpr(BinaryExpr { left, op, right });
    Ok(if changed {
        Transformed::yes(expr)
    } else {
        Transformed::no(expr)
    })
}

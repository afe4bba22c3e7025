//! PostgreSQL's operator syntax DataFusion parses but does not plan, through DataFusion's
//! `ExprPlanner` extension point:
//! - `a OPERATOR(pg_catalog.=) b` (psqlODBC, `\d` of old psql) is the built-in operator
//!   it names, for the comparison, arithmetic, concatenation and LIKE operators;
//! - `substring(x FROM 'pattern')` with a text pattern and no `FOR` is the first match of
//!   the POSIX regular expression (its first parenthesised group if it has one), as in
//!   PostgreSQL; DataFusion read the pattern as a start position.
//!
//! `a ^ b` needs nothing here: DataFusion plans PostgreSQL's exponentiation as `power`.

use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::functions::regex::expr_fn::regexp_match;
use datafusion::functions_nested::expr_fn::array_element;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{lit, Expr};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// See the module header.
#[derive(Debug, Default)]
pub struct PostgresOperators;

impl ExprPlanner for PostgresOperators {
    fn plan_binary_op(
        &self,
        mut expr: RawBinaryExpr,
        _schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        if let BinaryOperator::PGCustomBinaryOperator(parts) = &expr.op {
            let builtin = match parts.as_slice() {
                [schema, name] if schema.eq_ignore_ascii_case("pg_catalog") => {
                    builtin_operator(name)
                }
                [name] => builtin_operator(name),
                _ => None,
            };
            if let Some(builtin) = builtin {
                // Handed on, so the planners after this one see the plain operator.
                expr.op = builtin;
            }
        }
        Ok(PlannerResult::Original(expr))
    }

    fn plan_substring(&self, args: Vec<Expr>) -> Result<PlannerResult<Vec<Expr>>> {
        match args.as_slice() {
            [text, pattern @ Expr::Literal(ScalarValue::Utf8(Some(_)), _)] => {
                Ok(PlannerResult::Planned(array_element(
                    regexp_match(text.clone(), pattern.clone(), None),
                    lit(1i64),
                )))
            }
            _ => Ok(PlannerResult::Original(args)),
        }
    }
}

/// The built-in operator `OPERATOR(name)` names, if it is one DataFusion plans.
fn builtin_operator(name: &str) -> Option<BinaryOperator> {
    use BinaryOperator as B;
    Some(match name {
        "=" => B::Eq,
        "<>" | "!=" => B::NotEq,
        "<" => B::Lt,
        "<=" => B::LtEq,
        ">" => B::Gt,
        ">=" => B::GtEq,
        "+" => B::Plus,
        "-" => B::Minus,
        "*" => B::Multiply,
        "/" => B::Divide,
        "%" => B::Modulo,
        "||" => B::StringConcat,
        "~~" => B::PGLikeMatch,
        "!~~" => B::PGNotLikeMatch,
        "~" => B::PGRegexMatch,
        "~*" => B::PGRegexIMatch,
        "!~" => B::PGRegexNotMatch,
        "!~*" => B::PGRegexNotIMatch,
        _ => return None,
    })
}

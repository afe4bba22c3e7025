//! Volatile select-list items are computed after `ORDER BY ... LIMIT`, as PostgreSQL
//! postpones them: `SELECT datapunk_forget('email', email) FROM t ORDER BY x LIMIT 10`
//! forgets ten people, and `SELECT random() ... LIMIT 10` draws ten numbers. DataFusion
//! computes the select list below the sort, on every row the sort sees.
//!
//! [`VolatileAfterLimit`] rewrites a sort with a fetch over a projection holding volatile
//! expressions (when no sort key needs them) into: the projection's other expressions
//! and the columns the volatile ones read, sorted and cut, then the volatile ones.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{Expr, LogicalPlan, Projection, Sort};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

#[derive(Debug, Default)]
pub struct VolatileAfterLimit;

impl OptimizerRule for VolatileAfterLimit {
    fn name(&self) -> &str {
        "volatile_after_limit"
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        plan.transform_down(|node| match node {
            LogicalPlan::Sort(sort) if sort.fetch.is_some() => Ok(postponed(&sort)
                .map(Transformed::yes)
                .unwrap_or_else(|| Transformed::no(LogicalPlan::Sort(sort)))),
            other => Ok(Transformed::no(other)),
        })
    }
}

/// `sort` with the volatile expressions of the projection below it computed above it;
/// `None` when there are none, a sort key needs one, or the plan cannot be rebuilt.
fn postponed(sort: &Sort) -> Option<LogicalPlan> {
    let LogicalPlan::Projection(projection) = sort.input.as_ref() else {
        return None;
    };
    let outputs: Vec<Column> = projection.schema.columns();
    let volatile: Vec<bool> = projection.expr.iter().map(Expr::is_volatile).collect();
    if !volatile.contains(&true) {
        return None;
    }
    let needs_volatile = sort.expr.iter().any(|key| {
        key.expr
            .column_refs()
            .iter()
            .any(|c| outputs.iter().zip(&volatile).any(|(o, v)| *v && o == *c))
    });
    if needs_volatile {
        return None;
    }
    let mut inner: Vec<Expr> = projection
        .expr
        .iter()
        .zip(&volatile)
        .filter(|(_, v)| !**v)
        .map(|(e, _)| e.clone())
        .collect();
    for (expr, _) in projection.expr.iter().zip(&volatile).filter(|(_, v)| **v) {
        for column in expr.column_refs() {
            let column = Expr::Column(column.clone());
            if !inner.contains(&column) {
                inner.push(column);
            }
        }
    }
    let inner = Projection::try_new(inner, Arc::clone(&projection.input)).ok()?;
    let cut = LogicalPlan::Sort(Sort {
        expr: sort.expr.clone(),
        input: Arc::new(LogicalPlan::Projection(inner)),
        fetch: sort.fetch,
    });
    let outer: Vec<Expr> = projection
        .expr
        .iter()
        .zip(&volatile)
        .zip(outputs)
        .map(|((expr, v), output)| {
            if *v {
                expr.clone()
            } else {
                Expr::Column(output)
            }
        })
        .collect();
    Projection::try_new_with_schema(outer, Arc::new(cut), Arc::clone(&projection.schema))
        .ok()
        .map(LogicalPlan::Projection)
}

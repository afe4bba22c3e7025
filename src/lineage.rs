//! What a query's result depends on: the versions of the lake, warehouse and audience
//! tables its plan reads (through subqueries and the inputs of datapunk's table
//! functions; a view is one version of its own), and whether it calls anything that is
//! not immutable. The result cache keys results by it; the warehouse rebuilds a table
//! only when it changed.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::{Expr, LogicalPlan, Volatility, WindowFunctionDefinition};

use crate::engine::Engine;

/// One table version a plan reads.
#[derive(Debug, Clone)]
pub struct Read {
    pub schema: String,
    pub name: String,
    /// Names the version (see [`crate::engine::SwapSchema`]).
    pub tag: String,
    pub table: Arc<dyn TableProvider>,
}

/// What a plan's result depends on.
#[derive(Debug, Default)]
pub struct Lineage {
    /// Each table version read, once, in the order first read.
    pub reads: Vec<Read>,
    /// Whether it also reads something that is not a published version (a system table,
    /// a catalog, a table of the session): its result can change without any of `reads`
    /// changing.
    pub reads_other: bool,
    /// Whether it calls a function that is not immutable (`now()`, `random()`,
    /// `current_user`).
    pub volatile: bool,
}

impl Lineage {
    /// Whether the result is determined by the versions in `reads` alone.
    pub fn is_determined(&self) -> bool {
        !self.reads_other && !self.volatile
    }

    /// `schema.name` of each table read, in order.
    pub fn names(&self) -> Vec<String> {
        self.reads
            .iter()
            .map(|r| format!("{}.{}", r.schema, r.name))
            .collect()
    }
}

/// The lineage of `plan`, with the tables `engine` publishes.
pub fn of(engine: &Engine, plan: &LogicalPlan) -> Lineage {
    let mut lineage = Lineage::default();
    walk(engine, plan, &mut lineage);
    lineage
}

fn walk(engine: &Engine, plan: &LogicalPlan, lineage: &mut Lineage) {
    let walked = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            match source_as_provider(&scan.source) {
                Ok(table) => read(engine, table, lineage),
                Err(_) => lineage.reads_other = true,
            }
        }
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if !is_immutable(e) {
                    lineage.volatile = true;
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    if walked.is_err() {
        lineage.reads_other = true;
    }
}

fn read(engine: &Engine, table: Arc<dyn TableProvider>, lineage: &mut Lineage) {
    let any: &dyn std::any::Any = table.as_ref();
    if let Some(guarded) = any.downcast_ref::<crate::privacy::guarded_table::GuardedTable>() {
        // The version read, narrowed by what the guard hides: its tag joins the version's.
        let before = lineage.reads.len();
        read(engine, Arc::clone(guarded.inner()), lineage);
        for r in &mut lineage.reads[before..] {
            r.tag = format!("{} ({})", r.tag, guarded.tag());
        }
        return;
    }
    if let Some((schema, name, tag)) = engine.published_as(&table) {
        if !lineage.reads.iter().any(|r| Arc::ptr_eq(&r.table, &table)) {
            lineage.reads.push(Read {
                schema,
                name,
                tag,
                table,
            });
        }
    } else if let Some(inputs) = crate::udf::table_function_inputs(table.as_ref()) {
        for input in inputs {
            walk(engine, input, lineage);
        }
    } else {
        lineage.reads_other = true;
    }
}

/// Whether `expr` gives the same value every time for the same inputs.
fn is_immutable(expr: &Expr) -> bool {
    let volatility = match expr {
        Expr::ScalarFunction(f) => f.func.signature().volatility,
        Expr::AggregateFunction(f) => f.func.signature().volatility,
        Expr::WindowFunction(f) => match &f.fun {
            WindowFunctionDefinition::AggregateUDF(u) => u.signature().volatility,
            WindowFunctionDefinition::WindowUDF(u) => u.signature().volatility,
        },
        Expr::ScalarVariable(..) | Expr::Placeholder(_) => Volatility::Volatile,
        _ => Volatility::Immutable,
    };
    volatility == Volatility::Immutable
}

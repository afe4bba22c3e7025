//! `query(sql)`: the rows of a query given as text, as a table. It is planned with the
//! caller's session through the one door, exactly as the same query sent by a client
//! (and as datapunk's table functions plan a query argument), and read as it streams:
//! nothing is materialized. The query is planned on its own (not inlined into the
//! outer query, whose optimizer would drop its ORDER BY, which PostgreSQL keeps), so its
//! rows come in its order. For SQL built as text and for tools that can only write a
//! FROM item; DuckDB has the same function.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, PlanProperties};

use super::table_args::{session_state, Args};
use crate::pg::function_doc::{required, FunctionDoc, Kind};

pub const QUERY: FunctionDoc = FunctionDoc {
    name: "query",
    kind: Kind::Table,
    params: &[required("sql", "text")],
    result: "SETOF record",
    description: "The rows of a query given as text (SELECT, WITH or VALUES), planned with \
                  the caller's session exactly as the same query sent by a client: same \
                  columns, types and values. For SQL assembled as text, and for tools \
                  that can only write a FROM item.",
    example: "SELECT * FROM query('SELECT 6 * 7 AS answer, upper(''ok'') AS word')",
    example_output: r#" answer | word
--------+------
 42     | OK"#,
};

/// The table function.
#[derive(Debug, Default)]
pub struct QueryFunction;

impl TableFunctionImpl for QueryFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let state = session_state(&args, QUERY.name)?;
        let sql = Args::new(&QUERY, args.exprs())?.required_text(0)?;
        let plan = crate::engine::prepare::plan_query_now(state, &sql)?;
        Ok(Arc::new(QueryTable {
            schema: Arc::clone(plan.schema().inner()),
            plan,
        }))
    }
}

/// A planned query read as a table.
#[derive(Debug)]
pub struct QueryTable {
    plan: LogicalPlan,
    schema: SchemaRef,
}

impl QueryTable {
    /// The plan of the query.
    pub fn plan(&self) -> &LogicalPlan {
        &self.plan
    }
}

#[async_trait]
impl TableProvider for QueryTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan: Arc<dyn ExecutionPlan> =
            Arc::new(PlannedQuery(state.create_physical_plan(&self.plan).await?));
        let Some(columns) = projection else {
            return Ok(plan);
        };
        let exprs = columns
            .iter()
            .map(|&i| {
                let name = self.schema.field(i).name().clone();
                (
                    Arc::new(Column::new(&name, i))
                        as Arc<dyn datafusion::physical_expr::PhysicalExpr>,
                    name,
                )
            })
            .collect::<Vec<_>>();
        Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
    }
}

/// The query's own optimized plan, seen by the outer query's optimizer as a leaf: it
/// was optimized once, and optimizing it again is not safe (join inputs swapped after
/// their dynamic filters exist).
#[derive(Debug)]
struct PlannedQuery(Arc<dyn ExecutionPlan>);

impl DisplayAs for PlannedQuery {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "PlannedQuery: {}", self.0.name())
    }
}

impl ExecutionPlan for PlannedQuery {
    fn name(&self) -> &str {
        "PlannedQuery"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.0.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.0.execute(partition, context)
    }
}

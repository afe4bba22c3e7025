//! `KeyLookupExec`: the plan node that reads the candidate rows of a point lookup (shown
//! as such in EXPLAIN, so a lookup that scans is easy to tell from one that does not).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};

use super::rows::Built;

#[derive(Debug)]
pub struct KeyLookupExec {
    pub(super) built: Arc<Built>,
    pub(super) key_column: String,
    pub(super) keys: usize,
    pub(super) rows: Arc<Vec<u32>>,
    pub(super) projection: Option<Vec<usize>>,
    pub(super) schema: SchemaRef,
    pub(super) properties: Arc<PlanProperties>,
}

impl DisplayAs for KeyLookupExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "KeyLookupExec: key={}, keys={}, candidate_rows={}",
            self.key_column,
            self.keys,
            self.rows.len()
        )
    }
}

impl ExecutionPlan for KeyLookupExec {
    fn name(&self) -> &str {
        "KeyLookupExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
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
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "KeyLookupExec has no inputs".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "KeyLookupExec has one output partition, asked for {partition}"
            )));
        }
        let batch = self
            .built
            .read(&self.rows, &self.schema, self.projection.as_ref());
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            futures::stream::iter([batch]),
        )))
    }
}

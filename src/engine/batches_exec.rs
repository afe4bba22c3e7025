//! Operators that change how their one input's batches are held, not the rows: same
//! schema, partitioning and order as the input. [`BatchesExec`] is the plan plumbing
//! they share; each is a [`Batches`] that turns an input partition's stream into its own.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};

/// What a [`BatchesExec`] does to each partition's batches.
pub trait Batches: fmt::Debug + Default + Send + Sync + 'static {
    /// The operator's name in plans.
    const NAME: &'static str;

    /// Partition `partition`'s batches from the input's.
    ///
    /// # Errors
    /// The stream cannot be started.
    fn stream(
        &self,
        input: SendableRecordBatchStream,
        partition: usize,
        context: &Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream>;
}

/// Its input's rows as [`Batches`] `B` hands them on.
#[derive(Debug)]
pub struct BatchesExec<B: Batches> {
    input: Arc<dyn ExecutionPlan>,
    batches: B,
}

impl<B: Batches> BatchesExec<B> {
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            input,
            batches: B::default(),
        }
    }

    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

/// The one child of an operator that has one.
///
/// # Errors
/// There are none or more than one.
pub fn one_child(children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
    let [child] = <[_; 1]>::try_from(children)
        .map_err(|_| DataFusionError::Internal("one child expected".into()))?;
    Ok(child)
}

impl<B: Batches> DisplayAs for BatchesExec<B> {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", B::NAME)
    }
}

impl<B: Batches> ExecutionPlan for BatchesExec<B> {
    fn name(&self) -> &str {
        B::NAME
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::new(one_child(children)?)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        self.batches.stream(input, partition, &context)
    }
}

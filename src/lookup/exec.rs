//! `KeyLookupExec`: the plan node that answers a point lookup from the key index (shown
//! as such in EXPLAIN, so a lookup that scans is easy to tell from one that does not).
//! It reads the candidate rows, keeps those whose key is in every key filter (hash
//! collisions go here, so the filters need not run again above it) and projects.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};

use super::index::{keys_in, Key};
use super::rows::Built;

#[derive(Debug)]
pub struct KeyLookupExec {
    pub(super) built: Arc<Built>,
    pub(super) key_column: String,
    /// Index of the key column in the table.
    pub(super) key: usize,
    /// The keys of each key filter (ANDed): a row's key is in all of them.
    pub(super) key_sets: Vec<Vec<Key>>,
    pub(super) rows: Arc<Vec<u32>>,
    /// The table's schema and the columns asked for (None: all).
    pub(super) table_schema: SchemaRef,
    pub(super) projection: Option<Vec<usize>>,
    /// At most this many rows (a LIMIT pushed into the scan).
    pub(super) limit: Option<usize>,
    pub(super) schema: SchemaRef,
    pub(super) properties: Arc<PlanProperties>,
}

impl KeyLookupExec {
    fn answer(&self) -> Result<RecordBatch> {
        let mut read: Vec<usize> = match &self.projection {
            Some(p) => p.clone(),
            None => (0..self.table_schema.fields().len()).collect(),
        };
        let wanted = read.len();
        let key_at = match read.iter().position(|&c| c == self.key) {
            Some(i) => i,
            None => {
                read.push(self.key);
                read.len() - 1
            }
        };
        let read_schema = Arc::new(self.table_schema.project(&read)?);
        let batch = self.built.read(&self.rows, &read_schema, Some(&read))?;
        let keep: BooleanArray = keys_in(batch.column(key_at))?
            .into_iter()
            .map(|key| Some(key.is_some_and(|k| self.key_sets.iter().all(|set| set.contains(&k)))))
            .collect();
        let mut kept = filter_record_batch(&batch, &keep)?;
        if let Some(limit) = self.limit {
            kept = kept.slice(0, limit.min(kept.num_rows()));
        }
        let columns = (0..wanted).map(|i| Arc::clone(kept.column(i))).collect();
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &datafusion::arrow::record_batch::RecordBatchOptions::new()
                .with_row_count(Some(kept.num_rows())),
        )?)
    }
}

impl DisplayAs for KeyLookupExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "KeyLookupExec: key={}, keys={}, candidate_rows={}",
            self.key_column,
            self.key_sets.iter().map(Vec::len).min().unwrap_or(0),
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
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            futures::stream::iter([self.answer()]),
        )))
    }
}

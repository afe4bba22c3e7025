//! Sorts read batches of their own. An aggregate emits its result as zero-copy slices
//! of one large batch, and DataFusion's sort reserves memory for each batch it keeps by
//! the buffers the batch holds: every slice was charged the whole aggregate output
//! (2.3 GB for 8192 rows of a 40M-group aggregate), and a sort under a memory limit
//! failed with nothing held. [`CompactSlicesRule`] puts a [`CompactSlicesExec`] under
//! every sort that keeps its input; it copies a batch whose buffers are more than twice
//! what its rows use into buffers of its own, and passes any other batch on as it is.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::utils::memory::get_record_batch_memory_size;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    replace_children_if_necessary, ExecutionPlan, SendableRecordBatchStream,
};
use futures::StreamExt;

use super::batches_exec::{Batches, BatchesExec};

/// Below this, a batch is passed on whatever it holds (copying would cost more than
/// the memory it counts).
const SMALL_BATCH_BYTES: usize = 1 << 20;

/// Puts a [`CompactSlicesExec`] under every sort without a limit (a top-k sort keeps
/// only its k rows).
#[derive(Debug, Default)]
pub struct CompactSlicesRule;

impl PhysicalOptimizerRule for CompactSlicesRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(sort) = node.downcast_ref::<SortExec>() else {
                return Ok(Transformed::no(node));
            };
            if sort.fetch().is_some() || sort.input().downcast_ref::<CompactSlicesExec>().is_some()
            {
                return Ok(Transformed::no(node));
            }
            let input: Arc<dyn ExecutionPlan> =
                Arc::new(CompactSlicesExec::new(Arc::clone(sort.input())));
            Ok(Transformed::yes(replace_children_if_necessary(
                node,
                vec![input],
            )?))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "compact_slices"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Its input's batches, each in buffers of its own when it is a small part of larger ones.
#[derive(Debug, Default)]
pub struct CompactSlices;

/// The operator [`CompactSlicesRule`] puts under sorts.
pub type CompactSlicesExec = BatchesExec<CompactSlices>;

impl Batches for CompactSlices {
    const NAME: &'static str = "CompactSlicesExec";

    fn stream(
        &self,
        input: SendableRecordBatchStream,
        _partition: usize,
        _context: &Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = input.schema();
        let batches = input.map(|batch| batch.and_then(compacted));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}

/// `batch`, copied when its buffers hold more than twice what its rows use.
fn compacted(batch: RecordBatch) -> Result<RecordBatch> {
    let held = get_record_batch_memory_size(&batch);
    if held <= SMALL_BATCH_BYTES {
        return Ok(batch);
    }
    let mut used = 0;
    for column in batch.columns() {
        used += match column.data_type() {
            // Their strings stay in the shared buffers whatever is copied: counted whole.
            DataType::Utf8View | DataType::BinaryView => column.get_array_memory_size(),
            _ => column.to_data().get_slice_memory_size()?,
        };
    }
    if held <= used.saturating_mul(2) {
        return Ok(batch);
    }
    let rows = u32::try_from(batch.num_rows())
        .map_err(|_| DataFusionError::Internal("a batch of more than 2^32 rows".into()))?;
    Ok(take_record_batch(
        &batch,
        &UInt32Array::from_iter_values(0..rows),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{Field, Schema};

    fn batch(rows: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(0..rows))],
        )
        .expect("one column")
    }

    #[test]
    fn a_small_slice_of_a_large_batch_gets_buffers_of_its_own() {
        let large = batch(1 << 20);
        let slice = large.slice(1000, 8192);
        assert!(get_record_batch_memory_size(&slice) >= 8 << 20);
        let copied = compacted(slice.clone()).expect("copies");
        assert_eq!(copied, slice);
        assert!(get_record_batch_memory_size(&copied) < 2 * 8192 * 8);
    }

    #[tokio::test]
    async fn sorts_without_a_limit_read_through_it() {
        use datafusion::execution::SessionStateBuilder;
        use datafusion::physical_plan::{collect, displayable};
        use datafusion::prelude::SessionContext;
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(CompactSlicesRule))
            .build();
        let ctx = SessionContext::new_with_state(state);
        let sql = "SELECT v % 7 AS g, count(*) AS n FROM generate_series(1, 100000) AS t(v) \
                   GROUP BY v % 7 ORDER BY g";
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        let sort = text.find("SortExec").expect("a sort");
        assert!(text[sort..].contains("CompactSlicesExec"), "{text}");
        let rows: usize = collect(plan, ctx.task_ctx())
            .await
            .unwrap()
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        assert_eq!(rows, 7);
        let top = ctx.sql(&format!("{sql} LIMIT 2")).await.unwrap();
        let text = displayable(top.create_physical_plan().await.unwrap().as_ref())
            .indent(false)
            .to_string();
        assert!(
            !text.contains("CompactSlicesExec"),
            "a top-k keeps k rows: {text}"
        );
    }

    #[test]
    fn whole_and_small_batches_pass_as_they_are() {
        let large = batch(1 << 20);
        let half = large.slice(0, 1 << 19);
        for kept in [large, half, batch(1000).slice(0, 10)] {
            let out = compacted(kept.clone()).expect("passes");
            assert!(
                out.column(0).to_data().buffers()[0].as_ptr()
                    == kept.column(0).to_data().buffers()[0].as_ptr()
            );
        }
    }
}

//! Hash join build sides handed over as one batch. DataFusion's hash join keeps every
//! build batch it reads and, once its hash table is built, copies them all into one
//! batch: for a moment it holds its build side twice while counting it once (5.3 GB of
//! orders, twice, in the demo warehouse at 1e8 order lines). [`OneBatchBuildRule`] puts
//! a [`OneBatchExec`] on the build side of every hash join; it reads its input, counting
//! what it holds, and joins it into one batch a column at a time, freeing each column's
//! pieces as soon as they are copied, so the build side is held about once and the
//! join's own copy of a single batch is none.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::utils::memory::RecordBatchMemoryCounter;
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::TaskContext;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    replace_children_if_necessary, ExecutionPlan, SendableRecordBatchStream,
};
use futures::StreamExt;

use super::batches_exec::{Batches, BatchesExec};

/// Puts a [`OneBatchExec`] on the build side of every hash join.
#[derive(Debug, Default)]
pub struct OneBatchBuildRule;

impl PhysicalOptimizerRule for OneBatchBuildRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if join.left().downcast_ref::<OneBatchExec>().is_some() {
                return Ok(Transformed::no(node));
            }
            let children = vec![one_batch(Arc::clone(join.left())), Arc::clone(join.right())];
            Ok(Transformed::yes(replace_children_if_necessary(
                node, children,
            )?))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "one_batch_build"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `input`, each partition of it read whole and handed on as one batch.
pub fn one_batch(input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    Arc::new(OneBatchExec::new(input))
}

/// Each partition of its input as one batch (module header).
#[derive(Debug, Default)]
pub struct OneBatch;

/// The operator [`OneBatchBuildRule`] puts on build sides.
pub type OneBatchExec = BatchesExec<OneBatch>;

impl Batches for OneBatch {
    const NAME: &'static str = "OneBatchExec";

    fn stream(
        &self,
        input: SendableRecordBatchStream,
        partition: usize,
        context: &Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = input.schema();
        let reservation = MemoryConsumer::new(format!("OneBatchExec[{partition}]"))
            .register(context.memory_pool());
        let whole = futures::stream::once(read_whole(input, reservation))
            .filter_map(|batch| async move { batch.transpose() });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, whole)))
    }
}

/// Every batch of `input` as one (none when it has no rows), counted in `reservation`
/// while it is gathered; the reservation is released as the batch is handed on, for
/// the join that takes it counts it.
async fn read_whole(
    mut input: SendableRecordBatchStream,
    reservation: MemoryReservation,
) -> Result<Option<RecordBatch>> {
    let schema = input.schema();
    let width = schema.fields().len();
    // Per column, since each column's pieces are freed once it is copied.
    let mut counters: Vec<RecordBatchMemoryCounter> = (0..width)
        .map(|_| RecordBatchMemoryCounter::new())
        .collect();
    let mut held = vec![0usize; width];
    let mut batches = Vec::new();
    while let Some(batch) = input.next().await.transpose()? {
        if batch.num_rows() == 0 {
            continue;
        }
        for (column, counter) in counters.iter_mut().enumerate() {
            let size = counter.count_batch(&batch.project(&[column])?);
            reservation.try_grow(size)?;
            held[column] += size;
        }
        batches.push(batch);
    }
    if batches.len() <= 1 {
        return Ok(batches.pop());
    }
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let mut pieces: Vec<Vec<ArrayRef>> = (0..width)
        .map(|column| {
            batches
                .iter()
                .map(|b| Arc::clone(b.column(column)))
                .collect()
        })
        .collect();
    drop(batches);
    let mut columns = Vec::with_capacity(width);
    for (column, pieces) in pieces.iter_mut().enumerate() {
        let whole = concatenated(std::mem::take(pieces))?;
        reservation.try_grow(whole.get_array_memory_size())?;
        reservation.shrink(held[column].min(reservation.size()));
        columns.push(whole);
    }
    let batch = one_batch_of(&schema, columns, rows)?;
    reservation.free();
    Ok(Some(batch))
}

/// `pieces` as one array; the pieces are dropped once copied.
fn concatenated(pieces: Vec<ArrayRef>) -> Result<ArrayRef> {
    let refs: Vec<&dyn Array> = pieces.iter().map(AsRef::as_ref).collect();
    Ok(concat(&refs)?)
}

fn one_batch_of(schema: &SchemaRef, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn hash_joins_build_from_one_batch_and_join_the_same_rows() {
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(OneBatchBuildRule))
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.sql("SET datafusion.execution.batch_size = 1000")
            .await
            .unwrap();
        let sql = "SELECT count(*) AS n, sum(a.v + b.v) AS s \
                   FROM generate_series(1, 50000) AS a(v) \
                   JOIN (SELECT v % 20000 AS v FROM generate_series(1, 100000) AS t(v)) AS b \
                   ON a.v = b.v";
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        let join = text.find("HashJoinExec").expect("a hash join");
        assert!(text[join..].contains("OneBatchExec"), "{text}");
        let batches = collect(plan, ctx.task_ctx()).await.unwrap();
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap()
            .value(0);
        // b.v in 1..=19999, five times each: 99995 rows, each joining one a.v.
        assert_eq!(n, 99_995);
    }

    #[tokio::test]
    async fn many_batches_arrive_as_one_and_none_when_empty() {
        use datafusion::arrow::array::{Int64Array, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::datasource::memory::MemorySourceConfig;
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = |from: i64| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from_iter_values(from..from + 100)),
                    Arc::new(StringArray::from_iter(
                        (from..from + 100).map(|v| (v % 3 != 0).then(|| v.to_string())),
                    )),
                ],
            )
            .unwrap()
        };
        let parts = vec![batch(0), batch(100).slice(10, 50), batch(200)];
        let source =
            MemorySourceConfig::try_new_exec(&[parts.clone(), vec![]], Arc::clone(&schema), None)
                .unwrap();
        let ctx = SessionContext::new();
        let plan = one_batch(source);
        let first = plan.execute(0, ctx.task_ctx()).unwrap();
        let out: Vec<RecordBatch> = first.map(|b| b.unwrap()).collect().await;
        assert_eq!(out.len(), 1);
        let expected = datafusion::arrow::compute::concat_batches(&schema, &parts).unwrap();
        assert_eq!(out[0], expected);
        let second = plan.execute(1, ctx.task_ctx()).unwrap();
        assert_eq!(second.count().await, 0);
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0);
    }
}

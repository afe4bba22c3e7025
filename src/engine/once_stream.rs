//! Streams already started, offered to a plan as its input partitions, each read once.
//! Operators that look at the first batches of their input before choosing a plan hand
//! the batches they read, followed by the rest of the stream, to the plan they chose.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};

/// One partition: a stream taken by the first execution.
pub struct OnceStream {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl fmt::Debug for OnceStream {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("OnceStream")
    }
}

impl OnceStream {
    /// A plan whose partition `i` is `streams[i]`.
    ///
    /// # Errors
    /// A stream's schema differs from `schema`.
    pub fn exec(
        schema: SchemaRef,
        streams: Vec<SendableRecordBatchStream>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let partitions = streams
            .into_iter()
            .map(|stream| {
                Arc::new(Self {
                    schema: Arc::clone(&schema),
                    stream: Mutex::new(Some(stream)),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            partitions,
            None,
            Vec::new(),
            false,
            None,
        )?))
    }
}

impl PartitionStream for OnceStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().ok().and_then(|mut s| s.take());
        match taken {
            Some(stream) => stream,
            None => Box::pin(RecordBatchStreamAdapter::new(
                Arc::clone(&self.schema),
                futures::stream::once(async {
                    Err(DataFusionError::Internal("a stream read twice".into()))
                }),
            )),
        }
    }
}

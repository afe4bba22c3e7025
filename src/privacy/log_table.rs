//! `datapunk.erasure_log`: one row per erasure request, with its state (`pending` until a
//! purge has rewritten the lake files, then `purged`). Admins only: it names the erased
//! identifiers.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::Session;
use datafusion::error::Result;

use super::Privacy;
use crate::pg::catalog::computed_view::ComputedRows;

#[derive(Debug)]
pub struct ErasureLogTable(pub Weak<Privacy>);

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
}

fn micros(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_micros())
}

#[async_trait]
impl ComputedRows for ErasureLogTable {
    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("request", DataType::Int64, false),
            Field::new("requested_at", timestamp(), true),
            Field::new("requested_by", DataType::Utf8, false),
            Field::new("id_type", DataType::Utf8, false),
            Field::new("id", DataType::Utf8, false),
            Field::new("person_id", DataType::Int64, true),
            Field::new("identifiers", DataType::Int64, false),
            Field::new("state", DataType::Utf8, false),
            Field::new("purged_at", timestamp(), true),
        ]))
    }

    async fn rows(&self, _state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let Some(privacy) = self.0.upgrade() else {
            return Ok(Vec::new());
        };
        let erasures = privacy.erasures();
        let r = &erasures.requests;
        let purged = |req: u64| erasures.purged.get(&req);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(
                r.iter().map(|r| r.request as i64),
            )),
            Arc::new(
                TimestampMicrosecondArray::from(
                    r.iter().map(|r| micros(&r.at)).collect::<Vec<_>>(),
                )
                .with_timezone("+00:00"),
            ),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|r| r.by.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|r| r.id_type.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|r| r.id.as_str()),
            )),
            Arc::new(Int64Array::from(
                r.iter().map(|r| r.person_id).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from_iter_values(
                r.iter().map(|r| r.identifiers.len() as i64),
            )),
            Arc::new(StringArray::from_iter_values(r.iter().map(|r| {
                if purged(r.request).is_some() {
                    "purged"
                } else {
                    "pending"
                }
            }))),
            Arc::new(
                TimestampMicrosecondArray::from(
                    r.iter()
                        .map(|r| purged(r.request).and_then(|(at, _)| micros(at)))
                        .collect::<Vec<_>>(),
                )
                .with_timezone("+00:00"),
            ),
        ];
        Ok(vec![RecordBatch::try_new(self.schema(), columns)?])
    }
}

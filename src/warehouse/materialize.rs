//! How a script's result becomes a stored table version: its fingerprint (what it was
//! built from), the Parquet file its rows stream into, and the column types that file
//! cannot hold.

use std::path::Path;
use std::time::SystemTime;

use datafusion::common::tree_node::TreeNode;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;

use super::script::Script;

/// What a table is built from: the script's text and the version of every table its
/// plan reads; `None` when that does not decide its rows (it calls `now()`, reads a
/// system table).
pub fn fingerprint(s: &Script, lineage: &crate::lineage::Lineage) -> Option<String> {
    if !lineage.is_determined() {
        return None;
    }
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(s.query.to_string().as_bytes());
    digest.update(format!("\nkey {:?}\n", s.key).as_bytes());
    for read in &lineage.reads {
        digest.update(format!("{}.{} {}\n", read.schema, read.name, read.tag).as_bytes());
    }
    Some(
        digest
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Whether building `plan` again with sort-merge joins may succeed where it failed with
/// `e`: the memory limit refused a plan that joins (a hash join holds its build side in
/// memory; a sort-merge join's sorts spill).
pub fn retry_with_sort_merge_joins(e: &DataFusionError, plan: &LogicalPlan) -> bool {
    matches!(e.find_root(), DataFusionError::ResourcesExhausted(_))
        && plan
            .exists(|node| Ok(matches!(node, LogicalPlan::Join(_))))
            .unwrap_or(false)
}

/// Streams `df`'s rows into the Parquet file `path` (written under a temporary name,
/// synced, then renamed); returns the row count.
pub async fn write_parquet(df: DataFrame, path: &Path) -> datafusion::error::Result<u64> {
    let tmp = crate::durable::temp_path(path);
    let written = async {
        let mut stream = df.execute_stream().await?;
        let properties = crate::lookup::parquet_writer()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut writer = ArrowWriter::try_new(
            std::fs::File::create(&tmp)?,
            stream.schema(),
            Some(properties),
        )?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
        }
        writer.into_inner()?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(rows)
    }
    .await;
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Whether the Parquet writer can store every column of `schema` (it has no encoding
/// for PostgreSQL's `interval`, arrow's month-day-nanosecond interval).
pub fn parquet_stores(schema: &datafusion::arrow::datatypes::Schema) -> bool {
    use datafusion::arrow::datatypes::{DataType, IntervalUnit};
    fn stores(t: &DataType) -> bool {
        match t {
            DataType::Interval(IntervalUnit::MonthDayNano) => false,
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::ListView(f)
            | DataType::LargeListView(f)
            | DataType::FixedSizeList(f, _)
            | DataType::Map(f, _) => stores(f.data_type()),
            DataType::Struct(fields) => fields.iter().all(|f| stores(f.data_type())),
            DataType::Dictionary(_, v) => stores(v),
            _ => true,
        }
    }
    schema.fields().iter().all(|f| stores(f.data_type()))
}

/// `at` in whole microseconds since the epoch (as it is stored and shown).
pub fn micros_since_epoch(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

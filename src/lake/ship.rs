//! A [`LakeTable`] as bytes and back, for plans another process executes (a cluster's
//! scheduler): store, schemas, the snapshot's file list and the format's options.
//!
//! Only tables whose scan needs nothing beyond that can ship: files read through a
//! column mapping or with deleted rows left out carry per-file state that the plan
//! format has no room for, and would silently read differently elsewhere.

use std::sync::Arc;

use datafusion::arrow::datatypes::{FieldRef, Schema};
use datafusion::datasource::file_format::csv::{CsvFormat, CsvFormatFactory};
use datafusion::datasource::file_format::parquet::{ParquetFormat, ParquetFormatFactory};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::TaskContext;
use datafusion_proto::logical_plan::file_formats::{
    CsvLogicalExtensionCodec, ParquetLogicalExtensionCodec,
};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::protobuf;
use prost::Message;

use super::table::LakeTable;

/// The wire form of a lake table.
#[derive(Clone, PartialEq, prost::Message)]
struct LakeTableNode {
    #[prost(string, tag = "1")]
    store: String,
    #[prost(message, optional, tag = "2")]
    file_schema: Option<protobuf::Schema>,
    #[prost(message, optional, tag = "3")]
    partition_schema: Option<protobuf::Schema>,
    #[prost(message, repeated, tag = "4")]
    files: Vec<protobuf::PartitionedFile>,
    /// `TableParquetOptions` or `CsvOptions`, as DataFusion's format codecs write them.
    #[prost(bytes = "vec", tag = "5")]
    format_options: Vec<u8>,
    #[prost(bool, tag = "6")]
    csv: bool,
}

fn malformed(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("a shipped lake table cannot be read: {e}"))
}

impl LakeTable {
    /// Why this table cannot be read elsewhere from its wire form, if it cannot.
    pub fn unshippable(&self) -> Option<&'static str> {
        if self.column_mapping.is_some() {
            return Some("its files hold columns under other names (column mapping)");
        }
        if self.files.iter().any(|f| !f.extensions.is_empty()) {
            return Some("some of its files have deleted rows");
        }
        let format = self.format.as_ref();
        if format.downcast_ref::<ParquetFormat>().is_none()
            && format.downcast_ref::<CsvFormat>().is_none()
        {
            return Some("its file format is neither Parquet nor CSV");
        }
        None
    }

    /// The table as bytes [`LakeTable::from_shipped`] reads back.
    ///
    /// # Errors
    /// The table cannot ship ([`LakeTable::unshippable`]) or a value has no wire form.
    pub fn ship(&self, buf: &mut Vec<u8>) -> Result<()> {
        if let Some(why) = self.unshippable() {
            return Err(DataFusionError::NotImplemented(format!(
                "this lake table cannot run on the cluster: {why}"
            )));
        }
        let mut format_options = Vec::new();
        let format = self.format.as_ref();
        let csv = if let Some(parquet) = format.downcast_ref::<ParquetFormat>() {
            let factory = ParquetFormatFactory::new_with_options(parquet.options().clone());
            ParquetLogicalExtensionCodec
                .try_encode_file_format(&mut format_options, Arc::new(factory))?;
            false
        } else if let Some(csv) = format.downcast_ref::<CsvFormat>() {
            let factory = CsvFormatFactory::new_with_options(csv.options().clone());
            CsvLogicalExtensionCodec
                .try_encode_file_format(&mut format_options, Arc::new(factory))?;
            true
        } else {
            return Err(malformed("unknown file format"));
        };
        let node = LakeTableNode {
            store: self.store.as_str().to_owned(),
            file_schema: Some(self.file_schema.as_ref().try_into()?),
            partition_schema: Some((&Schema::new(self.partition_cols.clone())).try_into()?),
            files: self
                .files
                .iter()
                .map(protobuf::PartitionedFile::try_from)
                .collect::<Result<_>>()?,
            format_options,
            csv,
        };
        node.encode(buf).map_err(malformed)
    }

    /// The table [`LakeTable::ship`] wrote.
    ///
    /// # Errors
    /// The bytes are not a shipped lake table.
    pub fn from_shipped(buf: &[u8], ctx: &TaskContext) -> Result<Self> {
        let node = LakeTableNode::decode(buf).map_err(malformed)?;
        let schema = |s: Option<protobuf::Schema>| -> Result<Schema> {
            let s = s.ok_or_else(|| malformed("no schema"))?;
            Schema::try_from(&s).map_err(malformed)
        };
        let file_schema = Arc::new(schema(node.file_schema)?);
        let partition_cols: Vec<FieldRef> = schema(node.partition_schema)?
            .fields()
            .iter()
            .cloned()
            .collect();
        let files = node
            .files
            .iter()
            .map(PartitionedFile::try_from)
            .collect::<Result<Vec<_>>>()?;
        let format: Arc<dyn datafusion::datasource::file_format::FileFormat> = if node.csv {
            let factory =
                CsvLogicalExtensionCodec.try_decode_file_format(&node.format_options, ctx)?;
            let options = factory_options::<CsvFormatFactory>(&factory)?
                .options
                .clone()
                .unwrap_or_default();
            Arc::new(CsvFormat::default().with_options(options))
        } else {
            let factory =
                ParquetLogicalExtensionCodec.try_decode_file_format(&node.format_options, ctx)?;
            let options = factory_options::<ParquetFormatFactory>(&factory)?
                .options
                .clone()
                .unwrap_or_default();
            Arc::new(ParquetFormat::default().with_options(options))
        };
        let store = ObjectStoreUrl::parse(&node.store)?;
        Ok(Self::new(store, file_schema, partition_cols, files, format))
    }
}

fn factory_options<T: FileFormatFactory>(factory: &Arc<dyn FileFormatFactory>) -> Result<&T> {
    factory
        .downcast_ref::<T>()
        .ok_or_else(|| malformed("unexpected format factory"))
}

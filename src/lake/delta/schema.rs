//! A Delta table's columns as its `metaData` action has them: the schema (`schemaString`),
//! which columns partition it, and how data files hold each column. Without column
//! mapping a file holds a column under its name; with `delta.columnMapping.mode = name`
//! under its physical name (`col-<uuid>`, which a rename keeps), with `id` by its Parquet
//! field id. Partition values in `add` actions are keyed the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};

use crate::lake::column_mapping::Column;

const PHYSICAL_NAME: &str = "delta.columnMapping.physicalName";
const FIELD_ID: &str = "delta.columnMapping.id";

/// The columns of one version of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The columns data files hold, in schema order.
    pub columns: Vec<Column>,
    /// The partition columns with their types, in `partitionColumns` order, and the
    /// keys `add.partitionValues` names them by.
    pub partitions: Vec<(FieldRef, String)>,
}

impl TableSchema {
    /// Of a `metaData` action.
    ///
    /// # Errors
    /// The schema is missing or not the protocol's JSON, or the mapping mode unknown.
    pub fn of(metadata: &serde_json::Value) -> Result<Self, String> {
        let mode = metadata
            .pointer("/configuration/delta.columnMapping.mode")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("none");
        if !matches!(mode, "none" | "name" | "id") {
            return Err(format!("column mapping mode {mode:?} is not supported"));
        }
        let text = metadata
            .get("schemaString")
            .and_then(serde_json::Value::as_str)
            .ok_or("the table metadata has no schema")?;
        let schema: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("the table schema: {e}"))?;
        let partitioned_by: Vec<&str> = metadata
            .get("partitionColumns")
            .and_then(serde_json::Value::as_array)
            .map(|c| c.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        let mut columns = Vec::new();
        let mut partitions = BTreeMap::new();
        for field in schema
            .get("fields")
            .and_then(serde_json::Value::as_array)
            .ok_or("the table schema has no fields")?
        {
            let name = field
                .get("name")
                .and_then(serde_json::Value::as_str)
                .ok_or("a schema field without a name")?;
            let data_type = field.get("type").and_then(primitive_type);
            let physical = match mode {
                "none" => name.to_owned(),
                _ => field
                    .get("metadata")
                    .and_then(|m| m.get(PHYSICAL_NAME))
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| format!("column {name} has no physical name"))?
                    .to_owned(),
            };
            if partitioned_by.contains(&name) {
                let data_type = data_type
                    .ok_or_else(|| format!("partition column {name} is of a nested type"))?;
                partitions.insert(
                    name,
                    (Arc::new(Field::new(name, data_type, true)), physical),
                );
                continue;
            }
            if mode != "none" && data_type.is_none() {
                return Err(format!(
                    "column {name}: nested columns under column mapping are not supported yet"
                ));
            }
            let field_id = match mode {
                "id" => Some(
                    field
                        .get("metadata")
                        .and_then(|m| m.get(FIELD_ID))
                        .and_then(serde_json::Value::as_i64)
                        .and_then(|id| i32::try_from(id).ok())
                        .ok_or_else(|| format!("column {name} has no field id"))?,
                ),
                _ => None,
            };
            columns.push(Column {
                name: name.to_owned(),
                data_type,
                field_id,
                file_names: vec![physical],
            });
        }
        let partitions = partitioned_by
            .iter()
            .map(|name| {
                partitions
                    .remove(name)
                    .ok_or_else(|| format!("partition column {name} is not in the schema"))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            columns,
            partitions,
        })
    }

    /// An `add` action's `partitionValues`, in partition column order (`None`: null).
    ///
    /// # Errors
    /// A value is not a string.
    pub fn partition_values(
        &self,
        values: &serde_json::Value,
    ) -> Result<Vec<Option<String>>, String> {
        self.partitions
            .iter()
            // A key without a value is null (a checkpoint's map leaves null values out).
            .map(|(field, key)| match values.get(key) {
                Some(serde_json::Value::String(v)) => Ok(Some(v.clone())),
                Some(serde_json::Value::Null) | None => Ok(None),
                Some(other) => Err(format!(
                    "partition column {}: the value {other} is not a string",
                    field.name()
                )),
            })
            .collect()
    }
}

/// The Arrow type of a Delta primitive type (`long`, `decimal(10,2)`, ...); `None` for
/// nested types.
fn primitive_type(delta: &serde_json::Value) -> Option<DataType> {
    let name = delta.as_str()?;
    Some(match name {
        "string" => DataType::Utf8,
        "long" => DataType::Int64,
        "integer" => DataType::Int32,
        "short" => DataType::Int16,
        "byte" => DataType::Int8,
        "float" => DataType::Float32,
        "double" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "binary" => DataType::Binary,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => {
            let args = name.strip_prefix("decimal(")?.strip_suffix(')')?;
            let (p, s) = args.split_once(',')?;
            DataType::Decimal128(p.trim().parse().ok()?, s.trim().parse().ok()?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(mode: &str) -> serde_json::Value {
        metadata_with(mode, true)
    }

    fn metadata_with(mode: &str, nested: bool) -> serde_json::Value {
        let mut fields = serde_json::json!([
            {"name": "id", "type": "long", "nullable": true,
             "metadata": {"delta.columnMapping.id": 1, "delta.columnMapping.physicalName": "col-a"}},
            {"name": "country", "type": "string", "nullable": true,
             "metadata": {"delta.columnMapping.id": 2, "delta.columnMapping.physicalName": "col-b"}},
            {"name": "amount", "type": "decimal(10,2)", "nullable": true,
             "metadata": {"delta.columnMapping.id": 3, "delta.columnMapping.physicalName": "col-c"}},
            {"name": "tags", "type": {"type": "array", "elementType": "string", "containsNull": true},
             "nullable": true,
             "metadata": {"delta.columnMapping.id": 4, "delta.columnMapping.physicalName": "col-d"}}
        ]);
        if !nested {
            fields.as_array_mut().unwrap().pop();
        }
        serde_json::json!({
            "schemaString": serde_json::json!({"type": "struct", "fields": fields}).to_string(),
            "partitionColumns": ["country"],
            "configuration": {"delta.columnMapping.mode": mode}
        })
    }

    #[test]
    fn files_hold_columns_by_name_physical_name_or_id() {
        let plain = TableSchema::of(&metadata("none")).unwrap();
        let names = |s: &TableSchema| -> Vec<(String, Vec<String>, Option<i32>)> {
            s.columns
                .iter()
                .map(|c| (c.name.clone(), c.file_names.clone(), c.field_id))
                .collect()
        };
        assert_eq!(
            names(&plain),
            [
                ("id".into(), vec!["id".into()], None),
                ("amount".into(), vec!["amount".into()], None),
                ("tags".into(), vec!["tags".into()], None),
            ]
        );
        assert_eq!(
            plain.columns[1].data_type,
            Some(DataType::Decimal128(10, 2))
        );
        assert_eq!(plain.columns[2].data_type, None);
        assert_eq!(plain.partitions[0].1, "country");
        // Nested columns' children have physical names too: not followed yet.
        let nested = TableSchema::of(&metadata("name")).unwrap_err();
        assert!(nested.contains("tags"), "{nested}");
        let by_name = TableSchema::of(&metadata_with("name", false)).unwrap();
        assert_eq!(by_name.columns[0].file_names, ["col-a"]);
        assert_eq!(by_name.columns[0].field_id, None);
        assert_eq!(by_name.partitions[0].1, "col-b");
        let by_id = TableSchema::of(&metadata_with("id", false)).unwrap();
        assert_eq!(by_id.columns[0].field_id, Some(1));
        let values = serde_json::json!({"col-b": "PL"});
        assert_eq!(
            by_name.partition_values(&values).unwrap(),
            [Some("PL".into())]
        );
        let null = serde_json::json!({"col-b": null});
        assert_eq!(by_name.partition_values(&null).unwrap(), [None]);
        assert_eq!(plain.partition_values(&values).unwrap(), [None]);
        let number = serde_json::json!({"col-b": 7});
        assert!(by_name.partition_values(&number).is_err());
        assert!(TableSchema::of(&metadata("other")).is_err());
    }
}

//! Columns of a table format's schema and how its data files hold them. Iceberg names a
//! column by a field id that outlives renames; Delta with column mapping stores it under
//! a physical name (`col-<uuid>`) or field id while the log says what it is called. A
//! data file written before a rename holds the column under its old name, and a column
//! dropped and added again under the same name is another column: reading by name would
//! serve the wrong values. [`table_schema`] builds the served schema from the format's
//! columns and the files' inferred one, and [`ColumnMapping`] reads each file's columns
//! by id or physical name when the Parquet reader opens it.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column as ColumnExpr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapter, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};
use parquet::arrow::PARQUET_FIELD_ID_META_KEY;

/// A column of a table format's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// What it is called now.
    pub name: String,
    /// Its type, for a column no data file holds yet (added since they were written);
    /// `None` for nested types.
    pub data_type: Option<DataType>,
    /// The id data files tag it with, when they are read by id.
    pub field_id: Option<i32>,
    /// The names data files may hold it under, the likeliest first: the physical name,
    /// or the names it had in earlier schemas.
    pub file_names: Vec<String>,
}

impl Column {
    /// A column files hold under its own name.
    pub fn named(name: &str, data_type: Option<DataType>) -> Self {
        Self {
            name: name.to_owned(),
            data_type,
            field_id: None,
            file_names: vec![name.to_owned()],
        }
    }
}

/// The served schema of a table whose format lists `columns`, given `inferred` (the
/// data files' schemas merged by name): each column, in order, with the type the files
/// hold it in, else its own. Columns dropped since some files were written are not
/// served; those added since are NULL in them. With the mapping the scan needs when a
/// file may hold a column under another name than it is served as.
///
/// # Errors
/// A column of a nested type is in none of the data files.
pub fn table_schema(
    inferred: &SchemaRef,
    columns: &[Column],
) -> Result<(SchemaRef, Option<Arc<ColumnMapping>>), String> {
    let fields = columns
        .iter()
        .map(|c| {
            let in_files = c
                .file_names
                .iter()
                .find_map(|n| inferred.field_with_name(n).ok());
            match (in_files, &c.data_type) {
                // Nullable: a file written before the column was added has none.
                (Some(f), _) => Ok(Arc::new(f.clone().with_name(&c.name).with_nullable(true))),
                (None, Some(ty)) => Ok(Arc::new(Field::new(&c.name, ty.clone(), true))),
                (None, None) => Err(format!(
                    "column {} of the current schema is in none of the data files",
                    c.name
                )),
            }
        })
        .collect::<Result<Vec<FieldRef>, String>>()?;
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        inferred.metadata().clone(),
    ));
    let mapped = columns
        .iter()
        .any(|c| c.field_id.is_some() || c.file_names != [c.name.clone()]);
    let mapping = mapped.then(|| {
        Arc::new(ColumnMapping {
            columns: columns
                .iter()
                .map(|c| (c.name.clone(), c.clone()))
                .collect(),
        })
    });
    Ok((schema, mapping))
}

/// Reads each data file's columns by field id (when the file has ids) or by the names
/// the format says files hold them under, for the Parquet reader: the scan's
/// projection and predicate are rewritten per file to the file's own columns.
#[derive(Debug)]
pub struct ColumnMapping {
    columns: HashMap<String, Column>,
}

impl ColumnMapping {
    /// The column of `physical` that holds `field` (served under its own name), if any.
    fn source<'p>(&self, field: &Field, physical: &'p Schema) -> Option<&'p FieldRef> {
        let Some(column) = self.columns.get(field.name()) else {
            return physical.fields().iter().find(|p| p.name() == field.name());
        };
        let ids_in_file = physical
            .fields()
            .iter()
            .any(|p| p.metadata().contains_key(PARQUET_FIELD_ID_META_KEY));
        if let (Some(id), true) = (column.field_id, ids_in_file) {
            let id = id.to_string();
            return physical
                .fields()
                .iter()
                .find(|p| p.metadata().get(PARQUET_FIELD_ID_META_KEY) == Some(&id));
        }
        column
            .file_names
            .iter()
            .find_map(|n| physical.fields().iter().find(|p| p.name() == n))
    }
}

impl PhysicalExprAdapterFactory for ColumnMapping {
    fn create(
        &self,
        logical_file_schema: SchemaRef,
        physical_file_schema: SchemaRef,
    ) -> Result<Arc<dyn PhysicalExprAdapter>> {
        // The logical schema with each column named as this file holds it (a name no
        // file column has when it holds none): DataFusion's adapter then casts what
        // it finds and fills the rest with NULL.
        let mut renamed = HashMap::new();
        let fields: Vec<FieldRef> = logical_file_schema
            .fields()
            .iter()
            .map(|field| {
                let in_file = match self.source(field, &physical_file_schema) {
                    Some(source) => source.name().clone(),
                    None => format!("\u{0}not in this file: {}", field.name()),
                };
                if in_file == *field.name() {
                    return Arc::clone(field);
                }
                renamed.insert(field.name().clone(), in_file.clone());
                Arc::new(field.as_ref().clone().with_name(in_file))
            })
            .collect();
        let logical = Arc::new(Schema::new_with_metadata(
            fields,
            logical_file_schema.metadata().clone(),
        ));
        Ok(Arc::new(Renamed {
            renamed,
            inner: DefaultPhysicalExprAdapter::new(logical, physical_file_schema),
        }))
    }
}

/// Column references renamed to what one file calls them, then adapted to the file.
#[derive(Debug)]
struct Renamed {
    renamed: HashMap<String, String>,
    inner: DefaultPhysicalExprAdapter,
}

impl PhysicalExprAdapter for Renamed {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
        let expr = if self.renamed.is_empty() {
            expr
        } else {
            expr.transform(|e| {
                let Some(column) = e.downcast_ref::<ColumnExpr>() else {
                    return Ok(Transformed::no(e));
                };
                Ok(match self.renamed.get(column.name()) {
                    Some(name) => {
                        Transformed::yes(Arc::new(ColumnExpr::new(name, column.index()))
                            as Arc<dyn PhysicalExpr>)
                    }
                    None => Transformed::no(e),
                })
            })
            .data()?
        };
        self.inner.rewrite(expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::physical_expr::expressions::Literal;

    fn with_id(name: &str, ty: DataType, id: i32) -> Field {
        Field::new(name, ty, true).with_metadata(HashMap::from([(
            PARQUET_FIELD_ID_META_KEY.to_owned(),
            id.to_string(),
        )]))
    }

    fn by_id(name: &str, id: i32, earlier: &[&str]) -> Column {
        Column {
            name: name.into(),
            data_type: Some(DataType::Int64),
            field_id: Some(id),
            file_names: std::iter::once(name)
                .chain(earlier.iter().copied())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// `column`'s values when the file `physical` (one row) is read through the mapping.
    fn read(columns: &[Column], physical: Schema, column: &str) -> String {
        let inferred = Arc::new(physical.clone());
        let (schema, mapping) = table_schema(&inferred, columns).unwrap();
        let logical = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_data_type(DataType::Int64))
                .collect::<Vec<_>>(),
        ));
        let physical = Arc::new(physical);
        let adapter = mapping
            .unwrap()
            .create(Arc::clone(&logical), Arc::clone(&physical))
            .unwrap();
        let index = logical.index_of(column).unwrap();
        let expr = adapter
            .rewrite(Arc::new(ColumnExpr::new(column, index)))
            .unwrap();
        if let Some(literal) = expr.downcast_ref::<Literal>() {
            return literal.value().to_string();
        }
        let arrays = physical
            .fields()
            .iter()
            .enumerate()
            .map(|(i, _)| Arc::new(Int64Array::from(vec![i as i64 * 10])) as _)
            .collect();
        let batch = RecordBatch::try_new(physical, arrays).unwrap();
        let value = expr.evaluate(&batch).unwrap().into_array(1).unwrap();
        datafusion::arrow::util::display::array_value_to_string(&value, 0).unwrap()
    }

    #[test]
    fn files_are_read_by_field_id_whatever_the_column_was_called() {
        // `note` was `extra` when the file was written; `a` was dropped and added again.
        let columns = [by_id("note", 4, &["extra"]), by_id("a", 5, &[])];
        let file = Schema::new(vec![
            with_id("a", DataType::Int64, 1),
            with_id("extra", DataType::Int64, 4),
        ]);
        assert_eq!(read(&columns, file.clone(), "note"), "10");
        assert_eq!(read(&columns, file, "a"), "NULL");
        // A file written after both changes.
        let file = Schema::new(vec![
            with_id("note", DataType::Int64, 4),
            with_id("a", DataType::Int64, 5),
        ]);
        assert_eq!(read(&columns, file.clone(), "note"), "0");
        assert_eq!(read(&columns, file, "a"), "10");
    }

    #[test]
    fn files_without_ids_are_read_by_their_names() {
        let columns = [by_id("note", 4, &["extra"])];
        let file = Schema::new(vec![
            Field::new("other", DataType::Int64, true),
            Field::new("extra", DataType::Int64, true),
        ]);
        assert_eq!(read(&columns, file, "note"), "10");
        // Delta's name mode: the physical name only.
        let physical = Column {
            field_id: None,
            file_names: vec!["col-1".into()],
            ..Column::named("id", Some(DataType::Int64))
        };
        let file = Schema::new(vec![Field::new("col-1", DataType::Int64, true)]);
        assert_eq!(read(&[physical], file, "id"), "0");
    }

    #[test]
    fn the_served_schema_takes_the_files_types_under_the_current_names() {
        let inferred = Arc::new(Schema::new(vec![
            Field::new("extra", DataType::Utf8View, true),
            Field::new("gone", DataType::Int64, true),
        ]));
        let columns = [
            Column {
                data_type: Some(DataType::Utf8),
                ..by_id("note", 4, &["extra"])
            },
            Column::named("added", Some(DataType::Float64)),
        ];
        let (schema, mapping) = table_schema(&inferred, &columns).unwrap();
        assert_eq!(
            schema
                .fields()
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect::<Vec<_>>(),
            ["note Utf8View", "added Float64"]
        );
        assert!(mapping.is_some());
        let plain = [Column::named("gone", None)];
        assert!(table_schema(&inferred, &plain).unwrap().1.is_none());
        let nested = [Column::named("missing", None)];
        assert!(table_schema(&inferred, &nested).is_err());
    }
}

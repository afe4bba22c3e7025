//! Schema `information_schema`: DataFusion's views (tables, columns, views, schemata,
//! routines, ...) plus the constraint views PostgreSQL has and BI tools read (Power BI,
//! DBeaver, Metabase): `table_constraints`, `key_column_usage`,
//! `referential_constraints`, `constraint_column_usage`. Lake and warehouse tables have
//! no keys, so those are empty, with PostgreSQL's columns. `character_sets` has the one
//! encoding datapunk speaks; `columns` is PostgreSQL's ([`crate::pg::catalog::columns_view`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::information_schema::InformationSchemaProvider;
use datafusion::catalog::{
    CatalogProviderList, MemTable, SchemaProvider, TableFunction, TableProvider,
};
use datafusion::error::Result;

/// The constraint views: (name, text columns, integer columns).
const CONSTRAINT_VIEWS: &[(&str, &[&str], &[&str])] = &[
    (
        "table_constraints",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "constraint_type",
            "is_deferrable",
            "initially_deferred",
            "enforced",
            "nulls_distinct",
        ],
        &[],
    ),
    (
        "key_column_usage",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
        ],
        &["ordinal_position", "position_in_unique_constraint"],
    ),
    (
        "referential_constraints",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "unique_constraint_catalog",
            "unique_constraint_schema",
            "unique_constraint_name",
            "match_option",
            "update_rule",
            "delete_rule",
        ],
        &[],
    ),
    (
        "constraint_column_usage",
        &[
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
        ],
        &[],
    ),
];

/// `character_sets`: the one encoding datapunk speaks (Power BI asks).
fn character_sets() -> Result<Arc<dyn TableProvider>> {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::record_batch::RecordBatch;
    let row = [
        ("character_set_catalog", None),
        ("character_set_schema", None),
        ("character_set_name", Some("UTF8")),
        ("character_repertoire", Some("UCS")),
        ("form_of_use", Some("UTF8")),
        ("default_collate_catalog", None),
        ("default_collate_schema", None),
        ("default_collate_name", Some("C")),
    ];
    let schema = Arc::new(Schema::new(
        row.iter()
            .map(|(name, _)| Field::new(*name, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let columns = row
        .iter()
        .map(|(_, value)| Arc::new(StringArray::from(vec![*value])) as _)
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

/// `routines` with the result type and description of datapunk's functions where
/// DataFusion leaves them empty (functions that coerce their own arguments, table
/// functions), from [`crate::pg::function_doc`].
#[derive(Debug)]
struct DocumentedRoutines {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl crate::pg::catalog::computed_view::ComputedRows for DocumentedRoutines {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.inner.schema()
    }

    async fn rows(
        &self,
        state: &dyn datafusion::catalog::Session,
    ) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>> {
        use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
        let plan = self.inner.scan(state, None, &[], None).await?;
        let batches = datafusion::physical_plan::collect(plan, state.task_ctx()).await?;
        let schema = self.inner.schema();
        let fill = |batch: &datafusion::arrow::record_batch::RecordBatch,
                    column: &str,
                    answer: fn(&crate::pg::function_doc::FunctionDoc) -> &'static str|
         -> Result<Option<ArrayRef>> {
            let (Ok(names), Ok(index)) = (schema.index_of("routine_name"), schema.index_of(column))
            else {
                return Ok(None);
            };
            let Some(names) = batch.column(names).as_string_opt::<i32>() else {
                return Ok(None);
            };
            let Some(current) = batch.column(index).as_string_opt::<i32>() else {
                return Ok(None);
            };
            let filled: StringArray = (0..batch.num_rows())
                .map(|i| {
                    if current.is_valid(i) && !current.value(i).is_empty() {
                        return Some(current.value(i).to_owned());
                    }
                    let doc = names
                        .is_valid(i)
                        .then(|| crate::pg::function_doc::by_name(names.value(i)));
                    doc.flatten().map(|d| answer(d).to_owned())
                })
                .collect();
            Ok(Some(Arc::new(filled) as ArrayRef))
        };
        batches
            .iter()
            .map(|batch| {
                let mut columns = batch.columns().to_vec();
                let description: fn(&crate::pg::function_doc::FunctionDoc) -> &'static str =
                    |d| d.description;
                let result: fn(&crate::pg::function_doc::FunctionDoc) -> &'static str =
                    |d| d.result;
                for (column, answer) in [("description", description), ("data_type", result)] {
                    if let (Some(array), Ok(i)) =
                        (fill(batch, column, answer)?, schema.index_of(column))
                    {
                        columns[i] = array;
                    }
                }
                Ok(datafusion::arrow::record_batch::RecordBatch::try_new(
                    Arc::clone(&schema),
                    columns,
                )?)
            })
            .collect()
    }
}

/// DataFusion's information_schema with PostgreSQL's constraint views added.
#[derive(Debug)]
pub struct InformationSchema {
    inner: InformationSchemaProvider,
    extra: HashMap<String, Arc<dyn TableProvider>>,
}

impl InformationSchema {
    /// # Errors
    /// Building an empty table fails (it does not).
    pub fn new(
        catalogs: Arc<dyn CatalogProviderList>,
        table_functions: HashMap<String, Arc<TableFunction>>,
    ) -> Result<Self> {
        let mut extra: HashMap<String, Arc<dyn TableProvider>> = HashMap::new();
        for (name, text, ints) in CONSTRAINT_VIEWS {
            let fields: Vec<Field> = text
                .iter()
                .map(|c| Field::new(*c, DataType::Utf8, true))
                .chain(ints.iter().map(|c| Field::new(*c, DataType::Int32, true)))
                .collect();
            let table = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
            extra.insert((*name).to_owned(), Arc::new(table));
        }
        extra.insert("character_sets".to_owned(), character_sets()?);
        extra.insert(
            "columns".to_owned(),
            Arc::new(crate::pg::catalog::computed_view::ComputedView(
                crate::pg::catalog::columns_view::ColumnsView::new(Arc::clone(&catalogs)),
            )),
        );
        Ok(Self {
            inner: InformationSchemaProvider::new(catalogs).with_table_functions(table_functions),
            extra,
        })
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        names.extend(self.extra.keys().cloned());
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.extra.get(name) {
            return Ok(Some(super::visible::hide_in_information_schema(
                name,
                Arc::clone(t),
            )));
        }
        let table = self
            .inner
            .table(name)
            .await?
            .map(|t| super::visible::hide_in_information_schema(name, t));
        if name == "routines" {
            if let Some(inner) = table {
                return Ok(Some(Arc::new(
                    crate::pg::catalog::computed_view::ComputedView(DocumentedRoutines { inner }),
                )));
            }
        }
        Ok(table)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.extra.contains_key(name) || self.inner.table_exist(name)
    }
}

//! A table as a viewer may read it: the rows of erased persons filtered out (on the raw
//! identifier values, below everything the query does) and masked columns replaced
//! before any filter, join or aggregate of the query sees them. It is a leaf of the plan,
//! so no rewrite of the query can reach around it.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Column;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, Operator, ScalarUDF, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::{self, Literal};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::scalar::ScalarValue;

use super::erased_positions::ErasedPositions;
use super::not_erased::{ErasedValues, NotErased};

/// Rows whose `column` holds one of `ids` are never returned.
#[derive(Debug, Clone)]
pub struct ErasedRows {
    pub column: String,
    pub ids: Arc<Vec<String>>,
}

/// What a guarded table hides.
#[derive(Debug)]
pub struct GuardedTable {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    erased: Vec<ErasedRows>,
    /// Column names returned through `mask`.
    masked: Vec<String>,
    mask: Arc<ScalarUDF>,
    /// Names what this guard hides (results read through it are only shared with
    /// sessions whose guard has the same tag).
    tag: String,
    /// Where erased rows are skipped by position, and how many erasure requests
    /// `erased` holds.
    positions: Option<(Arc<ErasedPositions>, usize)>,
}

impl GuardedTable {
    pub fn new(
        inner: Arc<dyn TableProvider>,
        erased: Vec<ErasedRows>,
        masked: Vec<String>,
        mask: Arc<ScalarUDF>,
        tag: String,
    ) -> Self {
        let source = inner.schema();
        let fields: Vec<Field> = source
            .fields()
            .iter()
            .map(|f| {
                let f = f.as_ref().clone();
                if masked.iter().any(|m| m == f.name()) {
                    f.with_nullable(true)
                } else {
                    f
                }
            })
            .collect();
        let schema = Arc::new(Schema::new_with_metadata(fields, source.metadata().clone()));
        Self {
            inner,
            schema,
            erased,
            masked,
            mask,
            tag,
            positions: None,
        }
    }

    /// Skips erased rows by their position in the files where it can (`erasures`
    /// counts the erasure requests applied), rather than filtering them.
    #[must_use]
    pub fn with_positions(mut self, positions: Arc<ErasedPositions>, erasures: usize) -> Self {
        self.positions = Some((positions, erasures));
        self
    }

    /// The table read through this guard.
    pub fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    fn touches_masked(&self, filter: &Expr) -> bool {
        filter
            .column_refs()
            .iter()
            .any(|c: &&Column| self.masked.contains(&c.name))
    }
}

/// Whether a row of `schema` is kept: `column IS NULL OR column NOT IN (ids)` for each
/// of `erased`, the ids typed as the column ([`NotErased`] where the type allows);
/// `None` when nothing of `schema` is erased.
///
/// # Errors
/// The expression cannot be built.
pub fn keep_rows(erased: &[ErasedRows], schema: &Schema) -> Result<Option<Arc<dyn PhysicalExpr>>> {
    let mut predicate: Option<Arc<dyn PhysicalExpr>> = None;
    for rule in erased {
        let Ok(index) = schema.index_of(&rule.column) else {
            continue;
        };
        if rule.ids.is_empty() {
            continue;
        }
        let column = expressions::col(&rule.column, schema)?;
        let data_type = match schema.field(index).data_type() {
            DataType::Dictionary(_, value) => value.as_ref(),
            other => other,
        };
        let keep = match ErasedValues::for_type(data_type, &rule.ids) {
            Some(values) => Arc::new(NotErased::new(column, Arc::new(values))),
            None => match scalar_comparison(&rule.ids, column, schema)? {
                Some(keep) => keep,
                None => continue,
            },
        };
        predicate = Some(match predicate {
            None => keep,
            Some(p) => expressions::binary(p, Operator::And, keep, schema)?,
        });
    }
    Ok(predicate)
}

/// `column IS NULL OR column NOT IN (ids)`, the ids cast to the column's type (those
/// that do not cast are left out); `None` when none casts.
fn scalar_comparison(
    ids: &[String],
    column: Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Option<Arc<dyn PhysicalExpr>>> {
    let data_type = column.data_type(schema)?;
    let list: Vec<Arc<dyn PhysicalExpr>> = ids
        .iter()
        .filter_map(|id| ScalarValue::try_from_string(id.clone(), &data_type).ok())
        .filter(|v| !v.is_null())
        .map(|v| Arc::new(Literal::new(v)) as Arc<dyn PhysicalExpr>)
        .collect();
    if list.is_empty() {
        return Ok(None);
    }
    Ok(Some(expressions::binary(
        expressions::is_null(Arc::clone(&column))?,
        Operator::Or,
        expressions::in_list(column, list, &true, schema)?,
        schema,
    )?))
}

#[async_trait]
impl TableProvider for GuardedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let passed: Vec<&Expr> = filters
            .iter()
            .copied()
            .filter(|f| !self.touches_masked(f))
            .collect();
        let mut inner = self.inner.supports_filters_pushdown(&passed)?.into_iter();
        Ok(filters
            .iter()
            .map(|f| {
                if self.touches_masked(f) {
                    TableProviderFilterPushDown::Unsupported
                } else {
                    inner
                        .next()
                        .unwrap_or(TableProviderFilterPushDown::Unsupported)
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let source = self.inner.schema();
        let output: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..source.fields().len()).collect(),
        };
        let passed: Vec<Expr> = filters
            .iter()
            .filter(|f| !self.touches_masked(f))
            .cloned()
            .collect();
        let positions = self.positions.as_ref().filter(|_| !self.erased.is_empty());
        if let Some((positions, erasures)) = positions {
            let plan = self
                .inner
                .scan(state, Some(&output), &passed, limit)
                .await?;
            if let Some(plan) = positions
                .skip_erased(&plan, &self.erased, *erasures)
                .await?
            {
                return self.masked(plan, &output, state);
            }
        }
        let mut read = output.clone();
        for rule in &self.erased {
            if let Ok(i) = source.index_of(&rule.column) {
                read.push(i);
            }
        }
        read.sort_unstable();
        read.dedup();
        let probe = self.inner.schema().project(&read)?;
        let filters_rows = keep_rows(&self.erased, &probe)?.is_some();
        let plan = self
            .inner
            .scan(
                state,
                Some(&read),
                &passed,
                if filters_rows { None } else { limit },
            )
            .await?;
        let plan: Arc<dyn ExecutionPlan> = match keep_rows(&self.erased, &plan.schema())? {
            Some(keep) => Arc::new(FilterExec::try_new(keep, plan)?),
            None => plan,
        };
        self.masked(plan, &output, state)
    }
}

impl GuardedTable {
    /// The columns `output` of the table, of `plan`'s rows, masked where they must be.
    fn masked(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        output: &[usize],
        state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let source = self.inner.schema();
        let plan_schema = plan.schema();
        let options = Arc::new(state.config_options().clone());
        let exprs = output
            .iter()
            .map(|&i| {
                let name = source.field(i).name().clone();
                let column = expressions::col(&name, &plan_schema)?;
                let expr: Arc<dyn PhysicalExpr> = if self.masked.contains(&name) {
                    Arc::new(ScalarFunctionExpr::try_new(
                        Arc::clone(&self.mask),
                        vec![column],
                        &plan_schema,
                        Arc::clone(&options),
                    )?)
                } else {
                    column
                };
                Ok((expr, name))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
    }
}

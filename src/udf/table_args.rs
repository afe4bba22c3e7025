//! The arguments of datapunk's table functions, read one way for all of them: constants
//! (literals and casts of literals) checked against the function's [`FunctionDoc`], and
//! the "table name or query" inputs planned with the caller's session, with their columns
//! chosen by name and cast to the type the function computes on.

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::Column;
use datafusion::common::{plan_err, DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{cast, Expr, LogicalPlan, LogicalPlanBuilder};
use futures::FutureExt;

use super::doc::FunctionDoc;
use crate::error::invalid_argument;

/// The constant arguments of one call of a documented table function.
#[derive(Debug)]
pub struct Args<'a> {
    doc: &'static FunctionDoc,
    exprs: &'a [Expr],
}

impl<'a> Args<'a> {
    /// Checks the number of arguments against the documented parameters.
    ///
    /// # Errors
    /// Too few or too many arguments (22023, naming the parameters).
    pub fn new(doc: &'static FunctionDoc, exprs: &'a [Expr]) -> Result<Self> {
        let required = doc.params.iter().filter(|p| p.default.is_none()).count();
        if exprs.len() < required || exprs.len() > doc.params.len() {
            return Err(invalid_argument(
                doc.name,
                format!(
                    "expects {} to {} arguments ({}), got {}",
                    required,
                    doc.params.len(),
                    doc.arguments(),
                    exprs.len()
                ),
            ));
        }
        Ok(Self { doc, exprs })
    }

    /// The 22023 error of this function.
    pub fn bad(&self, message: impl Into<String>) -> DataFusionError {
        invalid_argument(self.doc.name, message)
    }

    fn param_name(&self, i: usize) -> &'static str {
        self.doc.params.get(i).map_or("argument", |p| p.name)
    }

    /// The constant value of argument `i` (`None` when it was not given or is NULL).
    ///
    /// # Errors
    /// The argument is not a constant.
    pub fn value(&self, i: usize) -> Result<Option<ScalarValue>> {
        let Some(expr) = self.exprs.get(i) else {
            return Ok(None);
        };
        let value = constant(expr).map_err(|e| {
            self.bad(format!(
                "{} must be a constant, got {expr} ({e})",
                self.param_name(i)
            ))
        })?;
        Ok((!value.is_null()).then_some(value))
    }

    /// Argument `i` as text, if given.
    ///
    /// # Errors
    /// Not text.
    pub fn text(&self, i: usize) -> Result<Option<String>> {
        match self.value(i)? {
            None => Ok(None),
            Some(ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v)) => {
                Ok(v)
            }
            Some(other) => {
                Err(self.bad(format!("{} must be text, got {other}", self.param_name(i))))
            }
        }
    }

    /// Argument `i` as text; it must be given and not NULL.
    ///
    /// # Errors
    /// Missing, NULL or not text.
    pub fn required_text(&self, i: usize) -> Result<String> {
        self.text(i)?
            .ok_or_else(|| self.bad(format!("{} must not be NULL", self.param_name(i))))
    }

    /// Argument `i` as an integer in `range`, `default` when not given.
    ///
    /// # Errors
    /// Not an integer, or out of range.
    pub fn integer(
        &self,
        i: usize,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<i64> {
        let Some(v) = self.value(i)? else {
            return Ok(default);
        };
        match v.cast_to(&DataType::Int64) {
            Ok(ScalarValue::Int64(Some(n))) if range.contains(&n) => Ok(n),
            _ => Err(self.bad(format!(
                "{} must be an integer from {} to {}, got {v}",
                self.param_name(i),
                range.start(),
                range.end()
            ))),
        }
    }

    /// Argument `i` as a number in `range`, `default` when not given.
    ///
    /// # Errors
    /// Not a number, or out of range.
    pub fn number(
        &self,
        i: usize,
        default: f64,
        range: std::ops::RangeInclusive<f64>,
    ) -> Result<f64> {
        let Some(v) = self.value(i)? else {
            return Ok(default);
        };
        match v.cast_to(&DataType::Float64) {
            Ok(ScalarValue::Float64(Some(x))) if range.contains(&x) => Ok(x),
            _ => Err(self.bad(format!(
                "{} must be a number from {} to {}, got {v}",
                self.param_name(i),
                range.start(),
                range.end()
            ))),
        }
    }

    /// Argument `i` as a boolean, `default` when not given.
    ///
    /// # Errors
    /// Not a boolean.
    pub fn boolean(&self, i: usize, default: bool) -> Result<bool> {
        match self.value(i)? {
            None => Ok(default),
            Some(ScalarValue::Boolean(Some(b))) => Ok(b),
            Some(other) => Err(self.bad(format!(
                "{} must be a boolean, got {other}",
                self.param_name(i)
            ))),
        }
    }

    /// Argument `i`, a table name or a query, planned with the caller's session.
    ///
    /// # Errors
    /// Missing, or the query does not plan.
    pub fn source(&self, state: &SessionState, i: usize) -> Result<LogicalPlan> {
        // Planning errors keep their own SQLSTATE (42P01 for a missing table, ...).
        source_plan(state, &self.required_text(i)?)
    }
}

/// The constant value of an expression (literals, casts of literals).
///
/// # Errors
/// Anything else.
pub fn constant(expr: &Expr) -> Result<ScalarValue> {
    match expr {
        Expr::Literal(v, _) => Ok(v.clone()),
        Expr::Cast(c) => constant(&c.expr)?.cast_to(c.field.data_type()),
        Expr::TryCast(c) => constant(&c.expr)?.cast_to(c.field.data_type()),
        Expr::Alias(a) => constant(&a.expr),
        other => Err(DataFusionError::Plan(format!("{other} is not a constant"))),
    }
}

/// The logical plan of `input`: a query (SELECT, WITH, VALUES), or a table name.
///
/// # Errors
/// The query does not plan, or planning it would have to wait.
pub fn source_plan(state: &SessionState, input: &str) -> Result<LogicalPlan> {
    let trimmed = input.trim();
    let first = trimmed
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_start_matches('(')
        .to_ascii_lowercase();
    let sql = if matches!(first.as_str(), "select" | "with" | "values") {
        trimmed.to_owned()
    } else {
        format!("SELECT * FROM {trimmed}")
    };
    // The same compatibility rewrites as a client's statement (named arguments of nested
    // datapunk calls, PostgreSQL column names). Table lookups of datapunk's catalogs
    // answer at once: no waiting inside planning.
    let sql = crate::engine::rewrite::rewrite(&sql);
    match state.create_logical_plan(&sql).now_or_never() {
        Some(plan) => plan,
        None => Err(DataFusionError::Plan(
            "the query could not be planned without waiting".into(),
        )),
    }
}

/// The type of column `name` of `plan`.
///
/// # Errors
/// No such column.
pub fn column_type(plan: &LogicalPlan, name: &str) -> Result<DataType> {
    Ok(plan
        .schema()
        .field_with_unqualified_name(name)?
        .data_type()
        .clone())
}

/// The name of the `i`-th column of `plan`.
///
/// # Errors
/// `plan` has fewer columns.
pub fn column_name(plan: &LogicalPlan, i: usize, function: &'static str) -> Result<String> {
    let fields = plan.schema().fields();
    fields.get(i).map(|f| f.name().clone()).ok_or_else(|| {
        invalid_argument(
            function,
            format!(
                "the input needs at least {} columns, it has {}",
                i + 1,
                fields.len()
            ),
        )
    })
}

/// The type a key column (customer, basket, item) is computed as: integers as `Int64`,
/// text as `Utf8`.
///
/// # Errors
/// Any other type.
pub fn key_type(data_type: &DataType, what: &str, function: &'static str) -> Result<DataType> {
    if data_type.is_integer() {
        Ok(DataType::Int64)
    } else if matches!(
        data_type,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    ) {
        Ok(DataType::Utf8)
    } else {
        Err(invalid_argument(
            function,
            format!("{what} must be an integer or text column, not {data_type}"),
        ))
    }
}

/// `plan` reduced to `columns` (name in the input, type to cast to), named by position
/// `c0`, `c1`, ...
///
/// # Errors
/// A column is missing.
pub fn select_columns(plan: LogicalPlan, columns: &[(&str, DataType)]) -> Result<LogicalPlan> {
    let projection: Vec<Expr> = columns
        .iter()
        .enumerate()
        .map(|(i, (name, data_type))| {
            let column = Expr::Column(Column::new_unqualified(*name));
            cast(column, data_type.clone()).alias(format!("c{i}"))
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(projection)?.build()
}

/// The caller's session, which table functions plan their inputs with.
///
/// # Errors
/// The session is not a DataFusion `SessionState`.
pub fn session_state<'a>(args: &'a TableFunctionArgs, function: &str) -> Result<&'a SessionState> {
    match args.session().as_any().downcast_ref::<SessionState>() {
        Some(state) => Ok(state),
        None => plan_err!("{function} needs a DataFusion SessionState"),
    }
}

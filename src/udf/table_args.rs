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

use crate::error::invalid_argument;
use crate::pg::function_doc::FunctionDoc;

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
        let whole = !matches!(
            v.cast_to(&DataType::Float64),
            Ok(ScalarValue::Float64(Some(x))) if x.fract() != 0.0
        );
        match v.cast_to(&DataType::Int64) {
            Ok(ScalarValue::Int64(Some(n))) if whole && range.contains(&n) => Ok(n),
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

    /// Argument `i` as a date (day number), if given.
    ///
    /// # Errors
    /// Not a date (or text that casts to one).
    pub fn date(&self, i: usize) -> Result<Option<i32>> {
        let Some(v) = self.value(i)? else {
            return Ok(None);
        };
        match v.cast_to(&DataType::Date32) {
            Ok(ScalarValue::Date32(Some(day))) => Ok(Some(day)),
            _ => Err(self.bad(format!(
                "{} must be a date, such as DATE '1998-07-01', got {v}",
                self.param_name(i)
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
    // Through the one door, as a client's statement; planned without waiting.
    crate::engine::prepare::plan_query_now(state, &sql)
}

/// The position of column `name` in `plan`.
///
/// # Errors
/// No such column (42703), or more than one.
pub fn column_index(plan: &LogicalPlan, name: &str, function: &'static str) -> Result<usize> {
    let schema = plan.schema();
    let matches: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() == name)
        .collect();
    match matches.as_slice() {
        [] => {
            // DataFusion's own error, so the client sees 42703 and the valid names.
            schema.field_with_unqualified_name(name)?;
            Err(invalid_argument(function, format!("no column {name}")))
        }
        [i] => Ok(*i),
        _ => Err(invalid_argument(
            function,
            format!("column {name} is ambiguous in the input: alias it"),
        )),
    }
}

/// Checks that `plan` has a column count in `counts`; `what` says what they are.
///
/// # Errors
/// Too few or too many columns, naming the ones there are.
pub fn require_columns(
    plan: &LogicalPlan,
    counts: std::ops::RangeInclusive<usize>,
    what: &str,
    function: &'static str,
) -> Result<()> {
    let fields = plan.schema().fields();
    if counts.contains(&fields.len()) {
        return Ok(());
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    Err(invalid_argument(
        function,
        format!(
            "{what}; the input has {} columns ({}): select just those",
            names.len(),
            names.join(", ")
        ),
    ))
}

/// The type of the `i`-th column of `plan`.
pub fn column_type(plan: &LogicalPlan, i: usize) -> DataType {
    plan.schema().field(i).data_type().clone()
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

/// `plan` reduced to `columns` (position in the input, type to cast to), named by
/// position `c0`, `c1`, ... Columns are taken by position, so inputs whose columns share
/// a name (`SELECT a.id, b.id ...`) work.
///
/// # Errors
/// The projection does not plan.
pub fn select_columns(plan: LogicalPlan, columns: &[(usize, DataType)]) -> Result<LogicalPlan> {
    let projection: Vec<Expr> = columns
        .iter()
        .enumerate()
        .map(|(i, (position, data_type))| {
            let column = Expr::Column(Column::from(plan.schema().qualified_field(*position)));
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

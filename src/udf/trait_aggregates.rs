//! Aggregates for computed traits of customer profiles, as PostgreSQL and DuckDB name
//! them: `mode(x)` (also PostgreSQL's `mode() WITHIN GROUP (ORDER BY x)`), the most
//! frequent value; `max_by(x, y)` / `arg_max(x, y)` and `min_by(x, y)` / `arg_min(x,
//! y)`, the value of x at the row with the largest (smallest) y: the last product
//! viewed, the first channel. Ties are broken by the smallest value so that a result
//! never depends on the rows' order or partitioning (PostgreSQL and DuckDB pick
//! arbitrarily). NULL values (and NULL y) are skipped; no rows give NULL.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::pg::function_doc::{required, FunctionDoc, Kind};

pub const MODE: FunctionDoc = FunctionDoc {
    name: "mode",
    kind: Kind::Aggregate,
    params: &[required("value", "anyelement")],
    result: "anyelement",
    description: "The most frequent non-NULL value (the smallest of equally frequent ones); \
                  also written mode() WITHIN GROUP (ORDER BY value) as in PostgreSQL.",
    example: "SELECT mode(x) AS duckdb_form, mode() WITHIN GROUP (ORDER BY x) AS pg_form \
              FROM (VALUES ('tea'), ('milk'), ('tea'), (NULL)) AS t(x)",
    example_output: r#" duckdb_form | pg_form
-------------+---------
 tea         | tea"#,
};

pub const MAX_BY: FunctionDoc = FunctionDoc {
    name: "max_by",
    kind: Kind::Aggregate,
    params: &[
        required("value", "anyelement"),
        required("by", "anyelement"),
    ],
    result: "anyelement",
    description: "The value at the row with the largest by (the smallest value among rows \
                  tied on by); rows with a NULL value or by are skipped. arg_max is the \
                  same function (DuckDB's name).",
    example: "SELECT max_by(product, ts) AS last_viewed, min_by(product, ts) AS first_viewed \
              FROM (VALUES ('tea', 3), ('milk', 7), ('cake', 5)) AS t(product, ts)",
    example_output: r#" last_viewed | first_viewed
-------------+--------------
 milk        | tea"#,
};

pub const MIN_BY: FunctionDoc = FunctionDoc {
    name: "min_by",
    kind: Kind::Aggregate,
    params: &[
        required("value", "anyelement"),
        required("by", "anyelement"),
    ],
    result: "anyelement",
    description: "The value at the row with the smallest by (the smallest value among rows \
                  tied on by); rows with a NULL value or by are skipped. arg_min is the \
                  same function (DuckDB's name).",
    example: "SELECT min_by(channel, ts) AS first_channel \
              FROM (VALUES ('email', 3), ('social', 1), ('search', 5)) AS t(channel, ts)",
    example_output: r#" first_channel
---------------
 social"#,
};

/// The aggregates of this module.
pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::new_from_impl(Mode::new()),
        AggregateUDF::new_from_impl(By::new(Extreme::Max)),
        AggregateUDF::new_from_impl(By::new(Extreme::Min)),
    ]
}

fn list_field(name: String, item: &DataType) -> FieldRef {
    Arc::new(Field::new(
        name,
        DataType::List(Arc::new(Field::new_list_field(item.clone(), true))),
        true,
    ))
}

// ---------------------------------------------------------------- mode

#[derive(Debug, PartialEq, Eq, Hash)]
struct Mode {
    signature: Signature,
    documentation: Documentation,
}

impl Mode {
    fn new() -> Self {
        Self {
            signature: MODE.signature(Volatility::Immutable),
            documentation: MODE.documentation(),
        }
    }
}

impl AggregateUDFImpl for Mode {
    fn name(&self) -> &str {
        MODE.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] => Ok(vec![t.clone()]),
            _ => plan_err!("function mode expects one value (or WITHIN GROUP (ORDER BY value))"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ModeAccumulator {
            data_type: args.return_field.data_type().clone(),
            counts: HashMap::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let value = args.input_fields[0].data_type();
        Ok(vec![
            list_field(format!("{}[values]", args.name), value),
            list_field(format!("{}[counts]", args.name), &DataType::UInt64),
        ])
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

#[derive(Debug)]
struct ModeAccumulator {
    data_type: DataType,
    counts: HashMap<ScalarValue, u64>,
}

impl Accumulator for ModeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let column = &values[0];
        for row in 0..column.len() {
            if column.is_valid(row) {
                *self
                    .counts
                    .entry(ScalarValue::try_from_array(column, row)?)
                    .or_default() += 1;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (values, counts): (Vec<ScalarValue>, Vec<ScalarValue>) = self
            .counts
            .iter()
            .map(|(v, n)| (v.clone(), ScalarValue::UInt64(Some(*n))))
            .unzip();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.data_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::UInt64)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (values, counts) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..values.len() {
            if values.is_null(row) {
                continue;
            }
            let (v, n) = (values.value(row), counts.value(row));
            let n = n.as_primitive::<UInt64Type>();
            for i in 0..v.len() {
                *self
                    .counts
                    .entry(ScalarValue::try_from_array(&v, i)?)
                    .or_default() += n.value(i);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let best = self.counts.iter().reduce(|best, next| {
            let better = next.1 > best.1
                || (next.1 == best.1
                    && next.0.partial_cmp(best.0) == Some(std::cmp::Ordering::Less));
            if better {
                next
            } else {
                best
            }
        });
        match best {
            Some((value, _)) => Ok(value.clone()),
            None => ScalarValue::try_from(&self.data_type),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .counts
                .keys()
                .map(|k| k.size() + std::mem::size_of::<u64>())
                .sum::<usize>()
    }
}

// ---------------------------------------------------------------- max_by / min_by

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Extreme {
    Max,
    Min,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct By {
    extreme: Extreme,
    aliases: Vec<String>,
    signature: Signature,
    documentation: Documentation,
}

impl By {
    fn new(extreme: Extreme) -> Self {
        let (doc, alias) = match extreme {
            Extreme::Max => (&MAX_BY, "arg_max"),
            Extreme::Min => (&MIN_BY, "arg_min"),
        };
        Self {
            extreme,
            aliases: vec![alias.to_owned()],
            signature: doc.signature(Volatility::Immutable),
            documentation: doc.documentation(),
        }
    }

    fn doc(&self) -> &'static FunctionDoc {
        match self.extreme {
            Extreme::Max => &MAX_BY,
            Extreme::Min => &MIN_BY,
        }
    }
}

impl AggregateUDFImpl for By {
    fn name(&self) -> &str {
        self.doc().name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [value, by] => Ok(vec![value.clone(), by.clone()]),
            _ => plan_err!("function {} expects (value, by)", self.doc().name),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ByAccumulator {
            extreme: self.extreme,
            value_type: args.return_field.data_type().clone(),
            by_type: args.expr_fields[1].data_type().clone(),
            best: None,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[value]", args.name),
                args.input_fields[0].data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[by]", args.name),
                args.input_fields[1].data_type().clone(),
                true,
            )),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

#[derive(Debug)]
struct ByAccumulator {
    extreme: Extreme,
    value_type: DataType,
    by_type: DataType,
    /// The (value, by) chosen so far.
    best: Option<(ScalarValue, ScalarValue)>,
}

impl ByAccumulator {
    /// Whether (value, by) replaces the current choice.
    fn offer(&mut self, value: ScalarValue, by: ScalarValue) {
        use std::cmp::Ordering::{Greater, Less};
        let replace = match &self.best {
            None => true,
            Some((best_value, best_by)) => match (by.partial_cmp(best_by), self.extreme) {
                (Some(Greater), Extreme::Max) | (Some(Less), Extreme::Min) => true,
                (Some(std::cmp::Ordering::Equal), _) => value.partial_cmp(best_value) == Some(Less),
                _ => false,
            },
        };
        if replace {
            self.best = Some((value, by));
        }
    }

    fn take_rows(&mut self, values: &ArrayRef, by: &ArrayRef) -> Result<()> {
        for row in 0..values.len() {
            if values.is_valid(row) && by.is_valid(row) {
                let value = ScalarValue::try_from_array(values, row)?;
                let key = ScalarValue::try_from_array(by, row)?;
                self.offer(value, key);
            }
        }
        Ok(())
    }
}

impl Accumulator for ByAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.take_rows(&values[0], &values[1])
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(match &self.best {
            Some((value, by)) => vec![value.clone(), by.clone()],
            None => vec![
                ScalarValue::try_from(&self.value_type)?,
                ScalarValue::try_from(&self.by_type)?,
            ],
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.take_rows(&states[0], &states[1])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match &self.best {
            Some((value, _)) => Ok(value.clone()),
            None => ScalarValue::try_from(&self.value_type),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.best.as_ref().map_or(0, |(v, b)| v.size() + b.size())
    }
}

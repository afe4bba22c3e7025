//! The customer-lifetime-value model fits over a per-customer summary: `bgnbd_fit`,
//! `paretonbd_fit`, `gammagamma_fit` (aggregates → model structs). The models are
//! [`crate::marketing::btyd`]; a fit's state is its distinct rows with their summed
//! weights, so a billion orders cost one aggregation pass and the fit is the same
//! whatever the partitioning.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::float_lists::{float_list_type, float_list_value};
use crate::marketing::btyd::History;
use crate::marketing::btyd_fit::{self, Fitted};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const BGNBD_FIT: FunctionDoc = FunctionDoc {
    name: "bgnbd_fit",
    kind: Kind::Aggregate,
    params: &[
        required("frequency", "double precision"),
        required("recency", "double precision"),
        required("t", "double precision"),
        optional("weight", "double precision", "1"),
    ],
    result: "record",
    description: "Fits the BG/NBD model (Fader, Hardie & Lee 2005) by maximum likelihood to \
                  per-customer summaries (as clv_summary gives them: frequency = repeat \
                  purchase periods, recency, t, in one time unit): r, alpha (purchase \
                  rate), a, b (dropout), ll (log-likelihood), n (customers, or sum of \
                  weight), iterations and converged. Fitted on the distinct (frequency, \
                  recency, t) rows with their counts: the same model whatever the \
                  partitioning. Rows with a NULL or negative value are skipped.",
    example: r#"WITH days AS (SELECT DISTINCT customer_id, order_date FROM lake.cdnow_master
              WHERE order_date <= DATE '1997-09-30'),
     summary AS (SELECT count(*) - 1 AS x, (max(order_date) - min(order_date)) / 7.0 AS t_x,
                        (DATE '1997-09-30' - min(order_date)) / 7.0 AS t
                 FROM days GROUP BY customer_id)
SELECT round((m).r, 4) AS r, round((m).alpha, 4) AS alpha, round((m).a, 4) AS a,
       round((m).b, 4) AS b, (m).n AS n, (m).converged AS converged
FROM (SELECT bgnbd_fit(x, t_x, t) AS m FROM summary) f"#,
    example_output: r#" r      | alpha  | a      | b      | n     | converged
--------+--------+--------+--------+-------+-----------
 0.2516 | 4.7889 | 0.7234 | 2.1611 | 23570 | t"#,
};

pub const PARETONBD_FIT: FunctionDoc = FunctionDoc {
    name: "paretonbd_fit",
    kind: Kind::Aggregate,
    params: &[
        required("frequency", "double precision"),
        required("recency", "double precision"),
        required("t", "double precision"),
        optional("weight", "double precision", "1"),
    ],
    result: "record",
    description: "Fits the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987) by \
                  maximum likelihood to per-customer summaries: r, alpha (purchase rate), \
                  s, beta (dropout rate), ll, n, iterations, converged; as bgnbd_fit. \
                  Data without a finite optimum (a handful of customers, say) gives \
                  converged false.",
    example: r#"SELECT (m).n AS n, (m).converged AS converged
FROM (SELECT paretonbd_fit(x, t_x, t) AS m
      FROM (VALUES (0, 0.0, 30.0), (2, 20.0, 30.0), (5, 28.0, 30.0), (1, 3.0, 25.0), (0, 0.0, 25.0)) s(x, t_x, t)) f"#,
    example_output: r#" n | converged
---+-----------
 5 | f"#,
};

pub const GAMMAGAMMA_FIT: FunctionDoc = FunctionDoc {
    name: "gammagamma_fit",
    kind: Kind::Aggregate,
    params: &[
        required("frequency", "double precision"),
        required("monetary_value", "double precision"),
        optional("weight", "double precision", "1"),
    ],
    result: "record",
    description: "Fits the Gamma-Gamma spend model (Fader, Hardie & Lee 2005) by maximum \
                  likelihood to repeat customers' mean spend: p, q, v, ll, n, iterations, \
                  converged. Customers with frequency 0 (no repeat purchase) or a \
                  monetary_value not above 0 are ignored.",
    example: r#"SELECT round((m).p, 4) AS p, (m).n AS n
FROM (SELECT gammagamma_fit(x, m) AS m
      FROM (VALUES (0, 0.0), (2, 20.0), (5, 35.5), (1, 12.0), (3, 60.0), (2, 18.0)) s(x, m)) f"#,
    example_output: r#" p      | n
--------+---
 4.3081 | 5"#,
};

const MODEL_TAIL: [&str; 4] = ["ll", "n", "iterations", "converged"];

/// Which model a fit or a prediction is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    BgNbd,
    ParetoNbd,
    GammaGamma,
}

impl Family {
    fn doc(self) -> &'static FunctionDoc {
        match self {
            Family::BgNbd => &BGNBD_FIT,
            Family::ParetoNbd => &PARETONBD_FIT,
            Family::GammaGamma => &GAMMAGAMMA_FIT,
        }
    }

    /// The model's parameters, the first fields of its struct.
    fn parameters(self) -> &'static [&'static str] {
        match self {
            Family::BgNbd => &["r", "alpha", "a", "b"],
            Family::ParetoNbd => &["r", "alpha", "s", "beta"],
            Family::GammaGamma => &["p", "q", "v"],
        }
    }

    /// Values per data row: (x, t_x, T) or (x, m).
    fn width(self) -> usize {
        if self == Family::GammaGamma {
            2
        } else {
            3
        }
    }

    fn fields(self) -> Fields {
        let mut fields: Vec<Field> = self
            .parameters()
            .iter()
            .chain(&MODEL_TAIL[..2])
            .map(|name| Field::new(*name, DataType::Float64, true))
            .collect();
        fields.push(Field::new("iterations", DataType::Int64, true));
        fields.push(Field::new("converged", DataType::Boolean, true));
        Fields::from(fields)
    }

    /// Whether a data row enters the fit.
    fn accepts(self, row: &[f64]) -> bool {
        match self {
            Family::GammaGamma => row[0] > 0.0 && row[1] > 0.0 && row[1].is_finite(),
            _ => row.iter().all(|v| *v >= 0.0 && v.is_finite()),
        }
    }
}

/// A one-row model struct from a fit's parameters and figures.
fn model_array<M>(family: Family, fitted: Option<(Vec<f64>, &Fitted<M>)>) -> StructArray {
    let fields = family.fields();
    let parameters = family.parameters().len();
    let mut columns: Vec<ArrayRef> = (0..parameters)
        .map(|i| Arc::new(Float64Array::from(vec![fitted.as_ref().map(|(p, _)| p[i])])) as ArrayRef)
        .collect();
    let figures = fitted.as_ref().map(|(_, f)| f);
    columns.push(Arc::new(Float64Array::from(vec![figures.map(|f| f.ll)])));
    columns.push(Arc::new(Float64Array::from(vec![figures.map(|f| f.n)])));
    columns.push(Arc::new(Int64Array::from(vec![
        figures.map(|f| f.iterations as i64)
    ])));
    columns.push(Arc::new(BooleanArray::from(vec![
        figures.map(|f| f.converged)
    ])));
    let nulls = vec![fitted.is_some()];
    StructArray::new(fields, columns, Some(nulls.into()))
}

/// The fit aggregates, for the registry.
pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    [Family::BgNbd, Family::ParetoNbd, Family::GammaGamma]
        .into_iter()
        .map(|family| AggregateUDF::new_from_impl(ModelFit::new(family)))
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ModelFit {
    family: Family,
    signature: Signature,
    documentation: Documentation,
}

impl ModelFit {
    fn new(family: Family) -> Self {
        Self {
            family,
            signature: family.doc().signature(Volatility::Immutable),
            documentation: family.doc().documentation(),
        }
    }
}

impl AggregateUDFImpl for ModelFit {
    fn name(&self) -> &str {
        self.family.doc().name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let doc = self.family.doc();
        let width = self.family.width();
        if arg_types.len() < width || arg_types.len() > width + 1 {
            return plan_err!("function {} expects ({})", doc.name, doc.arguments());
        }
        arg_types
            .iter()
            .zip(doc.params)
            .map(|(t, p)| {
                if t.is_numeric() || *t == DataType::Null {
                    Ok(DataType::Float64)
                } else {
                    plan_err!(
                        "function {} expects {} to be a number, got {t}",
                        doc.name,
                        p.name
                    )
                }
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(self.family.fields()))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(FitAccumulator {
            family: self.family,
            weighted: args.exprs.len() > self.family.width(),
            rows: BTreeMap::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(["rows", "weights"]
            .iter()
            .map(|name| {
                Arc::new(Field::new(
                    format!("{}[{name}]", args.name),
                    float_list_type(),
                    true,
                ))
            })
            .collect())
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

/// A data row as a map key, ordered by `total_cmp` so the fit's order is fixed.
#[derive(Debug, Clone, PartialEq)]
struct Row(Vec<f64>);

impl Eq for Row {}

impl PartialOrd for Row {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Row {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| a.total_cmp(b))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

/// The distinct data rows with their summed weights.
#[derive(Debug)]
struct FitAccumulator {
    family: Family,
    weighted: bool,
    rows: BTreeMap<Row, f64>,
}

impl Accumulator for FitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let width = self.family.width();
        let columns: Vec<&Float64Array> = values
            .iter()
            .map(|v| v.as_primitive::<Float64Type>())
            .collect();
        let mut row = vec![0.0; width];
        for i in 0..columns[0].len() {
            if columns.iter().any(|c| c.is_null(i)) {
                continue;
            }
            for (slot, column) in row.iter_mut().zip(&columns) {
                *slot = column.value(i);
            }
            let weight = if self.weighted {
                columns[width].value(i)
            } else {
                1.0
            };
            let usable = weight > 0.0 && weight.is_finite() && self.family.accepts(&row);
            if usable {
                *self.rows.entry(Row(row.clone())).or_default() += weight;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            float_list_value(self.rows.keys().flat_map(|r| r.0.iter().copied())),
            float_list_value(self.rows.values().copied()),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let width = self.family.width();
        let (rows, weights) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for i in 0..rows.len() {
            if rows.is_null(i) {
                continue;
            }
            let values = rows.value(i);
            let values = values.as_primitive::<Float64Type>().values();
            let w = weights.value(i);
            let w = w.as_primitive::<Float64Type>().values();
            for (row, weight) in values.chunks(width).zip(w.iter()) {
                *self.rows.entry(Row(row.to_vec())).or_default() += weight;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let array = match self.family {
            Family::GammaGamma => {
                let data: Vec<_> = self
                    .rows
                    .iter()
                    .map(|(r, w)| ((r.0[0], r.0[1]), *w))
                    .collect();
                let fitted = btyd_fit::fit_gammagamma(&data);
                model_array(
                    self.family,
                    fitted
                        .as_ref()
                        .map(|f| (vec![f.model.p, f.model.q, f.model.v], f)),
                )
            }
            family => {
                let data: Vec<_> = self
                    .rows
                    .iter()
                    .map(|(r, w)| {
                        let h = History {
                            x: r.0[0],
                            t_x: r.0[1],
                            t: r.0[2],
                        };
                        (h, *w)
                    })
                    .collect();
                if family == Family::BgNbd {
                    let fitted = btyd_fit::fit_bgnbd(&data);
                    model_array(
                        family,
                        fitted.as_ref().map(|f| {
                            let m = f.model;
                            (vec![m.r, m.alpha, m.a, m.b], f)
                        }),
                    )
                } else {
                    let fitted = btyd_fit::fit_paretonbd(&data);
                    model_array(
                        family,
                        fitted.as_ref().map(|f| {
                            let m = f.model;
                            (vec![m.r, m.alpha, m.s, m.beta], f)
                        }),
                    )
                }
            }
        };
        Ok(ScalarValue::Struct(Arc::new(array)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.len() * (self.family.width() * 8 + 56)
    }
}

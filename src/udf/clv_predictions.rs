//! Predictions over customer-lifetime models (scalars): `bgnbd_expected_purchases`,
//! `bgnbd_p_alive`, `bgnbd_expected_purchases_new`, the same three for `paretonbd_`,
//! `gammagamma_expected_spend` and `clv`. A model is any record with the model's
//! parameter fields (what `bgnbd_fit` and the other fits return, or
//! `named_struct('r', 0.24, ...)` with published parameters); the math is
//! [`crate::marketing::btyd`]. NULL in, NULL out.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::error::invalid_argument;
use crate::marketing::btyd::{self, BgNbd, GammaGamma, History, ParetoNbd};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind, Param};

/// The parameter fields of each model, as its fit names them.
const BGNBD: &[&str] = &["r", "alpha", "a", "b"];
const PARETONBD: &[&str] = &["r", "alpha", "s", "beta"];
const GAMMAGAMMA: &[&str] = &["p", "q", "v"];

const FREQUENCY: Param = required("frequency", "double precision");
const RECENCY: Param = required("recency", "double precision");
const T: Param = required("t", "double precision");
const HORIZON: Param = required("horizon", "double precision");
const MODEL: Param = required("model", "record");

pub const BGNBD_EXPECTED_PURCHASES: FunctionDoc = FunctionDoc {
    name: "bgnbd_expected_purchases",
    kind: Kind::Scalar,
    params: &[MODEL, HORIZON, FREQUENCY, RECENCY, T],
    result: "double precision",
    description: "Expected purchases in the next horizon periods of a customer with this \
                  history (frequency, recency, t, in the model's time unit), under a \
                  BG/NBD model from bgnbd_fit (FHL 2005 eq. 10).",
    example: r#"SELECT round(bgnbd_expected_purchases(
         named_struct('r', 0.242593, 'alpha', 4.413532, 'a', 0.792886, 'b', 2.425752),
         39, 2, 30.43, 38.86), 4) AS next_39_weeks"#,
    example_output: r#" next_39_weeks
---------------
 1.2259"#,
};

pub const BGNBD_P_ALIVE: FunctionDoc = FunctionDoc {
    name: "bgnbd_p_alive",
    kind: Kind::Scalar,
    params: &[MODEL, FREQUENCY, RECENCY, T],
    result: "double precision",
    description: "The probability that a customer with this history is still active, \
                  under a BG/NBD model from bgnbd_fit (1 for a customer without repeat \
                  purchases, as in the model).",
    example: r#"SELECT round(bgnbd_p_alive(
         named_struct('r', 0.242593, 'alpha', 4.413532, 'a', 0.792886, 'b', 2.425752),
         2, 30.43, 38.86), 4) AS p_alive"#,
    example_output: r#" p_alive
---------
 0.7266"#,
};

pub const BGNBD_EXPECTED_PURCHASES_NEW: FunctionDoc = FunctionDoc {
    name: "bgnbd_expected_purchases_new",
    kind: Kind::Scalar,
    params: &[MODEL, HORIZON],
    result: "double precision",
    description: "Expected purchases of a new customer in its first horizon periods, under \
                  a BG/NBD model from bgnbd_fit.",
    example: r#"SELECT round(bgnbd_expected_purchases_new(
         named_struct('r', 0.242593, 'alpha', 4.413532, 'a', 0.792886, 'b', 2.425752), 39), 4) AS first_39_weeks"#,
    example_output: r#" first_39_weeks
----------------
 1.195"#,
};

pub const PARETONBD_EXPECTED_PURCHASES: FunctionDoc = FunctionDoc {
    name: "paretonbd_expected_purchases",
    kind: Kind::Scalar,
    params: &[MODEL, HORIZON, FREQUENCY, RECENCY, T],
    result: "double precision",
    description: "Expected purchases in the next horizon periods of a customer with this \
                  history, under a Pareto/NBD model from paretonbd_fit.",
    example: r#"SELECT round(paretonbd_expected_purchases(
         named_struct('r', 0.5533, 'alpha', 10.5775, 's', 0.6062, 'beta', 11.6686),
         39, 2, 30.43, 38.86), 4) AS next_39_weeks"#,
    example_output: r#" next_39_weeks
---------------
 1.4551"#,
};

pub const PARETONBD_P_ALIVE: FunctionDoc = FunctionDoc {
    name: "paretonbd_p_alive",
    kind: Kind::Scalar,
    params: &[MODEL, FREQUENCY, RECENCY, T],
    result: "double precision",
    description: "The probability that a customer with this history is still active, \
                  under a Pareto/NBD model from paretonbd_fit.",
    example: r#"SELECT round(paretonbd_p_alive(
         named_struct('r', 0.5533, 'alpha', 10.5775, 's', 0.6062, 'beta', 11.6686),
         2, 30.43, 38.86), 4) AS p_alive"#,
    example_output: r#" p_alive
---------
 0.8691"#,
};

pub const PARETONBD_EXPECTED_PURCHASES_NEW: FunctionDoc = FunctionDoc {
    name: "paretonbd_expected_purchases_new",
    kind: Kind::Scalar,
    params: &[MODEL, HORIZON],
    result: "double precision",
    description: "Expected purchases of a new customer in its first horizon periods, under \
                  a Pareto/NBD model from paretonbd_fit.",
    example: r#"SELECT round(paretonbd_expected_purchases_new(
         named_struct('r', 0.5533, 'alpha', 10.5775, 's', 0.6062, 'beta', 11.6686), 39), 4) AS first_39_weeks"#,
    example_output: r#" first_39_weeks
----------------
 1.2135"#,
};

pub const GAMMAGAMMA_EXPECTED_SPEND: FunctionDoc = FunctionDoc {
    name: "gammagamma_expected_spend",
    kind: Kind::Scalar,
    params: &[
        MODEL,
        FREQUENCY,
        required("monetary_value", "double precision"),
    ],
    result: "double precision",
    description: "Expected value of a customer's future purchases, given its repeat \
                  purchases (frequency) and their mean value, under a Gamma-Gamma model \
                  from gammagamma_fit: a weighted mean of the customer's own mean and the \
                  population mean p v / (q - 1), which is the answer for frequency 0.",
    example: r#"SELECT round(gammagamma_expected_spend(
         named_struct('p', 6.248803, 'q', 3.744588, 'v', 15.447746), 2, 22.35), 4) AS expected_spend"#,
    example_output: r#" expected_spend
----------------
 24.6586"#,
};

pub const CLV: FunctionDoc = FunctionDoc {
    name: "clv",
    kind: Kind::Scalar,
    params: &[
        required("bgnbd_model", "record"),
        required("gammagamma_model", "record"),
        FREQUENCY,
        RECENCY,
        T,
        required("monetary_value", "double precision"),
        optional("months", "integer", "12"),
        optional("monthly_discount", "double precision", "0.01"),
        optional("period", "text", "'week'"),
    ],
    result: "double precision",
    description: "Customer lifetime value over the next months, as lifetimes' \
                  customer_lifetime_value: the sum over each month m of expected spend × \
                  expected purchases in month m / (1 + monthly_discount)^m. period is the \
                  unit of frequency, recency and t: 'week' (4.345 a month, the default), \
                  'day' (30) or 'month'. lifetimes' default freq='D' on weekly data counts \
                  30 weeks a month; here the unit is always said.",
    example: r#"SELECT round(clv(
         named_struct('r', 0.242593, 'alpha', 4.413532, 'a', 0.792886, 'b', 2.425752),
         named_struct('p', 6.248803, 'q', 3.744588, 'v', 15.447746),
         2, 30.43, 38.86, 22.35), 2) AS clv_12_months"#,
    example_output: r#" clv_12_months
---------------
 36.28"#,
};

/// The functions, for the registry.
pub fn scalar_udfs() -> Vec<ScalarUDF> {
    PREDICTIONS
        .iter()
        .map(|p| ScalarUDF::new_from_impl(PredictionUdf::new(p)))
        .collect()
}

/// A prediction's value from its models' parameters and its other arguments, or why not.
type Compute = fn(&[Vec<f64>], &[f64]) -> Result<f64, String>;

/// A prediction: its documentation, the parameter fields of each model argument (they
/// come first), and the value from the models' parameters and the other arguments
/// (defaults filled in; a text argument as its periods per month).
struct Prediction {
    doc: &'static FunctionDoc,
    models: &'static [&'static [&'static str]],
    compute: Compute,
}

fn bg(p: &[f64]) -> BgNbd {
    BgNbd {
        r: p[0],
        alpha: p[1],
        a: p[2],
        b: p[3],
    }
}

fn pareto(p: &[f64]) -> ParetoNbd {
    ParetoNbd {
        r: p[0],
        alpha: p[1],
        s: p[2],
        beta: p[3],
    }
}

fn spend_model(p: &[f64]) -> GammaGamma {
    GammaGamma {
        p: p[0],
        q: p[1],
        v: p[2],
    }
}

fn history(v: &[f64]) -> Result<History, String> {
    let h = History {
        x: v[0],
        t_x: v[1],
        t: v[2],
    };
    let valid = h.x >= 0.0 && h.t_x >= 0.0 && h.t >= h.t_x;
    if valid {
        Ok(h)
    } else {
        Err(format!(
            "a history needs frequency ≥ 0 and 0 ≤ recency ≤ t, got ({}, {}, {})",
            h.x, h.t_x, h.t
        ))
    }
}

fn horizon(t: f64) -> Result<f64, String> {
    if t >= 0.0 {
        Ok(t)
    } else {
        Err(format!("horizon must be ≥ 0, got {t}"))
    }
}

const PREDICTIONS: &[Prediction] = &[
    Prediction {
        doc: &BGNBD_EXPECTED_PURCHASES,
        models: &[BGNBD],
        compute: |m, v| Ok(bg(&m[0]).expected_purchases(horizon(v[0])?, &history(&v[1..])?)),
    },
    Prediction {
        doc: &BGNBD_P_ALIVE,
        models: &[BGNBD],
        compute: |m, v| Ok(bg(&m[0]).p_alive(&history(v)?)),
    },
    Prediction {
        doc: &BGNBD_EXPECTED_PURCHASES_NEW,
        models: &[BGNBD],
        compute: |m, v| {
            let new = History {
                x: 0.0,
                t_x: 0.0,
                t: 0.0,
            };
            Ok(bg(&m[0]).expected_purchases(horizon(v[0])?, &new))
        },
    },
    Prediction {
        doc: &PARETONBD_EXPECTED_PURCHASES,
        models: &[PARETONBD],
        compute: |m, v| Ok(pareto(&m[0]).expected_purchases(horizon(v[0])?, &history(&v[1..])?)),
    },
    Prediction {
        doc: &PARETONBD_P_ALIVE,
        models: &[PARETONBD],
        compute: |m, v| Ok(pareto(&m[0]).p_alive(&history(v)?)),
    },
    Prediction {
        doc: &PARETONBD_EXPECTED_PURCHASES_NEW,
        models: &[PARETONBD],
        compute: |m, v| Ok(pareto(&m[0]).expected_purchases_new(horizon(v[0])?)),
    },
    Prediction {
        doc: &GAMMAGAMMA_EXPECTED_SPEND,
        models: &[GAMMAGAMMA],
        compute: |m, v| Ok(spend_model(&m[0]).expected_spend(v[0], v[1])),
    },
    Prediction {
        doc: &CLV,
        models: &[BGNBD, GAMMAGAMMA],
        compute: |m, v| {
            let h = history(&v[..3])?;
            let months = v[4];
            let whole = (1.0..=1200.0).contains(&months) && months.fract() == 0.0;
            if !whole {
                return Err(format!(
                    "months must be a whole number from 1 to 1200, got {months}"
                ));
            }
            let discount = v[5];
            let valid = discount > -1.0 && discount.is_finite();
            if !valid {
                return Err(format!("monthly_discount must be above -1, got {discount}"));
            }
            Ok(btyd::clv(
                &bg(&m[0]),
                &spend_model(&m[1]),
                &h,
                v[3],
                months as u32,
                discount,
                v[6],
            ))
        },
    },
];

/// Periods per month of a `period` argument.
pub(super) fn periods_per_month(period: &str) -> Result<f64, String> {
    match period.to_ascii_lowercase().as_str() {
        "week" | "weeks" => Ok(4.345),
        "day" | "days" => Ok(30.0),
        "month" | "months" => Ok(1.0),
        other => Err(format!(
            "period must be 'week', 'day' or 'month', got '{other}'"
        )),
    }
}

#[derive(Debug)]
struct PredictionUdf {
    prediction: &'static Prediction,
    signature: Signature,
    documentation: Documentation,
}

impl PartialEq for PredictionUdf {
    fn eq(&self, other: &Self) -> bool {
        self.prediction.doc.name == other.prediction.doc.name
    }
}

impl Eq for PredictionUdf {}

impl std::hash::Hash for PredictionUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.prediction.doc.name.hash(state);
    }
}

impl std::fmt::Debug for Prediction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.doc.name)
    }
}

impl PredictionUdf {
    fn new(prediction: &'static Prediction) -> Self {
        Self {
            prediction,
            signature: prediction.doc.signature(Volatility::Immutable),
            documentation: prediction.doc.documentation(),
        }
    }
}

/// A model argument's parameter columns as doubles, read once per batch (`None`: the
/// argument is NULL, so every row is).
struct ModelColumns {
    models: StructArray,
    parameters: Vec<Float64Array>,
}

impl ModelColumns {
    /// Takes the parameter fields (by name) of a model column.
    fn new(function: &'static str, column: &ArrayRef, fields: &[&str]) -> Result<Option<Self>> {
        let Some(models) = column.as_struct_opt() else {
            return Ok(None);
        };
        let mut parameters = Vec::with_capacity(fields.len());
        for name in fields {
            let Some(field) = models.column_by_name(name) else {
                return Err(invalid_argument(
                    function,
                    format!(
                        "the model has no field {name}: it needs {} (as its fit returns)",
                        fields.join(", ")
                    ),
                ));
            };
            parameters.push(
                cast(field, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            );
        }
        Ok(Some(Self {
            models: models.clone(),
            parameters,
        }))
    }

    /// The parameters of row `row`; `None` for a NULL model or parameter.
    fn read(&self, row: usize, into: &mut Vec<f64>) -> bool {
        into.clear();
        if self.models.is_null(row) || self.parameters.iter().any(|p| p.is_null(row)) {
            return false;
        }
        into.extend(self.parameters.iter().map(|p| p.value(row)));
        true
    }
}

impl ScalarUDFImpl for PredictionUdf {
    fn name(&self) -> &str {
        self.prediction.doc.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let doc = self.prediction.doc;
        let required = doc.params.iter().filter(|p| p.default.is_none()).count();
        if arg_types.len() < required || arg_types.len() > doc.params.len() {
            return plan_err!("function {} expects ({})", doc.name, doc.arguments());
        }
        arg_types
            .iter()
            .zip(doc.params)
            .map(|(t, p)| match (p.pg_type, t) {
                ("record", DataType::Struct(_) | DataType::Null) => Ok(t.clone()),
                ("record", other) => plan_err!(
                    "function {} expects {} to be a model record (from a fit or named_struct), got {other}",
                    doc.name,
                    p.name
                ),
                ("text", _) => Ok(DataType::Utf8),
                (_, t) if t.is_numeric() || *t == DataType::Null => Ok(DataType::Float64),
                (_, other) => plan_err!(
                    "function {} expects {} to be a number, got {other}",
                    doc.name,
                    p.name
                ),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let prediction = self.prediction;
        let doc = prediction.doc;
        let rows = args.number_rows;
        let columns = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let model_count = prediction.models.len();
        let mut out = Vec::with_capacity(rows);
        let mut models = vec![Vec::new(); model_count];
        let mut values = vec![0.0; doc.params.len() - model_count];
        let model_columns = prediction
            .models
            .iter()
            .zip(&columns)
            .map(|(fields, column)| ModelColumns::new(doc.name, column, fields))
            .collect::<Result<Vec<_>>>()?;
        'rows: for row in 0..rows {
            for (model, into) in model_columns.iter().zip(models.iter_mut()) {
                if !model.as_ref().is_some_and(|m| m.read(row, into)) {
                    out.push(None);
                    continue 'rows;
                }
            }
            for (k, value) in values.iter_mut().enumerate() {
                let i = model_count + k;
                let param = &doc.params[i];
                *value = match (columns.get(i), param.pg_type) {
                    (None, "text") => {
                        periods_per_month(param.default.unwrap_or("'week'").trim_matches('\''))
                            .map_err(|e| invalid_argument(doc.name, e))?
                    }
                    (None, _) => param
                        .default
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(f64::NAN),
                    (Some(c), _) if c.is_null(row) => {
                        out.push(None);
                        continue 'rows;
                    }
                    (Some(c), "text") => periods_per_month(c.as_string::<i32>().value(row))
                        .map_err(|e| invalid_argument(doc.name, e))?,
                    (Some(c), _) => c.as_primitive::<Float64Type>().value(row),
                };
            }
            let value = (prediction.compute)(&models, &values)
                .map_err(|e| invalid_argument(doc.name, e))?;
            out.push(Some(value));
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

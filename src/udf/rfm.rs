//! The RFM SQL functions: `rfm_segment(r, f, m)` and `rfm_segment_rf(r, f)` (scalar) and
//! `rfm_score(value [, n [, higher_is_better [, ties]]])` (window). The logic is in
//! [`crate::marketing::rfm`]; this file adapts it to Arrow arrays and SQL arguments.

use std::sync::Arc;

use datafusion::arrow::array::{
    make_comparator, Array, ArrayRef, Int32Array, Int64Array, StringArray, UInt32Array,
};
use datafusion::arrow::compute::{lexsort_to_indices, SortColumn, SortOptions};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, PartitionEvaluator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility, WindowUDF, WindowUDFImpl,
};
use datafusion::physical_expr::expressions::Literal;

use crate::error::invalid_argument;
use crate::marketing::rfm::{self, Ties};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const RFM_SEGMENT: FunctionDoc = FunctionDoc {
    name: "rfm_segment",
    kind: Kind::Scalar,
    params: &[
        required("r", "integer"),
        required("f", "integer"),
        required("m", "integer"),
    ],
    result: "text",
    description: "The customer segment of an R, F, M score triple (each 1 to 5, 5 = best) on \
                  the canonical 125-code map: Champions, Loyal Customers, Potential \
                  Loyalists, New Customers, Promising, Need Attention, About To Sleep, At \
                  Risk, Can't Lose Them, Hibernating, Lost. NULL if any score is NULL.",
    example: r#"SELECT rfm_segment(5, 5, 5) AS best, rfm_segment(1, 3, 4) AS lapsed"#,
    example_output: r#" best      | lapsed
-----------+---------
 Champions | At Risk"#,
};

pub const RFM_SEGMENT_RF: FunctionDoc = FunctionDoc {
    name: "rfm_segment_rf",
    kind: Kind::Scalar,
    params: &[required("r", "integer"), required("f", "integer")],
    result: "text",
    description: "The customer segment of an R and F score (each 1 to 5, 5 = best) on the \
                  10-segment R×F grid. NULL if any score is NULL.",
    example: r#"SELECT rfm_segment_rf(5, 1) AS fresh, rfm_segment_rf(1, 5) AS lapsed"#,
    example_output: r#" fresh         | lapsed
---------------+-----------------
 New Customers | Can't Lose Them"#,
};

pub const RFM_SCORE: FunctionDoc = FunctionDoc {
    name: "rfm_score",
    kind: Kind::Window,
    params: &[
        required("value", "anyelement"),
        optional("n", "integer", "5"),
        optional("higher_is_better", "boolean", "true"),
        optional("ties", "text", "'split'"),
    ],
    result: "integer",
    description: "Quantile score 1..n of value within the window partition (n = best). \
                  Scores follow SQL-standard NTILE over the values sorted worst to best: \
                  bucket sizes differ by at most one, the first buckets get the extra rows. \
                  ties => 'split' (default) breaks ties by the window's ORDER BY (use the \
                  customer key); ties => 'same' gives every row of a group of equal values \
                  the score of the group's first row. NULL values get NULL and are not \
                  counted. Use higher_is_better => false for recency in days.",
    example: r#"SELECT v, rfm_score(v, 4) OVER (ORDER BY k) AS split,
       rfm_score(v, 4, ties => 'same') OVER (ORDER BY k) AS same
FROM (VALUES (1, 10), (2, 20), (3, 20), (4, 30), (5, 40)) t(k, v) ORDER BY k"#,
    example_output: r#" v  | split | same
----+-------+------
 10 | 1     | 1
 20 | 1     | 1
 20 | 2     | 1
 30 | 3     | 3
 40 | 4     | 4"#,
};

/// Every RFM scalar function.
pub fn scalar_udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(RfmSegment::new(Grid::Canonical)),
        ScalarUDF::new_from_impl(RfmSegment::new(Grid::RecencyFrequency)),
    ]
}

/// Every RFM window function.
pub fn window_udfs() -> Vec<WindowUDF> {
    vec![WindowUDF::new_from_impl(RfmScore::new())]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Grid {
    /// `rfm_segment(r, f, m)`.
    Canonical,
    /// `rfm_segment_rf(r, f)`.
    RecencyFrequency,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RfmSegment {
    grid: Grid,
    doc: &'static FunctionDoc,
    signature: Signature,
    documentation: Documentation,
}

impl RfmSegment {
    fn new(grid: Grid) -> Self {
        let doc = match grid {
            Grid::Canonical => &RFM_SEGMENT,
            Grid::RecencyFrequency => &RFM_SEGMENT_RF,
        };
        Self {
            grid,
            doc,
            signature: doc.signature(Volatility::Immutable),
            documentation: doc.documentation(),
        }
    }
}

/// Scores arrive as any integer type (NTILE's bigint unsigned included) or NULL.
fn integer_scores(function: &str, arg_types: &[DataType], count: usize) -> Result<Vec<DataType>> {
    if arg_types.len() != count {
        return plan_err!(
            "function {function} expects {count} integer scores, got {} arguments",
            arg_types.len()
        );
    }
    arg_types
        .iter()
        .map(|t| {
            if t.is_integer() || *t == DataType::Null {
                Ok(DataType::Int64)
            } else {
                plan_err!("function {function} expects integer scores 1 to 5, got {t}")
            }
        })
        .collect()
}

impl ScalarUDFImpl for RfmSegment {
    fn name(&self) -> &str {
        self.doc.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        integer_scores(self.doc.name, arg_types, self.doc.params.len())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let scores: Vec<&Int64Array> = arrays
            .iter()
            .map(|a| datafusion::common::cast::as_int64_array(a))
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            if scores.iter().any(|s| s.is_null(row)) {
                out.push(None);
                continue;
            }
            let s = |i: usize| scores[i].value(row);
            let segment = match self.grid {
                Grid::Canonical => rfm::segment(s(0), s(1), s(2)),
                Grid::RecencyFrequency => rfm::segment_rf(s(0), s(1)),
            };
            match segment {
                Ok(name) => out.push(Some(name)),
                Err(score) => {
                    return Err(invalid_argument(
                        self.doc.name,
                        format!("score {score} is out of range (scores are 1 to 5)"),
                    ))
                }
            }
        }
        let out: StringArray = out.into_iter().collect();
        let out: ArrayRef = Arc::new(out);
        Ok(
            if args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)))
            {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
            } else {
                ColumnarValue::Array(out)
            },
        )
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RfmScore {
    signature: Signature,
    documentation: Documentation,
}

impl RfmScore {
    fn new() -> Self {
        Self {
            signature: RFM_SCORE.signature(Volatility::Immutable),
            documentation: RFM_SCORE.documentation(),
        }
    }
}

/// The literal value of constant argument `i`, if given.
fn literal_arg(args: &PartitionEvaluatorArgs, i: usize) -> Result<Option<ScalarValue>> {
    let Some(expr) = args.input_exprs().get(i) else {
        return Ok(None);
    };
    match expr.downcast_ref::<Literal>() {
        Some(lit) => Ok(Some(lit.value().clone())),
        None => Err(invalid_argument(
            "rfm_score",
            format!(
                "argument {} must be a constant",
                RFM_SCORE.params.get(i).map_or("?", |p| p.name)
            ),
        )),
    }
}

impl WindowUDFImpl for RfmScore {
    fn name(&self) -> &str {
        RFM_SCORE.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() || arg_types.len() > RFM_SCORE.params.len() {
            return plan_err!(
                "function rfm_score expects 1 to 4 arguments: {}",
                RFM_SCORE.arguments()
            );
        }
        // The value keeps its type (any orderable type); the options get theirs.
        let options = [DataType::Int64, DataType::Boolean, DataType::Utf8];
        let mut out = vec![arg_types[0].clone()];
        out.extend(options.into_iter().take(arg_types.len() - 1));
        Ok(out)
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let n = match literal_arg(&args, 1)? {
            None => 5,
            Some(ScalarValue::Int64(Some(n))) if (1..=1_000_000).contains(&n) => n as usize,
            Some(other) => {
                return Err(invalid_argument(
                    "rfm_score",
                    format!("n must be an integer from 1 to 1000000, got {other}"),
                ))
            }
        };
        let higher_is_better = match literal_arg(&args, 2)? {
            None => true,
            Some(ScalarValue::Boolean(Some(b))) => b,
            Some(other) => {
                return Err(invalid_argument(
                    "rfm_score",
                    format!("higher_is_better must be true or false, got {other}"),
                ))
            }
        };
        let ties = match literal_arg(&args, 3)? {
            None => Ties::Split,
            Some(ScalarValue::Utf8(Some(t))) if t.eq_ignore_ascii_case("split") => Ties::Split,
            Some(ScalarValue::Utf8(Some(t))) if t.eq_ignore_ascii_case("same") => Ties::Same,
            Some(other) => {
                return Err(invalid_argument(
                    "rfm_score",
                    format!("ties must be 'split' or 'same', got {other}"),
                ))
            }
        };
        Ok(Box::new(ScoreEvaluator {
            n,
            higher_is_better,
            ties,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Int32,
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

#[derive(Debug)]
struct ScoreEvaluator {
    n: usize,
    higher_is_better: bool,
    ties: Ties,
}

impl PartitionEvaluator for ScoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let value = &values[0];
        let Ok(rows) = u32::try_from(num_rows) else {
            return Err(invalid_argument(
                "rfm_score",
                format!("a window partition of {num_rows} rows is too large"),
            ));
        };
        // Worst to best; NULLs last; equal values keep the window's order.
        let order = lexsort_to_indices(
            &[
                SortColumn {
                    values: Arc::clone(value),
                    options: Some(SortOptions {
                        descending: !self.higher_is_better,
                        nulls_first: false,
                    }),
                },
                SortColumn {
                    values: Arc::new(UInt32Array::from_iter_values(0..rows)),
                    options: None,
                },
            ],
            None,
        )?;
        let scored = num_rows - value.null_count();
        let order = &order.values()[..scored];
        let same_as_previous: Vec<bool> = match self.ties {
            Ties::Split => vec![false; scored],
            Ties::Same => {
                let compare =
                    make_comparator(value.as_ref(), value.as_ref(), SortOptions::default())?;
                let mut tied = Vec::with_capacity(scored);
                tied.push(false);
                for pair in order.windows(2) {
                    tied.push(compare(pair[0] as usize, pair[1] as usize).is_eq());
                }
                tied.truncate(scored);
                tied
            }
        };
        let scores = rfm::scores(&same_as_previous, self.n, self.ties);
        let mut out: Vec<Option<i32>> = vec![None; num_rows];
        for (row, score) in order.iter().zip(scores) {
            out[*row as usize] = i32::try_from(score).ok();
        }
        Ok(Arc::new(Int32Array::from(out)))
    }
}

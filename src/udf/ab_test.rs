//! The A/B test SQL functions over counts and summary statistics (scalars):
//! `ab_proportions_ztest`, `ab_chi2_2x2`, `ab_fisher_exact`, `ab_bayes_proportions`,
//! `wilson_ci`, `ab_sample_size`, `srm_test`, `welch_ttest_from_stats`. The statistics
//! are [`crate::marketing::ab_test`]; here is one scalar UDF shape for all of them:
//! numbers (and flags) in, one struct of doubles (or one integer) out, NULL in → NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Builder, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::error::invalid_argument;
use crate::marketing::ab_test::{self, Outcome, Summary, TTest, Variances};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const AB_PROPORTIONS_ZTEST: FunctionDoc = FunctionDoc {
    name: "ab_proportions_ztest",
    kind: Kind::Scalar,
    params: &[
        required("success_a", "bigint"),
        required("trials_a", "bigint"),
        required("success_b", "bigint"),
        required("trials_b", "bigint"),
        optional("conf", "double precision", "0.95"),
        optional("pooled", "boolean", "true"),
    ],
    result: "record",
    description: "Two-sided z-test of two conversion rates, a = control, b = treatment: \
                  p_a, p_b, diff = p_b - p_a, rel_lift = diff / p_a (NULL when p_a is 0), z \
                  (pooled standard error under H0, or unpooled), p_value, and the conf \
                  confidence interval of diff (ci_low, ci_high) with the unpooled (Wald) \
                  standard error. Equal rates of 0 or 1 give z 0 and p_value 1.",
    example: r#"SELECT round((t).z, 6) AS z, round((t).p_value, 6) AS p_value,
       round((t).ci_low, 6) AS ci_low, round((t).ci_high, 6) AS ci_high
FROM (SELECT ab_proportions_ztest(200, 2000, 250, 2000) AS t) s"#,
    example_output: r#" z        | p_value  | ci_low   | ci_high
----------+----------+----------+----------
 2.501955 | 0.012351 | 0.005431 | 0.044569"#,
};

pub const AB_CHI2_2X2: FunctionDoc = FunctionDoc {
    name: "ab_chi2_2x2",
    kind: Kind::Scalar,
    params: &[
        required("success_a", "bigint"),
        required("trials_a", "bigint"),
        required("success_b", "bigint"),
        required("trials_b", "bigint"),
        optional("yates", "boolean", "false"),
    ],
    result: "record",
    description: "Pearson's chi-square test of independence on the 2×2 table (arm × \
                  converted): chi2 and p_value (1 degree of freedom), with Yates' \
                  continuity correction when yates is true (scipy's chi2_contingency \
                  default). Without the correction chi2 is the pooled z squared. A table \
                  without any success or any failure gives chi2 0, p_value 1.",
    example: r#"SELECT round((t).chi2, 6) AS chi2, round((t).p_value, 6) AS p_value
FROM (SELECT ab_chi2_2x2(200, 2000, 250, 2000, yates => true) AS t) s"#,
    example_output: r#" chi2     | p_value
----------+---------
 6.011894 | 0.01421"#,
};

pub const AB_FISHER_EXACT: FunctionDoc = FunctionDoc {
    name: "ab_fisher_exact",
    kind: Kind::Scalar,
    params: &[
        required("success_a", "bigint"),
        required("trials_a", "bigint"),
        required("success_b", "bigint"),
        required("trials_b", "bigint"),
    ],
    result: "record",
    description: "Fisher's exact test on the 2×2 table, two-sided as scipy's fisher_exact: \
                  p_value, and odds_ratio = odds of converting in b / odds in a \
                  (Infinity when a never or always converts, NULL when neither odds is \
                  defined). Exact for any counts up to 50 million successes.",
    example: r#"SELECT round((t).p_value, 6) AS p_value, round((t).odds_ratio, 4) AS odds_ratio
FROM (SELECT ab_fisher_exact(200, 2000, 250, 2000) AS t) s"#,
    example_output: r#" p_value  | odds_ratio
----------+------------
 0.014139 | 1.2857"#,
};

pub const AB_BAYES_PROPORTIONS: FunctionDoc = FunctionDoc {
    name: "ab_bayes_proportions",
    kind: Kind::Scalar,
    params: &[
        required("success_a", "bigint"),
        required("trials_a", "bigint"),
        required("success_b", "bigint"),
        required("trials_b", "bigint"),
        optional("prior_alpha", "double precision", "1"),
        optional("prior_beta", "double precision", "1"),
    ],
    result: "record",
    description: "Bayesian comparison of two conversion rates, each with a \
                  Beta(prior_alpha, prior_beta) prior: prob_b_better = P(rate b > rate a), \
                  expected_loss_a = E[max(rate b - rate a, 0)] (what choosing a loses), \
                  expected_loss_b = E[max(rate a - rate b, 0)]. Exact closed form (Evan \
                  Miller's sum), not sampling; prior_alpha must be a whole number.",
    example: r#"SELECT round((t).prob_b_better, 6) AS prob_b_better,
       round(CAST((t).expected_loss_b AS numeric), 8) AS expected_loss_b
FROM (SELECT ab_bayes_proportions(200, 2000, 250, 2000) AS t) s"#,
    example_output: r#" prob_b_better | expected_loss_b
---------------+-----------------
 0.993814      | 0.00001998"#,
};

pub const WILSON_CI: FunctionDoc = FunctionDoc {
    name: "wilson_ci",
    kind: Kind::Scalar,
    params: &[
        required("successes", "bigint"),
        required("trials", "bigint"),
        optional("conf", "double precision", "0.95"),
    ],
    result: "record",
    description: "The Wilson score confidence interval (low, high) of a proportion, as \
                  statsmodels' proportion_confint(method='wilson'); better than the Wald \
                  interval near 0 and 1 and for small samples.",
    example: r#"SELECT round((w).low, 6) AS low, round((w).high, 6) AS high
FROM (SELECT wilson_ci(200, 2000) AS w) s"#,
    example_output: r#" low      | high
----------+----------
 0.087609 | 0.113924"#,
};

pub const AB_SAMPLE_SIZE: FunctionDoc = FunctionDoc {
    name: "ab_sample_size",
    kind: Kind::Scalar,
    params: &[
        required("p_base", "double precision"),
        required("p_target", "double precision"),
        optional("alpha", "double precision", "0.05"),
        optional("power", "double precision", "0.8"),
    ],
    result: "bigint",
    description: "Subjects needed in each arm to detect a change of conversion rate from \
                  p_base to p_target with a two-sided test at significance alpha and the \
                  given power (classic formula, pooled variance under H0), rounded up.",
    example: r#"SELECT ab_sample_size(0.10, 0.12) AS per_arm"#,
    example_output: r#" per_arm
---------
 3841"#,
};

pub const SRM_TEST: FunctionDoc = FunctionDoc {
    name: "srm_test",
    kind: Kind::Scalar,
    params: &[
        required("n_a", "bigint"),
        required("n_b", "bigint"),
        optional("expected_share_a", "double precision", "0.5"),
    ],
    result: "record",
    description: "Sample-ratio mismatch check: chi-square goodness of fit (chi2, p_value) \
                  of the arm sizes to the planned share of arm a. A small p_value (say \
                  below 0.001) means the assignment is broken and the test's results \
                  should not be trusted.",
    example: r#"SELECT (t).chi2 AS chi2, round((t).p_value, 6) AS p_value
FROM (SELECT srm_test(10120, 9880) AS t) s"#,
    example_output: r#" chi2 | p_value
------+----------
 2.88 | 0.089686"#,
};

pub const WELCH_TTEST_FROM_STATS: FunctionDoc = FunctionDoc {
    name: "welch_ttest_from_stats",
    kind: Kind::Scalar,
    params: &[
        required("mean_a", "double precision"),
        required("sd_a", "double precision"),
        required("n_a", "bigint"),
        required("mean_b", "double precision"),
        required("sd_b", "double precision"),
        required("n_b", "bigint"),
        optional("conf", "double precision", "0.95"),
    ],
    result: "record",
    description: "Welch's two-sided t-test from each arm's mean, sample standard deviation \
                  and size: mean_a, mean_b, diff = mean_b - mean_a, t, df \
                  (Welch-Satterthwaite), p_value, and the conf confidence interval of \
                  diff (ci_low, ci_high).",
    example: r#"SELECT round((t).t, 6) AS t, round((t).df, 3) AS df, round((t).p_value, 6) AS p_value
FROM (SELECT welch_ttest_from_stats(10.5, 2.3, 1000, 10.8, 2.5, 1000) AS t) s"#,
    example_output: r#" t        | df       | p_value
----------+----------+----------
 2.792662 | 1984.268 | 0.005278"#,
};

/// The functions, for the registry.
pub fn scalar_udfs() -> Vec<ScalarUDF> {
    SPECS
        .iter()
        .map(|spec| ScalarUDF::new_from_impl(AbScalar::new(spec)))
        .collect()
}

/// The fields of a t-test's result, for these functions and the aggregates.
pub const TTEST_FIELDS: &[&str] = &[
    "mean_a", "mean_b", "diff", "t", "df", "p_value", "ci_low", "ci_high",
];

/// A t-test's values in [`TTEST_FIELDS`] order.
pub fn ttest_values(t: &TTest) -> Vec<Option<f64>> {
    [
        t.mean_a, t.mean_b, t.diff, t.t, t.df, t.p_value, t.ci_low, t.ci_high,
    ]
    .into_iter()
    .map(Some)
    .collect()
}

/// One function: its documentation, result fields (none: one bigint) and statistic,
/// given every argument (defaults filled in; flags as 0 or 1).
struct Spec {
    doc: &'static FunctionDoc,
    fields: &'static [&'static str],
    compute: fn(&[f64]) -> Outcome<Vec<Option<f64>>>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.doc.name)
    }
}

const SPECS: &[Spec] = &[
    Spec {
        doc: &AB_PROPORTIONS_ZTEST,
        fields: &[
            "p_a", "p_b", "diff", "rel_lift", "z", "p_value", "ci_low", "ci_high",
        ],
        compute: |v| {
            let t = ab_test::proportions_ztest(v[0], v[1], v[2], v[3], v[4], v[5] != 0.0)?;
            Ok(vec![
                Some(t.p_a),
                Some(t.p_b),
                Some(t.diff),
                t.rel_lift,
                Some(t.z),
                Some(t.p_value),
                Some(t.ci_low),
                Some(t.ci_high),
            ])
        },
    },
    Spec {
        doc: &AB_CHI2_2X2,
        fields: &["chi2", "p_value"],
        compute: |v| {
            let t = ab_test::chi2_2x2(v[0], v[1], v[2], v[3], v[4] != 0.0)?;
            Ok(vec![Some(t.chi2), Some(t.p_value)])
        },
    },
    Spec {
        doc: &AB_FISHER_EXACT,
        fields: &["p_value", "odds_ratio"],
        compute: |v| {
            let t = ab_test::fisher_exact(v[0], v[1], v[2], v[3])?;
            Ok(vec![Some(t.p_value), t.odds_ratio])
        },
    },
    Spec {
        doc: &AB_BAYES_PROPORTIONS,
        fields: &["prob_b_better", "expected_loss_a", "expected_loss_b"],
        compute: |v| {
            let t = ab_test::bayes_proportions(v[0], v[1], v[2], v[3], v[4], v[5])?;
            Ok(vec![
                Some(t.prob_b_better),
                Some(t.expected_loss_a),
                Some(t.expected_loss_b),
            ])
        },
    },
    Spec {
        doc: &WILSON_CI,
        fields: &["low", "high"],
        compute: |v| {
            let i = ab_test::wilson_ci(v[0], v[1], v[2])?;
            Ok(vec![Some(i.low), Some(i.high)])
        },
    },
    Spec {
        doc: &AB_SAMPLE_SIZE,
        fields: &[],
        compute: |v| Ok(vec![Some(ab_test::sample_size(v[0], v[1], v[2], v[3])?)]),
    },
    Spec {
        doc: &SRM_TEST,
        fields: &["chi2", "p_value"],
        compute: |v| {
            let t = ab_test::srm_test(v[0], v[1], v[2])?;
            Ok(vec![Some(t.chi2), Some(t.p_value)])
        },
    },
    Spec {
        doc: &WELCH_TTEST_FROM_STATS,
        fields: TTEST_FIELDS,
        compute: |v| {
            for (i, sd) in [(1, v[1]), (4, v[4])] {
                let valid = sd >= 0.0;
                if !valid {
                    return Err(ab_test::Error(format!(
                        "{} must be ≥ 0, got {sd}",
                        WELCH_TTEST_FROM_STATS.params[i].name
                    )));
                }
            }
            let a = Summary::from_stats(v[0], v[1], v[2]);
            let b = Summary::from_stats(v[3], v[4], v[5]);
            Ok(ttest_values(&ab_test::ttest(
                &a,
                &b,
                Variances::Unequal,
                v[6],
            )?))
        },
    },
];

/// A struct of nullable doubles with these field names.
pub fn double_struct(fields: &[&str]) -> DataType {
    DataType::Struct(double_fields(fields))
}

fn double_fields(fields: &[&str]) -> Fields {
    fields
        .iter()
        .map(|name| Field::new(*name, DataType::Float64, true))
        .collect()
}

/// A column of `rows` structs of doubles (`None`: a NULL struct).
pub fn double_struct_array(fields: &[&str], rows: &[Option<Vec<Option<f64>>>]) -> StructArray {
    let columns: Vec<ArrayRef> = (0..fields.len())
        .map(|i| {
            let mut column = Float64Builder::with_capacity(rows.len());
            for row in rows {
                column.append_option(row.as_ref().and_then(|values| values[i]));
            }
            Arc::new(column.finish()) as ArrayRef
        })
        .collect();
    let nulls = rows.iter().map(Option::is_some).collect::<Vec<_>>();
    StructArray::new(double_fields(fields), columns, Some(nulls.into()))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct AbScalar {
    spec: &'static Spec,
    signature: Signature,
    documentation: Documentation,
}

impl PartialEq for Spec {
    fn eq(&self, other: &Self) -> bool {
        self.doc.name == other.doc.name
    }
}

impl Eq for Spec {}

impl std::hash::Hash for Spec {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.doc.name.hash(state);
    }
}

impl AbScalar {
    fn new(spec: &'static Spec) -> Self {
        Self {
            spec,
            signature: spec.doc.signature(Volatility::Immutable),
            documentation: spec.doc.documentation(),
        }
    }

    /// The value of parameter `i` when the call stops before it.
    fn default(&self, i: usize) -> f64 {
        match self.spec.doc.params[i].default {
            Some("true") => 1.0,
            Some("false") => 0.0,
            Some(number) => number.parse().unwrap_or(f64::NAN),
            None => f64::NAN,
        }
    }
}

fn is_flag(pg_type: &str) -> bool {
    pg_type == "boolean"
}

impl ScalarUDFImpl for AbScalar {
    fn name(&self) -> &str {
        self.spec.doc.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let doc = self.spec.doc;
        let required = doc.params.iter().filter(|p| p.default.is_none()).count();
        if arg_types.len() < required || arg_types.len() > doc.params.len() {
            return plan_err!(
                "function {} expects {required} to {} arguments: {}",
                doc.name,
                doc.params.len(),
                doc.arguments()
            );
        }
        arg_types
            .iter()
            .zip(doc.params)
            .map(|(t, p)| match (is_flag(p.pg_type), t) {
                (true, DataType::Boolean | DataType::Null) => Ok(DataType::Boolean),
                (false, t) if t.is_numeric() || *t == DataType::Null => Ok(DataType::Float64),
                (flag, other) => plan_err!(
                    "function {} expects {} to be {}, got {other}",
                    doc.name,
                    p.name,
                    if flag { "a boolean" } else { "a number" }
                ),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.spec.fields.is_empty() {
            DataType::Int64
        } else {
            double_struct(self.spec.fields)
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let columns = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let arity = self.spec.doc.params.len();
        let mut values = vec![0.0; arity];
        let mut out: Vec<Option<Vec<Option<f64>>>> = Vec::with_capacity(rows);
        for row in 0..rows {
            let mut null = false;
            for (i, value) in values.iter_mut().enumerate() {
                *value = match columns.get(i) {
                    None => self.default(i),
                    Some(c) if c.is_null(row) => {
                        null = true;
                        break;
                    }
                    Some(c) => match c.data_type() {
                        DataType::Boolean => f64::from(u8::from(c.as_boolean().value(row))),
                        _ => c.as_primitive::<Float64Type>().value(row),
                    },
                };
            }
            if null {
                out.push(None);
                continue;
            }
            let result = (self.spec.compute)(&values)
                .map_err(|e| invalid_argument(self.spec.doc.name, e.0))?;
            out.push(Some(result));
        }
        let array: ArrayRef = if self.spec.fields.is_empty() {
            Arc::new(
                out.iter()
                    .map(|r| r.as_ref().and_then(|v| v[0]).map(|x| x as i64))
                    .collect::<Int64Array>(),
            )
        } else {
            Arc::new(double_struct_array(self.spec.fields, &out))
        };
        Ok(ColumnarValue::Array(array))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

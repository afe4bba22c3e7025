//! The A/B test aggregates over raw rows: `welch_ttest(value, is_treatment [, conf])`,
//! `student_ttest(...)`, `cuped_ttest(value, pre_value, is_treatment [, conf])` and
//! `mann_whitney_u(value, is_treatment)`. Their states are exact sums and exact value
//! counts ([`crate::marketing::exact_sum`], [`RankCounts`]), so a result does not depend
//! on how the rows were partitioned. Rows with a NULL value or flag are skipped; an arm
//! with too few values gives NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

use super::ab_test::{double_struct, double_struct_array, ttest_values, TTEST_FIELDS};
use super::float_lists::{float_list_type, float_list_value};
use crate::error::invalid_argument;
use crate::marketing::ab_test::{self, CupedSums, RankCounts, Summary, Variances};
use crate::marketing::exact_sum::{ExactSum, Moments};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const WELCH_TTEST: FunctionDoc = FunctionDoc {
    name: "welch_ttest",
    kind: Kind::Aggregate,
    params: &[
        required("value", "double precision"),
        required("is_treatment", "boolean"),
        optional("conf", "double precision", "0.95"),
    ],
    result: "record",
    description: "Welch's two-sided t-test of the mean of value in the treatment rows (b) \
                  against the others (a): mean_a, mean_b, diff = mean_b - mean_a, t, df \
                  (Welch-Satterthwaite), p_value, ci_low, ci_high (conf interval of diff). \
                  Exact sums: the same answer however the rows are partitioned. NULL when \
                  an arm has fewer than 2 values.",
    example: r#"SELECT round((t).t, 6) AS t, round((t).p_value, 6) AS p_value
FROM (SELECT welch_ttest(v, g = 'x') AS t
      FROM (VALUES (20.3, 'x'), (22.1, 'x'), (21.9, 'x'), (18.9, 'y'), (20.3, 'y'), (19.0, 'y')) s(v, g)) w"#,
    example_output: r#" t        | p_value
----------+----------
 2.798872 | 0.051807"#,
};

pub const STUDENT_TTEST: FunctionDoc = FunctionDoc {
    name: "student_ttest",
    kind: Kind::Aggregate,
    params: &[
        required("value", "double precision"),
        required("is_treatment", "boolean"),
        optional("conf", "double precision", "0.95"),
    ],
    result: "record",
    description: "Student's two-sided t-test (one pooled variance, n_a + n_b - 2 degrees \
                  of freedom) of the mean of value in the treatment rows (b) against the \
                  others (a); the same fields as welch_ttest.",
    example: r#"SELECT round((t).t, 6) AS t, (t).df AS df, round((t).p_value, 6) AS p_value
FROM (SELECT student_ttest(v, g = 'x') AS t
      FROM (VALUES (20.3, 'x'), (22.1, 'x'), (21.9, 'x'), (18.9, 'y'), (20.3, 'y'), (19.0, 'y')) s(v, g)) w"#,
    example_output: r#" t        | df | p_value
----------+----+----------
 2.798872 | 4  | 0.048868"#,
};

pub const CUPED_TTEST: FunctionDoc = FunctionDoc {
    name: "cuped_ttest",
    kind: Kind::Aggregate,
    params: &[
        required("value", "double precision"),
        required("pre_value", "double precision"),
        required("is_treatment", "boolean"),
        optional("conf", "double precision", "0.95"),
    ],
    result: "record",
    description: "CUPED (Deng et al. 2013): Welch's t-test on value - theta × (pre_value - \
                  mean pre_value), theta = Cov(pre_value, value) / Var(pre_value) over both \
                  arms, which removes the variance the pre-period metric explains. The \
                  fields of welch_ttest (means adjusted) and variance_reduction, the share \
                  of the variance removed. NULL when an arm has fewer than 2 rows.",
    example: r#"SELECT round((t).diff, 4) AS diff, round((t).variance_reduction, 4) AS variance_reduction
FROM (SELECT cuped_ttest(v, pre, g = 'b') AS t
      FROM (VALUES (12.0, 10.0, 'a'), (9.0, 8.0, 'a'), (15.0, 14.0, 'a'),
                   (14.0, 10.0, 'b'), (12.0, 9.0, 'b'), (17.0, 13.0, 'b')) s(v, pre, g)) w"#,
    example_output: r#" diff   | variance_reduction
--------+--------------------
 2.3333 | 0.7563"#,
};

pub const MANN_WHITNEY_U: FunctionDoc = FunctionDoc {
    name: "mann_whitney_u",
    kind: Kind::Aggregate,
    params: &[
        required("value", "double precision"),
        required("is_treatment", "boolean"),
    ],
    result: "record",
    description: "The Mann-Whitney U test of the treatment rows (b) against the others (a), \
                  two-sided: u = pairs (a, b) with b's value above a's (ties count one \
                  half), p_value by the normal approximation with tie and continuity \
                  correction (scipy's mannwhitneyu(b, a, method='asymptotic')). Holds \
                  each distinct value once. NULL when an arm is empty.",
    example: r#"SELECT (t).u AS u, round((t).p_value, 6) AS p_value
FROM (SELECT mann_whitney_u(v, g = 'x') AS t
      FROM (VALUES (20.3, 'x'), (22.1, 'x'), (21.9, 'x'), (18.9, 'y'), (20.3, 'y'), (19.0, 'y')) s(v, g)) w"#,
    example_output: r#" u   | p_value
-----+----------
 8.5 | 0.121183"#,
};

/// The aggregates, for the registry.
pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    [Test::Welch, Test::Student, Test::Cuped, Test::MannWhitney]
        .into_iter()
        .map(|test| AggregateUDF::new_from_impl(AbAggregate::new(test)))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Test {
    Welch,
    Student,
    Cuped,
    MannWhitney,
}

const CUPED_FIELDS: &[&str] = &[
    "mean_a",
    "mean_b",
    "diff",
    "t",
    "df",
    "p_value",
    "ci_low",
    "ci_high",
    "variance_reduction",
];

impl Test {
    fn doc(self) -> &'static FunctionDoc {
        match self {
            Test::Welch => &WELCH_TTEST,
            Test::Student => &STUDENT_TTEST,
            Test::Cuped => &CUPED_TTEST,
            Test::MannWhitney => &MANN_WHITNEY_U,
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Test::Welch | Test::Student => TTEST_FIELDS,
            Test::Cuped => CUPED_FIELDS,
            Test::MannWhitney => &["u", "p_value"],
        }
    }

    /// Arguments before the flag.
    fn values(self) -> usize {
        if self == Test::Cuped {
            2
        } else {
            1
        }
    }

    /// The state's columns: per arm the count and partials of each exact sum; for the
    /// rank test the distinct values with their counts in each arm.
    fn state_names(self) -> Vec<String> {
        match self {
            Test::MannWhitney => vec!["values".into(), "count_a".into(), "count_b".into()],
            _ => ["a", "b"]
                .iter()
                .flat_map(|arm| {
                    SUMS[..self.sums()]
                        .iter()
                        .map(move |s| format!("{s}_{arm}"))
                })
                .collect(),
        }
    }

    /// Exact sums per arm: Σy, Σy², and for CUPED Σx, Σx², Σxy.
    fn sums(self) -> usize {
        if self == Test::Cuped {
            5
        } else {
            2
        }
    }
}

const SUMS: [&str; 5] = ["sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy"];

#[derive(Debug, PartialEq, Eq, Hash)]
struct AbAggregate {
    test: Test,
    signature: Signature,
    documentation: Documentation,
}

impl AbAggregate {
    fn new(test: Test) -> Self {
        Self {
            test,
            signature: test.doc().signature(Volatility::Immutable),
            documentation: test.doc().documentation(),
        }
    }
}

impl AggregateUDFImpl for AbAggregate {
    fn name(&self) -> &str {
        self.test.doc().name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let doc = self.test.doc();
        let values = self.test.values();
        if arg_types.len() <= values || arg_types.len() > doc.params.len() {
            return plan_err!("function {} expects ({})", doc.name, doc.arguments());
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let name = doc.params[i].name;
                if i == values {
                    match t {
                        DataType::Boolean | DataType::Null => Ok(DataType::Boolean),
                        other => plan_err!(
                            "function {} expects {name} to be a boolean (true for the treatment), got {other}",
                            doc.name
                        ),
                    }
                } else if t.is_numeric() || *t == DataType::Null {
                    Ok(DataType::Float64)
                } else {
                    plan_err!("function {} expects {name} to be a number, got {t}", doc.name)
                }
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(double_struct(self.test.fields()))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let doc = self.test.doc();
        let conf_at = self.test.values() + 1;
        let conf = match args.exprs.get(conf_at) {
            None => 0.95,
            Some(e) => match e.downcast_ref::<Literal>().map(|l| l.value()) {
                Some(ScalarValue::Float64(Some(c))) => *c,
                _ => {
                    return Err(invalid_argument(
                        doc.name,
                        "conf must be a constant between 0 and 1",
                    ))
                }
            },
        };
        if !(conf > 0.0 && conf < 1.0) {
            return Err(invalid_argument(
                doc.name,
                format!("conf must be between 0 and 1 (exclusive), got {conf}"),
            ));
        }
        Ok(Box::new(AbAccumulator {
            test: self.test,
            conf,
            arms: Default::default(),
            ranks: RankCounts::default(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(self
            .test
            .state_names()
            .into_iter()
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

#[derive(Debug)]
struct AbAccumulator {
    test: Test,
    conf: f64,
    /// Arm a (control) and arm b (treatment).
    arms: [CupedSums; 2],
    ranks: RankCounts,
}

impl AbAccumulator {
    /// One arm's exact sums in state order.
    fn sums(&self, arm: usize) -> [&ExactSum; 5] {
        let s = &self.arms[arm];
        [
            &s.y.sum,
            &s.y.sum_squares,
            &s.x.sum,
            &s.x.sum_squares,
            &s.xy,
        ]
    }

    fn result(&self) -> ab_test::Outcome<Option<Vec<Option<f64>>>> {
        let [a, b] = &self.arms;
        Ok(match self.test {
            Test::MannWhitney => {
                let (n_a, n_b) = self.ranks.arm_sizes();
                if n_a == 0.0 || n_b == 0.0 {
                    return Ok(None);
                }
                let t = ab_test::mann_whitney_u(&self.ranks)?;
                Some(vec![Some(t.u), Some(t.p_value)])
            }
            _ if a.y.n < 2.0 || b.y.n < 2.0 => None,
            Test::Cuped => {
                let t = ab_test::cuped_ttest(a, b, self.conf)?;
                let mut values = ttest_values(&t.test);
                values.push(Some(t.variance_reduction));
                Some(values)
            }
            test => {
                let variances = if test == Test::Welch {
                    Variances::Unequal
                } else {
                    Variances::Pooled
                };
                let summary = |m: &Moments| Summary::from_moments(m);
                Some(ttest_values(&ab_test::ttest(
                    &summary(&a.y),
                    &summary(&b.y),
                    variances,
                    self.conf,
                )?))
            }
        })
    }
}

impl Accumulator for AbAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let n = self.test.values();
        let y = values[0].as_primitive::<Float64Type>();
        let x = (n == 2).then(|| values[1].as_primitive::<Float64Type>());
        let flags = values[n].as_boolean();
        for row in 0..y.len() {
            if y.is_null(row) || flags.is_null(row) || x.is_some_and(|x| x.is_null(row)) {
                continue;
            }
            let value = y.value(row);
            if value.is_nan() {
                continue;
            }
            let treatment = flags.value(row);
            match (self.test, x) {
                (Test::MannWhitney, _) => self.ranks.push(value, treatment),
                (_, Some(x)) => self.arms[usize::from(treatment)].push(value, x.value(row)),
                _ => self.arms[usize::from(treatment)].y.push(value),
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        if self.test == Test::MannWhitney {
            let rows: Vec<(f64, f64, f64)> = self.ranks.iter().collect();
            return Ok(vec![
                float_list_value(rows.iter().map(|r| r.0)),
                float_list_value(rows.iter().map(|r| r.1)),
                float_list_value(rows.iter().map(|r| r.2)),
            ]);
        }
        let mut state = Vec::new();
        for arm in 0..2 {
            for (i, sum) in self.sums(arm).iter().take(self.test.sums()).enumerate() {
                // The count rides in front of the first sum's partials.
                if i == 0 {
                    let mut carried = vec![self.arms[arm].y.n];
                    carried.extend_from_slice(sum.partials());
                    state.push(float_list_value(carried));
                } else {
                    state.push(float_list_value(sum.partials().iter().copied()));
                }
            }
        }
        Ok(state)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<&ListArray> = states.iter().map(|s| s.as_list::<i32>()).collect();
        let floats = |l: &ListArray, row: usize| -> Vec<f64> {
            let values = l.value(row);
            values
                .as_any()
                .downcast_ref::<Float64Array>()
                .map(|a| a.values().to_vec())
                .unwrap_or_default()
        };
        for row in 0..lists[0].len() {
            if lists[0].is_null(row) {
                continue;
            }
            if self.test == Test::MannWhitney {
                let (values, a, b) = (
                    floats(lists[0], row),
                    floats(lists[1], row),
                    floats(lists[2], row),
                );
                for ((v, a), b) in values.iter().zip(&a).zip(&b) {
                    self.ranks.add(*v, (*a, *b));
                }
                continue;
            }
            let per_arm = self.test.sums();
            for arm in 0..2 {
                let mut other = CupedSums::default();
                let mut first = floats(lists[arm * per_arm], row);
                let n = if first.is_empty() {
                    0.0
                } else {
                    first.remove(0)
                };
                other.y.n = n;
                other.x.n = n;
                other.y.sum = ExactSum::from_partials(&first);
                other.y.sum_squares =
                    ExactSum::from_partials(&floats(lists[arm * per_arm + 1], row));
                if per_arm == 5 {
                    other.x.sum = ExactSum::from_partials(&floats(lists[arm * per_arm + 2], row));
                    other.x.sum_squares =
                        ExactSum::from_partials(&floats(lists[arm * per_arm + 3], row));
                    other.xy = ExactSum::from_partials(&floats(lists[arm * per_arm + 4], row));
                }
                self.arms[arm].merge(&other);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let result = self
            .result()
            .map_err(|e| invalid_argument(self.test.doc().name, e.0))?;
        let array = double_struct_array(self.test.fields(), &[result]);
        Ok(ScalarValue::Struct(Arc::new(array)))
    }

    fn size(&self) -> usize {
        let partials: usize = (0..2)
            .flat_map(|arm| self.sums(arm).map(|s| s.partials().len()))
            .sum();
        std::mem::size_of_val(self) + partials * 8 + self.ranks.len() * 48
    }
}

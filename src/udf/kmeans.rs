//! The k-means SQL functions: `kmeans_fit(features, k [, seed [, init [, standardize [,
//! max_iter [, n_init]]]]])` (aggregate → model struct), `kmeans_assign(features,
//! model)` (→ 1-based cluster) and `kmeans_distance(features, model)`. The algorithm is
//! [`crate::marketing::kmeans`]; here are Arrow conversions and argument checks.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray,
    ListBuilder, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Documentation, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

use super::float_lists::float_list_type;
use crate::error::invalid_argument;
use crate::marketing::kmeans::{self, Init, Model, Options, Points};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const KMEANS_FIT: FunctionDoc = FunctionDoc {
    name: "kmeans_fit",
    kind: Kind::Aggregate,
    params: &[
        required("features", "double precision[]"),
        required("k", "integer"),
        optional("seed", "bigint", "42"),
        optional("init", "text", "'kmeans++'"),
        optional("standardize", "boolean", "true"),
        optional("max_iter", "integer", "100"),
        optional("n_init", "integer", "10"),
    ],
    result: "record",
    description: "Fits k-means to the feature arrays of the group and returns the model: \
                  k, dims, centroids (k × dims values, row-major, standardised space), mean and std (population) of each \
                  feature, sizes, inertia (sum of squared distances, standardised space), \
                  iterations and converged. init is 'kmeans++' (seeded, best of n_init \
                  starts) or a boolean expression marking exactly k rows whose features \
                  are the initial centroids. Rows with NULL features are skipped. \
                  Deterministic for a seed whatever the partitioning; clusters are \
                  numbered 1..k by centroid in lexicographic order.",
    example: r#"SELECT get_field(m, 'sizes') AS sizes, get_field(m, 'converged') AS converged
FROM (SELECT kmeans_fit([x], 2) AS m FROM (VALUES (1.0), (2.0), (10.0)) t(x)) s"#,
    example_output: r#" sizes | converged
-------+-----------
 {2,1} | t"#,
};

pub const KMEANS_ASSIGN: FunctionDoc = FunctionDoc {
    name: "kmeans_assign",
    kind: Kind::Scalar,
    params: &[
        required("features", "double precision[]"),
        required("model", "record"),
    ],
    result: "integer",
    description: "The 1-based cluster of a feature array under a model from kmeans_fit \
                  (standardised with the model's means and stds). NULL features give NULL.",
    example: r#"WITH s AS (SELECT kmeans_fit([x], 2) AS m FROM (VALUES (1.0), (2.0), (10.0)) t(x))
SELECT kmeans_assign([1.5], m) AS low, kmeans_assign([9.0], m) AS high FROM s"#,
    example_output: r#" low | high
-----+------
 1   | 2"#,
};

pub const KMEANS_DISTANCE: FunctionDoc = FunctionDoc {
    name: "kmeans_distance",
    kind: Kind::Scalar,
    params: &[
        required("features", "double precision[]"),
        required("model", "record"),
    ],
    result: "double precision",
    description: "The Euclidean distance (standardised space) of a feature array to the \
                  centroid of its cluster under a model from kmeans_fit.",
    example: r#"WITH s AS (SELECT kmeans_fit([x], 2) AS m FROM (VALUES (1.0), (2.0), (10.0)) t(x))
SELECT round(kmeans_distance([9.0], m), 4) AS distance FROM s"#,
    example_output: r#" distance
----------
 0.2483"#,
};

pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    vec![AggregateUDF::new_from_impl(KmeansFit::new())]
}

pub fn scalar_udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(KmeansApply::new(&KMEANS_ASSIGN)),
        ScalarUDF::new_from_impl(KmeansApply::new(&KMEANS_DISTANCE)),
    ]
}

fn features_type() -> DataType {
    float_list_type()
}

/// The model's struct type.
pub fn model_type() -> DataType {
    DataType::Struct(model_fields())
}

fn model_fields() -> Fields {
    Fields::from(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("dims", DataType::Int64, false),
        // k × dims values, row-major: PostgreSQL clients get a plain float8[].
        Field::new("centroids", float_list_type(), false),
        Field::new("mean", float_list_type(), false),
        Field::new("std", float_list_type(), false),
        Field::new(
            "sizes",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            false,
        ),
        Field::new("inertia", DataType::Float64, false),
        Field::new("iterations", DataType::Int64, false),
        Field::new("converged", DataType::Boolean, false),
    ])
}

/// Feature arrays of any numeric element type become `double precision[]`.
fn coerce_features(function: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
            if f.data_type().is_numeric() || *f.data_type() == DataType::Null =>
        {
            Ok(features_type())
        }
        DataType::Null => Ok(features_type()),
        other => plan_err!(
            "function {function} expects features as an array of numbers, such as [x, y, z], got {other}"
        ),
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct KmeansFit {
    signature: Signature,
    documentation: Documentation,
}

impl KmeansFit {
    fn new() -> Self {
        Self {
            signature: KMEANS_FIT.signature(Volatility::Immutable),
            documentation: KMEANS_FIT.documentation(),
        }
    }
}

fn literal(args: &AccumulatorArgs, i: usize) -> Result<Option<ScalarValue>> {
    let Some(expr) = args.exprs.get(i) else {
        return Ok(None);
    };
    match expr.downcast_ref::<Literal>() {
        Some(l) => Ok(Some(l.value().clone())),
        None => Err(invalid_argument(
            "kmeans_fit",
            format!("{} must be a constant", KMEANS_FIT.params[i].name),
        )),
    }
}

fn integer(args: &AccumulatorArgs, i: usize, default: i64, range: (i64, i64)) -> Result<i64> {
    let name = KMEANS_FIT.params[i].name;
    match literal(args, i)? {
        None => Ok(default),
        Some(v) => match v.cast_to(&DataType::Int64) {
            Ok(ScalarValue::Int64(Some(x))) if (range.0..=range.1).contains(&x) => Ok(x),
            _ => Err(invalid_argument(
                "kmeans_fit",
                format!(
                    "{name} must be an integer from {} to {}, got {v}",
                    range.0, range.1
                ),
            )),
        },
    }
}

impl AggregateUDFImpl for KmeansFit {
    fn name(&self) -> &str {
        KMEANS_FIT.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 2 || arg_types.len() > KMEANS_FIT.params.len() {
            return plan_err!(
                "function kmeans_fit expects 2 to 7 arguments: {}",
                KMEANS_FIT.arguments()
            );
        }
        let mut out = vec![coerce_features("kmeans_fit", &arg_types[0])?];
        for (i, t) in arg_types.iter().enumerate().skip(1) {
            out.push(match i {
                3 if *t == DataType::Boolean => DataType::Boolean,
                3 => DataType::Utf8,
                4 => DataType::Boolean,
                _ => DataType::Int64,
            });
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(model_type())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let k = integer(&args, 1, 0, (1, 10_000))? as usize;
        let seed = integer(&args, 2, 42, (i64::MIN, i64::MAX))? as u64;
        let flagged = args
            .expr_fields
            .get(3)
            .is_some_and(|f| *f.data_type() == DataType::Boolean);
        let init = if flagged {
            Init::Given
        } else {
            match literal(&args, 3)? {
                None => Init::PlusPlus { seed, starts: 0 },
                Some(ScalarValue::Utf8(Some(m)))
                    if m.eq_ignore_ascii_case("kmeans++") || m.eq_ignore_ascii_case("k-means++") =>
                {
                    Init::PlusPlus { seed, starts: 0 }
                }
                Some(other) => {
                    return Err(invalid_argument(
                        "kmeans_fit",
                        format!(
                            "init must be 'kmeans++' or a boolean marking the initial centroids, got {other}"
                        ),
                    ))
                }
            }
        };
        let standardize = match literal(&args, 4)? {
            None => true,
            Some(ScalarValue::Boolean(Some(b))) => b,
            Some(other) => {
                return Err(invalid_argument(
                    "kmeans_fit",
                    format!("standardize must be true or false, got {other}"),
                ))
            }
        };
        let max_iter = integer(&args, 5, 100, (1, 100_000))? as usize;
        let starts = integer(&args, 6, 10, (1, 1_000))? as usize;
        let init = match init {
            Init::PlusPlus { seed, .. } => Init::PlusPlus { seed, starts },
            given => given,
        };
        Ok(Box::new(FitAccumulator {
            options: Options {
                k,
                init,
                standardize,
                max_iter,
            },
            flagged,
            points: None,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[dims]", args.name),
                DataType::Int64,
                true,
            )),
            Arc::new(Field::new(
                format!("{}[values]", args.name),
                float_list_type(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[initial]", args.name),
                DataType::List(Arc::new(Field::new_list_field(DataType::Boolean, true))),
                true,
            )),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

#[derive(Debug)]
struct FitAccumulator {
    options: Options,
    flagged: bool,
    points: Option<Points>,
}

impl FitAccumulator {
    fn add(&mut self, point: &[f64], initial: bool) -> Result<()> {
        let points = self.points.get_or_insert_with(|| Points::new(point.len()));
        if point.len() != points.dims {
            return Err(invalid_argument(
                "kmeans_fit",
                format!(
                    "every features array must have {} elements, got {}",
                    points.dims,
                    point.len()
                ),
            ));
        }
        points.push(point, initial);
        Ok(())
    }
}

impl Accumulator for FitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let lists = values[0].as_list::<i32>();
        let flags = if self.flagged {
            Some(values[3].as_boolean())
        } else {
            None
        };
        for row in 0..lists.len() {
            if lists.is_null(row) {
                continue;
            }
            let item = lists.value(row);
            let item = item.as_primitive::<Float64Type>();
            if item.null_count() > 0 || item.is_empty() {
                continue;
            }
            let initial = flags.is_some_and(|f| f.is_valid(row) && f.value(row));
            self.add(item.values(), initial)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let points = self.points.take().unwrap_or_default();
        let values = ListArray::from_iter_primitive::<Float64Type, _, _>(std::iter::once(Some(
            points.values.iter().map(|v| Some(*v)),
        )));
        let mut initial = ListBuilder::new(datafusion::arrow::array::BooleanBuilder::new());
        initial
            .values()
            .extend(points.initial.iter().map(|b| Some(*b)));
        initial.append(true);
        let state = vec![
            ScalarValue::Int64((points.dims > 0).then_some(points.dims as i64)),
            ScalarValue::List(Arc::new(values)),
            ScalarValue::List(Arc::new(initial.finish())),
        ];
        self.points = Some(points);
        Ok(state)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let dims = states[0].as_primitive::<Int64Type>();
        let values = states[1].as_list::<i32>();
        let initial = states[2].as_list::<i32>();
        for row in 0..dims.len() {
            if dims.is_null(row) {
                continue;
            }
            let d = dims.value(row) as usize;
            let v = values.value(row);
            let v = v.as_primitive::<Float64Type>().values();
            let flags = initial.value(row);
            let flags = flags.as_boolean();
            for (i, point) in v.chunks(d).enumerate() {
                self.add(point, flags.value(i))?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some(points) = &self.points else {
            return ScalarValue::try_from(model_type());
        };
        let model =
            kmeans::fit(points, &self.options).map_err(|m| invalid_argument("kmeans_fit", m))?;
        Ok(ScalarValue::Struct(Arc::new(model_array(&model))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .points
                .as_ref()
                .map_or(0, |p| p.values.capacity() * 8 + p.initial.capacity())
    }
}

fn float_list_array(rows: &[&[f64]]) -> ListArray {
    ListArray::from_iter_primitive::<Float64Type, _, _>(
        rows.iter().map(|r| Some(r.iter().map(|v| Some(*v)))),
    )
}

/// A one-row struct array holding `model`.
fn model_array(model: &Model) -> StructArray {
    let flat: Vec<f64> = model.centroids.concat();
    let sizes = ListArray::from_iter_primitive::<Int64Type, _, _>(std::iter::once(Some(
        model.sizes.iter().map(|s| Some(*s as i64)),
    )));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![model.centroids.len() as i64])),
        Arc::new(Int64Array::from(vec![model.mean.len() as i64])),
        Arc::new(float_list_array(&[&flat])),
        Arc::new(float_list_array(&[&model.mean])),
        Arc::new(float_list_array(&[&model.std])),
        Arc::new(sizes),
        Arc::new(Float64Array::from(vec![model.inertia])),
        Arc::new(Int64Array::from(vec![model.iterations as i64])),
        Arc::new(BooleanArray::from(vec![model.converged])),
    ];
    // The fields' list item types must match the arrays built above.
    let fields: Fields = model_fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| Arc::new(Field::new(f.name(), c.data_type().clone(), false)))
        .collect();
    StructArray::new(fields, columns, None)
}

/// Reads row `row` of a model struct array.
fn read_model(models: &StructArray, row: usize) -> Option<Model> {
    if models.is_null(row) {
        return None;
    }
    let column = |name: &str| models.column_by_name(name);
    let floats = |a: ArrayRef| a.as_primitive::<Float64Type>().values().to_vec();
    let dims = usize::try_from(column("dims")?.as_primitive::<Int64Type>().value(row)).ok()?;
    let centroids = floats(column("centroids")?.as_list::<i32>().value(row))
        .chunks(dims.max(1))
        .map(<[f64]>::to_vec)
        .collect();
    Some(Model {
        centroids,
        mean: floats(column("mean")?.as_list::<i32>().value(row)),
        std: floats(column("std")?.as_list::<i32>().value(row)),
        sizes: column("sizes")?
            .as_list::<i32>()
            .value(row)
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|s| *s as u64)
            .collect(),
        inertia: column("inertia")?.as_primitive::<Float64Type>().value(row),
        iterations: column("iterations")?.as_primitive::<Int64Type>().value(row) as usize,
        converged: column("converged")?.as_boolean().value(row),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct KmeansApply {
    doc: &'static FunctionDoc,
    signature: Signature,
    documentation: Documentation,
}

impl KmeansApply {
    fn new(doc: &'static FunctionDoc) -> Self {
        Self {
            doc,
            signature: doc.signature(Volatility::Immutable),
            documentation: doc.documentation(),
        }
    }

    fn distance(&self) -> bool {
        self.doc.name == KMEANS_DISTANCE.name
    }
}

impl ScalarUDFImpl for KmeansApply {
    fn name(&self) -> &str {
        self.doc.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [features, model] = arg_types else {
            return plan_err!("function {} expects (features, model)", self.doc.name);
        };
        if !matches!(model, DataType::Struct(_) | DataType::Null) {
            return plan_err!(
                "function {} expects a model from kmeans_fit as its second argument, got {model}",
                self.doc.name
            );
        }
        Ok(vec![
            coerce_features(self.doc.name, features)?,
            model.clone(),
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.distance() {
            DataType::Float64
        } else {
            DataType::Int32
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let features = args.args[0].to_array(rows)?;
        let features = features.as_list::<i32>();
        let models = args.args[1].to_array(rows)?;
        let Some(models) = models.as_struct_opt() else {
            return Err(invalid_argument(
                self.doc.name,
                "model must come from kmeans_fit",
            ));
        };
        let mut cached: Option<(usize, Model)> = None;
        let mut clusters = Vec::with_capacity(rows);
        let mut distances = Vec::with_capacity(rows);
        for row in 0..rows {
            let point = (!features.is_null(row)).then(|| features.value(row));
            let point = point
                .as_ref()
                .map(|p| p.as_primitive::<Float64Type>())
                .filter(|p| p.null_count() == 0);
            // The model is usually the same value on every row: parse it once.
            let same = cached
                .as_ref()
                .is_some_and(|(r, _)| models.slice(*r, 1) == models.slice(row, 1));
            if !same {
                cached = read_model(models, row).map(|m| (row, m));
            }
            let answer = match (point, &cached) {
                (Some(p), Some((_, model))) => {
                    if p.len() != model.mean.len() {
                        return Err(invalid_argument(
                            self.doc.name,
                            format!(
                                "features have {} elements, the model {}",
                                p.len(),
                                model.mean.len()
                            ),
                        ));
                    }
                    Some(model.assign(p.values()))
                }
                _ => None,
            };
            clusters.push(answer.map(|(c, _)| c as i32));
            distances.push(answer.map(|(_, d)| d));
        }
        Ok(ColumnarValue::Array(if self.distance() {
            Arc::new(Float64Array::from(distances))
        } else {
            Arc::new(Int32Array::from(clusters))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

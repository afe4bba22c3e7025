//! `sum` as PostgreSQL types it: the sum of `bigint`s is a `numeric` (PostgreSQL widens,
//! DataFusion keeps a 64-bit integer that wraps past 9.2e18); smaller integers sum to
//! `bigint`, floats and numerics to themselves, as in DataFusion, whose `sum` does all
//! the work. Smaller integers keep their type through coercion (DataFusion would cast
//! them to `bigint` first, and a `bigint` argument means a `numeric` sum): their
//! accumulators widen each batch.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    ReversedUDAF, SetMonotonicity, Signature,
};
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// `sum`, replacing DataFusion's.
pub fn sum_udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(PgSum {
        builtin: datafusion::functions_aggregate::sum::sum_udaf(),
        signature: Signature::user_defined(datafusion::logical_expr::Volatility::Immutable),
    })
}

/// The decimal a `bigint` is summed as (every 64-bit integer fits).
const BIGINT_AS_DECIMAL: DataType = DataType::Decimal128(20, 0);

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgSum {
    builtin: Arc<AggregateUDF>,
    signature: Signature,
}

/// The type `sum` adds a value of type `input` as.
fn summed_as(input: &DataType) -> Option<DataType> {
    use DataType::*;
    Some(match input {
        Int8 | Int16 | Int32 | UInt8 | UInt16 | UInt32 => input.clone(),
        Null => Int32,
        Int64 | UInt64 => BIGINT_AS_DECIMAL,
        Float16 | Float32 | Float64 => Float64,
        Decimal32(p, s) | Decimal64(p, s) => Decimal128(*p, *s),
        Decimal128(..) | Decimal256(..) | Duration(_) | Interval(_) => input.clone(),
        Dictionary(_, values) => return summed_as(values),
        _ => return None,
    })
}

fn is_narrow_integer(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(data_type, Int8 | Int16 | Int32 | UInt8 | UInt16 | UInt32)
}

/// Whether the accumulators get narrower integers than the `bigint` they add.
fn widens(args: &AccumulatorArgs) -> bool {
    is_narrow_integer(args.expr_fields[0].data_type())
}

fn widened(values: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    let mut values = values.to_vec();
    values[0] = cast(&values[0], &DataType::Int64)?;
    Ok(values)
}

/// DataFusion's `bigint` accumulator, given each batch as `bigint`s.
#[derive(Debug)]
struct Widened(Box<dyn Accumulator>);

impl Accumulator for Widened {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.update_batch(&widened(values)?)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.retract_batch(&widened(values)?)
    }

    fn supports_retract_batch(&self) -> bool {
        self.0.supports_retract_batch()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.state()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.evaluate()
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

/// DataFusion's per-group `bigint` accumulator, given each batch as `bigint`s.
struct WidenedGroups(Box<dyn GroupsAccumulator>);

impl GroupsAccumulator for WidenedGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.0.update_batch(
            &widened(values)?,
            group_indices,
            opt_filter,
            total_num_groups,
        )
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.0.merge_batch(values, group_indices, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.0.convert_to_state(&widened(values)?, opt_filter)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.0.evaluate(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.0.state(emit_to)
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

impl AggregateUDFImpl for PgSum {
    fn name(&self) -> &str {
        "sum"
    }

    fn aliases(&self) -> &[String] {
        self.builtin.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        super::avg::one_argument_as("sum", arg_types, summed_as)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [input] if is_narrow_integer(input) => Ok(DataType::Int64),
            _ => self.builtin.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let widen = widens(&args);
        let inner = self.builtin.inner().accumulator(args)?;
        Ok(if widen {
            Box::new(Widened(inner))
        } else {
            inner
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.builtin.inner().state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.builtin.inner().groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let widen = widens(&args);
        let inner = self.builtin.inner().create_groups_accumulator(args)?;
        Ok(if widen {
            Box::new(WidenedGroups(inner))
        } else {
            inner
        })
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let widen = widens(&args);
        let inner = self.builtin.inner().create_sliding_accumulator(args)?;
        Ok(if widen {
            Box::new(Widened(inner))
        } else {
            inner
        })
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.builtin.inner().order_sensitivity()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.builtin.inner().set_monotonicity(data_type)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.builtin.documentation()
    }
}

/// DataFusion's `single_distinct_aggregation_to_group_by` (`count(DISTINCT x)` beside
/// `sum(y)` becomes two aggregations, the outer one summing the inner sums), with the
/// outer sum of an integer column's sums adding `bigint`s to a `bigint`: read by our
/// `sum`, a `bigint` argument would make it a `numeric` and change the query's type.
#[derive(Debug)]
pub struct SingleDistinctSums(pub Arc<dyn OptimizerRule + Send + Sync>);

impl OptimizerRule for SingleDistinctSums {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        self.0.apply_order()
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let rewritten = self.0.rewrite(plan, config)?;
        if !rewritten.transformed {
            return Ok(rewritten);
        }
        let plan = rewritten.data.transform_up(|node| match node {
            LogicalPlan::Aggregate(aggregate) => sums_of_sums_as_bigint(aggregate),
            other => Ok(Transformed::yes(other.recompute_schema()?)),
        })?;
        Ok(Transformed::yes(plan.data))
    }
}

/// `aggregate` with each `sum` of a plain `bigint` column (only the rewrite makes one:
/// coercion casts a `bigint` argument to a decimal) summed by DataFusion's own `sum`.
fn sums_of_sums_as_bigint(aggregate: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let schema = Arc::clone(aggregate.input.schema());
    let mut changed = false;
    let aggr_expr = aggregate
        .aggr_expr
        .into_iter()
        .map(|expr| match expr {
            Expr::AggregateFunction(mut f)
                if f.func.name() == "sum"
                    && matches!(f.params.args.as_slice(), [Expr::Column(c)]
                        if schema.qualified_field_from_column(c).is_ok_and(|(_, field)| field.data_type() == &DataType::Int64)) =>
            {
                f.func = datafusion::functions_aggregate::sum::sum_udaf();
                changed = true;
                Expr::AggregateFunction(f)
            }
            other => other,
        })
        .collect();
    let rebuilt = Aggregate::try_new(aggregate.input, aggregate.group_expr, aggr_expr)?;
    Ok(Transformed::new_transformed(
        LogicalPlan::Aggregate(rebuilt),
        changed,
    ))
}

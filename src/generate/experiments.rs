//! The demo data's experiments (`experiment_assignments`): units assigned to `control` or
//! `treatment`, whether they converted, their revenue, and a pre-period revenue for
//! CUPED. Each unit has a spend propensity that drives both its pre-period revenue and
//! its conversion and revenue during the test, so CUPED has something to remove.
//!
//! - `checkout_redesign`: web sessions (one per 8 order lines), conversion 8% in
//!   control and 20% more in treatment (the true lift the example read-out finds),
//!   the same order value in both;
//! - `subject_line`: e-mail sends to customers, no true difference (what a test
//!   without an effect looks like).

use std::path::Path;

use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::writer::{TableWriter, Value};
use super::{days, ts_type, Spec, DAY_US, T_EXPERIMENTS};
use crate::error::Result;
use crate::marketing::rng::Rng;

/// One experiment of the demo data.
struct Experiment {
    name: &'static str,
    units: u64,
    with_customer: bool,
    start_day: i64,
    control_rate: f64,
    /// Conversion of the treatment relative to control (1.2 = +20%).
    true_lift: f64,
    mean_order_value: f64,
}

fn experiments(spec: Spec) -> [Experiment; 2] {
    [
        Experiment {
            name: "checkout_redesign",
            units: (spec.order_lines / 8).max(1000),
            with_customer: false,
            start_day: days(2024, 10, 1),
            control_rate: 0.08,
            true_lift: 1.2,
            mean_order_value: 55.0,
        },
        Experiment {
            name: "subject_line",
            units: spec.customers(),
            with_customer: true,
            start_day: days(2024, 11, 4),
            control_rate: 0.05,
            true_lift: 1.0,
            mean_order_value: 40.0,
        },
    ]
}

/// Writes `experiment_assignments`.
///
/// # Errors
/// The folder cannot be written.
pub fn write_experiments(out: &Path, spec: Spec) -> Result<()> {
    let schema = Schema::new(vec![
        Field::new("experiment", DataType::Utf8, false),
        Field::new("unit_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, true),
        Field::new("variant", DataType::Utf8, false),
        Field::new("assigned_at", ts_type(), false),
        Field::new("converted", DataType::Boolean, false),
        Field::new("revenue", super::money(), false),
        Field::new("pre_period_revenue", super::money(), false),
    ]);
    let mut w = TableWriter::new(out, "experiment_assignments", schema, spec.rows_per_file)?;
    for (index, e) in experiments(spec).iter().enumerate() {
        for unit in 1..=e.units {
            let mut r = Rng::for_entity(spec.seed, T_EXPERIMENTS, (index as u64) << 40 | unit);
            let treatment = r.chance(0.5);
            // Spend propensity (lognormal, mean 1): drives the pre-period revenue and
            // the chance and size of a purchase during the test.
            let propensity = (r.normal() - 0.5).exp();
            let pre_cents =
                (propensity * e.mean_order_value * 40.0 * (0.3 * r.normal()).exp()) as i64;
            let rate = e.control_rate * if treatment { e.true_lift } else { 1.0 };
            let converted = r.chance((rate * propensity).min(0.95));
            let revenue_cents = if converted {
                (propensity.sqrt() * e.mean_order_value * 100.0 * (0.5 * r.normal()).exp()) as i64
            } else {
                0
            };
            let customer = e
                .with_customer
                .then_some(unit as i64)
                .or_else(|| (!r.chance(0.4)).then(|| r.range(1, spec.customers() as i64 + 1)));
            let at = (e.start_day + r.range(0, 14)) * DAY_US + r.range(0, DAY_US);
            w.row(&[
                Value::Str(Some(e.name.to_owned())),
                Value::I64(unit as i64),
                Value::OptI64(customer),
                Value::Str(Some(
                    if treatment { "treatment" } else { "control" }.to_owned(),
                )),
                Value::Ts(at),
                Value::Bool(converted),
                Value::Money(Some(revenue_cents)),
                Value::Money(Some(pre_cents)),
            ])?;
        }
    }
    w.finish()
}

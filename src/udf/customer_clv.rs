//! `customer_clv(orders, customer_column, date_column, amount_column, calibration_end
//! [, months, monthly_discount, period])`: lifetime value in one call. The orders are
//! summarized as `clv_summary` does (the same fold), BG/NBD is fitted on the distinct
//! (frequency, recency, t) rows with their counts and Gamma-Gamma on the repeat
//! customers' (frequency, monetary_value), and every customer gets `p_alive`,
//! `expected_purchases` over the horizon, `expected_spend` and `clv` (lifetimes'
//! discounting, [`crate::marketing::btyd::clv`]). Predictions are computed once per
//! distinct history, on all cores.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::clv_predictions::periods_per_month;
use super::clv_summary::{summary_table, Period, SummaryOutput};
use super::table_args::Args;
use crate::error::invalid_argument;
use crate::marketing::btyd::{self, BgNbd, GammaGamma, History};
use crate::marketing::btyd_fit::{self, Fitted};
use crate::marketing::clv_summary::Summary;
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const CUSTOMER_CLV: FunctionDoc = FunctionDoc {
    name: "customer_clv",
    kind: Kind::Table,
    params: &[
        required("orders", "text"),
        required("customer_column", "text"),
        required("date_column", "text"),
        required("amount_column", "text"),
        required("calibration_end", "date"),
        optional("months", "integer", "12"),
        optional("monthly_discount", "double precision", "0.01"),
        optional("period", "text", "'week'"),
    ],
    result: "TABLE(customer anyelement, frequency bigint, recency double precision, t double \
             precision, monetary_value double precision, p_alive double precision, \
             expected_purchases double precision, expected_spend double precision, clv \
             double precision)",
    description: "Customer lifetime value of an orders table or query in one call: the \
                  clv_summary of the orders up to calibration_end (in period units, 'week' \
                  or 'day'), BG/NBD fitted to it as bgnbd_fit does and Gamma-Gamma to its \
                  repeat customers as gammagamma_fit does, then per customer p_alive, \
                  expected_purchases over the next months (4.345 weeks or 30 days a month), \
                  expected_spend per purchase and clv = discounted value of those months \
                  (as the clv function). When the likelihood only grows towards a limit of \
                  a model (typically BG/NBD's a -> 0: the orders show no dropout), the \
                  model at that limit is used and the server log says so. A fit that \
                  does not converge otherwise is an error (22023) naming the model: run \
                  the fit aggregates on clv_summary to look at it.",
    example: r#"SELECT customer, frequency, round(p_alive::numeric, 4) AS p_alive,
       round(expected_purchases::numeric, 4) AS expected_purchases,
       round(clv::numeric, 2) AS clv
FROM customer_clv('lake.cdnow_master', 'customer_id', 'order_date', 'dollar_value', DATE '1997-09-30')
ORDER BY clv DESC, customer LIMIT 3"#,
    example_output: r#" customer | frequency | p_alive | expected_purchases | clv
----------+-----------+---------+--------------------+---------
 7592     | 80        | 0.9882  | 75.2997            | 7217.30
 14048    | 70        | 0.9611  | 68.0792            | 3493.52
 7931     | 29        | 0.9406  | 26.4031            | 2888.88"#,
};

/// The table function.
#[derive(Debug, Default)]
pub struct CustomerClvFunction;

impl TableFunctionImpl for CustomerClvFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let a = Args::new(&CUSTOMER_CLV, args.exprs())?;
        let months = a.integer(5, 12, 1..=1200)? as u32;
        let monthly_discount = a.number(6, 0.01, 0.0..=10.0)?;
        let period = Period::parse(a.text(7)?.as_deref()).map_err(|m| a.bad(m))?;
        let output = Predictions {
            months,
            monthly_discount,
            period,
            periods_per_month: periods_per_month(period.name()).map_err(|m| a.bad(m))?,
        };
        summary_table(&args, &CUSTOMER_CLV, None, output)
    }
}

/// `customer_clv`'s columns.
#[derive(Debug)]
struct Predictions {
    months: u32,
    monthly_discount: f64,
    period: Period,
    periods_per_month: f64,
}

/// What every customer with the same x and T gets if alive at T.
#[derive(Debug, Clone, Copy, Default)]
struct IfAlive {
    expected_purchases: f64,
    discounted_purchases: f64,
}

fn bad(message: String) -> datafusion::common::DataFusionError {
    invalid_argument(CUSTOMER_CLV.name, message)
}

/// A fit that converged (or whose likelihood's supremum is a limit of the model, such
/// as no dropout at all), or the error that says which did not.
fn converged<M>(fit: Option<Fitted<M>>, model: &str, what: &str) -> Result<M> {
    match fit {
        None => Err(bad(format!("no {what} to fit {model} on"))),
        Some(f) if f.at_limit => {
            tracing::warn!(
                model,
                iterations = f.iterations,
                ll = f.ll,
                "customer_clv: the {model} likelihood has no maximum inside the parameter \
                 space; using the model at the limit it approaches"
            );
            Ok(f.model)
        }
        Some(f) if !f.converged => Err(bad(format!(
            "the {model} fit did not converge ({} iterations, log-likelihood {}); run \
             {}_fit on clv_summary to look at it",
            f.iterations,
            f.ll,
            model.to_ascii_lowercase().replace(['/', '-'], "")
        ))),
        Some(f) => Ok(f.model),
    }
}

impl Predictions {
    fn history(&self, s: &Summary) -> History {
        let unit = self.period.days();
        History {
            x: s.frequency as f64,
            t_x: s.recency / unit,
            t: s.t / unit,
        }
    }

    /// Expected and discounted purchases if alive of each distinct (x, T), on all cores.
    fn if_alive(&self, model: &BgNbd, keys: &[(f64, f64)]) -> Vec<IfAlive> {
        let horizon = f64::from(self.months) * self.periods_per_month;
        let predict = |&(x, t): &(f64, f64)| IfAlive {
            expected_purchases: model.expected_purchases_if_alive(horizon, x, t),
            discounted_purchases: btyd::discounted_purchases_if_alive(
                model,
                x,
                t,
                self.months,
                self.monthly_discount,
                self.periods_per_month,
            ),
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = keys.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let parts: Vec<_> = keys
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(predict).collect::<Vec<_>>()))
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().unwrap_or_default())
                .collect()
        })
    }
}

/// Distinct values with their counts, in key order whatever the input order.
fn counted<T: Copy>(values: impl Iterator<Item = ([u64; 3], T)>) -> Vec<(T, f64)> {
    let mut keyed: Vec<([u64; 3], T)> = values.collect();
    keyed.sort_unstable_by_key(|(key, _)| *key);
    let mut counts: Vec<(T, f64)> = Vec::new();
    let mut previous = None;
    for (key, value) in keyed {
        match counts.last_mut() {
            Some((_, count)) if previous == Some(key) => *count += 1.0,
            _ => counts.push((value, 1.0)),
        }
        previous = Some(key);
    }
    counts
}

impl SummaryOutput for Predictions {
    fn schema(&self, customer: &DataType) -> SchemaRef {
        let double = |name: &str| Field::new(name, DataType::Float64, false);
        Arc::new(Schema::new(vec![
            Field::new("customer", customer.clone(), false),
            Field::new("frequency", DataType::Int64, false),
            double("recency"),
            double("t"),
            double("monetary_value"),
            double("p_alive"),
            double("expected_purchases"),
            double("expected_spend"),
            double("clv"),
        ]))
    }

    fn rows(
        &self,
        schema: SchemaRef,
        customers: ArrayRef,
        summaries: &[Summary],
    ) -> Result<RecordBatch> {
        let begun = std::time::Instant::now();
        let histories: Vec<History> = summaries.iter().map(|s| self.history(s)).collect();
        // Gamma-Gamma is counted and fitted beside BG/NBD.
        let spend_fit = || {
            let spends = counted(
                summaries
                    .iter()
                    .filter(|s| s.frequency > 0 && s.monetary_value > 0.0)
                    .map(|s| {
                        let x = s.frequency as f64;
                        (
                            [x.to_bits(), s.monetary_value.to_bits(), 0],
                            (x, s.monetary_value),
                        )
                    }),
            );
            (
                btyd_fit::fit_gammagamma(&spends),
                spends.len(),
                begun.elapsed(),
            )
        };
        let purchases_fit = || {
            let history_key = |h: &History| [h.x.to_bits(), h.t_x.to_bits(), h.t.to_bits()];
            let distinct = counted(histories.iter().map(|h| (history_key(h), *h)));
            (
                btyd_fit::fit_bgnbd(&distinct),
                distinct.len(),
                begun.elapsed(),
            )
        };
        let ((purchases_fit, distinct_histories, bgnbd_time), spend_fit) =
            std::thread::scope(|scope| {
                let spend = scope.spawn(spend_fit);
                let purchases = purchases_fit();
                let spend = spend
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (purchases, spend)
            });
        let (spend_fit, distinct_spends, gammagamma_time) = spend_fit;
        tracing::debug!(
            customers = summaries.len(),
            distinct_histories,
            distinct_spends,
            bgnbd_ms = bgnbd_time.as_millis(),
            bgnbd_iterations = purchases_fit.as_ref().map_or(0, |f| f.iterations),
            gammagamma_ms = gammagamma_time.as_millis(),
            "customer_clv fitted (counting included, side by side)"
        );
        let purchases = converged(purchases_fit, "BG/NBD", "customers")?;
        let spend: GammaGamma = converged(spend_fit, "Gamma-Gamma", "repeat customers")?;

        // Predictions depend on the recency only through P(alive): the hypergeometric
        // series run once per distinct (x, T).
        let mut index: HashMap<[u64; 2], usize> = HashMap::new();
        for h in &histories {
            let next = index.len();
            index.entry([h.x.to_bits(), h.t.to_bits()]).or_insert(next);
        }
        let mut keys = vec![(0.0, 0.0); index.len()];
        for (key, &i) in &index {
            keys[i] = (f64::from_bits(key[0]), f64::from_bits(key[1]));
        }
        let if_alive = self.if_alive(&purchases, &keys);
        let of = |h: &History| {
            let alive = if_alive[index[&[h.x.to_bits(), h.t.to_bits()]]];
            let weight = 1.0 + purchases.dropout_odds(h);
            (
                alive.expected_purchases / weight,
                alive.discounted_purchases / weight,
            )
        };
        let predicted: Vec<(f64, f64)> = histories.iter().map(of).collect();
        let expected_spend: Vec<f64> = summaries
            .iter()
            .map(|s| spend.expected_spend(s.frequency as f64, s.monetary_value))
            .collect();
        let double = |values: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(values)) };
        let columns: Vec<ArrayRef> = vec![
            customers,
            Arc::new(Int64Array::from_iter_values(
                summaries.iter().map(|s| s.frequency),
            )),
            double(histories.iter().map(|h| h.t_x).collect()),
            double(histories.iter().map(|h| h.t).collect()),
            double(summaries.iter().map(|s| s.monetary_value).collect()),
            double(histories.iter().map(|h| purchases.p_alive(h)).collect()),
            double(predicted.iter().map(|p| p.0).collect()),
            double(expected_spend.clone()),
            double(
                predicted
                    .iter()
                    .zip(&expected_spend)
                    .map(|(p, spend)| spend * p.1)
                    .collect(),
            ),
        ];
        tracing::debug!(
            total_ms = begun.elapsed().as_millis(),
            "customer_clv predicted"
        );
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

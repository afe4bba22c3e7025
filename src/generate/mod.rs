//! The deterministic retail data set: `customers`, `products`, `orders`, `order_lines`,
//! `web_events`, `guest_orders` (see `identities`, which also writes who is behind every
//! identifier) and `experiment_assignments` (see `experiments`) as zstd Parquet, several
//! files per table, written in a streaming way
//! (memory stays bounded at any size: one batch per table plus the product sampler).
//!
//! Realistic skew: Pareto customer activity (a few heavy repeat buyers, many one-off and
//! never-buying customers), Zipf product popularity, a November/December peak, non-ASCII
//! names and NULLs where real data has them; half the buyers lapse after a while, as real
//! customers do. Realistic taste: each customer has a
//! favourite and a second category, an order mostly keeps to one category, so baskets and
//! histories carry the signal recommenders learn from. The same size and seed give the
//! same files.

mod experiments;
mod identities;
mod writer;

pub use identities::TRUTH_FILE;

use std::path::Path;
use std::time::Instant;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::error::{Error, Result};
use crate::marketing::rng::{Rng, Zipf};
use identities::Person;
use writer::{TableWriter, Value};

/// Size and seed of a data set.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub order_lines: u64,
    pub seed: u64,
    pub rows_per_file: usize,
}

impl Spec {
    /// The demo lake `datapunk serve` generates when no lake is configured.
    pub fn demo() -> Self {
        Self {
            order_lines: 200_000,
            seed: 42,
            rows_per_file: 50_000,
        }
    }

    pub fn customers(&self) -> u64 {
        (self.order_lines / 50).max(100)
    }

    pub fn products(&self) -> u64 {
        (self.order_lines / 2000).clamp(200, 200_000)
    }
}

/// Parses `200000`, `2e5` or `1_000_000`.
pub fn parse_count(text: &str) -> Option<u64> {
    let t = text.replace('_', "");
    t.parse::<u64>().ok().or_else(|| {
        let v = t.parse::<f64>().ok()?;
        ((0.0..=1e12).contains(&v) && v.fract() == 0.0).then_some(v as u64)
    })
}

const T_CUSTOMER: u64 = 1;
const T_PRODUCT: u64 = 2;
const T_ORDERS: u64 = 3;
const T_EVENTS: u64 = 4;
const T_WORLD: u64 = 5;
const T_EXPERIMENTS: u64 = 6;
const T_LAPSE: u64 = 7;
const T_BROWSING: u64 = 10;

const COUNTRIES: &[&str] = &[
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "BR", "JP", "CA", "AU", "IN", "MX",
];
const CITIES: &[&[&str]] = &[
    &["New York", "Austin", "Seattle"],
    &["London", "Manchester"],
    &["Berlin", "München", "Köln"],
    &["Paris", "Lyon", "Besançon"],
    &["Madrid", "Barcelona", "Málaga"],
    &["Roma", "Milano"],
    &["Amsterdam", "Utrecht"],
    &["Stockholm", "Göteborg"],
    &["Warszawa", "Kraków", "Łódź"],
    &["São Paulo", "Rio de Janeiro"],
    &["東京", "大阪"],
    &["Toronto", "Montréal"],
    &["Sydney", "Melbourne"],
    &["Mumbai", "Bengaluru"],
    &["Ciudad de México", "Guadalajara"],
];
const FIRST_NAMES: &[&str] = &[
    "Anna",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "François",
    "Mia",
    "Noah",
    "Chloé",
    "Jürgen",
    "Aiko",
    "Olga",
    "Liam",
    "Sofía",
    "Björn",
    "Emma",
    "Raúl",
    "Ines",
    "Mateo",
    "Hana",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "García",
    "Müller",
    "Dubois",
    "Kowalski",
    "Rossi",
    "Jensen",
    "Silva",
    "Nguyễn",
    "佐藤",
    "Ivanova",
    "O'Brien",
    "Johansson",
    "Novák",
    "Fernández",
    "Brown",
    "Schäfer",
];
const CATEGORIES: &[(&str, f64)] = &[
    ("apparel", 3.4),
    ("shoes", 4.0),
    ("beauty", 3.0),
    ("home", 3.6),
    ("kitchen", 3.5),
    ("toys", 3.1),
    ("books", 2.7),
    ("electronics", 4.6),
    ("sports", 3.8),
    ("grocery", 1.8),
];
const BRANDS: &[&str] = &[
    "Acme",
    "Nordlys",
    "Café Bleu",
    "Kōbō",
    "Verde",
    "Zenit",
    "Plexa",
];
const TIERS: &[(&str, f64)] = &[
    ("none", 0.55),
    ("bronze", 0.25),
    ("silver", 0.12),
    ("gold", 0.06),
    ("platinum", 0.02),
];
const CHANNELS: &[(&str, f64)] = &[
    ("organic", 0.30),
    ("paid_search", 0.22),
    ("social", 0.18),
    ("email", 0.10),
    ("referral", 0.08),
    ("affiliate", 0.07),
    ("display", 0.05),
];
const EVENT_TYPES: &[(&str, f64)] = &[
    ("page_view", 0.45),
    ("product_view", 0.30),
    ("search", 0.10),
    ("add_to_cart", 0.09),
    ("checkout", 0.04),
    ("purchase", 0.02),
];
const MONTH_WEIGHT: [f64; 12] = [
    0.8, 0.7, 0.85, 0.9, 0.95, 0.9, 0.85, 0.9, 0.95, 1.0, 1.5, 1.9,
];

/// Days since 1970-01-01.
fn days(y: i32, m: u32, d: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .map(|date| {
            date.signed_duration_since(
                chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(),
            )
            .num_days()
        })
        .unwrap_or(0)
}

const DAY_US: i64 = 86_400_000_000;

/// What the orders generator needs to know about a customer, derived from its own stream
/// so `customers` and `orders` agree without keeping customers in memory.
struct CustomerCore {
    signup_day: i64,
    country: usize,
    activity: f64,
    /// Favourite and second category (indexes into [`CATEGORIES`]).
    tastes: [usize; 2],
}

fn customer_core(seed: u64, id: u64) -> CustomerCore {
    let mut r = Rng::for_entity(seed, T_CUSTOMER, id);
    let signup_start = days(2020, 1, 1);
    let end = days(2025, 1, 1);
    let signup_day = signup_start + ((r.f64().sqrt()) * (end - 1 - signup_start) as f64) as i64;
    let country = r.weighted(
        &COUNTRIES
            .iter()
            .enumerate()
            .map(|(i, _)| 1.0 / (i as f64 + 1.0).powf(1.2))
            .collect::<Vec<_>>(),
    );
    let tenure = (end - signup_day.max(days(2022, 1, 1))) as f64 / (end - days(2022, 1, 1)) as f64;
    // A third of customers never buy; the rest follow a heavy-tailed Pareto.
    let activity = if r.chance(0.33) {
        0.0
    } else {
        r.pareto(1.5).min(500.0) * tenure.max(0.0)
    };
    let favourite = r.range(0, CATEGORIES.len() as i64) as usize;
    let second =
        (favourite + 1 + r.range(0, CATEGORIES.len() as i64 - 1) as usize) % CATEGORIES.len();
    CustomerCore {
        signup_day,
        country,
        activity,
        tastes: [favourite, second],
    }
}

/// A customer's name, city and e-mail (3 % have none).
struct Contact {
    name: String,
    city: &'static str,
    email: Option<String>,
}

/// Customer `id`'s contact, and the stream the rest of their `customers` row is drawn
/// from.
fn contact(seed: u64, id: u64, core: &CustomerCore) -> (Contact, Rng) {
    let mut r = Rng::for_entity(seed, T_WORLD, id);
    let first = FIRST_NAMES[r.range(0, FIRST_NAMES.len() as i64) as usize];
    let last = LAST_NAMES[r.range(0, LAST_NAMES.len() as i64) as usize];
    let cities = CITIES[core.country];
    let city = cities[r.range(0, cities.len() as i64) as usize];
    let email = (!r.chance(0.03)).then(|| format!("c{id}@example.com"));
    let contact = Contact {
        name: format!("{first} {last}"),
        city,
        email,
    };
    (contact, r)
}

/// Customer `id`'s e-mail in `customers`.
fn customer_email(seed: u64, id: u64) -> Option<String> {
    contact(seed, id, &customer_core(seed, id)).0.email
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

fn money() -> DataType {
    DataType::Decimal128(10, 2)
}

/// Writes the whole data set into `out` (one folder per table).
///
/// # Errors
/// The folder cannot be written.
pub fn generate(out: &Path, spec: Spec, progress: bool) -> Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(out)?;
    let say = |m: String| {
        if progress {
            eprintln!("{m}");
        }
    };
    say(format!(
        "generating {} order lines, {} customers, {} products (seed {}) into {}",
        spec.order_lines,
        spec.customers(),
        spec.products(),
        spec.seed,
        out.display()
    ));
    let products = write_products(out, spec)?;
    write_customers(out, spec)?;
    say(format!(
        "customers and products written ({:.1}s)",
        started.elapsed().as_secs_f64()
    ));
    write_orders(out, spec, &products, &say)?;
    write_web_events(out, spec)?;
    identities::write_guest_orders_and_truth(out, spec)?;
    experiments::write_experiments(out, spec)?;
    say(format!("done in {:.1}s", started.elapsed().as_secs_f64()));
    Ok(())
}

/// What orders need of the products, indexed by product_id - 1.
struct Products {
    /// List prices in cents.
    prices: Vec<i64>,
    /// Indexes into [`CATEGORIES`].
    categories: Vec<usize>,
}

fn write_products(out: &Path, spec: Spec) -> Result<Products> {
    let schema = Schema::new(vec![
        Field::new("product_id", DataType::Int32, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("brand", DataType::Utf8, true),
        Field::new("price", money(), false),
    ]);
    let mut w = TableWriter::new(out, "products", schema, spec.rows_per_file)?;
    let mut prices = Vec::with_capacity(spec.products() as usize);
    let mut categories = Vec::with_capacity(spec.products() as usize);
    for id in 1..=spec.products() {
        let mut r = Rng::for_entity(spec.seed, T_PRODUCT, id);
        let category_index = r.range(0, CATEGORIES.len() as i64) as usize;
        categories.push(category_index);
        let (category, mu) = CATEGORIES[category_index];
        let price = (mu + 0.6 * r.normal()).exp();
        let cents = ((price * 100.0).round() as i64).clamp(99, 9_999_999);
        let cents = cents - cents % 100 + 99;
        prices.push(cents);
        let brand = (!r.chance(0.05)).then(|| BRANDS[r.range(0, BRANDS.len() as i64) as usize]);
        w.row(&[
            Value::I32(id as i32),
            Value::Str(Some(format!("{category} item {id}"))),
            Value::Str(Some(category.to_owned())),
            Value::Str(brand.map(str::to_owned)),
            Value::Money(Some(cents)),
        ])?;
    }
    w.finish()?;
    Ok(Products { prices, categories })
}

fn write_customers(out: &Path, spec: Spec) -> Result<()> {
    let schema = Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, true),
        Field::new("country", DataType::Utf8, false),
        Field::new("city", DataType::Utf8, false),
        Field::new("signup_date", DataType::Date32, false),
        Field::new("birth_year", DataType::Int32, true),
        Field::new("gender", DataType::Utf8, true),
        Field::new("loyalty_tier", DataType::Utf8, false),
        Field::new("acquisition_channel", DataType::Utf8, false),
        Field::new("marketing_opt_in", DataType::Boolean, false),
    ]);
    let mut w = TableWriter::new(out, "customers", schema, spec.rows_per_file)?;
    let tiers: Vec<f64> = TIERS.iter().map(|t| t.1).collect();
    let channels: Vec<f64> = CHANNELS.iter().map(|t| t.1).collect();
    for id in 1..=spec.customers() {
        let core = customer_core(spec.seed, id);
        let (Contact { name, city, email }, mut r) = contact(spec.seed, id, &core);
        let birth_year = (!r.chance(0.08)).then(|| r.range(1945, 2007) as i32);
        let gender = match r.weighted(&[0.48, 0.44, 0.02, 0.06]) {
            0 => Some("F"),
            1 => Some("M"),
            2 => Some("X"),
            _ => None,
        };
        w.row(&[
            Value::I64(id as i64),
            Value::Str(Some(name)),
            Value::Str(email),
            Value::Str(Some(COUNTRIES[core.country].to_owned())),
            Value::Str(Some(city.to_owned())),
            Value::Date(core.signup_day as i32),
            Value::OptI32(birth_year),
            Value::Str(gender.map(str::to_owned)),
            Value::Str(Some(TIERS[r.weighted(&tiers)].0.to_owned())),
            Value::Str(Some(CHANNELS[r.weighted(&channels)].0.to_owned())),
            Value::Bool(r.chance(0.62)),
        ])?;
    }
    w.finish()
}

/// A timestamp in [from_day, until_day) within 2022-2024, with a November/December peak.
fn order_time(r: &mut Rng, from_day: i64, until_day: i64) -> i64 {
    let end = until_day.min(days(2025, 1, 1));
    let from = from_day.max(days(2022, 1, 1)).min(end - 1);
    loop {
        let day = r.range(from, end);
        let month = chrono::DateTime::from_timestamp(day * 86_400, 0)
            .map(|d| d.format("%m").to_string().parse::<usize>().unwrap_or(1))
            .unwrap_or(1);
        if r.f64() * 1.9 < MONTH_WEIGHT[month - 1] {
            // Shopping hours: mostly daytime.
            let second = 6 * 3600 + r.range(0, 17 * 3600);
            return day * DAY_US + second * 1_000_000;
        }
    }
}

/// The day after which a customer buys no more: half the customers lapse, a mean of 400
/// days after they start buying (what the lifetime-value models find); the others buy
/// until the end of the data.
fn lapse_day(seed: u64, id: u64, signup_day: i64) -> i64 {
    let mut r = Rng::for_entity(seed, T_LAPSE, id);
    let start = signup_day.max(days(2022, 1, 1));
    if r.chance(0.5) {
        start + 1 + (-(1.0 - r.f64()).ln() * 400.0) as i64
    } else {
        i64::MAX
    }
}

/// Draws products: by overall popularity, or by popularity within one category.
struct ProductSampler {
    overall: Zipf,
    rank_to_product: Vec<u32>,
    /// Per category, its products from most to least popular.
    by_category: Vec<(Zipf, Vec<u32>)>,
}

impl ProductSampler {
    fn new(spec: Spec, products: &Products) -> Self {
        let n = products.prices.len();
        // A fixed permutation maps popularity rank to product id.
        let mut rank_to_product: Vec<u32> = (1..=n as u32).collect();
        let mut pr = Rng::for_entity(spec.seed, T_PRODUCT, 0);
        for i in (1..rank_to_product.len()).rev() {
            let j = pr.range(0, i as i64 + 1) as usize;
            rank_to_product.swap(i, j);
        }
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); CATEGORIES.len()];
        for &product in &rank_to_product {
            lists[products.categories[product as usize - 1]].push(product);
        }
        let by_category = lists
            .into_iter()
            .map(|l| (Zipf::new(l.len(), 3.0), l))
            .collect();
        Self {
            overall: Zipf::new(n, 10.0),
            rank_to_product,
            by_category,
        }
    }

    fn any(&self, r: &mut Rng) -> u32 {
        self.rank_to_product[self.overall.sample(r)]
    }

    fn in_category(&self, r: &mut Rng, category: usize) -> u32 {
        match self.by_category.get(category) {
            Some((zipf, list)) if !list.is_empty() => list[zipf.sample(r)],
            _ => self.any(r),
        }
    }
}

fn write_orders(out: &Path, spec: Spec, products: &Products, say: &dyn Fn(String)) -> Result<()> {
    let prices = &products.prices;
    let orders_schema = Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("order_ts", ts_type(), false),
        Field::new("country", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("coupon_code", DataType::Utf8, true),
        Field::new("shipping", money(), false),
    ]);
    let lines_schema = Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("line_no", DataType::Int32, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("product_id", DataType::Int32, false),
        Field::new("order_ts", ts_type(), false),
        Field::new("quantity", DataType::Int32, false),
        Field::new("unit_price", money(), false),
        Field::new("discount", money(), false),
        Field::new("country", DataType::Utf8, false),
    ]);
    let mut orders = TableWriter::new(out, "orders", orders_schema, spec.rows_per_file)?;
    let mut lines = TableWriter::new(out, "order_lines", lines_schema, spec.rows_per_file)?;
    let n_cust = spec.customers();
    // Pass 1: total activity, so each customer's share of lines is known (O(1) memory).
    let total: f64 = (1..=n_cust)
        .map(|id| customer_core(spec.seed, id).activity)
        .sum();
    let sampler = ProductSampler::new(spec, products);
    let channels: Vec<f64> = CHANNELS.iter().map(|t| t.1).collect();
    let mut cumulative = 0.0;
    let mut written: u64 = 0;
    let mut order_id: i64 = 0;
    let mut next_report = spec.order_lines / 10;
    for id in 1..=n_cust {
        let core = customer_core(spec.seed, id);
        cumulative += core.activity;
        let target = if id == n_cust || total == 0.0 {
            spec.order_lines
        } else {
            ((spec.order_lines as f64) * cumulative / total).floor() as u64
        };
        if target <= written {
            continue;
        }
        let mut budget = target - written;
        let lapse_day = lapse_day(spec.seed, id, core.signup_day);
        let mut r = Rng::for_entity(spec.seed, T_ORDERS, id);
        let mut customer_orders = Vec::new();
        while budget > 0 {
            let n = (1 + r.geometric(0.4)).min(budget);
            budget -= n;
            customer_orders.push((order_time(&mut r, core.signup_day, lapse_day), n));
        }
        customer_orders.sort_unstable();
        let country = COUNTRIES[core.country];
        for (ts, n) in customer_orders {
            order_id += 1;
            let status = match r.weighted(&[0.92, 0.05, 0.03]) {
                0 => "completed",
                1 => "returned",
                _ => "cancelled",
            };
            let coupon = r.chance(0.12).then(|| format!("SAVE{}", 5 * r.range(1, 5)));
            orders.row(&[
                Value::I64(order_id),
                Value::I64(id as i64),
                Value::Ts(ts),
                Value::Str(Some(country.to_owned())),
                Value::Str(Some(CHANNELS[r.weighted(&channels)].0.to_owned())),
                Value::Str(Some(status.to_owned())),
                Value::Str(coupon),
                Value::Money(Some(if r.chance(0.4) { 0 } else { 499 })),
            ])?;
            // Most orders keep to one of the customer's categories; some lines stray.
            let order_category = match r.weighted(&[0.6, 0.25, 0.15]) {
                0 => Some(core.tastes[0]),
                1 => Some(core.tastes[1]),
                _ => None,
            };
            for line_no in 1..=n {
                let product = match order_category {
                    Some(c) if r.chance(0.85) => sampler.in_category(&mut r, c),
                    _ => sampler.any(&mut r),
                };
                let price = prices[product as usize - 1];
                let discount = if r.chance(0.2) {
                    price * r.range(10, 31) / 100
                } else {
                    0
                };
                lines.row(&[
                    Value::I64(order_id),
                    Value::I32(line_no as i32),
                    Value::I64(id as i64),
                    Value::I32(product as i32),
                    Value::Ts(ts),
                    Value::I32(1 + r.geometric(0.75) as i32),
                    Value::Money(Some(price)),
                    Value::Money(Some(discount)),
                    Value::Str(Some(country.to_owned())),
                ])?;
            }
        }
        written = target;
        if written >= next_report && spec.order_lines >= 1_000_000 {
            say(format!(
                "order_lines: {written}/{} ({}%)",
                spec.order_lines,
                written * 100 / spec.order_lines.max(1)
            ));
            next_report = written + spec.order_lines / 10;
        }
    }
    orders.finish()?;
    lines.finish()
}

/// Browsing sessions: first one login on every device of every customer (and on a
/// relative's device for the few who share one) and one visit of every prospect, then
/// `order_lines / 8` sessions of people picked at random, customers logged in or not.
fn write_web_events(out: &Path, spec: Spec) -> Result<()> {
    let schema = Schema::new(vec![
        Field::new("event_id", DataType::Int64, false),
        Field::new("session_id", DataType::Int64, false),
        Field::new("anonymous_id", DataType::Utf8, false),
        Field::new("customer_id", DataType::Int64, true),
        Field::new("event_ts", ts_type(), false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("product_id", DataType::Int32, true),
    ]);
    let mut w = TableWriter::new(out, "web_events", schema, spec.rows_per_file)?;
    let kinds: Vec<f64> = EVENT_TYPES.iter().map(|t| t.1).collect();
    let customers = spec.customers();
    let prospects = identities::prospects(spec);
    let mut session = 0u64;
    let mut event_id = 0i64;
    let mut visit = |person: Person, device: u64, logged_in: Option<u64>, from_day: i64| {
        session += 1;
        let mut r = Rng::for_entity(spec.seed, T_EVENTS, session);
        let start = order_time(&mut r, from_day, i64::MAX);
        let anonymous_id = identities::device(spec.seed, person, device);
        for k in 0..1 + r.geometric(0.4) {
            event_id += 1;
            let kind = EVENT_TYPES[r.weighted(&kinds)].0;
            let product = matches!(kind, "product_view" | "add_to_cart")
                .then(|| r.range(1, spec.products() as i64 + 1) as i32);
            w.row(&[
                Value::I64(event_id),
                Value::I64(session as i64),
                Value::Str(Some(anonymous_id.clone())),
                Value::OptI64(logged_in.map(|c| c as i64)),
                Value::Ts(start + k as i64 * 37_000_000),
                Value::Str(Some(kind.to_owned())),
                Value::OptI32(product),
            ])?;
        }
        Ok::<(), Error>(())
    };
    let since = days(2022, 1, 1);
    for c in 1..=customers {
        let person = Person::Customer(c);
        let from_day = customer_core(spec.seed, c).signup_day.max(since);
        for device in 0..identities::device_count(spec.seed, person) {
            visit(person, device, Some(c), from_day)?;
        }
        if let Some(relative) = identities::shares_device_of(spec.seed, c, customers) {
            visit(person, 0, Some(relative), from_day)?;
        }
    }
    for p in 1..=prospects {
        visit(Person::Prospect(p), 0, None, since)?;
    }
    let browsing = (spec.order_lines / 8).max(10);
    for n in 1..=browsing {
        let mut r = Rng::for_entity(spec.seed, T_BROWSING, n);
        let person = if prospects > 0 && r.chance(0.3) {
            Person::Prospect(r.range(1, prospects as i64 + 1) as u64)
        } else {
            Person::Customer(r.range(1, customers as i64 + 1) as u64)
        };
        let device = r.range(0, identities::device_count(spec.seed, person) as i64) as u64;
        let logged_in = match person {
            Person::Customer(c) if r.chance(0.4) => Some(c),
            _ => None,
        };
        visit(person, device, logged_in, since)?;
    }
    w.finish()
}

/// What a complete demo lake's `_COMPLETE` holds; a lake written by an older generator
/// (another text) is written again.
const DEMO_MARKER: &str =
    "datapunk demo lake v5 (lapsing customers with category tastes, experiments, identities)\n";

/// Generates the demo lake into `dir` unless a complete current one is already there.
///
/// # Errors
/// The folder cannot be written.
pub fn ensure_demo(dir: &Path) -> Result<bool> {
    let marker = dir.join("_COMPLETE");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == DEMO_MARKER) {
        return Ok(false);
    }
    let parent = dir
        .parent()
        .ok_or_else(|| Error::Config(format!("demo dir {} has no parent", dir.display())))?;
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    generate(&tmp, Spec::demo(), false)?;
    std::fs::write(tmp.join("_COMPLETE"), DEMO_MARKER)?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_in_scientific_notation() {
        assert_eq!(parse_count("1e7"), Some(10_000_000));
        assert_eq!(parse_count("1_000"), Some(1000));
        assert_eq!(parse_count("1.5"), None);
    }
}

//! Who is behind the demo's identifiers. Every person browses on devices (an
//! `anonymous_id` cookie per device in `web_events`); customers log in on each of their
//! devices at least once (a session with `customer_id` set), a third use two devices, a
//! tenth also shop as guests under an e-mail alias (`guest_orders`), and a few log in
//! on a relative's device (a shared household computer, the merge a per-type limit must
//! refuse). Prospects (people who never signed up) browse anonymously and some check
//! out as guests with their own e-mail, a few with a junk one (`test@test.com`, `''`).
//!
//! The true person of every identifier that appears in the data is written to
//! `_identity_truth.csv` at the lake's root (ignored as a table: it starts with `_`):
//! `id_type, id, person` with `person` = `customer:<id>` or `prospect:<n>`.

use std::io::Write;
use std::path::Path;

use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::writer::{TableWriter, Value};
use super::{days, money, order_time, ts_type, Spec};
use crate::error::Result;
use crate::marketing::rng::Rng;

const T_IDENTITY: u64 = 8;
const T_GUESTS: u64 = 9;

/// The ground-truth file's name at the lake's root.
pub const TRUTH_FILE: &str = "_identity_truth.csv";

/// Junk e-mails some prospects type at a guest checkout.
const JUNK_EMAILS: &[&str] = &["test@test.com", "", "unknown", "n/a"];

/// A person of the demo: a customer (`customer_id`) or a prospect (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    Customer(u64),
    Prospect(u64),
}

impl Person {
    fn stream(self, seed: u64) -> Rng {
        match self {
            Person::Customer(id) => Rng::for_entity(seed, T_IDENTITY, id * 2),
            Person::Prospect(n) => Rng::for_entity(seed, T_IDENTITY, n * 2 + 1),
        }
    }

    fn label(self) -> String {
        match self {
            Person::Customer(id) => format!("customer:{id}"),
            Person::Prospect(n) => format!("prospect:{n}"),
        }
    }
}

/// People who browse and may buy as guests but never signed up.
pub fn prospects(spec: Spec) -> u64 {
    spec.customers() / 4
}

/// How many devices a person uses (customers: a third use two).
pub fn device_count(seed: u64, person: Person) -> u64 {
    match person {
        Person::Customer(_) => 1 + u64::from(person.stream(seed).chance(1.0 / 3.0)),
        Person::Prospect(_) => 1,
    }
}

/// The `anonymous_id` of a person's device `k`.
pub fn device(seed: u64, person: Person, k: u64) -> String {
    let mut r = person.stream(seed);
    r.next_u64();
    let salt = r.next_u64();
    let mut d = Rng::for_entity(seed ^ salt, T_IDENTITY, k);
    format!("a{:016x}", d.next_u64())
}

/// The customer whose first device this customer also logs in on (a shared household
/// computer): one customer in a hundred, the next customer's.
pub fn shares_device_of(seed: u64, customer: u64, customers: u64) -> Option<u64> {
    let mut r = Rng::for_entity(seed, T_GUESTS, customer);
    (customer < customers && r.chance(0.01)).then_some(customer + 1)
}

/// The guest checkout of a person, if they made one: the device and the e-mail typed.
fn guest_checkout(seed: u64, person: Person, email: Option<&str>) -> Option<(u64, String)> {
    let mut r = Rng::for_entity(seed, T_GUESTS, 1_000_000_000_000 + person_key(person));
    let devices = device_count(seed, person);
    let on = r.range(0, devices as i64) as u64;
    match person {
        Person::Customer(id) => {
            if r.chance(0.10) {
                Some((on, format!("c{id}.shop@example.net")))
            } else if r.chance(0.05) {
                email.map(|e| (on, e.to_owned()))
            } else {
                None
            }
        }
        Person::Prospect(n) => r.chance(0.25).then(|| {
            let email = if r.chance(0.1) {
                JUNK_EMAILS[r.range(0, JUNK_EMAILS.len() as i64) as usize].to_owned()
            } else {
                format!("p{n}@example.org")
            };
            (on, email)
        }),
    }
}

fn person_key(person: Person) -> u64 {
    match person {
        Person::Customer(id) => id * 2,
        Person::Prospect(n) => n * 2 + 1,
    }
}

/// Writes `guest_orders` (one per guest checkout) and the ground-truth file.
///
/// # Errors
/// The files cannot be written.
pub fn write_guest_orders_and_truth(out: &Path, spec: Spec) -> Result<()> {
    let schema = Schema::new(vec![
        Field::new("guest_order_id", DataType::Int64, false),
        Field::new("anonymous_id", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, true),
        Field::new("order_ts", ts_type(), false),
        Field::new("amount", money(), false),
    ]);
    let mut orders = TableWriter::new(out, "guest_orders", schema, spec.rows_per_file)?;
    let mut truth = std::io::BufWriter::new(std::fs::File::create(out.join(TRUTH_FILE))?);
    writeln!(truth, "id_type,id,person")?;
    let mut order_id = 0i64;
    let customers = (1..=spec.customers()).map(Person::Customer);
    let prospects = (1..=prospects(spec)).map(Person::Prospect);
    for person in customers.chain(prospects) {
        let label = person.label();
        let email = match person {
            Person::Customer(id) => super::customer_email(spec.seed, id),
            Person::Prospect(_) => None,
        };
        if let Person::Customer(id) = person {
            writeln!(truth, "customer_id,{id},{label}")?;
        }
        for k in 0..device_count(spec.seed, person) {
            writeln!(
                truth,
                "anonymous_id,{},{label}",
                device(spec.seed, person, k)
            )?;
        }
        let checkout = guest_checkout(spec.seed, person, email.as_deref());
        let mut emails_of_person: Vec<&str> = email.iter().map(String::as_str).collect();
        if let Some((on, typed)) = &checkout {
            order_id += 1;
            let mut r = Rng::for_entity(spec.seed, T_GUESTS, 2_000_000_000_000 + order_id as u64);
            orders.row(&[
                Value::I64(order_id),
                Value::Str(Some(device(spec.seed, person, *on))),
                Value::Str(Some(typed.clone())),
                Value::Ts(order_time(&mut r, days(2022, 1, 1), i64::MAX)),
                Value::Money(Some(r.range(999, 25_000))),
            ])?;
            if !JUNK_EMAILS.contains(&typed.as_str()) && !emails_of_person.contains(&typed.as_str())
            {
                emails_of_person.push(typed);
            }
        }
        for e in emails_of_person {
            writeln!(truth, "email,{e},{label}")?;
        }
    }
    orders.finish()?;
    truth.flush()?;
    Ok(())
}

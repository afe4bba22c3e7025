//! `pg_catalog` views that datafusion-pg-catalog does not have and tools read at
//! connect time (DataGrip, DBeaver): `pg_stat_ssl` (this connection: its backend pid and
//! whether it uses TLS), `pg_locks` (empty: datapunk takes no row or table locks),
//! `pg_timezone_names` and `pg_timezone_abbrevs` (the IANA zones from chrono-tz, with
//! their offsets now), and `pg_settings` (the server settings of [`crate::pg::settings`],
//! in place of datafusion-pg-catalog's one-row table).
//!
//! What a connection is ([`Connection`]) is stored in its session's config by the
//! server at login, so the views read it at scan time.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, TZ_VARIANTS};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, IntervalMonthDayNanoArray, StringArray,
};
use datafusion::arrow::datatypes::{
    DataType, Field, IntervalMonthDayNano, IntervalUnit, Schema, SchemaRef, TimeUnit,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;

use crate::pg::catalog::computed_view::{ComputedRows, ComputedView};

/// What the server knows about a connection, kept in its session config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The backend pid the client got in BackendKeyData.
    pub pid: i32,
    /// Whether the connection is encrypted with TLS.
    pub ssl: bool,
}

/// The names of the views this module adds.
pub const NAMES: &[&str] = &[
    "pg_locks",
    "pg_settings",
    "pg_stat_ssl",
    "pg_timezone_abbrevs",
    "pg_timezone_names",
];

/// The view `name`, if it is one of [`NAMES`].
pub fn table(name: &str) -> Option<Arc<dyn TableProvider>> {
    let view = match name {
        "pg_locks" => Extra::Locks,
        "pg_settings" => Extra::Settings,
        "pg_stat_ssl" => Extra::StatSsl,
        "pg_timezone_abbrevs" => Extra::TimezoneAbbrevs,
        "pg_timezone_names" => Extra::TimezoneNames,
        _ => return None,
    };
    Some(Arc::new(ComputedView(view)))
}

#[derive(Debug, Clone, Copy)]
enum Extra {
    Locks,
    Settings,
    StatSsl,
    TimezoneAbbrevs,
    TimezoneNames,
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn int(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}

fn boolean(name: &str) -> Field {
    Field::new(name, DataType::Boolean, true)
}

fn interval(name: &str) -> Field {
    Field::new(name, DataType::Interval(IntervalUnit::MonthDayNano), true)
}

impl Extra {
    fn fields(self) -> Vec<Field> {
        match self {
            // PostgreSQL 16's columns; xid and oid columns as integers.
            Extra::Locks => vec![
                text("locktype"),
                int("database"),
                int("relation"),
                int("page"),
                Field::new("tuple", DataType::Int16, true),
                text("virtualxid"),
                Field::new("transactionid", DataType::Int64, true),
                int("classid"),
                int("objid"),
                Field::new("objsubid", DataType::Int16, true),
                text("virtualtransaction"),
                int("pid"),
                text("mode"),
                boolean("granted"),
                boolean("fastpath"),
                Field::new(
                    "waitstart",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    true,
                ),
            ],
            // PostgreSQL 16's columns; enumvals as text.
            Extra::Settings => vec![
                text("name"),
                text("setting"),
                text("unit"),
                text("category"),
                text("short_desc"),
                text("extra_desc"),
                text("context"),
                text("vartype"),
                text("source"),
                text("min_val"),
                text("max_val"),
                text("enumvals"),
                text("boot_val"),
                text("reset_val"),
                text("sourcefile"),
                int("sourceline"),
                boolean("pending_restart"),
            ],
            Extra::StatSsl => vec![
                int("pid"),
                boolean("ssl"),
                text("version"),
                text("cipher"),
                int("bits"),
                text("client_dn"),
                Field::new("client_serial", DataType::Decimal128(38, 0), true),
                text("issuer_dn"),
            ],
            Extra::TimezoneAbbrevs => {
                vec![text("abbrev"), interval("utc_offset"), boolean("is_dst")]
            }
            Extra::TimezoneNames => vec![
                text("name"),
                text("abbrev"),
                interval("utc_offset"),
                boolean("is_dst"),
            ],
        }
    }
}

/// Every zone's (name, abbreviation, offset in seconds, daylight saving now).
fn zones_now() -> Vec<(&'static str, String, i32, bool)> {
    let now = Utc::now().naive_utc();
    TZ_VARIANTS
        .iter()
        .map(|tz| {
            let offset = tz.offset_from_utc_datetime(&now);
            (
                tz.name(),
                offset.abbreviation().unwrap_or_default().to_owned(),
                offset.fix().local_minus_utc(),
                !offset.dst_offset().is_zero(),
            )
        })
        .collect()
}

fn offsets(seconds: impl IntoIterator<Item = i32>) -> ArrayRef {
    Arc::new(IntervalMonthDayNanoArray::from_iter_values(
        seconds
            .into_iter()
            .map(|s| IntervalMonthDayNano::new(0, 0, i64::from(s) * 1_000_000_000)),
    ))
}

#[async_trait]
impl ComputedRows for Extra {
    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(self.fields()))
    }

    async fn rows(&self, state: &dyn Session) -> Result<Vec<RecordBatch>> {
        let schema = self.schema();
        let columns: Vec<ArrayRef> = match self {
            Extra::Locks => return Ok(Vec::new()),
            Extra::Settings => {
                let settings = crate::pg::settings::SETTINGS;
                let values: Vec<String> = settings.iter().map(|s| (s.value)()).collect();
                let texts = |f: &dyn Fn(usize) -> Option<String>| -> ArrayRef {
                    Arc::new(StringArray::from_iter((0..settings.len()).map(f)))
                };
                let value = |i: usize| Some(values[i].clone());
                let none = |_: usize| None;
                vec![
                    texts(&|i| Some(settings[i].name.to_owned())),
                    texts(&value),
                    texts(&none),
                    texts(&|i| Some(settings[i].category.to_owned())),
                    texts(&|i| Some(settings[i].short_desc.to_owned())),
                    texts(&none),
                    texts(&|_| Some("internal".to_owned())),
                    texts(&|i| Some(settings[i].vartype.to_owned())),
                    texts(&|_| Some("default".to_owned())),
                    texts(&none),
                    texts(&none),
                    texts(&none),
                    texts(&value),
                    texts(&value),
                    texts(&none),
                    Arc::new(Int32Array::from(vec![None; settings.len()])),
                    Arc::new(BooleanArray::from(vec![false; settings.len()])),
                ]
            }
            Extra::StatSsl => {
                let Some(connection) = state.config().get_extension::<Connection>() else {
                    return Ok(Vec::new());
                };
                let nothing = || Arc::new(StringArray::from(vec![None::<&str>])) as ArrayRef;
                vec![
                    Arc::new(Int32Array::from(vec![connection.pid])),
                    Arc::new(BooleanArray::from(vec![connection.ssl])),
                    nothing(),
                    nothing(),
                    Arc::new(Int32Array::from(vec![None])),
                    nothing(),
                    Arc::new(
                        datafusion::arrow::array::Decimal128Array::from(vec![None])
                            .with_precision_and_scale(38, 0)?,
                    ),
                    nothing(),
                ]
            }
            Extra::TimezoneNames => {
                let zones = zones_now();
                vec![
                    Arc::new(StringArray::from_iter_values(zones.iter().map(|z| z.0))),
                    Arc::new(StringArray::from_iter_values(
                        zones.iter().map(|z| z.1.as_str()),
                    )),
                    offsets(zones.iter().map(|z| z.2)),
                    Arc::new(BooleanArray::from_iter(zones.iter().map(|z| Some(z.3)))),
                ]
            }
            Extra::TimezoneAbbrevs => {
                let abbrevs: BTreeMap<String, (i32, bool)> = zones_now()
                    .into_iter()
                    .map(|(_, abbrev, offset, dst)| (abbrev, (offset, dst)))
                    .collect();
                vec![
                    Arc::new(StringArray::from_iter_values(abbrevs.keys())),
                    offsets(abbrevs.values().map(|v| v.0)),
                    Arc::new(BooleanArray::from_iter(abbrevs.values().map(|v| Some(v.1)))),
                ]
            }
        };
        Ok(vec![RecordBatch::try_new(schema, columns)?])
    }
}

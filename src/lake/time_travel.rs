//! Earlier versions of the lake's Delta and Iceberg tables: `lake."accounts@3"` is table
//! `accounts` at Delta version 3 (or Iceberg snapshot id 3), `lake."accounts@2026-12-01
//! 10:00:00"` the version that was current at that time (UTC; RFC 3339 with an offset
//! too). The version is loaded when a query names it, from the log or metadata as it is
//! now, and served through the same permissions, erasure filter and masking as the
//! current one (the schema's guard sees the table's own name).

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::catalog::TableProvider;
use datafusion::error::{DataFusionError, Result};

use super::Lake;
use crate::engine::TableHistory;

/// Which version of a table a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// A Delta version or an Iceberg snapshot id.
    Version(i64),
    /// The version current at this time.
    Time(DateTime<Utc>),
}

impl At {
    /// `3`, `2026-12-01`, `2026-12-01 10:00:00`, `2026-12-01T10:00:00+01:00`.
    ///
    /// # Errors
    /// None of these.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(version) = text.parse() {
            return Ok(Self::Version(version));
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::Time(time.with_timezone(&Utc)));
        }
        for format in [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
                return Ok(Self::Time(time.and_utc()));
            }
        }
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Self::Time(
                day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            ));
        }
        Err(format!(
            "{text:?} is neither a version number nor a time (2026-12-01 10:00:00, UTC)"
        ))
    }

    /// The time in milliseconds since 1970 (Iceberg's and Delta's clocks).
    pub fn millis(time: &DateTime<Utc>) -> i64 {
        time.timestamp_millis()
    }
}

/// The lake's tables at earlier versions, for its schema (a weak link: the schema must
/// not keep the lake alive).
#[derive(Debug)]
pub struct LakeHistory(pub Weak<Lake>);

#[async_trait]
impl TableHistory for LakeHistory {
    async fn table_at(&self, name: &str, at: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(lake) = self.0.upgrade() else {
            return Ok(None);
        };
        let refused = |why: String| refused(name, at, why);
        let at = At::parse(at).map_err(refused)?;
        match lake.table_at(name, &at).await {
            Ok(Some(table)) => Ok(Some(Arc::new(table) as Arc<dyn TableProvider>)),
            Ok(None) => Ok(None),
            Err(e) => Err(refused(e)),
        }
    }
}

/// The error of a version that cannot be served (22023: the query asked for something
/// the table does not have).
fn refused(name: &str, at: &str, why: String) -> DataFusionError {
    crate::error::invalid_argument("time travel", format!("{name}@{at}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_times_are_told_apart() {
        assert_eq!(At::parse("3"), Ok(At::Version(3)));
        assert_eq!(
            At::parse(" 5846325378316397457 "),
            Ok(At::Version(5_846_325_378_316_397_457))
        );
        let noon = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(At::parse("2026-12-01 12:00:00"), Ok(At::Time(noon)));
        assert_eq!(At::parse("2026-12-01T12:00:00"), Ok(At::Time(noon)));
        assert_eq!(At::parse("2026-12-01 12:00"), Ok(At::Time(noon)));
        assert_eq!(At::parse("2026-12-01T13:00:00+01:00"), Ok(At::Time(noon)));
        assert_eq!(
            At::parse("2026-12-01"),
            Ok(At::Time(noon - chrono::Duration::hours(12)))
        );
        assert!(At::parse("yesterday").is_err());
    }
}

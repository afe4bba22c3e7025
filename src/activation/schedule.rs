//! Cron schedules of exports and audiences: patterns parsed by `croner` (five fields, or
//! six with seconds first), evaluated in the configured time zone, and the loop that
//! fires a job at each occurrence until shutdown. A job that fails is reported by the job
//! itself and simply runs again at the next occurrence.

use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use tokio_util::sync::CancellationToken;

/// A parsed schedule in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    pattern: String,
    cron: Cron,
    zone: Tz,
}

/// The zone schedules are read in (`[activation] timezone`).
///
/// # Errors
/// Not an IANA zone name.
pub fn zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name).map_err(|_| format!("{name:?} is not an IANA time zone (e.g. Europe/Paris)"))
}

impl Schedule {
    /// Parses a cron pattern.
    ///
    /// # Errors
    /// The pattern is not valid cron.
    pub fn parse(pattern: &str, zone: Tz) -> Result<Self, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(pattern)
            .map_err(|e| format!("{pattern:?} is not a cron schedule: {e}"))?;
        Ok(Self {
            pattern: pattern.to_owned(),
            cron,
            zone,
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The first occurrence strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Runs `job` at every occurrence until `stop`.
    pub async fn run<F, Fut>(self, stop: CancellationToken, mut job: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            let now = Utc::now();
            let Some(next) = self.next_after(now) else {
                tracing::warn!(schedule = %self.pattern, "the schedule has no further occurrence");
                return;
            };
            let wait = (next - now).to_std().unwrap_or_default();
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => job().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn occurrences_follow_the_zone_and_its_daylight_saving_time() {
        let paris = zone("Europe/Paris").expect("zone");
        let daily = Schedule::parse("0 6 * * *", paris).expect("cron");
        // 06:00 in Paris is 05:00 UTC in winter, 04:00 UTC in summer.
        assert_eq!(
            daily.next_after(at("2026-12-05T07:00:00Z")),
            Some(at("2026-12-06T05:00:00Z"))
        );
        assert_eq!(
            daily.next_after(at("2026-07-01T03:00:00Z")),
            Some(at("2026-07-01T04:00:00Z"))
        );
        // Strictly after: the occurrence itself is not fired twice.
        assert_eq!(
            daily.next_after(at("2026-12-06T05:00:00Z")),
            Some(at("2026-12-07T05:00:00Z"))
        );
        let quarter = Schedule::parse("*/15 * * * *", zone("UTC").expect("utc")).expect("cron");
        assert_eq!(
            quarter.next_after(at("2026-12-05T07:14:59Z")),
            Some(at("2026-12-05T07:15:00Z"))
        );
        let seconds = Schedule::parse("*/10 * * * * *", zone("UTC").expect("utc")).expect("cron");
        assert_eq!(
            seconds.next_after(at("2026-12-05T07:14:51Z")),
            Some(at("2026-12-05T07:15:00Z"))
        );
    }

    #[test]
    fn bad_patterns_and_zones_are_refused() {
        let utc = zone("UTC").expect("utc");
        for bad in ["", "61 * * * *", "every morning", "* * * *"] {
            assert!(Schedule::parse(bad, utc).is_err(), "{bad}");
        }
        assert!(zone("Mars/Olympus").is_err());
    }
}

//! Cron schedules of exports and audiences: patterns parsed by `croner` (five fields, or
//! six with seconds first), evaluated in the configured time zone, and the loop that
//! fires a job at each occurrence until shutdown. A job that fails is reported by the job
//! itself and simply runs again at the next occurrence. The loop reads time from a
//! [`Clock`]: the system's, or in tests one they move by hand.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use tokio_util::sync::CancellationToken;

/// Where schedules read the time and wait for it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once [`Clock::now`] has reached `at`.
    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The system's clock. A timer can wake a little before the wall clock reaches the
/// occurrence (the two drift, and the wall clock may be set back): it sleeps again
/// rather than firing early, so one occurrence never fires twice.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                let left = at - Utc::now();
                if left <= chrono::TimeDelta::zero() {
                    return;
                }
                let left = left.to_std().unwrap_or_default();
                tokio::time::sleep(left.max(std::time::Duration::from_millis(1))).await;
            }
        })
    }
}

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

    /// Runs `job` at every occurrence until `stop`, on the system clock.
    pub async fn run<F, Fut>(self, stop: CancellationToken, job: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        self.run_on(&SystemClock, stop, job).await;
    }

    /// Runs `job` at every occurrence on `clock` until `stop`. Occurrences passed while
    /// a job ran are skipped, not made up: runs never overlap or pile up.
    pub async fn run_on<F, Fut>(self, clock: &dyn Clock, stop: CancellationToken, mut job: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            let Some(next) = self.next_after(clock.now()) else {
                tracing::warn!(schedule = %self.pattern, "the schedule has no further occurrence");
                return;
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = clock.sleep_until(next) => job().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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

    /// A clock the test moves by hand.
    struct HandClock {
        now: std::sync::Mutex<DateTime<Utc>>,
        moved: tokio::sync::Notify,
    }

    impl HandClock {
        fn at(text: &str) -> Self {
            Self {
                now: std::sync::Mutex::new(at(text)),
                moved: tokio::sync::Notify::new(),
            }
        }

        fn set(&self, text: &str) {
            *self.now.lock().expect("clock") = at(text);
            self.moved.notify_waiters();
        }
    }

    impl Clock for HandClock {
        fn now(&self) -> DateTime<Utc> {
            *self.now.lock().expect("clock")
        }

        fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(async move {
                loop {
                    let moved = self.moved.notified();
                    if self.now() >= t {
                        return;
                    }
                    moved.await;
                }
            })
        }
    }

    /// Lets the schedule's task run until it waits again.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn jobs_fire_at_each_occurrence_of_the_clock_and_never_early() {
        let clock = Arc::new(HandClock::at("2026-03-28T00:00:00Z"));
        let paris = zone("Europe/Paris").expect("zone");
        let daily = Schedule::parse("0 6 * * *", paris).expect("cron");
        let fired = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = {
            let (clock, fired, stop) = (Arc::clone(&clock), Arc::clone(&fired), stop.clone());
            tokio::spawn(async move {
                let c = Arc::clone(&clock);
                daily
                    .run_on(clock.as_ref(), stop, move || {
                        fired.lock().expect("fired").push(c.now());
                        async {}
                    })
                    .await;
            })
        };
        let fired_at = || fired.lock().expect("fired").clone();
        settle().await;
        // One second before 06:00 in Paris (05:00 UTC in winter): nothing yet.
        clock.set("2026-03-28T04:59:59Z");
        settle().await;
        assert!(fired_at().is_empty());
        clock.set("2026-03-28T05:00:00Z");
        settle().await;
        assert_eq!(fired_at(), vec![at("2026-03-28T05:00:00Z")]);
        // Later that day: nothing more.
        clock.set("2026-03-28T12:00:00Z");
        settle().await;
        assert_eq!(fired_at().len(), 1);
        // Summer time began in the night: 06:00 in Paris is 04:00 UTC.
        clock.set("2026-03-29T03:59:59Z");
        settle().await;
        assert_eq!(fired_at().len(), 1);
        clock.set("2026-03-29T04:00:00Z");
        settle().await;
        assert_eq!(fired_at().len(), 2);
        // The box slept through two mornings: one run on waking, not three.
        clock.set("2026-04-01T09:00:00Z");
        settle().await;
        assert_eq!(
            fired_at(),
            vec![
                at("2026-03-28T05:00:00Z"),
                at("2026-03-29T04:00:00Z"),
                at("2026-04-01T09:00:00Z")
            ]
        );
        stop.cancel();
        task.await.expect("the loop stops");
    }

    #[tokio::test]
    async fn a_job_longer_than_its_interval_skips_the_missed_occurrences() {
        let clock = Arc::new(HandClock::at("2026-12-05T07:00:00Z"));
        let quarter = Schedule::parse("*/15 * * * *", zone("UTC").expect("utc")).expect("cron");
        let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = {
            let (clock, starts, stop) = (Arc::clone(&clock), Arc::clone(&starts), stop.clone());
            tokio::spawn(async move {
                let c = Arc::clone(&clock);
                quarter
                    .run_on(clock.as_ref(), stop, move || {
                        let c = Arc::clone(&c);
                        starts.lock().expect("starts").push(c.now());
                        // Each run lasts 20 minutes of the clock.
                        async move {
                            let end = c.now() + chrono::TimeDelta::minutes(20);
                            c.sleep_until(end).await;
                        }
                    })
                    .await;
            })
        };
        settle().await;
        for t in [
            "2026-12-05T07:15:00Z",
            "2026-12-05T07:35:00Z",
            "2026-12-05T07:45:00Z",
            "2026-12-05T08:05:00Z",
        ] {
            clock.set(t);
            settle().await;
        }
        assert_eq!(
            *starts.lock().expect("starts"),
            vec![at("2026-12-05T07:15:00Z"), at("2026-12-05T07:45:00Z")]
        );
        stop.cancel();
        task.await.expect("the loop stops");
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

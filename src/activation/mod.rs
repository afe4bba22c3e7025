//! Activation: what datapunk does with its answers. Audiences are named queries (one row
//! per member) whose membership is refreshed after every lake change and warehouse build
//! and on demand, diffed against the last refresh and recorded durably, so campaigns can
//! act on who entered and who left. Definitions are files ([`definitions`]), the diff is
//! streamed ([`diff`]), state is committed atomically ([`store`]), the history kept in few
//! files ([`compaction`]), and SQL users read it
//! through `audience.NAME`, `datapunk.audiences` and `datapunk.audience_changes`
//! ([`tables`]). Exports ([`exports`]) write an audience, or only its changes since the
//! last successful run, to files atomically, each run recorded ([`export_runs`]);
//! exports and audiences may run on cron schedules ([`schedule`]); both keep only people
//! with marketing consent when `[privacy]` records it ([`consent`]).

pub mod audiences;
pub mod compaction;
pub mod consent;
pub mod definitions;
pub mod diff;
pub mod export_runs;
pub mod exports;
pub mod schedule;
pub mod store;
pub mod tables;
pub mod webhook;

pub use audiences::{AudienceView, Audiences};
pub use exports::{ExportView, Exports};

/// What is wrong with the exports and audience schedules of a configuration, as messages
/// naming the key (or the definition file): bad cron, unknown audience, paths outside the
/// export roots or not writable.
pub fn configuration_problems(
    exports: &[crate::config::ExportConfig],
    definitions: &definitions::Definitions,
    roots: &[std::path::PathBuf],
    zone: chrono_tz::Tz,
) -> Vec<String> {
    let (defined, mut problems) = match definitions.load() {
        Ok(defined) => (defined, Vec::new()),
        Err(e) => (
            Vec::new(),
            vec![format!(
                "audiences.dir {}: {e}",
                definitions.dir().display()
            )],
        ),
    };
    let names: Vec<String> = defined.iter().map(|d| d.name.clone()).collect();
    problems.extend(exports::check(exports, &names, roots, zone));
    for d in &defined {
        if let Some(pattern) = &d.schedule {
            if let Err(m) = schedule::Schedule::parse(pattern, zone) {
                problems.push(format!(
                    "{}: audience {}: schedule {m}",
                    d.path.display(),
                    d.name
                ));
            }
        }
    }
    problems
}

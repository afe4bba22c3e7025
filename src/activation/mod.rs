//! Activation: what datapunk does with its answers. Audiences are named queries (one row
//! per member) whose membership is refreshed after every lake change and warehouse build
//! and on demand, diffed against the last refresh and recorded durably, so campaigns can
//! act on who entered and who left. Definitions are files ([`definitions`]), the diff is
//! streamed ([`diff`]), state is committed atomically ([`store`]), and SQL users read it
//! through `audience.NAME`, `datapunk.audiences` and `datapunk.audience_changes`
//! ([`tables`]).

pub mod audiences;
pub mod definitions;
pub mod diff;
pub mod store;
pub mod tables;

pub use audiences::{AudienceView, Audiences};

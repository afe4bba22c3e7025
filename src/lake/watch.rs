//! Watching the lake: notify events are coalesced into "something changed" ticks, and a
//! tick becomes one rescan after a quiet period (`lake.debounce_ms`), so a burst of 1,000
//! new files leads to one rescan, not 1,000.
//!
//! The notify callback runs on notify's own thread and only `try_send`s into a capacity-1
//! channel. Keep the returned watcher alive: dropping it stops watching.

use std::path::Path;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Starts watching `root` recursively; each change sends (at most one pending) tick.
///
/// # Errors
/// The platform watcher cannot be created or cannot watch `root`.
pub fn watch(root: &Path) -> notify::Result<(RecommendedWatcher, mpsc::Receiver<()>)> {
    let (tx, rx) = mpsc::channel(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            Ok(e) if matches!(e.kind, EventKind::Access(_)) => {}
            Ok(_) => {
                // Full channel = a tick is already pending; that one covers this change.
                let _ = tx.try_send(());
            }
            Err(error) => {
                tracing::warn!(%error, "lake watcher error; rescanning");
                let _ = tx.try_send(());
            }
        }
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    Ok((watcher, rx))
}

/// Waits for the next tick, then until no tick arrived for `quiet`. Returns `false` when
/// the watcher is gone.
pub async fn next_settled_change(rx: &mut mpsc::Receiver<()>, quiet: Duration) -> bool {
    if rx.recv().await.is_none() {
        return false;
    }
    loop {
        match tokio::time::timeout(quiet, rx.recv()).await {
            Ok(Some(())) => continue,
            Ok(None) => return false,
            Err(_elapsed) => return true,
        }
    }
}

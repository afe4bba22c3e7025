//! Background work — lake rescans, warehouse builds, audience refreshes, exports and
//! their schedules, key index builds — runs on threads of the lowest OS priority (nice
//! 19), apart from the runtime that serves connections. Rebuilding a large table then
//! never delays interactive queries (a point lookup waits for a CPU, not for the
//! rebuild's tasks to yield), and the rebuild still gets every cycle they leave idle.

use std::future::Future;

use crate::error::{Error, Result};

/// The runtime background work runs on; stopped (its tasks dropped at their next await)
/// when dropped.
#[derive(Debug)]
pub struct Background {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Background {
    /// One worker thread per core, at the lowest priority.
    ///
    /// # Errors
    /// The threads cannot be started.
    pub fn start() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .thread_name("datapunk-background")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Runs `work` in the background and waits for it.
    ///
    /// # Errors
    /// The background runtime is stopping (the work was dropped). A panic in `work`
    /// continues in the caller.
    pub async fn run<F>(&self, work: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.runtime.as_ref().ok_or_else(stopping)?;
        match runtime.spawn(work).await {
            Ok(output) => Ok(output),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(stopping()),
        }
    }

    /// Starts `work` in the background without waiting for it.
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Some(runtime) = &self.runtime {
            runtime.spawn(work);
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Allowed inside an async context, unlike dropping the runtime.
            runtime.shutdown_background();
        }
    }
}

fn stopping() -> Error {
    Error::Config("the server is stopping: background work was cancelled".into())
}

/// Gives the calling thread the lowest scheduling priority (best effort: a system that
/// refuses leaves it as it is).
pub fn lower_priority() {
    if let Err(e) =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        tracing::debug!(error = ?e, "background thread keeps its priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's nice value (Linux).
    fn nice() -> Option<i32> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        // Fields after the command name in parentheses start with the 3rd, state;
        // nice is the 19th.
        let rest = &stat[stat.rfind(')')? + 2..];
        rest.split(' ').nth(16)?.parse().ok()
    }

    #[tokio::test]
    async fn runs_work_at_the_lowest_priority_and_returns_its_output() {
        let background = Background::start().expect("runtime");
        let (name, nice) = background
            .run(async { (std::thread::current().name().map(str::to_owned), nice()) })
            .await
            .expect("ran");
        assert_eq!(name.as_deref(), Some("datapunk-background"));
        if cfg!(target_os = "linux") {
            assert_eq!(nice, Some(19));
        }
        drop(background);
    }
}

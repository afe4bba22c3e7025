//! Webhook delivery of export rows: JSON lines POSTed in batches of at most
//! [`BATCH_ROWS`] rows, each with an `Idempotency-Key` derived from the export and the
//! batch's content (a batch sent again, by a retry or by the next run, carries the same
//! key), retried with exponential backoff on connection errors, 408, 429 and 5xx.

use std::time::Duration;

use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};

/// Rows per POST.
pub const BATCH_ROWS: usize = 1_000;
/// Tries per batch (the first and the retries).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// One export's webhook.
pub struct Webhook {
    export: String,
    url: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url).finish()
    }
}

fn failed(message: String) -> DataFusionError {
    DataFusionError::External(message.into())
}

impl Webhook {
    pub fn new(export: &str, url: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            export: export.to_owned(),
            url: url.to_owned(),
            agent,
        }
    }

    /// POSTs `batch` in chunks of [`BATCH_ROWS`] rows (blocking).
    ///
    /// # Errors
    /// A chunk was not accepted after every retry, or was refused (4xx).
    pub fn deliver(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let rows = BATCH_ROWS.min(batch.num_rows() - offset);
            let mut body = Vec::new();
            let mut writer = LineDelimitedWriter::new(&mut body);
            writer.write(&batch.slice(offset, rows))?;
            writer.finish()?;
            self.post(&body)?;
            offset += rows;
        }
        Ok(())
    }

    fn post(&self, body: &[u8]) -> Result<()> {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(self.export.as_bytes());
        context.update(b"\0");
        context.update(body);
        let key: String = context.finish().as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .agent
                .post(&self.url)
                .header("Content-Type", "application/x-ndjson")
                .header("Idempotency-Key", &key)
                .send(body);
            match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status().as_u16();
                    last = format!("{} answered {status}", self.url);
                    if (400..500).contains(&status) && status != 408 && status != 429 {
                        return Err(failed(format!("webhook {last}: refused, not retried")));
                    }
                }
                Err(e) => last = format!("{}: {e}", self.url),
            }
            if attempt < ATTEMPTS {
                tracing::warn!(export = %self.export, attempt, error = %last, "webhook delivery failed; retrying");
                std::thread::sleep(backoff);
                backoff *= 2;
            }
        }
        Err(failed(format!(
            "webhook {last} after {ATTEMPTS} attempts; the rows go out with the next run"
        )))
    }
}

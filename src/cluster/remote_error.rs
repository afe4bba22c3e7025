//! Errors of cluster jobs as clients should see them. Ballista reports a task's
//! failure as text (the executor's error in Rust's debug form inside "Job .. failed:
//! .."), so the error is read back from that text and given the SQLSTATE the same
//! query gets when it runs locally; a scheduler out of reach is a connection error.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

use crate::error::{classify, Error};
use crate::sqlstate::SqlState;

/// `e`, raised by a cluster job's stream, as the client should see it.
pub fn job_error(e: DataFusionError, scheduler_url: &str) -> DataFusionError {
    let text = e.to_string();
    let scheduler = scheduler_url.trim_start_matches("http://").to_owned();
    let unreachable = [
        "tonic::transport::Error",
        "ConnectError",
        "code: Unavailable",
    ];
    let error = if unreachable.iter().any(|m| text.contains(m)) {
        let cause = if text.contains("Connection refused") {
            "connection refused".to_owned()
        } else {
            text
        };
        Error::ClusterUnreachable { scheduler, cause }
    } else if let Some((state, message)) = task_error(&text) {
        Error::Remote { state, message }
    } else if ["ExecutorLost", "xecutor lost", "FetchFailed", "IoError"]
        .iter()
        .any(|m| text.contains(m))
    {
        Error::ClusterLost(text)
    } else if text.contains("Job ") && text.contains(" failed") {
        Error::Remote {
            state: SqlState::INTERNAL_ERROR,
            message: format!("the query failed on the cluster: {text}"),
        }
    } else {
        return e;
    };
    DataFusionError::External(Box::new(error))
}

/// Whether the cluster refused the job before running it: the scheduler could not
/// decode or plan it (nothing has run, so it can run elsewhere).
pub fn is_planning_failure(e: &DataFusionError) -> bool {
    let text = e.to_string();
    [
        "PlanParsingFailure",
        "Could not parse plan",
        "Error planning job",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// The SQLSTATE and message of a task's own error in a job failure's text.
fn task_error(text: &str) -> Option<(SqlState, String)> {
    if text.contains("ArrowError(DivideByZero") {
        return Some(classify(&ArrowError::DivideByZero));
    }
    type Arrow = fn(String) -> ArrowError;
    let arrow: [(&str, Arrow); 6] = [
        ("CastError", ArrowError::CastError),
        ("ParseError", ArrowError::ParseError),
        ("ComputeError", ArrowError::ComputeError),
        ("ArithmeticOverflow", ArrowError::ArithmeticOverflow),
        ("InvalidArgumentError", ArrowError::InvalidArgumentError),
        ("NotYetImplemented", ArrowError::NotYetImplemented),
    ];
    for (name, make) in arrow {
        if let Some(message) = literal_after(text, &format!("ArrowError({name}(")) {
            return Some(classify(&make(message)));
        }
    }
    type DataFusion = fn(String) -> DataFusionError;
    let datafusion: [(&str, DataFusion); 3] = [
        ("ResourcesExhausted(", DataFusionError::ResourcesExhausted),
        ("Execution(", DataFusionError::Execution),
        ("NotImplemented(", DataFusionError::NotImplemented),
    ];
    for (marker, make) in datafusion {
        if let Some(message) = literal_after(text, marker) {
            return Some(classify(&make(message)));
        }
    }
    let ours = [
        (
            "InvalidArgument { function: ",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        (
            "LimitExceeded { function: ",
            SqlState::PROGRAM_LIMIT_EXCEEDED,
        ),
    ];
    for (marker, state) in ours {
        if let Some(function) = literal_after(text, marker) {
            let rest = &text[text.find(marker)? + marker.len()..];
            let message = literal_after(rest, "message: ").unwrap_or_default();
            return Some((state, format!("{function}: {message}")));
        }
    }
    None
}

/// The Rust string literal (`"..."`, debug-escaped) right after `marker` in `text`.
fn literal_after(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let mut chars = text[start..].chars();
    if chars.next()? != '"' {
        return None;
    }
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(text: &str) -> (String, String) {
        let e = job_error(DataFusionError::Execution(text.to_owned()), "http://h:1");
        let (state, message) = classify(&e);
        (state.code().to_owned(), message)
    }

    #[test]
    fn task_errors_keep_the_sqlstate_they_have_locally() {
        let failed = "Job 1 failed: Job failed due to stage 0 failed: Task failed due to runtime execution error: ";
        assert_eq!(
            state(&format!(
                "{failed}DataFusionError(Shared(External(ArrowError(DivideByZero))))"
            ))
            .0,
            "22012"
        );
        let (code, message) = state(&format!(
            "{failed}DataFusionError(External(InvalidArgument {{ function: \"rfm_score\", message: \"bins must be \\\"positive\\\"\" }}))"
        ));
        assert_eq!(code, "22023");
        assert_eq!(message, "rfm_score: bins must be \"positive\"");
        assert_eq!(state(&format!("{failed}something new")).0, "XX000");
        assert_eq!(
            state(&format!("{failed}FetchFailed(\"e1\", 1, 0, \"gone\")")).0,
            "08006"
        );
    }

    #[test]
    fn an_unreachable_scheduler_is_a_connection_error() {
        let (code, message) = state("tonic::transport::Error(Transport, ConnectError(\"tcp connect error\", Os { code: 111, message: \"Connection refused\" }))");
        assert_eq!(code, "08001");
        assert!(
            message.contains("h:1") && message.contains("connection refused"),
            "{message}"
        );
    }

    #[test]
    fn other_errors_pass_through() {
        let e = job_error(DataFusionError::Plan("nope".into()), "http://h:1");
        assert!(matches!(e, DataFusionError::Plan(_)));
    }
}

//! Asking the collector to delete what it holds for a client id:
//! `POST {collector_url}/api/v1/deletion` with `{"client_id": "…"}`,
//! answered `200 {"deleted": N}`, with the same key as ingest.

use serde::Deserialize;
use telemetry_runtime::sink::http::shown_answer;

use crate::config::{ApiKey, CollectorConfig};
use crate::http::{self, MissingCollectorUrl};
use crate::wire::DELETION_PATH;

/// A deletion request did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeletionError {
    /// No collector URL is configured.
    #[error(transparent)]
    NoCollector(#[from] MissingCollectorUrl),
    /// The collector could not be reached (connection, timeout).
    #[error("the collector at {url} could not be reached: {reason}")]
    Unreachable {
        /// The deletion endpoint.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The collector answered with another status than 200.
    #[error("the collector at {url} refused the deletion request: HTTP {status}{}", answer_suffix(.answer))]
    Refused {
        /// The deletion endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The collector's answer, without anything secret, shortened.
        answer: String,
    },
    /// The collector answered 200 with something other than `{"deleted": N}`.
    #[error(
        "the collector at {url} answered the deletion request with {answer:?}, not {{\"deleted\": N}}"
    )]
    BadAnswer {
        /// The deletion endpoint.
        url: String,
        /// The answer, shortened.
        answer: String,
    },
}

fn answer_suffix(answer: &str) -> String {
    if answer.is_empty() {
        String::new()
    } else {
        format!(": {answer}")
    }
}

#[derive(Deserialize)]
struct Deleted {
    deleted: u64,
}

/// Asks the collector of `config` to delete every record it holds for
/// `client_id`, and returns how many it deleted. One attempt, within the
/// configured request timeout; the caller decides whether to try again.
pub fn send_deletion_request(
    config: &CollectorConfig,
    client_id: &str,
) -> Result<u64, DeletionError> {
    let base = config.collector_url.as_deref().ok_or(MissingCollectorUrl)?;
    let url = format!("{base}{DELETION_PATH}");
    let secret = config.collector_api_key.as_ref().map_or("", ApiKey::expose);
    let body = serde_json::json!({ "client_id": client_id }).to_string();
    let mut response = http::post(
        &http::agent(config),
        &url,
        config.collector_api_key.as_ref(),
        false,
        body.as_bytes(),
    )
    .map_err(|reason| DeletionError::Unreachable {
        url: url.clone(),
        reason,
    })?;
    let status = response.status().as_u16();
    let answer = http::read_answer(&mut response);
    if status != 200 {
        return Err(DeletionError::Refused {
            url,
            status,
            answer: shown_answer(&answer, secret),
        });
    }
    serde_json::from_str::<Deleted>(&answer)
        .map(|deleted| deleted.deleted)
        .map_err(|_| DeletionError::BadAnswer {
            url,
            answer: shown_answer(&answer, secret),
        })
}

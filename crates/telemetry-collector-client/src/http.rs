//! The requests both endpoints make: one agent per configuration, JSON
//! bodies, the bearer key, gzip.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use telemetry_runtime::policy::MAX_ANSWER_BYTES;

use crate::config::{ApiKey, CollectorConfig};
use crate::wire;

/// [`RegistrySink::new`](crate::RegistrySink::new) and [`send_deletion_request`](crate::send_deletion_request)
/// need a collector URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no collector is configured (collector_url)")]
pub struct MissingCollectorUrl;

/// The HTTP agent for `config`: its timeout, statuses as answers.
pub(crate) fn agent(config: &CollectorConfig) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(config.request_timeout()))
            .http_status_as_error(false)
            .user_agent(wire::USER_AGENT)
            .build(),
    )
}

/// A request to the collector with its headers: JSON, the bearer key if
/// any, and the body gzipped when `gzip` is on.
pub(crate) fn post(
    agent: &ureq::Agent,
    url: &str,
    api_key: Option<&ApiKey>,
    gzip: bool,
    body: &[u8],
) -> Result<ureq::http::Response<ureq::Body>, String> {
    let mut request = agent.post(url).header("Content-Type", "application/json");
    if let Some(key) = api_key {
        request = request.header("Authorization", format!("Bearer {}", key.expose()));
    }
    let response = if gzip {
        let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
        let compressed = encoder
            .write_all(body)
            .and_then(|()| encoder.finish())
            .map_err(|error| format!("gzip: {error}"))?;
        request
            .header("Content-Encoding", "gzip")
            .send(&compressed[..])
    } else {
        request.send(body)
    };
    response.map_err(|error| error.to_string())
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an answer's body.
pub(crate) fn read_answer(response: &mut ureq::http::Response<ureq::Body>) -> String {
    response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .unwrap_or_default()
}

//! The PostHog sink: one attempt per call, over `ureq`, classified for the
//! delivery rules of `telemetry-runtime` by its shared HTTP rules
//! ([`telemetry_runtime::sink::http`]).

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use telemetry_runtime::Timestamp;
use telemetry_runtime::policy::{DeliveryConfig, MAX_ANSWER_BYTES};
use telemetry_runtime::queue::Envelope;
use telemetry_runtime::sink::{Sent, Sink, SinkError, SinkErrorKind};

use crate::config::{ApiKey, PostHogConfig};
use crate::wire::{self, Encoder, LIB, LIB_VERSION, MAX_REQUEST_BYTES, Refusal};

/// Sends batches to PostHog's `/batch/` endpoint.
#[derive(Clone)]
pub struct PostHogSink {
    config: PostHogConfig,
    api_key: ApiKey,
    url: String,
    agent: ureq::Agent,
    encoder: Encoder,
}

impl std::fmt::Debug for PostHogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostHogSink")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// [`PostHogSink::new`] needs an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no PostHog API key is configured (posthog_api_key)")]
pub struct MissingApiKey;

impl PostHogSink {
    /// A sink for `config`, which must have an API key.
    pub fn new(config: PostHogConfig) -> Result<Self, MissingApiKey> {
        let api_key = config.posthog_api_key.clone().ok_or(MissingApiKey)?;
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(config.request_timeout()))
                .http_status_as_error(false)
                .user_agent(format!("{LIB}/{LIB_VERSION}"))
                .build(),
        );
        Ok(Self {
            url: format!("{}/batch/", config.posthog_host.trim_end_matches('/')),
            encoder: Encoder::new(config.strict_privacy),
            api_key,
            agent,
            config,
        })
    }

    fn error(&self, kind: SinkErrorKind, reason: impl Into<String>) -> SinkError {
        SinkError::new(self.name(), kind, reason)
    }

    /// Posts one body of already encoded, comma-joined events.
    fn post(&self, events: &[u8]) -> Result<(), SinkError> {
        let body = wire::body(self.api_key.expose(), events, Timestamp::now());
        let request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        let response = if self.config.gzip {
            let mut encoder =
                GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
            let compressed = encoder
                .write_all(&body)
                .and_then(|()| encoder.finish())
                .map_err(|error| self.error(SinkErrorKind::TRANSIENT, format!("gzip: {error}")))?;
            request
                .header("Content-Encoding", "gzip")
                .send(&compressed[..])
        } else {
            request.send(&body[..])
        };
        let mut response =
            response.map_err(|error| self.error(SinkErrorKind::TRANSIENT, error.to_string()))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let answer = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .unwrap_or_default();
        Err(SinkError::from_status(
            self.name(),
            status,
            retry_after.as_deref(),
            &answer,
            self.api_key.expose(),
        ))
    }
}

impl Sink for PostHogSink {
    fn name(&self) -> String {
        format!("posthog {}", self.config.posthog_host)
    }

    fn delivery(&self) -> DeliveryConfig {
        self.config.delivery()
    }

    /// The same sink, sharing the connection pool: a second request in
    /// flight while two full batches are queued (PostHog deduplicates a
    /// batch sent again on its `uuid`s, and orders events by their
    /// timestamps).
    fn second_lane(&self) -> Option<Box<dyn Sink>> {
        Some(Box::new(self.clone()))
    }

    /// Encodes the batch and posts it, in as many requests as keep each body
    /// under 5 MiB. An event over 900 KiB is refused and counted.
    fn send(&mut self, batch: &[Envelope]) -> Result<Sent, SinkError> {
        // Room for the api key, `sent_at` and the brackets around the batch.
        let limit = MAX_REQUEST_BYTES - 256 - self.api_key.expose().len();
        let mut events = Vec::with_capacity(batch.len() * 512);
        let mut count = 0;
        let mut refused = 0;
        let mut requests = 0;
        for envelope in batch {
            let mark = events.len();
            if count > 0 {
                events.push(b',');
            }
            match self.encoder.event(envelope, &mut events) {
                Ok(()) if events.len() > limit && count > 0 => {
                    let next = events.split_off(mark + 1);
                    events.truncate(mark);
                    self.post(&events)?;
                    requests += 1;
                    events = next;
                    count = 1;
                }
                Ok(()) => count += 1,
                Err(refusal) => {
                    events.truncate(mark);
                    refused += 1;
                    match refusal {
                        Refusal::TooLarge { event, bytes } => tracing::warn!(
                            event,
                            bytes,
                            "telemetry event dropped: larger than PostHog accepts"
                        ),
                        Refusal::NotAnObject { event } => tracing::warn!(
                            event,
                            "telemetry event dropped: its properties are not a JSON object"
                        ),
                    }
                }
            }
        }
        if count > 0 {
            self.post(&events)?;
            requests += 1;
        }
        Ok(Sent::requests(requests).with_refused(refused))
    }
}

//! The PostHog sink: one attempt per call, over `ureq`, classified for the
//! delivery rules of `telemetry-runtime`.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use telemetry_runtime::Timestamp;
use telemetry_runtime::guard::{self, Detector};
use telemetry_runtime::policy::{DeliveryConfig, MAX_RETRY_AFTER};
use telemetry_runtime::queue::Envelope;
use telemetry_runtime::sink::{Sent, Sink, SinkError, SinkErrorKind};
use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::config::{ApiKey, PostHogConfig};
use crate::wire::{self, Encoder, LIB, LIB_VERSION, MAX_REQUEST_BYTES, Refusal};

/// The server's answer is kept this long, at most, for logs and the
/// dead-letter file.
const MAX_REASON_CHARS: usize = 300;

/// Sends batches to PostHog's `/batch/` endpoint.
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
            .and_then(parse_retry_after);
        let answer = response
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        // Redacted before it is cut, so that a key split by the cut is
        // still recognised.
        let answer = redact_answer(answer.trim(), self.api_key.expose());
        let answer: String = answer.chars().take(MAX_REASON_CHARS).collect();
        let reason = if answer.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {answer}")
        };
        Err(self.error(classify(status, retry_after), reason))
    }
}

/// The server's answer as it may be logged, returned in an error, or written
/// to the dead-letter file: a server or proxy that echoes the request would
/// otherwise carry the API key (the body starts with it) into all three.
/// The configured key, and every token the guard's secret detectors flag
/// (keys by their prefix, JWTs, credentials in URLs, password assignments,
/// long random strings), become `[secret]`. A token runs between white
/// space, quotes and brackets, so a URL or a `password=…` stays whole; a
/// credential spread over several tokens (`Authorization: Bearer x`) is
/// caught only when its last part looks random on its own.
fn redact_answer(answer: &str, api_key: &str) -> String {
    let answer = if api_key.is_empty() {
        answer.to_owned()
    } else {
        answer.replace(api_key, "[secret]")
    };
    let is_boundary = |c: char| c.is_whitespace() || "\"'`,;{}[]()<>".contains(c);
    let mut out = String::with_capacity(answer.len());
    let mut token_start = None;
    let flush = |out: &mut String, token: &str| {
        let secret = matches!(
            guard::detect(token),
            Some(
                Detector::SecretPrefix
                    | Detector::Jwt
                    | Detector::UrlCredentials
                    | Detector::Password
                    | Detector::Authorization
                    | Detector::HighEntropy
            )
        );
        out.push_str(if secret { "[secret]" } else { token });
    };
    for (at, c) in answer.char_indices() {
        if is_boundary(c) {
            if let Some(start) = token_start.take() {
                flush(&mut out, &answer[start..at]);
            }
            out.push(c);
        } else if token_start.is_none() {
            token_start = Some(at);
        }
    }
    if let Some(start) = token_start {
        flush(&mut out, &answer[start..]);
    }
    out
}

/// What the delivery rules do with a status other than 2xx.
fn classify(status: u16, retry_after: Option<std::time::Duration>) -> SinkErrorKind {
    match status {
        413 => SinkErrorKind::TooLarge,
        400 => SinkErrorKind::Rejected,
        429 | 503 => SinkErrorKind::Transient { retry_after },
        // 401 and 403: a wrong or revoked key. Other 4xx (404 from a wrong
        // host path, 405, …) also need a configuration change, not a retry.
        400..=499 if status != 408 => SinkErrorKind::Unauthorized,
        _ => SinkErrorKind::TRANSIENT,
    }
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(value: &str) -> Option<std::time::Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        std::time::Duration::from_secs(seconds)
    } else {
        let format = format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let at = PrimitiveDateTime::parse(value, &format).ok()?.assume_utc();
        let now = time::OffsetDateTime::now_utc();
        std::time::Duration::try_from(at - now).unwrap_or_default()
    };
    Some(wait.min(MAX_RETRY_AFTER))
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
        Some(Box::new(Self {
            config: self.config.clone(),
            api_key: self.api_key.clone(),
            url: self.url.clone(),
            agent: self.agent.clone(),
            encoder: self.encoder.clone(),
        }))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn answers_lose_the_key_and_anything_secret_but_keep_the_rest() {
        let key = "phc_0123456789abcdefghijklmnopqrstuv";
        let echoed = format!(
            r#"{{"api_key":"{key}","batch":[{{"event":"x","properties":{{"token":"ghp_16C7e42F292c6912E7710c838347Ae178B4a"}}}}]}} bad request"#
        );
        let redacted = redact_answer(&echoed, key);
        assert_eq!(
            redacted,
            r#"{"api_key":"[secret]","batch":[{"event":"x","properties":{"token":"[secret]"}}]} bad request"#
        );
        // Another key the guard recognises by its shape, with no configured key.
        assert_eq!(
            redact_answer("invalid key sk-proj-4f9Xk2LqZ8mN3pQ7rS1tU5vW", ""),
            "invalid key [secret]"
        );
        assert_eq!(
            redact_answer("HTTP 500: upstream timeout", key),
            "HTTP 500: upstream timeout"
        );
        // Credentials in a URL and password assignments, whole.
        assert_eq!(
            redact_answer(
                "proxy https://ana:hunter2@proxy.example.com refused password=hunter2",
                ""
            ),
            "proxy [secret] refused [secret]"
        );
    }

    #[test]
    fn statuses_map_to_the_delivery_rules() {
        assert_eq!(classify(413, None), SinkErrorKind::TooLarge);
        assert_eq!(classify(400, None), SinkErrorKind::Rejected);
        assert_eq!(classify(401, None), SinkErrorKind::Unauthorized);
        assert_eq!(classify(403, None), SinkErrorKind::Unauthorized);
        assert_eq!(classify(404, None), SinkErrorKind::Unauthorized);
        for status in [408, 500, 502, 504, 599] {
            assert_eq!(classify(status, None), SinkErrorKind::TRANSIENT, "{status}");
        }
        let after = Some(Duration::from_secs(7));
        assert_eq!(
            classify(429, after),
            SinkErrorKind::Transient { retry_after: after }
        );
        assert_eq!(
            classify(503, after),
            SinkErrorKind::Transient { retry_after: after }
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let format = format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let header = soon.format(&format).unwrap();
        let wait = parse_retry_after(&header).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon"), None);
    }
}

//! [`TraceClient`]: one blocking call per endpoint of the collector's trace
//! protocol, retried under the runtime's delivery rules.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use telemetry_runtime::policy::{MAX_ANSWER_BYTES, RetryPolicy};
use telemetry_runtime::sink::SinkErrorKind;
use telemetry_runtime::sink::http::{classify, parse_retry_after, shown_answer};
use telemetry_trace::wire::{
    ChunkAnswer, CompleteTrace, Completed, CreateTrace, Created, UploadStatus,
};
use telemetry_trace::{ArtifactRef, Chunk, Trace};

use crate::config::{ApiKey, CollectorConfig};
use crate::http::MissingCollectorUrl;
use crate::wire::USER_AGENT;

/// The largest answer read from a `GET /v1/traces/{id}`: 64 MiB. Other
/// answers are read up to the runtime's [`MAX_ANSWER_BYTES`].
pub const MAX_TRACE_BYTES: u64 = 64 << 20;

/// The `Idempotency-Key` of a chunk: `chunk-{chunk_seq}-{h}`, `h` the first
/// 32 hex digits of the SHA-256 of `body`, the chunk's JSON as sent (before
/// gzip).
///
/// Derived from the content, so a retry (in this run or after a crash)
/// replays the stored answer instead of storing the chunk twice, and a
/// chunk rebuilt with other events under the same `chunk_seq` is a
/// conflict the collector reports rather than a silent replay.
#[must_use]
pub fn idempotency_key(chunk_seq: u64, body: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(body));
    format!("chunk-{chunk_seq}-{}", &digest[..32])
}

/// A trace call that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The collector could not be reached (connection, timeout), after the
    /// retries the call allows.
    #[error("the collector at {url} could not be reached: {reason}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The collector answered with a status the call does not expect,
    /// after the retries the call allows.
    #[error("the collector at {url} answered HTTP {status}{}", suffix(.answer))]
    Refused {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The collector's answer (its `error` when it is JSON), without
        /// anything secret, shortened.
        answer: String,
        /// What the runtime's delivery rules make of the status.
        kind: SinkErrorKind,
    },
    /// The collector answered 2xx with a body that is not what the
    /// protocol says.
    #[error("the collector at {url} answered with something unexpected: {reason}")]
    BadAnswer {
        /// The endpoint.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
}

fn suffix(answer: &str) -> String {
    if answer.is_empty() {
        String::new()
    } else {
        format!(": {answer}")
    }
}

impl TraceError {
    /// The HTTP status, when the collector answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What the runtime's delivery rules do about it
    /// ([`classify`]): an unreachable collector is transient, an answer
    /// that cannot be read is a rejection.
    #[must_use]
    pub fn kind(&self) -> SinkErrorKind {
        match self {
            Self::Unreachable { .. } => SinkErrorKind::TRANSIENT,
            Self::Refused { kind, .. } => *kind,
            Self::BadAnswer { .. } => SinkErrorKind::Rejected,
        }
    }

    /// Whether trying again later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self.kind(), SinkErrorKind::Transient { .. })
    }
}

/// Whether a call may be sent again after a failure that may have reached
/// the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Idempotent (a `GET`, a content-addressed `PUT`, a chunk with its
    /// key, `complete`): every transient failure is retried.
    Safe,
    /// Not idempotent (`POST /v1/traces` makes a new trace each time): only
    /// retried when the request certainly was not processed (no connection,
    /// 429, 503).
    Unsafe,
}

/// A request body and its headers.
struct Body<'a> {
    bytes: &'a [u8],
    content_type: &'a str,
    headers: Vec<(&'static str, String)>,
}

/// A blocking client of a collector's trace endpoints
/// (`/work/trace-protocol.md`, summarised in the [module docs](super)).
///
/// Each call makes one request, retried after transient failures (a
/// connection error, 408, 429, 5xx) up to `max_retries` times with the
/// runtime's backoff ([`RetryPolicy`]), never sooner than `Retry-After`.
/// `create` and `refresh_token`, which are not idempotent, are retried only
/// when the collector certainly did not act on the request. Keys and tokens
/// are sent as `Authorization: Bearer …` and never appear in an error, a log
/// line or `Debug`.
#[derive(Clone)]
pub struct TraceClient {
    base: String,
    ingest_key: Option<ApiKey>,
    read_key: Option<ApiKey>,
    agent: ureq::Agent,
    retry: RetryPolicy,
    gzip: bool,
}

impl fmt::Debug for TraceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceClient")
            .field("base", &self.base)
            .field("ingest_key", &self.ingest_key)
            .field("read_key", &self.read_key)
            .field("retry", &self.retry)
            .field("gzip", &self.gzip)
            .finish_non_exhaustive()
    }
}

impl TraceClient {
    /// A client of the collector of `config` (its URL, its ingest key, its
    /// timeout, retries and gzip setting). Reads use the ingest key too
    /// unless [`with_read_key`](Self::with_read_key) sets another.
    pub fn new(config: &CollectorConfig) -> Result<Self, MissingCollectorUrl> {
        let base = config.collector_url.clone().ok_or(MissingCollectorUrl)?;
        Ok(Self {
            base,
            ingest_key: config.collector_api_key.clone(),
            read_key: None,
            agent: agent(config.request_timeout()),
            retry: config.delivery().retry,
            gzip: config.gzip,
        })
    }

    /// A client of the collector at `url` with the default configuration
    /// and no key (a keyless collector on loopback).
    #[must_use]
    pub fn for_url(url: &str) -> Self {
        Self::new(&CollectorConfig::for_url(url))
            .unwrap_or_else(|MissingCollectorUrl| unreachable!("for_url sets the URL"))
    }

    /// Uses `key` for reads (`GET /v1/traces/{id}`) instead of the ingest
    /// key.
    #[must_use]
    pub fn with_read_key(mut self, key: ApiKey) -> Self {
        self.read_key = Some(key);
        self
    }

    /// Sets the retries of each call.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The collector's base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `POST /v1/traces`: starts a trace (201 [`Created`]). The collector
    /// refuses one without consent (403) or with a bad field (422).
    pub fn create(&self, trace: &CreateTrace) -> Result<Created, TraceError> {
        let body = to_json(trace);
        self.call_json(
            "POST",
            "/v1/traces",
            self.ingest_key.as_ref(),
            Some(&json_body(&body)),
            Replay::Unsafe,
            MAX_ANSWER_BYTES,
        )
    }

    /// `POST /v1/traces/{id}/token`: a new upload token for a trace whose
    /// token expired or was lost, with the ingest key.
    pub fn refresh_token(&self, trace_id: &str) -> Result<Created, TraceError> {
        self.call_json(
            "POST",
            &format!("/v1/traces/{}/token", segment(trace_id)),
            self.ingest_key.as_ref(),
            Some(&json_body(b"")),
            Replay::Unsafe,
            MAX_ANSWER_BYTES,
        )
    }

    /// `POST /v1/traces/{id}/events:ingest`: uploads one chunk of sealed,
    /// redacted events with its [`idempotency_key`], gzipped when the
    /// configuration says so. A replay of a stored chunk answers the stored
    /// [`ChunkAnswer`].
    pub fn ingest(
        &self,
        trace_id: &str,
        token: &ApiKey,
        chunk: &Chunk,
    ) -> Result<ChunkAnswer, TraceError> {
        let json = to_json(chunk);
        let key = idempotency_key(chunk.chunk_seq, &json);
        let compressed;
        let mut body = json_body(&json);
        if self.gzip {
            compressed = gzip(&json);
            body.bytes = &compressed;
            body.headers.push(("Content-Encoding", "gzip".to_owned()));
        }
        body.headers.push(("Idempotency-Key", key));
        self.call_json(
            "POST",
            &format!("/v1/traces/{}/events:ingest", segment(trace_id)),
            Some(token),
            Some(&body),
            Replay::Safe,
            MAX_ANSWER_BYTES,
        )
    }

    /// `GET /v1/traces/{id}/upload-status`: what the collector holds, so
    /// that an upload resumes where it stopped.
    pub fn upload_status(
        &self,
        trace_id: &str,
        token: &ApiKey,
    ) -> Result<UploadStatus, TraceError> {
        self.call_json(
            "GET",
            &format!("/v1/traces/{}/upload-status", segment(trace_id)),
            Some(token),
            None,
            Replay::Safe,
            MAX_ANSWER_BYTES,
        )
    }

    /// `PUT /v1/traces/{id}/artifacts/{sha256}`: uploads `bytes`, content
    /// addressed; returns their [`ArtifactRef`] (with `media_type`) and
    /// whether the collector already held them (200) rather than storing
    /// them now (201). Text must be redacted before it is hashed: the
    /// collector refuses a text artifact its detectors flag.
    pub fn put_artifact(
        &self,
        trace_id: &str,
        token: &ApiKey,
        bytes: &[u8],
        media_type: Option<&str>,
    ) -> Result<(ArtifactRef, bool), TraceError> {
        let artifact = ArtifactRef::for_bytes(bytes, media_type);
        let path = format!(
            "/v1/traces/{}/artifacts/{}",
            segment(trace_id),
            artifact.sha256
        );
        let body = Body {
            bytes,
            content_type: media_type.unwrap_or("application/octet-stream"),
            headers: Vec::new(),
        };
        let (status, _) = self.call("PUT", &path, Some(token), Some(&body), Replay::Safe, 0)?;
        Ok((artifact, status == 200))
    }

    /// `POST /v1/traces/{id}/complete`: closes the trace; the collector
    /// checks the chain and appends the trace to its log. Idempotent.
    pub fn complete(&self, trace_id: &str, token: &ApiKey) -> Result<Completed, TraceError> {
        self.complete_with(trace_id, token, &CompleteTrace::default())
    }

    /// [`complete`](Self::complete) with a body: the workspace snapshot
    /// (an artifact uploaded before) and the test command the collector's
    /// QA pipeline validates the fix with.
    pub fn complete_with(
        &self,
        trace_id: &str,
        token: &ApiKey,
        body: &CompleteTrace,
    ) -> Result<Completed, TraceError> {
        let bytes = if body.validation.is_some() {
            to_json(body)
        } else {
            Vec::new()
        };
        self.call_json(
            "POST",
            &format!("/v1/traces/{}/complete", segment(trace_id)),
            Some(token),
            Some(&json_body(&bytes)),
            Replay::Safe,
            MAX_ANSWER_BYTES,
        )
    }

    /// `GET /v1/traces/{id}`: the stored trace, with the read key.
    pub fn get_trace(&self, trace_id: &str) -> Result<Trace, TraceError> {
        let url = format!("/v1/traces/{}", segment(trace_id));
        let (_, answer) = self.call(
            "GET",
            &url,
            self.read_key.as_ref().or(self.ingest_key.as_ref()),
            None,
            Replay::Safe,
            MAX_TRACE_BYTES,
        )?;
        Trace::from_json(answer.as_bytes()).map_err(|error| TraceError::BadAnswer {
            url: format!("{}{url}", self.base),
            reason: error.to_string(),
        })
    }

    /// `GET /v1/log/checkpoint`: the log's latest signed checkpoint, a
    /// C2SP signed note.
    pub fn checkpoint(&self) -> Result<String, TraceError> {
        self.text("/v1/log/checkpoint")
    }

    /// `GET /v1/log/key`: the log's verifier key
    /// (`name+keyid+base64`).
    pub fn verifier_key(&self) -> Result<String, TraceError> {
        self.text("/v1/log/key")
    }

    fn text(&self, path: &str) -> Result<String, TraceError> {
        let key = self.read_key.as_ref().or(self.ingest_key.as_ref());
        let (_, answer) = self.call("GET", path, key, None, Replay::Safe, MAX_ANSWER_BYTES)?;
        Ok(answer)
    }

    fn call_json<T: DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        key: Option<&ApiKey>,
        body: Option<&Body<'_>>,
        replay: Replay,
        limit: u64,
    ) -> Result<T, TraceError> {
        let url = format!("{}{path}", self.base);
        let (_, answer) = self.call(method, path, key, body, replay, limit)?;
        serde_json::from_str(&answer).map_err(|error| TraceError::BadAnswer {
            url,
            reason: error.to_string(),
        })
    }

    /// Makes the request, retrying as [`Replay`] allows; returns the 2xx
    /// status and the answer (up to `limit` bytes; 0 reads nothing).
    fn call(
        &self,
        method: &'static str,
        path: &str,
        key: Option<&ApiKey>,
        body: Option<&Body<'_>>,
        replay: Replay,
        limit: u64,
    ) -> Result<(u16, String), TraceError> {
        let url = format!("{}{path}", self.base);
        let secret = key.map_or("", ApiKey::expose);
        let mut retry = 0;
        loop {
            let outcome = self.attempt(method, &url, key, body, limit);
            let (error, wait, not_processed) = match outcome {
                Ok((status, answer)) if (200..300).contains(&status) => {
                    return Ok((status, answer.text));
                }
                Ok((status, answer)) => {
                    let retry_after = answer.retry_after.as_deref().and_then(parse_retry_after);
                    let error = TraceError::Refused {
                        url: url.clone(),
                        status,
                        answer: shown_answer(&error_message(&answer.text), secret),
                        kind: classify(status, retry_after),
                    };
                    (error, retry_after, matches!(status, 429 | 503))
                }
                Err(Failure { reason, sent }) => (
                    TraceError::Unreachable {
                        url: url.clone(),
                        reason: shown_answer(&reason, secret),
                    },
                    None,
                    !sent,
                ),
            };
            let may_retry = error.is_transient()
                && retry < self.retry.max_retries
                && (replay == Replay::Safe || not_processed);
            if !may_retry {
                return Err(error);
            }
            let backoff = self.retry.backoff(retry, jitter());
            let pause = wait.map_or(backoff, |wait| wait.max(backoff));
            tracing::debug!(%error, ?pause, retry, "trace call failed; retrying");
            std::thread::sleep(pause);
            retry += 1;
        }
    }

    fn attempt(
        &self,
        method: &'static str,
        url: &str,
        key: Option<&ApiKey>,
        body: Option<&Body<'_>>,
        limit: u64,
    ) -> Result<(u16, Answer), Failure> {
        let builder = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/json, text/plain");
        let builder = match key {
            Some(key) => builder.header("Authorization", format!("Bearer {}", key.expose())),
            None => builder,
        };
        let result = if let Some(body) = body {
            let mut builder = builder.header("Content-Type", body.content_type);
            for (name, value) in &body.headers {
                builder = builder.header(*name, value);
            }
            let request = builder.body(body.bytes).map_err(Failure::unsent)?;
            self.agent.run(request)
        } else {
            let request = builder.body(()).map_err(Failure::unsent)?;
            self.agent.run(request)
        };
        let mut response = result.map_err(|error| Failure {
            sent: !matches!(
                &error,
                ureq::Error::ConnectionFailed | ureq::Error::HostNotFound
            ) && !matches!(&error, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused),
            reason: error.to_string(),
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        // Errors are always read, to say why; a 2xx only up to `limit`.
        let limit = if (200..300).contains(&status) {
            limit
        } else {
            MAX_ANSWER_BYTES
        };
        let text = if limit == 0 {
            String::new()
        } else {
            response
                .body_mut()
                .with_config()
                .limit(limit)
                .read_to_string()
                .map_err(|error| Failure {
                    sent: true,
                    reason: format!("reading the answer: {error}"),
                })?
        };
        Ok((status, Answer { text, retry_after }))
    }
}

/// An answer other than a transport failure.
struct Answer {
    text: String,
    retry_after: Option<String>,
}

/// A request that got no answer.
struct Failure {
    reason: String,
    /// Whether the collector may have received it.
    sent: bool,
}

impl Failure {
    fn unsent(error: impl fmt::Display) -> Self {
        Self {
            reason: error.to_string(),
            sent: false,
        }
    }
}

/// The agent: the timeout, statuses as answers.
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .build(),
    )
}

fn json_body(bytes: &[u8]) -> Body<'_> {
    Body {
        bytes,
        content_type: "application/json",
        headers: Vec::new(),
    }
}

fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    // The wire types are plain data: maps with string keys, no custom
    // serializer that can fail.
    serde_json::to_vec(value).unwrap_or_else(|error| unreachable!("wire types serialize: {error}"))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    // Writing to a `Vec` cannot fail.
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .unwrap_or_else(|error| unreachable!("gzip into memory: {error}"))
}

/// The collector's `{"error": "…"}`, or the answer as it is.
fn error_message(answer: &str) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    serde_json::from_str::<ErrorBody>(answer).map_or_else(|_| answer.to_owned(), |body| body.error)
}

/// `id` as one path segment: the collector's ids are `[A-Za-z0-9._:-]`;
/// any byte outside RFC 3986's unreserved characters and `:` is
/// percent-encoded, so that an id can never name another path.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A number in `[0, 1)` for backoff jitter; 0.5 without randomness.
pub(crate) fn jitter() -> f64 {
    let mut bytes = [0_u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    #[allow(clippy::cast_precision_loss, reason = "53 bits fit an f64 exactly")]
    let value = (u64::from_le_bytes(bytes) >> 11) as f64;
    value * f64::EPSILON / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idempotency_key_follows_the_chunk_content() {
        let key = idempotency_key(3, b"{}");
        assert_eq!(key, "chunk-3-44136fa355b3678a1146ad16f7e8649e");
        assert_ne!(key, idempotency_key(3, b"{ }"));
        assert_ne!(key, idempotency_key(4, b"{}"));
        assert!(key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()));
    }

    #[test]
    fn an_id_stays_one_path_segment() {
        assert_eq!(segment("trace-01J.x:y_z~"), "trace-01J.x:y_z~");
        assert_eq!(segment("../admin?x"), "..%2Fadmin%3Fx");
    }

    #[test]
    fn the_collector_error_message_is_what_an_error_shows() {
        assert_eq!(
            error_message(r#"{"error":"no consent, no trace"}"#),
            "no consent, no trace"
        );
        assert_eq!(error_message("plain"), "plain");
    }
}

//! The HTTP server: its router, its limits and its handlers, each read in
//! one place (as PostHog's capture service keeps `router.rs`).
//!
//! | endpoint | key | answer |
//! | --- | --- | --- |
//! | `POST /api/v1/telemetry` | ingest | `{"accepted", "rejected", "errors": [{"index", "reason"}]}` |
//! | `POST /batch/` (and `/batch`) | ingest, as PostHog's `api_key` | `{"status": 1}` |
//! | `POST /api/v1/deletion` | ingest | `{"deleted": N}` |
//! | `GET /api/v1/models` | read | registrations per model |
//! | `GET /healthz` | none | `{"status": "ok", "storage": "sqlite"}`, or 503 |
//! | `GET /metrics` | read | Prometheus text |
//!
//! Only 429 and 5xx answers may be retried; they carry `Retry-After`. A
//! partial success (some events rejected) is a 200 and must not be retried
//! (OTLP's rule). A request is let in, in this order: a slot among
//! `max_in_flight` (else 503), its key (401/403), its rate (429), its size
//! as sent and decompressed (413); then it is checked and stored in one
//! transaction, and 200 means committed.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::auth::{self, Keys, Principal};
use crate::blobs::Blobs;
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::{
    self, MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES, MAX_REASON_CHARS, RETRY_AFTER_OVERLOADED,
};
use crate::schema::{self, Checked, RequestError, Schemas};
use crate::storage::{Storage, StorageError};
use crate::traces::log::TraceLog;
use crate::traces::token::TokenKey;

mod pages;
mod trace_routes;

pub(crate) use trace_routes::{artifact_path, load_trace};

/// Who the rate limiter counts a request against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RateKey {
    Principal(Principal),
    /// Every request while the limiter remembers as many keys as it may.
    Overflow,
}

/// Everything a request needs, shared by all of them.
pub struct App<S> {
    storage: Arc<S>,
    blobs: Blobs,
    ingest: Keys,
    read: Keys,
    schemas: Schemas,
    trusted_proxies: Vec<IpAddr>,
    limiter: DefaultKeyedRateLimiter<RateKey>,
    max_rate_keys: usize,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    retention_days: u32,
    tokens: TokenKey,
    upload_token_ttl: Duration,
    log: TraceLog,
    qa: crate::qa::QaConfig,
}

impl<S> std::fmt::Debug for App<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl<S: Storage> App<S> {
    /// The application for `config`, on `storage` and `blobs`, telling
    /// time by `clock`.
    pub fn new(
        config: &Config,
        storage: Arc<S>,
        blobs: Blobs,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let per_second = NonZeroU32::new(config.rate_limit_per_second)
            .ok_or("`rate_limit_per_second` must be at least 1")?;
        let burst = NonZeroU32::new(config.rate_limit_burst)
            .ok_or("`rate_limit_burst` must be at least 1")?;
        let signer = match &config.log_signing_key {
            Some(key) => telemetry_trace::LogSigner::parse(key)
                .map_err(|error| format!("`log_signing_key`: {error}"))?,
            None => telemetry_trace::LogSigner::from_seed(
                &config.log_origin,
                storage.hasher().derive_key("trace-log-signing-seed"),
            )
            .map_err(|error| format!("`log_origin`: {error}"))?,
        };
        let log = TraceLog::new(config.log_origin.clone(), signer)
            .map_err(|error| format!("`log_origin`: {error}"))?;
        let tokens = TokenKey::new(&storage.hasher().derive_key("trace-upload-token"));
        Ok(Self {
            tokens,
            upload_token_ttl: Duration::from_secs(config.upload_token_ttl_seconds),
            log,
            storage,
            blobs,
            ingest: Keys::new(&config.ingest_keys).map_err(|e| format!("`ingest_keys`: {e}"))?,
            read: Keys::new(&config.read_keys).map_err(|e| format!("`read_keys`: {e}"))?,
            schemas: config.schemas()?,
            trusted_proxies: config.trusted_proxies.clone(),
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            max_rate_keys: config.rate_limit_max_keys.max(1),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            max_in_flight: config.max_in_flight.max(1),
            metrics: Metrics::default(),
            clock,
            retention_days: config.retention_days,
            qa: config.qa.clone(),
        })
    }

    /// The QA pipeline's settings.
    #[must_use]
    pub fn qa(&self) -> &crate::qa::QaConfig {
        &self.qa
    }

    /// The blob store.
    #[must_use]
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// The storage.
    #[must_use]
    pub fn storage(&self) -> &Arc<S> {
        &self.storage
    }

    /// Whether ingest needs a key.
    #[must_use]
    pub fn ingest_is_keyed(&self) -> bool {
        !self.ingest.is_empty()
    }

    /// Whether reads need a key.
    #[must_use]
    pub fn read_is_keyed(&self) -> bool {
        !self.read.is_empty()
    }

    /// Forgets rate-limit state that has been idle long enough to be full
    /// again; run every [`policy::RATE_LIMIT_SWEEP`].
    pub fn sweep_rate_limits(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Deletes what is older than `retention_days`; returns how many
    /// records.
    pub async fn apply_retention(&self) -> Result<u64, StorageError> {
        let cutoff = self
            .clock
            .now()
            .unix_timestamp()
            .saturating_sub(i64::from(self.retention_days) * 86_400);
        let mut deleted = self.storage.delete_received_before(cutoff).await?;
        let idempotency_before =
            self.clock.now().unix_timestamp().saturating_sub(
                i64::try_from(policy::IDEMPOTENCY_KEEP.as_secs()).unwrap_or(i64::MAX),
            );
        let traces = self
            .storage
            .delete_traces_before(cutoff, idempotency_before)
            .await?;
        deleted += traces.traces;
        self.remove_artifacts(&traces.orphaned_artifacts).await;
        Ok(deleted)
    }
}

/// An answer other than 200, as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    fn storage(error: &StorageError) -> Self {
        tracing::error!(%error, "storage refused a request");
        let message: String = format!("storage: {error}")
            .chars()
            .take(MAX_REASON_CHARS)
            .collect();
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message).retry_after(RETRY_AFTER_OVERLOADED)
    }
}

impl ApiError {
    /// What the answer says.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Whether a later try may succeed (429 and 5xx).
    pub(crate) fn is_transient(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS || self.status.is_server_error()
    }
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        let status = match error {
            RequestError::Malformed(_) => StatusCode::BAD_REQUEST,
            RequestError::EventTooLarge { .. } | RequestError::TooManyEvents(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, axum::Json(json!({ "error": self.message }))).into_response();
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: "0" would invite an immediate retry.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// The router for `app`.
pub fn router<S: Storage>(app: Arc<App<S>>) -> Router {
    Router::new()
        .route("/api/v1/telemetry", post(registry::<S>))
        .route("/batch/", post(batch::<S>))
        .route("/batch", post(batch::<S>))
        .route("/api/v1/deletion", post(deletion::<S>))
        .route("/api/v1/models", get(models::<S>))
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics::<S>))
        .merge(trace_routes::routes::<S>())
        .merge(pages::routes::<S>())
        .layer(middleware::from_fn_with_state(Arc::clone(&app), admit::<S>))
        .with_state(app)
}

/// The endpoint's name in metrics.
fn endpoint_name(path: &str) -> &'static str {
    match path {
        "/api/v1/telemetry" => "registry",
        "/batch/" | "/batch" => "posthog",
        "/api/v1/deletion" => "deletion",
        "/api/v1/models" => "models",
        "/healthz" => "healthz",
        "/metrics" => "metrics",
        ui if ui == "/ui" || ui.starts_with("/ui/") => "pages",
        other => trace_routes::endpoint_name(other).unwrap_or("other"),
    }
}

/// Takes a slot among `max_in_flight`, and times the answer.
async fn admit<S: Storage>(
    State(app): State<Arc<App<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let name = endpoint_name(
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str),
    );
    let response = match Arc::clone(&app.in_flight).try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} requests are in flight, the most this collector serves at once",
                app.max_in_flight
            ),
        )
        .retry_after(RETRY_AFTER_OVERLOADED)
        .into_response(),
    };
    app.metrics.answered(
        name,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Headers by which a proxy says whom it forwards.
const FORWARDING_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the last address in `X-Forwarded-For` that is not one. Used for the
/// loopback rule and the rate limit only; never stored or logged.
///
/// A request forwarded by a proxy that is not trusted counts as coming from
/// nowhere in particular (`0.0.0.0`), never from loopback: a reverse proxy
/// on the same host connects from 127.0.0.1 for clients anywhere. A trusted
/// proxy that names no client is refused.
fn client_address<S>(
    app: &App<S>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<IpAddr, ApiError> {
    let peer = peer.ip().to_canonical();
    if !app.trusted_proxies.contains(&peer) {
        let forwarded = FORWARDING_HEADERS
            .iter()
            .any(|name| headers.contains_key(*name));
        return Ok(if forwarded {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        } else {
            peer
        });
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(address) = hop.parse::<IpAddr>().map(|address| address.to_canonical()) else {
            break;
        };
        if !app.trusted_proxies.contains(&address) {
            return Ok(address);
        }
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "the request came through a trusted proxy that did not say whom it forwards (X-Forwarded-For)",
    ))
}

impl<S: Storage> App<S> {
    fn let_in(
        keys: &Keys,
        side: &str,
        presented: Option<&str>,
        client: IpAddr,
    ) -> Result<Principal, ApiError> {
        keys.admit(presented, client).map_err(|denied| {
            let status = match denied {
                auth::Denied::NotLoopback => StatusCode::FORBIDDEN,
                auth::Denied::Missing | auth::Denied::Wrong => StatusCode::UNAUTHORIZED,
            };
            ApiError::new(status, denied.message(side))
        })
    }

    fn check_rate(&self, principal: Principal) -> Result<(), ApiError> {
        let mut key = RateKey::Principal(principal);
        if self.limiter.len() >= self.max_rate_keys {
            key = RateKey::Overflow;
        }
        self.limiter.check_key(&key).map_err(|not_until| {
            self.metrics.rate_limited();
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests for this API key",
            )
            .retry_after(wait)
        })
    }

    /// A side's door (read or ingest) for a request without a body: the
    /// client's address, its key, then its rate.
    fn let_in_side(
        &self,
        peer: SocketAddr,
        headers: &HeaderMap,
        read: bool,
    ) -> Result<(), ApiError> {
        let client = client_address(self, peer, headers)?;
        let (keys, side) = if read {
            (&self.read, "read")
        } else {
            (&self.ingest, "ingest")
        };
        let principal = Self::let_in(keys, side, auth::presented(headers), client)?;
        self.check_rate(principal)
    }

    /// The ingest side's door, for a request that carries its key in a
    /// header: the key, then the rate, then the body.
    async fn ingest_body(
        &self,
        peer: SocketAddr,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Bytes, ApiError> {
        self.let_in_side(peer, headers, false)?;
        read_body(headers, body).await
    }

    /// Removes the blobs of artifacts no trace refers to any more. A blob
    /// that cannot be removed is logged and left: it holds what its
    /// client redacted, and no row points to it.
    async fn remove_artifacts(&self, shas: &[String]) {
        for sha in shas {
            match self
                .blobs
                .store()
                .delete(&trace_routes::artifact_path(sha))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => tracing::warn!(%error, "an orphaned artifact could not be removed"),
            }
        }
    }

    fn received_at(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

/// Reads the body: at most [`MAX_BODY_BYTES`] as sent, and, when gzipped,
/// at most [`MAX_DECOMPRESSED_BYTES`] once inflated.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = |what: String| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what}; {}", policy::limits_sentence()),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if let Some(length) = declared
        && length > MAX_BODY_BYTES
    {
        return Err(too_large(format!("the body is {length} bytes")));
    }
    let bytes = tokio::time::timeout(
        policy::BODY_READ_TIMEOUT,
        axum::body::to_bytes(body, MAX_BODY_BYTES),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} s",
                policy::BODY_READ_TIMEOUT.as_secs()
            ),
        )
    })?
    .map_err(|_| too_large(format!("the body is over {MAX_BODY_BYTES} bytes")))?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("" | "identity") => Ok(bytes),
        Some("gzip") => {
            let mut inflated =
                Vec::with_capacity(bytes.len().saturating_mul(4).min(MAX_DECOMPRESSED_BYTES));
            let limit = u64::try_from(MAX_DECOMPRESSED_BYTES).unwrap_or(u64::MAX) + 1;
            flate2::read::GzDecoder::new(&bytes[..])
                .take(limit)
                .read_to_end(&mut inflated)
                .map_err(|error| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("the gzip body cannot be read: {error}"),
                    )
                })?;
            if inflated.len() > MAX_DECOMPRESSED_BYTES {
                return Err(too_large(format!(
                    "the body inflates to over {MAX_DECOMPRESSED_BYTES} bytes"
                )));
            }
            Ok(Bytes::from(inflated))
        }
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("`Content-Encoding: {other}` is not taken; send gzip or nothing"),
        )),
    }
}

fn count_rejections<S>(app: &App<S>, endpoint: &str, checked: &Checked) {
    for rejection in &checked.rejected {
        app.metrics.rejected(endpoint, rejection.kind.as_str(), 1);
    }
}

/// The registry contract's answer, in reference 004's order.
#[derive(serde::Serialize)]
struct RegistryAnswer<'a> {
    accepted: u64,
    rejected: usize,
    errors: Vec<RejectedEvent<'a>>,
}

#[derive(serde::Serialize)]
struct RejectedEvent<'a> {
    index: usize,
    reason: &'a str,
}

async fn registry<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = app.ingest_body(peer, &headers, body).await?;
    let checked = schema::registry(&body, &app.schemas, app.storage.hasher(), app.received_at())
        .inspect_err(|_| app.metrics.rejected("registry", "request", 1))?;
    count_rejections(&app, "registry", &checked);
    let rejected = checked.rejected;
    let stored = app
        .storage
        .store(checked.batch)
        .await
        .map_err(|error| ApiError::storage(&error))?;
    let accepted = stored.inserted + stored.duplicates;
    app.metrics
        .accepted("registry", accepted, stored.duplicates);
    Ok(axum::Json(RegistryAnswer {
        accepted,
        rejected: rejected.len(),
        errors: rejected
            .iter()
            .map(|rejection| RejectedEvent {
                index: rejection.index,
                reason: &rejection.reason,
            })
            .collect(),
    })
    .into_response())
}

async fn batch<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let client = client_address(&app, peer, &headers)?;
    let body = read_body(&headers, body).await?;
    let parsed = schema::posthog_batch(&body)?;
    // PostHog clients send the project key in the body; a header works too.
    let presented = parsed
        .api_key
        .as_deref()
        .or_else(|| auth::presented(&headers));
    let principal = App::<S>::let_in(&app.ingest, "ingest", presented, client)?;
    app.check_rate(principal)?;
    let now = app.clock.now();
    let now_text = telemetry_core::Timestamp::from(now).to_string();
    let checked = schema::posthog_events(
        &parsed.batch,
        app.storage.hasher(),
        now.unix_timestamp(),
        &now_text,
    );
    count_rejections(&app, "posthog", &checked);
    if !checked.rejected.is_empty() {
        tracing::warn!(
            rejected = checked.rejected.len(),
            first = %checked.rejected[0].reason,
            "posthog batch: events dropped on arrival"
        );
    }
    let stored = app
        .storage
        .store(checked.batch)
        .await
        .map_err(|error| ApiError::storage(&error))?;
    app.metrics.accepted(
        "posthog",
        stored.inserted + stored.duplicates,
        stored.duplicates,
    );
    Ok(axum::Json(json!({ "status": 1 })).into_response())
}

/// `{"client_id": "…"}` (registry and PostHog records) or
/// `{"participant_id": "…"}` (developer traces).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeletionRequest {
    client_id: Option<String>,
    participant_id: Option<String>,
}

async fn deletion<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = app.ingest_body(peer, &headers, body).await?;
    let shape = "a deletion request is {\"client_id\": \"…\"} or {\"participant_id\": \"…\"}";
    let request: DeletionRequest = serde_json::from_slice(&body)
        .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, format!("{shape}: {error}")))?;
    let (field, id) = match (request.client_id, request.participant_id) {
        (Some(id), None) => ("client_id", id),
        (None, Some(id)) => ("participant_id", id),
        _ => return Err(ApiError::new(StatusCode::BAD_REQUEST, shape)),
    };
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`{field}` must be 1 to 128 characters"),
        ));
    }
    let deleted = if field == "client_id" {
        app.storage.delete_client(id).await
    } else {
        match app.storage.delete_participant(id).await {
            Ok(deleted) => {
                app.remove_artifacts(&deleted.orphaned_artifacts).await;
                Ok(deleted.traces)
            }
            Err(error) => Err(error),
        }
    }
    .map_err(|error| ApiError::storage(&error))?;
    tracing::info!(deleted, field, "deletion request served");
    Ok(axum::Json(json!({ "deleted": deleted })).into_response())
}

async fn models<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.let_in_side(peer, &headers, true)?;
    let (groups, registrants) = app
        .storage
        .model_groups()
        .await
        .map_err(|error| ApiError::storage(&error))?;
    Ok(axum::Json(crate::storage::models(groups, &registrants)).into_response())
}

async fn healthz<S: Storage>(State(app): State<Arc<App<S>>>) -> Result<Response, ApiError> {
    app.storage
        .ping()
        .await
        .map_err(|error| ApiError::storage(&error))?;
    app.blobs.check().await.map_err(|error| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
            .retry_after(RETRY_AFTER_OVERLOADED)
    })?;
    Ok(axum::Json(json!({"status": "ok", "storage": app.storage.backend()})).into_response())
}

async fn metrics<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let client = client_address(&app, peer, &headers)?;
    App::<S>::let_in(&app.read, "read", auth::presented(&headers), client)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response())
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight and closes the storage. Retention and the rate
/// limiter's sweep run in the background meanwhile.
pub async fn serve<S: Storage>(
    app: Arc<App<S>>,
    listener: tokio::net::TcpListener,
    retention_every: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let mut sweep = tokio::time::interval(policy::RATE_LIMIT_SWEEP);
            let mut retention = tokio::time::interval(retention_every);
            loop {
                tokio::select! {
                    _ = sweep.tick() => app.sweep_rate_limits(),
                    _ = retention.tick() => match app.apply_retention().await {
                        Ok(0) => {}
                        Ok(deleted) => tracing::info!(deleted, "retention: old records deleted"),
                        Err(error) => tracing::warn!(%error, "retention failed; tried again later"),
                    },
                }
            }
        })
    };
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let served = axum::serve(
        listener,
        router(Arc::clone(&app)).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(true);
    });
    let served = tokio::select! {
        served = served => served,
        () = async {
            let _ = stopped.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(policy::SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(
                grace_seconds = policy::SHUTDOWN_GRACE.as_secs(),
                "requests still in flight after the grace period are dropped unanswered"
            );
            Ok(())
        }
    };
    background.abort();
    app.storage.close().await;
    served
}

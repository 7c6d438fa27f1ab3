//! The trace endpoints (reference 002's API, with the log on top).
//!
//! | endpoint | auth | answer |
//! | --- | --- | --- |
//! | `POST /v1/traces` | ingest | 201 `Created` (trace id, upload token) |
//! | `POST /v1/traces/{id}/token` | ingest | 201 `Created` with a fresh token |
//! | `POST /v1/traces/{id}/events:ingest` | upload token, `Idempotency-Key` | `ChunkAnswer` |
//! | `GET /v1/traces/{id}/upload-status` | upload token | `UploadStatus` |
//! | `PUT /v1/traces/{id}/artifacts/{sha256}` | upload token | 201 stored, 200 known |
//! | `POST /v1/traces/{id}/complete` | upload token | `Completed` |
//! | `GET /v1/traces/{id}` | read | the `Trace`, with its inclusion proof |
//! | `GET /v1/traces/{id}/proof?tree_size=N` | read | `LogProof` |
//! | `GET /v1/log/checkpoint` | none | the signed checkpoint (text) |
//! | `GET /v1/log/key` | none | the verifier key (text) |
//! | `GET /v1/log/consistency?from=M&to=N` | none | `{"from", "to", "hashes"}` |
//!
//! The log's checkpoints, key and consistency proofs are public, as a
//! transparency log's are: they name no trace and hold no content.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use object_store::ObjectStore as _;
use object_store::path::Path as ObjectPath;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use telemetry_trace::merkle::Hash;
use telemetry_trace::wire::{
    ChunkAnswer, CompleteTrace, Completed, CreateTrace, Created, UploadStatus,
};
use telemetry_trace::{Chunk, Event, LogProof, Trace, canonical_json, verify_chain};

use super::{ApiError, App, read_body};
use crate::auth::{self, KeyHash, Principal};
use crate::policy::{MAX_IDEMPOTENCY_KEY_CHARS, MAX_MISSING_SEQS_SHOWN};
use crate::storage::jobs::NewJob;
use crate::storage::traces::{
    ChunkOutcome, ChunkWrite, CompleteOutcome, Completion, EventRow, NewTrace, TraceRow,
};
use crate::storage::{Storage, StorageError};

/// The trace routes, merged into the collector's router.
pub(super) fn routes<S: Storage>() -> Router<Arc<App<S>>> {
    Router::new()
        .route("/v1/traces", post(create::<S>))
        .route("/v1/traces/{id}", get(get_trace::<S>))
        .route("/v1/traces/{id}/token", post(renew_token::<S>))
        .route("/v1/traces/{id}/events:ingest", post(ingest::<S>))
        .route("/v1/traces/{id}/upload-status", get(upload_status::<S>))
        .route("/v1/traces/{id}/artifacts/{sha256}", put(put_artifact::<S>))
        .route("/v1/traces/{id}/complete", post(complete::<S>))
        .route("/v1/traces/{id}/proof", get(proof::<S>))
        .route("/v1/log/checkpoint", get(checkpoint::<S>))
        .route("/v1/log/key", get(verifier_key::<S>))
        .route("/v1/log/consistency", get(consistency::<S>))
}

/// The endpoint's name in metrics, for the paths above.
pub(super) fn endpoint_name(path: &str) -> Option<&'static str> {
    Some(match path {
        "/v1/traces" => "trace_create",
        "/v1/traces/{id}" => "trace_get",
        "/v1/traces/{id}/token" => "trace_token",
        "/v1/traces/{id}/events:ingest" => "trace_ingest",
        "/v1/traces/{id}/upload-status" => "trace_upload_status",
        "/v1/traces/{id}/artifacts/{sha256}" => "trace_artifact",
        "/v1/traces/{id}/complete" => "trace_complete",
        "/v1/traces/{id}/proof" => "trace_proof",
        "/v1/log/checkpoint" => "log_checkpoint",
        "/v1/log/key" => "log_key",
        "/v1/log/consistency" => "log_consistency",
        _ => return None,
    })
}

fn storage_error(error: &StorageError) -> ApiError {
    ApiError::storage(error)
}

fn not_open(state: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!("the trace is {state}; nothing more can be uploaded"),
    )
}

fn not_found(trace_id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no trace `{trace_id}`"))
}

/// Trace ids are `trace-` and a UUID, as this collector issues them; any
/// other is unknown without asking the database.
fn known_shape(trace_id: &str) -> bool {
    trace_id
        .strip_prefix("trace-")
        .is_some_and(|uuid| uuid::Uuid::try_parse(uuid).is_ok())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| unreachable!("wire types serialize"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// RFC 3339 UTC, as the project writes every time.
fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|at| telemetry_core::Timestamp::from(at).to_string())
        .unwrap_or_default()
}

impl<S: Storage> App<S> {
    fn now_unix(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// Unix milliseconds, for the QA jobs.
    pub(crate) fn now_ms(&self) -> i64 {
        i64::try_from(self.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    fn now_seconds(&self) -> f64 {
        let now = self.clock.now();
        #[allow(
            clippy::cast_precision_loss,
            reason = "seconds since 1970 fit f64's 53 bits"
        )]
        let seconds = now.unix_timestamp() as f64;
        seconds + f64::from(now.millisecond()) / 1000.0
    }

    /// Lets in a request for `trace_id` by its upload token, and counts it
    /// against the trace's rate.
    fn let_in_upload(&self, headers: &HeaderMap, trace_id: &str) -> Result<(), ApiError> {
        if !known_shape(trace_id) {
            return Err(not_found(trace_id));
        }
        let token = auth::presented(headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this endpoint needs the trace's upload token: `Authorization: Bearer <upload_token>`",
            )
        })?;
        self.tokens
            .check(token, trace_id, self.now_unix())
            .map_err(|error| ApiError::new(StatusCode::UNAUTHORIZED, error.to_string()))?;
        self.check_rate(Principal::Key(KeyHash::of(trace_id)))
    }

    fn created(&self, trace_id: String, message: &str) -> Created {
        let expires = self
            .now_unix()
            .saturating_add(i64::try_from(self.upload_token_ttl.as_secs()).unwrap_or(i64::MAX));
        Created {
            upload_token: self.tokens.issue(&trace_id, expires),
            trace_id,
            expires_at: rfc3339(expires),
            message: message.to_owned(),
        }
    }

    /// The log's tree, with every leaf stored.
    async fn tree(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, telemetry_trace::merkle::MerkleTree>, ApiError> {
        self.log
            .synced(self.storage.as_ref())
            .await
            .map_err(|error| storage_error(&error))
    }

    /// The trace, unless unknown or deleted (404).
    async fn row(&self, trace_id: &str) -> Result<TraceRow, ApiError> {
        if !known_shape(trace_id) {
            return Err(not_found(trace_id));
        }
        match self
            .storage
            .trace_get(trace_id.to_owned())
            .await
            .map_err(|error| storage_error(&error))?
        {
            Some(row) if row.state != "deleted" => Ok(row),
            _ => Err(not_found(trace_id)),
        }
    }
}

async fn create<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = app.ingest_body(peer, &headers, body).await?;
    let mut request: CreateTrace = serde_json::from_slice(&body).map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "a trace is created with its participant, consent, task and repository: {}",
                crate::schema::serde_message(&error)
            ),
        )
    })?;
    if !request.consent {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "no consent, no trace: the session's `consent` must be true",
        ));
    }
    request
        .validate()
        .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()))?;
    request.redact();
    let trace_id = format!("trace-{}", uuid::Uuid::now_v7());
    app.storage
        .trace_create(NewTrace {
            trace_id: trace_id.clone(),
            participant_id: request.participant_id.clone(),
            header: to_json(&request),
            created_at: app.now_unix(),
        })
        .await
        .map_err(|error| storage_error(&error))?;
    tracing::info!(%trace_id, "trace created");
    let created = app.created(trace_id, "Trace created successfully");
    Ok(json_response(StatusCode::CREATED, to_json(&created)))
}

async fn renew_token<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(trace_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.let_in_side(peer, &headers, false)?;
    let row = app.row(&trace_id).await?;
    if row.state != "open" {
        return Err(not_open(&row.state));
    }
    let created = app.created(trace_id, "Upload token renewed");
    Ok(json_response(StatusCode::CREATED, to_json(&created)))
}

/// The `Idempotency-Key` header: required, 1 to
/// [`MAX_IDEMPOTENCY_KEY_CHARS`] visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers.get("idempotency-key").ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "an `Idempotency-Key` header is required: the same key and chunk may be sent again safely",
        )
    })?;
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_CHARS
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the `Idempotency-Key` must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
            ),
        ));
    }
    Ok(key.to_owned())
}

async fn ingest<S: Storage>(
    State(app): State<Arc<App<S>>>,
    Path(trace_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    app.let_in_upload(&headers, &trace_id)?;
    let key = idempotency_key(&headers)?;
    let body = read_body(&headers, body).await?;
    let chunk = Chunk::from_json(&body)
        .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()))?;
    // The payload an Idempotency-Key stands for: the chunk's id and seq and
    // its events' hashes, each checked below against its event's content.
    // What a hash leaves out (`ts_server_s`, `server_redactions`) the
    // collector sets itself, so it is no part of what is stored.
    let mut payload = Sha256::new();
    payload.update(canonical_json(&json!({
        "chunk_id": chunk.chunk_id,
        "chunk_seq": chunk.chunk_seq,
    })));
    let received = app.now_seconds();
    let mut rows = Vec::with_capacity(chunk.events.len());
    let mut redactions = 0u32;
    let chunk_seq = chunk.chunk_seq;
    for mut event in chunk.events {
        if event.chain_hash() != event.hash {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "event {} (`{}`): `hash` does not match the event's content",
                    event.seq, event.id
                ),
            ));
        }
        payload.update(event.hash.as_bytes());
        // Redaction on arrival: what an old or careless client left is
        // replaced here, and counted apart from the client's own. Both
        // server fields are the collector's to set, whatever was sent.
        event.server_redactions = 0;
        let found = event.redact_on_arrival();
        redactions = redactions.saturating_add(found);
        event.ts_server_s = Some(received);
        rows.push(EventRow {
            seq: event.seq,
            hash: event.hash.clone(),
            body: to_json(&event),
        });
    }
    let request_sha256 = hex::encode(payload.finalize());
    rows.sort_by_key(|row| row.seq);
    app.metrics.redacted_on_arrival(u64::from(redactions));
    let answer_trace = trace_id.clone();
    let outcome = app
        .storage
        .trace_ingest(ChunkWrite {
            trace_id: trace_id.clone(),
            idempotency_key: key,
            request_sha256,
            chunk_seq,
            events: rows,
            received_at: app.now_unix(),
            answer: Box::new(move |counts| {
                to_json(&ChunkAnswer {
                    trace_id: answer_trace,
                    chunk_seq,
                    accepted: counts.accepted,
                    duplicates: counts.duplicates,
                    redactions,
                })
            }),
        })
        .await
        .map_err(|error| storage_error(&error))?;
    match outcome {
        ChunkOutcome::Stored(answer) => Ok(json_response(StatusCode::OK, answer)),
        ChunkOutcome::Replayed(answer) => {
            let mut response = json_response(StatusCode::OK, answer);
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(response)
        }
        ChunkOutcome::KeyReused => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this `Idempotency-Key` was used with another payload; a new chunk needs a new key",
        )),
        ChunkOutcome::ChunkConflict => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("chunk_seq {chunk_seq} is stored with other content"),
        )),
        ChunkOutcome::EventConflict(seq) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("event seq {seq} is stored with other content"),
        )),
        ChunkOutcome::NotOpen(state) => Err(not_open(&state)),
        ChunkOutcome::Unknown => Err(not_found(&trace_id)),
    }
}

/// Seqs below `next` that are not in `stored` (ascending), at most
/// [`MAX_MISSING_SEQS_SHOWN`].
fn missing(stored: &[u64], next: u64) -> Vec<u64> {
    let mut missing = Vec::new();
    let mut expected = 0;
    for &seq in stored {
        while expected < seq && missing.len() < MAX_MISSING_SEQS_SHOWN {
            missing.push(expected);
            expected += 1;
        }
        expected = seq + 1;
    }
    while expected < next && missing.len() < MAX_MISSING_SEQS_SHOWN {
        missing.push(expected);
        expected += 1;
    }
    missing
}

async fn upload_status<S: Storage>(
    State(app): State<Arc<App<S>>>,
    Path(trace_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.let_in_upload(&headers, &trace_id)?;
    let row = app.row(&trace_id).await?;
    let progress = app
        .storage
        .trace_progress(trace_id.clone())
        .await
        .map_err(|error| storage_error(&error))?;
    let next_chunk_seq = progress.chunk_seqs.last().map_or(0, |seq| seq + 1);
    // A complete trace's events were moved into its document.
    let (next_event_seq, events, missing_seqs) = if let Some(events) = row.num_events {
        (events, events, Vec::new())
    } else {
        let next = progress.event_seqs.last().map_or(0, |seq| seq + 1);
        (
            next,
            progress.event_seqs.len() as u64,
            missing(&progress.event_seqs, next),
        )
    };
    Ok(json_response(
        StatusCode::OK,
        to_json(&UploadStatus {
            trace_id,
            state: row.state,
            next_chunk_seq,
            next_event_seq,
            missing_seqs,
            chunks: progress.chunk_seqs.len() as u64,
            events,
        }),
    ))
}

/// Where an artifact's blob is kept.
pub(crate) fn artifact_path(sha256: &str) -> ObjectPath {
    ObjectPath::from(format!("artifacts/sha256/{sha256}"))
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

async fn put_artifact<S: Storage>(
    State(app): State<Arc<App<S>>>,
    Path((trace_id, sha256)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    app.let_in_upload(&headers, &trace_id)?;
    if !is_sha256_hex(&sha256) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "an artifact is named by its SHA-256: 64 lowercase hex digits",
        ));
    }
    let row = app.row(&trace_id).await?;
    if row.state != "open" {
        return Err(not_open(&row.state));
    }
    let bytes = read_body(&headers, body).await?;
    let actual = sha256_hex(&bytes);
    if actual != sha256 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the body's SHA-256 is {actual}, not the {sha256} it was sent as"),
        ));
    }
    // Text is what holds no NUL byte, valid UTF-8 or not (a log in
    // Latin-1 is text); what does is binary (an archive, an image), and
    // the client's to vouch for.
    if !bytes.contains(&0) {
        let text = String::from_utf8_lossy(&bytes);
        let redaction = telemetry_core::guard::redact(&text);
        if redaction.is_redacted() {
            let found: BTreeSet<&str> = redaction
                .spans
                .iter()
                .map(|span| span.detector.as_str())
                .collect();
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the artifact holds text the detectors flag ({}); an artifact is named by its hash, so the client must redact it before hashing",
                    found.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let path = artifact_path(&sha256);
    let store = app.blobs.store();
    let fresh = match store.head(&path).await {
        Ok(_) => false,
        Err(object_store::Error::NotFound { .. }) => {
            store
                .put(&path, bytes.clone().into())
                .await
                .map_err(|error| {
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("blobs: {error}"))
                })?;
            true
        }
        Err(error) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("blobs: {error}"),
            ));
        }
    };
    let state = app
        .storage
        .trace_add_artifact(trace_id.clone(), sha256.clone(), bytes.len() as u64)
        .await
        .map_err(|error| storage_error(&error))?;
    match state.as_deref() {
        Some("open") => {}
        Some(other) => {
            return Err(not_open(other));
        }
        None => return Err(not_found(&trace_id)),
    }
    let status = if fresh {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        to_json(&json!({"sha256": sha256, "size": bytes.len(), "stored": fresh})),
    ))
}

fn parse_events(bodies: &[String]) -> Result<Vec<Event>, ApiError> {
    bodies
        .iter()
        .map(|body| {
            serde_json::from_str(body).map_err(|error| {
                storage_error(&StorageError::Corrupt(format!("a stored event: {error}")))
            })
        })
        .collect()
}

fn parse_header(row: &TraceRow) -> Result<CreateTrace, ApiError> {
    let header = row.header.as_deref().unwrap_or_default();
    serde_json::from_str(header).map_err(|error| {
        storage_error(&StorageError::Corrupt(format!(
            "a stored trace header: {error}"
        )))
    })
}

/// Times `complete` checks the events again when chunks keep arriving
/// while it checks them.
const COMPLETE_ATTEMPTS: usize = 3;

async fn complete<S: Storage>(
    State(app): State<Arc<App<S>>>,
    Path(trace_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    app.let_in_upload(&headers, &trace_id)?;
    let request = complete_request(&read_body(&headers, body).await?)?;
    for _ in 0..COMPLETE_ATTEMPTS {
        let row = app.row(&trace_id).await?;
        if row.state == "complete" {
            return completed(&app, &row).await;
        }
        let (trace, mut completion) = checked_completion(&app, &row).await?;
        if let Some(validation) = &request.validation {
            check_workspace(&app, &trace_id, &validation.workspace_sha256).await?;
        }
        if app.qa.enabled {
            completion.job = Some(NewJob {
                request: to_json(&request),
                max_attempts: app.qa.max_attempts,
                now_ms: app.now_ms(),
            });
        }
        let num_events = completion.num_events;
        let outcome = app
            .storage
            .trace_complete(completion)
            .await
            .map_err(|error| storage_error(&error))?;
        match outcome {
            CompleteOutcome::Complete {
                leaf_index,
                already: false,
            } => {
                tracing::info!(%trace_id, num_events, leaf_index, "trace complete");
                return answer_completed(
                    &app,
                    Completed {
                        event_hash_chain: trace.integrity.event_hash_chain,
                        trace_id,
                        num_events,
                        leaf_index,
                        tree_size: 0,
                    },
                )
                .await;
            }
            // Another request completed it meanwhile: its answer.
            CompleteOutcome::Complete { already: true, .. } => {
                return completed(&app, &app.row(&trace_id).await?).await;
            }
            // A chunk was stored after the events were read: read again.
            CompleteOutcome::EventsChanged => {}
            CompleteOutcome::Deleted | CompleteOutcome::Unknown => {
                return Err(not_found(&trace_id));
            }
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "chunks kept arriving while the trace was being completed; complete it once they are stored",
    )
    .retry_after(crate::policy::RETRY_AFTER_OVERLOADED))
}

/// The body of `complete`: none, or a [`CompleteTrace`] whose validation
/// request is checked here, each problem named by its field.
fn complete_request(body: &[u8]) -> Result<CompleteTrace, ApiError> {
    let unprocessable = |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(CompleteTrace::default());
    }
    let request: CompleteTrace = serde_json::from_slice(body)
        .map_err(|error| unprocessable(format!("the complete body: {error}")))?;
    let Some(validation) = &request.validation else {
        return Ok(request);
    };
    if !is_sha256_hex(&validation.workspace_sha256) {
        return Err(unprocessable(
            "`validation.workspace_sha256`: must be 64 lowercase hex digits, the SHA-256 of an uploaded artifact".to_owned(),
        ));
    }
    crate::qa::check_command(&validation.test_command)
        .map_err(|problem| unprocessable(format!("`validation.test_command`: {problem}")))?;
    crate::qa::check_framework(&validation.framework)
        .map_err(|problem| unprocessable(format!("`validation.framework`: {problem}")))?;
    if let Some(path) = &validation.report_path {
        crate::qa::check_report_path(path)
            .map_err(|problem| unprocessable(format!("`validation.report_path`: {problem}")))?;
    }
    Ok(request)
}

/// The workspace snapshot a validation names must have been uploaded for
/// this trace.
async fn check_workspace<S: Storage>(
    app: &App<S>,
    trace_id: &str,
    sha256: &str,
) -> Result<(), ApiError> {
    let uploaded = app
        .storage
        .trace_artifacts(trace_id.to_owned())
        .await
        .map_err(|error| storage_error(&error))?;
    if uploaded.iter().any(|known| known == sha256) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "`validation.workspace_sha256` names artifact {sha256}, which was not uploaded: PUT /v1/traces/{trace_id}/artifacts/{sha256}"
            ),
        ))
    }
}

/// The checks of `complete` on the events stored now: no gap, an unbroken
/// chain, every artifact they refer to uploaded and its blob present. The
/// storage stores the result only if the events are still these.
async fn checked_completion<S: Storage>(
    app: &App<S>,
    row: &TraceRow,
) -> Result<(Trace, Completion), ApiError> {
    let trace_id = &row.trace_id;
    let events = parse_events(
        &app.storage
            .trace_events(trace_id.clone())
            .await
            .map_err(|error| storage_error(&error))?,
    )?;
    let seqs: Vec<u64> = events.iter().map(|event| event.seq).collect();
    let gaps = missing(&seqs, seqs.last().map_or(0, |seq| seq + 1));
    if !gaps.is_empty() {
        let shown: Vec<String> = gaps.iter().map(ToString::to_string).collect();
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "events are missing, by seq: {}; upload them, then complete",
                shown.join(", ")
            ),
        ));
    }
    let head = verify_chain(&events).map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the hash chain is broken: {error}"),
        )
    })?;
    let uploaded: BTreeSet<String> = app
        .storage
        .trace_artifacts(trace_id.clone())
        .await
        .map_err(|error| storage_error(&error))?
        .into_iter()
        .collect();
    let mut checked = BTreeSet::new();
    for event in &events {
        if let Some(artifact) = event.kind.artifact() {
            if !checked.insert(artifact.sha256.as_str()) {
                continue;
            }
            // The row says it was uploaded; the blob must still be there (a
            // deletion of another trace that shared it may have taken it
            // while this one was uploading).
            let present = uploaded.contains(&artifact.sha256)
                && match app
                    .blobs
                    .store()
                    .head(&artifact_path(&artifact.sha256))
                    .await
                {
                    Ok(_) => true,
                    Err(object_store::Error::NotFound { .. }) => false,
                    Err(error) => {
                        return Err(ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("blobs: {error}"),
                        )
                        .retry_after(crate::policy::RETRY_AFTER_OVERLOADED));
                    }
                };
            if !present {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "event {} refers to artifact {}, which was not uploaded: PUT /v1/traces/{trace_id}/artifacts/{}",
                        event.seq, artifact.sha256, artifact.sha256
                    ),
                ));
            }
        }
    }
    // `head` is the last event's hash, which the trace's chain head is.
    let trace = parse_header(row)?.into_trace(trace_id.clone(), events);
    let completion = Completion {
        trace_id: trace_id.clone(),
        document: to_json(&trace),
        event_hash_chain: head,
        num_events: trace.events.len() as u64,
        leaf_hash: hex::encode(trace.leaf_hash()),
        completed_at: app.now_unix(),
        job: None,
    };
    Ok((trace, completion))
}

/// A complete trace's stored document.
fn stored_document(row: &TraceRow) -> Result<Trace, ApiError> {
    serde_json::from_str(row.document.as_deref().unwrap_or_default())
        .map_err(|error| storage_error(&StorageError::Corrupt(format!("a stored trace: {error}"))))
}

/// The answer to `complete` for a complete trace.
async fn completed<S: Storage>(app: &App<S>, row: &TraceRow) -> Result<Response, ApiError> {
    answer_completed(
        app,
        Completed {
            trace_id: row.trace_id.clone(),
            event_hash_chain: row.event_hash_chain.clone().unwrap_or_default(),
            num_events: row.num_events.unwrap_or(0),
            leaf_index: row.leaf_index.unwrap_or(0),
            tree_size: 0,
        },
    )
    .await
}

/// `completed` with the log's current size.
async fn answer_completed<S: Storage>(
    app: &App<S>,
    mut completed: Completed,
) -> Result<Response, ApiError> {
    completed.tree_size = app.tree().await?.len();
    Ok(json_response(StatusCode::OK, to_json(&completed)))
}

/// The inclusion proof of `leaf_index` in the tree at `tree_size`.
fn log_proof(
    tree: &telemetry_trace::merkle::MerkleTree,
    leaf_hash: &Hash,
    leaf_index: u64,
    tree_size: u64,
) -> Result<LogProof, ApiError> {
    let bad = |reason: String| ApiError::new(StatusCode::BAD_REQUEST, reason);
    if tree_size > tree.len() || leaf_index >= tree_size {
        return Err(bad(format!(
            "the trace's leaf is {leaf_index} and the log holds {} leaves: `tree_size` must be from {} to {}",
            tree.len(),
            leaf_index + 1,
            tree.len()
        )));
    }
    let hashes: Vec<Hash> = tree
        .inclusion_proof(leaf_index, tree_size)
        .map_err(|error| bad(error.to_string()))?;
    Ok(LogProof {
        leaf_index,
        tree_size,
        leaf_hash: hex::encode(leaf_hash),
        inclusion_proof: hashes.iter().map(hex::encode).collect(),
    })
}

async fn get_trace<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(trace_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.let_in_side(peer, &headers, true)?;
    let (row, trace) = load_trace(&app, &trace_id).await?;
    let mut response = json_response(StatusCode::OK, to_json(&trace));
    if let Ok(state) = HeaderValue::from_str(&row.state) {
        response.headers_mut().insert("trace-state", state);
    }
    Ok(response)
}

/// A trace as `GET /v1/traces/{id}` shows it: a complete trace with its
/// inclusion proof in the log and its QA job's state and results; an open
/// one with the events stored so far.
pub(crate) async fn load_trace<S: Storage>(
    app: &App<S>,
    trace_id: &str,
) -> Result<(TraceRow, Trace), ApiError> {
    let row = app.row(trace_id).await?;
    let trace = if row.state == "complete" {
        let mut trace = stored_document(&row)?;
        let tree = app.tree().await?;
        let leaf_index = row.leaf_index.unwrap_or(0);
        let proof = log_proof(&tree, &trace.leaf_hash(), leaf_index, tree.len())?;
        drop(tree);
        trace.integrity.log = Some(proof);
        let job = app
            .storage
            .qa_job(trace_id.to_owned())
            .await
            .map_err(|error| storage_error(&error))?;
        trace.qa = job
            .map(|job| crate::qa::shown(&job))
            .transpose()
            .map_err(|error| storage_error(&error))?;
        trace
    } else {
        let events = parse_events(
            &app.storage
                .trace_events(trace_id.to_owned())
                .await
                .map_err(|error| storage_error(&error))?,
        )?;
        parse_header(&row)?.into_trace(trace_id, events)
    };
    Ok((row, trace))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofQuery {
    tree_size: Option<u64>,
}

async fn proof<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(trace_id): Path<String>,
    Query(query): Query<ProofQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.let_in_side(peer, &headers, true)?;
    let row = app.row(&trace_id).await?;
    let Some(leaf_index) = row.leaf_index else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the trace is not complete; it has no leaf in the log yet",
        ));
    };
    let tree = app.tree().await?;
    let size = query.tree_size.unwrap_or(tree.len());
    let leaf_hash = stored_document(&row)?.leaf_hash();
    Ok(json_response(
        StatusCode::OK,
        to_json(&log_proof(&tree, &leaf_hash, leaf_index, size)?),
    ))
}

fn text_response(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn checkpoint<S: Storage>(State(app): State<Arc<App<S>>>) -> Result<Response, ApiError> {
    let tree = app.tree().await?;
    let note = app.log.checkpoint(&tree).map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the checkpoint cannot be signed: {error}"),
        )
    })?;
    Ok(text_response(note))
}

async fn verifier_key<S: Storage>(State(app): State<Arc<App<S>>>) -> Response {
    text_response(format!("{}\n", app.log.verifier_key()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

async fn consistency<S: Storage>(
    State(app): State<Arc<App<S>>>,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let tree = app.tree().await?;
    let bad = |reason: String| ApiError::new(StatusCode::BAD_REQUEST, reason);
    let (from, to) = (query.from, query.to);
    if from == 0 || from > to || to > tree.len() {
        return Err(bad(format!(
            "`from` and `to` must satisfy 1 <= from <= to <= {} (the log's size)",
            tree.len()
        )));
    }
    let hashes = tree
        .consistency_proof(from, to)
        .map_err(|error| bad(error.to_string()))?;
    Ok(json_response(
        StatusCode::OK,
        to_json(&json!({
            "from": query.from,
            "to": query.to,
            "hashes": hashes.iter().map(hex::encode).collect::<Vec<_>>(),
        })),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_lists_the_gaps_below_next() {
        assert_eq!(missing(&[], 0), Vec::<u64>::new());
        assert_eq!(missing(&[0, 1, 2], 3), Vec::<u64>::new());
        assert_eq!(missing(&[1, 4], 5), vec![0, 2, 3]);
        assert_eq!(missing(&[0], 3), vec![1, 2]);
        let many: Vec<u64> = vec![5_000];
        assert_eq!(missing(&many, 5_001).len(), MAX_MISSING_SEQS_SHOWN);
    }

    #[test]
    fn only_ids_of_this_collectors_shape_are_looked_up() {
        assert!(known_shape(&format!("trace-{}", uuid::Uuid::now_v7())));
        for id in [
            "",
            "trace-",
            "trace-x",
            "../etc",
            "TRACE-0190a1b2-0000-7000-8000-000000000000",
        ] {
            assert!(!known_shape(id), "{id}");
        }
    }
}

//! Developer traces: a blocking client of the collector's trace endpoints
//! ([`TraceClient`]) and a crash-safe recorder that spools a session and
//! uploads it in the background ([`TraceRecorder`]).
//!
//! The protocol (types in [`telemetry_trace::wire`]):
//!
//! | call | request | answer |
//! | --- | --- | --- |
//! | [`create`](TraceClient::create) | `POST /v1/traces` (ingest key), [`CreateTrace`](telemetry_trace::wire::CreateTrace) | 201 [`Created`](telemetry_trace::wire::Created): trace id and upload token |
//! | [`refresh_token`](TraceClient::refresh_token) | `POST /v1/traces/{id}/token` (ingest key) | 200 `Created` |
//! | [`ingest`](TraceClient::ingest) | `POST /v1/traces/{id}/events:ingest` (token), [`Chunk`](telemetry_trace::Chunk), `Idempotency-Key` | 200 [`ChunkAnswer`](telemetry_trace::wire::ChunkAnswer) (a replay answers the stored one) |
//! | [`upload_status`](TraceClient::upload_status) | `GET /v1/traces/{id}/upload-status` (token) | 200 [`UploadStatus`](telemetry_trace::wire::UploadStatus) |
//! | [`put_artifact`](TraceClient::put_artifact) | `PUT /v1/traces/{id}/artifacts/{sha256}` (token), raw bytes | 201 stored, 200 already there |
//! | [`complete`](TraceClient::complete) | `POST /v1/traces/{id}/complete` (token) | 200 [`Completed`](telemetry_trace::wire::Completed) |
//! | [`get_trace`](TraceClient::get_trace) | `GET /v1/traces/{id}` (read key) | 200 [`Trace`](telemetry_trace::Trace) |
//! | [`checkpoint`](TraceClient::checkpoint), [`verifier_key`](TraceClient::verifier_key) | `GET /v1/log/checkpoint`, `GET /v1/log/key` | text: a signed note, a verifier key |
//!
//! Failures are classified by the runtime's HTTP rules
//! ([`telemetry_runtime::sink::http::classify`]): [`TraceError::kind`] says
//! whether a call is worth repeating.

mod client;
mod recorder;
mod spool;
mod uploader;

pub use client::{MAX_TRACE_BYTES, TraceClient, TraceError, idempotency_key};
pub use recorder::{RecorderError, RecorderOptions, TraceRecorder};
pub use spool::SpoolError;

//! The bodies of the collector's trace endpoints, shared by the client and
//! the server so that neither writes the other's JSON by hand.
//!
//! | endpoint | request | answer |
//! | --- | --- | --- |
//! | `POST /v1/traces` | [`CreateTrace`] | [`Created`] |
//! | `POST /v1/traces/{id}/events:ingest` | [`Chunk`] | [`ChunkAnswer`] |
//! | the upload-status query (its route is the collector's) | — | [`UploadStatus`] |
//! | `POST /v1/traces/{id}/complete` | [`CompleteTrace`], or no body | [`Completed`] |

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Environment, Event};

/// The body of `POST /v1/traces`, in the reference design's flat shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrace {
    /// The participant's pseudonymous id (see
    /// [`Session::participant_id`](crate::Session::participant_id)).
    pub participant_id: String,
    /// Explicit consent; the collector refuses a trace without it.
    pub consent: bool,
    /// The task's id (`BUG-456`).
    pub task_id: String,
    /// The task's title (free text, redacted).
    pub task_title: String,
    /// The task's description (free text, redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_description: Option<String>,
    /// The repository's URL.
    pub repo_origin: String,
    /// The commit the session starts from.
    pub start_commit: String,
    /// The operating system and toolchains.
    #[serde(default)]
    pub environment: Environment,
}

/// The answer to `POST /v1/traces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Created {
    /// The new trace's id.
    pub trace_id: String,
    /// A short-lived token for this trace's uploads only.
    pub upload_token: String,
    /// When the token expires, RFC 3339 UTC.
    pub expires_at: String,
    /// A human-readable word on what happened.
    pub message: String,
}

/// The body of `POST /v1/traces/{id}/events:ingest`: some of the trace's
/// events, in any order and in chunks of any size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    /// The client's id for the chunk (`chunk-000`); part of the payload an
    /// `Idempotency-Key` stands for.
    pub chunk_id: String,
    /// The chunk's position among the trace's chunks, from 0.
    pub chunk_seq: u64,
    /// The events, sealed (see [`seal`](crate::seal)).
    pub events: Vec<Event>,
}

/// The answer to a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChunkAnswer {
    /// The trace.
    pub trace_id: String,
    /// The chunk's `chunk_seq`.
    pub chunk_seq: u64,
    /// Events stored for the first time.
    pub accepted: u32,
    /// Events already stored with the same content.
    pub duplicates: u32,
    /// Spans the collector redacted on arrival.
    pub redactions: u32,
}

/// Where an upload stands, so that a client that crashed resumes without
/// re-sending what was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UploadStatus {
    /// The trace.
    pub trace_id: String,
    /// `open`, `complete` or `deleted`.
    pub state: String,
    /// The `chunk_seq` to send next: one past the highest stored.
    pub next_chunk_seq: u64,
    /// The event `seq` to send next: one past the highest stored.
    pub next_event_seq: u64,
    /// Seqs below `next_event_seq` that are not stored.
    pub missing_seqs: Vec<u64>,
    /// Chunks stored.
    pub chunks: u64,
    /// Events stored.
    pub events: u64,
}

/// The answer to `POST /v1/traces/{id}/complete`: the chain verified and
/// the trace was appended to the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Completed {
    /// The trace.
    pub trace_id: String,
    /// The head of the trace's hash chain.
    pub event_hash_chain: String,
    /// Events in the trace.
    pub num_events: u64,
    /// The trace's leaf in the log.
    pub leaf_index: u64,
    /// The log's size after the append.
    pub tree_size: u64,
}

/// The body of `POST /v1/traces/{id}/complete`, which may be left out: what
/// the QA pipeline needs to run the trace's tests again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTrace {
    /// How to check the fix; without it the validation is `skipped` and
    /// only the judge runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationRequest>,
}

/// How to run a trace's tests again: a snapshot of the workspace after the
/// fix, uploaded as an artifact, and the command that runs its tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRequest {
    /// SHA-256 of the workspace snapshot artifact: a tar archive, plain or
    /// gzip, uploaded with `PUT /v1/traces/{id}/artifacts/{sha256}`.
    pub workspace_sha256: String,
    /// The test command, as an argument vector run in the unpacked
    /// workspace (`["python3", "-m", "pytest", "--junitxml=report.xml"]`).
    pub test_command: Vec<String>,
    /// Whose report to read: `pytest` or `junit` (a JUnit XML file at
    /// `report_path`), `cargo` (`cargo test` output), `nextest`, or
    /// `unittest` (`python -m unittest -v` output).
    pub framework: String,
    /// The JUnit XML report, relative to the workspace, for `pytest` and
    /// `junit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_path: Option<String>,
}

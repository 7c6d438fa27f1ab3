//! The trace: a typed record of one developer session, from bug report to
//! verified fix, in the shape of the reference design's schema version
//! [`TRACE_VERSION`].
//!
//! Every optional field is left out of the JSON when it is `None` (and read
//! back as `None` when absent), so that a client that never sets a field and
//! one that writes `null` produce the same canonical bytes for the hash
//! chain.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::artifact::ArtifactRef;
pub use crate::qa::Qa;

/// The schema version this crate reads and writes: `"1.0"`.
pub const TRACE_VERSION: &str = "1.0";

/// One developer session: who (pseudonymously), on what task and repository,
/// what happened (the events), and how to check it (the integrity block).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    /// The schema version, [`TRACE_VERSION`].
    pub trace_version: String,
    /// The collector's id for the trace (`trace-…`).
    pub trace_id: String,
    /// The participant and their consent.
    pub session: Session,
    /// The task the participant worked on.
    pub task: Task,
    /// The repository the session started from.
    pub repo: Repo,
    /// The operating system and toolchain versions.
    #[serde(default)]
    pub environment: Environment,
    /// The events, in `seq` order, from 0 with no gaps.
    pub events: Vec<Event>,
    /// The artifacts the events reference, keyed by their SHA-256 (hex).
    #[serde(default)]
    pub artifacts: BTreeMap<String, ArtifactRef>,
    /// Counts and the duration, derived from the events.
    pub metrics: Metrics,
    /// The QA pipeline's results, once it has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qa: Option<Qa>,
    /// The head of the hash chain and, once logged, the inclusion proof.
    pub integrity: Integrity,
}

/// The participant: a pseudonymous id and their consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// A keyed hash or an id the server issued; never an e-mail address or
    /// a user name (validation runs the guard's detectors on it).
    pub participant_id: String,
    /// Explicit consent. No consent, no trace.
    pub consent: bool,
}

/// The task: a bug report or feature request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// The task's id in its tracker (`BUG-456`).
    pub id: String,
    /// A one-line title (free text, redacted).
    pub title: String,
    /// A longer description (free text, redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Where the session started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repo {
    /// The repository's URL (no credentials).
    pub origin: String,
    /// The commit checked out at the start (hex, abbreviated or full).
    pub start_commit: String,
}

/// The machine the session ran on: the operating system, and any number of
/// toolchain versions written beside it, as the reference design does:
/// `{"os": "linux", "python_version": "3.11", "rustc": "1.89"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Environment {
    /// The operating system (`linux`, `macos`, `windows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Toolchain versions by name (`python_version`, `rustc`), flattened
    /// beside `os` in the JSON.
    #[serde(flatten)]
    pub toolchains: BTreeMap<String, String>,
}

/// One thing that happened in the session.
///
/// In the JSON the [`kind`](Self::kind) is flattened beside the common
/// fields and named by `"type"`:
///
/// ```json
/// {"id": "evt-001", "seq": 0, "ts_client_s": 1696435200.0, "redactions": 0,
///  "prev_hash": "00…", "hash": "3f…",
///  "type": "file_edit", "file_path": "src/main.py", "diff_unified": "…",
///  "buffer_hash_after": "sha256:…"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// The client's id for the event (`evt-001`, a UUID).
    pub id: String,
    /// The event's position in the trace, from 0 with no gaps.
    pub seq: u64,
    /// When the client recorded it, in seconds since the Unix epoch.
    pub ts_client_s: f64,
    /// When the collector received it, in seconds since the Unix epoch. Set
    /// on arrival; not covered by the hash chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts_server_s: Option<f64>,
    /// How many spans of free text the client redacted before hashing.
    #[serde(default)]
    pub redactions: u32,
    /// How many spans the collector redacted on arrival, after the client
    /// hashed the event: when not 0, the event's content no longer matches
    /// its `hash` (see [`verify_chain_report`](crate::verify_chain_report)).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub server_redactions: u32,
    /// The previous event's `hash` ([`GENESIS`](crate::GENESIS) for seq 0).
    pub prev_hash: String,
    /// This event's [`chain_hash`](Self::chain_hash).
    pub hash: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(count: &u32) -> bool {
    *count == 0
}

/// What an [`Event`] records, named in the JSON by `"type"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A file saved: `"type": "file_edit"`.
    FileEdit {
        /// The file, relative to the repository root, with `/` separators
        /// (see [`relative_path`](crate::relative_path)).
        file_path: String,
        /// The change as a unified diff (free text, redacted).
        diff_unified: String,
        /// The SHA-256 of the buffer after the edit: `sha256:` and 64
        /// lowercase hex digits, or the 64 digits alone.
        buffer_hash_after: String,
    },
    /// A shell command: `"type": "cmd_run"`.
    CmdRun {
        /// The command line (free text, redacted).
        command: String,
        /// Its exit code.
        exit_code: i32,
        /// How long it ran, in seconds.
        duration_s: f64,
        /// Its output, stored as an artifact.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<ArtifactRef>,
    },
    /// A test run: `"type": "test_run"`.
    TestRun {
        /// The test framework (`pytest`, `cargo-test`).
        framework: String,
        /// Tests that passed.
        passed: u32,
        /// Tests that failed.
        failed: u32,
        /// Tests that could not run.
        errors: u32,
        /// How long the run took, in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_s: Option<f64>,
        /// The framework's report, stored as an artifact.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report: Option<ArtifactRef>,
    },
    /// A commit: `"type": "commit"`.
    Commit {
        /// The commit's id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
        sha: String,
        /// The commit message (free text, redacted).
        message: String,
        /// The commit's diff, stored as an artifact.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        diff: Option<ArtifactRef>,
    },
    /// A structured note on the developer's reasoning:
    /// `"type": "rationale_note"`.
    RationaleNote {
        /// Which step of the reasoning it is.
        kind: RationaleKind,
        /// The note (free text, redacted).
        text: String,
    },
}

impl EventKind {
    /// The wire name of the kind: `file_edit`, `cmd_run`, `test_run`,
    /// `commit` or `rationale_note`.
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::FileEdit { .. } => "file_edit",
            Self::CmdRun { .. } => "cmd_run",
            Self::TestRun { .. } => "test_run",
            Self::Commit { .. } => "commit",
            Self::RationaleNote { .. } => "rationale_note",
        }
    }

    /// The artifact the event refers to: a command's output, a test run's
    /// report, a commit's diff.
    #[must_use]
    pub const fn artifact(&self) -> Option<&ArtifactRef> {
        match self {
            Self::CmdRun { output, .. } => output.as_ref(),
            Self::TestRun { report, .. } => report.as_ref(),
            Self::Commit { diff, .. } => diff.as_ref(),
            Self::FileEdit { .. } | Self::RationaleNote { .. } => None,
        }
    }
}

/// The steps of structured reasoning the reference design records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RationaleKind {
    /// What the developer means to do.
    Plan,
    /// A guess at the cause.
    Hypothesis,
    /// What they saw.
    Observation,
    /// What they chose, and why.
    Decision,
    /// What comes next.
    NextStep,
}

/// Seconds as the trace views write them: `65s`, `0.03s`, `1.5s`.
///
/// ```
/// assert_eq!(telemetry_trace::format_seconds(65.0), "65s");
/// assert_eq!(telemetry_trace::format_seconds(0.034), "0.03s");
/// assert_eq!(telemetry_trace::format_seconds(1.54), "1.5s");
/// ```
#[must_use]
pub fn format_seconds(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}s")
    } else if value < 1.0 {
        format!("{value:.2}s")
    } else {
        format!("{value:.1}s")
    }
}

/// Counts and the duration of a trace, derived from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// The last event's `ts_client_s` less the first's, in seconds.
    pub duration_s: f64,
    /// `file_edit` events.
    pub num_file_edits: u32,
    /// `test_run` events.
    pub num_test_runs: u32,
    /// `cmd_run` events.
    pub num_commands: u32,
    /// `commit` events.
    pub num_commits: u32,
    /// `rationale_note` events.
    pub num_rationale_notes: u32,
}

impl Metrics {
    /// The metrics of `events`, taken in the order given: the duration is
    /// the last event's `ts_client_s` less the first's (0 for fewer than two
    /// events, and never negative).
    #[must_use]
    pub fn from_events(events: &[Event]) -> Self {
        let mut metrics = Self::default();
        for event in events {
            let count = match event.kind {
                EventKind::FileEdit { .. } => &mut metrics.num_file_edits,
                EventKind::CmdRun { .. } => &mut metrics.num_commands,
                EventKind::TestRun { .. } => &mut metrics.num_test_runs,
                EventKind::Commit { .. } => &mut metrics.num_commits,
                EventKind::RationaleNote { .. } => &mut metrics.num_rationale_notes,
            };
            *count = count.saturating_add(1);
        }
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            metrics.duration_s = (last.ts_client_s - first.ts_client_s).max(0.0);
        }
        metrics
    }
}

/// How to check a trace: the head of its hash chain and, once the collector
/// has logged it, where it sits in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integrity {
    /// The last event's `hash` ([`GENESIS`](crate::GENESIS) for no events).
    pub event_hash_chain: String,
    /// The trace's leaf in the collector's Merkle log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogProof>,
}

/// Where a trace's leaf sits in the collector's Merkle log, and the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogProof {
    /// The leaf's index, from 0.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The leaf's hash ([`Trace::leaf_hash`](crate::Trace::leaf_hash)),
    /// 64 lowercase hex digits.
    pub leaf_hash: String,
    /// The RFC 9162 inclusion proof, leaf to root, each 64 lowercase hex
    /// digits.
    pub inclusion_proof: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(seq: u64, ts: f64, kind: EventKind) -> Event {
        Event {
            id: format!("evt-{seq:03}"),
            seq,
            ts_client_s: ts,
            ts_server_s: None,
            redactions: 0,
            server_redactions: 0,
            prev_hash: String::new(),
            hash: String::new(),
            kind,
        }
    }

    #[test]
    fn environment_flattens_toolchains_beside_os() {
        let environment = Environment {
            os: Some("linux".into()),
            toolchains: [("python_version", "3.11"), ("rustc", "1.89")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        let value = serde_json::to_value(&environment).unwrap();
        assert_eq!(
            value,
            json!({"os": "linux", "python_version": "3.11", "rustc": "1.89"})
        );
        let back: Environment = serde_json::from_value(value).unwrap();
        assert_eq!(back, environment);
    }

    #[test]
    fn event_kind_is_flattened_and_tagged_by_type() {
        let note = event(
            4,
            1.5,
            EventKind::RationaleNote {
                kind: RationaleKind::NextStep,
                text: "run the tests".into(),
            },
        );
        let value = serde_json::to_value(&note).unwrap();
        assert_eq!(
            value,
            json!({
                "id": "evt-004", "seq": 4, "ts_client_s": 1.5, "redactions": 0,
                "prev_hash": "", "hash": "",
                "type": "rationale_note", "kind": "next_step", "text": "run the tests",
            })
        );
        assert_eq!(serde_json::from_value::<Event>(value).unwrap(), note);
    }

    #[test]
    fn server_redactions_are_written_only_when_not_zero() {
        let mut commit = event(
            0,
            0.0,
            EventKind::Commit {
                sha: "a".repeat(40),
                message: "fix".into(),
                diff: None,
            },
        );
        let value = serde_json::to_value(&commit).unwrap();
        assert!(value.get("server_redactions").is_none());
        commit.server_redactions = 2;
        commit.ts_server_s = Some(3.0);
        let value = serde_json::to_value(&commit).unwrap();
        assert_eq!(value["server_redactions"], 2);
        assert_eq!(value["ts_server_s"], 3.0);
    }

    #[test]
    fn metrics_count_each_kind_and_the_span_of_client_time() {
        let events = [
            event(
                0,
                100.0,
                EventKind::RationaleNote {
                    kind: RationaleKind::Plan,
                    text: "x".into(),
                },
            ),
            event(
                1,
                110.0,
                EventKind::CmdRun {
                    command: "ls".into(),
                    exit_code: 0,
                    duration_s: 0.1,
                    output: None,
                },
            ),
            event(
                2,
                130.5,
                EventKind::TestRun {
                    framework: "pytest".into(),
                    passed: 1,
                    failed: 0,
                    errors: 0,
                    duration_s: None,
                    report: None,
                },
            ),
        ];
        let metrics = Metrics::from_events(&events);
        assert_eq!(metrics.duration_s, 30.5);
        assert_eq!(
            (
                metrics.num_file_edits,
                metrics.num_commands,
                metrics.num_test_runs,
                metrics.num_commits,
                metrics.num_rationale_notes
            ),
            (0, 1, 1, 0, 1)
        );
        assert_eq!(Metrics::from_events(&[]), Metrics::default());
    }
}

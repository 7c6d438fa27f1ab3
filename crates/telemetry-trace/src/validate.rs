//! Validation, the same on both sides: what a well-formed trace, event,
//! chunk and create request are, with errors that name the event (by `seq`
//! and `id`) and the field, and never quote a value (it may be user data).
//!
//! # Rules
//!
//! | field | rule |
//! | --- | --- |
//! | `id`, `trace_id`, `task_id`, `chunk_id` | 1 to 128 of `A-Z a-z 0-9 . _ : -` |
//! | `participant_id` | the same, and the guard's detectors find nothing (no e-mail address, no path, no secret): a 32-hex keyed digest (what `telemetry_core`'s anonymizer writes) or a UUID passes, a 64-hex unkeyed SHA-256 does not |
//! | `consent` | `true`: no consent, no trace |
//! | `ts_client_s`, `ts_server_s`, `duration_s` | finite and not negative |
//! | `prev_hash`, `hash`, `event_hash_chain`, `leaf_hash`, proof hashes, `sha256` | 64 lowercase hex digits |
//! | `file_path` | relative to the repository root, `/`-separated and already normal: no leading `/`, no drive (`C:`), no `\`, no empty, `.` or `..` segment (the client normalises with [`relative_path`]); nothing the guard's detectors flag |
//! | `seq`, `chunk_seq` | at most [`MAX_SEQ`] (2⁵³ − 1) |
//! | `framework`, `media_type`, the environment's names and values | nothing the guard's detectors flag |
//! | `buffer_hash_after` | `sha256:` and 64 lowercase hex digits, or the 64 digits alone |
//! | commit `sha` | 40 or 64 lowercase hex digits |
//! | `start_commit` | 4 to 64 lowercase hex digits (an abbreviated commit, as the reference design's examples write it, or a full one) |
//! | `repo_origin` | not empty, and the guard's detectors find nothing (no credentials in the URL) |
//! | `command`, `framework`, rationale `text`, task title | not empty |
//! | artifact `uri` | `artifact://sha256/` and its `sha256` |
//! | a chunk's or trace's events | unique `seq`s (a trace's in ascending order) |
//!
//! Unknown fields are refused by [`Chunk::from_json`] and
//! [`Trace::from_json`], which read through [`serde_json::Value`] and check
//! each event's members against its type's (serde's `deny_unknown_fields`
//! does not work beside `flatten`). An unknown member's name is written in
//! the error only when the guard's detectors find nothing in it.

use std::fmt;
use std::path::{Component, Path};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use telemetry_core::guard;

use crate::model::{ArtifactRef, EventKind, Integrity, TRACE_VERSION};
use crate::model::{Environment, Event, Metrics, Qa, Repo, Session, Task, Trace};
use crate::wire::{Chunk, CreateTrace};

/// Why a trace, event, chunk or request is not well-formed: which event
/// (when one is at fault), which field, and why, never the field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The `seq` of the event at fault.
    pub seq: Option<u64>,
    /// The `id` of the event at fault, when it is itself well-formed.
    pub event_id: Option<String>,
    /// The field, as a path from the object that holds it
    /// (`file_path`, `output.sha256`, `session.consent`).
    pub field: String,
    /// What is wrong with it, as a phrase that follows the field.
    pub reason: String,
}

impl ValidationError {
    /// An error on a field outside any event.
    #[must_use]
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            seq: None,
            event_id: None,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An error on a field of `event`.
    #[must_use]
    pub fn in_event(event: &Event, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            seq: Some(event.seq),
            event_id: is_id(&event.id).then(|| event.id.clone()),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    /// ``event 3 (`evt-003`), field `file_path`: is outside the repository
    /// root``; ``field `session.consent`: is false: no consent, no trace``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.seq, &self.event_id) {
            (Some(seq), Some(id)) => write!(f, "event {seq} (`{id}`), ")?,
            (Some(seq), None) => write!(f, "event {seq}, ")?,
            (None, Some(id)) => write!(f, "event `{id}`, ")?,
            (None, None) if self.field.is_empty() => return write!(f, "the body {}", self.reason),
            (None, None) => {}
        }
        write!(f, "field `{}`: {}", self.field, self.reason)
    }
}

impl std::error::Error for ValidationError {}

const ID_RULE: &str = "must be 1 to 128 characters of A-Z, a-z, 0-9, `.`, `_`, `:` and `-`";
const HASH_RULE: &str = "must be 64 lowercase hex digits";
const TIME_RULE: &str = "must be a finite, non-negative number of seconds";
const EMPTY: &str = "must not be empty";

/// 1 to 128 of `[A-Za-z0-9._:-]`.
pub(crate) fn is_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-'))
}

/// Exactly `len` lowercase hex digits, for one of `lens`.
fn is_lower_hex(text: &str, lens: impl IntoIterator<Item = usize>) -> bool {
    let len = text.len();
    lens.into_iter().any(|allowed| allowed == len)
        && text
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// 64 lowercase hex digits: a SHA-256 as this crate writes it.
pub(crate) fn is_hash_hex(text: &str) -> bool {
    is_lower_hex(text, [64])
}

fn is_seconds(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

/// The participant id rule, shared by [`Session`] and [`CreateTrace`].
///
/// The detectors run first, so that an e-mail address is refused as one
/// rather than for its `@`.
fn check_participant(id: &str) -> Result<(), String> {
    if let Some(detector) = guard::detect(id) {
        return Err(format!(
            "{} ({detector}): use a pseudonymous id",
            detector.description()
        ));
    }
    if !is_id(id) {
        return Err(ID_RULE.to_owned());
    }
    Ok(())
}

fn check_origin(origin: &str) -> Result<(), String> {
    if origin.is_empty() {
        return Err(EMPTY.to_owned());
    }
    if let Some(detector) = guard::detect(origin) {
        return Err(format!("{} ({detector})", detector.description()));
    }
    Ok(())
}

/// A short label that is kept as it is (a test framework, a media type, a
/// toolchain version): nothing the guard's detectors flag.
fn check_label(label: &str) -> Result<(), String> {
    match guard::detect(label) {
        Some(detector) => Err(format!("{} ({detector})", detector.description())),
        None => Ok(()),
    }
}

/// The largest `seq` and `chunk_seq`: 2⁵³ − 1, the largest integer every
/// JSON reader (and RFC 8785's numbers, which are doubles) keeps exactly.
pub const MAX_SEQ: u64 = (1 << 53) - 1;

const SEQ_RULE: &str = "must be at most 2^53 - 1";

fn check_start_commit(commit: &str) -> Result<(), &'static str> {
    if is_lower_hex(commit, 4..=64) {
        Ok(())
    } else {
        Err("must be 4 to 64 lowercase hex digits")
    }
}

const NO_CONSENT: &str = "is false: no consent, no trace";

/// The stored form of a file path: relative, `/`-separated, normal.
fn check_file_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err(EMPTY);
    }
    if path.contains('\\') {
        return Err("contains `\\`: separate segments with `/`");
    }
    if path.contains('\0') {
        return Err("contains a NUL character");
    }
    let first = path.split('/').next().unwrap_or_default();
    if path.starts_with('/') || (first.len() == 2 && first.ends_with(':')) {
        return Err("is an absolute path, not one relative to the repository root");
    }
    let mut depth: usize = 0;
    let mut normal = true;
    for segment in path.split('/') {
        match segment {
            ".." => {
                normal = false;
                depth = depth
                    .checked_sub(1)
                    .ok_or("is outside the repository root")?;
            }
            "" | "." => normal = false,
            _ => depth += 1,
        }
    }
    if !normal {
        return Err("is not normal: no empty, `.` or `..` segments");
    }
    if guard::detect(path).is_some() {
        return Err(
            "looks like personal data to the guard's detectors (an e-mail address, a key …): rename the file or leave it out",
        );
    }
    Ok(())
}

/// `path` as the stored form of a [`FileEdit`](EventKind::FileEdit)'s
/// `file_path`: relative to `root`, `/`-separated, without `.` or `..`.
///
/// An absolute `path` must lie under `root` (both are normalised
/// lexically first: `..` in `root` or `path` is resolved as text, with no
/// look at the file system, so a symbolic link is not followed); a relative
/// one is taken as relative to `root`, and may not climb out of it. A `\`
/// is refused rather than guessed at.
///
/// ```
/// use std::path::Path;
/// use telemetry_trace::relative_path;
///
/// let root = Path::new("/work/repo");
/// assert_eq!(relative_path(root, "/work/repo/src/./main.rs").unwrap(), "src/main.rs");
/// assert_eq!(relative_path(root, "src/../tests//a.py").unwrap(), "tests/a.py");
/// let error = relative_path(root, "/etc/passwd").unwrap_err();
/// assert_eq!(error.to_string(), "field `file_path`: is outside the repository root");
/// ```
pub fn relative_path(root: &Path, path: &str) -> Result<String, ValidationError> {
    let error = |reason: &str| ValidationError::field("file_path", reason);
    if path.contains('\\') {
        return Err(error("contains `\\`: separate segments with `/`"));
    }
    if path.contains('\0') {
        return Err(error("contains a NUL character"));
    }
    let candidate = Path::new(path);
    let segments: Vec<String> = if candidate.has_root() {
        if !root.has_root() {
            return Err(error(
                "is absolute, and the repository root it should lie under is not",
            ));
        }
        let root = lexical(root);
        let full = lexical(candidate);
        if full.len() < root.len() || full[..root.len()] != root[..] {
            return Err(error("is outside the repository root"));
        }
        full[root.len()..]
            .iter()
            .map(|segment| segment.as_os_str().to_string_lossy().into_owned())
            .collect()
    } else {
        let mut segments = Vec::new();
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    segments
                        .pop()
                        .ok_or_else(|| error("is outside the repository root"))?;
                }
                name => segments.push(name.to_owned()),
            }
        }
        segments
    };
    if segments.is_empty() {
        return Err(error("names the repository root, not a file in it"));
    }
    let relative = segments.join("/");
    check_file_path(&relative).map_err(error)?;
    Ok(relative)
}

/// The components of `path` with `.` dropped and `..` resolved as text (a
/// `..` at the root stays at the root, as the operating system does).
fn lexical(path: &Path) -> Vec<Component<'_>> {
    let mut components = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(components.last(), Some(Component::Normal(_))) {
                    components.pop();
                }
            }
            other => components.push(other),
        }
    }
    components
}

fn check_artifact(artifact: &ArtifactRef) -> Result<(), (&'static str, &'static str)> {
    if !is_hash_hex(&artifact.sha256) {
        return Err(("sha256", HASH_RULE));
    }
    if artifact
        .uri
        .strip_prefix(ArtifactRef::URI_PREFIX)
        .is_none_or(|rest| rest != artifact.sha256)
    {
        return Err((
            "uri",
            "must be `artifact://sha256/` and the artifact's sha256",
        ));
    }
    if artifact
        .media_type
        .as_deref()
        .is_some_and(|media| media.is_empty() || check_label(media).is_err())
    {
        return Err((
            "media_type",
            "must be a media type (`text/plain`), and nothing the guard's detectors flag",
        ));
    }
    Ok(())
}

impl Event {
    /// Checks the event's fields against the [rules](crate::validate).
    ///
    /// ```
    /// use telemetry_trace::{Event, EventKind, GENESIS};
    ///
    /// let mut event = Event {
    ///     id: "evt-003".into(), seq: 3, ts_client_s: 10.0, ts_server_s: None,
    ///     redactions: 0, server_redactions: 0,
    ///     prev_hash: GENESIS.into(), hash: GENESIS.into(),
    ///     kind: EventKind::FileEdit {
    ///         file_path: "../outside.py".into(),
    ///         diff_unified: String::new(),
    ///         buffer_hash_after: format!("sha256:{GENESIS}"),
    ///     },
    /// };
    /// let error = event.validate().unwrap_err();
    /// assert_eq!(error.to_string(), "event 3 (`evt-003`), field `file_path`: is outside the repository root");
    /// ```
    pub fn validate(&self) -> Result<(), ValidationError> {
        let fail = |field: &str, reason: &str| Err(ValidationError::in_event(self, field, reason));
        if !is_id(&self.id) {
            return fail("id", ID_RULE);
        }
        if self.seq > MAX_SEQ {
            return fail("seq", SEQ_RULE);
        }
        if !is_seconds(self.ts_client_s) {
            return fail("ts_client_s", TIME_RULE);
        }
        if self.ts_server_s.is_some_and(|ts| !is_seconds(ts)) {
            return fail("ts_server_s", TIME_RULE);
        }
        if !is_hash_hex(&self.prev_hash) {
            return fail("prev_hash", HASH_RULE);
        }
        if !is_hash_hex(&self.hash) {
            return fail("hash", HASH_RULE);
        }
        let artifact =
            |name: &str, artifact: Option<&ArtifactRef>| match artifact.map(check_artifact) {
                Some(Err((field, reason))) => fail(&format!("{name}.{field}"), reason),
                _ => Ok(()),
            };
        match &self.kind {
            EventKind::FileEdit {
                file_path,
                diff_unified: _,
                buffer_hash_after,
            } => {
                if let Err(reason) = check_file_path(file_path) {
                    return fail("file_path", reason);
                }
                let digest = buffer_hash_after
                    .strip_prefix("sha256:")
                    .unwrap_or(buffer_hash_after);
                if !is_hash_hex(digest) {
                    return fail(
                        "buffer_hash_after",
                        "must be `sha256:` and 64 lowercase hex digits, or the digits alone",
                    );
                }
            }
            EventKind::CmdRun {
                command,
                exit_code: _,
                duration_s,
                output,
            } => {
                if command.is_empty() {
                    return fail("command", EMPTY);
                }
                if !is_seconds(*duration_s) {
                    return fail("duration_s", TIME_RULE);
                }
                artifact("output", output.as_ref())?;
            }
            EventKind::TestRun {
                framework,
                duration_s,
                report,
                ..
            } => {
                if framework.is_empty() {
                    return fail("framework", EMPTY);
                }
                if let Err(reason) = check_label(framework) {
                    return fail("framework", &reason);
                }
                if duration_s.is_some_and(|duration| !is_seconds(duration)) {
                    return fail("duration_s", TIME_RULE);
                }
                artifact("report", report.as_ref())?;
            }
            EventKind::Commit { sha, diff, .. } => {
                if !is_lower_hex(sha, [40, 64]) {
                    return fail("sha", "must be 40 or 64 lowercase hex digits");
                }
                artifact("diff", diff.as_ref())?;
            }
            EventKind::RationaleNote { text, .. } => {
                if text.is_empty() {
                    return fail("text", EMPTY);
                }
            }
        }
        Ok(())
    }
}

/// Each event valid, and no `seq` twice; in ascending order if `ordered`.
fn check_events(events: &[Event], ordered: bool) -> Result<(), ValidationError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut previous: Option<u64> = None;
    for event in events {
        event.validate()?;
        if !seen.insert(event.seq) {
            return Err(ValidationError::in_event(event, "seq", "appears twice"));
        }
        if ordered && previous.is_some_and(|previous| previous > event.seq) {
            return Err(ValidationError::in_event(
                event,
                "seq",
                "is out of order: events must be in seq order",
            ));
        }
        previous = Some(event.seq);
    }
    Ok(())
}

impl Trace {
    /// Checks the whole trace against the [rules](crate::validate): the
    /// version, the ids, consent, the participant id, every event (in
    /// ascending `seq` with none twice), the artifacts (each keyed by its
    /// own `sha256`), and the integrity block. That the seqs have no gaps
    /// and the hashes link is [`verify_chain`](crate::verify_chain)'s job.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let fail = |field: &str, reason: &str| Err(ValidationError::field(field, reason));
        if self.trace_version != TRACE_VERSION {
            return fail(
                "trace_version",
                &format!("must be \"{TRACE_VERSION}\", the version this reader knows"),
            );
        }
        if !is_id(&self.trace_id) {
            return fail("trace_id", ID_RULE);
        }
        if let Err(reason) = check_participant(&self.session.participant_id) {
            return fail("session.participant_id", &reason);
        }
        if !self.session.consent {
            return fail("session.consent", NO_CONSENT);
        }
        if !is_id(&self.task.id) {
            return fail("task.id", ID_RULE);
        }
        if self.task.title.is_empty() {
            return fail("task.title", EMPTY);
        }
        if let Err(reason) = check_origin(&self.repo.origin) {
            return fail("repo.origin", &reason);
        }
        if let Err(reason) = check_start_commit(&self.repo.start_commit) {
            return fail("repo.start_commit", reason);
        }
        check_events(&self.events, true)?;
        for (position, (key, artifact)) in self.artifacts.iter().enumerate() {
            if let Err((field, reason)) = check_artifact(artifact) {
                return fail(&format!("artifacts[{position}].{field}"), reason);
            }
            if *key != artifact.sha256 {
                return fail(
                    &format!("artifacts[{position}]"),
                    "must be keyed by its own sha256",
                );
            }
        }
        if !is_seconds(self.metrics.duration_s) {
            return fail("metrics.duration_s", TIME_RULE);
        }
        check_integrity(&self.integrity)
    }
}

fn check_integrity(integrity: &Integrity) -> Result<(), ValidationError> {
    let fail = |field: &str, reason: &str| Err(ValidationError::field(field, reason));
    if !is_hash_hex(&integrity.event_hash_chain) {
        return fail("integrity.event_hash_chain", HASH_RULE);
    }
    if let Some(log) = &integrity.log {
        if !is_hash_hex(&log.leaf_hash) {
            return fail("integrity.log.leaf_hash", HASH_RULE);
        }
        if let Some(position) = log
            .inclusion_proof
            .iter()
            .position(|hash| !is_hash_hex(hash))
        {
            return fail(
                &format!("integrity.log.inclusion_proof[{position}]"),
                HASH_RULE,
            );
        }
        if log.leaf_index >= log.tree_size {
            return fail("integrity.log.leaf_index", "must be below tree_size");
        }
    }
    Ok(())
}

impl CreateTrace {
    /// Checks the request: consent first (no consent, no trace), then the
    /// participant id, the task and the repository.
    ///
    /// ```
    /// use telemetry_trace::CreateTrace;
    ///
    /// let request = CreateTrace {
    ///     participant_id: "ana@example.com".into(), consent: true,
    ///     task_id: "BUG-456".into(), task_title: "Fix calculator bug".into(),
    ///     task_description: None,
    ///     repo_origin: "https://github.com/example/repo".into(),
    ///     start_commit: "abc123".into(), environment: Default::default(),
    /// };
    /// assert_eq!(
    ///     request.validate().unwrap_err().to_string(),
    ///     "field `participant_id`: looks like an e-mail address (email): use a pseudonymous id",
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), ValidationError> {
        let fail = |field: &str, reason: &str| Err(ValidationError::field(field, reason));
        if !self.consent {
            return fail("consent", NO_CONSENT);
        }
        if let Err(reason) = check_participant(&self.participant_id) {
            return fail("participant_id", &reason);
        }
        if !is_id(&self.task_id) {
            return fail("task_id", ID_RULE);
        }
        if self.task_title.is_empty() {
            return fail("task_title", EMPTY);
        }
        if let Err(reason) = check_origin(&self.repo_origin) {
            return fail("repo_origin", &reason);
        }
        if let Err(reason) = check_start_commit(&self.start_commit) {
            return fail("start_commit", reason);
        }
        check_environment(&self.environment)
    }
}

/// The environment's values are kept as they are: nothing in them, nor in
/// their names, that the guard's detectors flag.
fn check_environment(environment: &Environment) -> Result<(), ValidationError> {
    let values = environment.os.iter().map(|os| ("os", os.as_str())).chain(
        environment
            .toolchains
            .iter()
            .map(|(name, version)| (name.as_str(), version.as_str())),
    );
    for (name, value) in values {
        if check_label(name).is_err() {
            return Err(ValidationError::field(
                "environment",
                "holds a name the guard's detectors flag",
            ));
        }
        if let Err(reason) = check_label(value) {
            return Err(ValidationError::field(
                format!("environment.{name}"),
                reason,
            ));
        }
    }
    Ok(())
}

impl Chunk {
    /// Checks the chunk: its id, at least one event, each event valid, and
    /// no `seq` twice. The events may come in any order (the chain is
    /// checked on `complete`, over the whole trace).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !is_id(&self.chunk_id) {
            return Err(ValidationError::field("chunk_id", ID_RULE));
        }
        if self.chunk_seq > MAX_SEQ {
            return Err(ValidationError::field("chunk_seq", SEQ_RULE));
        }
        if self.events.is_empty() {
            return Err(ValidationError::field(
                "events",
                "must hold at least one event",
            ));
        }
        check_events(&self.events, false)
    }

    /// Reads a chunk from JSON, refusing unknown fields (naming the event
    /// and the field), then [validates](Self::validate) it.
    ///
    /// ```
    /// use telemetry_trace::Chunk;
    ///
    /// let body = br#"{"chunk_id": "chunk-001", "chunk_seq": 0, "events": [{
    ///     "id": "evt-001", "seq": 0, "ts_client_s": 1696435200.0,
    ///     "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000",
    ///     "hash": "0000000000000000000000000000000000000000000000000000000000000000",
    ///     "type": "rationale_note", "kind": "plan", "text": "read the test", "mood": "ok"}]}"#;
    /// let error = Chunk::from_json(body).unwrap_err();
    /// assert_eq!(error.to_string(), "event 0 (`evt-001`), field `mood`: is not a field of a rationale_note event");
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Self, ValidationError> {
        let mut members = parse_object(bytes)?;
        check_members(&members, CHUNK_FIELDS, "")?;
        let events = take_events(&mut members)?;
        let mut chunk: Self = from_members(members, "")?;
        chunk.events = events;
        chunk.validate()?;
        Ok(chunk)
    }
}

impl Trace {
    /// Reads a trace from JSON, refusing unknown fields (naming the event
    /// and the field), then [validates](Self::validate) it.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ValidationError> {
        let mut members = parse_object(bytes)?;
        check_members(&members, TRACE_FIELDS, "")?;
        let events = take_events(&mut members)?;
        let mut trace: Self = from_members(members, "")?;
        trace.events = events;
        trace.validate()?;
        Ok(trace)
    }
}

/// Checks that a value deserializes as `T`: one entry of a field table.
type Check = fn(&Value) -> Result<(), serde_json::Error>;

fn check<T: DeserializeOwned>(value: &Value) -> Result<(), serde_json::Error> {
    T::deserialize(value).map(drop)
}

/// The members of an envelope, with `events` checked apart.
const CHUNK_FIELDS: &[(&str, Check)] = &[
    ("chunk_id", check::<String>),
    ("chunk_seq", check::<u64>),
    ("events", check::<Vec<Value>>),
];

const TRACE_FIELDS: &[(&str, Check)] = &[
    ("trace_version", check::<String>),
    ("trace_id", check::<String>),
    ("session", check::<Session>),
    ("task", check::<Task>),
    ("repo", check::<Repo>),
    ("environment", check::<Environment>),
    ("events", check::<Vec<Value>>),
    (
        "artifacts",
        check::<std::collections::BTreeMap<String, ArtifactRef>>,
    ),
    ("metrics", check::<Metrics>),
    ("qa", check::<Option<Qa>>),
    ("integrity", check::<Integrity>),
];

/// The members every event has.
const EVENT_FIELDS: &[(&str, Check)] = &[
    ("id", check::<String>),
    ("seq", check::<u64>),
    ("ts_client_s", check::<f64>),
    ("ts_server_s", check::<Option<f64>>),
    ("redactions", check::<u32>),
    ("server_redactions", check::<u32>),
    ("prev_hash", check::<String>),
    ("hash", check::<String>),
    ("type", check::<String>),
];

/// The members of each event type, by its wire name.
const KIND_FIELDS: &[(&str, &[(&str, Check)])] = &[
    (
        "file_edit",
        &[
            ("file_path", check::<String>),
            ("diff_unified", check::<String>),
            ("buffer_hash_after", check::<String>),
        ],
    ),
    (
        "cmd_run",
        &[
            ("command", check::<String>),
            ("exit_code", check::<i32>),
            ("duration_s", check::<f64>),
            ("output", check::<Option<ArtifactRef>>),
        ],
    ),
    (
        "test_run",
        &[
            ("framework", check::<String>),
            ("passed", check::<u32>),
            ("failed", check::<u32>),
            ("errors", check::<u32>),
            ("duration_s", check::<Option<f64>>),
            ("report", check::<Option<ArtifactRef>>),
        ],
    ),
    (
        "commit",
        &[
            ("sha", check::<String>),
            ("message", check::<String>),
            ("diff", check::<Option<ArtifactRef>>),
        ],
    ),
    (
        "rationale_note",
        &[
            ("kind", check::<crate::model::RationaleKind>),
            ("text", check::<String>),
        ],
    ),
];

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ValidationError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(members)) => Ok(members),
        Ok(_) => Err(ValidationError::field("", "must be a JSON object")),
        Err(error) => Err(ValidationError::field(
            "",
            format!("is not well-formed JSON ({error})"),
        )),
    }
}

/// Refuses members not in `fields` and members of the wrong type.
fn check_members(
    members: &Map<String, Value>,
    fields: &[(&str, Check)],
    prefix: &str,
) -> Result<(), ValidationError> {
    for (name, value) in members {
        let Some((_, check)) = fields.iter().find(|(field, _)| field == name) else {
            return Err(ValidationError::field(
                unknown_member(name, prefix),
                "is not a known field",
            ));
        };
        check(value).map_err(|error| {
            ValidationError::field(format!("{prefix}{name}"), reason_of(&error))
        })?;
    }
    Ok(())
}

fn unknown_member(name: &str, prefix: &str) -> String {
    if guard::detect(name).is_none() {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}[a member whose name looks like personal data]")
    }
}

fn from_members<T: DeserializeOwned>(
    members: Map<String, Value>,
    prefix: &str,
) -> Result<T, ValidationError> {
    serde_json::from_value(Value::Object(members))
        .map_err(|error| ValidationError::field(prefix.trim_end_matches('.'), reason_of(&error)))
}

/// Takes `events` out of an envelope (it was checked to be an array, or is
/// missing) and reads each event.
fn take_events(members: &mut Map<String, Value>) -> Result<Vec<Event>, ValidationError> {
    let Some(Value::Array(values)) = members.get_mut("events").map(Value::take) else {
        return Err(ValidationError::field("events", "missing field `events`"));
    };
    members.insert("events".to_owned(), Value::Array(Vec::new()));
    values
        .into_iter()
        .enumerate()
        .map(|(position, value)| event_from_value(position, value))
        .collect()
}

/// Reads the event at `position` of `events`, checking its members against
/// its type's.
fn event_from_value(position: usize, value: Value) -> Result<Event, ValidationError> {
    let Value::Object(members) = value else {
        return Err(ValidationError::field(
            format!("events[{position}]"),
            "must be a JSON object",
        ));
    };
    let seq = members.get("seq").and_then(Value::as_u64);
    let event_id = members
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| is_id(id))
        .map(str::to_owned);
    let fail = |field: &str, reason: String| ValidationError {
        seq,
        event_id: event_id.clone(),
        field: if seq.is_none() && event_id.is_none() {
            format!("events[{position}].{field}")
        } else {
            field.to_owned()
        },
        reason,
    };
    let type_name = match members.get("type") {
        None => return Err(fail("type", "missing field `type`".to_owned())),
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(fail("type", "must be a string".to_owned())),
    };
    let Some((_, kind_fields)) = KIND_FIELDS.iter().find(|(name, _)| *name == type_name) else {
        return Err(fail(
            "type",
            "must be one of file_edit, cmd_run, test_run, commit, rationale_note".to_owned(),
        ));
    };
    for (name, member) in &members {
        let check = EVENT_FIELDS
            .iter()
            .chain(kind_fields.iter())
            .find(|(field, _)| field == name)
            .map(|(_, check)| check);
        let Some(check) = check else {
            return Err(fail(
                &unknown_member(name, ""),
                format!("is not a field of a {type_name} event"),
            ));
        };
        check(member).map_err(|error| fail(name, reason_of(&error)))?;
    }
    serde_json::from_value(Value::Object(members)).map_err(|error| {
        let reason = reason_of(&error);
        let field = reason
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
            .unwrap_or("");
        fail(field, reason.clone())
    })
}

/// serde's message for `error`, less any value it quotes: `invalid type:
/// string "ana@example.com", expected u64` becomes `has the wrong type:
/// expected u64`.
fn reason_of(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) if error.line() > 0 => &message[..at],
        _ => &message,
    };
    for (prefix, phrase) in [
        ("invalid type: ", "has the wrong type"),
        ("invalid value: ", "has an invalid value"),
        ("unknown variant ", "is not a known value"),
    ] {
        if message.starts_with(prefix) {
            return match message.rsplit_once(", expected ") {
                Some((_, expected)) => format!("{phrase}: expected {expected}"),
                None => phrase.to_owned(),
            };
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return if guard::detect(name).is_none() {
            format!("has an unknown field `{name}`")
        } else {
            "has an unknown field".to_owned()
        };
    }
    if message.starts_with("missing field `")
        || message.starts_with("invalid length ")
        || message.starts_with("duplicate field `")
    {
        return message.to_owned();
    }
    "does not match the trace schema".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::GENESIS;
    use crate::model::RationaleKind;

    fn edit(path: &str) -> Event {
        Event {
            id: "evt-003".into(),
            seq: 3,
            ts_client_s: 10.0,
            ts_server_s: None,
            redactions: 0,
            server_redactions: 0,
            prev_hash: GENESIS.into(),
            hash: GENESIS.into(),
            kind: EventKind::FileEdit {
                file_path: path.into(),
                diff_unified: "@@ -1 +1 @@\n-a\n+b\n".into(),
                buffer_hash_after: format!("sha256:{GENESIS}"),
            },
        }
    }

    fn reason(event: &Event) -> String {
        event.validate().unwrap_err().to_string()
    }

    #[test]
    fn ids_are_short_and_plain() {
        assert!(is_id("evt-001") && is_id("0190f1c2-7a3b-7c00-8000-000000000000"));
        assert!(is_id("a:b.c_d") && is_id(&"x".repeat(128)));
        assert!(!is_id("") && !is_id(&"x".repeat(129)));
        assert!(!is_id("evt 1") && !is_id("evt/1") && !is_id("évt"));
    }

    #[test]
    fn file_paths_must_be_relative_and_normal() {
        assert!(edit("src/main.py").validate().is_ok());
        assert!(edit("a..b/.hidden").validate().is_ok());
        for (path, why) in [
            ("../x", "is outside the repository root"),
            ("a/../../x", "is outside the repository root"),
            (
                "/etc/passwd",
                "is an absolute path, not one relative to the repository root",
            ),
            (
                "C:/x",
                "is an absolute path, not one relative to the repository root",
            ),
            ("a\\b", "contains `\\`: separate segments with `/`"),
            ("a/./b", "is not normal: no empty, `.` or `..` segments"),
            ("a//b", "is not normal: no empty, `.` or `..` segments"),
            ("a/../b", "is not normal: no empty, `.` or `..` segments"),
            ("a/", "is not normal: no empty, `.` or `..` segments"),
            ("", "must not be empty"),
        ] {
            assert_eq!(
                reason(&edit(path)),
                format!("event 3 (`evt-003`), field `file_path`: {why}"),
                "{path}"
            );
        }
    }

    #[test]
    fn relative_path_places_paths_under_the_root() {
        let root = Path::new("/work/repo");
        assert_eq!(
            relative_path(root, "/work/repo/src/main.rs").unwrap(),
            "src/main.rs"
        );
        assert_eq!(relative_path(root, "/work/x/../repo/a").unwrap(), "a");
        assert_eq!(
            relative_path(Path::new("/work/./repo/"), "/work/repo/a").unwrap(),
            "a"
        );
        assert_eq!(relative_path(root, "./a/b/../c").unwrap(), "a/c");
        for (path, why) in [
            ("/work/repository/a", "is outside the repository root"),
            ("/work/repo/../other/a", "is outside the repository root"),
            ("../a", "is outside the repository root"),
            ("a/../../b", "is outside the repository root"),
            ("/work/repo", "names the repository root, not a file in it"),
            ("./", "names the repository root, not a file in it"),
            ("a\\b", "contains `\\`: separate segments with `/`"),
            (
                "C:/x",
                "is an absolute path, not one relative to the repository root",
            ),
        ] {
            assert_eq!(relative_path(root, path).unwrap_err().reason, why, "{path}");
        }
        assert!(relative_path(Path::new("repo"), "/repo/a").is_err());
    }

    #[test]
    fn hashes_and_times_are_checked() {
        let mut event = edit("a");
        event.hash = GENESIS.to_uppercase().replace('0', "A");
        assert!(reason(&event).ends_with("field `hash`: must be 64 lowercase hex digits"));
        let mut event = edit("a");
        event.ts_client_s = f64::NAN;
        assert!(reason(&event).contains("`ts_client_s`"));
        let mut event = edit("a");
        event.ts_server_s = Some(-1.0);
        assert!(reason(&event).contains("`ts_server_s`"));
        let mut event = edit("a");
        event.kind = EventKind::FileEdit {
            file_path: "a".into(),
            diff_unified: String::new(),
            buffer_hash_after: GENESIS.into(),
        };
        assert!(event.validate().is_ok(), "bare 64 hex is allowed");
        event.kind = EventKind::FileEdit {
            file_path: "a".into(),
            diff_unified: String::new(),
            buffer_hash_after: "sha1:abc".into(),
        };
        assert!(reason(&event).contains("`buffer_hash_after`"));
    }

    #[test]
    fn commits_artifacts_and_notes_are_checked() {
        let mut event = edit("a");
        event.kind = EventKind::Commit {
            sha: "abc123".into(),
            message: "fix".into(),
            diff: None,
        };
        assert!(reason(&event).ends_with("field `sha`: must be 40 or 64 lowercase hex digits"));
        let mut diff = ArtifactRef::for_bytes(b"diff", None);
        diff.uri = "artifact://sha256/other".into();
        event.kind = EventKind::Commit {
            sha: "a".repeat(40),
            message: "fix".into(),
            diff: Some(diff),
        };
        let expected = "field `diff.uri`: must be `artifact://sha256/` and the artifact's sha256";
        assert!(reason(&event).ends_with(expected));
        // Ending with the hash is not enough: the URI must be only that.
        let mut diff = ArtifactRef::for_bytes(b"diff", None);
        diff.uri = format!("https://user:token@example.com/{}", diff.sha256);
        event.kind = EventKind::Commit {
            sha: "a".repeat(40),
            message: "fix".into(),
            diff: Some(diff),
        };
        assert!(reason(&event).ends_with(expected));
        let mut report = ArtifactRef::for_bytes(b"<testsuite/>", Some("text/xml"));
        report.media_type = Some("ana@example.com".into());
        event.kind = EventKind::TestRun {
            framework: "pytest".into(),
            passed: 1,
            failed: 0,
            errors: 0,
            duration_s: None,
            report: Some(report),
        };
        assert!(reason(&event).contains("field `report.media_type`"));
        event.kind = EventKind::TestRun {
            framework: "/home/ana/bin/pytest".into(),
            passed: 1,
            failed: 0,
            errors: 0,
            duration_s: None,
            report: None,
        };
        assert!(reason(&event).contains("field `framework`: looks like an absolute path"));
        event.kind = EventKind::FileEdit {
            file_path: "notes/ana@example.com.md".into(),
            diff_unified: String::new(),
            buffer_hash_after: "ab".repeat(32),
        };
        assert!(reason(&event).contains("field `file_path`: looks like personal data"));
        assert!(!reason(&event).contains("ana@"));
        event.seq = MAX_SEQ + 1;
        assert!(reason(&event).contains("field `seq`: must be at most 2^53 - 1"));
        event.seq = 3;
        event.kind = EventKind::RationaleNote {
            kind: RationaleKind::Plan,
            text: String::new(),
        };
        assert!(reason(&event).ends_with("field `text`: must not be empty"));
        let mut event = edit("a");
        event.id = "evt 3".into();
        assert_eq!(
            reason(&event),
            format!("event 3, field `id`: {ID_RULE}"),
            "an invalid id is not quoted"
        );
    }

    fn create() -> CreateTrace {
        CreateTrace {
            participant_id: "p-7f3a9c".into(),
            consent: true,
            task_id: "BUG-456".into(),
            task_title: "Fix calculator bug".into(),
            task_description: None,
            repo_origin: "https://github.com/example/repo".into(),
            start_commit: "abc123".into(),
            environment: Environment::default(),
        }
    }

    #[test]
    fn no_consent_no_trace() {
        assert!(create().validate().is_ok());
        let request = CreateTrace {
            consent: false,
            ..create()
        };
        assert_eq!(
            request.validate().unwrap_err().to_string(),
            "field `consent`: is false: no consent, no trace"
        );
    }

    #[test]
    fn participant_ids_must_be_pseudonymous() {
        // What the keyed anonymizer writes (32 hex digits) and UUIDs pass.
        for id in [
            "9f86d081884c7d659a2feaa0c55ad015",
            "0190f1c2-7a3b-7c00-8000-0000000000aa",
        ] {
            let request = CreateTrace {
                participant_id: id.into(),
                ..create()
            };
            assert!(request.validate().is_ok(), "{id}");
        }
        for id in ["ana@example.com", "/home/ana"] {
            let request = CreateTrace {
                participant_id: id.into(),
                ..create()
            };
            let error = request.validate().unwrap_err();
            assert_eq!(error.field, "participant_id");
            assert!(!error.to_string().contains(id), "{error}");
        }
        let request = CreateTrace {
            repo_origin: "https://ana:hunter2@github.com/x".into(),
            ..create()
        };
        let error = request.validate().unwrap_err().to_string();
        assert_eq!(
            error,
            "field `repo_origin`: looks like a URL with credentials or a token (url_credentials)"
        );
    }

    #[test]
    fn chunks_refuse_repeated_seqs_and_emptiness() {
        let chunk = Chunk {
            chunk_id: "chunk-001".into(),
            chunk_seq: 0,
            events: vec![edit("a"), edit("b")],
        };
        assert_eq!(
            chunk.validate().unwrap_err().to_string(),
            "event 3 (`evt-003`), field `seq`: appears twice"
        );
        let chunk = Chunk {
            events: Vec::new(),
            ..chunk
        };
        assert_eq!(chunk.validate().unwrap_err().field, "events");
    }

    fn chunk_json(event: &str) -> Vec<u8> {
        format!(r#"{{"chunk_id":"c-1","chunk_seq":0,"events":[{event}]}}"#).into_bytes()
    }

    fn event_json(extra: &str) -> String {
        format!(
            r#"{{"id":"evt-001","seq":1,"ts_client_s":1,"prev_hash":"{GENESIS}","hash":"{GENESIS}",{extra}}}"#
        )
    }

    #[test]
    fn from_json_names_the_event_and_the_field() {
        let ok = event_json(r#""type":"commit","sha":"{}","message":"fix""#)
            .replace("{}", &"a".repeat(40));
        let chunk = Chunk::from_json(&chunk_json(&ok)).unwrap();
        assert_eq!(chunk.events[0].seq, 1);

        let cases = [
            (
                event_json(
                    r#""type":"cmd_run","command":"ls","exit_code":0,"duration_s":1,"stdout":"x""#,
                ),
                "event 1 (`evt-001`), field `stdout`: is not a field of a cmd_run event",
            ),
            (
                event_json(
                    r#""type":"cmd_run","command":"ls","exit_code":"ana@example.com","duration_s":1"#,
                ),
                "event 1 (`evt-001`), field `exit_code`: has the wrong type: expected i32",
            ),
            (
                event_json(r#""type":"rationale_note","kind":"secret-ana@example.com","text":"x""#),
                "event 1 (`evt-001`), field `kind`: is not a known value: expected one of `plan`, `hypothesis`, `observation`, `decision`, `next_step`",
            ),
            (
                event_json(r#""type":"rationale_note","text":"x""#),
                "event 1 (`evt-001`), field `kind`: missing field `kind`",
            ),
            (
                event_json(r#""type":"telepathy""#),
                "event 1 (`evt-001`), field `type`: must be one of file_edit, cmd_run, test_run, commit, rationale_note",
            ),
            (
                event_json(
                    r#""type":"cmd_run","command":"ls","exit_code":0,"duration_s":1,"output":{"uri":"u","sha256":"s","size":1,"owner":"x"}"#,
                ),
                "event 1 (`evt-001`), field `output`: has an unknown field `owner`",
            ),
            (
                event_json(
                    r#""type":"cmd_run","command":"ls","exit_code":0,"duration_s":1,"ana@example.com":1"#,
                ),
                "event 1 (`evt-001`), field `[a member whose name looks like personal data]`: is not a field of a cmd_run event",
            ),
            (
                r#"{"type":"commit","note":1}"#.to_owned(),
                "field `events[0].note`: is not a field of a commit event",
            ),
            ("3".to_owned(), "field `events[0]`: must be a JSON object"),
        ];
        for (event, want) in cases {
            let error = Chunk::from_json(&chunk_json(&event)).unwrap_err();
            assert_eq!(error.to_string(), want);
            assert!(!want.contains("ana@"));
        }
        let error = Chunk::from_json(br#"{"chunk_id":"c","chunk_seq":0,"events":[],"x":1}"#);
        assert_eq!(
            error.unwrap_err().to_string(),
            "field `x`: is not a known field"
        );
        let error = Chunk::from_json(br#"{"chunk_id":"c","chunk_seq":-1,"events":[]}"#);
        assert_eq!(
            error.unwrap_err().to_string(),
            "field `chunk_seq`: has an invalid value: expected u64"
        );
        let error = Chunk::from_json(b"{").unwrap_err().to_string();
        assert!(
            error.starts_with("the body is not well-formed JSON ("),
            "{error}"
        );
        let error = Chunk::from_json(b"[]").unwrap_err().to_string();
        assert_eq!(error, "the body must be a JSON object");
    }
}

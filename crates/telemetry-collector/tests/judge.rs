//! The QA judges: the heuristic judge on the three example sessions, and
//! the OpenAI-compatible judge against a fake chat-completions server on
//! loopback (no key, no network).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use telemetry_collector::qa::QaConfig;
use telemetry_collector::qa::config::JudgeKind;
use telemetry_collector::qa::judge::openai::MAX_PROMPT_BYTES;
use telemetry_collector::qa::judge::{self, HeuristicJudge, Judge, OpenAiConfig, OpenAiJudge};
use telemetry_trace::wire::CreateTrace;
use telemetry_trace::{
    Chunk, Event, EventKind, Judgement, RUBRIC, Trace, Validation, Verdict, weighted_overall,
};

/// An example session (`examples/traces/{name}`) as the collector holds it
/// once complete.
fn example(name: &str) -> Trace {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/traces")
        .join(name);
    let create: CreateTrace =
        serde_json::from_slice(&std::fs::read(dir.join("trace.json")).unwrap()).unwrap();
    let mut events: Vec<Event> = Vec::new();
    for seq in 0.. {
        let Ok(bytes) = std::fs::read(dir.join(format!("chunks/{seq:03}.json"))) else {
            break;
        };
        events.extend(Chunk::from_json(&bytes).unwrap().events);
    }
    assert!(!events.is_empty(), "{name} has no events");
    create.into_trace(format!("trace-{name}"), events)
}

fn shown(name: &str, judgement: &Judgement) -> String {
    let mut text = format!("{name}: overall {:?}\n", judgement.overall);
    for dimension in &RUBRIC {
        let _ = writeln!(
            text,
            "  {:<22} {:>3}  {}",
            dimension.key, judgement.scores[dimension.key], judgement.reasons[dimension.key]
        );
    }
    text
}

#[test]
fn the_heuristic_judge_ranks_process_complex_over_failed_over_simple() {
    let judge = HeuristicJudge;
    let [simple, complex, failed] = ["simple", "complex", "failed"].map(|name| {
        let judgement = judge.judge(&example(name), None).unwrap();
        println!("{}", shown(name, &judgement));
        judgement
    });
    for judgement in [&simple, &complex, &failed] {
        assert_eq!(judgement.judge, "heuristic");
        assert_eq!(judgement.model, None);
        assert_eq!(judgement.error, None);
        assert_eq!(judgement.scores.len(), RUBRIC.len());
        assert_eq!(judgement.reasons.len(), RUBRIC.len());
        assert_eq!(judgement.overall, weighted_overall(&judgement.scores));
    }
    let overall = |judgement: &Judgement| judgement.overall.unwrap();
    assert!(
        overall(&complex) > overall(&failed) && overall(&failed) > overall(&simple),
        "complex {} > failed {} > simple {}",
        overall(&complex),
        overall(&failed),
        overall(&simple)
    );
    // The same trace, the same scores.
    assert_eq!(judge.judge(&example("failed"), None).unwrap(), failed);
}

#[test]
fn from_config_gives_the_heuristic_judge_by_default_and_names_a_bad_openai_key() {
    let judge = judge::from_config(&QaConfig::default()).unwrap();
    assert_eq!(judge.name(), "heuristic");

    let mut config = QaConfig {
        judge: JudgeKind::Openai,
        ..QaConfig::default()
    };
    config.openai.model = String::new();
    let error = judge::from_config(&config).unwrap_err();
    assert_eq!(error, "`qa.openai.model`: is empty");

    config.openai = OpenAiConfig {
        api_key_env: "TELEMETRY_JUDGE_TEST_UNSET_KEY".into(),
        ..OpenAiConfig::default()
    };
    let error = judge::from_config(&config).unwrap_err();
    assert!(error.starts_with("`qa.openai.api_key_env`"), "{error}");
    assert!(
        error.contains("`TELEMETRY_JUDGE_TEST_UNSET_KEY` is not set"),
        "{error}"
    );
}

#[test]
fn the_openai_section_reads_with_its_defaults_and_refuses_unknown_keys() {
    let config: QaConfig =
        serde_json::from_value(json!({"judge": "openai", "openai": {"model": "gpt-4o"}})).unwrap();
    assert_eq!(config.judge, JudgeKind::Openai);
    assert_eq!(config.openai.model, "gpt-4o");
    assert_eq!(config.openai.base_url, "https://api.openai.com/v1");
    assert_eq!(config.openai.api_key_env, "OPENAI_API_KEY");
    assert_eq!(config.openai.max_attempts, 3);
    assert_eq!(QaConfig::default().openai.model, "gpt-4o-mini");
    let error =
        serde_json::from_value::<QaConfig>(json!({"openai": {"api_key": "sk-1"}})).unwrap_err();
    assert!(error.to_string().contains("api_key"), "{error}");
}

// The fake chat-completions server.

/// A request the fake server received.
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// A fake OpenAI-compatible server on loopback: it gives `answers` in
/// order (the last one again and again) and records each request.
struct Fake {
    base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

/// One answer: a status, extra headers and a body.
type Answer = (u16, Vec<(&'static str, String)>, String);

impl Fake {
    fn start(answers: Vec<Answer>) -> Self {
        assert!(!answers.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let answer = &answers[n.min(answers.len() - 1)];
                serve(stream, answer, &log);
            }
        });
        Self { base_url, received }
    }

    fn judge(&self, max_attempts: u32) -> OpenAiJudge {
        let config = OpenAiConfig {
            base_url: self.base_url.clone(),
            max_attempts,
            timeout_seconds: 10,
            ..OpenAiConfig::default()
        };
        OpenAiJudge::new(config, "sk-test-0123456789").unwrap()
    }

    fn requests(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// Reads one HTTP/1.1 request from `stream`, records it in `log` (before
/// answering, so that the client never sees an answer before its request is
/// recorded), writes `answer` and closes.
fn serve(
    stream: TcpStream,
    (status, headers, body): &Answer,
    log: &Mutex<Vec<Received>>,
) -> Option<()> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut request_headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        request_headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = request_headers.get("content-length")?.parse().ok()?;
    let mut request_body = vec![0; length];
    reader.read_exact(&mut request_body).ok()?;
    log.lock().unwrap().push(Received {
        path,
        headers: request_headers,
        body: serde_json::from_slice(&request_body).unwrap_or(Value::Null),
    });
    let mut stream = stream;
    let mut head = format!(
        "HTTP/1.1 {status} Fake\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    stream.flush().ok()
}

/// A chat completion whose message is `content`.
fn completion(content: &str, prompt_tokens: u64, completion_tokens: u64) -> Answer {
    let body = json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    });
    (200, Vec::new(), body.to_string())
}

/// An answer in the rubric's shape: 4 for every dimension but causal
/// linking (3.5).
fn rubric_answer() -> String {
    let scores: serde_json::Map<String, Value> = RUBRIC
        .iter()
        .map(|d| {
            let score = if d.key == "causal_linking" { 3.5 } else { 4.0 };
            (d.key.to_owned(), json!(score))
        })
        .collect();
    let reasons: serde_json::Map<String, Value> = RUBRIC
        .iter()
        .map(|d| (d.key.to_owned(), json!(format!("[3] shows {}", d.title))))
        .collect();
    json!({"reasons": reasons, "scores": scores}).to_string()
}

/// An answer missing `efficiency` and scoring safety 9.
fn malformed_answer() -> String {
    let mut answer: Value = serde_json::from_str(&rubric_answer()).unwrap();
    answer["scores"]
        .as_object_mut()
        .unwrap()
        .remove("efficiency");
    answer["scores"]["safety_hygiene"] = json!(9);
    answer.to_string()
}

fn status(code: u16, message: &str) -> Answer {
    let body = json!({"error": {"message": message, "type": "test"}}).to_string();
    (code, Vec::new(), body)
}

fn verified() -> Validation {
    Validation {
        tests_passed: true,
        verdict: Verdict::Verified,
        runner: "sandbox (bwrap)".into(),
        framework: "pytest".into(),
        counts: None,
        duration_s: 0.4,
        exit_code: Some(0),
        killed_by: None,
        reason: None,
        log: None,
    }
}

#[test]
fn a_valid_answer_is_recorded_with_its_usage_and_cost() {
    let fake = Fake::start(vec![completion(&rubric_answer(), 1200, 300)]);
    let judgement = fake
        .judge(3)
        .judge(&example("simple"), Some(&verified()))
        .unwrap();

    assert_eq!(judgement.judge, "openai");
    assert_eq!(judgement.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(judgement.error, None);
    assert_eq!(judgement.attempts, 1);
    assert_eq!(judgement.scores["causal_linking"], 3.5);
    assert_eq!(judgement.scores["efficiency"], 4.0);
    assert_eq!(
        judgement.reasons["experiment_design"],
        "[3] shows Experiment design"
    );
    // 4 − 0.25 × 0.5
    assert_eq!(judgement.overall, Some(3.88));
    let usage = judgement.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1200, 300));
    // 1200 × 0.15 / 1e6 + 300 × 0.60 / 1e6
    assert!(
        (usage.cost_usd.unwrap() - 0.000_36).abs() < 1e-12,
        "{usage:?}"
    );

    let received = fake.received.lock().unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.headers["authorization"],
        "Bearer sk-test-0123456789"
    );
    let body = &request.body;
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["temperature"], 0.0);
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "rubric");
    assert_eq!(format["json_schema"]["strict"], true);
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["required"], json!(["reasons", "scores"]));
    assert_eq!(
        schema["properties"]["scores"]["required"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let system = body["messages"][0]["content"].as_str().unwrap();
    for dimension in &RUBRIC {
        assert!(system.contains(dimension.description), "{system}");
    }
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("Task BUG-456"), "{user}");
    assert!(user.contains("edit calculator.py (+1 -1)"), "{user}");
    assert!(user.contains("-    return a + b"), "{user}");
    assert!(
        user.contains("tests passed: yes; verdict: verified"),
        "{user}"
    );
}

#[test]
fn a_malformed_answer_is_asked_again() {
    let fake = Fake::start(vec![
        completion("{\"scores\": ", 1000, 5),
        completion(&rubric_answer(), 1000, 200),
    ]);
    let judgement = fake.judge(3).judge(&example("complex"), None).unwrap();
    assert_eq!(judgement.error, None);
    assert_eq!(judgement.attempts, 2);
    assert_eq!(judgement.scores.len(), 6);
    let usage = judgement.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (2000, 205));
    assert_eq!(fake.requests(), 2);
}

#[test]
fn an_answer_never_in_the_rubrics_shape_is_an_error_without_scores() {
    let fake = Fake::start(vec![completion(&malformed_answer(), 900, 100)]);
    let judgement = fake.judge(3).judge(&example("failed"), None).unwrap();
    let error = judgement.error.as_deref().unwrap();
    assert!(error.contains("after 3 attempts"), "{error}");
    assert!(error.contains("`scores.efficiency` is missing"), "{error}");
    assert!(
        error.contains("`scores.safety_hygiene` is 9, not 0–5"),
        "{error}"
    );
    assert!(judgement.scores.is_empty());
    assert!(judgement.reasons.is_empty());
    assert_eq!(judgement.overall, None);
    assert_eq!(judgement.attempts, 3);
    let usage = judgement.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (2700, 300));
    assert_eq!(fake.requests(), 3);
}

#[test]
fn a_server_error_is_retried() {
    let fake = Fake::start(vec![
        status(500, "the server had an error"),
        completion(&rubric_answer(), 1000, 200),
    ]);
    let judgement = fake.judge(3).judge(&example("simple"), None).unwrap();
    assert_eq!(judgement.error, None);
    assert_eq!(judgement.attempts, 2);
    assert_eq!(judgement.scores.len(), 6);
    // Only the answered request counts tokens.
    assert_eq!(judgement.usage.unwrap().prompt_tokens, 1000);
}

#[test]
fn a_rate_limit_waits_as_long_as_retry_after_says() {
    let limited = (
        429,
        vec![("Retry-After", "1".to_owned())],
        json!({"error": {"message": "slow down"}}).to_string(),
    );
    let fake = Fake::start(vec![limited, completion(&rubric_answer(), 10, 10)]);
    let started = Instant::now();
    let judgement = fake.judge(2).judge(&example("simple"), None).unwrap();
    assert_eq!(judgement.attempts, 2);
    assert!(judgement.error.is_none());
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn a_server_that_keeps_failing_is_an_error_to_retry_later() {
    let fake = Fake::start(vec![status(503, "overloaded")]);
    let error = fake.judge(3).judge(&example("simple"), None).unwrap_err();
    assert!(error.message.contains("failed 3 attempts"), "{error}");
    assert!(error.message.contains("HTTP 503: overloaded"), "{error}");
    assert_eq!(fake.requests(), 3);
}

#[test]
fn a_refused_key_is_recorded_and_not_retried() {
    let fake = Fake::start(vec![status(401, "Incorrect API key provided")]);
    let judgement = fake.judge(3).judge(&example("simple"), None).unwrap();
    let error = judgement.error.as_deref().unwrap();
    assert!(error.starts_with("HTTP 401"), "{error}");
    assert!(error.contains("Incorrect API key provided"), "{error}");
    assert!(!error.contains("sk-test"), "{error}");
    assert!(judgement.scores.is_empty());
    assert_eq!(judgement.attempts, 1);
    assert_eq!(fake.requests(), 1);
}

#[test]
fn no_server_is_an_error_to_retry_later() {
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The listener is closed: connections are refused.
    let config = OpenAiConfig {
        base_url: format!("http://{address}/v1"),
        max_attempts: 2,
        ..OpenAiConfig::default()
    };
    let judge = OpenAiJudge::new(config, "sk-test").unwrap();
    let error = judge.judge(&example("simple"), None).unwrap_err();
    assert!(error.message.contains("failed 2 attempts"), "{error}");
}

#[test]
fn the_prompt_is_capped_and_redacted() {
    let mut trace = example("complex");
    let template = trace.events[10].clone();
    let big_diff = format!(
        "--- a/big.py\n+++ b/big.py\n@@ -1,400 +1,400 @@\n{}",
        "+    value = compute(value)  # padding the diff\n".repeat(400)
    );
    for n in 0..40 {
        let mut event = template.clone();
        event.kind = EventKind::FileEdit {
            file_path: format!("big{n}.py"),
            diff_unified: big_diff.clone(),
            buffer_hash_after: "0".repeat(64),
        };
        trace.events.push(event);
    }
    let mut command = template;
    command.kind = EventKind::CmdRun {
        command: "cat /home/ana/.netrc".into(),
        exit_code: 0,
        duration_s: 0.1,
        output: None,
    };
    trace.events.insert(1, command);

    let fake = Fake::start(vec![completion(&rubric_answer(), 10, 10)]);
    fake.judge(1).judge(&trace, None).unwrap();
    let received = fake.received.lock().unwrap();
    let user = received[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user.len() <= MAX_PROMPT_BYTES, "{} bytes", user.len());
    assert!(user.contains("events left out to fit the prompt"), "{user}");
    assert!(user.contains("command `cat [path]`"), "{user}");
    assert!(!user.contains("/home/ana"), "{user}");
    assert!(user.contains("more bytes]"), "a long diff is cut: {user}");
}

//! A generated interaction log for benchmarks, examples and the
//! documentation: realistic records of four modules and eight signatures,
//! with nested inputs, about 10% failures, 5% exact duplicates, a few
//! duplicates only canonical JSON or redaction can see (`1.0` against `1`,
//! two addresses that both redact to `[email]`), some slow or expensive
//! calls, personal data in some inputs, and a few malformed lines.
//!
//! The same [`Simulation`] always writes the same bytes.

use std::io::{self, Write};

use serde_json::{Value, json};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// Stop once this many bytes are written.
    pub bytes: u64,
    /// The seed of the generator.
    pub seed: u64,
    /// The first record's `timestamp_ms`; each next one is 1–2000 ms later.
    pub start_ms: u64,
    /// One line in this many is malformed (0: none).
    pub malformed_every: u64,
}

impl Default for Simulation {
    fn default() -> Self {
        Self {
            bytes: 10 * 1024 * 1024,
            seed: 42,
            start_ms: 1_764_547_200_000,
            malformed_every: 100_000,
        }
    }
}

/// What a simulation wrote, by kind of line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Bytes written.
    pub bytes: u64,
    /// Lines written, malformed ones included.
    pub lines: u64,
    /// Malformed lines.
    pub malformed: u64,
    /// Records with `success: false`.
    pub failures: u64,
    /// Records whose input repeats an earlier one byte for byte.
    pub exact_duplicates: u64,
    /// Records whose input repeats an earlier one up to number spelling
    /// (`2.0` for `2`): equal as canonical JSON, not as Python's
    /// `json.dumps(sort_keys=True)`.
    pub number_duplicates: u64,
    /// Records whose input repeats an earlier one but for an e-mail
    /// address: equal once redacted.
    pub redaction_duplicates: u64,
}

const MODULES: [(&str, [&str; 2]); 4] = [
    ("reviewer", ["extract_requirements", "review_change"]),
    ("optimizer", ["discover_skills", "rank_candidates"]),
    ("planner", ["plan_steps", "estimate_effort"]),
    ("extractor", ["extract_entities", "summarize_context"]),
];

const WORDS: [&str; 32] = [
    "authentication",
    "session",
    "token",
    "cache",
    "request",
    "handler",
    "database",
    "migration",
    "index",
    "query",
    "latency",
    "retry",
    "queue",
    "worker",
    "schema",
    "validation",
    "rollback",
    "feature",
    "flag",
    "endpoint",
    "client",
    "server",
    "config",
    "logging",
    "metrics",
    "search",
    "ranking",
    "prompt",
    "context",
    "summary",
    "review",
    "test",
];

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }

    fn words(&mut self, n: u64) -> String {
        (0..n)
            .map(|_| WORDS[usize::try_from(self.below(WORDS.len() as u64)).unwrap_or(0)])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The input of the `n`th distinct call, with `email` planted when given;
/// `attempt` spelled `2.0` rather than `2` when `float_attempt` (JCS reads
/// both as 2).
fn input(rng: &mut Rng, n: u64, email: Option<&str>, float_attempt: bool) -> Value {
    let history: Vec<Value> = (0..=rng.below(4))
        .map(|turn| {
            let words = 12 + rng.below(20);
            json!({
                "role": if turn % 2 == 0 { "user" } else { "assistant" },
                "text": rng.words(words),
            })
        })
        .collect();
    let attempt = rng.below(3) + 1;
    #[allow(clippy::cast_precision_loss)]
    let attempt = if float_attempt {
        json!(attempt as f64)
    } else {
        json!(attempt)
    };
    let mut context = json!({
        "project": format!("service-{}", rng.below(50)),
        "files": (0..=rng.below(3)).map(|_| format!("src/{}.rs", rng.words(1))).collect::<Vec<_>>(),
        "history": history,
    });
    if let Some(email) = email {
        context["reporter"] = json!(format!("reported by {email}"));
    }
    let what = rng.words(2);
    let words = 6 + rng.below(10);
    let intent = format!("Implement {what} #{n}: {}", rng.words(words));
    json!({
        "user_intent": intent,
        "context": context,
        "constraints": (0..rng.below(3)).map(|_| rng.words(4)).collect::<Vec<_>>(),
        "attempt": attempt,
    })
}

/// A distinct call that may be repeated: how to make its input again.
#[derive(Clone, Copy)]
struct Origin {
    state: u64,
    email: Option<&'static str>,
    module: usize,
    signature: usize,
}

impl Origin {
    fn input(self, float_attempt: bool, email: Option<&'static str>) -> Value {
        let mut rng = Rng(self.state);
        let index = rng.next();
        input(&mut rng, index, email, float_attempt)
    }
}

/// The state between records.
struct State {
    rng: Rng,
    /// Recent distinct calls, which duplicates repeat.
    recent: Vec<Origin>,
    /// Calls whose twin (the same input with another address) is due.
    twins: Vec<Origin>,
}

impl State {
    fn pick(&mut self) -> Option<Origin> {
        if self.recent.is_empty() {
            return None;
        }
        let at = usize::try_from(self.rng.below(self.recent.len() as u64)).unwrap_or(0);
        Some(self.recent[at])
    }

    fn remember(&mut self, origin: Origin) {
        if self.recent.len() < 4096 {
            self.recent.push(origin);
        } else {
            let at = usize::try_from(self.rng.below(4096)).unwrap_or(0);
            self.recent[at] = origin;
        }
    }

    fn fresh(&mut self, email: Option<&'static str>) -> Origin {
        Origin {
            state: self.rng.next(),
            email,
            module: usize::try_from(self.rng.below(4)).unwrap_or(0),
            signature: usize::try_from(self.rng.below(2)).unwrap_or(0),
        }
    }
}

impl Simulation {
    /// Writes the log to `out`.
    pub fn write(&self, out: &mut impl Write) -> io::Result<Written> {
        let mut state = State {
            rng: Rng(self.seed),
            recent: Vec::new(),
            twins: Vec::new(),
        };
        let mut written = Written::default();
        let mut timestamp_ms = self.start_ms;
        let mut n = 0u64;
        let mut line = Vec::with_capacity(2048);
        while written.bytes < self.bytes {
            n += 1;
            timestamp_ms += 1 + state.rng.below(2000);
            line.clear();
            if self.malformed_every > 0 && n.is_multiple_of(self.malformed_every) {
                let torn = r#"{"module_name": "reviewer", "module_version": "baseline", "signa"#;
                line.extend_from_slice(torn.as_bytes());
                written.malformed += 1;
            } else {
                let record = record(&mut state, timestamp_ms, &mut written);
                serde_json::to_writer(&mut line, &record)?;
            }
            line.push(b'\n');
            out.write_all(&line)?;
            written.bytes += line.len() as u64;
            written.lines += 1;
        }
        Ok(written)
    }
}

fn record(state: &mut State, timestamp_ms: u64, written: &mut Written) -> Value {
    let roll = state.rng.below(1000);
    let (origin, input) = match roll {
        0..50 if !state.recent.is_empty() => {
            written.exact_duplicates += 1;
            let origin = state.pick().unwrap_or_else(|| state.fresh(None));
            (origin, origin.input(false, origin.email))
        }
        50..60 if !state.recent.is_empty() => {
            written.number_duplicates += 1;
            let origin = state.pick().unwrap_or_else(|| state.fresh(None));
            (origin, origin.input(true, origin.email))
        }
        60..65 => {
            let origin = state.fresh(Some("jane.doe@example.com"));
            state.twins.push(origin);
            (origin, origin.input(false, origin.email))
        }
        65..70 if !state.twins.is_empty() => {
            written.redaction_duplicates += 1;
            let origin = state.twins.pop().unwrap_or_else(|| state.fresh(None));
            (origin, origin.input(false, Some("john.roe@example.org")))
        }
        _ => {
            let email = (roll >= 970).then_some("sam.smith@example.net");
            let origin = state.fresh(email);
            state.remember(origin);
            (origin, origin.input(false, origin.email))
        }
    };
    let rng = &mut state.rng;
    let (module, signatures) = MODULES[origin.module];
    let success = rng.below(10) != 0;
    if !success {
        written.failures += 1;
    }
    // Mostly 100–2000 ms, a tail past 5 s.
    let latency_ms = if rng.below(50) == 0 {
        5_000 + rng.below(20_000)
    } else {
        100 + rng.below(1_900)
    };
    let tokens = 50 + rng.below(3_000);
    #[allow(clippy::cast_precision_loss)]
    let cost_usd = (tokens as f64) * 0.000_015 * if rng.below(100) == 0 { 10.0 } else { 1.0 };
    let scored = rng.below(4) == 0;
    let mut record = json!({
        "module_name": module,
        "module_version": if rng.below(3) == 0 { "optimized_v1" } else { "baseline" },
        "signature": signatures[origin.signature],
        "input": input,
        "output": if success {
            json!({
                "requirements": (0..=rng.below(4)).map(|_| rng.words(3)).collect::<Vec<_>>(),
                "confidence": (rng.unit() * 100.0).round() / 100.0,
            })
        } else {
            json!({})
        },
        "timestamp_ms": timestamp_ms,
        "latency_ms": latency_ms,
        "tokens": tokens,
        "cost_usd": cost_usd,
        "model": if rng.below(2) == 0 { "claude-haiku-4-5" } else { "gpt-4o-mini" },
        "success": success,
        "error": if success { Value::Null } else { json!("upstream timeout after 30 s") },
    });
    if scored {
        record["quality_score"] = json!((50.0 + rng.unit() * 50.0).round() / 100.0);
    }
    record
}

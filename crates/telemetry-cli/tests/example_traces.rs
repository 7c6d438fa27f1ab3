//! The three example sessions under `examples/traces/`, built here event
//! by event and sealed with `telemetry_trace::seal`.
//!
//! `cargo test -p telemetry-cli --test example_traces` checks that the
//! committed files are exactly what this file builds, that every chunk is
//! valid, redacted and sealed across the whole session, and that every
//! artifact an event references is there. After changing a session:
//!
//! ```text
//! TELEMETRY_UPDATE_FIXTURES=1 cargo test -p telemetry-cli --test example_traces
//! ```
//!
//! The sessions are the reference design's: `simple` (a wrong operator in a
//! calculator, one file, 10 events in 3 chunks, 65 s), `complex` (a
//! discount applied twice across three files, with hypotheses tested one by
//! one, 24 events in 4 chunks, 230 s) and `failed` (a refresh-token bug not
//! fixed, two files, 16 events in 3 chunks, 150 s, no commit).

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::too_many_lines,
    reason = "fixture scripts: small numbers, and a session reads best as one function"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use telemetry_runtime::guard;
use telemetry_trace::wire::CreateTrace;
use telemetry_trace::{
    ArtifactRef, Chunk, Environment, Event, EventKind, Metrics, RationaleKind, seal, verify_chain,
};

/// One session as it is built.
struct Session {
    name: &'static str,
    create: CreateTrace,
    start: f64,
    files: BTreeMap<&'static str, String>,
    events: Vec<Event>,
    /// File name in `artifacts/` → bytes.
    artifacts: BTreeMap<String, Vec<u8>>,
    chunk_sizes: &'static [usize],
}

/// A test in a pytest run: class, name, and the failure (message, the
/// traceback pytest prints) when it failed.
struct Case {
    file: &'static str,
    name: &'static str,
    failure: Option<(&'static str, &'static str)>,
}

fn pass(file: &'static str, name: &'static str) -> Case {
    Case {
        file,
        name,
        failure: None,
    }
}

fn fail(
    file: &'static str,
    name: &'static str,
    message: &'static str,
    traceback: &'static str,
) -> Case {
    Case {
        file,
        name,
        failure: Some((message, traceback)),
    }
}

impl Session {
    fn new(
        name: &'static str,
        participant: &str,
        task: (&str, &str, &str),
        repo: &str,
        start: f64,
        chunk_sizes: &'static [usize],
    ) -> Self {
        let mut toolchains = BTreeMap::new();
        toolchains.insert("python_version".to_owned(), "3.11.6".to_owned());
        toolchains.insert("pytest_version".to_owned(), "7.4.2".to_owned());
        Self {
            name,
            create: CreateTrace {
                participant_id: participant.to_owned(),
                consent: true,
                task_id: task.0.to_owned(),
                task_title: task.1.to_owned(),
                task_description: Some(task.2.to_owned()),
                repo_origin: repo.to_owned(),
                start_commit: sha1_like(&format!("{name} start")),
                environment: Environment {
                    os: Some("linux".to_owned()),
                    toolchains,
                },
            },
            start,
            files: BTreeMap::new(),
            events: Vec::new(),
            artifacts: BTreeMap::new(),
            chunk_sizes,
        }
    }

    fn file(mut self, path: &'static str, content: &str) -> Self {
        self.files.insert(path, content.to_owned());
        self
    }

    fn push(&mut self, at: f64, kind: EventKind) {
        let seq = self.events.len() as u64;
        let mut event = Event {
            id: format!("evt-{seq:03}"),
            seq,
            ts_client_s: self.start + at,
            ts_server_s: None,
            redactions: 0,
            server_redactions: 0,
            prev_hash: String::new(),
            hash: String::new(),
            kind,
        };
        event.redact();
        self.events.push(event);
    }

    fn note(&mut self, at: f64, kind: RationaleKind, text: &str) {
        self.push(
            at,
            EventKind::RationaleNote {
                kind,
                text: text.to_owned(),
            },
        );
    }

    /// Keeps `text`, redacted as the client redacts it, as an artifact.
    fn artifact(&mut self, label: &str, text: &str, media_type: &str) -> ArtifactRef {
        let redacted = guard::redact(text).text.into_owned();
        let name = format!("{:03}-{label}", self.events.len());
        let artifact = ArtifactRef::for_bytes(redacted.as_bytes(), Some(media_type));
        self.artifacts.insert(name, redacted.into_bytes());
        artifact
    }

    fn edit(&mut self, at: f64, path: &'static str, after: &str) {
        let before = self.files.get(path).cloned().unwrap_or_default();
        let diff = similar::TextDiff::from_lines(before.as_str(), after)
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string();
        self.files.insert(path, after.to_owned());
        self.push(
            at,
            EventKind::FileEdit {
                file_path: path.to_owned(),
                diff_unified: diff,
                buffer_hash_after: format!("sha256:{}", hex::encode(Sha256::digest(after))),
            },
        );
    }

    fn cmd(&mut self, at: f64, command: &str, exit_code: i32, duration_s: f64, output: &str) {
        let output = self.artifact("output.txt", output, "text/plain");
        self.push(
            at,
            EventKind::CmdRun {
                command: command.to_owned(),
                exit_code,
                duration_s,
                output: Some(output),
            },
        );
    }

    fn pytest(&mut self, at: f64, duration_s: f64, cases: &[Case]) {
        let failed = cases.iter().filter(|case| case.failure.is_some()).count();
        let xml = junit(cases, duration_s, self.start + at);
        let report = self.artifact("pytest-report.xml", &xml, "application/junit+xml");
        self.push(
            at,
            EventKind::TestRun {
                framework: "pytest".to_owned(),
                passed: u32::try_from(cases.len() - failed).unwrap(),
                failed: u32::try_from(failed).unwrap(),
                errors: 0,
                duration_s: Some(duration_s),
                report: Some(report),
            },
        );
    }

    fn commit(&mut self, at: f64, message: &str, diff: &str) {
        let diff = self.artifact("commit.diff", diff, "text/x-diff");
        self.push(
            at,
            EventKind::Commit {
                sha: sha1_like(&format!("{} {message}", self.name)),
                message: message.to_owned(),
                diff: Some(diff),
            },
        );
    }

    /// Every file's diff since the start, for `git diff` and commits.
    fn diff_since(&self, start: &BTreeMap<&'static str, String>) -> String {
        let mut out = String::new();
        for (path, after) in &self.files {
            let before = start.get(path).cloned().unwrap_or_default();
            if before == *after {
                continue;
            }
            let _ = writeln!(out, "diff --git a/{path} b/{path}");
            out.push_str(
                &similar::TextDiff::from_lines(before.as_str(), after)
                    .unified_diff()
                    .header(&format!("a/{path}"), &format!("b/{path}"))
                    .to_string(),
            );
        }
        out
    }

    /// The session's files: `trace.json`, `chunks/NNN.json`, `artifacts/*`.
    fn files(mut self) -> BTreeMap<PathBuf, Vec<u8>> {
        seal(&mut self.events);
        assert_eq!(
            self.chunk_sizes.iter().sum::<usize>(),
            self.events.len(),
            "{}: chunk sizes",
            self.name
        );
        let mut files = BTreeMap::new();
        files.insert(PathBuf::from("trace.json"), pretty(&self.create));
        let mut events = self.events.into_iter();
        for (chunk_seq, size) in self.chunk_sizes.iter().enumerate() {
            let chunk = Chunk {
                chunk_id: format!("chunk-{chunk_seq:03}"),
                chunk_seq: chunk_seq as u64,
                events: events.by_ref().take(*size).collect(),
            };
            files.insert(
                PathBuf::from(format!("chunks/{chunk_seq:03}.json")),
                pretty(&chunk),
            );
        }
        for (name, bytes) in self.artifacts {
            files.insert(Path::new("artifacts").join(name), bytes);
        }
        files
    }
}

fn pretty(value: &impl serde::Serialize) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(value).unwrap();
    json.push(b'\n');
    json
}

/// A stable 40-digit commit id for `seed`.
fn sha1_like(seed: &str) -> String {
    hex::encode(Sha256::digest(seed))[..40].to_owned()
}

fn junit(cases: &[Case], duration_s: f64, at: f64) -> String {
    let failures = cases.iter().filter(|case| case.failure.is_some()).count();
    let stamp = time::OffsetDateTime::from_unix_timestamp(at as i64).unwrap();
    let stamp = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000000",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><testsuites><testsuite name=\"pytest\" errors=\"0\" failures=\"{failures}\" skipped=\"0\" tests=\"{}\" time=\"{duration_s:.3}\" timestamp=\"{stamp}\" hostname=\"devbox\">",
        cases.len()
    );
    let per_case = duration_s / cases.len() as f64;
    for case in cases {
        let class = case.file.trim_end_matches(".py").replace('/', ".");
        let _ = write!(
            xml,
            "<testcase classname=\"{class}\" name=\"{}\" time=\"{per_case:.3}\"",
            case.name
        );
        match case.failure {
            None => xml.push_str(" />"),
            Some((message, traceback)) => {
                let _ = write!(
                    xml,
                    "><failure message=\"{}\">{}</failure></testcase>",
                    escape(message),
                    escape(traceback)
                );
            }
        }
    }
    xml.push_str("</testsuite></testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// pytest's console output for `cases` (`-q` off, the default).
fn pytest_output(root: &str, cases: &[Case], duration_s: f64, verbose: bool) -> String {
    let mut out = banner("test session starts", '=');
    out.push_str("platform linux -- Python 3.11.6, pytest-7.4.2, pluggy-1.3.0\n");
    let _ = writeln!(out, "rootdir: {root}");
    let _ = writeln!(out, "collected {} items\n", cases.len());
    if verbose {
        for (index, case) in cases.iter().enumerate() {
            let outcome = if case.failure.is_some() {
                "FAILED"
            } else {
                "PASSED"
            };
            let percent = (index + 1) * 100 / cases.len();
            let line = format!("{}::{} {outcome}", case.file, case.name);
            let _ = writeln!(out, "{line:<73}[{percent:>3}%]");
        }
    } else {
        let mut by_file: Vec<(&str, String)> = Vec::new();
        for case in cases {
            let mark = if case.failure.is_some() { 'F' } else { '.' };
            match by_file.last_mut() {
                Some((file, marks)) if *file == case.file => marks.push(mark),
                _ => by_file.push((case.file, mark.to_string())),
            }
        }
        let mut done = 0;
        for (file, marks) in by_file {
            done += marks.len();
            let percent = done * 100 / cases.len();
            let line = format!("{file} {marks}");
            let _ = writeln!(out, "{line:<73}[{percent:>3}%]");
        }
    }
    let failed: Vec<&Case> = cases.iter().filter(|case| case.failure.is_some()).collect();
    if !failed.is_empty() {
        out.push('\n');
        out.push_str(&banner("FAILURES", '='));
        for case in &failed {
            out.push_str(&banner(case.name, '_'));
            out.push('\n');
            out.push_str(
                case.failure
                    .map(|(_, traceback)| traceback)
                    .unwrap_or_default(),
            );
            out.push('\n');
        }
        out.push_str(&banner("short test summary info", '='));
        for case in &failed {
            let message = case.failure.map(|(message, _)| message).unwrap_or_default();
            let _ = writeln!(out, "FAILED {}::{} - {message}", case.file, case.name);
        }
    }
    let passed = cases.len() - failed.len();
    let summary = match (failed.len(), passed) {
        (0, passed) => format!("{passed} passed in {duration_s:.2}s"),
        (failed, 0) => format!("{failed} failed in {duration_s:.2}s"),
        (failed, passed) => format!("{failed} failed, {passed} passed in {duration_s:.2}s"),
    };
    out.push_str(&banner(&summary, '='));
    out
}

fn banner(text: &str, fill: char) -> String {
    let text = format!(" {text} ");
    let left = (80 - text.len()) / 2;
    let right = 80 - text.len() - left;
    format!(
        "{}{text}{}\n",
        fill.to_string().repeat(left),
        fill.to_string().repeat(right)
    )
}

// ---------------------------------------------------------------- simple

const CALC_BEFORE: &str = r#""""A small calculator used by the billing scripts."""


def add(a, b):
    return a + b


def subtract(a, b):
    return a + b


def multiply(a, b):
    return a * b


def divide(a, b):
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return a / b
"#;

const SUBTRACT_FAILURE: &str = "    def test_subtract():
>       assert subtract(5, 3) == 2
E       assert 8 == 2
E        +  where 8 = subtract(5, 3)

tests/test_calculator.py:12: AssertionError";

fn calculator_cases(fixed: bool) -> Vec<Case> {
    let file = "tests/test_calculator.py";
    vec![
        pass(file, "test_add"),
        if fixed {
            pass(file, "test_subtract")
        } else {
            fail(file, "test_subtract", "assert 8 == 2", SUBTRACT_FAILURE)
        },
        pass(file, "test_multiply"),
        pass(file, "test_divide"),
    ]
}

fn simple() -> Session {
    let mut s = Session::new(
        "simple",
        "p-7f3a9c2e41d8",
        (
            "BUG-456",
            "Fix calculator bug: subtract returns the sum",
            "calculator.subtract(5, 3) returns 8; the invoices that use it show wrong balances.",
        ),
        "https://github.com/example/calculator",
        1_696_435_200.0,
        &[4, 3, 3],
    )
    .file("calculator.py", CALC_BEFORE);
    let start = s.files.clone();
    s.note(
        0.0,
        RationaleKind::Plan,
        "Run the test suite to see the failure, then fix subtract in calculator.py.",
    );
    s.pytest(8.0, 0.03, &calculator_cases(false));
    s.note(
        14.0,
        RationaleKind::Observation,
        "test_subtract fails: subtract(5, 3) returns 8, so it adds instead of subtracting.",
    );
    s.edit(
        25.0,
        "calculator.py",
        &CALC_BEFORE.replace(
            "def subtract(a, b):\n    return a + b",
            "def subtract(a, b):\n    return a - b",
        ),
    );
    s.pytest(33.0, 0.02, &calculator_cases(true));
    let diff = s.diff_since(&start);
    s.cmd(
        40.0,
        "git diff --stat",
        0,
        0.04,
        " calculator.py | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n",
    );
    s.note(
        45.0,
        RationaleKind::Decision,
        "All four tests pass; commit the one-line fix.",
    );
    s.cmd(50.0, "git add calculator.py", 0, 0.02, "");
    s.commit(
        58.0,
        "Fix subtract: use - instead of +\n\nFixes BUG-456.",
        &diff,
    );
    s.note(65.0, RationaleKind::NextStep, "Done; open a pull request.");
    s
}

// ---------------------------------------------------------------- complex

const PRICING_BEFORE: &str = r#""""Order totals for the shop's cart."""

from cart.discounts import apply_discount, cap_discount


def line_total(line, discount):
    """The price of one line, after the order's discount."""
    price = line["unit_price"] * line["quantity"]
    return apply_discount(price, discount)


def order_total(lines, discount):
    subtotal = sum(line_total(line, discount) for line in lines)
    discounted = apply_discount(subtotal, cap_discount(discount, subtotal))
    return round(discounted, 2)
"#;

const PRICING_AFTER: &str = r#""""Order totals for the shop's cart."""

from cart.discounts import apply_discount, cap_discount


def line_total(line):
    """The price of one line, before any discount."""
    return line["unit_price"] * line["quantity"]


def order_total(lines, discount):
    """The order's total: the discount applies once, to the subtotal."""
    subtotal = sum(line_total(line) for line in lines)
    discounted = apply_discount(subtotal, cap_discount(discount, subtotal))
    return round(discounted, 2)
"#;

const DISCOUNTS_BEFORE: &str = r#""""Discounts: a percentage, capped at an amount."""

MAX_DISCOUNT = 50.0


def apply_discount(amount, discount):
    return amount * (1 - discount["percent"] / 100)


def cap_discount(discount, amount):
    """The discount, its percentage lowered so that it saves at most MAX_DISCOUNT."""
    saving = amount * discount["percent"] / 100
    if saving <= MAX_DISCOUNT:
        return discount
    return {"percent": MAX_DISCOUNT / saving * discount["percent"]}
"#;

const DISCOUNTS_AFTER: &str = r#""""Discounts: a percentage, capped at an amount."""

MAX_DISCOUNT = 50.0


def apply_discount(amount, discount):
    return amount * (1 - discount["percent"] / 100)


def cap_discount(discount, subtotal):
    """The discount, its percentage lowered so that it saves at most MAX_DISCOUNT
    on the order's subtotal (before any discount)."""
    saving = subtotal * discount["percent"] / 100
    if saving <= MAX_DISCOUNT:
        return discount
    return {"percent": MAX_DISCOUNT * 100 / subtotal}
"#;

const TEST_PRICING_BEFORE: &str = r#"from cart.pricing import line_total, order_total

TEN = {"percent": 10}
LINES = [{"unit_price": 25.0, "quantity": 4}]


def test_line_total():
    assert line_total({"unit_price": 2.5, "quantity": 2}) == 5.0


def test_order_total_without_discount():
    assert order_total(LINES, {"percent": 0}) == 100.0


def test_order_total_with_discount():
    assert order_total(LINES, TEN) == 90.0


def test_discount_is_capped():
    big = [{"unit_price": 100.0, "quantity": 10}]
    assert order_total(big, TEN) == 950.0
"#;

const TEST_PRICING_AFTER: &str = r#"from cart.pricing import line_total, order_total

TEN = {"percent": 10}
LINES = [{"unit_price": 25.0, "quantity": 4}]


def test_line_total():
    assert line_total({"unit_price": 2.5, "quantity": 2}) == 5.0


def test_order_total_without_discount():
    assert order_total(LINES, {"percent": 0}) == 100.0


def test_order_total_with_discount():
    assert order_total(LINES, TEN) == 90.0


def test_discount_is_capped():
    big = [{"unit_price": 100.0, "quantity": 10}]
    assert order_total(big, TEN) == 950.0


def test_discount_applies_once_across_lines():
    # BUG-1289: the discount was applied to each line and again to the sum.
    lines = [{"unit_price": 10.0, "quantity": 1}, {"unit_price": 30.0, "quantity": 3}]
    assert order_total(lines, TEN) == 90.0
"#;

const DISCOUNT_TWICE: &str = "    def test_order_total_with_discount():
>       assert order_total(LINES, TEN) == 90.0
E       assert 81.0 == 90.0
E        +  where 81.0 = order_total([{'quantity': 4, 'unit_price': 25.0}], {'percent': 10})

tests/test_pricing.py:16: AssertionError";

const CAPPED_TWICE: &str = "    def test_discount_is_capped():
        big = [{\"unit_price\": 100.0, \"quantity\": 10}]
>       assert order_total(big, TEN) == 950.0
E       assert 855.0 == 950.0
E        +  where 855.0 = order_total([{'quantity': 10, 'unit_price': 100.0}], {'percent': 10})

tests/test_pricing.py:21: AssertionError";

const CAP_WRONG: &str = "    def test_discount_is_capped():
        big = [{\"unit_price\": 100.0, \"quantity\": 10}]
>       assert order_total(big, TEN) == 950.0
E       assert 955.0 == 950.0
E        +  where 955.0 = order_total([{'quantity': 10, 'unit_price': 100.0}], {'percent': 10})

tests/test_pricing.py:21: AssertionError";

fn pricing_cases(
    failures: &[(&'static str, &'static str, &'static str)],
    regression: bool,
) -> Vec<Case> {
    let file = "tests/test_pricing.py";
    let mut names = vec![
        "test_line_total",
        "test_order_total_without_discount",
        "test_order_total_with_discount",
        "test_discount_is_capped",
    ];
    if regression {
        names.push("test_discount_applies_once_across_lines");
    }
    let mut cases: Vec<Case> = names
        .into_iter()
        .map(
            |name| match failures.iter().find(|(failed, ..)| *failed == name) {
                Some((_, message, traceback)) => fail(file, name, message, traceback),
                None => pass(file, name),
            },
        )
        .collect();
    let other = "tests/test_checkout.py";
    cases.push(pass(other, "test_checkout_requires_lines"));
    cases.push(pass(other, "test_checkout_charges_order_total"));
    cases.push(pass(other, "test_checkout_receipt_lists_lines"));
    cases.push(pass(other, "test_checkout_rejects_negative_quantity"));
    cases
}

fn complex() -> Session {
    let mut s = Session::new(
        "complex",
        "p-2b91e0c4f7a3",
        (
            "BUG-1289",
            "Order totals are too low when a discount applies",
            "Customers with a 10% coupon are charged 81.00 for a 100.00 order. Finance noticed in the weekly reconciliation.",
        ),
        "https://github.com/example/shop",
        1_696_521_600.0,
        &[6, 6, 6, 6],
    )
    .file("cart/pricing.py", PRICING_BEFORE)
    .file("cart/discounts.py", DISCOUNTS_BEFORE)
    .file("tests/test_pricing.py", TEST_PRICING_BEFORE);
    let start = s.files.clone();
    s.note(
        0.0,
        RationaleKind::Plan,
        "Reproduce with the pricing tests, find where the 10% turns into 19%, fix it at the source, and add a regression test for an order of several lines.",
    );
    s.pytest(
        10.0,
        0.41,
        &pricing_cases(
            &[
                (
                    "test_order_total_with_discount",
                    "assert 81.0 == 90.0",
                    DISCOUNT_TWICE,
                ),
                (
                    "test_discount_is_capped",
                    "assert 855.0 == 950.0",
                    CAPPED_TWICE,
                ),
            ],
            false,
        ),
    );
    s.note(
        18.0,
        RationaleKind::Observation,
        "Two failures: 81.0 instead of 90.0 and 855.0 instead of 950.0. 81 is 100 × 0.9 × 0.9, so the discount looks applied twice; the checkout tests pass because they mock order_total.",
    );
    s.note(
        25.0,
        RationaleKind::Hypothesis,
        "Either apply_discount compounds on its own, or order_total applies the discount to amounts that already carry it.",
    );
    s.cmd(
        35.0,
        "python -c \"from cart.discounts import apply_discount; print(apply_discount(100.0, {'percent': 10}))\"",
        0,
        0.08,
        "90.0\n",
    );
    s.note(
        42.0,
        RationaleKind::Observation,
        "apply_discount(100, 10%) is 90.0: correct on its own, so the first hypothesis is wrong.",
    );
    s.note(
        50.0,
        RationaleKind::Hypothesis,
        "order_total sums line_total, which already applies the discount, then applies it again to the sum.",
    );
    s.cmd(
        60.0,
        "grep -rn apply_discount cart/",
        0,
        0.01,
        "cart/discounts.py:6:def apply_discount(amount, discount):\ncart/pricing.py:3:from cart.discounts import apply_discount, cap_discount\ncart/pricing.py:9:    return apply_discount(price, discount)\ncart/pricing.py:14:    discounted = apply_discount(subtotal, cap_discount(discount, subtotal))\n",
    );
    s.note(
        66.0,
        RationaleKind::Observation,
        "Confirmed: pricing.py applies the discount on line 9 (per line) and on line 14 (on the sum). The cap on line 14 also sees an already discounted subtotal.",
    );
    s.note(
        75.0,
        RationaleKind::Decision,
        "line_total returns the undiscounted price and the discount applies once, in order_total. Keeping it in line_total instead would need the cap per line, which finance does not want.",
    );
    s.edit(90.0, "cart/pricing.py", PRICING_AFTER);
    s.pytest(
        100.0,
        0.39,
        &pricing_cases(
            &[(
                "test_discount_is_capped",
                "assert 955.0 == 950.0",
                CAP_WRONG,
            )],
            false,
        ),
    );
    s.note(
        108.0,
        RationaleKind::Observation,
        "The double discount is gone (90.0 passes), but the capped order now totals 955.0: the saving is 45, not the 50 cap.",
    );
    s.note(
        115.0,
        RationaleKind::Hypothesis,
        "cap_discount scales the percentage by MAX_DISCOUNT / saving, which only worked while it saw the discounted amount; it should aim for MAX_DISCOUNT on the undiscounted subtotal.",
    );
    s.edit(135.0, "cart/discounts.py", DISCOUNTS_AFTER);
    s.pytest(145.0, 0.38, &pricing_cases(&[], false));
    s.note(
        150.0,
        RationaleKind::Decision,
        "All eight tests pass. Add a regression test with several lines, the case the coupon report showed, so that a per-line discount cannot come back.",
    );
    s.edit(170.0, "tests/test_pricing.py", TEST_PRICING_AFTER);
    s.pytest(180.0, 0.40, &pricing_cases(&[], true));
    let diff = s.diff_since(&start);
    s.cmd(
        190.0,
        "git diff --stat",
        0,
        0.03,
        " cart/discounts.py     |  9 +++++----\n cart/pricing.py       | 10 +++++-----\n tests/test_pricing.py |  6 ++++++\n 3 files changed, 16 insertions(+), 9 deletions(-)\n",
    );
    s.note(
        198.0,
        RationaleKind::Observation,
        "Three files changed, as intended: the fix in pricing.py, the cap in discounts.py, the regression test.",
    );
    s.note(
        205.0,
        RationaleKind::Decision,
        "Commit the fix and the test together, so that the test documents the bug.",
    );
    s.commit(
        220.0,
        "Apply the order discount once, to the subtotal\n\nline_total applied the discount per line and order_total applied it\nagain to the sum, so 10% became 19%. The cap now aims at the\nundiscounted subtotal. Adds a regression test with several lines.\n\nFixes BUG-1289.",
        &diff,
    );
    s.note(
        230.0,
        RationaleKind::NextStep,
        "Check the refunds report, which reads line_total: it must now apply the discount itself. Ticket filed for finance.",
    );
    s
}

// ---------------------------------------------------------------- failed

const TOKENS_BEFORE: &str = r#""""Access and refresh tokens."""

import time

ACCESS_TTL = 15 * 60
REFRESH_TTL = 7 * 24 * 3600


def is_expired(token, now=None):
    now = time.time() if now is None else now
    return now - token["issued_at"] > token["ttl"]


def refresh(session, refresh_token):
    if is_expired(refresh_token):
        raise PermissionError("refresh token expired")
    return session.issue_access_token()
"#;

const TOKENS_WRONG: &str = r#""""Access and refresh tokens."""

import time

ACCESS_TTL = 15 * 60
REFRESH_TTL = 7 * 24 * 3600


def is_expired(token, now=None):
    now = time.time() if now is None else now
    return now - token["issued_at"] > token["ttl"] * 1000


def refresh(session, refresh_token):
    if is_expired(refresh_token):
        raise PermissionError("refresh token expired")
    return session.issue_access_token()
"#;

const SESSION_BEFORE: &str = r#""""Login sessions."""

import time

from auth.tokens import ACCESS_TTL


class Session:
    def __init__(self, user_id, clock=time.time):
        self.user_id = user_id
        self.clock = clock
        self.started_at = clock()

    def issue_access_token(self):
        return {"user_id": self.user_id, "issued_at": self.started_at, "ttl": ACCESS_TTL}
"#;

const SESSION_AFTER: &str = r#""""Login sessions."""

import time

from auth.tokens import ACCESS_TTL


class Session:
    def __init__(self, user_id, clock=time.time):
        self.user_id = user_id
        self.clock = clock
        self.started_at = clock()

    def issue_access_token(self):
        return {"user_id": self.user_id, "issued_at": self.clock(), "ttl": ACCESS_TTL}
"#;

const REFRESH_REJECTED: &str = "    def test_refresh_token_accepted(session, refresh_token):
>       token = refresh(session, refresh_token)

tests/test_auth.py:31:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

session = <auth.session.Session object at 0x7f2c1a0b3d90>
refresh_token = {'issued_at': 1696608300.0, 'ttl': 604800}

    def refresh(session, refresh_token):
        if is_expired(refresh_token):
>           raise PermissionError(\"refresh token expired\")
E           PermissionError: refresh token expired

auth/tokens.py:16: PermissionError";

const EXPIRED_ACCEPTED: &str = "    def test_expired_token_rejected(session, old_refresh_token):
>       with pytest.raises(PermissionError):
E       Failed: DID NOT RAISE <class 'PermissionError'>

tests/test_auth.py:38: Failed";

fn auth_cases(failures: &[(&'static str, &'static str, &'static str)]) -> Vec<Case> {
    let file = "tests/test_auth.py";
    [
        "test_login_issues_access_token",
        "test_access_token_expires",
        "test_refresh_token_accepted",
        "test_expired_token_rejected",
        "test_logout_revokes_refresh_token",
    ]
    .into_iter()
    .map(
        |name| match failures.iter().find(|(failed, ..)| *failed == name) {
            Some((_, message, traceback)) => fail(file, name, message, traceback),
            None => pass(file, name),
        },
    )
    .collect()
}

fn failed() -> Session {
    let mut s = Session::new(
        "failed",
        "p-c4d81f9a06e2",
        (
            "AUTH-77",
            "Refresh tokens are rejected minutes after login",
            "Users are logged out about five minutes after logging in; the refresh call answers 401 although the refresh token is valid for seven days.",
        ),
        "https://github.com/example/webapp",
        1_696_608_000.0,
        &[6, 5, 5],
    )
    .file("auth/tokens.py", TOKENS_BEFORE)
    .file("auth/session.py", SESSION_BEFORE);
    let refresh_failure = (
        "test_refresh_token_accepted",
        "PermissionError: refresh token expired",
        REFRESH_REJECTED,
    );
    s.note(
        0.0,
        RationaleKind::Plan,
        "Run the auth tests to reproduce the early logout, then look at how refresh checks expiry.",
    );
    s.pytest(9.0, 0.12, &auth_cases(&[refresh_failure]));
    s.note(
        16.0,
        RationaleKind::Observation,
        "test_refresh_token_accepted fails: refresh raises \"refresh token expired\" for a token issued five minutes earlier.",
    );
    s.note(
        24.0,
        RationaleKind::Hypothesis,
        "The ttl is in seconds but issued_at may be in milliseconds, so the comparison is off by 1000.",
    );
    s.edit(40.0, "auth/tokens.py", TOKENS_WRONG);
    s.pytest(
        50.0,
        0.13,
        &auth_cases(&[
            refresh_failure,
            (
                "test_expired_token_rejected",
                "Failed: DID NOT RAISE <class 'PermissionError'>",
                EXPIRED_ACCEPTED,
            ),
        ]),
    );
    s.note(
        58.0,
        RationaleKind::Observation,
        "Worse: refresh still fails, and now an expired token is accepted. issued_at is in seconds after all; the hypothesis was wrong.",
    );
    s.note(
        66.0,
        RationaleKind::Decision,
        "Revert the change to tokens.py before trying anything else.",
    );
    s.edit(75.0, "auth/tokens.py", TOKENS_BEFORE);
    s.note(
        85.0,
        RationaleKind::Hypothesis,
        "issue_access_token stamps tokens with the session's start time, so a token issued later looks older than it is.",
    );
    s.edit(100.0, "auth/session.py", SESSION_AFTER);
    s.pytest(112.0, 0.12, &auth_cases(&[refresh_failure]));
    let verbose = auth_cases(&[refresh_failure]);
    s.cmd(
        120.0,
        "python -m pytest tests/test_auth.py -vv",
        1,
        0.61,
        &pytest_output("/home/dev/webapp", &verbose, 0.12, true),
    );
    s.note(
        130.0,
        RationaleKind::Observation,
        "The failing token comes from the refresh_token fixture, not from issue_access_token: its issued_at is 1696608300.0, five minutes after the frozen clock of the test, so the session change cannot matter here.",
    );
    s.note(
        140.0,
        RationaleKind::Hypothesis,
        "The fixture builds issued_at from a naive local datetime while is_expired uses time.time(); a time-zone offset would shift it. Not confirmed yet.",
    );
    s.note(
        150.0,
        RationaleKind::NextStep,
        "Out of time. Handing over: revert the session.py change (it fixes nothing), and check the fixture's issued_at against UTC first.",
    );
    s
}

// ---------------------------------------------------------------- checks

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/traces")
}

fn sessions() -> Vec<Session> {
    vec![simple(), complex(), failed()]
}

#[test]
fn the_committed_examples_are_what_this_file_builds() {
    let update = std::env::var_os("TELEMETRY_UPDATE_FIXTURES").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for session in sessions() {
        let dir = root().join(session.name);
        let files = session.files();
        for (path, bytes) in &files {
            let path = dir.join(path);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
            } else if std::fs::read(&path).ok().as_ref() != Some(bytes) {
                stale.push(path.display().to_string());
            }
        }
        // `workspace/` is each example's project after the session, written
        // by hand: the collector's demo runs its tests.
        let workspace = dir.join("workspace");
        let on_disk: Vec<PathBuf> = walk(&dir)
            .into_iter()
            .filter(|path| !path.starts_with(&workspace))
            .collect();
        let expected: Vec<PathBuf> = files.keys().map(|path| dir.join(path)).collect();
        for path in on_disk {
            if expected.contains(&path) {
                continue;
            }
            if update {
                std::fs::remove_file(&path).unwrap();
            } else {
                stale.push(format!("{} (not built here)", path.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "examples/traces is stale; regenerate with\n  TELEMETRY_UPDATE_FIXTURES=1 cargo test -p telemetry-cli --test example_traces\n{}",
        stale.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Reads a committed example: its session, its events in chunk order, its
/// artifacts by SHA-256.
fn read(name: &str) -> (CreateTrace, Vec<Chunk>, BTreeMap<String, Vec<u8>>) {
    let dir = root().join(name);
    let create: CreateTrace =
        serde_json::from_slice(&std::fs::read(dir.join("trace.json")).unwrap()).unwrap();
    let mut chunks = Vec::new();
    for seq in 0.. {
        let Ok(bytes) = std::fs::read(dir.join(format!("chunks/{seq:03}.json"))) else {
            break;
        };
        chunks.push(
            Chunk::from_json(&bytes).unwrap_or_else(|error| panic!("{name} chunk {seq}: {error}")),
        );
    }
    let artifacts = walk(&dir.join("artifacts"))
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(path).unwrap();
            (hex::encode(Sha256::digest(&bytes)), bytes)
        })
        .collect();
    (create, chunks, artifacts)
}

#[test]
fn each_example_is_valid_redacted_sealed_and_has_its_artifacts() {
    // (name, events, chunks, duration, files edited, test runs, commits)
    for (name, events, chunks, duration, files, tests, commits) in [
        ("simple", 10, 3, 65.0, 1, 2, 1),
        ("complex", 24, 4, 230.0, 3, 4, 1),
        ("failed", 16, 3, 150.0, 2, 3, 0),
    ] {
        let (create, read_chunks, artifacts) = read(name);
        create.validate().unwrap();
        assert!(create.consent);
        assert!(create.participant_id.starts_with("p-"), "pseudonymous");
        assert_eq!(read_chunks.len(), chunks, "{name}");
        let all: Vec<Event> = read_chunks.iter().flat_map(|c| c.events.clone()).collect();
        assert_eq!(all.len(), events, "{name}");
        verify_chain(&all).unwrap_or_else(|error| panic!("{name}: {error}"));
        let metrics = Metrics::from_events(&all);
        assert_eq!(metrics.duration_s, duration, "{name}");
        assert_eq!(metrics.num_test_runs, tests, "{name}");
        assert_eq!(metrics.num_commits, commits, "{name}");
        let edited: std::collections::BTreeSet<&str> = all
            .iter()
            .filter_map(|event| match &event.kind {
                EventKind::FileEdit { file_path, .. } => Some(file_path.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(edited.len(), files, "{name}: {edited:?}");
        for event in &all {
            let mut again = event.clone();
            assert_eq!(
                again.redact(),
                0,
                "{name} seq {}: redacted already",
                event.seq
            );
            let references = match &event.kind {
                EventKind::CmdRun { output, .. } => output.iter().collect::<Vec<_>>(),
                EventKind::TestRun { report, .. } => report.iter().collect(),
                EventKind::Commit { diff, .. } => diff.iter().collect(),
                _ => Vec::new(),
            };
            for artifact in references {
                let bytes = artifacts.get(&artifact.sha256).unwrap_or_else(|| {
                    panic!(
                        "{name} seq {}: artifact {} missing",
                        event.seq, artifact.sha256
                    )
                });
                assert_eq!(artifact.size, bytes.len() as u64);
                let text = std::str::from_utf8(bytes).unwrap();
                assert_eq!(
                    guard::redact(text).spans.len(),
                    0,
                    "{name}: artifacts are redacted"
                );
            }
        }
        // Every kind of rationale, the rubric's process evidence.
        let kinds: std::collections::BTreeSet<String> = all
            .iter()
            .filter_map(|event| match &event.kind {
                EventKind::RationaleNote { kind, .. } => Some(format!("{kind:?}")),
                _ => None,
            })
            .collect();
        let expected = if name == "simple" { 4 } else { 5 };
        assert!(kinds.len() >= expected - 1, "{name}: {kinds:?}");
    }
}

#[test]
fn a_redacted_path_in_pytest_output_stays_redacted() {
    let (_, _, artifacts) = read("failed");
    let output = artifacts
        .values()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .find(|text| text.contains("test session starts"))
        .unwrap();
    assert!(output.contains("rootdir: [path]"), "{output}");
    assert!(!output.contains("/home/dev"));
}

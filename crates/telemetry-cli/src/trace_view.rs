//! A trace for people, as the reference design's `view_trace.py` prints
//! one: a header, a timeline of one line per event, metrics, integrity,
//! and the QA results when there are any.

use std::fmt::Write as _;
use std::io::{self, Write};

use telemetry_trace::{EventKind, Trace, format_seconds as seconds};

/// Columns of the timeline's summary; longer text wraps under it.
const SUMMARY_WIDTH: usize = 72;

/// Writes `trace` readably.
pub(crate) fn write(trace: &Trace, out: &mut impl Write) -> io::Result<()> {
    header(trace, out)?;
    timeline(trace, out)?;
    metrics(trace, out)?;
    integrity(trace, out)?;
    qa(trace, out)
}

/// Task, repository, participant, environment, duration.
fn header(trace: &Trace, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "Trace {} (version {})",
        trace.trace_id, trace.trace_version
    )?;
    writeln!(
        out,
        "  task:         {} {}",
        trace.task.id, trace.task.title
    )?;
    if let Some(description) = &trace.task.description {
        for line in wrap(description, SUMMARY_WIDTH) {
            writeln!(out, "                {line}")?;
        }
    }
    writeln!(
        out,
        "  repo:         {} at {}",
        trace.repo.origin,
        short(&trace.repo.start_commit)
    )?;
    writeln!(
        out,
        "  participant:  {} ({})",
        trace.session.participant_id,
        if trace.session.consent {
            "consented"
        } else {
            "no consent"
        }
    )?;
    let mut environment: Vec<String> = trace.environment.os.iter().cloned().collect();
    environment.extend(
        trace
            .environment
            .toolchains
            .iter()
            .map(|(name, version)| format!("{name} {version}")),
    );
    if !environment.is_empty() {
        writeln!(out, "  environment:  {}", environment.join(", "))?;
    }
    writeln!(
        out,
        "  duration:     {}",
        duration(trace.metrics.duration_s)
    )?;
    Ok(())
}

/// One line per event (wrapped when long): seq, time offset, type, summary.
fn timeline(trace: &Trace, out: &mut impl Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "Timeline")?;
    writeln!(
        out,
        "  {:>4}  {:>7}  {:<14}  summary",
        "seq", "time", "type"
    )?;
    let start = trace.events.first().map_or(0.0, |event| event.ts_client_s);
    for event in &trace.events {
        let mut summary = summary(&event.kind);
        if event.redactions + event.server_redactions > 0 {
            let _ = write!(
                summary,
                " [{} redacted]",
                event.redactions + event.server_redactions
            );
        }
        let offset = format!("+{}", seconds(event.ts_client_s - start));
        let mut lines = wrap(&summary, SUMMARY_WIDTH).into_iter();
        writeln!(
            out,
            "  {:>4}  {offset:>7}  {:<14}  {}",
            event.seq,
            event.kind.type_name(),
            lines.next().unwrap_or_default()
        )?;
        for line in lines {
            writeln!(out, "  {:>4}  {:>7}  {:<14}  {line}", "", "", "")?;
        }
    }
    Ok(())
}

/// The counts.
fn metrics(trace: &Trace, out: &mut impl Write) -> io::Result<()> {
    let metrics = &trace.metrics;
    writeln!(out)?;
    writeln!(out, "Metrics")?;
    writeln!(out, "  events:           {}", trace.events.len())?;
    writeln!(out, "  file edits:       {}", metrics.num_file_edits)?;
    writeln!(out, "  test runs:        {}", metrics.num_test_runs)?;
    writeln!(out, "  commands:         {}", metrics.num_commands)?;
    writeln!(out, "  commits:          {}", metrics.num_commits)?;
    writeln!(out, "  rationale notes:  {}", metrics.num_rationale_notes)?;
    writeln!(out, "  artifacts:        {}", trace.artifacts.len())?;
    Ok(())
}

/// The chain head and the log position.
fn integrity(trace: &Trace, out: &mut impl Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "Integrity")?;
    writeln!(
        out,
        "  event hash chain: {}",
        trace.integrity.event_hash_chain
    )?;
    match &trace.integrity.log {
        Some(log) => writeln!(
            out,
            "  log:              leaf {} of {}, inclusion proof of {} hash{}",
            log.leaf_index,
            log.tree_size,
            log.inclusion_proof.len(),
            if log.inclusion_proof.len() == 1 {
                ""
            } else {
                "es"
            }
        )?,
        None => writeln!(out, "  log:              not in the log (not complete)")?,
    }
    Ok(())
}

/// The QA pipeline's state and results, when the trace has a job.
fn qa(trace: &Trace, out: &mut impl Write) -> io::Result<()> {
    let Some(qa) = &trace.qa else {
        return Ok(());
    };
    writeln!(out)?;
    writeln!(out, "QA")?;
    if let Some(job) = &qa.job {
        write!(
            out,
            "  job:          {} (attempt {} of {}, updated {})",
            job.state.as_str(),
            job.attempts,
            job.max_attempts,
            job.updated_at
        )?;
        writeln!(out)?;
        if let Some(reason) = &job.reason {
            for line in wrap(reason, SUMMARY_WIDTH) {
                writeln!(out, "                {line}")?;
            }
        }
    }
    validation(qa.validation.as_ref(), out)?;
    judgement(qa.judge.as_ref(), out)
}

/// The validation's verdict, counts, runner and reason.
fn validation(
    validation: Option<&telemetry_trace::Validation>,
    out: &mut impl Write,
) -> io::Result<()> {
    match validation {
        Some(validation) => {
            let mut line = validation.verdict.as_str().to_owned();
            if let Some(counts) = validation.counts {
                let _ = write!(
                    line,
                    ": {} passed, {} failed, {} errors, {} skipped",
                    counts.passed, counts.failed, counts.errors, counts.skipped
                );
            }
            writeln!(out, "  validation:   {line}")?;
            let mut ran = format!("runner: {}", validation.runner);
            if validation.verdict != telemetry_trace::Verdict::Skipped {
                let exit = validation
                    .exit_code
                    .map_or_else(|| "none".to_owned(), |code| code.to_string());
                let _ = write!(
                    ran,
                    "; {}, {}, exit code {exit}",
                    validation.framework,
                    seconds(validation.duration_s)
                );
                if let Some(limit) = &validation.killed_by {
                    let _ = write!(ran, ", stopped by the {limit} limit");
                }
            }
            writeln!(out, "                {ran}")?;
            if let Some(reason) = &validation.reason {
                for line in wrap(reason, SUMMARY_WIDTH) {
                    writeln!(out, "                {line}")?;
                }
            }
            if let Some(log) = &validation.log {
                writeln!(out, "                log: {} ({} bytes)", log.uri, log.size)?;
            }
        }
        None => writeln!(out, "  validation:   pending")?,
    }
    Ok(())
}

/// The judge's overall score and each dimension's score and reason.
fn judgement(judge: Option<&telemetry_trace::Judgement>, out: &mut impl Write) -> io::Result<()> {
    match judge {
        Some(judge) => {
            let who = judge.model.as_ref().map_or_else(
                || judge.judge.clone(),
                |model| format!("{} ({model})", judge.judge),
            );
            match (judge.overall, &judge.error) {
                (Some(overall), _) => {
                    writeln!(out, "  judge:        {who}: overall {overall:.2}/5")?;
                }
                (None, Some(error)) => {
                    writeln!(
                        out,
                        "  judge:        {who}: failed after {} attempts",
                        judge.attempts
                    )?;
                    for line in wrap(error, SUMMARY_WIDTH) {
                        writeln!(out, "                {line}")?;
                    }
                }
                (None, None) => writeln!(out, "  judge:        {who}: no score")?,
            }
            if judge.judge == "heuristic" {
                writeln!(
                    out,
                    "                (a heuristic from the trace's structure, not a model's opinion)"
                )?;
            }
            for dimension in &telemetry_trace::RUBRIC {
                let Some(score) = judge.scores.get(dimension.key) else {
                    continue;
                };
                let head = format!(
                    "    {:<22} {:>3.0}%  {score:.1}  ",
                    dimension.title,
                    dimension.weight * 100.0
                );
                let reason = judge.reasons.get(dimension.key).map_or("", String::as_str);
                let mut lines = wrap(reason, SUMMARY_WIDTH.saturating_sub(24)).into_iter();
                writeln!(out, "{head}{}", lines.next().unwrap_or_default())?;
                for line in lines {
                    writeln!(out, "{:width$}{line}", "", width = head.chars().count())?;
                }
            }
            if let Some(usage) = judge.usage {
                let cost = usage
                    .cost_usd
                    .map_or_else(String::new, |cost| format!(", ${cost:.6}"));
                writeln!(
                    out,
                    "    tokens: {} prompt, {} completion{cost}",
                    usage.prompt_tokens, usage.completion_tokens
                )?;
            }
        }
        None => writeln!(out, "  judge:        pending")?,
    }
    Ok(())
}

/// One event in words: the file and its +/− lines, the command and its
/// exit code, the test counts, the commit, the rationale.
fn summary(kind: &EventKind) -> String {
    match kind {
        EventKind::FileEdit {
            file_path,
            diff_unified,
            ..
        } => {
            let (added, removed) = diff_lines(diff_unified);
            format!("{file_path} (+{added} −{removed})")
        }
        EventKind::CmdRun {
            command,
            exit_code,
            duration_s,
            ..
        } => format!("$ {command} → exit {exit_code} in {}", seconds(*duration_s)),
        EventKind::TestRun {
            framework,
            passed,
            failed,
            errors,
            duration_s,
            ..
        } => {
            let mut text = format!("{framework}: {passed} passed, {failed} failed");
            if *errors > 0 {
                let _ = write!(text, ", {errors} errors");
            }
            if let Some(duration_s) = duration_s {
                let _ = write!(text, " in {}", seconds(*duration_s));
            }
            text
        }
        EventKind::Commit { sha, message, .. } => {
            format!(
                "{} {}",
                short(sha),
                message.lines().next().unwrap_or_default()
            )
        }
        EventKind::RationaleNote { kind, text } => {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("{kind}: {text}")
        }
    }
}

/// Lines a unified diff adds and removes (headers aside).
fn diff_lines(diff: &str) -> (usize, usize) {
    diff.lines().fold((0, 0), |(added, removed), line| {
        if line.starts_with("+++") || line.starts_with("---") {
            (added, removed)
        } else if line.starts_with('+') {
            (added + 1, removed)
        } else if line.starts_with('-') {
            (added, removed + 1)
        } else {
            (added, removed)
        }
    })
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// `230 s (3 min 50 s)`.
fn duration(value: f64) -> String {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a duration for people"
    )]
    let whole = value.max(0.0).round() as u64;
    if whole < 60 {
        seconds(value)
    } else {
        format!("{} ({} min {} s)", seconds(value), whole / 60, whole % 60)
    }
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use telemetry_trace::wire::CreateTrace;
    use telemetry_trace::{
        Chunk, Event, JobState, Judgement, LogProof, Qa, QaJob, RUBRIC, TestCounts, Validation,
        Verdict,
    };

    use super::*;

    /// An example session as the collector serves it once complete.
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
        create.into_trace(format!("trace-{name}"), events)
    }

    fn shown(trace: &Trace) -> String {
        let mut out = Vec::new();
        write(trace, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Compares a rendering with `tests/views/NAME.txt`, or writes it there
    /// with `TELEMETRY_UPDATE_VIEWS=1` (then review the diff). Text, not an
    /// `insta` snapshot: every `.snap` file of the repository is a payload
    /// the privacy audit reads as JSON.
    fn assert_view(name: &str, shown: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/views")
            .join(format!("{name}.txt"));
        if std::env::var_os("TELEMETRY_UPDATE_VIEWS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, shown).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            expected == shown,
            "{} differs from what `trace show` prints now (regenerate with \
             TELEMETRY_UPDATE_VIEWS=1 and review the diff):\n{shown}",
            path.display()
        );
    }

    #[test]
    fn the_simple_example_reads_as_a_timeline() {
        assert_view("simple", &shown(&example("simple")));
    }

    #[test]
    fn the_complex_example_wraps_long_rationale() {
        assert_view("complex", &shown(&example("complex")));
    }

    #[test]
    fn a_logged_trace_shows_its_proof_and_qa() {
        let mut trace = example("failed");
        trace.integrity.log = Some(LogProof {
            leaf_index: 2,
            tree_size: 3,
            leaf_hash: "ab".repeat(32),
            inclusion_proof: vec!["cd".repeat(32), "ef".repeat(32)],
        });
        trace.qa = Some(Qa {
            job: Some(QaJob {
                state: JobState::Done,
                attempts: 2,
                max_attempts: 3,
                reason: None,
                enqueued_at: "2023-10-06T16:02:30Z".into(),
                updated_at: "2023-10-06T16:02:41.5Z".into(),
            }),
            validation: Some(Validation {
                tests_passed: false,
                verdict: Verdict::NotVerified,
                runner: "sandbox (namespaces)".into(),
                framework: "pytest".into(),
                counts: Some(TestCounts {
                    passed: 4,
                    failed: 1,
                    errors: 0,
                    skipped: 0,
                }),
                duration_s: 1.5,
                exit_code: Some(1),
                killed_by: None,
                reason: None,
                log: None,
            }),
            judge: Some(Judgement {
                judge: "heuristic".into(),
                model: None,
                scores: RUBRIC.iter().map(|d| (d.key.to_owned(), 3.5)).collect(),
                reasons: RUBRIC
                    .iter()
                    .map(|d| {
                        (
                            d.key.to_owned(),
                            format!("{} counted from the events", d.title),
                        )
                    })
                    .collect(),
                overall: Some(3.5),
                error: None,
                attempts: 1,
                usage: None,
            }),
        });
        trace.events[4].server_redactions = 1;
        assert_view("logged_with_qa", &shown(&trace));
    }

    #[test]
    fn diffs_count_their_lines_without_headers() {
        let diff = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-a\n+b\n+c\n d\n";
        assert_eq!(diff_lines(diff), (2, 1));
    }

    #[test]
    fn long_text_wraps_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(duration(230.0), "230s (3 min 50 s)");
    }
}

//! `GET /ui/traces/{id}`: one trace as `telemetry trace show` prints it —
//! header, timeline, QA — with its diffs highlighted, and its place in the
//! log checked here against the log's current signed checkpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use maud::{Markup, html};
use telemetry_trace::{
    Event, EventKind, Judgement, LogProof, Qa, RUBRIC, Trace, Validation, Verdict, Verified,
    VerifierKey, format_seconds as seconds, verify_offline,
};

use super::{Page, counted, let_in, rfc3339};
use crate::server::App;
use crate::storage::Storage;

pub(super) async fn show<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Page, Page> {
    let_in(&app, peer, &headers)?;
    let Ok(Path(trace_id)) = id else {
        return Err(Page::error(
            StatusCode::NOT_FOUND,
            "There is no such trace.",
        ));
    };
    let (row, mut trace) = crate::server::trace_routes::load_trace(&app, &trace_id)
        .await
        .map_err(Page::from)?;
    let proof = if trace.integrity.log.is_some() {
        Some(check_inclusion(&app, &mut trace).await?)
    } else {
        None
    };
    let title = format!("Trace {}", trace.trace_id);
    Ok(Page::ok(title, content(&trace, &row.state, proof.as_ref())))
}

/// What the inclusion check found: the checkpoint it was made against, and
/// the verification or why it failed.
struct Inclusion {
    checkpoint: String,
    outcome: Result<Verified, String>,
}

/// Checks `trace` as `telemetry trace verify` would, against the log's
/// checkpoint as it is now: its chain, its leaf, and the inclusion proof
/// under the signed root. When the log grew since the trace was read, its
/// proof is taken again for the checkpoint's size.
async fn check_inclusion<S: Storage>(app: &App<S>, trace: &mut Trace) -> Result<Inclusion, Page> {
    let tree = app
        .log
        .synced(app.storage().as_ref())
        .await
        .map_err(|error| Page::storage(&error))?;
    let checkpoint = app.log.checkpoint(&tree);
    if let Some(log) = trace.integrity.log.as_mut()
        && log.tree_size != tree.len()
        && let Ok(hashes) = tree.inclusion_proof(log.leaf_index, tree.len())
    {
        *log = LogProof {
            tree_size: tree.len(),
            inclusion_proof: hashes.iter().map(hex::encode).collect(),
            ..log.clone()
        };
    }
    drop(tree);
    let checkpoint = match checkpoint {
        Ok(note) => note,
        Err(error) => {
            return Ok(Inclusion {
                checkpoint: String::new(),
                outcome: Err(format!("the checkpoint cannot be signed: {error}")),
            });
        }
    };
    let outcome = VerifierKey::parse(&app.log.verifier_key())
        .map_err(|error| format!("the log's key: {error}"))
        .and_then(|key| verify_offline(trace, &checkpoint, &key).map_err(|e| e.to_string()));
    Ok(Inclusion {
        checkpoint,
        outcome,
    })
}

fn content(trace: &Trace, state: &str, proof: Option<&Inclusion>) -> Markup {
    html! {
        h1 { "Trace " code { (trace.trace_id) } }
        (header(trace, state))
        h2 { "Timeline" }
        (timeline(trace))
        (qa(trace.qa.as_ref(), state))
        (integrity(trace, proof))
    }
}

/// Task, repository, session, environment, counts.
fn header(trace: &Trace, state: &str) -> Markup {
    let metrics = &trace.metrics;
    html! {
        dl #header {
            dt { "Task" }
            dd #task {
                code { (trace.task.id) } " " (trace.task.title)
                @if let Some(description) = &trace.task.description {
                    br; span.muted { (description) }
                }
            }
            dt { "Repository" }
            dd #repo { (trace.repo.origin) " at " code { (trace.repo.start_commit) } }
            dt { "Session" }
            dd #session {
                "participant " code { (trace.session.participant_id) } ", "
                @if trace.session.consent { "consented" } @else { "no consent" }
            }
            dt { "Environment" }
            dd #environment {
                @if let Some(os) = &trace.environment.os { (os) }
                @for (name, version) in &trace.environment.toolchains {
                    ", " (name) " " (version)
                }
            }
            dt { "State" }
            dd #state { (state) }
            dt { "Duration" }
            dd { (seconds(metrics.duration_s)) }
            dt { "Events" }
            dd #counts {
                (counted(trace.events.len() as u64, "event")) ": "
                (counted(metrics.num_file_edits, "file edit")) ", "
                (counted(metrics.num_commands, "command")) ", "
                (counted(metrics.num_test_runs, "test run")) ", "
                (counted(metrics.num_commits, "commit")) ", "
                (counted(metrics.num_rationale_notes, "rationale note")) "; "
                (counted(trace.artifacts.len() as u64, "artifact"))
            }
        }
    }
}

/// The events in seq order, each with its kind, its time and its content.
fn timeline(trace: &Trace) -> Markup {
    let start = trace.events.first().map_or(0.0, |event| event.ts_client_s);
    let mut events: Vec<&Event> = trace.events.iter().collect();
    events.sort_by_key(|event| event.seq);
    html! {
        ol #timeline {
            @for event in events {
                li.event id={ "event-" (event.seq) } data-seq=(event.seq)
                    data-kind=(event.kind.type_name()) {
                    div.event-head {
                        span.seq { "#" (event.seq) }
                        span.kind { (event.kind.type_name()) }
                        time datetime=(rfc3339(event.ts_client_s)) {
                            (rfc3339(event.ts_client_s))
                        }
                        " " span.offset.muted { "+" (seconds(event.ts_client_s - start)) }
                        @let redacted = event.redactions + event.server_redactions;
                        @if redacted > 0 {
                            " " span.redactions.muted { "(" (redacted) " redacted)" }
                        }
                    }
                    (kind(&event.kind))
                }
            }
        }
    }
}

fn kind(kind: &EventKind) -> Markup {
    match kind {
        EventKind::FileEdit {
            file_path,
            diff_unified,
            ..
        } => html! {
            div.file { code.path { (file_path) } }
            (diff(diff_unified))
        },
        EventKind::CmdRun {
            command,
            exit_code,
            duration_s,
            output,
        } => html! {
            pre.command { "$ " (command) }
            div {
                "exit code "
                span.exit-code.exit-ok[*exit_code == 0].exit-fail[*exit_code != 0] { (exit_code) }
                " in " (seconds(*duration_s))
                @if let Some(output) = output {
                    " · output " code { (output.uri) } " (" (output.size) " bytes)"
                }
            }
        },
        EventKind::TestRun {
            framework,
            passed,
            failed,
            errors,
            duration_s,
            report,
        } => html! {
            div.tests {
                (framework) ": "
                span.passed { (passed) " passed" } ", "
                span.failed.exit-fail[*failed > 0] { (failed) " failed" } ", "
                span.errors.exit-fail[*errors > 0] { (errors) " errors" }
                @if let Some(duration_s) = duration_s { " in " (seconds(*duration_s)) }
                @if let Some(report) = report {
                    " · report " code { (report.uri) } " (" (report.size) " bytes)"
                }
            }
        },
        EventKind::Commit { sha, message, diff } => html! {
            div { "commit " code.sha { (sha) } }
            pre.message { (message) }
            @if let Some(diff) = diff {
                div.muted { "diff " code { (diff.uri) } " (" (diff.size) " bytes)" }
            }
        },
        EventKind::RationaleNote { kind, text } => {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default();
            html! {
                p.note { span.rationale-kind { (kind) } (text) }
            }
        }
    }
}

/// A unified diff, one line per element: added lines `add`, removed ones
/// `del`, hunk headers `hunk`, file headers `meta`.
fn diff(text: &str) -> Markup {
    html! {
        pre.diff {
            @for line in text.lines() {
                span class=[line_class(line)] { (line) }
            }
        }
    }
}

fn line_class(line: &str) -> Option<&'static str> {
    if line.starts_with("+++") || line.starts_with("---") {
        Some("meta")
    } else if line.starts_with('+') {
        Some("add")
    } else if line.starts_with('-') {
        Some("del")
    } else if line.starts_with("@@") {
        Some("hunk")
    } else {
        None
    }
}

/// The QA job, the validation and the rubric.
fn qa(qa: Option<&Qa>, state: &str) -> Markup {
    let job = qa.and_then(|qa| qa.job.as_ref());
    let waiting = if job.is_some() {
        "pending"
    } else if state == "complete" {
        "no QA job"
    } else {
        "pending: the trace is not complete"
    };
    html! {
        h2 { "QA job" }
        section #qa-job {
            @match job {
                Some(job) => dl {
                    dt { "State" } dd #job-state { (job.state.as_str()) }
                    dt { "Attempts" } dd { (job.attempts) " of " (job.max_attempts) }
                    dt { "Enqueued" } dd { (job.enqueued_at) }
                    dt { "Updated" } dd { (job.updated_at) }
                    @if let Some(reason) = &job.reason {
                        dt { "Reason" } dd.error { (reason) }
                    }
                },
                None => p #job-state .pending { (waiting) },
            }
        }
        h2 { "Validation" }
        section #validation {
            @match qa.and_then(|qa| qa.validation.as_ref()) {
                Some(validation) => (validation_list(validation)),
                None => p #verdict .pending { (waiting) },
            }
        }
        h2 { "Rubric" }
        (rubric(qa.and_then(|qa| qa.judge.as_ref()), waiting))
    }
}

fn validation_list(validation: &Validation) -> Markup {
    let verdict_class = match validation.verdict {
        Verdict::Verified => "verified",
        Verdict::NotVerified | Verdict::Error => "not-verified",
        Verdict::Skipped => "muted",
    };
    html! {
        dl {
            dt { "Verdict" }
            dd #verdict class=(verdict_class) { (validation.verdict.as_str()) }
            dt { "Tests passed" }
            dd { @if validation.tests_passed { "yes" } @else { "no" } }
            @if let Some(counts) = validation.counts {
                dt { "Counts" }
                dd #test-counts {
                    (counts.passed) " passed, " (counts.failed) " failed, "
                    (counts.errors) " errors, " (counts.skipped) " skipped"
                }
            }
            dt { "Runner" } dd #runner { (validation.runner) }
            dt { "Framework" } dd { (validation.framework) }
            dt { "Duration" } dd { (seconds(validation.duration_s)) }
            dt { "Exit code" }
            dd #exit-code {
                @match validation.exit_code {
                    Some(code) => (code),
                    None => span.muted { "none" },
                }
            }
            @if let Some(limit) = &validation.killed_by {
                dt { "Killed by" } dd #killed-by .error { "the " (limit) " limit" }
            }
            @if let Some(reason) = &validation.reason {
                dt { "Reason" } dd #validation-reason { (reason) }
            }
            @if let Some(log) = &validation.log {
                dt { "Log" } dd { code { (log.uri) } " (" (log.size) " bytes)" }
            }
        }
    }
}

/// The six dimensions with their weights, and the judge's scores and
/// reasons once there are some; or the judge's error.
fn rubric(judge: Option<&Judgement>, waiting: &str) -> Markup {
    html! {
        @if let Some(judge) = judge {
            p #judge {
                "Judged by " (judge.judge)
                @if let Some(model) = &judge.model { " (" (model) ")" }
                @if judge.judge == "heuristic" {
                    span.muted { ": a heuristic from the trace's structure, not a model's opinion" }
                }
            }
            @if let Some(error) = &judge.error {
                p #judge-error .error {
                    "No scores: the judge failed after " (judge.attempts) " attempts: " (error)
                }
            }
        }
        table #rubric {
            thead {
                tr { th { "Dimension" } th { "Weight" } th { "Score" } th { "Reason" } }
            }
            tbody {
                @for dimension in &RUBRIC {
                    @let score = judge.and_then(|judge| judge.scores.get(dimension.key));
                    @let reason = judge.and_then(|judge| judge.reasons.get(dimension.key));
                    tr data-key=(dimension.key) {
                        td.title {
                            (dimension.title) br;
                            span.muted { (dimension.description) }
                        }
                        td.weight { (format!("{:.0}%", dimension.weight * 100.0)) }
                        td.score {
                            @match (score, judge) {
                                (Some(score), _) => (format!("{score:.1}")),
                                (None, Some(_)) => span.muted { "no score" },
                                (None, None) => span.pending { (waiting) },
                            }
                        }
                        td.reason { @if let Some(reason) = reason { (reason) } }
                    }
                }
            }
            tfoot {
                tr #overall {
                    th colspan="2" { "Overall (weighted, 0–5)" }
                    td.score {
                        @match (judge.and_then(|judge| judge.overall), judge) {
                            (Some(overall), _) => (format!("{overall:.2}")),
                            (None, Some(_)) => span.muted { "no score" },
                            (None, None) => span.pending { (waiting) },
                        }
                    }
                    td {}
                }
            }
        }
    }
}

/// The chain head, the log position and whether the proof verifies.
fn integrity(trace: &Trace, proof: Option<&Inclusion>) -> Markup {
    let log = trace.integrity.log.as_ref();
    let checkpoint = proof
        .map(|proof| proof.checkpoint.as_str())
        .filter(|note| !note.is_empty());
    html! {
        h2 { "Integrity" }
        section #integrity {
            dl {
                dt { "Chain head" } dd { code #chain-head { (trace.integrity.event_hash_chain) } }
                @if let Some(log) = log {
                    dt { "Log index" } dd #log-index { (log.leaf_index) }
                    dt { "Tree size" } dd #tree-size { (log.tree_size) }
                    dt { "Leaf hash" } dd { code { (log.leaf_hash) } }
                }
            }
            @match (log, proof) {
                (Some(log), Some(Inclusion { outcome: Ok(verified), .. })) => {
                    p #proof .verified {
                        "verified: the chain of " (verified.events)
                        " events holds, and the inclusion proof of leaf " (log.leaf_index)
                        " leads to the root of the signed checkpoint of size "
                        (verified.tree_size) " (" (verified.origin) ")"
                    }
                    @if !verified.skipped_content.is_empty() {
                        p.muted {
                            "Content not checked for seq "
                            (verified.skipped_content.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
                            ": the collector redacted it after the client hashed it (its links were checked)."
                        }
                    }
                }
                (_, Some(Inclusion { outcome: Err(why), .. })) => {
                    p #proof .not-verified { "not verified: " (why) }
                }
                _ => p #proof .pending { "not logged yet: the trace is not complete" },
            }
            @if let Some(checkpoint) = checkpoint {
                pre #checkpoint { (checkpoint) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lines_are_classed_by_their_sign() {
        let shown = diff("--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+<b>\n c\n").into_string();
        assert_eq!(
            shown,
            "<pre class=\"diff\"><span class=\"meta\">--- a/x.py</span>\
             <span class=\"meta\">+++ b/x.py</span><span class=\"hunk\">@@ -1 +1 @@</span>\
             <span class=\"del\">-a</span><span class=\"add\">+&lt;b&gt;</span><span> c</span></pre>"
        );
    }
}

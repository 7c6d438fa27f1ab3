//! Records a fixed 40-event session with a [`TraceRecorder`], a few
//! milliseconds apart, and completes it: the client process that
//! `telemetry-collector`'s `tests/trace_client.rs` kills with `kill -9` and
//! starts again on the same spool.
//!
//! ```text
//! cargo run -p telemetry-collector-client --example trace_session -- URL SPOOL_DIR
//! ```
//!
//! On a restart it goes on from [`TraceRecorder::next_seq`]: the events the
//! spool already holds are not recorded again. Prints `completed TRACE_ID
//! EVENTS` at the end.

use std::time::Duration;

use telemetry_collector_client::trace::{RecorderOptions, TraceClient, TraceRecorder};
use telemetry_runtime::policy::RetryPolicy;
use telemetry_trace::wire::CreateTrace;
use telemetry_trace::{EventKind, RationaleKind};

/// Events in the session.
const EVENTS: u64 = 40;

/// The session's `n`th event: the same in every run, so that a run that
/// was killed and resumed stores what an uninterrupted one does.
fn event(n: u64) -> EventKind {
    match n % 4 {
        0 => EventKind::RationaleNote {
            kind: RationaleKind::Hypothesis,
            text: format!("step {n}: the off-by-one is in the loop bound"),
        },
        1 => EventKind::FileEdit {
            file_path: "src/loop.py".to_owned(),
            diff_unified: format!(
                "--- a/src/loop.py\n+++ b/src/loop.py\n@@ -1 +1 @@\n-for i in range({n}):\n+for i in range({}):\n",
                n + 1
            ),
            buffer_hash_after: format!("sha256:{n:064x}"),
        },
        2 => EventKind::CmdRun {
            command: format!("python -m pytest -k step_{n}"),
            exit_code: i32::from(n.is_multiple_of(3)),
            duration_s: 0.25,
            output: None,
        },
        _ => EventKind::TestRun {
            framework: "pytest".to_owned(),
            passed: u32::try_from(n).unwrap_or(u32::MAX),
            failed: 1,
            errors: 0,
            duration_s: Some(0.5),
            report: None,
        },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(spool)) = (args.next(), args.next()) else {
        return Err("usage: trace_session URL SPOOL_DIR".into());
    };
    let session = CreateTrace {
        participant_id: "p-crash-test-01".to_owned(),
        consent: true,
        task_id: "BUG-7".to_owned(),
        task_title: "Fix the loop bound".to_owned(),
        task_description: None,
        repo_origin: "https://github.com/example/loop".to_owned(),
        start_commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
        environment: telemetry_trace::Environment::default(),
    };
    let options = RecorderOptions::new(&spool, "/work/loop")
        .with_chunk_events(3)
        .with_chunk_interval(Duration::from_millis(30))
        .with_retry(RetryPolicy::new(
            3,
            Duration::from_millis(10),
            Duration::from_millis(200),
        ));
    let recorder = TraceRecorder::open(TraceClient::for_url(&url), session, options)?;
    for n in recorder.next_seq()..EVENTS {
        #[allow(clippy::cast_precision_loss, reason = "small numbers")]
        let at = 1_700_000_000.0 + n as f64 * 1.5;
        recorder.record_at(event(n), at)?;
        std::thread::sleep(Duration::from_millis(15));
    }
    let completed = recorder.finish(Duration::from_secs(60))?;
    println!("completed {} {}", completed.trace_id, completed.num_events);
    Ok(())
}

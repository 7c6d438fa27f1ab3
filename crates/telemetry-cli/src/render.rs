//! How status and envelopes look on a terminal and as JSON.

use std::io::{self, Write};

use telemetry_runtime::consent::Mode;
use telemetry_runtime::control::Status;
use telemetry_runtime::queue::Envelope;

use crate::pretty::{self, Numbers};

/// `status` as text; `notes` on the decision, and `sink_hint` says what to
/// set when telemetry is on without a sink.
pub(crate) fn status_text(
    status: &Status,
    notes: &[String],
    sink_hint: &str,
    out: &mut impl Write,
) -> io::Result<()> {
    writeln!(
        out,
        "telemetry for {}: {}",
        status.app_name, status.decision.mode
    )?;
    writeln!(out, "  decided by:  {}", status.decision.source)?;
    if let Some(choice) = status.saved_choice {
        writeln!(out, "  saved:       {choice}")?;
    }
    for note in notes {
        writeln!(out, "  note:        {note}")?;
    }
    match status.client_id {
        Some(id) => writeln!(out, "  client id:   {id}")?,
        None => writeln!(out, "  client id:   none")?,
    }
    writeln!(out, "  data dir:    {}", status.data_dir.display())?;
    let queue = &status.queue;
    write!(
        out,
        "  queue:       {} event{}, {}",
        queue.events,
        if queue.events == 1 { "" } else { "s" },
        bytes(queue.bytes)
    )?;
    if queue.skipped_lines > 0 {
        write!(
            out,
            ", {} corrupt line{} skipped",
            queue.skipped_lines,
            if queue.skipped_lines == 1 { "" } else { "s" }
        )?;
    }
    match (&queue.oldest, &queue.newest) {
        (Some(oldest), Some(newest)) => writeln!(out, ", oldest {oldest}, newest {newest}")?,
        _ => writeln!(out)?,
    }
    let dropped: Vec<String> = queue
        .counters
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    if dropped.is_empty() {
        writeln!(out, "  dropped:     none")?;
    } else {
        writeln!(out, "  dropped:     {}", dropped.join(", "))?;
    }
    let sink = match (&status.sink, status.decision.mode) {
        (Some(sink), _) => sink.clone(),
        // Nothing is recorded, so nothing stays anywhere.
        (None, Mode::Off) => "none".to_owned(),
        (None, Mode::Local) => "none (events stay in the local queue)".to_owned(),
        (None, Mode::On) => {
            format!("none (events stay in the local queue; to send them, {sink_hint})")
        }
    };
    writeln!(out, "  sink:        {sink}")?;
    for problem in problems(status) {
        writeln!(out, "  problem:     {problem}")?;
    }
    Ok(())
}

/// Every problem `status` knows of: reading the settings and the queue.
fn problems(status: &Status) -> Vec<String> {
    let queue = status.queue.problems.iter().map(ToString::to_string);
    status.problems.iter().cloned().chain(queue).collect()
}

/// `status` as one JSON object, with everything the text shows.
pub(crate) fn status_json(status: &Status, notes: &[String]) -> serde_json::Value {
    serde_json::json!({
        "app": status.app_name,
        "mode": status.decision.mode.as_str(),
        "decided_by": status.decision.source.to_string(),
        "notes": notes,
        "saved_choice": status.saved_choice.map(Mode::as_str),
        "client_id": status.client_id.map(|id| id.to_string()),
        "data_dir": status.data_dir.display().to_string(),
        "queue": {
            "events": status.queue.events,
            "bytes": status.queue.bytes,
            "oldest": status.queue.oldest.map(|stamp| stamp.to_string()),
            "newest": status.queue.newest.map(|stamp| stamp.to_string()),
            "skipped_lines": status.queue.skipped_lines,
            "counters": status.queue.counters,
        },
        "sink": status.sink,
        "problems": problems(status),
    })
}

/// Every envelope, as it would be sent: indented JSON one after the other,
/// properties included, with `numbers` as asked; or, with `json`, one JSON
/// array exactly as queued.
pub(crate) fn envelopes(
    envelopes: &[Envelope],
    json: bool,
    numbers: Numbers,
    out: &mut impl Write,
) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, envelopes).map_err(io::Error::other)?;
        return writeln!(out);
    }
    if envelopes.is_empty() {
        return writeln!(out, "the queue is empty: nothing would be sent");
    }
    for envelope in envelopes {
        pretty::write(&mut *out, envelope, numbers)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "{} event{} queued",
        envelopes.len(),
        if envelopes.len() == 1 { "" } else { "s" }
    )
}

fn bytes(count: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a size for people")]
    let kib = count as f64 / 1024.0;
    if count < 1024 {
        format!("{count} B")
    } else if kib < 1024.0 {
        format!("{kib:.1} KiB")
    } else {
        format!("{:.1} MiB", kib / 1024.0)
    }
}

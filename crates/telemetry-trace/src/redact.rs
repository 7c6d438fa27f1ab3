//! Redaction of a trace's free text, span by span, with the guard's
//! detectors ([`telemetry_core::guard::redact`]): an e-mail address becomes
//! `[email]`, an absolute path `[path]`, a key or token `[secret]`, and the
//! rest of the text is kept.
//!
//! The free text is a file edit's `diff_unified`, a command's `command`, a
//! commit's `message`, a rationale note's `text`, and a task's title and
//! description. Ids, paths relative to the repository, hashes and counts
//! are validated instead ([`validate`](crate::validate)).
//!
//! Redaction is idempotent: what it writes holds nothing the detectors
//! flag, so a second pass finds nothing and changes nothing. The client
//! redacts before it [seals](crate::seal) (so the hash covers the redacted
//! text); the collector redacts again on arrival, and counts what it finds
//! in `server_redactions`.

use telemetry_core::guard;

use crate::model::{Event, EventKind, Trace};
use crate::wire::CreateTrace;

/// Redacts `text` in place and returns the number of spans replaced.
fn redact_text(text: &mut String) -> u32 {
    let redaction = guard::redact(text);
    if !redaction.is_redacted() {
        return 0;
    }
    let count = u32::try_from(redaction.count()).unwrap_or(u32::MAX);
    *text = redaction.into_owned();
    count
}

fn redact_optional(text: Option<&mut String>) -> u32 {
    text.map_or(0, redact_text)
}

impl Event {
    /// Redacts the event's free text (see the [module](crate::redact)),
    /// adds the number of spans replaced to `redactions`, and returns it.
    ///
    /// This is the client's pass; the collector's pass is
    /// [`redact_on_arrival`](Self::redact_on_arrival).
    ///
    /// ```
    /// use telemetry_trace::{Event, EventKind};
    ///
    /// let mut event = Event {
    ///     id: "evt-001".into(), seq: 1, ts_client_s: 1.0, ts_server_s: None,
    ///     redactions: 0, server_redactions: 0, prev_hash: String::new(), hash: String::new(),
    ///     kind: EventKind::CmdRun {
    ///         command: "cat /home/ana/.netrc".into(), exit_code: 0, duration_s: 0.1, output: None,
    ///     },
    /// };
    /// assert_eq!(event.redact(), 1);
    /// assert_eq!(event.redactions, 1);
    /// assert!(matches!(&event.kind, EventKind::CmdRun { command, .. } if command == "cat [path]"));
    /// assert_eq!(event.redact(), 0, "a second pass changes nothing");
    /// ```
    pub fn redact(&mut self) -> u32 {
        let count = self.redact_free_text();
        self.redactions = self.redactions.saturating_add(count);
        count
    }

    /// The collector's pass: redacts the free text as [`redact`](Self::redact)
    /// does, but adds the count to `server_redactions`, which tells
    /// [`verify_chain_report`](crate::verify_chain_report) that the content
    /// changed after the client hashed it.
    pub fn redact_on_arrival(&mut self) -> u32 {
        let count = self.redact_free_text();
        self.server_redactions = self.server_redactions.saturating_add(count);
        count
    }

    fn redact_free_text(&mut self) -> u32 {
        match &mut self.kind {
            EventKind::FileEdit { diff_unified, .. } => redact_text(diff_unified),
            EventKind::CmdRun { command, .. } => redact_text(command),
            EventKind::Commit { message, .. } => redact_text(message),
            EventKind::RationaleNote { text, .. } => redact_text(text),
            EventKind::TestRun { .. } => 0,
        }
    }
}

impl CreateTrace {
    /// Redacts the task's title and description, and returns the number of
    /// spans replaced.
    pub fn redact(&mut self) -> u32 {
        redact_text(&mut self.task_title)
            .saturating_add(redact_optional(self.task_description.as_mut()))
    }
}

impl Trace {
    /// Redacts the task's title and description and every event (each
    /// event's count goes to its `redactions`), and returns the total.
    /// The events then need [sealing](crate::seal) again.
    pub fn redact(&mut self) -> u32 {
        let task = redact_text(&mut self.task.title)
            .saturating_add(redact_optional(self.task.description.as_mut()));
        self.events
            .iter_mut()
            .fold(task, |total, event| total.saturating_add(event.redact()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RationaleKind;

    fn event(kind: EventKind) -> Event {
        Event {
            id: "evt-001".into(),
            seq: 1,
            ts_client_s: 1.0,
            ts_server_s: None,
            redactions: 2,
            server_redactions: 0,
            prev_hash: String::new(),
            hash: String::new(),
            kind,
        }
    }

    #[test]
    fn every_free_text_field_is_redacted_and_counted() {
        let diff = "@@ -1 +1 @@\n-API_KEY = 'x'\n+API_KEY = 'sk-proj-4f9Xk2LqZ8rT1vB7nM3c'\n contact ana@example.com\n";
        let mut edit = event(EventKind::FileEdit {
            file_path: "src/config.py".into(),
            diff_unified: diff.into(),
            buffer_hash_after: String::new(),
        });
        assert_eq!(edit.redact(), 2);
        assert_eq!(edit.redactions, 4, "added to what the event had");
        let EventKind::FileEdit {
            diff_unified,
            file_path,
            ..
        } = &edit.kind
        else {
            unreachable!()
        };
        assert_eq!(
            diff_unified,
            "@@ -1 +1 @@\n-API_KEY = 'x'\n+API_KEY = '[secret]'\n contact [email]\n"
        );
        assert_eq!(file_path, "src/config.py");

        let mut commit = event(EventKind::Commit {
            sha: String::new(),
            message: "fix: see /Users/ana/notes.txt".into(),
            diff: None,
        });
        assert_eq!(commit.redact(), 1);
        let mut note = event(EventKind::RationaleNote {
            kind: RationaleKind::Observation,
            text: "the server at 10.0.0.12 answers 500".into(),
        });
        assert_eq!(note.redact(), 1);
        assert!(
            matches!(&note.kind, EventKind::RationaleNote { text, .. } if text == "the server at [ip] answers 500")
        );
    }

    #[test]
    fn redaction_is_idempotent() {
        let mut note = event(EventKind::RationaleNote {
            kind: RationaleKind::Plan,
            text: "ask ana@example.com; token ghp_4f9Xk2LqZ8rT1vB7nM3cQ".into(),
        });
        assert_eq!(note.redact(), 2);
        let once = note.clone();
        assert_eq!(note.redact(), 0);
        assert_eq!(note, once);
    }

    #[test]
    fn the_collector_counts_its_own_pass_apart() {
        let mut run = event(EventKind::CmdRun {
            command: "curl https://ana:hunter2@example.com/x".into(),
            exit_code: 0,
            duration_s: 1.0,
            output: None,
        });
        assert_eq!(run.redact_on_arrival(), 1);
        assert_eq!((run.redactions, run.server_redactions), (2, 1));
    }

    #[test]
    fn create_requests_redact_the_task() {
        let mut request = CreateTrace {
            participant_id: "p-1".into(),
            consent: true,
            task_id: "BUG-1".into(),
            task_title: "Crash for ana@example.com".into(),
            task_description: Some("Log in /home/ana/app.log".into()),
            repo_origin: "https://example.com/r".into(),
            start_commit: "abcd".into(),
            environment: crate::model::Environment::default(),
        };
        assert_eq!(request.redact(), 2);
        assert_eq!(request.task_title, "Crash for [email]");
        assert_eq!(request.task_description.as_deref(), Some("Log in [path]"));
        assert_eq!(request.redact(), 0);
    }
}

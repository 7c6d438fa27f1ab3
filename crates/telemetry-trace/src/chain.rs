//! The per-trace hash chain: each event's `hash` covers the previous
//! event's `hash` and the event itself, so changing, dropping or reordering
//! any event breaks every link after it.
//!
//! ```text
//! hash(e) = hex(SHA-256(bytes(e.prev_hash) ‖ JCS(e without hash, ts_server_s, server_redactions)))
//! ```
//!
//! `bytes(prev_hash)` is the 32 bytes the hex names; `JCS` is
//! [`crate::canonical_json`]. The collector's fields, the
//! arrival time and its own redaction count, are left out so that the
//! client can seal events before it sends them.

use sha2::{Digest, Sha256};

use crate::canonical::canonical_value;
use crate::model::Event;

/// The `prev_hash` of the first event, and the head of an empty chain: 64
/// `'0'`s.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where and how a chain broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event {seq}: {kind}")]
pub struct ChainError {
    /// The `seq` of the first bad event, or of the first missing one for a
    /// [`Gap`](ChainErrorKind::Gap).
    pub seq: u64,
    /// What is wrong there.
    pub kind: ChainErrorKind,
}

/// What broke a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChainErrorKind {
    /// The events' `seq`s do not run 0, 1, 2 …: this one is missing (or
    /// another stands in its place).
    #[error("is missing: seqs must run from 0 with no gaps")]
    Gap,
    /// `prev_hash` is not the previous event's `hash` (for seq 0, not
    /// [`GENESIS`]).
    #[error("prev_hash does not match the previous event's hash")]
    Link,
    /// `hash` is not the hash of the event's content.
    #[error("hash does not match the event's content")]
    Content,
}

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The last event's `hash` ([`GENESIS`] for no events).
    pub head: String,
    /// The `seq`s whose content check was skipped, because the collector
    /// redacted them after the client hashed them (`server_redactions >
    /// 0`). Their links were checked.
    pub skipped_content: Vec<u64>,
}

impl Event {
    /// The hash this event should carry, from its `prev_hash` and content
    /// (see the [module](crate::chain) for the formula). A `prev_hash` that
    /// is not 64 hex digits is hashed as its UTF-8 bytes, so that it cannot
    /// match a well-formed one.
    ///
    /// # Panics
    ///
    /// Never: an event always serializes to JSON.
    #[must_use]
    pub fn chain_hash(&self) -> String {
        let mut content = serde_json::to_value(self).expect("an event serializes to JSON");
        if let Some(members) = content.as_object_mut() {
            for key in ["hash", "ts_server_s", "server_redactions"] {
                members.remove(key);
            }
        }
        let mut hasher = Sha256::new();
        match decode_hash(&self.prev_hash) {
            Some(previous) => hasher.update(previous),
            None => hasher.update(self.prev_hash.as_bytes()),
        }
        hasher.update(canonical_value(&content));
        hex::encode(hasher.finalize())
    }
}

/// Decodes 64 lowercase hex digits.
pub(crate) fn decode_hash(text: &str) -> Option<[u8; 32]> {
    if !crate::validate::is_hash_hex(text) {
        return None;
    }
    let mut bytes = [0; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

/// Sorts `events` by `seq`, then sets each one's `prev_hash` and `hash` in
/// order, from [`GENESIS`]. Returns the head. Call it after
/// [`Event::redact`] (which changes content) and before sending.
///
/// It does not renumber: seqs that do not run from 0 with no gaps seal
/// as they are and fail [`verify_chain`] with a [`ChainErrorKind::Gap`].
pub fn seal(events: &mut [Event]) -> String {
    events.sort_by_key(|event| event.seq);
    let mut previous = GENESIS.to_owned();
    for event in events {
        event.prev_hash = std::mem::take(&mut previous);
        event.hash = event.chain_hash();
        previous.clone_from(&event.hash);
    }
    previous
}

/// Checks the chain of `events` (in the order given, which must be seq
/// order) and returns its head. An event the collector redacted
/// (`server_redactions > 0`) has its content check skipped; use
/// [`verify_chain_report`] to learn which.
pub fn verify_chain(events: &[Event]) -> Result<String, ChainError> {
    verify_chain_report(events).map(|report| report.head)
}

/// Checks the chain of `events` and says which content checks it skipped.
///
/// For each event in turn: its `seq` must be its position (else
/// [`Gap`](ChainErrorKind::Gap) naming the missing seq), its `prev_hash` the
/// previous `hash` or [`GENESIS`] (else [`Link`](ChainErrorKind::Link)), and
/// its `hash` its [`chain_hash`](Event::chain_hash) (else
/// [`Content`](ChainErrorKind::Content)), unless the collector redacted it.
/// The first failure is returned.
pub fn verify_chain_report(events: &[Event]) -> Result<ChainReport, ChainError> {
    let mut previous = GENESIS;
    let mut skipped_content = Vec::new();
    for (expected, event) in (0_u64..).zip(events) {
        let seq = event.seq;
        if seq != expected {
            return Err(ChainError {
                seq: expected,
                kind: ChainErrorKind::Gap,
            });
        }
        if event.prev_hash != previous {
            return Err(ChainError {
                seq,
                kind: ChainErrorKind::Link,
            });
        }
        if event.server_redactions > 0 {
            skipped_content.push(seq);
        } else if event.hash != event.chain_hash() {
            return Err(ChainError {
                seq,
                kind: ChainErrorKind::Content,
            });
        }
        previous = &event.hash;
    }
    Ok(ChainReport {
        head: previous.to_owned(),
        skipped_content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, RationaleKind};

    fn note(seq: u64, text: &str) -> Event {
        Event {
            id: format!("evt-{seq:03}"),
            seq,
            ts_client_s: 1_696_435_200.0,
            ts_server_s: None,
            redactions: 0,
            server_redactions: 0,
            prev_hash: String::new(),
            hash: String::new(),
            kind: EventKind::RationaleNote {
                kind: RationaleKind::Observation,
                text: text.into(),
            },
        }
    }

    fn sealed(n: u64) -> Vec<Event> {
        let mut events: Vec<Event> = (0..n).map(|seq| note(seq, "ok")).collect();
        seal(&mut events);
        events
    }

    #[test]
    fn the_hash_is_sha256_of_the_previous_bytes_and_the_canonical_event() {
        let mut event = note(0, "ok");
        event.prev_hash = GENESIS.into();
        event.ts_server_s = Some(9.0);
        event.server_redactions = 1;
        event.hash = "ignored".into();
        let jcs = concat!(
            r#"{"id":"evt-000","kind":"observation","prev_hash":"#,
            r#""0000000000000000000000000000000000000000000000000000000000000000","#,
            r#""redactions":0,"seq":0,"text":"ok","ts_client_s":1696435200,"#,
            r#""type":"rationale_note"}"#
        );
        let mut hasher = Sha256::new();
        hasher.update([0_u8; 32]);
        hasher.update(jcs.as_bytes());
        assert_eq!(event.chain_hash(), hex::encode(hasher.finalize()));
    }

    #[test]
    fn a_sealed_chain_verifies_and_its_head_is_the_last_hash() {
        let events = sealed(5);
        assert_eq!(events[0].prev_hash, GENESIS);
        for pair in events.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
        }
        assert_eq!(verify_chain(&events).unwrap(), events[4].hash);
        assert_eq!(verify_chain(&[]).unwrap(), GENESIS);
    }

    #[test]
    fn seal_sorts_by_seq() {
        let mut events = vec![note(2, "c"), note(0, "a"), note(1, "b")];
        seal(&mut events);
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(verify_chain(&events).is_ok());
    }

    #[test]
    fn a_changed_event_names_its_seq() {
        let mut events = sealed(5);
        if let EventKind::RationaleNote { text, .. } = &mut events[3].kind {
            *text = "changed".into();
        }
        assert_eq!(
            verify_chain(&events),
            Err(ChainError {
                seq: 3,
                kind: ChainErrorKind::Content
            })
        );
    }

    #[test]
    fn a_resealed_event_breaks_the_next_link() {
        let mut events = sealed(5);
        events[1].redactions = 1;
        events[1].hash = events[1].chain_hash();
        assert_eq!(
            verify_chain(&events),
            Err(ChainError {
                seq: 2,
                kind: ChainErrorKind::Link
            })
        );
        let mut events = sealed(2);
        events[0].prev_hash = "1".repeat(64);
        events[0].hash = events[0].chain_hash();
        assert_eq!(
            verify_chain(&events).unwrap_err().kind,
            ChainErrorKind::Link
        );
    }

    #[test]
    fn a_gap_names_the_missing_seq() {
        let mut events = sealed(6);
        events.remove(4);
        assert_eq!(
            verify_chain(&events),
            Err(ChainError {
                seq: 4,
                kind: ChainErrorKind::Gap
            })
        );
        let events = sealed(3);
        assert_eq!(verify_chain(&events[1..]).unwrap_err().seq, 0);
    }

    #[test]
    fn collector_fields_are_outside_the_hash_and_its_redactions_skip_the_content_check() {
        let mut events = sealed(3);
        events[0].ts_server_s = Some(1.0);
        assert!(verify_chain(&events).is_ok());
        if let EventKind::RationaleNote { text, .. } = &mut events[1].kind {
            *text = "[secret]".into();
        }
        events[1].server_redactions = 1;
        let report = verify_chain_report(&events).unwrap();
        assert_eq!(report.skipped_content, [1]);
        assert_eq!(report.head, events[2].hash);
        // The link of a skipped event is still checked.
        events[1].prev_hash = GENESIS.into();
        assert_eq!(
            verify_chain(&events).unwrap_err(),
            ChainError {
                seq: 1,
                kind: ChainErrorKind::Link
            }
        );
    }

    #[test]
    fn errors_read_as_sentences() {
        let error = ChainError {
            seq: 7,
            kind: ChainErrorKind::Content,
        };
        assert_eq!(
            error.to_string(),
            "event 7: hash does not match the event's content"
        );
    }
}

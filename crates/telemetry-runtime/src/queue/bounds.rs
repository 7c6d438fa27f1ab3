//! The queue's bounds: after an append, segments past the age bound, then
//! the oldest segments past the byte bound, are dropped whole and counted.
//!
//! Age is measured from when the queue received an event, not from the
//! event's own timestamp (which a caller may set to any time): a segment's
//! age is the time since its last write, its modification time. Every
//! envelope in it was received by then, so eviction never takes one
//! younger than the bound, and a backdated event costs no other event its
//! place.
//!
//! The lines of a dropped segment are counted by their shape, not parsed:
//! a complete line that is a JSON object counts as a dropped envelope,
//! anything else as a torn or corrupt line. Only the queue writes its
//! segments, so the two counts agree but for a line damaged on disk, and
//! counting stays a scan for line breaks (parsing every envelope was most of
//! the writer's time while a full queue dropped segments).

use std::time::SystemTime;

use super::files::{self, Segment};
use super::state::{self, Position};
use super::{AppendReport, Counters, Queue, QueueError, count_line_shapes};

impl Queue {
    /// Drops every segment last written longer than `max_age` ago, then
    /// whole segments, oldest first, while over `max_bytes` (keeping the
    /// newest).
    pub(super) fn enforce_bounds(
        &self,
        mut segments: Vec<Segment>,
        cursor: &mut Position,
        report: &mut AppendReport,
    ) -> Result<(), QueueError> {
        let dir = self.dir();
        let now = SystemTime::now();
        // A segment whose eviction a crash interrupted after counting it:
        // it goes now, uncounted.
        let pending = state::pending_eviction(dir)?;
        let newest = segments.last().map(|segment| segment.id);
        let expired: Vec<u64> = segments
            .iter()
            .filter(|segment| {
                Some(segment.id) == pending
                    || self.expired(segment, Some(segment.id) == newest, now)
            })
            .map(|segment| segment.id)
            .collect();
        let mut dropped = Vec::new();
        segments.retain(|segment| {
            let keep = !expired.contains(&segment.id);
            if !keep {
                dropped.push(segment.clone());
            }
            keep
        });
        let mut total: u64 = segments.iter().map(|segment| segment.len).sum();
        let all_but_newest = segments.len().saturating_sub(1);
        for segment in &segments[..all_but_newest] {
            if total <= self.config.max_bytes {
                break;
            }
            total -= segment.len;
            dropped.push(segment.clone());
        }
        report.queue_bytes = total;
        if dropped.is_empty() {
            // A mark whose segment is already gone (the crash came after
            // the deletion) is cleared.
            if pending.is_some() {
                report.problems.extend(state::finish_eviction(dir)?);
            }
            return Ok(());
        }
        for segment in &dropped {
            if segment.id >= cursor.segment && Some(segment.id) != pending {
                let from = if segment.id == cursor.segment {
                    cursor.offset
                } else {
                    0
                };
                let (valid, bad) = count_line_shapes(segment, from)?;
                let mut counted = Counters::default();
                counted.add(Counters::DROPPED_BY_BOUNDS, valid as u64);
                counted.add(Counters::TORN_LINES_SKIPPED, bad as u64);
                report
                    .problems
                    .extend(state::add_counters_evicting(dir, &counted, segment.id)?);
                report.dropped_by_bounds += valid as u64;
            }
            files::remove(&segment.path, "remove segment")?;
            report.segments_dropped += 1;
        }
        // Every dropped segment is gone: no eviction is pending any more.
        report.problems.extend(state::finish_eviction(dir)?);
        files::sync_dir(dir)?;
        // A cursor in a dropped segment moves to the start of the next one (the
        // same place in the queue), so that acknowledging a batch peeked from
        // the dropped segment neither moves it nor counts its lines twice.
        if dropped.iter().any(|segment| segment.id == cursor.segment) {
            *cursor = Position {
                segment: cursor.segment.saturating_add(1),
                offset: 0,
            };
            state::save_cursor(dir, *cursor)?;
        }
        Ok(())
    }

    /// Whether the queue last wrote to `segment` longer than `max_age` ago.
    /// Every envelope in it was received then or before, so none younger
    /// than the bound is taken. The newest segment, just written, never is.
    fn expired(&self, segment: &Segment, is_newest: bool, now: SystemTime) -> bool {
        !is_newest
            && segment
                .modified
                .and_then(|written| now.duration_since(written).ok())
                .is_some_and(|age| age > self.config.max_age)
    }
}

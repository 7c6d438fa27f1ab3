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
use super::state::{self, Mark, Position};
use super::{AppendReport, Counters, Queue, QueueError};

impl Queue {
    /// Drops every segment last written longer than `max_age` ago, then
    /// whole segments, oldest first, while over `max_bytes` (keeping the
    /// newest).
    pub(super) fn enforce_bounds(
        &self,
        segments: Vec<Segment>,
        cursor: &mut Position,
        report: &mut AppendReport,
    ) -> Result<(), QueueError> {
        let dir = self.dir();
        let now = SystemTime::now();
        // Segments an eviction counted and a crash kept from deleting: they
        // go now, uncounted.
        let eviction = state::pending_eviction(dir)?;
        let (leftovers, mut segments): (Vec<Segment>, Vec<Segment>) = segments
            .into_iter()
            .partition(|segment| eviction.covers(segment.id));
        let newest = segments.last().map(|segment| segment.id);
        let mut dropped = vec![false; segments.len()];
        for (drop, segment) in dropped.iter_mut().zip(&segments) {
            *drop = self.expired(segment, Some(segment.id) == newest, now);
        }
        let mut total: u64 = segments
            .iter()
            .zip(&dropped)
            .filter(|(_, drop)| !**drop)
            .map(|(segment, _)| segment.len)
            .sum();
        let kept = dropped.iter().filter(|drop| !**drop).count();
        let mut may_drop = kept.saturating_sub(1);
        for (drop, segment) in dropped.iter_mut().zip(&segments) {
            if total <= self.config.max_bytes || may_drop == 0 {
                break;
            }
            if !*drop {
                *drop = true;
                total -= segment.len;
                may_drop -= 1;
            }
        }
        report.queue_bytes = total;
        // The oldest dropped segments are marked with one id ("through
        // here"); one aged out after a segment that is kept (the clock was
        // set back) needs its own mark.
        let oldest = dropped.iter().take_while(|drop| **drop).count();
        let dropped: Vec<Segment> = segments
            .drain(..)
            .zip(dropped)
            .filter_map(|(segment, drop)| drop.then_some(segment))
            .collect();
        if leftovers.is_empty() && dropped.is_empty() {
            return Ok(());
        }
        for segment in &leftovers {
            files::remove(&segment.path, "remove segment")?;
            report.segments_dropped += 1;
        }
        let (prefix, others) = dropped.split_at(oldest);
        if let Some(last) = prefix.last() {
            let counted = self.count_dropped(prefix, *cursor, report)?;
            report.problems.extend(state::add_counters_evicting(
                dir,
                &counted,
                Mark::Through(last.id),
            )?);
            for segment in prefix {
                files::remove(&segment.path, "remove segment")?;
                report.segments_dropped += 1;
            }
        }
        for segment in others {
            let counted = self.count_dropped(std::slice::from_ref(segment), *cursor, report)?;
            report.problems.extend(state::add_counters_evicting(
                dir,
                &counted,
                Mark::One(segment.id),
            )?);
            files::remove(&segment.path, "remove segment")?;
            report.segments_dropped += 1;
            report.problems.extend(state::add_counters_evicting(
                dir,
                &Counters::default(),
                Mark::ClearOne,
            )?);
        }
        // Neither the deletions nor the cursor below are synced: the marks
        // are durable, and after a power cut a segment that comes back is
        // one they cover (skipped, deleted by the next append, never counted
        // twice), and a cursor in a deleted segment reads from the next one.
        //
        // A cursor in a dropped segment moves to the start of the next one (the
        // same place in the queue), so that acknowledging a batch peeked from
        // the dropped segment neither moves it nor counts its lines twice.
        let gone = |id| {
            leftovers
                .iter()
                .chain(&dropped)
                .any(|segment| segment.id == id)
        };
        if gone(cursor.segment) {
            *cursor = Position {
                segment: cursor.segment.saturating_add(1),
                offset: 0,
            };
            state::replace_cursor(dir, *cursor, false)?;
        }
        Ok(())
    }

    /// Counts the unacknowledged lines of `segments`, about to be dropped.
    fn count_dropped(
        &self,
        segments: &[Segment],
        cursor: Position,
        report: &mut AppendReport,
    ) -> Result<Counters, QueueError> {
        let mut counted = Counters::default();
        for segment in segments
            .iter()
            .filter(|segment| segment.id >= cursor.segment)
        {
            let from = if segment.id == cursor.segment {
                cursor.offset
            } else {
                0
            };
            let known = self.known_lines(segment).filter(|_| from == 0);
            let (valid, bad) = match known {
                Some(lines) => (lines, 0),
                None => files::count_line_shapes(&segment.path, from)?,
            };
            counted.add(Counters::DROPPED_BY_BOUNDS, valid as u64);
            counted.add(Counters::TORN_LINES_SKIPPED, bad as u64);
            report.dropped_by_bounds += valid as u64;
        }
        Ok(counted)
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

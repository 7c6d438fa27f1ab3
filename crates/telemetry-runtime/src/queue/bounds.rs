//! The queue's bounds: after an append, segments past the age bound, then
//! the oldest segments past the byte bound, are dropped whole and counted.
//! The age of a segment is the timestamp of its newest envelope, cached per
//! segment so that an append does not read every file.

use std::time::Duration;

use time::OffsetDateTime;

use super::files::{self, Segment};
use super::state::{self, Position};
use super::types::NewestTimestamp;
use super::{AppendReport, Counters, Queue, QueueError, count_lines};
use crate::Timestamp;

impl Queue {
    /// Drops every segment whose newest envelope is older than `max_age`,
    /// then whole segments, oldest first, while over `max_bytes` (keeping
    /// the newest).
    pub(super) fn enforce_bounds(
        &self,
        mut segments: Vec<Segment>,
        cursor: &mut Position,
        report: &mut AppendReport,
        delta: &mut Counters,
    ) -> Result<(), QueueError> {
        let dir = self.dir();
        let now = OffsetDateTime::now_utc();
        let newest = segments.last().map(|segment| segment.id);
        let mut expired = Vec::new();
        for segment in &segments {
            if self.expired(segment, Some(segment.id) == newest, now)? {
                expired.push(segment.id);
            }
        }
        if let Ok(mut cache) = self.newest.lock() {
            cache.retain(|id, _| segments.iter().any(|segment| segment.id == *id));
        }
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
        if dropped.is_empty() {
            return Ok(());
        }
        for segment in &dropped {
            if segment.id >= cursor.segment {
                let from = if segment.id == cursor.segment {
                    cursor.offset
                } else {
                    0
                };
                let (valid, bad) = count_lines(segment, from)?;
                delta.add(Counters::DROPPED_BY_BOUNDS, valid as u64);
                delta.add(Counters::TORN_LINES_SKIPPED, bad as u64);
                report.dropped_by_bounds += valid as u64;
            }
            files::remove(&segment.path, "remove segment")?;
            report.segments_dropped += 1;
        }
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

    /// Whether `segment`'s newest envelope is older than `max_age`. A segment
    /// without a single valid envelope is expired unless it is the newest.
    fn expired(
        &self,
        segment: &Segment,
        is_newest: bool,
        now: OffsetDateTime,
    ) -> Result<bool, QueueError> {
        // Only the newest segment takes appends, and a torn tail is cut off
        // only there: it is read every time, the others once.
        let newest = if is_newest {
            files::newest_timestamp(&segment.path, segment.len)?
        } else {
            self.newest_timestamp(segment)?
        };
        Ok(match newest {
            None => !is_newest,
            Some(newest) => Duration::try_from(now - newest.as_offset_date_time())
                .is_ok_and(|age| age > self.config.max_age),
        })
    }
}

impl Queue {
    /// The timestamp of `segment`'s last valid envelope: from the cache when
    /// the file has the length and modification time it had when read,
    /// else read from its end.
    fn newest_timestamp(&self, segment: &Segment) -> Result<Option<Timestamp>, QueueError> {
        let cached = self.newest.lock().ok().and_then(|cache| {
            cache
                .get(&segment.id)
                .filter(|entry| {
                    entry.len == segment.len
                        && entry.modified.is_some()
                        && entry.modified == segment.modified
                })
                .map(|entry| entry.timestamp)
        });
        if let Some(timestamp) = cached {
            return Ok(timestamp);
        }
        let timestamp = files::newest_timestamp(&segment.path, segment.len)?;
        if let Ok(mut cache) = self.newest.lock() {
            cache.insert(
                segment.id,
                NewestTimestamp {
                    len: segment.len,
                    modified: segment.modified,
                    timestamp,
                },
            );
        }
        Ok(timestamp)
    }
}

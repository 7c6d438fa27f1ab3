//! The small persisted state beside the segments: the acknowledgement cursor
//! and the counters.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{QueueError, QueueProblem};
use super::files::{self, CORRUPT_COUNTERS_FILE, COUNTERS_FILE, CURSOR_FILE};

/// A place in the queue: a segment and a byte offset in it. Everything
/// before it is acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    /// The segment id.
    pub(crate) segment: u64,
    /// The byte offset in that segment.
    pub(crate) offset: u64,
}

/// Reads the cursor; a missing file is the start of the queue, and so is an
/// unreadable one, reported as a problem.
pub(crate) fn load_cursor(dir: &Path) -> Result<(Position, Option<QueueProblem>), QueueError> {
    let Some(bytes) = files::read_optional(dir, CURSOR_FILE)? else {
        return Ok((Position::default(), None));
    };
    let parsed = serde_json::from_slice::<BTreeMap<String, u64>>(&bytes)
        .map_err(|error| error.to_string())
        .and_then(
            |fields| match (fields.get("segment"), fields.get("offset")) {
                (Some(&segment), Some(&offset)) => Ok(Position { segment, offset }),
                _ => Err(String::from("`segment` or `offset` missing")),
            },
        );
    match parsed {
        Ok(position) => Ok((position, None)),
        Err(reason) => Ok((
            Position::default(),
            Some(QueueProblem::CorruptCursor {
                path: dir.join(CURSOR_FILE),
                reason,
            }),
        )),
    }
}

/// Persists the cursor atomically and durably.
pub(crate) fn save_cursor(dir: &Path, position: Position) -> Result<(), QueueError> {
    replace_cursor(dir, position, true)
}

/// Replaces the cursor atomically; `durable` as for [`files::replace`]. An
/// acknowledgement moves it without syncing: see "Durability" in the
/// [queue module](super) for why a lost move costs no event.
pub(crate) fn replace_cursor(
    dir: &Path,
    position: Position,
    durable: bool,
) -> Result<(), QueueError> {
    let json = format!(
        "{{\"segment\":{},\"offset\":{}}}",
        position.segment, position.offset
    );
    files::replace(dir, CURSOR_FILE, json.as_bytes(), durable)
}

/// Counters the queue persists in its directory, so that another process (a
/// CLI) can show them: events dropped, lines skipped, and any counter the
/// pipeline adds with [`Queue::add_counter`](super::Queue::add_counter).
///
/// A counter never written reads as 0. On disk: a JSON object of names to
/// numbers, `counters.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters(BTreeMap<String, u64>);

impl Serialize for Counters {
    /// A JSON object of names to numbers.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Counters {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(Self)
    }
}

impl Counters {
    /// Envelopes dropped because the queue was over `max_bytes` or older than
    /// `max_age` before they were acknowledged.
    pub const DROPPED_BY_BOUNDS: &'static str = "dropped_by_bounds";
    /// Torn or corrupt lines that left the queue undelivered: a torn tail cut
    /// off before an append, corrupt lines an acknowledgement moved past, or
    /// that were in a segment the bounds dropped. Each line counts once.
    pub const TORN_LINES_SKIPPED: &'static str = "torn_lines_skipped";
    /// Envelopes not queued because their line would exceed the longest line
    /// the queue reads (1 MiB).
    pub const DROPPED_OVERSIZED: &'static str = "dropped_oversized";
    /// Envelopes a sink refused for good because one was too large to send.
    pub const DROPPED_TOO_LARGE: &'static str = "dropped_too_large";
    /// Envelopes a sink rejected as malformed, moved to the dead-letter file.
    pub const DEAD_LETTERED: &'static str = "dead_lettered";
    /// Times the counters file could not be parsed and was reset.
    pub const COUNTERS_RESET: &'static str = "counters_reset";
    /// Times the cursor file could not be parsed and was reset.
    pub const CURSOR_RESET: &'static str = "cursor_reset";

    /// The counter `name`, 0 if it was never written.
    #[must_use]
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// [`Self::DROPPED_BY_BOUNDS`].
    #[must_use]
    pub fn dropped_by_bounds(&self) -> u64 {
        self.get(Self::DROPPED_BY_BOUNDS)
    }

    /// [`Self::TORN_LINES_SKIPPED`].
    #[must_use]
    pub fn torn_lines_skipped(&self) -> u64 {
        self.get(Self::TORN_LINES_SKIPPED)
    }

    /// Every counter written, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(name, &value)| (name.as_str(), value))
    }

    /// Whether no counter was ever written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `n` to `name`, saturating.
    pub(crate) fn add(&mut self, name: &str, n: u64) {
        if n > 0 {
            let value = self.0.entry(name.to_owned()).or_default();
            *value = value.saturating_add(n);
        }
    }

    /// Adds every counter of `other`.
    pub(crate) fn merge(&mut self, other: &Self) {
        for (name, value) in other.iter() {
            self.add(name, value);
        }
    }
}

/// The key in `counters.json` that marks the newest segment of the last
/// eviction of the oldest segments: it and every older segment are counted
/// as dropped, deleted or not yet (a crash between counting and deleting).
/// Not a counter; once the segments are gone it stays, harmless, since
/// segment ids only grow.
const EVICTED_THROUGH: &str = "evicted_through";
/// The key that marks one segment, not among the oldest, whose eviction is
/// counted but which may not be deleted yet (a segment aged out while an
/// older one did not, after the clock was set back); not a counter.
const EVICTING: &str = "evicting_segment";

/// The segments that an eviction counted as dropped and a crash may have
/// left on disk: readers skip them, the next append deletes them uncounted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Eviction {
    /// Every segment through this id.
    pub(crate) through: Option<u64>,
    /// This one segment.
    pub(crate) one: Option<u64>,
}

impl Eviction {
    /// Whether segment `id` was counted as dropped.
    pub(crate) fn covers(self, id: u64) -> bool {
        self.through.is_some_and(|through| id <= through) || self.one == Some(id)
    }
}

/// What `counters.json` holds: the counters, and the eviction marks.
struct CountersFile {
    counters: Counters,
    eviction: Eviction,
}

fn load_file(dir: &Path) -> Result<(CountersFile, Option<QueueProblem>), QueueError> {
    let empty = CountersFile {
        counters: Counters::default(),
        eviction: Eviction::default(),
    };
    let Some(bytes) = files::read_optional(dir, COUNTERS_FILE)? else {
        return Ok((empty, None));
    };
    match serde_json::from_slice::<BTreeMap<String, u64>>(&bytes) {
        Ok(mut map) => {
            let eviction = Eviction {
                through: map.remove(EVICTED_THROUGH),
                one: map.remove(EVICTING),
            };
            let file = CountersFile {
                counters: Counters(map),
                eviction,
            };
            Ok((file, None))
        }
        Err(error) => Ok((
            empty,
            Some(QueueProblem::CorruptCounters {
                path: dir.join(COUNTERS_FILE),
                reason: error.to_string(),
            }),
        )),
    }
}

/// Reads the counters; a missing file is all zeros, and so is an unreadable
/// one, reported as a problem.
pub(crate) fn load_counters(dir: &Path) -> Result<(Counters, Option<QueueProblem>), QueueError> {
    load_file(dir).map(|(file, problem)| (file.counters, problem))
}

/// The marks of the evictions so far (see [`add_counters_evicting`]).
pub(crate) fn pending_eviction(dir: &Path) -> Result<Eviction, QueueError> {
    load_file(dir).map(|(file, _)| file.eviction)
}

/// What a counters write does with the eviction marks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Leave them as they are.
    Keep,
    /// Every segment through this id is evicted.
    Through(u64),
    /// This one segment is evicted.
    One(u64),
    /// The one segment marked is gone: remove its mark.
    ClearOne,
}

/// Adds `delta` to the persisted counters (under the exclusive lock),
/// keeping the eviction marks. A corrupt counters file is moved aside and
/// counting starts again, the reset itself counted; the problem is
/// returned.
pub(crate) fn add_counters(
    dir: &Path,
    delta: &Counters,
) -> Result<Option<QueueProblem>, QueueError> {
    write_counters(dir, delta, Mark::Keep)
}

/// Adds `delta`, the count of an eviction, and sets `mark` in the same
/// atomic write, before the segments are deleted: a crash before the
/// deletion leaves the mark, readers skip the segments, and the next append
/// deletes them without counting them again. Counting and deleting are so
/// consistent after any crash.
pub(crate) fn add_counters_evicting(
    dir: &Path,
    delta: &Counters,
    mark: Mark,
) -> Result<Option<QueueProblem>, QueueError> {
    write_counters(dir, delta, mark)
}

fn write_counters(
    dir: &Path,
    delta: &Counters,
    mark: Mark,
) -> Result<Option<QueueProblem>, QueueError> {
    let (mut file, problem) = load_file(dir)?;
    let before = file.eviction;
    let mut eviction = before;
    match mark {
        Mark::Keep => {}
        Mark::Through(id) => eviction.through = Some(before.through.map_or(id, |old| old.max(id))),
        Mark::One(id) => eviction.one = Some(id),
        Mark::ClearOne => eviction.one = None,
    }
    if delta.is_empty() && eviction == before {
        return Ok(None);
    }
    if problem.is_some() {
        let from = dir.join(COUNTERS_FILE);
        let to = dir.join(CORRUPT_COUNTERS_FILE);
        std::fs::rename(&from, &to).map_err(|error| QueueError::io("move aside", &from, error))?;
        file.counters.add(Counters::COUNTERS_RESET, 1);
    }
    file.counters.merge(delta);
    let mut map = file.counters.0;
    if let Some(id) = eviction.through {
        map.insert(EVICTED_THROUGH.to_owned(), id);
    }
    if let Some(id) = eviction.one {
        map.insert(EVICTING.to_owned(), id);
    }
    let json = serde_json::to_vec(&map).unwrap_or_default();
    files::write_atomic(dir, COUNTERS_FILE, &json)?;
    Ok(problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip_as_a_flat_object() {
        let mut counters = Counters::default();
        counters.add(Counters::DROPPED_BY_BOUNDS, 3);
        counters.add("dropped_by_guard", 2);
        counters.add("dropped_by_guard", 0);
        counters.add("nothing", 0);
        let json = serde_json::to_string(&counters).unwrap();
        assert_eq!(json, r#"{"dropped_by_bounds":3,"dropped_by_guard":2}"#);
        assert_eq!(serde_json::from_str::<Counters>(&json).unwrap(), counters);
        assert_eq!(counters.get("missing"), 0);
    }

    #[test]
    fn counters_saturate() {
        let mut counters = Counters::default();
        counters.add("n", u64::MAX);
        counters.add("n", 5);
        assert_eq!(counters.get("n"), u64::MAX);
    }

    #[test]
    fn a_corrupt_counters_file_is_reset_and_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(COUNTERS_FILE),
            b"{\"dropped_by_bounds\": -1",
        )
        .unwrap();
        let (counters, problem) = load_counters(dir.path()).unwrap();
        assert!(counters.is_empty());
        let problem = problem.unwrap();
        assert!(problem.to_string().contains(COUNTERS_FILE), "{problem}");

        let mut delta = Counters::default();
        delta.add("dropped_by_guard", 1);
        assert!(add_counters(dir.path(), &delta).unwrap().is_some());
        let (counters, problem) = load_counters(dir.path()).unwrap();
        assert!(problem.is_none());
        assert_eq!(counters.get(Counters::COUNTERS_RESET), 1);
        assert_eq!(counters.get("dropped_by_guard"), 1);
        assert!(dir.path().join(CORRUPT_COUNTERS_FILE).exists());
    }

    #[test]
    fn a_corrupt_cursor_reads_as_the_start() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            load_cursor(dir.path()).unwrap(),
            (Position::default(), None)
        );
        save_cursor(
            dir.path(),
            Position {
                segment: 4,
                offset: 17,
            },
        )
        .unwrap();
        assert_eq!(
            load_cursor(dir.path()).unwrap().0,
            Position {
                segment: 4,
                offset: 17
            }
        );
        std::fs::write(dir.path().join(CURSOR_FILE), b"garbage").unwrap();
        let (position, problem) = load_cursor(dir.path()).unwrap();
        assert_eq!(position, Position::default());
        assert!(matches!(problem, Some(QueueProblem::CorruptCursor { .. })));
    }
}

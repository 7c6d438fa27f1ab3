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

/// The key in `counters.json` that marks a segment whose eviction is
/// counted but which may not be deleted yet; not a counter.
const EVICTING: &str = "evicting_segment";

/// What `counters.json` holds: the counters, and the segment being evicted.
struct CountersFile {
    counters: Counters,
    evicting: Option<u64>,
}

fn load_file(dir: &Path) -> Result<(CountersFile, Option<QueueProblem>), QueueError> {
    let empty = CountersFile {
        counters: Counters::default(),
        evicting: None,
    };
    let Some(bytes) = files::read_optional(dir, COUNTERS_FILE)? else {
        return Ok((empty, None));
    };
    match serde_json::from_slice::<BTreeMap<String, u64>>(&bytes) {
        Ok(mut map) => {
            let evicting = map.remove(EVICTING);
            let file = CountersFile {
                counters: Counters(map),
                evicting,
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

/// The segment a crash may have left behind after its eviction was counted
/// (see [`add_counters_evicting`]), if any.
pub(crate) fn pending_eviction(dir: &Path) -> Result<Option<u64>, QueueError> {
    load_file(dir).map(|(file, _)| file.evicting)
}

/// What a counters write does with the mark of a pending eviction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Leave it as it is.
    Keep,
    /// Mark this segment.
    Set(u64),
    /// The eviction is finished: remove the mark.
    Clear,
}

/// Adds `delta` to the persisted counters (under the exclusive lock),
/// keeping the mark of a pending eviction. A corrupt counters file is moved
/// aside and counting starts again, the reset itself counted; the problem is
/// returned.
pub(crate) fn add_counters(
    dir: &Path,
    delta: &Counters,
) -> Result<Option<QueueProblem>, QueueError> {
    write_counters(dir, delta, Mark::Keep)
}

/// Removes the mark of a pending eviction, once its segment is gone.
pub(crate) fn finish_eviction(dir: &Path) -> Result<Option<QueueProblem>, QueueError> {
    write_counters(dir, &Counters::default(), Mark::Clear)
}

/// Adds `delta`, the count of segment `id`'s eviction, and marks `id` in
/// the same atomic write, before the segment is deleted: a crash before the
/// deletion leaves the mark, and the next append deletes the segment without
/// counting it again. Counting and deleting are so consistent after any
/// crash.
pub(crate) fn add_counters_evicting(
    dir: &Path,
    delta: &Counters,
    id: u64,
) -> Result<Option<QueueProblem>, QueueError> {
    write_counters(dir, delta, Mark::Set(id))
}

fn write_counters(
    dir: &Path,
    delta: &Counters,
    mark: Mark,
) -> Result<Option<QueueProblem>, QueueError> {
    let (mut file, problem) = load_file(dir)?;
    let evicting = match mark {
        Mark::Keep => file.evicting,
        Mark::Set(id) => Some(id),
        Mark::Clear => None,
    };
    if delta.is_empty() && file.evicting == evicting {
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
    if let Some(id) = evicting {
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

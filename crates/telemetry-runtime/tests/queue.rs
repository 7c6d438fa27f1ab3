//! The durable queue through its public API, on real files in temporary
//! directories, including two processes appending to one queue.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::value::RawValue;
use telemetry_runtime::Timestamp;
use telemetry_runtime::queue::{Counters, Envelope, Queue, QueueConfig, QueueError, QueueProblem};
use time::OffsetDateTime;

fn properties(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap()
}

/// Envelope number `i`, its number in the properties.
fn envelope(i: usize) -> Envelope {
    Envelope::new("search", "client-1", properties(&format!(r#"{{"i":{i}}}"#)))
}

/// The number in an envelope's properties.
fn number(envelope: &Envelope, key: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(envelope.properties.get()).unwrap();
    value[key].as_u64().unwrap()
}

fn numbers(envelopes: &[Envelope]) -> Vec<u64> {
    envelopes
        .iter()
        .map(|envelope| number(envelope, "i"))
        .collect()
}

fn days_ago(days: i64) -> Timestamp {
    Timestamp::from(OffsetDateTime::now_utc() - time::Duration::days(days))
}

fn open(dir: &Path) -> Queue {
    Queue::open(QueueConfig::new(dir)).unwrap()
}

/// A queue of small segments (`segment_bytes`) in a fresh directory.
fn small_queue(dir: &Path, segment_bytes: u64, max_bytes: u64) -> Queue {
    Queue::open(QueueConfig {
        segment_bytes,
        max_bytes,
        ..QueueConfig::new(dir)
    })
    .unwrap()
}

/// The id in a segment file's name.
fn segment_id(path: &Path) -> u64 {
    let name = path.file_stem().unwrap().to_str().unwrap();
    name.trim_start_matches("segment-").parse().unwrap()
}

/// The segment files, oldest first.
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            name.starts_with("segment-") && path.extension().is_some_and(|ext| ext == "jsonl")
        })
        .collect();
    files.sort();
    files
}

/// Every line of every segment parses as an envelope and ends with `\n`.
fn assert_every_line_is_whole(dir: &Path) -> usize {
    let mut lines = 0;
    for path in segment_files(dir) {
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{}",
            path.display()
        );
        for line in text.lines() {
            serde_json::from_str::<Envelope>(line)
                .unwrap_or_else(|error| panic!("{}: {error}: {line}", path.display()));
            lines += 1;
        }
    }
    lines
}

#[test]
fn append_and_read_round_trip_every_field_in_order() {
    let temporary = tempfile::tempdir().unwrap();
    // The directory is created, with missing parents.
    let dir = temporary.path().join("state").join("queue");
    let queue = open(&dir);
    assert!(dir.is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    let mut sent = vec![Envelope {
        uuid: uuid::Uuid::now_v7(),
        event: "odd \"event\"\n\u{e9}".into(),
        distinct_id: "client\t2".into(),
        timestamp: Timestamp::parse("2026-01-23T12:34:56.123456789Z").unwrap(),
        properties: properties(r#"{"nested":{"list":[1,2.5,"x"],"none":null},"flag":true}"#),
    }];
    sent.extend((0..5).map(envelope));
    let report = queue.append(&sent[..2]).unwrap();
    assert_eq!(report.appended, 2);
    assert!(report.bytes_written > 0);
    queue.append(&sent[2..]).unwrap();

    let read = queue.read_all().unwrap();
    assert_eq!(read.skipped_lines, 0);
    assert_eq!(read.envelopes, sent);
    assert!(read.problems.is_empty());

    // Created one after the other, the v7 UUIDs sort in creation order.
    let uuids: Vec<_> = read
        .envelopes
        .iter()
        .map(|envelope| envelope.uuid)
        .collect();
    assert!(uuids.iter().all(|uuid| uuid.get_version_num() == 7));
    assert!(uuids.windows(2).all(|pair| pair[0] < pair[1]), "{uuids:?}");

    // The on-disk line has the fields in order.
    let text = fs::read_to_string(&segment_files(&dir)[0]).unwrap();
    assert!(text.starts_with(r#"{"uuid":""#), "{text}");
    let second = text.lines().nth(1).unwrap();
    let keys = [
        "\"uuid\"",
        "\"event\"",
        "\"distinct_id\"",
        "\"timestamp\"",
        "\"properties\"",
    ];
    let places: Vec<_> = keys.iter().map(|key| second.find(key).unwrap()).collect();
    assert!(places.windows(2).all(|pair| pair[0] < pair[1]), "{second}");

    // Another instance (another process) reads the same.
    assert_eq!(open(&dir).read_all().unwrap().envelopes, sent);

    let stats = queue.stats().unwrap();
    assert_eq!(stats.events, 6);
    assert_eq!(stats.segments, 1);
    assert_eq!(
        stats.bytes,
        fs::metadata(&segment_files(&dir)[0]).unwrap().len()
    );
    assert_eq!(stats.oldest, Some(sent[0].timestamp));
    assert_eq!(stats.newest, Some(sent[5].timestamp));
    assert!(stats.counters.is_empty());
}

#[test]
fn one_append_of_1000_envelopes_is_one_batch() {
    let temporary = tempfile::tempdir().unwrap();
    let queue = open(temporary.path());
    let sent: Vec<_> = (0..1000).map(envelope).collect();
    let report = queue.append(&sent).unwrap();
    assert_eq!(report.appended, 1000);
    assert_eq!(report.dropped_by_bounds, 0);
    let read = queue.read_all().unwrap();
    assert_eq!(read.envelopes, sent);
    assert_eq!(read.skipped_lines, 0);
    // One batch, one segment.
    assert_eq!(segment_files(temporary.path()).len(), 1);
    assert_eq!(assert_every_line_is_whole(temporary.path()), 1000);
}

#[test]
fn an_empty_append_does_nothing() {
    let temporary = tempfile::tempdir().unwrap();
    let queue = open(temporary.path());
    assert_eq!(queue.append(&[]).unwrap().appended, 0);
    assert!(segment_files(temporary.path()).is_empty());
}

#[test]
fn segments_rotate_at_segment_bytes() {
    let temporary = tempfile::tempdir().unwrap();
    let queue = small_queue(temporary.path(), 1000, 1 << 20);
    let sent: Vec<_> = (0..40).map(envelope).collect();
    for one in sent.chunks(1) {
        queue.append(one).unwrap();
    }
    let files = segment_files(temporary.path());
    assert!(files.len() >= 5, "{files:?}");
    for path in &files {
        assert!(
            fs::metadata(path).unwrap().len() <= 1000,
            "{}",
            path.display()
        );
    }
    assert_eq!(queue.read_all().unwrap().envelopes, sent);
    assert_eq!(queue.stats().unwrap().segments, files.len());

    // A batch larger than a segment gets one of its own, whole.
    let big: Vec<_> = (40..60).map(envelope).collect();
    queue.append(&big).unwrap();
    let last = segment_files(temporary.path()).pop().unwrap();
    assert_eq!(fs::read_to_string(last).unwrap().lines().count(), 20);
}

#[test]
fn max_bytes_drops_the_oldest_segments_and_counts_their_events() {
    let temporary = tempfile::tempdir().unwrap();
    let queue = small_queue(temporary.path(), 1000, 3000);
    let mut dropped = 0;
    for i in 0..60 {
        dropped += queue.append(&[envelope(i)]).unwrap().dropped_by_bounds;
    }
    let stats = queue.stats().unwrap();
    assert!(stats.bytes <= 3000, "{stats:?}");
    assert!(dropped > 0);
    assert_eq!(stats.counters.dropped_by_bounds(), dropped);
    assert_eq!(stats.events as u64 + dropped, 60);

    // What is left is the newest, in order: the oldest went first.
    let kept = numbers(&queue.read_all().unwrap().envelopes);
    let expected: Vec<u64> = (dropped..60).collect();
    assert_eq!(kept, expected);
}

/// Sets when the queue last wrote to `segment`, as if `days` had passed.
fn written_days_ago(segment: &Path, days: u64) {
    let at = std::time::SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    OpenOptions::new()
        .write(true)
        .open(segment)
        .unwrap()
        .set_modified(at)
        .unwrap();
}

#[test]
fn max_age_drops_segments_not_written_to_for_longer_than_the_bound() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let config = QueueConfig {
        segment_bytes: 400,
        max_age: Duration::from_secs(30 * 24 * 3600),
        ..QueueConfig::new(dir)
    };
    let queue = Queue::open(config).unwrap();
    queue.append(&[envelope(0), envelope(1)]).unwrap();
    queue.append(&[envelope(2), envelope(3)]).unwrap();
    queue.append(&[envelope(4)]).unwrap();
    let segments = segment_files(dir);
    assert_eq!(segments.len(), 3, "{segments:?}");
    // Segment 1 was last written 40 days ago, segment 2 29 days ago.
    written_days_ago(&segments[0], 40);
    written_days_ago(&segments[1], 29);

    let report = queue.append(&[envelope(5)]).unwrap();
    assert_eq!((report.segments_dropped, report.dropped_by_bounds), (1, 2));
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [2, 3, 4, 5]);
    assert_eq!(queue.stats().unwrap().counters.dropped_by_bounds(), 2);

    // A year-old segment goes once another takes the appends; the 29-day-old
    // one stays.
    written_days_ago(segment_files(dir).last().unwrap(), 365);
    let report = queue.append(&[envelope(6), envelope(7)]).unwrap();
    assert_eq!(report.dropped_by_bounds, 2);
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [2, 3, 6, 7]);
}

#[test]
fn an_event_s_own_timestamp_never_ages_it_out_nor_its_neighbours() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = Queue::open(QueueConfig {
        max_age: Duration::from_secs(30 * 24 * 3600),
        ..QueueConfig::new(dir)
    })
    .unwrap();
    let month_ago = days_ago(31);
    let year_ago = days_ago(365);
    let backdated = |i: usize, timestamp: Timestamp| Envelope {
        timestamp,
        ..envelope(i)
    };
    // A recent event, then events a caller stamped 31 days and a year ago,
    // in the same segment and in later appends.
    queue
        .append(&[envelope(0), backdated(1, month_ago)])
        .unwrap();
    let report = queue
        .append(&[backdated(2, year_ago), envelope(3)])
        .unwrap();
    assert_eq!(report.dropped_by_bounds, 0);
    let kept = queue.read_all().unwrap().envelopes;
    assert_eq!(numbers(&kept), [0, 1, 2, 3]);
    // Delivered as given.
    assert_eq!(kept[1].timestamp, month_ago);
    assert_eq!(kept[2].timestamp, year_ago);
}

#[test]
fn an_eviction_counted_but_not_finished_by_a_crash_is_finished_and_not_counted_twice() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = small_queue(dir, 400, 1 << 20);
    queue.append(&[envelope(0), envelope(1)]).unwrap();
    queue.append(&[envelope(2), envelope(3)]).unwrap();
    let first = segment_files(dir).remove(0);
    let id = segment_id(&first);
    // The state a SIGKILL leaves between counting the first segment's
    // eviction and deleting it: counted and marked, still on disk.
    fs::write(
        dir.join("counters.json"),
        format!(r#"{{"dropped_by_bounds":2,"evicting_segment":{id}}}"#),
    )
    .unwrap();
    assert_eq!(queue.stats().unwrap().counters.dropped_by_bounds(), 2);
    assert!(
        queue
            .stats()
            .unwrap()
            .counters
            .iter()
            .all(|(name, _)| name != "evicting_segment"),
        "the mark is not a counter"
    );
    // Counted as dropped, so never delivered: readers skip the segment.
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [2, 3]);
    assert_eq!(queue.stats().unwrap().events, 2);
    let batch = queue.peek(1).unwrap();
    assert_eq!(numbers(&batch.envelopes), [2]);
    // Other changes keep the mark until the eviction is finished.
    queue.ack(&batch).unwrap();
    queue.add_counter("dropped_by_guard", 1).unwrap();
    let on_disk = fs::read_to_string(dir.join("counters.json")).unwrap();
    assert!(on_disk.contains("evicting_segment"), "{on_disk}");

    let report = queue.append(&[envelope(4)]).unwrap();
    assert_eq!(report.dropped_by_bounds, 0, "already counted");
    assert!(!first.exists(), "the interrupted eviction is finished");
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [3, 4]);
    assert_eq!(queue.stats().unwrap().counters.dropped_by_bounds(), 2);
    // The mark may stay: it names a segment that is gone, and ids only grow.
    queue.append(&[envelope(5)]).unwrap();
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [3, 4, 5]);
}

#[test]
fn oldest_segments_counted_by_one_mark_and_left_by_a_crash_are_skipped_and_not_counted_twice() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = small_queue(dir, 400, 1 << 20);
    for pair in 0..3 {
        queue
            .append(&[envelope(2 * pair), envelope(2 * pair + 1)])
            .unwrap();
    }
    let segments = segment_files(dir);
    assert_eq!(segments.len(), 3);
    // The state a crash leaves after counting the two oldest segments with
    // one mark, before deleting them.
    fs::write(
        dir.join("counters.json"),
        format!(
            r#"{{"dropped_by_bounds":4,"evicted_through":{}}}"#,
            segment_id(&segments[1])
        ),
    )
    .unwrap();
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [4, 5]);
    assert_eq!(queue.stats().unwrap().events, 2);
    assert!(
        queue
            .stats()
            .unwrap()
            .counters
            .iter()
            .all(|(name, _)| name != "evicted_through"),
        "the mark is not a counter"
    );
    let report = queue.append(&[envelope(6)]).unwrap();
    assert_eq!(report.dropped_by_bounds, 0, "already counted");
    assert_eq!(report.segments_dropped, 2);
    assert!(!segments[0].exists() && !segments[1].exists());
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [4, 5, 6]);
    assert_eq!(queue.stats().unwrap().counters.dropped_by_bounds(), 4);
}

#[test]
fn a_full_queue_drops_its_oldest_segments_with_one_counted_mark() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    // Segments of two envelopes.
    let queue = small_queue(dir, 300, 1 << 20);
    for pair in 0..3 {
        queue
            .append(&[envelope(2 * pair), envelope(2 * pair + 1)])
            .unwrap();
    }
    assert_eq!(segment_files(dir).len(), 3);
    // Under a bound of one segment, the next batch pushes out all three.
    let queue = small_queue(dir, 300, 300);
    let report = queue
        .append(&(6..12).map(envelope).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(report.segments_dropped, 3);
    assert_eq!(report.dropped_by_bounds, 6);
    let on_disk = fs::read_to_string(dir.join("counters.json")).unwrap();
    assert!(on_disk.contains("evicted_through"), "{on_disk}");
    assert!(!on_disk.contains("evicting_segment"), "{on_disk}");
    assert_eq!(
        numbers(&queue.read_all().unwrap().envelopes),
        (6..12).collect::<Vec<_>>()
    );
    assert_eq!(queue.stats().unwrap().counters.dropped_by_bounds(), 6);
}

#[test]
fn a_segment_another_queue_appended_to_is_counted_whole_when_dropped() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    // Two queues on one directory, as two processes would have: each knows
    // only the lines it wrote itself.
    let mine = small_queue(dir, 1000, 1000);
    let other = small_queue(dir, 1000, 1000);
    mine.append(&[envelope(0), envelope(1)]).unwrap();
    other.append(&[envelope(2)]).unwrap();
    assert_eq!(segment_files(dir).len(), 1);
    // A batch that needs a new segment takes the queue past its bound.
    let report = mine
        .append(&(3..9).map(envelope).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(report.segments_dropped, 1, "{report:?}");
    assert_eq!(report.dropped_by_bounds, 3, "the other queue's line counts");
    assert_eq!(
        numbers(&mine.read_all().unwrap().envelopes),
        (3..9).collect::<Vec<_>>()
    );
    // Two of them delivered; the rest go, counted from the cursor, by
    // whichever queue's append takes the bound past.
    let batch = mine.peek(2).unwrap();
    mine.ack(&batch).unwrap();
    other.append(&[envelope(9)]).unwrap();
    mine.append(&(10..16).map(envelope).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(
        numbers(&mine.read_all().unwrap().envelopes),
        (10..16).collect::<Vec<_>>()
    );
    // 0-2, then 5-8, then 9: every envelope neither delivered nor queued.
    assert_eq!(mine.stats().unwrap().counters.dropped_by_bounds(), 8);
}

#[test]
fn evictions_are_counted_exactly_as_segments_leave() {
    // Every envelope ever appended is either still queued or counted as
    // dropped: with the count written before each deletion, nothing in
    // between can make the two disagree.
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = small_queue(dir, 300, 900);
    for i in 0..60 {
        queue
            .append(&[envelope(2 * i), envelope(2 * i + 1)])
            .unwrap();
    }
    let stats = queue.stats().unwrap();
    assert!(stats.counters.dropped_by_bounds() > 0);
    assert_eq!(
        stats.events as u64 + stats.counters.dropped_by_bounds(),
        120
    );
}

#[test]
fn a_torn_last_line_is_skipped_then_cut_off_before_the_next_append() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = open(dir);
    let sent: Vec<_> = (0..10).map(envelope).collect();
    queue.append(&sent).unwrap();

    // A crash in the middle of writing the last line.
    let segment = segment_files(dir).pop().unwrap();
    let len = fs::metadata(&segment).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(len - 25)
        .unwrap();

    let read = queue.read_all().unwrap();
    assert_eq!(read.envelopes, sent[..9]);
    assert_eq!(read.skipped_lines, 1);
    assert_eq!(queue.stats().unwrap().skipped_lines, 1);

    // A new process appends: the torn fragment is cut off, not glued to the
    // first new line.
    let more: Vec<_> = (10..15).map(envelope).collect();
    let report = open(dir).append(&more).unwrap();
    assert!(report.torn_tail_removed);
    let read = queue.read_all().unwrap();
    assert_eq!(read.skipped_lines, 0);
    assert_eq!(read.envelopes, [&sent[..9], &more[..]].concat());
    assert_eq!(assert_every_line_is_whole(dir), 14);
    assert_eq!(queue.stats().unwrap().counters.torn_lines_skipped(), 1);

    // Appending again finds nothing to repair.
    assert!(!queue.append(&[envelope(15)]).unwrap().torn_tail_removed);
}

#[test]
fn a_corrupt_line_in_the_middle_is_skipped_and_counted_when_acknowledged() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = open(dir);
    queue.append(&[envelope(0), envelope(1)]).unwrap();
    let segment = segment_files(dir).pop().unwrap();
    let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
    file.write_all(b"{\"uuid\":\"not a uuid\"}\n\xff\xfe garbage\n")
        .unwrap();
    drop(file);
    queue.append(&[envelope(2)]).unwrap();

    let read = queue.read_all().unwrap();
    assert_eq!(numbers(&read.envelopes), [0, 1, 2]);
    assert_eq!(read.skipped_lines, 2);

    let batch = queue.peek(10).unwrap();
    assert_eq!(numbers(&batch.envelopes), [0, 1, 2]);
    assert_eq!(batch.skipped_lines, 2);
    queue.ack(&batch).unwrap();
    assert_eq!(queue.counters().unwrap().torn_lines_skipped(), 2);
    // Acknowledging again does not count them again.
    queue.ack(&batch).unwrap();
    assert_eq!(queue.counters().unwrap().torn_lines_skipped(), 2);
}

#[test]
fn ack_removes_exactly_the_batch_and_survives_reopening() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = open(dir);
    let sent: Vec<_> = (0..10).map(envelope).collect();
    queue.append(&sent).unwrap();

    let batch = queue.peek(4).unwrap();
    assert_eq!(batch.envelopes, sent[..4]);
    assert_eq!(batch.len(), 4);
    // Peeking changes nothing.
    assert_eq!(queue.peek(4).unwrap(), batch);
    assert_eq!(queue.read_all().unwrap().envelopes, sent);

    queue.ack(&batch).unwrap();
    assert_eq!(queue.read_all().unwrap().envelopes, sent[4..]);

    // A new process sees the acknowledgement.
    let reopened = open(dir);
    assert_eq!(reopened.stats().unwrap().events, 6);
    let rest = reopened.peek(100).unwrap();
    assert_eq!(rest.envelopes, sent[4..]);
    reopened.ack(&rest).unwrap();
    // Acknowledging twice is harmless.
    reopened.ack(&rest).unwrap();
    reopened.ack(&batch).unwrap();

    let stats = queue.stats().unwrap();
    assert_eq!((stats.events, stats.segments, stats.bytes), (0, 0, 0));
    assert!(queue.peek(10).unwrap().is_empty());
    assert!(
        fs::read_to_string(dir.join("cursor.json"))
            .unwrap()
            .contains("\"segment\"")
    );

    // New appends after everything was acknowledged are not lost.
    queue.append(&[envelope(10)]).unwrap();
    assert_eq!(numbers(&queue.peek(10).unwrap().envelopes), [10]);
}

#[test]
fn ack_across_segments_removes_consumed_segments() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = small_queue(dir, 600, 1 << 20);
    for i in 0..20 {
        queue.append(&[envelope(i)]).unwrap();
    }
    let before = segment_files(dir).len();
    assert!(before >= 5);

    let mut delivered = Vec::new();
    loop {
        let batch = queue.peek(7).unwrap();
        if batch.is_empty() {
            break;
        }
        delivered.extend(numbers(&batch.envelopes));
        queue.ack(&batch).unwrap();
        let after = segment_files(dir).len();
        assert!(after <= before);
        // An appender in between is fine.
        if delivered.len() == 7 {
            queue.append(&[envelope(20)]).unwrap();
        }
    }
    assert_eq!(delivered, (0..=20).collect::<Vec<u64>>());
    assert!(segment_files(dir).is_empty());
}

#[test]
fn purge_deletes_everything_and_an_old_ack_afterwards_is_harmless() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = small_queue(dir, 600, 1 << 20);
    for i in 0..8 {
        queue.append(&[envelope(i)]).unwrap();
    }
    let batch = queue.peek(3).unwrap();
    let acked = queue.peek(1).unwrap();
    queue.ack(&acked).unwrap();

    assert_eq!(queue.purge().unwrap(), 7);
    assert!(segment_files(dir).is_empty());
    assert_eq!(queue.read_all().unwrap().envelopes, []);

    queue.ack(&batch).unwrap();
    queue.append(&[envelope(100), envelope(101)]).unwrap();
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [100, 101]);
    queue.ack(&batch).unwrap();
    assert_eq!(numbers(&queue.peek(10).unwrap().envelopes), [100, 101]);
    assert_eq!(queue.purge().unwrap(), 2);
    assert_eq!(queue.purge().unwrap(), 0);
}

#[test]
fn ack_after_bounds_dropped_the_batch_is_harmless() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = small_queue(dir, 600, 1200);
    for i in 0..3 {
        queue.append(&[envelope(i)]).unwrap();
    }
    let batch = queue.peek(2).unwrap();
    assert_eq!(numbers(&batch.envelopes), [0, 1]);
    for i in 3..30 {
        queue.append(&[envelope(i)]).unwrap();
    }
    let before = queue.read_all().unwrap().envelopes;
    assert!(number(&before[0], "i") > 2);

    queue.ack(&batch).unwrap();
    assert_eq!(queue.read_all().unwrap().envelopes, before);
    let stats = queue.stats().unwrap();
    assert_eq!(stats.events as u64 + stats.counters.dropped_by_bounds(), 30);
}

#[test]
fn counters_persist_and_a_corrupt_file_is_reset_and_reported() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = open(dir);
    queue.add_counter("dropped_by_guard", 2).unwrap();
    queue.add_counter("dropped_channel_full", 0).unwrap();
    open(dir).add_counter("dropped_by_guard", 3).unwrap();
    let counters = open(dir).stats().unwrap().counters;
    assert_eq!(counters.get("dropped_by_guard"), 5);
    assert_eq!(counters.get("dropped_channel_full"), 0);
    assert_eq!(
        counters.iter().collect::<Vec<_>>(),
        [("dropped_by_guard", 5)]
    );

    fs::write(dir.join("counters.json"), "{\"dropped_by_guard\":").unwrap();
    let stats = queue.stats().unwrap();
    assert!(stats.counters.is_empty());
    assert!(
        matches!(&stats.problems[..], [QueueProblem::CorruptCounters { path, .. }] if path == &dir.join("counters.json")),
        "{:?}",
        stats.problems
    );
    assert!(stats.problems[0].to_string().contains("counters.json"));

    queue.add_counter("dropped_by_guard", 1).unwrap();
    let stats = queue.stats().unwrap();
    assert!(stats.problems.is_empty());
    assert_eq!(stats.counters.get("dropped_by_guard"), 1);
    assert_eq!(stats.counters.get(Counters::COUNTERS_RESET), 1);
}

#[test]
fn a_corrupt_cursor_makes_everything_unacknowledged_again() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = open(dir);
    queue
        .append(&(0..4).map(envelope).collect::<Vec<_>>())
        .unwrap();
    queue.ack(&queue.peek(2).unwrap()).unwrap();
    fs::write(dir.join("cursor.json"), "nonsense").unwrap();

    let read = queue.read_all().unwrap();
    assert_eq!(numbers(&read.envelopes), [0, 1, 2, 3]);
    assert!(matches!(
        &read.problems[..],
        [QueueProblem::CorruptCursor { .. }]
    ));

    let report = queue.append(&[envelope(4)]).unwrap();
    assert_eq!(report.problems.len(), 1);
    let stats = queue.stats().unwrap();
    assert!(stats.problems.is_empty());
    assert_eq!(stats.events, 5);
    assert_eq!(stats.counters.get(Counters::CURSOR_RESET), 1);
}

#[test]
fn other_files_in_the_directory_are_left_alone() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    fs::write(dir.join("notes.txt"), "not ours").unwrap();
    fs::write(dir.join("segment-1.jsonl"), "not a segment name").unwrap();
    fs::create_dir(dir.join("segment-00000000000000000001.jsonl.d")).unwrap();
    let queue = open(dir);
    queue.append(&[envelope(0)]).unwrap();
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [0]);
    assert_eq!(queue.purge().unwrap(), 1);
    assert!(dir.join("notes.txt").exists());
    assert!(dir.join("segment-1.jsonl").exists());

    // A file with a segment's name but garbage inside: lines skipped, no error.
    fs::write(
        dir.join("segment-00000000000000000050.jsonl"),
        b"\x00\x01 binary\n{}\n[1,2]\n",
    )
    .unwrap();
    let read = queue.read_all().unwrap();
    assert_eq!((read.envelopes.len(), read.skipped_lines), (0, 3));
    queue.append(&[envelope(1)]).unwrap();
    assert_eq!(numbers(&queue.read_all().unwrap().envelopes), [1]);
}

#[test]
fn a_segment_that_is_a_directory_is_an_error_naming_it() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path();
    let queue = open(dir);
    queue.append(&[envelope(0)]).unwrap();
    let bad = dir.join("segment-00000000000000000099.jsonl");
    fs::create_dir(&bad).unwrap();
    for error in [
        queue.read_all().unwrap_err(),
        queue.append(&[envelope(1)]).unwrap_err(),
        queue.stats().unwrap_err(),
        queue.peek(1).unwrap_err(),
    ] {
        assert!(matches!(error, QueueError::NotAFile { .. }), "{error:?}");
        assert_eq!(error.path(), bad);
        assert!(
            error.to_string().contains(&*bad.to_string_lossy()),
            "{error}"
        );
    }
}

#[test]
fn a_queue_directory_that_is_a_file_is_an_error_naming_it() {
    let temporary = tempfile::tempdir().unwrap();
    let file = temporary.path().join("queue");
    fs::write(&file, "").unwrap();
    let error = Queue::open(QueueConfig::new(&file)).unwrap_err();
    assert!(
        matches!(error, QueueError::NotADirectory { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&*file.to_string_lossy()),
        "{error}"
    );

    let below = file.join("sub");
    let error = Queue::open(QueueConfig::new(&below)).unwrap_err();
    assert!(error.to_string().contains("queue"), "{error}");
    assert!(error.path().starts_with(&file), "{error:?}");
}

#[test]
fn invalid_configurations_are_refused() {
    let temporary = tempfile::tempdir().unwrap();
    let base = QueueConfig::new(temporary.path());
    for config in [
        QueueConfig {
            segment_bytes: 0,
            ..base.clone()
        },
        QueueConfig {
            max_bytes: 10,
            segment_bytes: 100,
            ..base.clone()
        },
        QueueConfig {
            max_age: Duration::ZERO,
            ..base.clone()
        },
    ] {
        let error = Queue::open(config).unwrap_err();
        assert!(
            matches!(error, QueueError::InvalidConfig { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains(&*temporary.path().to_string_lossy())
        );
    }
    assert_eq!(base.max_bytes, 8 * 1024 * 1024);
    assert_eq!(base.segment_bytes, 1024 * 1024);
    assert_eq!(base.max_age, Duration::from_secs(30 * 24 * 3600));
}

#[cfg(unix)]
#[test]
fn permission_denied_is_an_error_naming_the_path() {
    use std::os::unix::fs::PermissionsExt;

    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path().join("queue");
    let queue = open(&dir);
    queue.append(&[envelope(0)]).unwrap();
    let segment = segment_files(&dir).pop().unwrap();
    fs::set_permissions(&segment, fs::Permissions::from_mode(0o000)).unwrap();
    let readable = fs::File::open(&segment).is_ok();
    let result = queue.read_all();
    fs::set_permissions(&segment, fs::Permissions::from_mode(0o600)).unwrap();
    if readable {
        // Running as root: permissions are not enforced, nothing to check.
        eprintln!("permissions not enforced for this user; skipped");
        return;
    }
    let error = result.unwrap_err();
    assert_eq!(
        error.io_error().map(std::io::Error::kind),
        Some(std::io::ErrorKind::PermissionDenied)
    );
    assert!(
        error.to_string().contains(&*segment.to_string_lossy()),
        "{error}"
    );

    // A read-only queue directory: the lock file cannot be created.
    let locked_out = temporary.path().join("locked");
    fs::create_dir(&locked_out).unwrap();
    fs::set_permissions(&locked_out, fs::Permissions::from_mode(0o500)).unwrap();
    let error = Queue::open(QueueConfig::new(&locked_out)).unwrap_err();
    fs::set_permissions(&locked_out, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(error.to_string().contains("queue.lock"), "{error}");
}

#[test]
fn threads_append_concurrently_without_losing_lines() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path().to_path_buf();
    let shared = small_queue(&dir, 4096, 1 << 30);
    std::thread::scope(|scope| {
        for thread in 0..4_u64 {
            let dir = dir.clone();
            let shared = &shared;
            scope.spawn(move || {
                // Half share one `Queue`, half open their own.
                let own = small_queue(&dir, 4096, 1 << 30);
                let queue = if thread % 2 == 0 { shared } else { &own };
                for seq in 0..250 {
                    let json = format!(r#"{{"thread":{thread},"seq":{seq}}}"#);
                    queue
                        .append(&[Envelope::new("t", "c", properties(&json))])
                        .unwrap();
                }
            });
        }
    });
    let read = shared.read_all().unwrap();
    assert_eq!((read.envelopes.len(), read.skipped_lines), (1000, 0));
    for thread in 0..4 {
        let seqs: Vec<u64> = read
            .envelopes
            .iter()
            .filter(|envelope| number(envelope, "thread") == thread)
            .map(|envelope| number(envelope, "seq"))
            .collect();
        assert_eq!(seqs, (0..250).collect::<Vec<u64>>());
    }
}

/// Set in a child process: `dir,count,tag`.
const CHILD: &str = "TELEMETRY_QUEUE_CHILD";

fn child_config(dir: &Path) -> QueueConfig {
    // Small segments, so that the processes also race to rotate.
    QueueConfig {
        segment_bytes: 32 * 1024,
        max_bytes: 1 << 30,
        ..QueueConfig::new(dir)
    }
}

/// Not a test on its own: does nothing unless [`CHILD`] is set, and then
/// appends `count` envelopes tagged `tag`, in small batches of 1 to 5.
#[test]
fn child_appender() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let mut parts = spec.rsplitn(3, ',');
    let (Some(tag), Some(count), Some(dir)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("{CHILD} must be dir,count,tag: {spec}");
    };
    let count: usize = count.parse().unwrap();
    let queue = Queue::open(child_config(Path::new(dir))).unwrap();
    let (mut seq, mut size) = (0, 1);
    while seq < count {
        let end = (seq + size).min(count);
        let batch: Vec<_> = (seq..end)
            .map(|i| Envelope::new("child", tag, properties(&format!(r#"{{"seq":{i}}}"#))))
            .collect();
        queue.append(&batch).unwrap();
        seq = end;
        size = size % 5 + 1;
    }
}

#[test]
fn two_processes_append_concurrently_without_losing_or_mixing_lines() {
    const COUNT: usize = 2000;
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path().join("queue");
    let queue = Queue::open(child_config(&dir)).unwrap();
    let executable = std::env::current_exe().unwrap();
    let children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|tag| {
            let child = Command::new(&executable)
                .args([
                    "child_appender",
                    "--exact",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env(CHILD, format!("{},{COUNT},{tag}", dir.display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (tag, child)
        })
        .collect();
    for (tag, child) in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "child {tag} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // The filter ran the one child test, not the whole file again.
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("1 passed"), "{stdout}");
    }

    let read = queue.read_all().unwrap();
    assert_eq!(read.skipped_lines, 0);
    assert_eq!(read.envelopes.len(), 2 * COUNT);
    assert_eq!(assert_every_line_is_whole(&dir), 2 * COUNT);
    let uuids: HashSet<_> = read
        .envelopes
        .iter()
        .map(|envelope| envelope.uuid)
        .collect();
    assert_eq!(uuids.len(), 2 * COUNT);
    for tag in ["a", "b"] {
        let seqs: Vec<u64> = read
            .envelopes
            .iter()
            .filter(|envelope| envelope.distinct_id == tag)
            .map(|envelope| number(envelope, "seq"))
            .collect();
        assert_eq!(seqs, (0..COUNT as u64).collect::<Vec<_>>(), "child {tag}");
    }
    assert!(segment_files(&dir).len() > 1);
}

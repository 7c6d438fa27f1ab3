//! The writer keeps pace with the courier: a burst that fits in the channel
//! is delivered whole under a small queue bound while the sink accepts, and
//! the bound still holds when the sink cannot deliver. The courier keeps a
//! second request in flight on a sink's second lane, and acknowledges in
//! queue order whatever the two lanes answer.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telemetry_runtime::policy::{self, DeliveryConfig, RetryPolicy};
use telemetry_runtime::queue::{Counters, Envelope, Queue, QueueConfig};
use telemetry_runtime::sink::{Sent, Sink, SinkError, SinkErrorKind};
use telemetry_runtime::{Telemetry, TelemetrySafe};

#[derive(TelemetrySafe)]
#[telemetry(event = "burst")]
struct Burst {
    /// A few hundred bytes, like a real event.
    label: String,
    n: u64,
}

fn burst(n: u64) -> Burst {
    Burst {
        label: "a label long enough to make each queued line a few hundred bytes, \
                as the properties of a real event are: backend, mode, language, model"
            .to_owned(),
        n,
    }
}

/// What every lane of a [`TestSink`] saw.
#[derive(Default)]
struct Seen {
    /// The `uuid`s of every batch accepted, in the order accepted.
    accepted: Mutex<Vec<String>>,
    /// Requests under way at once, now and at most.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    /// Requests made.
    attempts: AtomicUsize,
}

/// A sink that takes `pause` per request, fails the requests whose number
/// (counting from 0, over every lane) is in `fail`, or every request when
/// `down`, and offers a second lane when `lanes` is 2.
#[derive(Clone)]
struct TestSink {
    seen: Arc<Seen>,
    pause: Duration,
    fail: Arc<HashSet<usize>>,
    down: bool,
    lanes: usize,
    batch_size: usize,
}

impl TestSink {
    fn new(batch_size: usize) -> Self {
        Self {
            seen: Arc::default(),
            pause: Duration::from_millis(2),
            fail: Arc::default(),
            down: false,
            lanes: 1,
            batch_size,
        }
    }
}

impl Sink for TestSink {
    fn name(&self) -> String {
        "test".to_owned()
    }

    fn send(&mut self, batch: &[Envelope]) -> Result<Sent, SinkError> {
        let attempt = self.seen.attempts.fetch_add(1, Ordering::SeqCst);
        let now = self.seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.most_in_flight.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(self.pause);
        self.seen.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.down || self.fail.contains(&attempt) {
            return Err(SinkError::new(
                "test",
                SinkErrorKind::TRANSIENT,
                "connection refused",
            ));
        }
        let mut accepted = self.seen.accepted.lock().unwrap();
        accepted.extend(batch.iter().map(|envelope| envelope.uuid.to_string()));
        Ok(Sent::requests(1))
    }

    fn delivery(&self) -> DeliveryConfig {
        DeliveryConfig::default()
            .with_batch_size(self.batch_size)
            .with_interval(Duration::from_millis(50))
            .with_retry(RetryPolicy::new(
                5,
                Duration::from_millis(5),
                Duration::from_millis(20),
            ))
    }

    fn second_lane(&self) -> Option<Box<dyn Sink>> {
        (self.lanes == 2).then(|| Box::new(self.clone()) as Box<dyn Sink>)
    }
}

fn telemetry(dir: &tempfile::TempDir, sink: TestSink, max_bytes: u64) -> Telemetry {
    let telemetry = Telemetry::builder("myapp")
        .data_dir(dir.path())
        .env(|name| (name == "MYAPP_TELEMETRY_ENABLED").then(|| "1".to_owned()))
        .sink(sink)
        .queue_max_bytes(max_bytes)
        .channel_capacity(20_000)
        .build()
        .unwrap();
    assert!(telemetry.is_recording(), "{:?}", telemetry.problems());
    telemetry
}

fn dropped_by_bounds(dir: &tempfile::TempDir) -> u64 {
    Queue::open(QueueConfig::new(dir.path().join("queue")))
        .unwrap()
        .counters()
        .unwrap()
        .get(Counters::DROPPED_BY_BOUNDS)
}

#[test]
fn a_burst_that_fits_the_channel_is_delivered_whole_under_a_small_bound() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::new(100);
    let seen = Arc::clone(&sink.seen);
    // 5,000 lines of about 300 bytes: 1.5 MB against a 64 KiB bound.
    let telemetry = telemetry(&dir, sink, 64 << 10);
    for n in 0..5_000 {
        telemetry.capture(&burst(n));
    }
    telemetry.flush(Duration::from_secs(60)).unwrap();
    let accepted = seen.accepted.lock().unwrap().clone();
    let distinct: HashSet<&String> = accepted.iter().collect();
    assert_eq!(distinct.len(), 5_000, "{} accepted", accepted.len());
    assert_eq!(dropped_by_bounds(&dir), 0);
    assert_eq!(telemetry.counters().dropped_channel_full, 0);
}

#[test]
fn when_the_sink_cannot_deliver_the_bound_holds_and_the_writer_does_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TestSink::new(100);
    sink.down = true;
    let telemetry = telemetry(&dir, sink, 64 << 10);
    let started = std::time::Instant::now();
    for n in 0..5_000 {
        telemetry.capture(&burst(n));
    }
    // The writer answers a flush once everything is on disk; delivery fails.
    assert!(telemetry.flush(Duration::from_secs(30)).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the writer waited for a courier that cannot deliver: {:?}",
        started.elapsed()
    );
    let stats = Queue::open(QueueConfig::new(dir.path().join("queue")))
        .unwrap()
        .stats()
        .unwrap();
    // The bound holds: only the newest segment, one commit of the writer,
    // may take the queue past it.
    let one_commit = policy::WRITER_MAX_BATCH as u64 * 400;
    assert!(
        stats.bytes <= (64 << 10) + one_commit,
        "{} bytes queued",
        stats.bytes
    );
    let dropped = stats.counters.get(Counters::DROPPED_BY_BOUNDS);
    assert!(dropped > 0);
    assert_eq!(dropped + stats.events as u64, 5_000);
}

#[test]
fn two_requests_are_in_flight_and_every_event_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TestSink::new(50);
    sink.lanes = 2;
    sink.pause = Duration::from_millis(10);
    let seen = Arc::clone(&sink.seen);
    let telemetry = telemetry(&dir, sink, 8 << 20);
    for n in 0..2_000 {
        telemetry.capture(&burst(n));
    }
    telemetry.flush(Duration::from_secs(60)).unwrap();
    let accepted = seen.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 2_000, "each event delivered once");
    assert_eq!(accepted.iter().collect::<HashSet<_>>().len(), 2_000);
    assert_eq!(seen.most_in_flight.load(Ordering::SeqCst), 2);
}

#[test]
fn a_failure_on_either_lane_is_retried_in_queue_order_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TestSink::new(50);
    sink.lanes = 2;
    sink.pause = Duration::from_millis(5);
    // Early requests of both lanes fail: the first batch while its
    // successor is delivered, and later the other way round.
    sink.fail = Arc::new([0, 3, 6, 7, 12].into_iter().collect());
    let seen = Arc::clone(&sink.seen);
    let telemetry = telemetry(&dir, sink, 8 << 20);
    for n in 0..1_000 {
        telemetry.capture(&burst(n));
    }
    telemetry.flush(Duration::from_secs(60)).unwrap();
    let accepted = seen.accepted.lock().unwrap().clone();
    let distinct: HashSet<&String> = accepted.iter().collect();
    assert_eq!(distinct.len(), 1_000);
    // A batch delivered while the one before it failed is sent again, with
    // the same uuids, never lost.
    assert!(accepted.len() >= 1_000);
    let queue = Queue::open(QueueConfig::new(dir.path().join("queue"))).unwrap();
    assert_eq!(queue.stats().unwrap().events, 0);
}

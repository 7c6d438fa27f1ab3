//! Delivery of a batch that the destination accepts in part: the envelopes
//! it rejects one by one are settled, not retried, and kept in the
//! dead-letter file with the destination's reason.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use serde_json::value::RawValue;
use telemetry_runtime::Telemetry;
use telemetry_runtime::control::{Control, ControlError};
use telemetry_runtime::queue::{Counters, Envelope, Queue, QueueConfig};
use telemetry_runtime::sink::{Rejection, Sent, Sink, SinkError};

/// Accepts every batch, rejecting the envelopes at the positions it is
/// given; records the batches it saw.
struct PartialSink {
    rejections: Vec<Rejection>,
    seen: Arc<Mutex<Vec<usize>>>,
}

impl Sink for PartialSink {
    fn name(&self) -> String {
        "partial".to_owned()
    }

    fn send(&mut self, batch: &[Envelope]) -> Result<Sent, SinkError> {
        self.seen.lock().unwrap().push(batch.len());
        Ok(Sent::requests(1).with_rejected(self.rejections.clone()))
    }
}

/// Queues `n` envelopes `{"n": i}` in `dir` and returns them.
fn queue(dir: &Path, n: usize) -> Vec<Envelope> {
    let queue = Queue::open(QueueConfig::new(dir.join("queue"))).unwrap();
    let envelopes: Vec<Envelope> = (0..n)
        .map(|i| {
            let properties = RawValue::from_string(format!("{{\"n\":{i}}}")).unwrap();
            Envelope::new("myapp_search", "client-1", properties)
        })
        .collect();
    queue.append(&envelopes).unwrap();
    envelopes
}

fn control(dir: &Path, sink: PartialSink) -> Control {
    Telemetry::builder("myapp")
        .data_dir(dir)
        .env(|name| (name == "MYAPP_TELEMETRY_ENABLED").then(|| "1".to_owned()))
        .sink(sink)
        .control()
        .unwrap()
}

#[test]
fn rejected_envelopes_go_to_the_dead_letter_file_with_their_reasons_and_the_rest_count_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let envelopes = queue(dir.path(), 5);
    let seen = Arc::default();
    let sink = PartialSink {
        rejections: vec![
            Rejection::new(3, "embedding_dimension: must be at least 1"),
            Rejection::new(1, "model_name: empty"),
            // Confused answers: a position outside the batch, one twice.
            Rejection::new(9, "no such event"),
            Rejection::new(3, "again"),
        ],
        seen: Arc::clone(&seen),
    };
    let mut control = control(dir.path(), sink);
    let report = control.send().unwrap();
    assert_eq!(report.sent, 3);
    assert_eq!(report.dead_lettered, 2);
    assert_eq!(report.requests, 1);
    assert_eq!(*seen.lock().unwrap(), [5], "settled in one attempt");

    let text = std::fs::read_to_string(control.dead_letter_path()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let letters: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|line| {
            (
                line["sink"].as_str().unwrap(),
                line["reason"].as_str().unwrap(),
                line["envelope"]["uuid"].as_str().unwrap(),
            )
        })
        .collect();
    let (first, second) = (envelopes[1].uuid.to_string(), envelopes[3].uuid.to_string());
    assert_eq!(
        letters,
        [
            ("partial", "model_name: empty", first.as_str()),
            (
                "partial",
                "embedding_dimension: must be at least 1",
                second.as_str()
            ),
        ]
    );
    assert_eq!(lines[1]["envelope"]["properties"]["n"], 3);

    let status = control.status().unwrap();
    assert_eq!(status.queue.events, 0, "the whole batch is settled");
    assert_eq!(status.queue.counters.get(Counters::DEAD_LETTERED), 2);
    let again = control.send().unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(seen.lock().unwrap().len(), 1, "nothing is sent again");
}

#[test]
fn rejected_envelopes_stay_queued_when_the_dead_letter_file_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    queue(dir.path(), 2);
    let seen = Arc::default();
    let sink = PartialSink {
        rejections: vec![Rejection::new(0, "bad")],
        seen: Arc::clone(&seen),
    };
    let mut control = control(dir.path(), sink);
    // A directory where the file would be.
    std::fs::create_dir(control.dead_letter_path()).unwrap();
    let error = control.send().unwrap_err();
    let ControlError::NotSent { reason, report } = &error else {
        panic!("{error}");
    };
    assert!(reason.contains("1 event rejected"), "{reason}");
    assert!(reason.contains("dead-letter file"), "{reason}");
    assert_eq!(report.sent, 0);
    assert_eq!(control.status().unwrap().queue.events, 2);
}

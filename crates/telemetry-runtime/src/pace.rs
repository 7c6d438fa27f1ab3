//! The writer's pace, set by the courier: while the courier is delivering,
//! the writer holds a batch that would take the queue past its byte bound
//! until an acknowledgement makes room, rather than have the bounds drop
//! the oldest envelopes that the courier is about to send.
//!
//! Holding only moves where a burst waits: in the channel, which the
//! application's `capture` fills without ever blocking (a full channel
//! drops and counts, as always), instead of on disk past the bound. A
//! courier that cannot deliver (the server is down, refuses the key, or is
//! in a retry's backoff) says so, and the writer appends at once and lets
//! the bounds do their work: the queue's bound still holds whatever
//! happens.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Shared by the courier, which reports, and the writer, which waits.
#[derive(Debug)]
pub(crate) struct Pace {
    /// Whether the courier's last request was accepted (or none has failed
    /// yet) and it still runs.
    delivering: AtomicBool,
    /// Acknowledgements so far, to wait on.
    acks: Mutex<u64>,
    changed: Condvar,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            // Until a request fails, the courier is taken at its word: the
            // first batches of a burst are written before any answer comes.
            delivering: AtomicBool::new(true),
            acks: Mutex::new(0),
            changed: Condvar::new(),
        }
    }
}

impl Pace {
    /// The courier acknowledged a delivered batch.
    pub(crate) fn delivered(&self) {
        self.delivering.store(true, Ordering::Relaxed);
        self.notify();
    }

    /// The courier cannot deliver for now: a request failed, sending is
    /// held, or the courier stopped.
    pub(crate) fn stalled(&self) {
        self.delivering.store(false, Ordering::Relaxed);
        self.notify();
    }

    fn notify(&self) {
        if let Ok(mut acks) = self.acks.lock() {
            *acks += 1;
        }
        self.changed.notify_all();
    }

    /// Whether the writer should wait for the courier.
    pub(crate) fn is_delivering(&self) -> bool {
        self.delivering.load(Ordering::Relaxed)
    }

    /// Waits until the courier reports anything, at most `wait`; `false`
    /// when nothing came in time.
    pub(crate) fn wait(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        let Ok(mut acks) = self.acks.lock() else {
            return false;
        };
        let seen = *acks;
        while *acks == seen {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            acks = match self.changed.wait_timeout(acks, left) {
                Ok((acks, _)) => acks,
                Err(_) => return false,
            };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_wait_ends_with_the_next_report_or_at_its_bound() {
        let pace = Arc::new(Pace::default());
        assert!(pace.is_delivering());
        assert!(!pace.wait(Duration::from_millis(20)));
        let courier = Arc::clone(&pace);
        let reporter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            courier.stalled();
        });
        assert!(pace.wait(Duration::from_secs(10)));
        assert!(!pace.is_delivering());
        reporter.join().unwrap();
        pace.delivered();
        assert!(pace.is_delivering());
    }
}

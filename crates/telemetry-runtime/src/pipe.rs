//! A bounded hand-off from callers' threads to one background thread, the
//! way [`Telemetry`](crate::Telemetry) hands captured events to its writer:
//! the caller never blocks and never does I/O; a full channel drops the
//! newest item and counts it; the background thread takes items in
//! batches, gathering for [`policy::WRITER_GATHER`] after the first one
//! (at most [`policy::WRITER_MAX_BATCH`]), so that per-batch work (a lock,
//! a `write`, a size check) is paid once per batch under load.
//!
//! The telemetry writer uses [`Command`] and the gathering loop directly;
//! other jobs (the interaction log of `telemetry-dataset`) use [`Pipe`],
//! which adds the thread and the counters:
//!
//! ```
//! use std::time::Duration;
//! use telemetry_runtime::pipe::{Drain, Pipe};
//!
//! struct Count(u64);
//! impl Drain<u64> for Count {
//!     fn write(&mut self, batch: &mut Vec<u64>) {
//!         self.0 += batch.drain(..).sum::<u64>();
//!     }
//! }
//!
//! let pipe = Pipe::spawn("example-writer", 1024, Count(0))?;
//! assert!(pipe.offer(2));
//! pipe.flush(Duration::from_secs(5))?;
//! assert_eq!(pipe.counters().written, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::policy;

/// What callers tell the background thread.
#[derive(Debug)]
pub enum Command<T> {
    /// One item to write.
    Item(T),
    /// Confirm once everything before it is written.
    Flush(SyncSender<()>),
    /// Write everything before it, confirm, and exit.
    Shutdown(SyncSender<()>),
}

/// What [`gather`] ended on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gathered {
    /// The batch is ready (it may be empty after an idle wait).
    Batch,
    /// The batch is ready and the thread must exit after writing it.
    Exit,
}

/// Waits for a command, at most `idle`, then gathers items into `items`
/// for [`policy::WRITER_GATHER`] (looking every
/// [`policy::WRITER_GATHER_STEP`]), at most [`policy::WRITER_MAX_BATCH`]
/// of them, and no later than a flush or a shutdown, whose reply goes to
/// `waiting`.
pub(crate) fn gather<T>(
    receiver: &Receiver<Command<T>>,
    idle: Duration,
    items: &mut Vec<T>,
    waiting: &mut Vec<SyncSender<()>>,
) -> Gathered {
    let first = match receiver.recv_timeout(idle) {
        Ok(command) => command,
        Err(RecvTimeoutError::Timeout) => return Gathered::Batch,
        Err(RecvTimeoutError::Disconnected) => return Gathered::Exit,
    };
    let gather_until = Instant::now() + policy::WRITER_GATHER;
    let mut next = Some(first);
    loop {
        while let Some(command) = next.take() {
            match command {
                Command::Item(item) => items.push(item),
                Command::Flush(done) => {
                    waiting.push(done);
                    return Gathered::Batch;
                }
                Command::Shutdown(done) => {
                    waiting.push(done);
                    return Gathered::Exit;
                }
            }
            if items.len() >= policy::WRITER_MAX_BATCH {
                return Gathered::Batch;
            }
            next = match receiver.try_recv() {
                Ok(command) => Some(command),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return Gathered::Exit,
            };
        }
        let left = gather_until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Gathered::Batch;
        }
        std::thread::sleep(left.min(policy::WRITER_GATHER_STEP));
        next = match receiver.try_recv() {
            Ok(command) => Some(command),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => return Gathered::Exit,
        };
    }
}

/// Hands `command` to `sender`, waiting for room until `deadline`.
pub(crate) fn offer_until<T>(
    sender: &SyncSender<Command<T>>,
    mut command: Command<T>,
    deadline: Instant,
) -> Result<(), PipeError> {
    loop {
        match sender.try_send(command) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                command = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TrySendError::Full(_)) => return Err(PipeError::Timeout),
            Err(TrySendError::Disconnected(_)) => return Err(PipeError::Closed),
        }
    }
}

/// Where a [`Pipe`]'s items go, on its background thread.
pub trait Drain<T>: Send + 'static {
    /// Writes `batch` (in the order offered) and leaves it empty. A failure
    /// is the drain's to log and count: the pipe goes on.
    fn write(&mut self, batch: &mut Vec<T>);

    /// Called after each batch and at least every [`Drain::tick`] while
    /// idle: for work due by time (a sync, a rotation by age).
    fn idle(&mut self) {}

    /// Called before a flush or shutdown is confirmed: make what was
    /// written durable.
    fn sync(&mut self) {}

    /// How long the thread may wait for items before [`Drain::idle`].
    fn tick(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// What a [`Pipe`] has done, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipeCounters {
    /// Items handed to the background thread.
    pub offered: u64,
    /// Items dropped because the channel was full.
    pub dropped_full: u64,
    /// Items the drain was given.
    pub written: u64,
}

#[derive(Default)]
struct AtomicPipeCounters {
    offered: AtomicU64,
    dropped_full: AtomicU64,
    written: AtomicU64,
}

/// A flush or shutdown did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PipeError {
    /// The background thread did not confirm in time.
    #[error("the background writer did not confirm in time")]
    Timeout,
    /// The background thread has stopped.
    #[error("the background writer has stopped")]
    Closed,
}

/// A bounded channel to a background thread that writes items to a
/// [`Drain`]. Dropping the pipe writes what was offered and stops the
/// thread, waiting at most [`policy::DROP_DEADLINE`].
pub struct Pipe<T> {
    sender: SyncSender<Command<T>>,
    counters: Arc<AtomicPipeCounters>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<T> std::fmt::Debug for Pipe<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipe")
            .field("counters", &self.counters())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Pipe<T> {
    /// Starts a thread called `name` writing to `drain`, behind a channel
    /// of `capacity` items.
    pub fn spawn(name: &str, capacity: usize, drain: impl Drain<T>) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel(capacity.max(1));
        let counters = Arc::new(AtomicPipeCounters::default());
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn({
            let counters = Arc::clone(&counters);
            move || drain_loop(&receiver, drain, &counters)
        })?;
        Ok(Self {
            sender,
            counters,
            thread: Mutex::new(Some(thread)),
        })
    }
}

impl<T> Pipe<T> {
    /// Hands `item` to the background thread without blocking; `false`
    /// (and counted) when the channel is full or the thread has stopped.
    pub fn offer(&self, item: T) -> bool {
        match self.sender.try_send(Command::Item(item)) {
            Ok(()) => {
                self.counters.offered.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) => {
                self.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Waits, at most `timeout`, until everything offered before is written
    /// and synced.
    pub fn flush(&self, timeout: Duration) -> Result<(), PipeError> {
        self.confirm(Command::Flush, timeout)
    }

    /// Writes everything offered, syncs, and stops the thread, waiting at
    /// most `timeout`. Later offers return `false`.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), PipeError> {
        self.confirm(Command::Shutdown, timeout)?;
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
        Ok(())
    }

    /// The counters so far.
    #[must_use]
    pub fn counters(&self) -> PipeCounters {
        PipeCounters {
            offered: self.counters.offered.load(Ordering::Relaxed),
            dropped_full: self.counters.dropped_full.load(Ordering::Relaxed),
            written: self.counters.written.load(Ordering::Relaxed),
        }
    }

    fn confirm(
        &self,
        command: fn(SyncSender<()>) -> Command<T>,
        timeout: Duration,
    ) -> Result<(), PipeError> {
        let deadline = Instant::now() + timeout;
        let (done, confirmed) = mpsc::sync_channel(1);
        offer_until(&self.sender, command(done), deadline)?;
        match confirmed.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(()) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Err(PipeError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(PipeError::Closed),
        }
    }
}

impl<T> Drop for Pipe<T> {
    fn drop(&mut self) {
        let running = self.thread.get_mut().is_ok_and(|thread| thread.is_some());
        if running {
            let _ = self.confirm(Command::Shutdown, policy::DROP_DEADLINE);
        }
    }
}

fn drain_loop<T>(
    receiver: &Receiver<Command<T>>,
    mut drain: impl Drain<T>,
    counters: &AtomicPipeCounters,
) {
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    loop {
        let gathered = gather(receiver, drain.tick(), &mut batch, &mut waiting);
        if !batch.is_empty() {
            counters
                .written
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            drain.write(&mut batch);
            batch.clear();
        }
        if !waiting.is_empty() {
            drain.sync();
            for reply in waiting.drain(..) {
                let _ = reply.send(());
            }
        }
        if gathered == Gathered::Exit {
            return;
        }
        drain.idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow {
        seen: Arc<Mutex<Vec<u32>>>,
        gate: Arc<Mutex<()>>,
    }

    impl Drain<u32> for Slow {
        fn write(&mut self, batch: &mut Vec<u32>) {
            let _open = self.gate.lock().unwrap();
            self.seen.lock().unwrap().extend(batch.drain(..));
        }
    }

    #[test]
    fn a_full_channel_drops_and_counts_and_the_rest_arrives_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Mutex::new(()));
        let closed = gate.lock().unwrap();
        let pipe = Pipe::spawn(
            "pipe-test",
            4,
            Slow {
                seen: Arc::clone(&seen),
                gate: Arc::clone(&gate),
            },
        )
        .unwrap();
        // The drain is stuck on the first item; the channel holds four.
        let accepted: Vec<u32> = (0..64).filter(|&n| pipe.offer(n)).collect();
        assert!(accepted.len() < 64, "a blocked drain must make offers fail");
        let counters = pipe.counters();
        assert_eq!(counters.offered, accepted.len() as u64);
        assert_eq!(counters.dropped_full, 64 - accepted.len() as u64);
        drop(closed);
        pipe.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(*seen.lock().unwrap(), accepted);
        pipe.shutdown(Duration::from_secs(5)).unwrap();
        assert!(!pipe.offer(99), "a stopped pipe takes nothing");
    }

    #[test]
    fn dropping_the_pipe_writes_what_was_offered() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let pipe = Pipe::spawn(
            "pipe-test",
            1024,
            Slow {
                seen: Arc::clone(&seen),
                gate: Arc::new(Mutex::new(())),
            },
        )
        .unwrap();
        for n in 0..100 {
            assert!(pipe.offer(n));
        }
        drop(pipe);
        assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
    }
}

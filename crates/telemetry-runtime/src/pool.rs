//! Queue-line buffers handed back from the writer to `capture`: in steady
//! state a captured event allocates nothing and no buffer is freed on
//! another thread than the one that allocated it (which makes the
//! allocator's arenas contend between the two threads).

use std::sync::Mutex;

/// The capacity of a new line buffer: most events' lines fit.
const LINE_CAPACITY: usize = 512;
/// Buffers larger than this are freed rather than kept.
const MAX_KEPT_CAPACITY: usize = 2048;
/// The most buffers kept: at most 2 MiB, a little over what one commit of
/// the writer takes under load.
const MAX_KEPT: usize = 1024;

/// Empty line buffers, taken by `capture` and given back by the writer.
#[derive(Debug, Default)]
pub(crate) struct LinePool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl LinePool {
    /// An empty buffer: a kept one, or a new one when none is kept or the
    /// writer is giving some back right now (`capture` never waits).
    pub(crate) fn take(&self) -> Vec<u8> {
        self.free
            .try_lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_else(|| Vec::with_capacity(LINE_CAPACITY))
    }

    /// Keeps the buffers of `lines` (emptied) for later captures, as many
    /// as the pool keeps; `lines` is left empty.
    pub(crate) fn give_back(&self, lines: &mut Vec<Vec<u8>>) {
        if lines.is_empty() {
            return;
        }
        if let Ok(mut free) = self.free.lock() {
            let room = MAX_KEPT.saturating_sub(free.len());
            free.extend(
                lines
                    .drain(..)
                    .filter(|line| line.capacity() <= MAX_KEPT_CAPACITY)
                    .take(room)
                    .map(|mut line| {
                        line.clear();
                        line
                    }),
            );
        }
        lines.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_the_pool_stays_bounded() {
        let pool = LinePool::default();
        let mut lines: Vec<Vec<u8>> = (0..MAX_KEPT + 10)
            .map(|_| b"{\"a\":1}\n".to_vec())
            .collect();
        lines.push(Vec::with_capacity(MAX_KEPT_CAPACITY + 1));
        pool.give_back(&mut lines);
        assert!(lines.is_empty());
        assert_eq!(pool.free.lock().unwrap().len(), MAX_KEPT);
        let line = pool.take();
        assert!(line.is_empty());
        assert!(line.capacity() >= 8);
        // Nothing kept: a new buffer.
        let empty = LinePool::default();
        assert_eq!(empty.take().capacity(), LINE_CAPACITY);
    }
}

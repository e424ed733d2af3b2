//! When committed records may leave the stream.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// When committed records may leave the stream. JetStream drops a repeated `Nats-Msg-Id` only
/// while it holds a message with that id (after a restart it rebuilds its table of ids from the
/// messages it stores), so a committed record stays for the duplicate window: a producer that
/// retries within the window never stores a record twice, even across a nats-server restart.
pub(super) struct Purger {
    keep: Duration,
    committed: VecDeque<(u64, Instant)>,
}

impl Purger {
    pub(super) fn new(keep: Duration) -> Self {
        Self { keep, committed: VecDeque::new() }
    }

    /// Records that everything up to `last` was committed at `now`; returns the highest sequence
    /// committed long enough ago to purge, if any.
    pub(super) fn committed(&mut self, last: u64, now: Instant) -> Option<u64> {
        self.committed.push_back((last, now));
        let mut purge = None;
        while let Some(&(sequence, at)) = self.committed.front() {
            if now.duration_since(at) < self.keep {
                break;
            }
            purge = Some(sequence);
            self.committed.pop_front();
        }
        purge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_records_are_purged_only_after_the_duplicate_window() {
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let mut purger = Purger::new(Duration::from_secs(130));
        assert_eq!(purger.committed(100, at(0)), None);
        assert_eq!(purger.committed(200, at(60)), None);
        assert_eq!(purger.committed(300, at(129)), None);
        assert_eq!(purger.committed(400, at(130)), Some(100));
        assert_eq!(purger.committed(500, at(300)), Some(400), "every older commit at once");
        assert_eq!(purger.committed(600, at(301)), None);
    }
}

//! How far a target has taken a request: the clock behind
//! `proxy_send_timeout` and the start of `proxy_read_timeout`.
//!
//! The HTTP library asks a request body for its next piece only when it has
//! room to write it, so a piece handed over and not followed by a new
//! request for data means the target is not reading. A body that is waiting
//! for the client is not the target's fault and stops the send clock
//! (`client_body_timeout` governs that wait).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Shared between a watched request body and the code awaiting the answer.
/// Times are milliseconds since `epoch`, plus one (0 = unset).
#[derive(Debug)]
pub struct SendProgress {
    epoch: Instant,
    handed: AtomicU64,
    done: AtomicU64,
}

/// Which timeout a deadline belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A piece of the body was handed over and not taken: `proxy_send_timeout`.
    Send,
    /// The request was sent, the answer has not come: `proxy_read_timeout`.
    Read,
    /// Waiting for the client's body, or about to start: nothing expires.
    Idle,
}

impl SendProgress {
    /// A clock for a request whose body is already complete (`done`) or not.
    pub fn new(done: bool) -> SendProgress {
        let p = SendProgress {
            epoch: Instant::now(),
            handed: AtomicU64::new(0),
            done: AtomicU64::new(0),
        };
        if done {
            p.mark_done();
        }
        p
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// The library asked for the next piece: the previous one was written.
    pub fn asked(&self) {
        self.handed.store(0, Ordering::Relaxed);
    }

    /// A piece was handed over.
    pub fn handed(&self) {
        self.handed.store(self.now(), Ordering::Relaxed);
    }

    /// The whole body was handed over.
    pub fn mark_done(&self) {
        if self.done.load(Ordering::Relaxed) == 0 {
            self.done.store(self.now(), Ordering::Relaxed);
        }
    }

    /// When the current phase expires, and which phase it is.
    pub fn deadline(&self, send: Duration, read: Duration) -> (Instant, Phase) {
        let at = |stamp: u64, d: Duration| {
            self.epoch + Duration::from_millis(stamp.saturating_sub(1)) + d
        };
        let done = self.done.load(Ordering::Relaxed);
        if done != 0 {
            return (at(done, read), Phase::Read);
        }
        let handed = self.handed.load(Ordering::Relaxed);
        if handed != 0 {
            return (at(handed, send), Phase::Send);
        }
        (Instant::now() + send, Phase::Idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn phases_follow_the_body() {
        let send = Duration::from_secs(30);
        let read = Duration::from_secs(60);
        let p = SendProgress::new(false);
        assert_eq!(p.deadline(send, read).1, Phase::Idle);
        p.handed();
        let (at, phase) = p.deadline(send, read);
        assert_eq!(phase, Phase::Send);
        assert!(at <= Instant::now() + send);
        p.asked();
        assert_eq!(p.deadline(send, read).1, Phase::Idle);
        tokio::time::advance(Duration::from_secs(5)).await;
        p.handed();
        p.mark_done();
        let (at, phase) = p.deadline(send, read);
        assert_eq!(phase, Phase::Read);
        assert!(at > Instant::now() + Duration::from_secs(59));
        assert_eq!(SendProgress::new(true).deadline(send, read).1, Phase::Read);
    }
}

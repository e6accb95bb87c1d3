//! A re-armable idle timer for poll-based bodies: "no progress for `d`".

use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Fires when [`poll_expired`](IdleTimer::poll_expired) has been called
/// without [`activity`](IdleTimer::activity) for the whole duration. The
/// timer is allocated on the first wait and reused after.
#[derive(Debug)]
pub struct IdleTimer {
    duration: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl IdleTimer {
    /// A timer for `duration` of inactivity.
    pub fn new(duration: Duration) -> IdleTimer {
        IdleTimer {
            duration,
            sleep: None,
            armed: false,
        }
    }

    /// The configured duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Progress was made: the next wait starts a new period.
    pub fn activity(&mut self) {
        self.armed = false;
    }

    /// Called when the watched operation is pending: starts the period if
    /// needed and reports whether it has run out (registering a wake-up).
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            let deadline = Instant::now() + self.duration;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::task::Poll;

    #[tokio::test(start_paused = true)]
    async fn fires_after_the_duration_without_activity() {
        let mut t = IdleTimer::new(Duration::from_secs(5));
        poll_fn(|cx| {
            assert!(!t.poll_expired(cx));
            Poll::Ready(())
        })
        .await;
        tokio::time::advance(Duration::from_secs(4)).await;
        poll_fn(|cx| {
            assert!(!t.poll_expired(cx));
            Poll::Ready(())
        })
        .await;
        t.activity();
        tokio::time::advance(Duration::from_secs(4)).await;
        poll_fn(|cx| {
            assert!(!t.poll_expired(cx), "activity restarted the period");
            Poll::Ready(())
        })
        .await;
        tokio::time::advance(Duration::from_secs(6)).await;
        poll_fn(|cx| {
            assert!(t.poll_expired(cx));
            Poll::Ready(())
        })
        .await;
    }
}

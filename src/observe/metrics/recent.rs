//! Recent traffic of one target: requests and latency over the last few
//! seconds, for the status page (Prometheus keeps the long history).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Seconds the window covers.
pub(crate) const WINDOW_SECS: u64 = 10;

/// Per-second slots of requests and summed latency, overwritten as time
/// goes round.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    slots: [Slot; WINDOW_SECS as usize],
}

#[derive(Debug, Default)]
struct Slot {
    /// The second (since the process started, plus one) the slot counts.
    second: AtomicU64,
    count: AtomicU64,
    micros: AtomicU64,
}

/// What the window saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecentSummary {
    /// Requests per second over the window.
    pub rate: f64,
    /// Mean latency over the window, when there were requests.
    pub mean: Option<Duration>,
}

/// The second `at` falls in, counted from the first call in this process,
/// plus one (0 = never).
fn second_of(at: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(|| at);
    at.saturating_duration_since(epoch).as_secs() + 1
}

impl Recent {
    /// Counts a request that took `latency` and ended at `at` (now).
    pub(crate) fn record(&self, latency: Duration, at: Instant) {
        self.record_at(second_of(at), latency);
    }

    fn record_at(&self, second: u64, latency: Duration) {
        let slot = &self.slots[(second % WINDOW_SECS) as usize];
        let seen = slot.second.load(Ordering::Relaxed);
        if seen != second
            && slot
                .second
                .compare_exchange(seen, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // This slot last counted an older second: start it over.
            slot.count.store(0, Ordering::Relaxed);
            slot.micros.store(0, Ordering::Relaxed);
        }
        slot.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        slot.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The rate and mean latency of the last [`WINDOW_SECS`] seconds.
    pub(crate) fn summary(&self) -> RecentSummary {
        self.summary_at(second_of(Instant::now()))
    }

    fn summary_at(&self, now: u64) -> RecentSummary {
        let oldest = now.saturating_sub(WINDOW_SECS - 1);
        let (mut count, mut micros) = (0u64, 0u64);
        for slot in &self.slots {
            let s = slot.second.load(Ordering::Relaxed);
            if s != 0 && s >= oldest && s <= now {
                count += slot.count.load(Ordering::Relaxed);
                micros = micros.saturating_add(slot.micros.load(Ordering::Relaxed));
            }
        }
        RecentSummary {
            rate: count as f64 / WINDOW_SECS as f64,
            mean: (count > 0).then(|| Duration::from_micros(micros / count)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_the_last_seconds_only() {
        let r = Recent::default();
        r.record_at(5, Duration::from_millis(10));
        r.record_at(5, Duration::from_millis(30));
        r.record_at(9, Duration::from_millis(20));
        let s = r.summary_at(10);
        assert!((s.rate - 0.3).abs() < 1e-9);
        assert_eq!(s.mean, Some(Duration::from_millis(20)));
        // Second 5 has left the window at 15; its slot is reused at 15.
        r.record_at(15, Duration::from_millis(2));
        let s = r.summary_at(15);
        assert!((s.rate - 0.2).abs() < 1e-9);
        assert_eq!(s.mean, Some(Duration::from_millis(11)));
        assert_eq!(r.summary_at(40).mean, None);
    }
}

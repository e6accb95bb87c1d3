//! The health of one target for one rule, as probes and passive failures
//! decide it.
//!
//! A target starts Unknown (usable); its first probe makes it Alive or
//! Dead; after that it takes `unhealthy_threshold` consecutive failures to
//! go Dead and `healthy_threshold` consecutive successes to come back. A
//! refused connection makes it Dead at once (passive detection), until a
//! probe succeeds.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Not probed yet: usable.
    Unknown,
    /// Probes succeed: usable.
    Alive,
    /// Probes fail or connections are refused: not used (unless all are).
    Dead,
}

impl HealthState {
    /// Lower-case name for logs and status pages.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Alive => "alive",
            HealthState::Dead => "dead",
        }
    }
}

/// Shared health of a (rule, target) pair; read on every pick.
#[derive(Debug)]
pub struct TargetHealth {
    state: AtomicU8,
    streak: Mutex<Streak>,
}

/// Consecutive probe results in the current direction.
#[derive(Debug, Default)]
struct Streak {
    successes: u32,
    failures: u32,
    /// Dead by passive detection: the next successful probe revives it.
    ejected: bool,
}

impl Default for TargetHealth {
    fn default() -> Self {
        TargetHealth::with_state(HealthState::Unknown)
    }
}

fn encode(s: HealthState) -> u8 {
    match s {
        HealthState::Unknown => 0,
        HealthState::Alive => 1,
        HealthState::Dead => 2,
    }
}

fn decode(v: u8) -> HealthState {
    match v {
        0 => HealthState::Unknown,
        1 => HealthState::Alive,
        _ => HealthState::Dead,
    }
}

impl TargetHealth {
    /// A target that is always healthy (checks disabled) starts Alive.
    pub fn alive() -> TargetHealth {
        TargetHealth::with_state(HealthState::Alive)
    }

    fn with_state(s: HealthState) -> TargetHealth {
        TargetHealth {
            state: AtomicU8::new(encode(s)),
            streak: Mutex::new(Streak::default()),
        }
    }

    /// The current state.
    pub fn state(&self) -> HealthState {
        decode(self.state.load(Ordering::Relaxed))
    }

    /// Whether the scheduler may choose this target.
    pub fn usable(&self) -> bool {
        self.state() != HealthState::Dead
    }

    /// Sets the state (checks disabled); returns the
    /// previous one. The probe streak starts over.
    pub fn set(&self, state: HealthState) -> HealthState {
        if let Ok(mut s) = self.streak.lock() {
            *s = Streak::default();
        }
        decode(self.state.swap(encode(state), Ordering::Relaxed))
    }

    /// Passive detection: Dead now, until a probe succeeds (one success
    /// suffices: the probes did not find it dead). Returns the previous
    /// state.
    pub fn eject(&self) -> HealthState {
        let mut streak = self.streak.lock().unwrap_or_else(|e| e.into_inner());
        *streak = Streak {
            ejected: true,
            ..Streak::default()
        };
        decode(
            self.state
                .swap(encode(HealthState::Dead), Ordering::Relaxed),
        )
    }

    /// Counts one probe result against the thresholds; returns the new
    /// state when it changed.
    pub fn record(
        &self,
        healthy: bool,
        healthy_threshold: u32,
        unhealthy_threshold: u32,
    ) -> Option<HealthState> {
        let mut streak = self.streak.lock().unwrap_or_else(|e| e.into_inner());
        if healthy {
            streak.successes += 1;
            streak.failures = 0;
        } else {
            streak.failures += 1;
            streak.successes = 0;
        }
        let current = self.state();
        let next = match (current, healthy) {
            (HealthState::Unknown, true) => HealthState::Alive,
            (HealthState::Unknown, false) => HealthState::Dead,
            (HealthState::Dead, true)
                if streak.ejected || streak.successes >= healthy_threshold =>
            {
                HealthState::Alive
            }
            (HealthState::Alive, false) if streak.failures >= unhealthy_threshold => {
                HealthState::Dead
            }
            _ => current,
        };
        if next == current {
            return None;
        }
        *streak = Streak::default();
        self.state.store(encode(next), Ordering::Relaxed);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_probe_decides_then_thresholds_govern() {
        let h = TargetHealth::default();
        assert!(h.usable());
        assert_eq!(h.record(true, 3, 2), Some(HealthState::Alive));
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(
            h.record(true, 3, 2),
            None,
            "a success breaks the failure streak"
        );
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), Some(HealthState::Dead));
        assert!(!h.usable());
        assert_eq!(h.record(true, 3, 2), None);
        assert_eq!(h.record(true, 3, 2), None);
        assert_eq!(h.record(true, 3, 2), Some(HealthState::Alive));
    }

    #[test]
    fn a_failing_first_probe_makes_an_unknown_target_dead() {
        let h = TargetHealth::default();
        assert_eq!(h.record(false, 2, 2), Some(HealthState::Dead));
    }

    #[test]
    fn a_passive_ejection_lasts_until_a_probe_succeeds() {
        let h = TargetHealth::alive();
        h.record(true, 3, 2);
        assert_eq!(h.eject(), HealthState::Alive);
        assert!(!h.usable());
        assert_eq!(h.record(false, 3, 2), None, "still refusing");
        assert_eq!(h.record(true, 3, 2), Some(HealthState::Alive));
        // Dead by the probes' own count: the threshold governs again.
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), Some(HealthState::Dead));
        assert_eq!(h.record(true, 3, 2), None);
        assert_eq!(h.record(true, 3, 2), None);
        assert_eq!(h.record(true, 3, 2), Some(HealthState::Alive));
    }
}

//! The health of one target for one rule, as probes and passive failures
//! decide it.

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

/// Shared health of a (rule, target) pair; read on every pick.
#[derive(Debug)]
pub struct TargetHealth {
    state: AtomicU8,
}

impl Default for TargetHealth {
    fn default() -> Self {
        TargetHealth {
            state: AtomicU8::new(0),
        }
    }
}

impl TargetHealth {
    /// A target that is always healthy (checks disabled) starts Alive.
    pub fn alive() -> TargetHealth {
        TargetHealth {
            state: AtomicU8::new(1),
        }
    }

    /// The current state.
    pub fn state(&self) -> HealthState {
        match self.state.load(Ordering::Relaxed) {
            0 => HealthState::Unknown,
            1 => HealthState::Alive,
            _ => HealthState::Dead,
        }
    }

    /// Whether the scheduler may choose this target.
    pub fn usable(&self) -> bool {
        self.state() != HealthState::Dead
    }

    /// Sets the state; returns the previous one.
    pub fn set(&self, state: HealthState) -> HealthState {
        let v = match state {
            HealthState::Unknown => 0,
            HealthState::Alive => 1,
            HealthState::Dead => 2,
        };
        match self.state.swap(v, Ordering::Relaxed) {
            0 => HealthState::Unknown,
            1 => HealthState::Alive,
            _ => HealthState::Dead,
        }
    }
}

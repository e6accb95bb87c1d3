//! Choosing a target for a request: smooth weighted round robin, weighted
//! least connections and ip_hash, over the targets that are usable.
//!
//! A target is usable when its weight is above 0 and its health is not Dead.
//! When no weight > 0 target is usable, all of them are (the product's
//! all-dead-all-alive). Targets already tried for this request are skipped.
//!
//! State that must outlive a configuration swap lives in `Arc`s that the
//! runtime hands from the old snapshot to the new one: the round-robin
//! position ([`WrrState`], per rule and reset when the rule's targets or
//! weights change), the active-request count ([`TargetLoad`], per target
//! address) and health ([`TargetHealth`], per rule and target).

mod hash;
mod health;
mod sticky;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) use hash::{client_hash, target_hash};
pub(crate) use health::{HealthState, TargetHealth};
pub(crate) use sticky::{StickyTable, cookies, unix_now};

use crate::config::Scheduler;

/// Requests in flight to one target address, across every rule.
#[derive(Debug, Default)]
pub struct TargetLoad {
    active: AtomicU32,
}

impl TargetLoad {
    /// Requests (and upgraded tunnels) in flight now.
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts one request until the guard drops.
    pub fn start(self: &Arc<Self>) -> ActiveRequest {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveRequest(self.clone())
    }
}

/// One request counted in a [`TargetLoad`]; dropping it ends the count.
#[derive(Debug)]
pub struct ActiveRequest(Arc<TargetLoad>);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Smooth weighted round-robin state of one rule (nginx's algorithm): each
/// pick adds every candidate's weight to its current weight, takes the
/// largest, and subtracts the candidates' total from the winner.
#[derive(Debug)]
pub struct WrrState {
    current: Mutex<Vec<i64>>,
}

impl WrrState {
    /// Fresh state for `n` targets.
    pub fn new(n: usize) -> WrrState {
        WrrState {
            current: Mutex::new(vec![0; n]),
        }
    }

    fn pick(&self, weights: impl Iterator<Item = (usize, u32)>) -> Option<usize> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for (i, w) in weights {
            if i >= current.len() {
                continue;
            }
            current[i] += i64::from(w);
            total += i64::from(w);
            if best.is_none_or(|b| current[i] > current[b]) {
                best = Some(i);
            }
        }
        let best = best?;
        current[best] -= total;
        Some(best)
    }
}

/// One target as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// 0–100; 0 is never chosen.
    pub weight: u32,
    /// Active requests at this address.
    pub load: Arc<TargetLoad>,
    /// Health of this target for this rule.
    pub health: Arc<TargetHealth>,
    /// [`target_hash`] of the address (for ip_hash).
    pub hash: u64,
}

/// The scheduler of one rule.
#[derive(Debug)]
pub struct Balancer {
    scheduler: Scheduler,
    candidates: Vec<Candidate>,
    wrr: Arc<WrrState>,
}

/// The result of a pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    /// Index of the chosen target in the rule's target list.
    pub index: usize,
    /// No target was healthy: chosen among all weight > 0 targets.
    pub all_dead: bool,
}

impl Balancer {
    /// A balancer over `candidates` (in the rule's order). `wrr` carries the
    /// round-robin position; pass the previous one to keep it.
    pub fn new(scheduler: Scheduler, candidates: Vec<Candidate>, wrr: Arc<WrrState>) -> Balancer {
        Balancer {
            scheduler,
            candidates,
            wrr,
        }
    }

    /// The round-robin state (to hand to the next snapshot).
    pub fn wrr_state(&self) -> &Arc<WrrState> {
        &self.wrr
    }

    /// The candidates, in the rule's order.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Whether every weight > 0 target is unhealthy now.
    pub fn all_dead(&self) -> bool {
        let mut any = false;
        for c in self.candidates.iter().filter(|c| c.weight > 0) {
            if c.health.usable() {
                return false;
            }
            any = true;
        }
        any
    }

    /// Chooses a target for a client, skipping `tried`. `None` when no
    /// weight > 0 target is left.
    pub fn pick(&self, client: IpAddr, tried: &[usize]) -> Option<Pick> {
        let open = |i: usize, c: &Candidate| c.weight > 0 && !tried.contains(&i);
        let any_healthy = self
            .candidates
            .iter()
            .enumerate()
            .any(|(i, c)| open(i, c) && c.health.usable());
        let eligible = self
            .candidates
            .iter()
            .enumerate()
            .filter(move |&(i, c)| open(i, c) && (!any_healthy || c.health.usable()));
        let index = match self.scheduler {
            Scheduler::Wrr => self.wrr.pick(eligible.map(|(i, c)| (i, c.weight))),
            Scheduler::LeastConn => self.least_conn(eligible),
            Scheduler::IpHash => rendezvous(client_hash(client), eligible),
        }?;
        Some(Pick {
            index,
            all_dead: !any_healthy,
        })
    }

    /// The target a valid sticky cookie names, if still usable (all weight
    /// > 0 targets count as usable while all are dead).
    pub fn sticky(&self, index: usize) -> bool {
        let Some(c) = self.candidates.get(index) else {
            return false;
        };
        c.weight > 0 && (c.health.usable() || self.all_dead())
    }

    fn least_conn<'a>(
        &self,
        eligible: impl Iterator<Item = (usize, &'a Candidate)> + Clone,
    ) -> Option<usize> {
        // min(active / weight), compared as cross products; ties by WRR.
        let mut best: Option<(u64, u64)> = None;
        for (_, c) in eligible.clone() {
            let ratio = (u64::from(c.load.active()), u64::from(c.weight));
            if best.is_none_or(|(a, w)| ratio.0 * w < a * ratio.1) {
                best = Some(ratio);
            }
        }
        let (a, w) = best?;
        let tied = eligible
            .filter(move |(_, c)| u64::from(c.load.active()) * w == a * u64::from(c.weight))
            .map(|(i, c)| (i, c.weight));
        self.wrr.pick(tied)
    }
}

/// Weighted rendezvous hashing: every target scores
/// `weight / -ln(u)` with `u` uniform from hash(client, target); the highest
/// wins. Removing a target moves only its own clients; an unhealthy target's
/// clients go to their next-best target and come back when it recovers.
fn rendezvous<'a>(
    client: u64,
    eligible: impl Iterator<Item = (usize, &'a Candidate)>,
) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for (i, c) in eligible {
        let h = hash::mix(client ^ c.hash);
        // 53 random bits → (0, 1), never 0.
        let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let score = f64::from(c.weight) / -u.ln();
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, i));
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
mod tests;

//! Active health checks: one probe task per distinct probe, its result
//! counted against the thresholds of every (rule, target) that uses it.
//!
//! Probes are HTTP/1.1 requests on a fresh connection (TLS for HTTPS and
//! GRPCS rules). Two rules probing the same target with the same method,
//! path, Host, interval and timeout share one probe. After each
//! configuration swap [`HealthChecker::reconcile`] starts the probes the
//! new snapshot needs, re-points the kept ones at their new subscribers,
//! and stops the rest; health state itself lives in the registry and
//! survives the swap.

mod probe;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;

pub use probe::{ProbeKey, ProbeOutcome, ProbeSpec, probe};

use crate::balance::{HealthState, TargetHealth};
use crate::runtime::snapshot::Snapshot;

/// Runs the probes of the current snapshot.
#[derive(Debug, Default)]
pub struct HealthChecker {
    probes: Mutex<HashMap<ProbeKey, Running>>,
}

#[derive(Debug)]
struct Running {
    subscribers: Arc<ArcSwap<Vec<Subscriber>>>,
    task: JoinHandle<()>,
}

/// One (rule, target) that counts a probe's results.
#[derive(Debug)]
struct Subscriber {
    health: Arc<TargetHealth>,
    status_classes: u8,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
    rule: Arc<RuleWatch>,
    target: SocketAddr,
}

/// A rule's targets, to notice all-dead-all-alive.
#[derive(Debug)]
struct RuleWatch {
    id: Arc<str>,
    targets: Vec<(Arc<TargetHealth>, u32)>,
    all_dead: AtomicBool,
}

impl RuleWatch {
    fn check_all_dead(&self) {
        let mut weighted = self.targets.iter().filter(|(_, w)| *w > 0).peekable();
        let all_dead = weighted.peek().is_some() && weighted.all(|(h, _)| !h.usable());
        if self.all_dead.swap(all_dead, Ordering::Relaxed) != all_dead {
            if all_dead {
                tracing::warn!(rule = %self.id, "every target is unhealthy: sending to all of them (all-dead-all-alive)");
            } else {
                tracing::info!(rule = %self.id, "a target is healthy again: all-dead-all-alive ends");
            }
        }
    }
}

impl HealthChecker {
    /// Makes the running probes those `snapshot` needs.
    pub fn reconcile(&self, snapshot: &Snapshot) {
        let mut wanted: HashMap<ProbeKey, (ProbeSpec, Vec<Subscriber>)> = HashMap::new();
        for listener in &snapshot.listeners {
            for rule in listener.routes.rules() {
                let hc = &rule.health_check;
                if !hc.enabled || rule.upstream.targets.is_empty() {
                    continue;
                }
                let watch = Arc::new(RuleWatch {
                    id: rule.id.clone(),
                    targets: rule
                        .upstream
                        .targets
                        .iter()
                        .zip(rule.upstream.balancer.candidates())
                        .map(|(t, c)| (t.health.clone(), c.weight))
                        .collect(),
                    all_dead: AtomicBool::new(false),
                });
                for target in &rule.upstream.targets {
                    let spec = ProbeSpec::new(target.pool.clone(), hc);
                    let (_, subscribers) = wanted
                        .entry(spec.key())
                        .or_insert_with(|| (spec, Vec::new()));
                    subscribers.push(Subscriber {
                        health: target.health.clone(),
                        status_classes: hc.status_classes,
                        healthy_threshold: hc.healthy_threshold,
                        unhealthy_threshold: hc.unhealthy_threshold,
                        rule: watch.clone(),
                        target: target.addr,
                    });
                }
            }
        }
        let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
        probes.retain(|key, running| {
            let keep = wanted.contains_key(key);
            if !keep {
                running.task.abort();
            }
            keep
        });
        for (key, (spec, subscribers)) in wanted {
            match probes.get(&key) {
                Some(running) => running.subscribers.store(Arc::new(subscribers)),
                None => {
                    let subscribers = Arc::new(ArcSwap::from_pointee(subscribers));
                    let task = tokio::spawn(run(spec, subscribers.clone()));
                    probes.insert(key, Running { subscribers, task });
                }
            }
        }
    }

    /// Probes running now (distinct probe specs).
    pub fn probe_count(&self) -> usize {
        self.probes.lock().map_or(0, |p| p.len())
    }

    /// Stops every probe.
    pub fn stop(&self) {
        let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
        for (_, running) in probes.drain() {
            running.task.abort();
        }
    }
}

impl Drop for HealthChecker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One probe's loop: probe, count the result for every subscriber, wait
/// for the next interval.
async fn run(spec: ProbeSpec, subscribers: Arc<ArcSwap<Vec<Subscriber>>>) {
    // Spread probes of the same interval a little, but decide Unknown
    // targets quickly.
    let jitter = Duration::from_millis(u64::from(spec.addr().port()) % 250);
    tokio::time::sleep(jitter).await;
    let mut tick = tokio::time::interval(spec.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let outcome = probe(&spec).await;
        if !outcome.counts() {
            // stgw's own exhaustion: the target is neither better nor worse.
            tracing::warn!(target = %spec.addr(), reason = %outcome, "health probe not sent");
            continue;
        }
        for s in subscribers.load().iter() {
            let healthy = outcome.healthy(s.status_classes);
            if let Some(state) =
                s.health
                    .record(healthy, s.healthy_threshold, s.unhealthy_threshold)
            {
                match state {
                    HealthState::Dead => {
                        tracing::warn!(rule = %s.rule.id, target = %s.target, reason = %outcome, "target is dead")
                    }
                    _ => {
                        tracing::info!(rule = %s.rule.id, target = %s.target, reason = %outcome, "target is alive")
                    }
                }
                s.rule.check_all_dead();
            }
        }
    }
}

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

pub(crate) use probe::{ProbeKey, ProbeSpec, probe};

use crate::balance::{HealthState, TargetHealth};
use crate::runtime::snapshot::Snapshot;

/// Runs the probes of the current snapshot.
#[derive(Debug, Default)]
pub(crate) struct HealthChecker {
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
    pub(crate) fn reconcile(&self, snapshot: &Snapshot) {
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
        let starting = wanted.keys().filter(|k| !probes.contains_key(*k)).count();
        let mut started = 0;
        for (key, (spec, subscribers)) in wanted {
            match probes.get(&key) {
                Some(running) => running.subscribers.store(Arc::new(subscribers)),
                None => {
                    let delay = first_probe_delay(started, starting, spec.interval);
                    started += 1;
                    let subscribers = Arc::new(ArcSwap::from_pointee(subscribers));
                    let task = tokio::spawn(run(spec, subscribers.clone(), delay));
                    probes.insert(key, Running { subscribers, task });
                }
            }
        }
    }

    /// Stops every probe.
    pub(crate) fn stop(&self) {
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

/// The fewest milliseconds over which the first probes of a batch are
/// spread: a handful of new targets are still decided within a quarter
/// of a second.
const MIN_SPREAD_MS: u64 = 250;

/// How many probes may start per second when many start together (a
/// start, a reload or an API call that adds thousands of targets).
const STARTS_PER_SECOND: u64 = 1_000;

/// When the `index`-th of `count` probes starting together sends its
/// first request. They are spread evenly over a window long enough for
/// [`STARTS_PER_SECOND`] (at least [`MIN_SPREAD_MS`], at most one
/// `interval`); each probe then keeps its own phase, so the spread holds
/// at every later interval too. Starting them all at once made thousands
/// of connections per instant: first probes timed out and marked healthy
/// targets dead.
pub(crate) fn first_probe_delay(index: usize, count: usize, interval: Duration) -> Duration {
    let count = count.max(1) as u64;
    let wanted_ms = (count * 1_000).div_ceil(STARTS_PER_SECOND);
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    let window_ms = wanted_ms.max(MIN_SPREAD_MS).min(interval_ms.max(1));
    let index = (index as u64).min(count - 1);
    Duration::from_micros(window_ms * 1_000 * index / count)
}

/// One probe's loop: after `first` (see [`first_probe_delay`]), probe,
/// count the result for every subscriber, wait for the next interval.
async fn run(spec: ProbeSpec, subscribers: Arc<ArcSwap<Vec<Subscriber>>>, first: Duration) {
    tokio::time::sleep(first).await;
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
            let was = s.health.state();
            if let Some(state) =
                s.health
                    .record(healthy, s.healthy_threshold, s.unhealthy_threshold)
            {
                match state {
                    HealthState::Dead => {
                        tracing::warn!(rule = %s.rule.id, target = %s.target, reason = %outcome, "target is dead")
                    }
                    // A new target found as expected: not news at `info`
                    // (a start with thousands of targets said it for each).
                    _ if was == HealthState::Unknown => {
                        tracing::debug!(rule = %s.rule.id, target = %s.target, reason = %outcome, "target is alive")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The most first probes that fall in any one 100 ms slot.
    fn busiest_slot(count: usize, interval: Duration) -> usize {
        let mut slots = HashMap::<u128, usize>::new();
        for i in 0..count {
            let at = first_probe_delay(i, count, interval);
            assert!(
                at < interval,
                "probe {i} starts at {at:?}, past the interval"
            );
            *slots.entry(at.as_millis() / 100).or_default() += 1;
        }
        slots.into_values().max().unwrap_or(0)
    }

    #[test]
    fn thousands_of_first_probes_are_spread_over_the_interval() {
        let interval = Duration::from_secs(5);
        // 35,000 probes (a 100,000-rule configuration): 7,000 a second,
        // the steady rate anyway, so at most 700 per 100 ms (+1 rounding).
        assert!(busiest_slot(35_000, interval) <= 701);
        // 2,000 probes: two seconds at 1,000 a second.
        assert!(busiest_slot(2_000, interval) <= 101);
        assert!(first_probe_delay(1_999, 2_000, interval) >= Duration::from_millis(1_990));
    }

    #[test]
    fn a_few_first_probes_still_start_within_a_quarter_second() {
        let interval = Duration::from_secs(5);
        for i in 0..10 {
            assert!(first_probe_delay(i, 10, interval) < Duration::from_millis(250));
        }
        assert_eq!(first_probe_delay(0, 1, interval), Duration::ZERO);
        assert_eq!(first_probe_delay(0, 0, interval), Duration::ZERO);
    }
}

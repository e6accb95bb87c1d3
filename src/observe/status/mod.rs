//! The status page's model: every load balancer, listener, domain, rule
//! and target with its live state, read from the serving snapshot. The
//! same model is `/status.json` and, rendered by [`html`], `/status`.

pub(crate) mod html;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::config::{Config, RuleAction};
use crate::listener::ListenerSlot;
use crate::observe::metrics::recent::WINDOW_SECS;
use crate::runtime::snapshot::{ListenerRuntime, RuleRuntime, Snapshot};
use crate::store::StoreSummary;

/// Everything the status page shows.
#[derive(Debug, Serialize)]
pub(crate) struct Status {
    /// Seconds the recent rate and latency cover.
    pub window_seconds: u64,
    /// Where the configuration comes from, and whether it is reachable.
    pub store: StoreSummary,
    /// In file order.
    pub load_balancers: Vec<LoadBalancerStatus>,
}

/// One load balancer.
#[derive(Debug, Serialize)]
pub(crate) struct LoadBalancerStatus {
    /// `lb-…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its listeners, in file order.
    pub listeners: Vec<ListenerStatus>,
}

/// One listener.
#[derive(Debug, Serialize)]
pub(crate) struct ListenerStatus {
    /// `lbl-…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `HTTP` or `HTTPS`.
    pub protocol: &'static str,
    /// Bind address.
    pub address: SocketAddr,
    /// Client connections open now.
    pub connections_active: usize,
    /// Client connections admitted since the socket was bound.
    pub connections_total: u64,
    /// Its domains, in file order.
    pub domains: Vec<DomainStatus>,
}

/// One domain.
#[derive(Debug, Serialize)]
pub(crate) struct DomainStatus {
    /// As configured.
    pub name: String,
    /// Unmatched hosts come here.
    pub default: bool,
    /// Its rules, in file order.
    pub rules: Vec<RuleStatus>,
}

/// One URL rule.
#[derive(Debug, Serialize)]
pub(crate) struct RuleStatus {
    /// `loc-…`.
    pub id: String,
    /// As configured.
    pub url: String,
    /// `forward` or `redirect`.
    pub action: &'static str,
    /// `WRR`, `LEAST_CONN` or `IP_HASH`.
    pub scheduler: &'static str,
    /// Every weight > 0 target is dead, so all of them get traffic.
    pub all_dead: bool,
    /// Its targets, in file order.
    pub targets: Vec<TargetStatus>,
}

/// One target of a rule.
#[derive(Debug, Serialize)]
pub(crate) struct TargetStatus {
    /// `ip:port`.
    pub address: SocketAddr,
    /// 0–100.
    pub weight: u32,
    /// `alive`, `dead` or `unknown` (not probed yet).
    pub health: &'static str,
    /// Requests in flight to this address now (across rules).
    pub active_requests: u32,
    /// Requests per second this rule sent it over the window.
    pub requests_per_second: f64,
    /// Mean time to its answers' end over the window, in milliseconds.
    pub latency_ms: Option<f64>,
}

/// The status of the serving snapshot; `slots` are the bound listeners,
/// `store` the configuration store's state.
pub(crate) fn collect(
    snapshot: &Snapshot,
    slots: &[Arc<ListenerSlot>],
    store: StoreSummary,
) -> Status {
    let by_addr: HashMap<SocketAddr, &Arc<ListenerSlot>> =
        slots.iter().map(|s| (s.runtime.load().addr, s)).collect();
    Status {
        window_seconds: WINDOW_SECS,
        store,
        load_balancers: load_balancers(&snapshot.config, snapshot, &by_addr),
    }
}

fn load_balancers(
    config: &Config,
    snapshot: &Snapshot,
    slots: &HashMap<SocketAddr, &Arc<ListenerSlot>>,
) -> Vec<LoadBalancerStatus> {
    config
        .load_balancers
        .iter()
        .map(|lb| LoadBalancerStatus {
            id: lb.id.clone(),
            name: lb.name.clone(),
            listeners: lb
                .listeners
                .iter()
                .filter_map(|l| {
                    let rt = snapshot.listener(l.addr)?;
                    let slot = slots.get(&l.addr);
                    Some(ListenerStatus {
                        id: l.id.clone(),
                        name: l.name.clone(),
                        protocol: l.protocol.as_str(),
                        address: l.addr,
                        connections_active: slot
                            .map_or(0, |s| s.connections.load(Ordering::Relaxed)),
                        connections_total: slot.map_or(0, |s| s.counters.accepted_total()),
                        domains: domains(l, rt),
                    })
                })
                .collect(),
        })
        .collect()
}

fn domains(l: &crate::config::ListenerConfig, rt: &ListenerRuntime) -> Vec<DomainStatus> {
    // The route table keeps the file's order of domains and rules.
    l.domains
        .iter()
        .zip(rt.routes.domains_with_rules())
        .enumerate()
        .map(|(i, (d, (_, rules)))| DomainStatus {
            name: d.name.clone(),
            default: l.default_domain == Some(i),
            rules: d
                .rules
                .iter()
                .zip(rules)
                .map(|(rc, r)| rule(rc.scheduler.as_str(), r))
                .collect(),
        })
        .collect()
}

fn rule(scheduler: &'static str, r: &RuleRuntime) -> RuleStatus {
    let balancer = &r.upstream.balancer;
    RuleStatus {
        id: r.id.to_string(),
        url: r.url.to_string(),
        action: match r.action {
            RuleAction::Forward => "forward",
            RuleAction::Redirect(_) => "redirect",
        },
        scheduler,
        all_dead: balancer.all_dead(),
        targets: r
            .upstream
            .targets
            .iter()
            .zip(balancer.candidates())
            .map(|(t, c)| {
                let recent = t.stats.recent();
                TargetStatus {
                    address: t.addr,
                    weight: c.weight,
                    health: t.health.state().as_str(),
                    active_requests: t.load.active(),
                    requests_per_second: recent.rate,
                    latency_ms: recent.mean.map(|d| d.as_secs_f64() * 1000.0),
                }
            })
            .collect(),
    }
}

//! A compiled configuration: what the data path reads.
//!
//! [`Snapshot::compile`] turns a validated [`Config`] into route tables,
//! balancers and pools. It never fails on values (validation did that);
//! state that must survive a swap comes from the [`State`] registries, so
//! the old and the new snapshot share pools, loads, health and round-robin
//! positions for everything that did not change.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::balance::{Balancer, Candidate, TargetHealth, TargetLoad, WrrState, target_hash};
use crate::config::{
    Config, CustomConfig, DomainConfig, ForwardType, HealthCheckConfig, ListenerConfig,
    LoadBalancerConfig, Protocol, RuleAction, RuleConfig, Scheduler,
};
use crate::routing::{DomainSpec, RouteTable};
use crate::runtime::registry::Registry;
use crate::upstream::{Pool, PoolSettings};

/// A rule's round-robin identity: its id and its (target, weight) list.
pub type WrrKey = (Arc<str>, Vec<(SocketAddr, u32)>);

/// Objects kept across snapshots, by identity.
#[derive(Debug, Default)]
pub struct State {
    /// Connection pools per target address.
    pub pools: Registry<SocketAddr, Pool>,
    /// Active requests per target address.
    pub loads: Registry<SocketAddr, TargetLoad>,
    /// Health per (rule id, target address).
    pub health: Registry<(Arc<str>, SocketAddr), TargetHealth>,
    /// Round-robin state per (rule id, targets and weights).
    pub wrr: Registry<WrrKey, WrrState>,
}

/// Everything the data path needs, immutable once built.
#[derive(Debug)]
pub struct Snapshot {
    /// The configuration it was compiled from.
    pub config: Arc<Config>,
    /// Every listener (including auto-rewrite ones), by bind address.
    pub listeners: Vec<Arc<ListenerRuntime>>,
}

/// One listener, compiled.
#[derive(Debug)]
pub struct ListenerRuntime {
    /// The load balancer's id.
    pub lb_id: Arc<str>,
    /// The listener's id.
    pub id: Arc<str>,
    /// HTTP or HTTPS.
    pub protocol: Protocol,
    /// Bind address.
    pub addr: SocketAddr,
    /// Domains and rules.
    pub routes: RouteTable<DomainRuntime, RuleRuntime>,
    /// The load balancer's personalized configuration.
    pub custom: Arc<CustomConfig>,
    /// Its header directives, compiled for the data path.
    pub http: Arc<crate::proxy::HttpSettings>,
    /// Where large request bodies are spilled.
    pub spill_dir: PathBuf,
}

/// One domain, compiled.
#[derive(Debug)]
pub struct DomainRuntime {
    /// As configured.
    pub name: Arc<str>,
    /// HTTPS: h2 offered.
    pub http2: bool,
}

/// One rule, compiled.
#[derive(Debug)]
pub struct RuleRuntime {
    /// `loc-…`.
    pub id: Arc<str>,
    /// As configured.
    pub url: Arc<str>,
    /// The literal URL of a non-regex rule (for nginx's add-slash 301).
    pub literal: Option<Arc<str>>,
    /// Forward or redirect.
    pub action: RuleAction,
    /// Inject X-Forwarded-For / X-Real-IP.
    pub client_ip: bool,
    /// Gzip level when compressing.
    pub gzip_level: Option<u32>,
    /// Protocol to the targets.
    pub forward_type: ForwardType,
    /// The scheduler and its targets.
    pub upstream: Upstream,
    /// The active health check.
    pub health_check: HealthCheckConfig,
}

/// A rule's targets and scheduler.
#[derive(Debug)]
pub struct Upstream {
    /// Chooses among `targets`.
    pub balancer: Balancer,
    /// In the rule's order.
    pub targets: Vec<UpstreamTarget>,
}

/// One target of a rule.
#[derive(Debug)]
pub struct UpstreamTarget {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its connection pool.
    pub pool: Arc<Pool>,
    /// Requests in flight to it.
    pub load: Arc<TargetLoad>,
    /// Its health for this rule.
    pub health: Arc<TargetHealth>,
}

impl Snapshot {
    /// Compiles a validated configuration, sharing live state through `state`.
    pub fn compile(config: Arc<Config>, state: &State) -> Snapshot {
        let pool_settings = PoolSettings {
            max_idle: config.global.upstream_keepalive,
            idle_timeout: config.global.upstream_keepalive_timeout,
        };
        let spill_dir = config.global.state_dir.join("tmp");
        let mut listeners = Vec::new();
        for lb in &config.load_balancers {
            for l in &lb.listeners {
                listeners.push(Arc::new(compile_listener(
                    lb,
                    l,
                    state,
                    pool_settings,
                    &spill_dir,
                )));
            }
        }
        Snapshot { config, listeners }
    }

    /// The listener bound at `addr`.
    pub fn listener(&self, addr: SocketAddr) -> Option<&Arc<ListenerRuntime>> {
        self.listeners.iter().find(|l| l.addr == addr)
    }
}

fn compile_listener(
    lb: &LoadBalancerConfig,
    l: &ListenerConfig,
    state: &State,
    pool_settings: PoolSettings,
    spill_dir: &std::path::Path,
) -> ListenerRuntime {
    let domains = l
        .domains
        .iter()
        .map(|d| compile_domain(d, state, pool_settings))
        .collect();
    ListenerRuntime {
        lb_id: lb.id.as_str().into(),
        id: l.id.as_str().into(),
        protocol: l.protocol,
        addr: l.addr,
        routes: RouteTable::new(domains, l.default_domain),
        custom: lb.custom.clone(),
        http: Arc::new(crate::proxy::HttpSettings::compile(&lb.custom)),
        spill_dir: spill_dir.to_owned(),
    }
}

fn compile_domain(
    d: &DomainConfig,
    state: &State,
    pool_settings: PoolSettings,
) -> DomainSpec<DomainRuntime, RuleRuntime> {
    DomainSpec {
        pattern: d.pattern.clone(),
        data: DomainRuntime {
            name: d.name.as_str().into(),
            http2: d.http2,
        },
        rules: d
            .rules
            .iter()
            .map(|r| (r.pattern.clone(), compile_rule(r, state, pool_settings)))
            .collect(),
    }
}

fn compile_rule(r: &RuleConfig, state: &State, pool_settings: PoolSettings) -> RuleRuntime {
    let id: Arc<str> = r.id.as_str().into();
    let targets: Vec<UpstreamTarget> = r
        .targets
        .iter()
        .map(|t| {
            let pool = state
                .pools
                .get_or_insert_with(t.addr, || Pool::new(t.addr, pool_settings));
            pool.configure(pool_settings);
            let health = state.health.get_or_insert_with((id.clone(), t.addr), || {
                if r.health_check.enabled {
                    TargetHealth::default()
                } else {
                    TargetHealth::alive()
                }
            });
            if !r.health_check.enabled {
                health.set(crate::balance::HealthState::Alive);
            }
            UpstreamTarget {
                addr: t.addr,
                pool,
                load: state.loads.get_or_insert_with(t.addr, TargetLoad::default),
                health,
            }
        })
        .collect();
    let candidates = r
        .targets
        .iter()
        .zip(&targets)
        .map(|(t, u)| Candidate {
            weight: t.weight,
            load: u.load.clone(),
            health: u.health.clone(),
            hash: target_hash(t.addr),
        })
        .collect();
    let fingerprint = r.targets.iter().map(|t| (t.addr, t.weight)).collect();
    let wrr = state
        .wrr
        .get_or_insert_with((id.clone(), fingerprint), || WrrState::new(r.targets.len()));
    let scheduler: Scheduler = r.scheduler;
    RuleRuntime {
        id,
        url: r.url.as_str().into(),
        literal: r.pattern.literal().map(Into::into),
        action: r.action.clone(),
        client_ip: r.client_ip,
        gzip_level: r.gzip_level,
        forward_type: r.forward_type,
        upstream: Upstream {
            balancer: Balancer::new(scheduler, candidates, wrr),
            targets,
        },
        health_check: r.health_check.clone(),
    }
}

//! A compiled configuration: what the data path reads.
//!
//! [`Snapshot::compile`] turns a validated [`Config`] into route tables,
//! balancers, pools and TLS configurations. It fails only on files
//! (certificates); values were checked by validation. State that must survive a swap comes from the [`State`] registries, so
//! the old and the new snapshot share pools, loads, health and round-robin
//! positions for everything that did not change.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};

use crate::balance::{
    Balancer, Candidate, StickyTable, TargetHealth, TargetLoad, WrrState, target_hash,
};
use crate::config::SecretSource;
use crate::config::{
    Config, ConfigError, CustomConfig, DomainConfig, ForwardType, HealthCheckConfig, Issue,
    ListenerConfig, LoadBalancerConfig, Protocol, RuleAction, RuleConfig, Scheduler,
};
use crate::listener::admission::Admission;
use crate::observe::{ListenerObserve, Observer, RouteStats, TargetStats};
use crate::proxy::limit::RateLimiter;
use crate::routing::{DomainSpec, RouteTable};
use crate::runtime::registry::Registry;
use crate::runtime::tls::{CertCache, compile_listener_tls};
use crate::tls::{ListenerTls, TicketKeyError, TicketKeys, TlsIdentity, UpstreamConnector};
use crate::upstream::{Pool, PoolSettings};

/// Sessions kept in the TLS session cache (for clients without tickets).
const TLS_SESSION_CACHE: usize = 20_000;

/// A pool's identity: the target and how it is spoken to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    /// The target.
    pub addr: SocketAddr,
    /// TLS settings: verify, CA, SNI, h2 (None = cleartext).
    pub tls: Option<(bool, Option<PathBuf>, Option<String>, bool)>,
    /// HTTP/2 (GRPC / GRPCS) rather than HTTP/1.1.
    pub h2: bool,
}

/// A rule's round-robin identity: its id and its (target, weight) list.
pub type WrrKey = (Arc<str>, Vec<(SocketAddr, u32)>);

/// Objects kept across snapshots, by identity.
#[derive(Debug)]
pub struct State {
    /// Connection pools per target and transport.
    pub pools: Registry<PoolKey, Pool>,
    /// Active requests per target address.
    pub loads: Registry<SocketAddr, TargetLoad>,
    /// Health per (rule id, target address).
    pub health: Registry<(Arc<str>, SocketAddr), TargetHealth>,
    /// Round-robin state per (rule id, targets and weights).
    pub wrr: Registry<WrrKey, WrrState>,
    /// TLS session-ticket keys of the whole process.
    pub tls_tickets: Arc<TicketKeys>,
    /// TLS session cache of the whole process.
    pub tls_sessions: Arc<dyn StoresServerSessions>,
    /// The sticky-cookie key used when the configuration names none.
    pub generated_sticky_secret: Vec<u8>,
    /// `limit_req` buckets per (listener id, rate, burst).
    pub limiters: Registry<(Arc<str>, u32, u32), RateLimiter>,
    /// Metrics and the access log.
    pub observe: Observer,
}

impl State {
    /// State whose TLS ticket keys and generated sticky secret live in
    /// `state_dir` (created 0700 if needed).
    pub fn new(state_dir: &Path) -> Result<State, crate::runtime::RuntimeError> {
        crate::admin::persist::private_dir(state_dir).map_err(|e| {
            let e = std::io::Error::new(e.kind(), format!("{}: {e}", state_dir.display()));
            crate::runtime::RuntimeError::Secret(e)
        })?;
        let sticky = super::secrets::load_or_create(state_dir, "sticky-secret", 32)
            .map_err(crate::runtime::RuntimeError::Secret)?;
        Ok(State::with(TicketKeys::load_or_create(state_dir)?, sticky))
    }

    /// State with in-memory keys (tests, benchmarks, `stgw check`).
    pub fn ephemeral() -> Result<State, TicketKeyError> {
        Ok(State::with(
            TicketKeys::ephemeral()?,
            super::secrets::ephemeral(32),
        ))
    }

    /// State with the given TLS ticket keys and sticky-cookie key (the
    /// ones a shared configuration store holds for every node).
    pub fn with_secrets(tickets: TicketKeys, generated_sticky_secret: Vec<u8>) -> State {
        State::with(tickets, generated_sticky_secret)
    }

    fn with(tickets: TicketKeys, generated_sticky_secret: Vec<u8>) -> State {
        State {
            generated_sticky_secret,
            limiters: Registry::default(),
            pools: Registry::default(),
            loads: Registry::default(),
            health: Registry::default(),
            wrr: Registry::default(),
            tls_tickets: Arc::new(tickets),
            tls_sessions: ServerSessionMemoryCache::new(TLS_SESSION_CACHE),
            observe: Observer::new(),
        }
    }
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
    /// HTTPS: the server configurations chosen by SNI.
    pub tls: Option<ListenerTls>,
    /// Name of the stickiness cookie.
    pub sticky_cookie: Arc<str>,
    /// Block list, caps, PROXY protocol.
    pub admission: Admission,
    /// `limit_req`, per client address.
    pub limiter: Option<Arc<RateLimiter>>,
    /// Counters of unrouted requests, `limit_req` refusals, the access log.
    pub observe: Arc<ListenerObserve>,
}

/// One domain, compiled.
#[derive(Debug)]
pub struct DomainRuntime {
    /// As configured.
    pub name: Arc<str>,
    /// HTTPS: h2 offered.
    pub http2: bool,
    /// HTTPS: the TLS configuration an SNI naming this domain selects.
    pub tls_identity: Option<TlsIdentity>,
    /// Counters of its requests that match no rule.
    pub stats: Arc<RouteStats>,
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
    /// Cookie-insert stickiness (WRR rules with session_expire_time).
    pub sticky: Option<StickyTable>,
    /// The scheduler and its targets.
    pub upstream: Upstream,
    /// The active health check.
    pub health_check: HealthCheckConfig,
    /// Counters of its requests.
    pub stats: Arc<RouteStats>,
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
    /// Its answers, timeouts, failures and recent traffic for this rule.
    pub stats: Arc<TargetStats>,
}

impl Snapshot {
    /// Compiles a validated configuration, sharing live state through
    /// `state`. Fails only on what validation cannot see: certificate
    /// files that are missing or unusable.
    pub fn compile(config: Arc<Config>, state: &State) -> Result<Snapshot, ConfigError> {
        let pool_settings = PoolSettings {
            max_idle: config.global.upstream_keepalive,
            idle_timeout: config.global.upstream_keepalive_timeout,
        };
        let spill_dir = config.global.state_dir.join("tmp");
        let mut issues = Vec::new();
        let mut certs = CertCache::default();
        let mut listeners = Vec::new();
        let sticky_secret = sticky_secret(&config.global.sticky_secret, state);
        super::tls::check_store(&config.certificates, &mut certs, &mut issues);
        for lb in &config.load_balancers {
            for l in &lb.listeners {
                let ctx = Ctx {
                    state,
                    pool_settings,
                    issues: &mut issues,
                    sticky_secret: sticky_secret.as_deref().map_err(String::as_str),
                    sticky_cookie: &config.global.sticky_cookie,
                };
                if let Some(runtime) = compile_listener(lb, l, ctx, &mut certs, &spill_dir) {
                    listeners.push(Arc::new(runtime));
                }
            }
        }
        if !issues.is_empty() {
            return Err(ConfigError::Invalid {
                path: config.path.clone(),
                issues,
            });
        }
        Ok(Snapshot { config, listeners })
    }

    /// The listener bound at `addr`.
    pub fn listener(&self, addr: SocketAddr) -> Option<&Arc<ListenerRuntime>> {
        self.listeners.iter().find(|l| l.addr == addr)
    }
}

struct Ctx<'a> {
    state: &'a State,
    pool_settings: PoolSettings,
    issues: &'a mut Vec<Issue>,
    sticky_secret: Result<&'a [u8], &'a str>,
    sticky_cookie: &'a str,
}

/// The sticky-cookie key: from the file, the environment, or generated.
/// A missing environment variable is an error only where a rule needs it.
fn sticky_secret(source: &SecretSource, state: &State) -> Result<Vec<u8>, String> {
    match source {
        SecretSource::Inline(s) => Ok(s.as_bytes().to_vec()),
        SecretSource::Env(var) => match std::env::var(var) {
            Ok(v) if v.len() >= 16 => Ok(v.into_bytes()),
            Ok(_) => Err(format!(
                "sticky_secret_env: ${var} must hold at least 16 characters"
            )),
            Err(_) => Err(format!(
                "sticky_secret_env: environment variable ${var} is not set"
            )),
        },
        SecretSource::Generated => Ok(state.generated_sticky_secret.clone()),
    }
}

fn compile_listener(
    lb: &LoadBalancerConfig,
    l: &ListenerConfig,
    mut ctx: Ctx<'_>,
    certs: &mut CertCache,
    spill_dir: &Path,
) -> Option<ListenerRuntime> {
    let (tls, identities) = match l.protocol {
        Protocol::Https => {
            let (tls, ids) = compile_listener_tls(l, &lb.custom, ctx.state, certs, ctx.issues)?;
            (Some(tls), ids.into_iter().map(Some).collect())
        }
        Protocol::Http => (None, vec![None; l.domains.len()]),
    };
    let mut domains = Vec::with_capacity(l.domains.len());
    for (d, identity) in l.domains.iter().zip(identities) {
        domains.push(compile_domain(d, identity, (&lb.id, &l.id), &mut ctx)?);
    }
    Some(ListenerRuntime {
        lb_id: lb.id.as_str().into(),
        id: l.id.as_str().into(),
        protocol: l.protocol,
        addr: l.addr,
        routes: RouteTable::new(domains, l.default_domain),
        custom: lb.custom.clone(),
        http: Arc::new(crate::proxy::HttpSettings::compile(&lb.custom)),
        spill_dir: spill_dir.to_owned(),
        tls,
        sticky_cookie: ctx.sticky_cookie.into(),
        admission: Admission::of(l),
        observe: ctx.state.observe.listener(&lb.id, &l.id),
        limiter: l.limit_req.map(|(rate, burst)| {
            let key = (Arc::<str>::from(l.id.as_str()), rate, burst);
            ctx.state
                .limiters
                .get_or_insert_with(key, || RateLimiter::new(rate, burst))
        }),
    })
}

/// A listener's load balancer id and its own id (metric labels).
type ListenerIds<'a> = (&'a str, &'a str);

fn compile_domain(
    d: &DomainConfig,
    tls_identity: Option<TlsIdentity>,
    ids: ListenerIds<'_>,
    ctx: &mut Ctx<'_>,
) -> Option<DomainSpec<DomainRuntime, RuleRuntime>> {
    let mut rules = Vec::with_capacity(d.rules.len());
    for r in &d.rules {
        rules.push((r.pattern.clone(), compile_rule(r, (ids, &d.name), ctx)?));
    }
    Some(DomainSpec {
        pattern: d.pattern.clone(),
        data: DomainRuntime {
            name: d.name.as_str().into(),
            http2: d.http2,
            tls_identity,
            stats: ctx.state.observe.domain(ids.0, ids.1, &d.name),
        },
        rules,
    })
}

fn compile_rule(
    r: &RuleConfig,
    ((lb, listener), domain): (ListenerIds<'_>, &str),
    ctx: &mut Ctx<'_>,
) -> Option<RuleRuntime> {
    let (state, pool_settings) = (ctx.state, ctx.pool_settings);
    let id: Arc<str> = r.id.as_str().into();
    let sticky = match (r.sticky, ctx.sticky_secret) {
        (None, _) => None,
        (Some(max_age), Ok(secret)) => {
            let addrs: Vec<SocketAddr> = r.targets.iter().map(|t| t.addr).collect();
            Some(StickyTable::new(secret, &addrs, max_age))
        }
        (Some(_), Err(e)) => {
            ctx.issues.push(Issue {
                line: None,
                field: format!("rule {}", r.id),
                message: e.to_owned(),
            });
            return None;
        }
    };
    let connector = if r.forward_type.is_tls() {
        let t = &r.upstream_tls;
        match UpstreamConnector::new(
            crate::tls::provider(),
            t.verify,
            t.ca.as_deref(),
            t.sni.as_deref(),
            r.forward_type.is_h2(),
        ) {
            Ok(c) => Some(c),
            Err(e) => {
                ctx.issues.push(Issue {
                    line: None,
                    field: format!("rule {}", r.id),
                    message: e.to_string(),
                });
                return None;
            }
        }
    } else {
        None
    };
    let targets: Vec<UpstreamTarget> = r
        .targets
        .iter()
        .map(|t| {
            let key = PoolKey {
                addr: t.addr,
                h2: r.forward_type.is_h2(),
                tls: r.forward_type.is_tls().then(|| {
                    let u = &r.upstream_tls;
                    (
                        u.verify,
                        u.ca.clone(),
                        u.sni.clone(),
                        r.forward_type.is_h2(),
                    )
                }),
            };
            let pool = state.pools.get_or_insert_with(key, || {
                Pool::new(
                    t.addr,
                    connector.clone(),
                    r.forward_type.is_h2(),
                    pool_settings,
                )
            });
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
                stats: state.observe.target(lb, listener, domain, &r.id, t.addr),
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
    Some(RuleRuntime {
        id,
        url: r.url.as_str().into(),
        literal: r.pattern.literal().map(Into::into),
        action: r.action.clone(),
        client_ip: r.client_ip,
        gzip_level: r.gzip_level,
        forward_type: r.forward_type,
        sticky,
        upstream: Upstream {
            balancer: Balancer::new(scheduler, candidates, wrr),
            targets,
        },
        health_check: r.health_check.clone(),
        stats: state.observe.rule(lb, listener, domain, &r.id),
    })
}

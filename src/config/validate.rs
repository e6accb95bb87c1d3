//! File model → [`Config`]: every range, quota, reference and conflict.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::{FieldPath, Issue, SourceMap};
use super::model::{self, CaSpec, CertificateKind, CertificateRef, CertificateSpec, ConfigFile};
use super::*;
use crate::routing::{DomainPattern, UrlPattern};

/// Ports the product reserves for itself.
pub(super) const RESERVED_PORTS: [u16; 13] = [
    843, 1020, 1433, 1434, 3306, 3389, 6006, 20000, 36000, 42222, 48369, 56000, 65010,
];

/// Longest personalized configuration text (the product's 64k).
const MAX_CUSTOM_CONFIG: usize = 64 * 1024;

pub(super) fn validate(
    file: ConfigFile,
    source: &str,
    path: &Path,
    known: KnownPatterns<'_>,
) -> Result<Config, ConfigError> {
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut v = Validator {
        source,
        map: SourceMap::new(source),
        base_dir,
        issues: Vec::new(),
        warnings: Vec::new(),
        refused_listeners: HashSet::new(),
        known,
    };
    let root = FieldPath::root();
    let global = v.global(&file.global, &root.key("global"));
    v.store(&file.store, &root.key("store"));
    let admin = file
        .admin
        .as_ref()
        .and_then(|a| v.admin(a, &root.key("admin")));
    let certificates = v.certificates(&file.certificates, &root.key("certificate"));
    let instances = v.instances(&file.instances, &root.key("instance"));
    let node_vips = v.node_vips(&file.node.vip, &root.key("node").key("vip"));
    let ctx = Context {
        certificates,
        instances,
        node_vips,
        quotas: Quotas {
            listeners: file.global.max_listeners_per_lb.max(0) as usize,
            rules: file.global.max_rules_per_lb.max(0) as usize,
            targets: file.global.max_targets_per_rule.max(0) as usize,
        },
    };
    let mut load_balancers = Vec::with_capacity(file.load_balancers.len());
    let mut lb_ids = HashSet::new();
    let mut listener_ids = HashSet::new();
    let mut rule_ids = HashSet::new();
    let mut binds = HashMap::new();
    for (i, lb) in file.load_balancers.iter().enumerate() {
        let at = root.key("load_balancer").index(i);
        if let Some(lb) = v.load_balancer(lb, &ctx, &at) {
            if !lb_ids.insert(lb.id.clone()) {
                v.issue(
                    &at.key("id"),
                    format!("duplicate load balancer id {:?}", lb.id),
                );
            }
            for (j, l) in lb.listeners.iter().enumerate() {
                let lat = at.key("listener").index(j);
                if !listener_ids.insert(l.id.clone()) {
                    v.issue(&lat.key("id"), format!("duplicate listener id {:?}", l.id));
                }
                if let Some(other) = binds.insert(l.addr, l.id.clone()) {
                    v.issue(
                        &lat.key("port"),
                        format!("{} is already bound by listener {other}", l.addr),
                    );
                }
                for d in &l.domains {
                    for r in &d.rules {
                        if !rule_ids.insert(r.id.clone()) {
                            v.issue(&lat, format!("duplicate rule id {:?}", r.id));
                        }
                    }
                }
            }
            load_balancers.push(lb);
        }
    }
    // Every load balancer of the file counts, also one refused above:
    // an override for it is not the problem.
    let all_lb_ids: HashSet<&str> = file
        .load_balancers
        .iter()
        .filter_map(|lb| lb.id.as_deref())
        .collect();
    for (id, _) in file.node.vip.iter() {
        if all_lb_ids.contains(id.as_str()) {
            continue;
        }
        if file.store.kind == model::StoreKind::Etcd {
            // The shared configuration may gain or lose that load
            // balancer at any time: the override waits for it.
            v.warnings.push(format!(
                "node.vip: no load balancer has id {id:?} (yet): the override applies when one has"
            ));
        } else {
            v.issue(
                &root.key("node").key("vip"),
                format!("no load balancer has id {id:?}"),
            );
        }
    }
    if !v.issues.is_empty() {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            issues: v.issues,
        });
    }
    // `global` is `None` only when an issue was recorded above.
    let Some(global) = global else {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            issues: Vec::new(),
        });
    };
    let certificates = file
        .certificates
        .iter()
        .filter_map(|c| ctx.certificates.get(&c.id).cloned())
        .collect();
    Ok(Config {
        path: path.to_owned(),
        file,
        global,
        admin,
        certificates,
        load_balancers,
        warnings: v.warnings,
        model_text: None,
    })
}

/// Fills absent ids from each object's identity, so they are stable:
/// a certificate's is its `cert` path as written, an instance's its
/// address. Called once before [`validate()`], which takes the ids as they
/// are (from a file, and from an API edit before its text is kept).
pub(super) fn derive_ids(file: &mut ConfigFile) {
    for c in &mut file.certificates {
        if c.id.is_empty() {
            c.id = derive_id("cert-", &[&c.cert]);
        }
    }
    for ins in &mut file.instances {
        if ins.id.is_empty() {
            ins.id = derive_id("ins-", &[&ins.address]);
        }
    }
    for lb in &mut file.load_balancers {
        let lb_id = lb
            .id
            .get_or_insert_with(|| {
                derive_id(
                    "lb-",
                    &[if lb.name.is_empty() {
                        &lb.vip
                    } else {
                        &lb.name
                    }],
                )
            })
            .clone();
        for l in &mut lb.listeners {
            let proto = l.protocol.as_str();
            let port = l.port.to_string();
            let l_id =
                l.id.get_or_insert_with(|| derive_id("lbl-", &[&lb_id, proto, &port]))
                    .clone();
            for d in &mut l.domains {
                for r in &mut d.rules {
                    r.id.get_or_insert_with(|| {
                        derive_id("loc-", &[&lb_id, &l_id, &d.name, r.url.trim()])
                    });
                }
            }
        }
        for a in &mut lb.auto_rewrites {
            let port = a.http_port.to_string();
            a.id.get_or_insert_with(|| derive_id("lbl-", &[&lb_id, "auto", &a.listener, &port]));
        }
    }
}

struct Validator<'a> {
    source: &'a str,
    /// `source` parsed once for the lines of fields.
    map: SourceMap<'a>,
    base_dir: PathBuf,
    issues: Vec<Issue>,
    warnings: Vec<String>,
    /// Ids of listeners refused with issues of their own: a redirect that
    /// names one is not reported again (a follow-on "no listener" would
    /// only hide the real cause).
    refused_listeners: HashSet<String>,
    /// Regex patterns already compiled by the configuration this one
    /// replaces.
    known: KnownPatterns<'a>,
}

/// The compiled regex patterns (URL rules `~`/`~*` and `~regex` domains) of
/// a configuration, by the text they were parsed from.
///
/// Parsing is a pure function of that text, so a pattern written the same
/// way in the next configuration is the same pattern: an API write then
/// compiles only the regexes it adds, not every regex of the file again,
/// and the old and new snapshots share each regex's compiled program.
#[derive(Debug, Default)]
pub(super) struct KnownPatterns<'a> {
    urls: HashMap<&'a str, &'a UrlPattern>,
    domains: HashMap<&'a str, &'a DomainPattern>,
}

impl<'a> KnownPatterns<'a> {
    /// The regex patterns of `config`'s rules and domains.
    pub(super) fn of(config: &'a Config) -> KnownPatterns<'a> {
        let mut known = KnownPatterns::default();
        for (_, l) in config.listeners() {
            for d in &l.domains {
                if matches!(d.pattern, DomainPattern::Regex(_)) {
                    known.domains.insert(d.name.as_str(), &d.pattern);
                }
                for r in &d.rules {
                    if matches!(r.pattern, UrlPattern::Regex { .. }) {
                        known.urls.insert(r.url.as_str(), &r.pattern);
                    }
                }
            }
        }
        known
    }

    /// `url` (trimmed) parsed, from the known patterns when it is one.
    fn url(&self, url: &str) -> Result<UrlPattern, crate::routing::UrlError> {
        match self.urls.get(url.trim()) {
            Some(known) => Ok((*known).clone()),
            None => UrlPattern::parse(url),
        }
    }

    /// `name` (trimmed) parsed, from the known patterns when it is one.
    fn domain(&self, name: &str) -> Result<DomainPattern, crate::routing::DomainError> {
        match self.domains.get(name.trim()) {
            Some(known) => Ok((*known).clone()),
            None => DomainPattern::parse(name.trim()),
        }
    }
}

struct Context {
    certificates: HashMap<String, (CertificateKind, CertFiles)>,
    instances: HashMap<String, IpAddr>,
    /// `[node] vip`: load balancer id → its address here (`None`: refused,
    /// already reported at `node.vip`).
    node_vips: HashMap<String, Option<IpAddr>>,
    quotas: Quotas,
}

struct Quotas {
    listeners: usize,
    rules: usize,
    targets: usize,
}

impl Validator<'_> {
    fn issue(&mut self, field: &FieldPath, message: impl Into<String>) {
        let line = self.line(field);
        self.issues.push(Issue {
            line,
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn site(&self, field: &FieldPath) -> Site {
        Site {
            field: field.to_string(),
            line: self.line(field),
        }
    }

    fn line(&self, field: &FieldPath) -> Option<usize> {
        self.map.line(field)
    }

    /// `value` within `min..=max`, or an issue naming the range.
    fn range(&mut self, field: &FieldPath, value: i64, min: i64, max: i64) -> Option<u32> {
        if (min..=max).contains(&value) {
            u32::try_from(value).ok()
        } else {
            self.issue(
                field,
                format!("{value} is out of range: allowed {min}-{max}"),
            );
            None
        }
    }

    fn duration_range(&mut self, field: &FieldPath, value: Duration, min: Duration, max: Duration) {
        if value < min || value > max {
            self.issue(
                field,
                format!(
                    "{} is out of range: allowed {}-{}",
                    units::format_duration(value),
                    units::format_duration(min),
                    units::format_duration(max)
                ),
            );
        }
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }

    fn global(&mut self, g: &model::Global, at: &FieldPath) -> Option<GlobalSettings> {
        let workers = self.range(&at.key("worker_threads"), g.worker_threads, 0, 1024)?;
        let worker_threads = match workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        };
        let access_log = match g.access_log.as_str() {
            "off" => AccessLogTarget::Off,
            "stdout" => AccessLogTarget::Stdout,
            "" => {
                self.issue(
                    &at.key("access_log"),
                    "must be a path, \"stdout\" or \"off\"",
                );
                AccessLogTarget::Off
            }
            p => AccessLogTarget::File(self.resolve(p)),
        };
        if !is_log_filter(&g.log_level) {
            self.issue(
                &at.key("log_level"),
                format!(
                    "{:?} is not a log level: allowed {}, or comma-separated target=level directives (e.g. \"info,stgw::health=debug\")",
                    g.log_level,
                    LOG_LEVELS.join(", ")
                ),
            );
        } else if let Err(e) = tracing_subscriber::EnvFilter::try_new(&g.log_level) {
            self.issue(&at.key("log_level"), format!("invalid tracing filter: {e}"));
        }
        if g.sticky_cookie.is_empty() || !g.sticky_cookie.bytes().all(is_token_byte) {
            self.issue(
                &at.key("sticky_cookie"),
                "must be a cookie name (RFC 6265 token characters)",
            );
        }
        let sticky_secret = match (&g.sticky_secret, &g.sticky_secret_env) {
            (Some(_), Some(_)) => {
                self.issue(
                    &at.key("sticky_secret"),
                    "give sticky_secret or sticky_secret_env, not both",
                );
                SecretSource::Generated
            }
            (Some(s), None) if s.len() < 16 => {
                self.issue(&at.key("sticky_secret"), "must be at least 16 characters");
                SecretSource::Generated
            }
            (Some(s), None) => SecretSource::Inline(s.clone()),
            (None, Some(env)) => SecretSource::Env(env.clone()),
            (None, None) => SecretSource::Generated,
        };
        self.duration_range(
            &at.key("drain_timeout"),
            g.drain_timeout.0,
            Duration::ZERO,
            Duration::from_secs(3600),
        );
        let keepalive = self.range(
            &at.key("upstream_keepalive"),
            g.upstream_keepalive,
            0,
            100_000,
        )?;
        self.duration_range(
            &at.key("upstream_keepalive_timeout"),
            g.upstream_keepalive_timeout.0,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        self.range(
            &at.key("max_listeners_per_lb"),
            g.max_listeners_per_lb,
            1,
            100_000,
        );
        self.range(&at.key("max_rules_per_lb"), g.max_rules_per_lb, 1, 100_000);
        self.range(
            &at.key("max_targets_per_rule"),
            g.max_targets_per_rule,
            1,
            100_000,
        );
        Some(GlobalSettings {
            worker_threads,
            access_log,
            access_log_format: g.access_log_format,
            log_level: g.log_level.clone(),
            state_dir: self.resolve(&g.state_dir),
            sticky_cookie: g.sticky_cookie.clone(),
            sticky_secret,
            drain_timeout: g.drain_timeout.0,
            upstream_keepalive: keepalive as usize,
            upstream_keepalive_timeout: g.upstream_keepalive_timeout.0,
        })
    }

    fn store(&mut self, s: &model::Store, at: &FieldPath) {
        match s.kind {
            model::StoreKind::File => {
                if !s.endpoints.is_empty() || s.prefix.is_some() {
                    self.issue(
                        &at.key("endpoints"),
                        "endpoints and prefix apply only to kind = \"etcd\"",
                    );
                }
            }
            model::StoreKind::Etcd => {
                if s.endpoints.is_empty() {
                    self.issue(
                        &at.key("endpoints"),
                        "kind = \"etcd\" needs at least one endpoint",
                    );
                }
                if s.endpoints.iter().any(|e| e.trim().is_empty()) {
                    self.issue(&at.key("endpoints"), "an endpoint must not be empty");
                }
                if s.prefix.as_deref().is_some_and(str::is_empty) {
                    self.issue(&at.key("prefix"), "must not be empty (default \"/stgw/\")");
                }
            }
        }
    }

    fn admin(&mut self, a: &model::Admin, at: &FieldPath) -> Option<AdminSettings> {
        let listen = match a.listen.parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                self.issue(
                    &at.key("listen"),
                    format!("{:?} is not an address such as 127.0.0.1:9180", a.listen),
                );
                return None;
            }
        };
        if a.secret_id.is_empty() {
            self.issue(&at.key("secret_id"), "must not be empty");
        }
        let secret_key = match (&a.secret_key, &a.secret_key_env) {
            (Some(k), None) if !k.is_empty() => SecretSource::Inline(k.clone()),
            (None, Some(env)) if !env.is_empty() => SecretSource::Env(env.clone()),
            _ => {
                self.issue(
                    &at.key("secret_key"),
                    "give exactly one of secret_key or secret_key_env",
                );
                return None;
            }
        };
        let tls = a.certificate.as_ref().and_then(|c| {
            let at = at.key("certificate");
            if c.cert.is_empty() || c.key.is_empty() {
                self.issue(&at, "give both cert and key (PEM file paths)");
                return None;
            }
            Some((self.resolve(&c.cert), self.resolve(&c.key)))
        });
        Some(AdminSettings {
            listen,
            secret_id: a.secret_id.clone(),
            secret_key,
            tls,
        })
    }

    fn certificates(
        &mut self,
        entries: &[model::CertificateEntry],
        at: &FieldPath,
    ) -> HashMap<String, (CertificateKind, CertFiles)> {
        let mut out = HashMap::new();
        for (i, c) in entries.iter().enumerate() {
            let at = at.index(i);
            if c.kind == CertificateKind::Server && c.key.is_none() {
                self.issue(&at.key("key"), "a SVR certificate needs its private key");
            }
            let files = CertFiles {
                id: Some(c.id.clone()),
                cert: self.resolve(&c.cert),
                key: c.key.as_deref().map(|k| self.resolve(k)),
                named_at: CertSite {
                    cert: self.site(&at.key("cert")),
                    key: self.site(&at.key("key")),
                },
            };
            if out.insert(c.id.clone(), (c.kind, files)).is_some() {
                self.issue(
                    &at.key("id"),
                    format!("duplicate certificate id {:?}", c.id),
                );
            }
        }
        out
    }

    /// `[node] vip`, each address parsed (a bad one is reported here, at
    /// its own line, and its load balancer is left out).
    fn node_vips(
        &mut self,
        vips: &std::collections::BTreeMap<String, String>,
        at: &FieldPath,
    ) -> HashMap<String, Option<IpAddr>> {
        let mut out = HashMap::new();
        for (id, text) in vips {
            let ip = self.vip(text, &at.key(id.clone()));
            out.insert(id.clone(), ip);
        }
        out
    }

    /// A VIP (`load_balancer.vip`, `[node] vip`): an IPv4 or IPv6 address.
    fn vip(&mut self, text: &str, at: &FieldPath) -> Option<IpAddr> {
        let ip = text.parse::<IpAddr>().ok();
        if ip.is_none() {
            self.issue(at, format!("{text:?} is not an IPv4 or IPv6 address"));
        }
        ip
    }

    fn instances(
        &mut self,
        entries: &[model::Instance],
        at: &FieldPath,
    ) -> HashMap<String, IpAddr> {
        let mut out = HashMap::new();
        for (i, ins) in entries.iter().enumerate() {
            let at = at.index(i);
            let Ok(ip) = ins.address.parse::<IpAddr>() else {
                self.issue(
                    &at.key("address"),
                    format!("{:?} is not an IP address", ins.address),
                );
                continue;
            };
            if out.insert(ins.id.clone(), ip).is_some() {
                self.issue(&at.key("id"), format!("duplicate instance id {:?}", ins.id));
            }
        }
        out
    }

    fn load_balancer(
        &mut self,
        lb: &model::LoadBalancer,
        ctx: &Context,
        at: &FieldPath,
    ) -> Option<LoadBalancerConfig> {
        let id = lb.id.clone().unwrap_or_default();
        if !is_lb_id(&id) {
            self.issue(
                &at.key("id"),
                format!("{id:?} is not an id of the form lb-[0-9a-z]{{8}}"),
            );
        }
        let vip = match ctx.node_vips.get(&id) {
            Some(Some(ip)) => *ip,
            // Reported at `node.vip`.
            Some(None) => return None,
            None => self.vip(&lb.vip, &at.key("vip"))?,
        };
        let custom = self.custom_config(
            lb.custom_config.as_deref().unwrap_or(""),
            &at.key("custom_config"),
        );
        if lb.listeners.len() > ctx.quotas.listeners {
            self.issue(
                &at.key("listener"),
                format!(
                    "{} listeners exceed the quota of {} per load balancer (global.max_listeners_per_lb)",
                    lb.listeners.len(),
                    ctx.quotas.listeners
                ),
            );
        }
        let rule_count: usize = lb
            .listeners
            .iter()
            .flat_map(|l| &l.domains)
            .map(|d| d.rules.len())
            .sum();
        if rule_count > ctx.quotas.rules {
            self.issue(
                &at.key("listener"),
                format!(
                    "{rule_count} rules exceed the quota of {} per load balancer (global.max_rules_per_lb)",
                    ctx.quotas.rules
                ),
            );
        }
        let mut ports = HashMap::new();
        let mut listeners = Vec::new();
        for (i, l) in lb.listeners.iter().enumerate() {
            let lat = at.key("listener").index(i);
            if let Some(port) = u16::try_from(l.port).ok().filter(|_| l.port > 0)
                && let Some(other) = ports.insert(port, i)
            {
                self.issue(
                    &lat.key("port"),
                    format!("port {port} is already used by listener[{other}]"),
                );
            }
            match self.listener(l, vip, ctx, &custom, &lat) {
                Some(listener) => listeners.push(listener),
                None => {
                    if let Some(id) = &l.id {
                        self.refused_listeners.insert(id.clone());
                    }
                }
            }
        }
        self.rewrites(lb, &mut listeners, at);
        for (i, a) in lb.auto_rewrites.iter().enumerate() {
            let aat = at.key("auto_rewrite").index(i);
            if let Ok(port) = u16::try_from(a.http_port)
                && let Some(other) = ports.insert(port, usize::MAX)
            {
                let by = if other == usize::MAX {
                    "another auto_rewrite".to_owned()
                } else {
                    format!("listener[{other}]")
                };
                self.issue(
                    &aat.key("http_port"),
                    format!("port {port} is already used by {by}"),
                );
            }
            if let Some(listener) = self.auto_rewrite(a, &listeners, vip, &aat) {
                listeners.push(listener);
            }
        }
        Some(LoadBalancerConfig {
            id,
            name: lb.name.clone(),
            vip,
            custom: Arc::new(custom),
            listeners,
        })
    }

    fn custom_config(&mut self, text: &str, at: &FieldPath) -> CustomConfig {
        if text.len() > MAX_CUSTOM_CONFIG {
            self.issue(at, format!("{} bytes exceed the limit of 64k", text.len()));
            return CustomConfig::default();
        }
        match custom::parse(text) {
            Ok(parsed) => {
                let ciphers = match &parsed.config.ssl_ciphers {
                    Some(spec) if parsed.config.ssl_protocols.tls12 => {
                        crate::tls::ciphers::select_tls12_suites(spec, &crate::tls::provider())
                            .err()
                    }
                    _ => None,
                };
                if ciphers.is_none() && parsed.warnings.is_empty() {
                    // Nothing to report: finding the line would parse the
                    // whole file again (seconds for 100,000 rules).
                    return parsed.config;
                }
                let base = self.custom_base_line(at);
                if let Some(e) = ciphers {
                    self.issues.push(Issue {
                        line: base,
                        field: at.to_string(),
                        message: format!("ssl_ciphers: {e}"),
                    });
                }
                for w in parsed.warnings {
                    let line = base.map(|b| b + w.line - 1);
                    self.warnings.push(format!(
                        "line {}: {}: {}",
                        line.map_or("?".into(), |l| l.to_string()),
                        at,
                        w.message
                    ));
                }
                parsed.config
            }
            Err(e) => {
                let base = self.custom_base_line(at);
                let line = match e.line() {
                    Some(l) => base.map(|b| b + l - 1),
                    None => base,
                };
                // The message counts lines within the text; the issue
                // carries the file line instead.
                let message = e.to_string();
                let message = match (e.line(), message.split_once(": ")) {
                    (Some(_), Some((_, rest))) => rest.to_owned(),
                    _ => message,
                };
                self.issues.push(Issue {
                    line,
                    field: at.to_string(),
                    message,
                });
                CustomConfig::default()
            }
        }
    }

    /// The file line of the custom_config text's first line.
    fn custom_base_line(&self, at: &FieldPath) -> Option<usize> {
        let span = self.map.span(at)?;
        let raw = &self.source[span.clone()];
        let line = self.map.line_at(span.start);
        // A multi-line string's first newline is not part of the value.
        let skip = (raw.starts_with("\"\"\"\n")
            || raw.starts_with("'''\n")
            || raw.starts_with("\"\"\"\r\n")
            || raw.starts_with("'''\r\n")) as usize;
        Some(line + skip)
    }

    fn listener(
        &mut self,
        l: &model::Listener,
        vip: IpAddr,
        ctx: &Context,
        custom: &CustomConfig,
        at: &FieldPath,
    ) -> Option<ListenerConfig> {
        let id = l.id.clone().unwrap_or_default();
        self.check_id(&at.key("id"), &id);
        let port = self.port(&at.key("port"), l.port)?;
        let name = l
            .name
            .clone()
            .unwrap_or_else(|| format!("{}:{}", l.protocol.as_str(), port));
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            self.issue(&at.key("name"), "must be 1-60 printable characters");
        }
        let trusted_proxies = self.nets(&at.key("trusted_proxies"), &l.trusted_proxies);
        let blocked_ips = self.nets(&at.key("blocked_ips"), &l.blocked_ips);
        if l.proxy_protocol && trusted_proxies.is_empty() {
            self.issue(
                &at.key("proxy_protocol"),
                "needs trusted_proxies: PROXY headers are accepted only from trusted addresses",
            );
        }
        let max_connections =
            self.range(&at.key("max_connections"), l.max_connections, 0, 10_000_000)?;
        let max_per_ip = self.range(
            &at.key("max_connections_per_ip"),
            l.max_connections_per_ip,
            0,
            10_000_000,
        )?;
        let limit_req = match &l.limit_req {
            None => None,
            Some(lr) => {
                let lat = at.key("limit_req");
                let rate = self.range(&lat.key("rate"), lr.rate, 1, 1_000_000)?;
                let burst = self.range(&lat.key("burst"), lr.burst, 0, 1_000_000)?;
                Some((rate, burst))
            }
        };
        let tls = match l.protocol {
            Protocol::Https => Some(self.listener_tls(l, ctx, at)?),
            Protocol::Http => {
                for (field, set) in [
                    ("sni", l.sni),
                    ("certificate", l.certificate.is_some()),
                    ("ssl_mode", l.ssl_mode != SslMode::Unidirectional),
                    ("client_ca", l.client_ca.is_some()),
                ] {
                    if set {
                        self.issue(&at.key(field), "applies only to HTTPS listeners");
                    }
                }
                None
            }
        };
        let mut domains = Vec::with_capacity(l.domains.len());
        let mut names = HashSet::new();
        let mut marked_default = false;
        for (i, d) in l.domains.iter().enumerate() {
            let dat = at.key("domain").index(i);
            if !names.insert(d.name.trim().to_ascii_lowercase()) {
                self.issue(
                    &dat.key("name"),
                    format!("duplicate domain {:?} in this listener", d.name),
                );
            }
            if d.default_server {
                if marked_default {
                    self.issue(
                        &dat.key("default_server"),
                        "at most one domain per listener may be the default",
                    );
                }
                marked_default = true;
            }
            if let Some(domain) = self.domain(d, l, ctx, custom, &dat) {
                domains.push(domain);
            }
        }
        if domains.len() != l.domains.len() {
            return None;
        }
        let default_domain = l.default_domain();
        Some(ListenerConfig {
            id,
            name,
            protocol: l.protocol,
            addr: SocketAddr::new(vip, port),
            default_server: l.default_server,
            default_domain,
            proxy_protocol: l.proxy_protocol,
            trusted_proxies,
            max_connections,
            max_connections_per_ip: max_per_ip,
            limit_req,
            blocked_ips,
            tls,
            domains,
        })
    }

    fn port(&mut self, at: &FieldPath, port: i64) -> Option<u16> {
        let port = self.range(at, port, 1, 65535)? as u16;
        if RESERVED_PORTS.contains(&port) {
            self.issue(
                at,
                format!("port {port} is reserved by the product: {RESERVED_PORTS:?}"),
            );
            return None;
        }
        Some(port)
    }

    fn check_id(&mut self, at: &FieldPath, id: &str) {
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            self.issue(
                at,
                format!("{id:?} is not a valid id (1-64 visible ASCII characters)"),
            );
        }
    }

    fn nets(&mut self, at: &FieldPath, items: &[String]) -> Vec<IpNet> {
        let mut out = Vec::with_capacity(items.len());
        for (i, text) in items.iter().enumerate() {
            match IpNet::parse(text) {
                Some(net) => out.push(net),
                None => self.issue(
                    &at.index(i),
                    format!("{text:?} is not an address or CIDR such as 10.0.0.0/8"),
                ),
            }
        }
        out
    }

    fn listener_tls(
        &mut self,
        l: &model::Listener,
        ctx: &Context,
        at: &FieldPath,
    ) -> Option<ListenerTls> {
        let certificates = match &l.certificate {
            Some(spec) => self.cert_spec(spec, ctx, &at.key("certificate"))?,
            None => Vec::new(),
        };
        if certificates.is_empty() {
            let every_domain_has_one =
                !l.domains.is_empty() && l.domains.iter().all(|d| d.certificate.is_some());
            if !(l.sni && every_domain_has_one) {
                self.issue(
                    &at.key("certificate"),
                    "an HTTPS listener needs a certificate (or sni = true and a certificate on every domain)",
                );
                return None;
            }
        }
        let client_ca = match (&l.client_ca, l.ssl_mode) {
            (None, SslMode::Mutual) => {
                self.issue(
                    &at.key("client_ca"),
                    "ssl_mode = \"MUTUAL\" needs client_ca",
                );
                return None;
            }
            (Some(ca), _) => Some(self.ca_spec(ca, ctx, &at.key("client_ca"))?),
            (None, SslMode::Unidirectional) => None,
        };
        Some(ListenerTls {
            sni: l.sni,
            certificates,
            ssl_mode: l.ssl_mode,
            client_ca,
        })
    }

    fn cert_spec(
        &mut self,
        spec: &CertificateSpec,
        ctx: &Context,
        at: &FieldPath,
    ) -> Option<Vec<CertFiles>> {
        let refs = spec.refs();
        if refs.is_empty() || refs.len() > 2 {
            self.issue(
                at,
                "give one certificate, or two side by side (one RSA, one ECDSA)",
            );
            return None;
        }
        let mut out = Vec::with_capacity(refs.len());
        for (i, r) in refs.iter().enumerate() {
            let rat = if matches!(spec, CertificateSpec::Many(_)) {
                at.index(i)
            } else {
                at.clone()
            };
            out.push(self.cert_ref(r, ctx, &rat, CertificateKind::Server)?);
        }
        Some(out)
    }

    fn cert_ref(
        &mut self,
        r: &CertificateRef,
        ctx: &Context,
        at: &FieldPath,
        want: CertificateKind,
    ) -> Option<CertFiles> {
        match (&r.id, &r.cert, &r.key) {
            (Some(id), None, None) => match ctx.certificates.get(id) {
                Some((kind, files)) if *kind == want => {
                    let here = self.site(&at.key("id"));
                    Some(CertFiles {
                        named_at: CertSite {
                            cert: here.clone(),
                            key: here,
                        },
                        ..files.clone()
                    })
                }
                Some(_) => {
                    let what = if want == CertificateKind::Ca {
                        "CA"
                    } else {
                        "SVR"
                    };
                    self.issue(
                        &at.key("id"),
                        format!("certificate {id:?} is not of type {what}"),
                    );
                    None
                }
                None => {
                    self.issue(&at.key("id"), format!("no [[certificate]] has id {id:?}"));
                    None
                }
            },
            (None, Some(cert), key) if want == CertificateKind::Ca || key.is_some() => {
                Some(CertFiles {
                    id: None,
                    cert: self.resolve(cert),
                    key: key.as_deref().map(|k| self.resolve(k)),
                    named_at: CertSite {
                        cert: self.site(&at.key("cert")),
                        key: self.site(&at.key("key")),
                    },
                })
            }
            _ => {
                let form = if want == CertificateKind::Ca {
                    "{ id = … } or { cert = … }"
                } else {
                    "{ id = … } or { cert = …, key = … }"
                };
                self.issue(at, format!("write a certificate as {form}"));
                None
            }
        }
    }

    fn ca_spec(&mut self, ca: &CaSpec, ctx: &Context, at: &FieldPath) -> Option<CertFiles> {
        match ca {
            CaSpec::Path(p) => Some(CertFiles {
                id: None,
                cert: self.resolve(p),
                key: None,
                named_at: CertSite {
                    cert: self.site(at),
                    key: self.site(at),
                },
            }),
            CaSpec::Ref(r) => self.cert_ref(r, ctx, at, CertificateKind::Ca),
        }
    }

    fn domain(
        &mut self,
        d: &model::Domain,
        l: &model::Listener,
        ctx: &Context,
        custom: &CustomConfig,
        at: &FieldPath,
    ) -> Option<DomainConfig> {
        let pattern = match self.known.domain(&d.name) {
            Ok(p) => p,
            Err(e) => {
                self.issue(&at.key("name"), format!("{:?}: {e}", d.name));
                return None;
            }
        };
        let certificates = match (&d.certificate, l.protocol) {
            (Some(_), Protocol::Http) => {
                self.issue(
                    &at.key("certificate"),
                    "applies only to domains of HTTPS listeners",
                );
                return None;
            }
            (Some(spec), Protocol::Https) => {
                if !l.sni {
                    self.warnings.push(format!(
                        "{at}.certificate: the listener has sni = false, so its own certificate is used for every domain"
                    ));
                }
                self.cert_spec(spec, ctx, &at.key("certificate"))?
            }
            (None, _) => Vec::new(),
        };
        let _ = custom;
        let mut rules = Vec::with_capacity(d.rules.len());
        let mut urls = HashSet::new();
        for (i, r) in d.rules.iter().enumerate() {
            let rat = at.key("rule").index(i);
            if let Some(rule) = self.rule(r, &pattern, d, ctx, &rat) {
                if !urls.insert(rule.pattern.identity()) {
                    self.issue(
                        &rat.key("url"),
                        format!("duplicate URL rule {:?} in this domain", r.url),
                    );
                }
                rules.push(rule);
            }
        }
        if rules.len() != d.rules.len() {
            return None;
        }
        Some(DomainConfig {
            name: d.name.trim().to_owned(),
            pattern,
            http2: d.http2,
            certificates,
            rules,
        })
    }

    fn rule(
        &mut self,
        r: &model::Rule,
        domain: &DomainPattern,
        d: &model::Domain,
        ctx: &Context,
        at: &FieldPath,
    ) -> Option<RuleConfig> {
        let id = r.id.clone().unwrap_or_default();
        self.check_id(&at.key("id"), &id);
        let pattern = match self.known.url(&r.url) {
            Ok(p) => p,
            Err(e) => {
                self.issue(&at.key("url"), format!("{:?}: {e}", r.url));
                return None;
            }
        };
        let sticky = match r.session_expire_time {
            0 => None,
            secs => {
                let secs = self.range(&at.key("session_expire_time"), secs, 30, 3600)?;
                if r.scheduler != Scheduler::Wrr {
                    self.issue(
                        &at.key("session_expire_time"),
                        format!(
                            "cookie stickiness works only with scheduler = \"WRR\", not {:?}",
                            r.scheduler.as_str()
                        ),
                    );
                }
                Some(Duration::from_secs(u64::from(secs)))
            }
        };
        if !r.forward_type.is_tls() {
            for (field, set) in [
                ("tls_verify", r.tls_verify),
                ("tls_ca", r.tls_ca.is_some()),
                ("tls_sni", r.tls_sni.is_some()),
            ] {
                if set {
                    self.issue(
                        &at.key(field),
                        "applies only to forward_type HTTPS or GRPCS",
                    );
                }
            }
        }
        let gzip_level = self.range(&at.key("gzip_level"), r.gzip_level, 1, 9)?;
        if r.targets.len() > ctx.quotas.targets {
            self.issue(
                &at.key("targets"),
                format!(
                    "{} targets exceed the quota of {} per rule (global.max_targets_per_rule)",
                    r.targets.len(),
                    ctx.quotas.targets
                ),
            );
        }
        let mut targets = Vec::with_capacity(r.targets.len());
        let mut seen = HashSet::new();
        for (i, t) in r.targets.iter().enumerate() {
            let tat = at.key("targets").index(i);
            if let Some(target) = self.target(t, ctx, &tat) {
                if !seen.insert(target.addr) {
                    self.issue(
                        &tat,
                        format!("target {} is listed twice in this rule", target.addr),
                    );
                }
                targets.push(target);
            }
        }
        let health_check =
            self.health_check(r.health_check.as_ref(), domain, d, &at.key("health_check"))?;
        Some(RuleConfig {
            id,
            url: r.url.trim().to_owned(),
            pattern,
            scheduler: r.scheduler,
            sticky,
            forward_type: r.forward_type,
            upstream_tls: UpstreamTls {
                verify: r.tls_verify,
                ca: r.tls_ca.as_deref().map(|p| self.resolve(p)),
                sni: r.tls_sni.clone(),
            },
            gzip_level: r.gzip.then_some(gzip_level),
            client_ip: r.client_ip,
            targets,
            health_check,
            action: RuleAction::Forward,
        })
    }

    fn target(&mut self, t: &model::Target, ctx: &Context, at: &FieldPath) -> Option<TargetConfig> {
        let weight = self.range(&at.key("weight"), t.weight, 0, 100)?;
        let addr = match (&t.address, &t.instance, t.port) {
            (Some(a), None, None) => match a.parse::<SocketAddr>() {
                Ok(addr) if addr.port() != 0 => addr,
                _ => {
                    self.issue(
                        &at.key("address"),
                        format!("{a:?} is not IP:port or [IPv6]:port"),
                    );
                    return None;
                }
            },
            (None, Some(ins), Some(port)) => {
                let port = self.range(&at.key("port"), port, 1, 65535)? as u16;
                match ctx.instances.get(ins) {
                    Some(ip) => SocketAddr::new(*ip, port),
                    None => {
                        self.issue(
                            &at.key("instance"),
                            format!("no [[instance]] has id {ins:?}"),
                        );
                        return None;
                    }
                }
            }
            _ => {
                self.issue(at, "write a target as { address = \"IP:port\" } or { instance = \"ins-…\", port = N }");
                return None;
            }
        };
        Some(TargetConfig { addr, weight })
    }

    fn health_check(
        &mut self,
        hc: Option<&model::HealthCheck>,
        domain: &DomainPattern,
        d: &model::Domain,
        at: &FieldPath,
    ) -> Option<HealthCheckConfig> {
        let default = model::HealthCheck::default();
        let hc = hc.unwrap_or(&default);
        let interval = self.range(&at.key("interval"), hc.interval, 5, 300)?;
        let timeout = self.range(&at.key("timeout"), hc.timeout, 2, 60)?;
        if timeout >= interval {
            self.issue(
                &at.key("timeout"),
                format!("timeout {timeout} s must be less than interval {interval} s"),
            );
        }
        let healthy = self.range(&at.key("healthy_threshold"), hc.healthy_threshold, 2, 10)?;
        let unhealthy = self.range(
            &at.key("unhealthy_threshold"),
            hc.unhealthy_threshold,
            2,
            10,
        )?;
        let head = match hc.method.to_ascii_uppercase().as_str() {
            "GET" => false,
            "HEAD" => true,
            other => {
                self.issue(
                    &at.key("method"),
                    format!("{other:?} is not allowed: GET or HEAD"),
                );
                return None;
            }
        };
        if !hc.path.starts_with('/')
            || hc.path.len() > 200
            || hc.path.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            self.issue(
                &at.key("path"),
                "must start with '/', be 1-200 characters and contain no spaces",
            );
        }
        let host = match &hc.domain {
            Some(name) => {
                let valid = !name.is_empty()
                    && name.len() <= 120
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                if !valid {
                    self.issue(
                        &at.key("domain"),
                        "must be 1-120 characters of a-z 0-9 . _ - (no wildcard or regex)",
                    );
                }
                Some(name.to_ascii_lowercase())
            }
            None if domain.is_exact() => Some(d.name.trim().to_ascii_lowercase()),
            None => None,
        };
        let mut status_classes = 0u8;
        for (i, code) in hc.http_codes.iter().enumerate() {
            match code.as_str() {
                "http_1xx" => status_classes |= 1,
                "http_2xx" => status_classes |= 2,
                "http_3xx" => status_classes |= 4,
                "http_4xx" => status_classes |= 8,
                "http_5xx" => status_classes |= 16,
                other => self.issue(
                    &at.key("http_codes").index(i),
                    format!(
                        "{other:?} is not one of http_1xx, http_2xx, http_3xx, http_4xx, http_5xx"
                    ),
                ),
            }
        }
        if status_classes == 0 {
            self.issue(&at.key("http_codes"), "needs at least one status class");
        }
        Some(HealthCheckConfig {
            enabled: hc.enabled,
            interval: Duration::from_secs(u64::from(interval)),
            timeout: Duration::from_secs(u64::from(timeout)),
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
            head,
            path: hc.path.clone(),
            host,
            status_classes,
        })
    }

    /// Applies `[[load_balancer.rewrite]]` to the source rules.
    fn rewrites(
        &mut self,
        lb: &model::LoadBalancer,
        listeners: &mut [ListenerConfig],
        at: &FieldPath,
    ) {
        let mut sources = HashSet::new();
        let mut targets = HashSet::new();
        let mut resolved = Vec::new();
        let auto_ids: Vec<&str> = lb
            .auto_rewrites
            .iter()
            .filter_map(|a| a.id.as_deref())
            .collect();
        for (i, rw) in lb.rewrites.iter().enumerate() {
            let rat = at.key("rewrite").index(i);
            let code = match rw.code {
                301 | 302 | 307 => rw.code as u16,
                other => {
                    self.issue(
                        &rat.key("code"),
                        format!("{other} is not allowed: 301, 302 or 307"),
                    );
                    continue;
                }
            };
            let Some(src) = self.find_rule(listeners, &auto_ids, &rw.source, &rat.key("source"))
            else {
                continue;
            };
            let Some(dst) = self.find_rule(listeners, &auto_ids, &rw.target, &rat.key("target"))
            else {
                continue;
            };
            if !sources.insert(src) {
                self.issue(
                    &rat.key("source"),
                    "this rule is already the source of another redirect",
                );
            }
            targets.insert(dst);
            resolved.push((rat, src, dst, code, rw.take_url));
        }
        for (rat, src, dst, code, take_url) in resolved {
            if sources.contains(&dst) {
                self.issue(
                    &rat.key("target"),
                    "the target rule is itself a redirect source: redirects cannot chain",
                );
                continue;
            }
            if targets.contains(&src) {
                self.issue(
                    &rat.key("source"),
                    "the source rule is the target of another redirect: redirects cannot chain",
                );
                continue;
            }
            let (tl, td, tr) = dst;
            let target_listener = &listeners[tl];
            let target_domain = &target_listener.domains[td];
            let (sl, sd, _) = src;
            if !target_domain.pattern.is_exact()
                && !target_domain
                    .name
                    .eq_ignore_ascii_case(&listeners[sl].domains[sd].name)
            {
                self.warnings.push(format!(
                    "{}: {:?} is not an exact name, so the Location keeps the request's host, which may not match it",
                    rat.key("target").key("domain"),
                    target_domain.name
                ));
            }
            let target_rule = &target_domain.rules[tr];
            let Some(path) = target_rule.pattern.literal().map(str::to_owned) else {
                self.issue(
                    &rat.key("target").key("url"),
                    "a redirect target must be a non-regex URL",
                );
                continue;
            };
            let redirect = RedirectConfig {
                code,
                scheme: target_listener.protocol,
                host: target_domain
                    .pattern
                    .is_exact()
                    .then(|| target_domain.name.to_ascii_lowercase()),
                port: target_listener.addr.port(),
                path: Some(path),
                take_url,
                strip_prefix: None,
            };
            let sr = src.2;
            let source_rule = &mut listeners[sl].domains[sd].rules[sr];
            // What take_url carries: the rest after a prefix rule's URL,
            // the whole path for a regex rule, nothing for an exact rule.
            let strip_prefix = match &source_rule.pattern {
                UrlPattern::Exact(_) => None,
                UrlPattern::Regex { .. } => Some(String::new()),
                UrlPattern::Prefix(p) | UrlPattern::PrefixNoRegex(p) => Some(p.clone()),
            };
            source_rule.action = RuleAction::Redirect(RedirectConfig {
                strip_prefix,
                ..redirect
            });
        }
    }

    fn find_rule(
        &mut self,
        listeners: &[ListenerConfig],
        auto_ids: &[&str],
        end: &model::RewriteEnd,
        at: &FieldPath,
    ) -> Option<(usize, usize, usize)> {
        let Some(li) = listeners.iter().position(|l| l.id == end.listener) else {
            if self.refused_listeners.contains(&end.listener) {
                return None;
            }
            let auto = auto_ids.iter().any(|id| *id == end.listener);
            self.issue(
                &at.key("listener"),
                if auto {
                    format!(
                        "listener {:?} is created by an auto_rewrite: every domain on it already redirects",
                        end.listener
                    )
                } else {
                    format!(
                        "no listener of this load balancer has id {:?}",
                        end.listener
                    )
                },
            );
            return None;
        };
        let l = &listeners[li];
        let Some(di) = l
            .domains
            .iter()
            .position(|d| d.name.eq_ignore_ascii_case(end.domain.trim()))
        else {
            self.issue(
                &at.key("domain"),
                format!("listener {} has no domain {:?}", l.id, end.domain),
            );
            return None;
        };
        let want = UrlPattern::parse(&end.url).ok().map(|p| p.identity());
        let Some(ri) = l.domains[di]
            .rules
            .iter()
            .position(|r| Some(r.pattern.identity()) == want)
        else {
            self.issue(
                &at.key("url"),
                format!("domain {:?} has no rule {:?}", end.domain, end.url),
            );
            return None;
        };
        Some((li, di, ri))
    }

    /// The HTTP listener an `[[load_balancer.auto_rewrite]]` creates.
    fn auto_rewrite(
        &mut self,
        a: &model::AutoRewrite,
        listeners: &[ListenerConfig],
        vip: IpAddr,
        at: &FieldPath,
    ) -> Option<ListenerConfig> {
        let code = match a.code {
            301 | 302 | 307 => a.code as u16,
            other => {
                self.issue(
                    &at.key("code"),
                    format!("{other} is not allowed: 301, 302 or 307"),
                );
                return None;
            }
        };
        let http_port = self.port(&at.key("http_port"), a.http_port)?;
        let Some(https) = listeners.iter().find(|l| l.id == a.listener) else {
            if self.refused_listeners.contains(&a.listener) {
                return None;
            }
            self.issue(
                &at.key("listener"),
                format!("no listener of this load balancer has id {:?}", a.listener),
            );
            return None;
        };
        if https.protocol != Protocol::Https {
            self.issue(
                &at.key("listener"),
                format!("listener {} is not an HTTPS listener", https.id),
            );
            return None;
        }
        let chosen: Vec<&DomainConfig> = match &a.domains {
            None => https.domains.iter().collect(),
            Some(names) => {
                let mut out = Vec::new();
                for (i, n) in names.iter().enumerate() {
                    match https
                        .domains
                        .iter()
                        .find(|d| d.name.eq_ignore_ascii_case(n.trim()))
                    {
                        Some(d) => out.push(d),
                        None => self.issue(
                            &at.key("domains").index(i),
                            format!("listener {} has no domain {n:?}", https.id),
                        ),
                    }
                }
                out
            }
        };
        let id = a.id.clone().unwrap_or_default();
        self.check_id(&at.key("id"), &id);
        let redirect = RedirectConfig {
            code,
            scheme: Protocol::Https,
            host: None,
            port: https.addr.port(),
            path: None,
            take_url: a.take_url,
            strip_prefix: None,
        };
        // A Host no chosen domain matches is redirected only when the
        // HTTPS listener's default domain is among them (at its index
        // there); else it gets 404: an unlisted domain is not redirected.
        let default_domain = https.default_domain.and_then(|i| {
            let name = &https.domains.get(i)?.name;
            chosen.iter().position(|d| d.name == *name)
        });
        let domains = chosen
            .into_iter()
            .map(|d| DomainConfig {
                name: d.name.clone(),
                pattern: d.pattern.clone(),
                http2: false,
                certificates: Vec::new(),
                rules: vec![RuleConfig {
                    id: derive_id("loc-", &[&id, &d.name]),
                    url: "/".into(),
                    pattern: UrlPattern::Prefix("/".into()),
                    scheduler: Scheduler::Wrr,
                    sticky: None,
                    forward_type: ForwardType::Http,
                    upstream_tls: UpstreamTls::default(),
                    gzip_level: None,
                    client_ip: false,
                    targets: Vec::new(),
                    health_check: disabled_health_check(),
                    action: RuleAction::Redirect(redirect.clone()),
                }],
            })
            .collect::<Vec<_>>();
        Some(ListenerConfig {
            id,
            name: format!("HTTP:{http_port}"),
            protocol: Protocol::Http,
            addr: SocketAddr::new(vip, http_port),
            default_server: https.default_server,
            default_domain,
            proxy_protocol: https.proxy_protocol,
            trusted_proxies: https.trusted_proxies.clone(),
            max_connections: https.max_connections,
            max_connections_per_ip: https.max_connections_per_ip,
            limit_req: https.limit_req,
            blocked_ips: https.blocked_ips.clone(),
            tls: None,
            domains,
        })
    }
}

fn disabled_health_check() -> HealthCheckConfig {
    HealthCheckConfig {
        enabled: false,
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        healthy_threshold: 3,
        unhealthy_threshold: 3,
        head: false,
        path: "/".into(),
        host: None,
        status_classes: 0b1111,
    }
}

/// The levels `global.log_level` takes, alone or after `target=`.
const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// Whether `text` is a level, or comma-separated `level` / `target=level`
/// directives (a target is a module path such as `stgw::health`). tracing
/// would take any other word as a target name and log nothing for it.
fn is_log_filter(text: &str) -> bool {
    let is_level = |l: &str| LOG_LEVELS.iter().any(|w| w.eq_ignore_ascii_case(l.trim()));
    let is_target = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b))
    };
    !text.trim().is_empty()
        && text.split(',').all(|d| match d.split_once('=') {
            Some((target, level)) => is_target(target.trim()) && is_level(level),
            None => is_level(d),
        })
}

/// RFC 7230 token characters (cookie and header names).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_lb_id(id: &str) -> bool {
    id.strip_prefix("lb-").is_some_and(|rest| {
        rest.len() == 8
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })
}

/// A stable id: `prefix` + 8 base-36 characters of SHA-256 over the parts.
pub(super) fn derive_id(prefix: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let mut n = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    let mut out = String::from(prefix);
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    for _ in 0..8 {
        out.push(ALPHABET[(n % 36) as usize] as char);
        n /= 36;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::TRANSLATIONS;

    const PATH: &str = "/etc/stgw/stgw.toml";

    /// A file with a regex domain and, on it, one rule per URL.
    fn file(urls: &[&str]) -> ConfigFile {
        let mut text = String::from(
            "[global]\nmax_rules_per_lb = 100\n[[load_balancer]]\nname = \"t\"\nvip = \"127.0.0.1\"\n  [[load_balancer.listener]]\n  protocol = \"HTTP\"\n  port = 8080\n    [[load_balancer.listener.domain]]\n    name = \"~^r\\\\.example\\\\.com$\"\n",
        );
        for url in urls {
            text.push_str(&format!(
                "      [[load_balancer.listener.domain.rule]]\n      url = {url:?}\n      targets = [{{ address = \"127.0.0.1:9001\" }}]\n"
            ));
        }
        Config::from_str(&text, Path::new(PATH))
            .expect("valid file")
            .file
    }

    /// Regexes compiled while `f` runs.
    fn compiles<T>(f: impl FnOnce() -> T) -> (T, usize) {
        TRANSLATIONS.with(|n| n.set(0));
        let out = f();
        (out, TRANSLATIONS.with(|n| n.get()))
    }

    fn rule_urls(config: &Config) -> Vec<(String, String)> {
        config
            .listeners()
            .flat_map(|(_, l)| &l.domains)
            .flat_map(|d| &d.rules)
            .map(|r| (r.url.clone(), r.pattern.identity()))
            .collect()
    }

    #[test]
    fn an_edit_compiles_only_the_regexes_it_adds() {
        let before = file(&["~ ^/a/[0-9]+$", "~* \\.(gif|jpg)$", "/plain/"]);
        let previous = Config::from_model(before, Path::new(PATH)).expect("valid");
        let edited = file(&["~ ^/a/[0-9]+$", "~* \\.(gif|jpg)$", "/plain/", "~ ^/new/"]);
        let (full, all) = compiles(|| Config::from_model(edited.clone(), Path::new(PATH)));
        let (reused, added) =
            compiles(|| Config::from_model_after(edited, Path::new(PATH), &previous));
        assert_eq!(all, 4, "three URL regexes and the domain's");
        assert_eq!(added, 1, "only the new rule's regex is compiled");
        let (full, reused) = (full.expect("valid"), reused.expect("valid"));
        assert_eq!(rule_urls(&full), rule_urls(&reused));
        let rules = &reused.load_balancers[0].listeners[0].domains[0].rules;
        assert!(rules[0].pattern.matches(b"/a/12"));
        assert!(!rules[0].pattern.matches(b"/a/x"));
        assert!(rules[1].pattern.matches(b"/I.GIF"));
        assert!(rules[3].pattern.matches(b"/new/x"));
        let domain = &reused.load_balancers[0].listeners[0].domains[0];
        assert!(domain.pattern.matches("r.example.com"));
    }

    #[test]
    fn a_changed_regex_is_compiled_and_a_removed_one_is_not_used() {
        let previous =
            Config::from_model(file(&["~ ^/old/", "~ ^/kept/"]), Path::new(PATH)).expect("valid");
        let edited = file(&["~ ^/changed/", "~ ^/kept/"]);
        let (next, compiled) =
            compiles(|| Config::from_model_after(edited, Path::new(PATH), &previous));
        assert_eq!(compiled, 1);
        let rules = &next.expect("valid").load_balancers[0].listeners[0].domains[0].rules;
        assert!(rules[0].pattern.matches(b"/changed/"));
        assert!(!rules[0].pattern.matches(b"/old/"));
        assert!(rules[1].pattern.matches(b"/kept/"));
    }

    #[test]
    fn known_patterns_are_looked_up_by_their_trimmed_text() {
        let a = UrlPattern::parse("~ ^/b$").expect("valid");
        let mut known = KnownPatterns::default();
        known.urls.insert("~ ^/a$", &a);
        let (found, compiled) = compiles(|| known.url("  ~ ^/a$ ").expect("known"));
        assert_eq!(compiled, 0);
        // The stored pattern, not a new parse of the text.
        assert!(found.matches(b"/b"));
        let (parsed, compiled) = compiles(|| known.url("~ ^/c$").expect("valid"));
        assert_eq!(compiled, 1);
        assert!(parsed.matches(b"/c"));
        assert_eq!(
            known.url("~ (unclosed").map(|_| ()),
            UrlPattern::parse("~ (unclosed").map(|_| ()),
            "an unknown pattern is refused as a parse refuses it"
        );
    }

    #[test]
    fn an_invalid_regex_in_an_edit_is_refused_with_the_same_error() {
        let previous = Config::from_model(file(&["~ ^/a/"]), Path::new(PATH)).expect("valid");
        let mut bad = file(&["~ ^/a/"]);
        bad.load_balancers[0].listeners[0].domains[0].rules[0].url = "~ (x".into();
        let full = Config::from_model(bad.clone(), Path::new(PATH)).map(|_| ());
        let reused = Config::from_model_after(bad, Path::new(PATH), &previous).map(|_| ());
        assert_eq!(
            full.expect_err("refused").to_string(),
            reused.expect_err("refused").to_string()
        );
    }
}

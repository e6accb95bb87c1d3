//! The configuration: the TOML file of `CONFIG.md`, validated once.
//!
//! [`Config::load`] reads a file, checks every value against the product's
//! ranges and quotas, resolves references (certificate ids, instance ids,
//! redirect ends) and derives absent ids. What it returns is a [`Config`]:
//! typed, complete and consistent, so that compiling it into a running
//! snapshot cannot fail on a value (only on I/O such as a certificate file).

pub mod custom;
pub(crate) mod error;
pub mod model;
pub(crate) mod units;
mod validate;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use custom::CustomConfig;
pub use error::{ConfigError, Issue};
pub use model::{
    AccessLogFormat, ConfigFile, ForwardType, Protocol, Scheduler, SslMode, StoreKind,
};

use crate::routing::{DomainPattern, UrlPattern};
use validate::KnownPatterns;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The file as read, with derived ids filled in (what the API edits).
    pub file: ConfigFile,
    /// Process settings.
    pub global: GlobalSettings,
    /// The management API, if configured.
    pub admin: Option<AdminSettings>,
    /// The certificate store (`[[certificate]]`) in file order, each
    /// with its type, referenced or not.
    pub certificates: Vec<(model::CertificateKind, CertFiles)>,
    /// Load balancer instances.
    pub load_balancers: Vec<LoadBalancerConfig>,
    /// Things worth saying at load time (ignored values).
    pub warnings: Vec<String>,
    /// `file` as TOML, when this configuration was validated from a
    /// model ([`Config::from_model`]): validation serialises it anyway,
    /// and the file store writes the same text, so a write serialises its
    /// model once. `None` for a configuration read from a file.
    pub model_text: Option<ModelText>,
}

/// A file model serialised as TOML. Shown by its length in debug output.
#[derive(Clone)]
pub struct ModelText(Arc<str>);

impl ModelText {
    /// The TOML text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ModelText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelText({} bytes)", self.0.len())
    }
}

/// `[global]`, typed.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    /// Runtime worker threads (resolved: at least 1).
    pub worker_threads: usize,
    /// Where access log records go.
    pub access_log: AccessLogTarget,
    /// Record format.
    pub access_log_format: AccessLogFormat,
    /// tracing filter.
    pub log_level: String,
    /// Generated state (secrets, uploaded certificates).
    pub state_dir: PathBuf,
    /// Sticky cookie name.
    pub sticky_cookie: String,
    /// Where the sticky HMAC key comes from.
    pub sticky_secret: SecretSource,
    /// SIGTERM drain bound.
    pub drain_timeout: Duration,
    /// Idle pooled connections kept per target.
    pub upstream_keepalive: usize,
    /// Idle pooled connection lifetime.
    pub upstream_keepalive_timeout: Duration,
}

/// Access log destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// No access log.
    Off,
    /// Standard output.
    Stdout,
    /// A file (reopened on SIGUSR1).
    File(PathBuf),
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the file.
    Inline(String),
    /// An environment variable.
    Env(String),
    /// Generated into `state_dir` at first start.
    Generated,
}

/// `[admin]`, typed.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// TC3 SecretId.
    pub secret_id: String,
    /// Where the SecretKey comes from.
    pub secret_key: SecretSource,
    /// TLS for the API: the certificate chain and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A certificate and its key on disk.
///
/// Two are equal when they name the same store id and files: where they
/// are written ([`CertFiles::named_at`]) is not part of their identity.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// Store id, when it came from `[[certificate]]`.
    pub id: Option<String>,
    /// PEM chain.
    pub cert: PathBuf,
    /// PEM key (server certificates).
    pub key: Option<PathBuf>,
    /// Where the file names are written, for the errors of reading them.
    pub named_at: CertSite,
}

impl PartialEq for CertFiles {
    fn eq(&self, other: &Self) -> bool {
        (&self.id, &self.cert, &self.key) == (&other.id, &other.cert, &other.key)
    }
}

impl Eq for CertFiles {}

impl std::hash::Hash for CertFiles {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.id, &self.cert, &self.key).hash(state);
    }
}

/// Where a certificate's files are named: the `cert` and `key` fields of a
/// `[[certificate]]` entry or an inline `{ cert, key }`, or the `id = …`
/// that references a store entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertSite {
    /// Where the certificate (chain or CA bundle) is named.
    pub cert: Site,
    /// Where the private key is named.
    pub key: Site,
}

/// A field of the file and its line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    /// The field, as a dotted path (`certificate[0].cert`).
    pub field: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
}

/// One load balancer instance.
#[derive(Debug, Clone)]
pub struct LoadBalancerConfig {
    /// `lb-…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Bind address of its listeners (after `[node] vip`).
    pub vip: IpAddr,
    /// The personalized configuration.
    pub custom: Arc<CustomConfig>,
    /// Its listeners, including those created by `auto_rewrite`.
    pub listeners: Vec<ListenerConfig>,
}

/// One listener.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// `lbl-…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// HTTP or HTTPS.
    pub protocol: Protocol,
    /// Bind address.
    pub addr: SocketAddr,
    /// Unmatched hosts go to the default domain.
    pub default_server: bool,
    /// Index of the default domain in `domains`.
    pub default_domain: Option<usize>,
    /// Expect a PROXY protocol header.
    pub proxy_protocol: bool,
    /// Sources whose PROXY header / X-Forwarded-For is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// 0 = unlimited.
    pub max_connections: u32,
    /// 0 = unlimited.
    pub max_connections_per_ip: u32,
    /// Per-address request rate (requests/s, burst).
    pub limit_req: Option<(u32, u32)>,
    /// Refused at accept.
    pub blocked_ips: Vec<IpNet>,
    /// TLS settings (HTTPS listeners).
    pub tls: Option<ListenerTls>,
    /// Domains in file order.
    pub domains: Vec<DomainConfig>,
}

/// TLS settings of an HTTPS listener.
#[derive(Debug, Clone)]
pub struct ListenerTls {
    /// Per-domain certificates.
    pub sni: bool,
    /// The listener certificate(s): no SNI, unknown SNI, SNI off.
    pub certificates: Vec<CertFiles>,
    /// One-way or mutual.
    pub ssl_mode: SslMode,
    /// Client CA bundle (MUTUAL).
    pub client_ca: Option<CertFiles>,
}

/// One domain of a listener.
#[derive(Debug, Clone)]
pub struct DomainConfig {
    /// As configured (for logs, metrics, the API).
    pub name: String,
    /// Compiled pattern.
    pub pattern: DomainPattern,
    /// HTTPS: offer h2.
    pub http2: bool,
    /// HTTPS with SNI: this domain's certificate(s).
    pub certificates: Vec<CertFiles>,
    /// URL rules in file order.
    pub rules: Vec<RuleConfig>,
}

/// One URL rule.
#[derive(Debug, Clone)]
pub struct RuleConfig {
    /// `loc-…`.
    pub id: String,
    /// As configured.
    pub url: String,
    /// Compiled pattern.
    pub pattern: UrlPattern,
    /// Scheduler.
    pub scheduler: Scheduler,
    /// Cookie stickiness lifetime (WRR only).
    pub sticky: Option<Duration>,
    /// Protocol to the targets.
    pub forward_type: ForwardType,
    /// TLS towards the targets.
    pub upstream_tls: UpstreamTls,
    /// Gzip level when compression is on.
    pub gzip_level: Option<u32>,
    /// Inject X-Forwarded-For / X-Real-IP.
    pub client_ip: bool,
    /// Targets in file order.
    pub targets: Vec<TargetConfig>,
    /// Active health check.
    pub health_check: HealthCheckConfig,
    /// Forward, or answer with a redirect.
    pub action: RuleAction,
}

/// TLS to targets (HTTPS / GRPCS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UpstreamTls {
    /// Verify the target certificate.
    pub verify: bool,
    /// CA bundle for verification (else the system roots).
    pub ca: Option<PathBuf>,
    /// SNI to send (else the target IP, i.e. none).
    pub sni: Option<String>,
}

/// One target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetConfig {
    /// Where it listens.
    pub addr: SocketAddr,
    /// 0–100; 0 receives nothing.
    pub weight: u32,
}

/// A rule's active health check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCheckConfig {
    /// Off: every target counts as healthy.
    pub enabled: bool,
    /// Probe period.
    pub interval: Duration,
    /// Probe timeout.
    pub timeout: Duration,
    /// Successes to become Alive.
    pub healthy_threshold: u32,
    /// Failures to become Dead.
    pub unhealthy_threshold: u32,
    /// `true` = HEAD, `false` = GET.
    pub head: bool,
    /// Request path.
    pub path: String,
    /// Host header; `None` = the target address.
    pub host: Option<String>,
    /// Healthy status classes: bit n-1 set = `n`xx healthy.
    pub status_classes: u8,
}

/// What a rule does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Proxy to the targets.
    Forward,
    /// Answer with a redirect.
    Redirect(RedirectConfig),
}

/// A redirect answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectConfig {
    /// 301 | 302 | 307.
    pub code: u16,
    /// Scheme of the target listener.
    pub scheme: Protocol,
    /// Target host; `None` = the request's host.
    pub host: Option<String>,
    /// Target listener port.
    pub port: u16,
    /// Target path; `None` = the request's path.
    pub path: Option<String>,
    /// Carry the rest of the path (after `strip_prefix`) and the query.
    pub take_url: bool,
    /// The source rule's literal prefix, removed before appending the rest.
    pub strip_prefix: Option<String>,
}

/// An IPv4 or IPv6 network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl IpNet {
    /// Parses `a.b.c.d/n`, `x::y/n` or a bare address (a host route).
    pub fn parse(text: &str) -> Option<IpNet> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = text.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses count
    /// as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_str(&text, path)
    }

    /// Validates configuration text as if read from `path` (relative paths
    /// in it are relative to `path`'s folder).
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let syntax =
            |e: &toml::de::Error, field: Option<String>, message: String| ConfigError::Syntax {
                path: path.to_owned(),
                line: e.span().map(|s| error::line_of(text, s.start)),
                field,
                message,
            };
        let document = toml::Deserializer::parse(text)
            .map_err(|e| syntax(&e, None, e.message().trim().to_owned()))?;
        let mut file: ConfigFile = serde_path_to_error::deserialize(document).map_err(|e| {
            let (field, message) = error::shape_error(e.path(), e.inner().message());
            syntax(e.inner(), field, message)
        })?;
        validate::derive_ids(&mut file);
        validate::validate(file, text, path, KnownPatterns::default())
    }

    /// Validates an in-memory file model (the management API's edits), as
    /// if it were the file at `path`.
    pub fn from_model(file: ConfigFile, path: &Path) -> Result<Config, ConfigError> {
        Config::validate_model(file, path, KnownPatterns::default())
    }

    /// Like [`from_model`](Self::from_model) for an edit of `previous`:
    /// the result is the same, but the regexes (URL rules and domains)
    /// written as in `previous` are taken from it instead of compiled
    /// again, so validating an edit of a large configuration costs little
    /// more than what the edit added.
    pub fn from_model_after(
        file: ConfigFile,
        path: &Path,
        previous: &Config,
    ) -> Result<Config, ConfigError> {
        Config::validate_model(file, path, KnownPatterns::of(previous))
    }

    fn validate_model(
        mut file: ConfigFile,
        path: &Path,
        known: KnownPatterns<'_>,
    ) -> Result<Config, ConfigError> {
        // Validation fills absent ids in; filled in first, the text is
        // exactly the validated model's, the one to store.
        validate::derive_ids(&mut file);
        let text = toml::to_string(&file).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            line: None,
            field: None,
            message: e.to_string(),
        })?;
        let mut config = validate::validate(file, &text, path, known)?;
        config.model_text = Some(ModelText(text.into()));
        Ok(config)
    }

    /// Every listener of every load balancer.
    pub fn listeners(&self) -> impl Iterator<Item = (&LoadBalancerConfig, &ListenerConfig)> {
        self.load_balancers
            .iter()
            .flat_map(|lb| lb.listeners.iter().map(move |l| (lb, l)))
    }
}

#[cfg(test)]
mod tests;

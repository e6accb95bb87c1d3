//! The configuration file as written: one serde type per TOML table of
//! `CONFIG.md`, with the product's names and defaults.
//!
//! These types are the *file* shape. They are deliberately loose where the
//! product has ranges (numbers are `i64` so an out-of-range value reaches
//! validation and gets a message naming the range, instead of a serde type
//! error). [`super::validate`] turns a [`ConfigFile`] into a checked
//! [`super::Config`]; nothing else should read these fields directly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::units::HumanDuration;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Node-local process settings.
    #[serde(default)]
    pub global: Global,
    /// Node-local: where the shared configuration lives.
    #[serde(default)]
    pub store: Store,
    /// Node-local overrides for several nodes sharing one configuration.
    #[serde(default)]
    pub node: Node,
    /// Node-local management API; absent → no management listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<Admin>,
    /// The certificate store (the product's CertId).
    #[serde(default, rename = "certificate", skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateEntry>,
    /// Backend servers addressable by id (the product's InstanceId).
    #[serde(default, rename = "instance", skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,
    /// Load balancer instances.
    #[serde(
        default,
        rename = "load_balancer",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub load_balancers: Vec<LoadBalancer>,
}

/// `[global]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    /// Tokio worker threads; 0 = one per core.
    pub worker_threads: i64,
    /// A path, `"stdout"` or `"off"`.
    pub access_log: String,
    /// `json` or `combined`.
    pub access_log_format: AccessLogFormat,
    /// tracing filter for the error log (stderr).
    pub log_level: String,
    /// Generated secrets and API-uploaded certificates.
    pub state_dir: String,
    /// Name of the inserted stickiness cookie.
    pub sticky_cookie: String,
    /// Environment variable holding the sticky HMAC key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky_secret_env: Option<String>,
    /// The sticky HMAC key itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky_secret: Option<String>,
    /// SIGTERM: how long in-flight requests may finish.
    pub drain_timeout: HumanDuration,
    /// Idle pooled connections kept per target.
    pub upstream_keepalive: i64,
    /// An idle pooled connection is closed after this.
    pub upstream_keepalive_timeout: HumanDuration,
    /// Quota: listeners per load balancer.
    pub max_listeners_per_lb: i64,
    /// Quota: rules per load balancer.
    pub max_rules_per_lb: i64,
    /// Quota: targets per rule.
    pub max_targets_per_rule: i64,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            worker_threads: 0,
            access_log: "off".into(),
            access_log_format: AccessLogFormat::Json,
            log_level: "info".into(),
            state_dir: "var".into(),
            sticky_cookie: "stgw_sticky".into(),
            sticky_secret_env: None,
            sticky_secret: None,
            drain_timeout: HumanDuration::from_secs(30),
            upstream_keepalive: 64,
            upstream_keepalive_timeout: HumanDuration::from_secs(60),
            max_listeners_per_lb: 50,
            max_rules_per_lb: 50,
            max_targets_per_rule: 100,
        }
    }
}

/// Access log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogFormat {
    /// One JSON object per line.
    Json,
    /// nginx's `combined` format.
    Combined,
}

/// `[store]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// `file` or `etcd`.
    pub kind: StoreKind,
    /// etcd endpoints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
    /// etcd key prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Where the shared configuration lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// This file.
    #[default]
    File,
    /// An etcd v3 key prefix.
    Etcd,
}

impl StoreKind {
    /// The name `[store] kind` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::File => "file",
            StoreKind::Etcd => "etcd",
        }
    }
}

/// `[node]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Node {
    /// Load balancer id → address this node binds that instance's listeners on.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vip: BTreeMap<String, String>,
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Address of the management listener.
    #[serde(default = "default_admin_listen")]
    pub listen: String,
    /// TC3 SecretId.
    pub secret_id: String,
    /// Environment variable holding the SecretKey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_env: Option<String>,
    /// The SecretKey itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Serve the API over TLS with this certificate (the vendor's CLI
    /// speaks only HTTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<AdminCertificate>,
}

/// `[admin] certificate = { cert = …, key = … }`: PEM files, relative to
/// the configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminCertificate {
    /// The certificate chain, leaf first.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

fn default_admin_listen() -> String {
    "127.0.0.1:9180".into()
}

/// `[[certificate]]`: one entry of the certificate store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateEntry {
    /// The product's CertId; absent (or empty) → derived from `cert`.
    #[serde(default)]
    pub id: String,
    /// `SVR` (certificate + key) or `CA` (client CA for mutual TLS).
    #[serde(rename = "type", default)]
    pub kind: CertificateKind,
    /// PEM file: leaf first, then intermediates (or the CA bundle).
    pub cert: String,
    /// PEM private key (SVR only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Free-text alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// Certificate store entry type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateKind {
    /// Server certificate with key.
    #[default]
    #[serde(rename = "SVR")]
    Server,
    /// Client CA for mutual TLS.
    #[serde(rename = "CA")]
    Ca,
}

/// `[[instance]]`: a backend server by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// The product's InstanceId; absent (or empty) → derived from `address`.
    #[serde(default)]
    pub id: String,
    /// Its (private) IP address.
    pub address: String,
}

/// `[[load_balancer]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// `lb-[0-9a-z]{8}`; derived from the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Address every listener of this instance binds.
    pub vip: String,
    /// The personalized configuration (nginx directives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_config: Option<String>,
    /// Listeners.
    #[serde(default, rename = "listener", skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<Listener>,
    /// Manual redirects.
    #[serde(default, rename = "rewrite", skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<Rewrite>,
    /// Automatic HTTP → HTTPS redirects.
    #[serde(
        default,
        rename = "auto_rewrite",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub auto_rewrites: Vec<AutoRewrite>,
}

/// Listener protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// Cleartext HTTP/1.1 and h2c.
    #[serde(rename = "HTTP")]
    Http,
    /// TLS-terminated HTTP/1.1 and h2.
    #[serde(rename = "HTTPS")]
    Https,
}

impl Protocol {
    /// The product's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
        }
    }

    /// The URL scheme of this protocol.
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
        }
    }
}

/// `[[load_balancer.listener]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// `lbl-…`; derived from protocol and port when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 1–60 printable characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTTP or HTTPS.
    pub protocol: Protocol,
    /// 1–65535, unique per instance.
    pub port: i64,
    /// Unmatched hosts go to the default domain (true) or get 404 (false).
    #[serde(default = "yes")]
    pub default_server: bool,
    /// Expect a PROXY protocol header.
    #[serde(default, skip_serializing_if = "is_false")]
    pub proxy_protocol: bool,
    /// CIDRs whose PROXY header / X-Forwarded-For is believed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// 0 = unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_connections: i64,
    /// 0 = unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_connections_per_ip: i64,
    /// Per-client-address request rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_req: Option<LimitReq>,
    /// CIDRs refused at accept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_ips: Vec<String>,
    /// HTTPS: per-domain certificates.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sni: bool,
    /// HTTPS: the listener certificate (fallback and non-SNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateSpec>,
    /// HTTPS: one-way or mutual TLS.
    #[serde(default)]
    pub ssl_mode: SslMode,
    /// HTTPS MUTUAL: the client CA (`{ id = … }` or a path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<CaSpec>,
    /// Domains.
    #[serde(default, rename = "domain", skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}

impl Listener {
    /// The index of the domain that answers hosts no domain matches: the
    /// one marked `default_server`, else the first; `None` when the
    /// listener's switch is off or it has no domain.
    pub fn default_domain(&self) -> Option<usize> {
        if !self.default_server {
            return None;
        }
        let marked = self.domains.iter().position(|d| d.default_server);
        marked.or((!self.domains.is_empty()).then_some(0))
    }
}

/// `limit_req = { rate, burst }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitReq {
    /// Requests per second per client address.
    pub rate: i64,
    /// Bucket size.
    #[serde(default)]
    pub burst: i64,
}

/// TLS client authentication mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SslMode {
    /// Server certificate only.
    #[default]
    #[serde(rename = "UNIDIRECTIONAL")]
    Unidirectional,
    /// Client certificates required and verified.
    #[serde(rename = "MUTUAL")]
    Mutual,
}

/// A certificate reference: `{ id = … }` or `{ cert = …, key = … }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRef {
    /// Store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// PEM chain path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// PEM key path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// One certificate, or up to two side by side (RSA and ECC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CertificateSpec {
    /// A single certificate.
    One(CertificateRef),
    /// Several (at most two: one RSA, one ECDSA).
    Many(Vec<CertificateRef>),
}

impl CertificateSpec {
    /// The references, in file order.
    pub fn refs(&self) -> &[CertificateRef] {
        match self {
            CertificateSpec::One(r) => std::slice::from_ref(r),
            CertificateSpec::Many(v) => v,
        }
    }
}

/// A client CA: a path, or `{ id = … }` / `{ cert = … }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CaSpec {
    /// A PEM bundle path.
    Path(String),
    /// A store reference.
    Ref(CertificateRef),
}

/// `[[load_balancer.listener.domain]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// exact | `*.a.b` | `a.b.*` | `~regex`.
    pub name: String,
    /// At most one per listener.
    #[serde(default, skip_serializing_if = "is_false")]
    pub default_server: bool,
    /// HTTPS: offer h2 in ALPN.
    #[serde(default = "yes")]
    pub http2: bool,
    /// HTTPS with SNI: this domain's certificate(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateSpec>,
    /// URL rules.
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

/// Scheduling algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scheduler {
    /// Smooth weighted round robin.
    #[default]
    #[serde(rename = "WRR")]
    Wrr,
    /// Weighted least (active) connections.
    #[serde(rename = "LEAST_CONN")]
    LeastConn,
    /// Consistent hashing over the client address.
    #[serde(rename = "IP_HASH")]
    IpHash,
}

impl Scheduler {
    /// The product's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheduler::Wrr => "WRR",
            Scheduler::LeastConn => "LEAST_CONN",
            Scheduler::IpHash => "IP_HASH",
        }
    }
}

/// Protocol towards the targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ForwardType {
    /// HTTP/1.1.
    #[default]
    #[serde(rename = "HTTP")]
    Http,
    /// HTTP/1.1 over TLS.
    #[serde(rename = "HTTPS")]
    Https,
    /// h2c with prior knowledge.
    #[serde(rename = "GRPC")]
    Grpc,
    /// h2 over TLS.
    #[serde(rename = "GRPCS")]
    Grpcs,
}

impl ForwardType {
    /// The product's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardType::Http => "HTTP",
            ForwardType::Https => "HTTPS",
            ForwardType::Grpc => "GRPC",
            ForwardType::Grpcs => "GRPCS",
        }
    }

    /// Whether the connection to the target is TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, ForwardType::Https | ForwardType::Grpcs)
    }

    /// Whether the target speaks HTTP/2.
    pub fn is_h2(self) -> bool {
        matches!(self, ForwardType::Grpc | ForwardType::Grpcs)
    }
}

/// `[[load_balancer.listener.domain.rule]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `loc-…`; derived when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `= /exact`, `^~ /prefix`, `~ regex`, `~* regex` or `/prefix`.
    pub url: String,
    /// WRR | LEAST_CONN | IP_HASH.
    #[serde(default)]
    pub scheduler: Scheduler,
    /// 0 = off; 30–3600 s cookie-insert stickiness.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub session_expire_time: i64,
    /// HTTP | HTTPS | GRPC | GRPCS.
    #[serde(default)]
    pub forward_type: ForwardType,
    /// Verify the target's certificate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// CA bundle for `tls_verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<String>,
    /// SNI sent to the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_sni: Option<String>,
    /// Compress eligible responses.
    #[serde(default = "yes")]
    pub gzip: bool,
    /// 1–9.
    #[serde(default = "one")]
    pub gzip_level: i64,
    /// Inject X-Forwarded-For / X-Real-IP.
    #[serde(default = "yes")]
    pub client_ip: bool,
    /// Targets.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Active health check; absent = enabled with defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

/// One target of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `IP:port` or `[IPv6]:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// An `[[instance]]` id (with `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Port, with `instance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// 0–100.
    #[serde(default = "ten")]
    pub weight: i64,
}

/// `[…rule.health_check]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheck {
    /// On by default.
    pub enabled: bool,
    /// 5–300 s.
    pub interval: i64,
    /// 2–60 s.
    pub timeout: i64,
    /// 2–10.
    pub healthy_threshold: i64,
    /// 2–10.
    pub unhealthy_threshold: i64,
    /// GET | HEAD.
    pub method: String,
    /// Must start with `/`.
    pub path: String,
    /// Probe Host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Healthy status classes `http_1xx` … `http_5xx`.
    pub http_codes: Vec<String>,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            enabled: true,
            interval: 5,
            timeout: 2,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
            method: "GET".into(),
            path: "/".into(),
            domain: None,
            http_codes: ["http_1xx", "http_2xx", "http_3xx", "http_4xx"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// `[[load_balancer.rewrite]]`: the product's ManualRewrite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    /// Where requests come from.
    pub source: RewriteEnd,
    /// Where they are sent.
    pub target: RewriteEnd,
    /// 301 | 302 | 307.
    #[serde(default = "three_oh_one")]
    pub code: i64,
    /// Carry the rest of the path and the query.
    #[serde(default)]
    pub take_url: bool,
}

/// One end of a manual redirect: listener id, domain name, rule URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteEnd {
    /// Listener id.
    pub listener: String,
    /// Domain name as configured.
    pub domain: String,
    /// Rule URL as configured.
    pub url: String,
}

/// `[[load_balancer.auto_rewrite]]`: the product's AutoRewrite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRewrite {
    /// The HTTPS listener's id.
    pub listener: String,
    /// Port of the HTTP listener created for it.
    #[serde(default = "eighty")]
    pub http_port: i64,
    /// Id of that HTTP listener (derived when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 301 | 302 | 307.
    #[serde(default = "three_oh_one")]
    pub code: i64,
    /// Keep path and query.
    #[serde(default = "yes")]
    pub take_url: bool,
    /// Default: every domain of the HTTPS listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}
fn one() -> i64 {
    1
}
fn ten() -> i64 {
    10
}
fn eighty() -> i64 {
    80
}
fn three_oh_one() -> i64 {
    301
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}

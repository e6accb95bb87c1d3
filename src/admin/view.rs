//! Output structures shared by several actions (the product's Listener,
//! RuleOutput, HealthCheck, CertificateOutput, RewriteTarget, Backend),
//! built from the running configuration.
//!
//! The validated [`Config`] gives what the proxy does (every listener,
//! including those AutoRewrite creates; resolved health checks and
//! redirects); its file model gives what only the file knows (certificate
//! ids, instance ids of targets).

use serde::Serialize;

use super::actions::common::{same_domain, same_url, target_addr};
use super::certs;
use crate::config::model::{self, ConfigFile};
use crate::config::{
    CertFiles, Config, DomainConfig, HealthCheckConfig, ListenerConfig, ListenerTls,
    LoadBalancerConfig, RuleConfig, SslMode,
};

/// The product's `HealthCheck` as output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HealthCheckOutput {
    /// 1 on, 0 off.
    pub health_switch: i64,
    /// Seconds.
    pub time_out: i64,
    /// Seconds.
    pub interval_time: i64,
    /// Healthy threshold.
    pub health_num: i64,
    /// Unhealthy threshold.
    pub un_health_num: i64,
    /// Bitmask: 1 = 1xx … 16 = 5xx.
    pub http_code: i64,
    /// Probe path.
    pub http_check_path: String,
    /// Probe Host (`null`: the target address).
    pub http_check_domain: Option<String>,
    /// GET or HEAD.
    pub http_check_method: String,
    /// Always HTTP on seven-layer rules.
    pub check_type: String,
}

impl HealthCheckOutput {
    /// The output form of a rule's resolved health check.
    pub(crate) fn of(h: &HealthCheckConfig) -> HealthCheckOutput {
        HealthCheckOutput {
            health_switch: i64::from(h.enabled),
            time_out: h.timeout.as_secs() as i64,
            interval_time: h.interval.as_secs() as i64,
            health_num: i64::from(h.healthy_threshold),
            un_health_num: i64::from(h.unhealthy_threshold),
            http_code: i64::from(h.status_classes),
            http_check_path: h.path.clone(),
            http_check_domain: h.host.clone(),
            http_check_method: if h.head { "HEAD" } else { "GET" }.into(),
            check_type: "HTTP".into(),
        }
    }
}

/// The product's `CertificateOutput`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CertificateOutput {
    /// UNIDIRECTIONAL or MUTUAL.
    #[serde(rename = "SSLMode")]
    pub ssl_mode: String,
    /// The RSA (or only) server certificate.
    #[serde(rename = "CertId")]
    pub cert_id: Option<String>,
    /// The client CA.
    #[serde(rename = "CertCaId")]
    pub cert_ca_id: Option<String>,
    /// SM2: never.
    #[serde(rename = "SmCertId")]
    pub sm_cert_id: Option<String>,
    /// The ECC certificate beside an RSA one.
    #[serde(rename = "EccCertId")]
    pub ecc_cert_id: Option<String>,
}

/// Sorts a listener's or domain's certificates into the RSA and ECC
/// slots: a single certificate is `CertId`; of two, an ECC one is
/// `EccCertId` (the key type is read from the certificate file).
pub(crate) fn cert_slots(certs: &[CertFiles]) -> (Option<String>, Option<String>) {
    if certs.len() < 2 {
        return (certs.first().and_then(|c| c.id.clone()), None);
    }
    let is_ecc = |c: &CertFiles| {
        std::fs::read_to_string(&c.cert)
            .ok()
            .and_then(|pem| certs::inspect(&pem).ok())
            .is_some_and(|info| info.algorithm == "ecc")
    };
    let (ecc, rsa): (Vec<&CertFiles>, Vec<&CertFiles>) = certs.iter().partition(|c| is_ecc(c));
    match (rsa.first(), ecc.first()) {
        (Some(r), Some(e)) => (r.id.clone(), e.id.clone()),
        _ => (certs[0].id.clone(), certs[1].id.clone()),
    }
}

fn cert_output(certs: &[CertFiles], tls: &ListenerTls) -> CertificateOutput {
    let (cert_id, ecc_cert_id) = cert_slots(certs);
    CertificateOutput {
        ssl_mode: ssl_mode_str(tls.ssl_mode).into(),
        cert_id,
        cert_ca_id: tls.client_ca.as_ref().and_then(|c| c.id.clone()),
        sm_cert_id: None,
        ecc_cert_id,
    }
}

/// The product's `RewriteTarget`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RewriteTarget {
    /// Listener of the target rule.
    pub target_listener_id: Option<String>,
    /// The target rule.
    pub target_location_id: Option<String>,
    /// 301, 302 or 307.
    pub rewrite_code: i64,
    /// Carries the rest of the URL.
    pub take_url: bool,
    /// Manual or Auto.
    pub rewrite_type: String,
}

/// The product's `RuleOutput`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RuleOutput {
    /// Rule id.
    pub location_id: String,
    /// Domain.
    pub domain: String,
    /// URL.
    pub url: String,
    /// Stickiness seconds, 0 = off.
    pub session_expire_time: i64,
    /// Health check.
    pub health_check: HealthCheckOutput,
    /// The domain's certificate (SNI).
    pub certificate: Option<CertificateOutput>,
    /// WRR, LEAST_CONN or IP_HASH.
    pub scheduler: String,
    /// Owning listener.
    pub listener_id: String,
    /// Where this rule redirects, if it does.
    pub rewrite_target: Option<RewriteTarget>,
    /// Gzip on.
    pub http_gzip: bool,
    /// Created by AutoRewrite.
    pub be_auto_created: bool,
    /// The listener's default domain.
    pub default_server: bool,
    /// HTTP/2 offered: only HTTPS listeners do (an HTTP listener's rules
    /// say `false`, as the product's do).
    pub http2: bool,
    /// Protocol to the targets.
    pub forward_type: String,
    /// Not recorded.
    pub create_time: Option<String>,
    /// Always NODE.
    pub target_type: String,
    /// Never.
    pub target_group: Option<String>,
    /// Never.
    pub waf_domain_id: Option<String>,
}

/// The product's `Listener` (DescribeListeners).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListenerOutput {
    /// Listener id.
    pub listener_id: String,
    /// HTTP or HTTPS.
    pub protocol: String,
    /// Port.
    pub port: i64,
    /// The listener certificate (HTTPS).
    pub certificate: Option<CertificateOutput>,
    /// TCP/UDP only: null.
    pub health_check: Option<HealthCheckOutput>,
    /// TCP/UDP only: null.
    pub scheduler: Option<String>,
    /// TCP/UDP only: null.
    pub session_expire_time: Option<i64>,
    /// 1 = SNI on (HTTPS).
    pub sni_switch: i64,
    /// Every rule.
    pub rules: Vec<RuleOutput>,
    /// Name.
    pub listener_name: String,
    /// Not recorded.
    pub create_time: Option<String>,
    /// Not a port range: 0.
    pub end_port: i64,
    /// NODE.
    pub target_type: String,
    /// Never.
    pub target_group: Option<String>,
    /// 1 = unmatched hosts go to the default domain.
    pub default_ser_switch: i64,
    /// TCP only: null.
    pub deregister_target_rst: Option<bool>,
    /// NORMAL.
    pub session_type: String,
    /// Keep-alive to clients: 1.
    pub keepalive_enable: i64,
}

/// The validated listener `l` of `lb` with everything the product shows.
pub(crate) fn listener(
    config: &Config,
    lb: &LoadBalancerConfig,
    l: &ListenerConfig,
) -> ListenerOutput {
    let file = &config.file;
    let file_lb = file
        .load_balancers
        .iter()
        .find(|m| m.id.as_deref() == Some(lb.id.as_str()));
    let auto = file_lb.and_then(|m| {
        m.auto_rewrites
            .iter()
            .find(|a| a.id.as_deref() == Some(l.id.as_str()))
    });
    let certificate = l
        .tls
        .as_ref()
        .filter(|t| !t.certificates.is_empty())
        .map(|t| cert_output(&t.certificates, t));
    let mut rules = Vec::new();
    for (di, d) in l.domains.iter().enumerate() {
        let domain_cert = l
            .tls
            .as_ref()
            .filter(|_| !d.certificates.is_empty())
            .map(|t| cert_output(&d.certificates, t));
        for r in &d.rules {
            let rewrite_target = match auto {
                Some(a) => Some(auto_target(lb, a, d)),
                None => file_lb.and_then(|m| manual_target(lb, m, &l.id, d, r)),
            };
            rules.push(RuleOutput {
                location_id: r.id.clone(),
                domain: d.name.clone(),
                url: r.url.clone(),
                session_expire_time: r.sticky.map_or(0, |s| s.as_secs() as i64),
                health_check: HealthCheckOutput::of(&r.health_check),
                certificate: domain_cert.clone(),
                scheduler: r.scheduler.as_str().into(),
                listener_id: l.id.clone(),
                rewrite_target,
                http_gzip: r.gzip_level.is_some(),
                be_auto_created: auto.is_some(),
                default_server: l.default_domain == Some(di),
                http2: d.http2 && l.tls.is_some(),
                forward_type: r.forward_type.as_str().into(),
                create_time: None,
                target_type: "NODE".into(),
                target_group: None,
                waf_domain_id: None,
            });
        }
    }
    ListenerOutput {
        listener_id: l.id.clone(),
        protocol: l.protocol.as_str().into(),
        port: i64::from(l.addr.port()),
        certificate,
        health_check: None,
        scheduler: None,
        session_expire_time: None,
        sni_switch: i64::from(l.tls.as_ref().is_some_and(|t| t.sni)),
        rules,
        listener_name: l.name.clone(),
        create_time: None,
        end_port: 0,
        target_type: "NODE".into(),
        target_group: None,
        default_ser_switch: i64::from(l.default_server),
        deregister_target_rst: None,
        session_type: "NORMAL".into(),
        keepalive_enable: 1,
    }
}

fn ssl_mode_str(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Unidirectional => "UNIDIRECTIONAL",
        SslMode::Mutual => "MUTUAL",
    }
}

/// The rule id that a rewrite end designates in `lb`.
pub(crate) fn end_rule_id(lb: &LoadBalancerConfig, end: &model::RewriteEnd) -> Option<String> {
    let l = lb.listeners.iter().find(|l| l.id == end.listener)?;
    let d = l
        .domains
        .iter()
        .find(|d| same_domain(&d.name, &end.domain))?;
    let r = d.rules.iter().find(|r| same_url(&end.url, &r.url))?;
    Some(r.id.clone())
}

/// The manual redirect whose source is rule `r` of domain `d` of listener
/// `listener_id`, if any.
fn manual_target(
    lb: &LoadBalancerConfig,
    file_lb: &model::LoadBalancer,
    listener_id: &str,
    d: &DomainConfig,
    r: &RuleConfig,
) -> Option<RewriteTarget> {
    let rw = file_lb.rewrites.iter().find(|rw| {
        rw.source.listener == listener_id
            && same_domain(&rw.source.domain, &d.name)
            && same_url(&rw.source.url, &r.url)
    })?;
    Some(RewriteTarget {
        target_listener_id: Some(rw.target.listener.clone()),
        target_location_id: end_rule_id(lb, &rw.target),
        rewrite_code: rw.code,
        take_url: rw.take_url,
        rewrite_type: "Manual".into(),
    })
}

/// The redirect of an AutoRewrite listener's domain `d`: to the HTTPS
/// listener's rule `/` of the same domain (or its first rule).
fn auto_target(lb: &LoadBalancerConfig, a: &model::AutoRewrite, d: &DomainConfig) -> RewriteTarget {
    let https_domain = lb
        .listeners
        .iter()
        .find(|l| l.id == a.listener)
        .and_then(|l| l.domains.iter().find(|x| same_domain(&x.name, &d.name)));
    let location = https_domain.and_then(|hd| {
        hd.rules
            .iter()
            .find(|r| same_url("/", &r.url))
            .or_else(|| hd.rules.first())
            .map(|r| r.id.clone())
    });
    RewriteTarget {
        target_listener_id: Some(a.listener.clone()),
        target_location_id: location,
        rewrite_code: a.code,
        take_url: a.take_url,
        rewrite_type: "Auto".into(),
    }
}

/// The product's `Backend` (DescribeTargets).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Backend {
    /// CVM (by InstanceId) or ENI (by address).
    #[serde(rename = "Type")]
    pub kind: String,
    /// The `[[instance]]` id; empty for an address target.
    pub instance_id: String,
    /// Port.
    pub port: i64,
    /// 0–100.
    pub weight: i64,
    /// None known.
    pub public_ip_addresses: Vec<String>,
    /// The target's IP.
    pub private_ip_addresses: Vec<String>,
    /// The instance id, or the address.
    pub instance_name: String,
    /// Not recorded.
    pub registered_time: Option<String>,
    /// Never.
    pub eni_id: Option<String>,
}

/// The output form of a file target.
pub(crate) fn backend(t: &model::Target, file: &ConfigFile) -> Backend {
    let addr = target_addr(t, &file.instances);
    let ip = addr.map(|a| a.ip().to_string());
    let port = addr.map_or(t.port.unwrap_or(0), |a| i64::from(a.port()));
    match &t.instance {
        Some(id) => Backend {
            kind: "CVM".into(),
            instance_id: id.clone(),
            port,
            weight: t.weight,
            public_ip_addresses: Vec::new(),
            private_ip_addresses: ip.into_iter().collect(),
            instance_name: id.clone(),
            registered_time: None,
            eni_id: None,
        },
        None => Backend {
            kind: "ENI".into(),
            instance_id: String::new(),
            port,
            weight: t.weight,
            public_ip_addresses: Vec::new(),
            private_ip_addresses: ip.clone().into_iter().collect(),
            instance_name: ip.unwrap_or_default(),
            registered_time: None,
            eni_id: None,
        },
    }
}

//! Listeners: CreateListener, DescribeListeners, ModifyListener,
//! DeleteListener. A listener is a `[[load_balancer.listener]]`; the HTTP
//! listener an AutoRewrite creates is shown too (its rules are
//! `BeAutoCreated`).

use serde::Serialize;
use serde_json::Value;

use super::cert_input::{CertificateInput, resolve_certificate};
use super::common::{
    check_length, check_range, lb_index, lb_mut, listener_mut, one_of, same_domain,
};
use super::{Api, cert_dir, empty, output};
use crate::admin::certs::StoredCert;
use crate::admin::error::{ApiError, Code};
use crate::admin::ids::new_id;
use crate::admin::params::input;
use crate::admin::view::{self, ListenerOutput};
use crate::config::model::{self, ConfigFile, LoadBalancer, Protocol, SslMode};

/// The product's reserved ports (as the configuration refuses them).
const RESERVED_PORTS: [i64; 13] = [
    843, 1020, 1433, 1434, 3306, 3389, 6006, 20000, 36000, 42222, 48369, 56000, 65010,
];

input! {
    /// CreateListener input.
    pub struct CreateInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// One listener per port.
        ports: req Vec<i64> = "Ports",
        /// HTTP | HTTPS.
        protocol: req String = "Protocol",
        /// Names matched to Ports by position.
        listener_names: opt Vec<String> = "ListenerNames",
        /// TCP/UDP only.
        health_check: opt Value = "HealthCheck",
        /// HTTPS listener certificate.
        certificate: opt CertificateInput = "Certificate",
        /// TCP/UDP only.
        session_expire_time: opt i64 = "SessionExpireTime",
        /// TCP/UDP only.
        scheduler: opt String = "Scheduler",
        /// HTTPS: 1 = SNI on.
        sni_switch: opt i64 = "SniSwitch",
        /// NODE only.
        target_type: opt String = "TargetType",
        /// Unmatched hosts go to the default domain (default true).
        default_ser_switch: opt bool = "DefaultSerSwitch",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateOutput {
    listener_ids: Vec<String>,
}

fn protocol(field: &str, value: &str) -> Result<Protocol, ApiError> {
    match value.trim().to_ascii_uppercase().as_str() {
        "HTTP" => Ok(Protocol::Http),
        "HTTPS" => Ok(Protocol::Https),
        "TCP" | "UDP" | "TCP_SSL" | "QUIC" => Err(ApiError::new(
            Code::UnsupportedOperation,
            format!(
                "{field}: {value} listeners are not supported: stgw is a seven-layer (HTTP, HTTPS) load balancer"
            ),
        )),
        _ => Err(ApiError::value(
            field,
            format_args!("{value:?} is not one of HTTP, HTTPS"),
        )),
    }
}

/// Refuses the listener-level settings the product has only for TCP/UDP.
fn refuse_layer4(health_check: bool, session: bool, scheduler: bool) -> Result<(), ApiError> {
    for (name, set) in [
        ("HealthCheck", health_check),
        ("SessionExpireTime", session),
        ("Scheduler", scheduler),
    ] {
        if set {
            return Err(ApiError::invalid(
                name,
                "applies only to TCP/UDP listeners; on HTTP/HTTPS listeners it is set per rule (CreateRule, ModifyRule)",
            ));
        }
    }
    Ok(())
}

fn check_target_type(value: Option<&String>) -> Result<(), ApiError> {
    if let Some(t) = value {
        one_of("TargetType", t, &["NODE"]).map_err(|_| {
            ApiError::new(
                Code::UnsupportedOperation,
                format!(
                    "TargetType: {t:?} is not supported: targets bind to rules directly (NODE)"
                ),
            )
        })?;
    }
    Ok(())
}

/// The ports `lb` uses (its listeners and AutoRewrite listeners).
fn used_ports(lb: &LoadBalancer) -> Vec<i64> {
    lb.listeners
        .iter()
        .map(|l| l.port)
        .chain(lb.auto_rewrites.iter().map(|a| a.http_port))
        .collect()
}

/// Whether a listener id exists anywhere in `file`.
pub(crate) fn listener_id_taken(file: &ConfigFile, id: &str) -> bool {
    file.load_balancers.iter().any(|lb| {
        lb.listeners.iter().any(|l| l.id.as_deref() == Some(id))
            || lb.auto_rewrites.iter().any(|a| a.id.as_deref() == Some(id))
    })
}

/// Creates one listener per port; returns their ids.
pub(crate) async fn create(api: &Api, input: CreateInput) -> Result<Value, ApiError> {
    let proto = protocol("Protocol", &input.protocol)?;
    refuse_layer4(
        input.health_check.is_some(),
        input.session_expire_time.is_some(),
        input.scheduler.is_some(),
    )?;
    check_target_type(input.target_type.as_ref())?;
    if input.ports.is_empty() {
        return Err(ApiError::missing("Ports"));
    }
    let names = input.listener_names.clone().unwrap_or_default();
    if names.len() > input.ports.len() {
        return Err(ApiError::invalid(
            "ListenerNames",
            format!("{} names for {} ports", names.len(), input.ports.len()),
        ));
    }
    for (i, n) in names.iter().enumerate() {
        check_length(&format!("ListenerNames.{i}"), n, 1, 60)?;
    }
    for (i, port) in input.ports.iter().enumerate() {
        let field = format!("Ports.{i}");
        check_range(&field, *port, 1, 65535)?;
        if RESERVED_PORTS.contains(port) {
            return Err(ApiError::new(
                Code::PortCheckFailed,
                format!("{field}: port {port} is reserved by the product: {RESERVED_PORTS:?}"),
            ));
        }
        if input.ports[..i].contains(port) {
            return Err(ApiError::new(
                Code::PortCheckFailed,
                format!("{field}: port {port} is given twice"),
            ));
        }
    }
    let sni = match input.sni_switch {
        Some(s) => check_range("SniSwitch", s, 0, 1)? == 1,
        None => false,
    };
    match proto {
        Protocol::Http => {
            for (name, set) in [
                ("Certificate", input.certificate.is_some()),
                ("SniSwitch", input.sni_switch.is_some()),
            ] {
                if set {
                    return Err(ApiError::invalid(name, "applies only to HTTPS listeners"));
                }
            }
        }
        Protocol::Https if input.certificate.is_none() => {
            return Err(if sni {
                ApiError::invalid(
                    "Certificate",
                    "an SNI listener needs a listener certificate too: it answers clients without SNI or with an unknown name (stgw keeps the listener usable before its domains exist)",
                )
            } else {
                ApiError::missing("Certificate")
            });
        }
        Protocol::Https => {}
    }
    let mut uploads: Vec<StoredCert> = Vec::new();
    let result = api
        .store
        .write(|file, config| {
            let resolved = match &input.certificate {
                Some(c) => Some(resolve_certificate(
                    c,
                    file,
                    &cert_dir(config),
                    "Certificate",
                    &mut uploads,
                )?),
                None => None,
            };
            if let Some(r) = &resolved
                && r.ssl_mode == Some(SslMode::Mutual)
                && r.client_ca.is_none()
            {
                return Err(ApiError::missing(
                    "Certificate.CertCaId (SSLMode MUTUAL needs a client CA)",
                ));
            }
            let lb_i = lb_index(file, &input.load_balancer_id, "LoadBalancerId")?;
            let used = used_ports(&file.load_balancers[lb_i]);
            let mut ids = Vec::new();
            for (i, port) in input.ports.iter().enumerate() {
                if used.contains(port) {
                    return Err(ApiError::new(
                        Code::PortCheckFailed,
                        format!(
                            "Ports.{i}: port {port} is already used by a listener of {}",
                            input.load_balancer_id
                        ),
                    ));
                }
                let id = new_id("lbl-", |id| {
                    listener_id_taken(file, id) || ids.iter().any(|x: &String| x == id)
                });
                let (certificate, ssl_mode, client_ca) = match &resolved {
                    Some(r) => (
                        r.server.clone(),
                        r.ssl_mode.unwrap_or_default(),
                        r.client_ca.clone(),
                    ),
                    None => (None, SslMode::default(), None),
                };
                file.load_balancers[lb_i].listeners.push(model::Listener {
                    id: Some(id.clone()),
                    name: names.get(i).cloned(),
                    protocol: proto,
                    port: *port,
                    default_server: input.default_ser_switch.unwrap_or(true),
                    proxy_protocol: false,
                    trusted_proxies: Vec::new(),
                    max_connections: 0,
                    max_connections_per_ip: 0,
                    limit_req: None,
                    blocked_ips: Vec::new(),
                    sni,
                    certificate,
                    ssl_mode,
                    client_ca,
                    domains: Vec::new(),
                });
                ids.push(id);
            }
            Ok(ids)
        })
        .await;
    match result {
        Ok(ids) => output(&CreateOutput { listener_ids: ids }),
        Err(e) => {
            uploads.iter().for_each(StoredCert::discard);
            Err(e)
        }
    }
}

input! {
    /// DescribeListeners input.
    pub struct DescribeInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Only these.
        listener_ids: opt Vec<String> = "ListenerIds",
        /// Only this protocol.
        protocol: opt String = "Protocol",
        /// Only this port.
        port: opt i64 = "Port",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOutput {
    listeners: Vec<ListenerOutput>,
    total_count: u64,
}

/// Lists the listeners of a load balancer with their rules.
pub(crate) fn describe(api: &Api, input: DescribeInput) -> Result<Value, ApiError> {
    let config = api.store.current();
    let index = lb_index(&config.file, &input.load_balancer_id, "LoadBalancerId")?;
    let lb = &config.load_balancers[index];
    if let Some(p) = &input.protocol {
        one_of(
            "Protocol",
            p,
            &["TCP", "UDP", "HTTP", "HTTPS", "TCP_SSL", "QUIC"],
        )?;
    }
    let listeners: Vec<ListenerOutput> = lb
        .listeners
        .iter()
        .filter(|l| {
            input
                .listener_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&l.id))
        })
        .filter(|l| {
            input
                .protocol
                .as_ref()
                .is_none_or(|p| p.eq_ignore_ascii_case(l.protocol.as_str()))
        })
        .filter(|l| input.port.is_none_or(|p| p == i64::from(l.addr.port())))
        .map(|l| view::listener(&config, lb, l))
        .collect();
    output(&DescribeOutput {
        total_count: listeners.len() as u64,
        listeners,
    })
}

input! {
    /// ModifyListener input.
    pub struct ModifyInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// New name, 1–60 characters.
        listener_name: opt String = "ListenerName",
        /// TCP/UDP only.
        session_expire_time: opt i64 = "SessionExpireTime",
        /// TCP/UDP only.
        health_check: opt Value = "HealthCheck",
        /// HTTPS: the new listener certificate.
        certificate: opt CertificateInput = "Certificate",
        /// TCP/UDP only.
        scheduler: opt String = "Scheduler",
        /// HTTPS: 1 turns SNI on (it cannot be turned off).
        sni_switch: opt i64 = "SniSwitch",
        /// NODE only.
        target_type: opt String = "TargetType",
        /// Default-domain switch.
        default_ser_switch: opt bool = "DefaultSerSwitch",
        /// The domain to make the default.
        new_default_server_domain: opt String = "NewDefaultServerDomain",
    }
}

/// Renames, re-certifies, turns SNI on or switches the default domain.
pub(crate) async fn modify(api: &Api, input: ModifyInput) -> Result<Value, ApiError> {
    refuse_layer4(
        input.health_check.is_some(),
        input.session_expire_time.is_some(),
        input.scheduler.is_some(),
    )?;
    check_target_type(input.target_type.as_ref())?;
    if let Some(n) = &input.listener_name {
        check_length("ListenerName", n, 1, 60)?;
    }
    let sni = match input.sni_switch {
        Some(s) => Some(check_range("SniSwitch", s, 0, 1)? == 1),
        None => None,
    };
    let mut uploads: Vec<StoredCert> = Vec::new();
    let result = api
        .store
        .write(|file, config| {
            let resolved = match &input.certificate {
                Some(c) => Some(resolve_certificate(
                    c,
                    file,
                    &cert_dir(config),
                    "Certificate",
                    &mut uploads,
                )?),
                None => None,
            };
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            let l = listener_mut(lb, &input.listener_id, "ListenerId")?;
            if let Some(n) = &input.listener_name {
                l.name = Some(n.clone());
            }
            let https = l.protocol == Protocol::Https;
            if let Some(on) = sni {
                if !https {
                    return Err(ApiError::invalid(
                        "SniSwitch",
                        "applies only to HTTPS listeners",
                    ));
                }
                if l.sni && !on {
                    return Err(ApiError::value(
                        "SniSwitch",
                        "SNI cannot be turned off once on (the product's rule)",
                    ));
                }
                l.sni = on;
            }
            if let Some(r) = resolved {
                if !https {
                    return Err(ApiError::invalid(
                        "Certificate",
                        "applies only to HTTPS listeners",
                    ));
                }
                if r.server.is_some() {
                    l.certificate = r.server;
                }
                if let Some(mode) = r.ssl_mode {
                    l.ssl_mode = mode;
                }
                if r.client_ca.is_some() {
                    l.client_ca = r.client_ca;
                }
                if l.ssl_mode == SslMode::Unidirectional {
                    l.client_ca = None;
                } else if l.client_ca.is_none() {
                    return Err(ApiError::missing(
                        "Certificate.CertCaId (SSLMode MUTUAL needs a client CA)",
                    ));
                }
            }
            if let Some(on) = input.default_ser_switch {
                l.default_server = on;
                if on && !l.domains.is_empty() && input.new_default_server_domain.is_none() {
                    return Err(ApiError::missing("NewDefaultServerDomain"));
                }
            }
            if let Some(name) = &input.new_default_server_domain {
                set_default_domain(l, name, "NewDefaultServerDomain")?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => empty(),
        Err(e) => {
            uploads.iter().for_each(StoredCert::discard);
            Err(e)
        }
    }
}

/// Makes `name` the listener's one default domain.
pub(crate) fn set_default_domain(
    l: &mut model::Listener,
    name: &str,
    field: &str,
) -> Result<(), ApiError> {
    if !l.domains.iter().any(|d| same_domain(&d.name, name)) {
        return Err(ApiError::location_not_found(
            field,
            format!(
                "listener {} has no domain {name:?}",
                l.id.as_deref().unwrap_or("?")
            ),
        ));
    }
    for d in &mut l.domains {
        d.default_server = same_domain(&d.name, name);
    }
    Ok(())
}

input! {
    /// DeleteListener input.
    pub struct DeleteInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
    }
}

/// Removes a listener (its port closes; open connections finish), with
/// the redirects that start or end on it. The id of an AutoRewrite
/// listener removes that AutoRewrite.
pub(crate) async fn delete(api: &Api, input: DeleteInput) -> Result<Value, ApiError> {
    api.store
        .write(|file, _| {
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            let id = input.listener_id.as_str();
            if let Some(i) = lb
                .auto_rewrites
                .iter()
                .position(|a| a.id.as_deref() == Some(id))
            {
                lb.auto_rewrites.remove(i);
                return Ok(());
            }
            let Some(i) = lb
                .listeners
                .iter()
                .position(|l| l.id.as_deref() == Some(id))
            else {
                let lb_id = lb.id.clone().unwrap_or_default();
                return Err(ApiError::listener_not_found("ListenerId", id, &lb_id));
            };
            lb.listeners.remove(i);
            lb.rewrites
                .retain(|rw| rw.source.listener != id && rw.target.listener != id);
            lb.auto_rewrites.retain(|a| a.listener != id);
            Ok(())
        })
        .await?;
    empty()
}

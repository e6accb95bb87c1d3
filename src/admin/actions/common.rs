//! What several action groups share: finding objects in the file model by
//! the product's ids, and the common input structures (Target, HealthCheck)
//! with their ranges and defaults.

use std::net::{IpAddr, SocketAddr};

use crate::admin::error::{ApiError, Code};
use crate::admin::params::input;
use crate::config::model::{self, ConfigFile, HealthCheck, Listener, LoadBalancer};
use crate::routing::UrlPattern;

/// Index of load balancer `id`, or `InvalidParameter.LBIdNotFound`.
pub(crate) fn lb_index(file: &ConfigFile, id: &str, field: &str) -> Result<usize, ApiError> {
    file.load_balancers
        .iter()
        .position(|lb| lb.id.as_deref() == Some(id))
        .ok_or_else(|| ApiError::lb_not_found(field, id))
}

/// Load balancer `id`, mutable.
pub(crate) fn lb_mut<'a>(
    file: &'a mut ConfigFile,
    id: &str,
    field: &str,
) -> Result<&'a mut LoadBalancer, ApiError> {
    let i = lb_index(file, id, field)?;
    Ok(&mut file.load_balancers[i])
}

/// Listener `id` of `lb` (a listener of the file, not one created by
/// AutoRewrite), mutable.
pub(crate) fn listener_mut<'a>(
    lb: &'a mut LoadBalancer,
    id: &str,
    field: &str,
) -> Result<&'a mut Listener, ApiError> {
    let lb_id = lb.id.clone().unwrap_or_default();
    if lb.auto_rewrites.iter().any(|a| a.id.as_deref() == Some(id)) {
        return Err(ApiError::invalid(
            field,
            format!(
                "listener {id} was created by AutoRewrite: it only redirects and cannot be changed (DeleteListener or DeleteRewrite removes it)"
            ),
        ));
    }
    lb.listeners
        .iter_mut()
        .find(|l| l.id.as_deref() == Some(id))
        .ok_or_else(|| ApiError::listener_not_found(field, id, &lb_id))
}

/// Which rule of a listener an action names: `LocationId`, or `Domain` and
/// `Url` (ignored when `LocationId` is given, as the product says).
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleSelector {
    /// `LocationId`.
    pub location_id: Option<String>,
    /// `Domain`.
    pub domain: Option<String>,
    /// `Url`.
    pub url: Option<String>,
}

/// Whether `url` names the same rule as `rule_url` (nginx's identity: the
/// same modifier and path).
pub(crate) fn same_url(url: &str, rule_url: &str) -> bool {
    match (UrlPattern::parse(url), UrlPattern::parse(rule_url)) {
        (Ok(a), Ok(b)) => a.identity() == b.identity(),
        _ => url.trim() == rule_url.trim(),
    }
}

/// Whether two domain names are the same (case-insensitive, trimmed).
pub(crate) fn same_domain(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl RuleSelector {
    /// The (domain index, rule index) of the selected rule in `listener`.
    /// `prefix` is prepended to field names (e.g. `ModifyList.0.`).
    pub(crate) fn find(
        &self,
        listener: &Listener,
        prefix: &str,
    ) -> Result<(usize, usize), ApiError> {
        if let Some(id) = &self.location_id {
            for (di, d) in listener.domains.iter().enumerate() {
                if let Some(ri) = d.rules.iter().position(|r| r.id.as_deref() == Some(id)) {
                    return Ok((di, ri));
                }
            }
            return Err(ApiError::location_not_found(
                &format!("{prefix}LocationId"),
                format!(
                    "listener {} has no rule with id {id:?}",
                    listener.id.as_deref().unwrap_or("?")
                ),
            ));
        }
        let (Some(domain), Some(url)) = (&self.domain, &self.url) else {
            return Err(ApiError::missing(&format!(
                "{prefix}LocationId (or {prefix}Domain and {prefix}Url)"
            )));
        };
        for (di, d) in listener.domains.iter().enumerate() {
            if !same_domain(&d.name, domain) {
                continue;
            }
            if let Some(ri) = d.rules.iter().position(|r| same_url(url, &r.url)) {
                return Ok((di, ri));
            }
        }
        Err(ApiError::location_not_found(
            &format!("{prefix}Domain"),
            format!(
                "listener {} has no rule with domain {domain:?} and url {url:?}",
                listener.id.as_deref().unwrap_or("?")
            ),
        ))
    }
}

/// A string's length (in characters) within `min..=max`, else
/// `InvalidParameterValue.Length`.
pub(crate) fn check_length(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ApiError::new(
            Code::Length,
            format!("{field}: length {n} is out of range: allowed {min}-{max} characters"),
        ));
    }
    Ok(())
}

/// `value` within `min..=max`, else `InvalidParameterValue` naming the range.
pub(crate) fn check_range(field: &str, value: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::range(field, value, min, max))
    }
}

/// Parses one of the allowed spellings (case-insensitive).
pub(crate) fn one_of<'a>(
    field: &str,
    value: &str,
    allowed: &[&'a str],
) -> Result<&'a str, ApiError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value.trim()))
        .copied()
        .ok_or_else(|| ApiError::value(field, format_args!("{value:?} is not one of {allowed:?}")))
}

input! {
    /// The product's `Target` (RegisterTargets, ModifyTargetWeight, …).
    pub struct TargetInput {
        /// CVM | ENI | BMS (ignored as input, as the product says).
        kind: opt String = "Type",
        /// An `[[instance]]` id.
        instance_id: opt String = "InstanceId",
        /// Backend port.
        port: req i64 = "Port",
        /// 0–100.
        weight: opt i64 = "Weight",
        /// The backend's IP address.
        eni_ip: opt String = "EniIp",
        /// Bare-metal id (not supported).
        instance_bms_id: opt String = "InstanceBmsId",
    }
}

/// The address an input target designates and the file's form of it.
pub(crate) fn resolve_target(
    t: &TargetInput,
    file: &ConfigFile,
    field: &str,
) -> Result<(SocketAddr, model::Target), ApiError> {
    let port = check_range(&format!("{field}.Port"), t.port, 1, 65535)? as u16;
    let weight = match t.weight {
        Some(w) => check_range(&format!("{field}.Weight"), w, 0, 100)?,
        None => 10,
    };
    if t.instance_bms_id.is_some() {
        return Err(ApiError::new(
            Code::UnsupportedOperation,
            format!(
                "{field}.InstanceBmsId: bare-metal targets are not supported; use EniIp or InstanceId"
            ),
        ));
    }
    match (&t.instance_id, &t.eni_ip) {
        (Some(id), None) => {
            let ip = instance_ip(&file.instances, id).ok_or_else(|| {
                ApiError::invalid(
                    &format!("{field}.InstanceId"),
                    format!("no instance has id {id:?} (add it to the [[instance]] table)"),
                )
            })?;
            Ok((
                SocketAddr::new(ip, port),
                model::Target {
                    address: None,
                    instance: Some(id.clone()),
                    port: Some(i64::from(port)),
                    weight,
                },
            ))
        }
        (None, Some(ip)) => {
            let ip: IpAddr = ip.trim().parse().map_err(|_| {
                ApiError::value(
                    &format!("{field}.EniIp"),
                    format_args!("{ip:?} is not an IP address"),
                )
            })?;
            let addr = SocketAddr::new(ip, port);
            Ok((
                addr,
                model::Target {
                    address: Some(addr.to_string()),
                    instance: None,
                    port: None,
                    weight,
                },
            ))
        }
        (Some(_), Some(_)) => Err(ApiError::invalid(
            field,
            "give exactly one of InstanceId and EniIp, not both",
        )),
        (None, None) => Err(ApiError::missing(&format!(
            "{field}.InstanceId (or {field}.EniIp)"
        ))),
    }
}

/// The IP of `[[instance]]` `id`.
pub(crate) fn instance_ip(instances: &[model::Instance], id: &str) -> Option<IpAddr> {
    instances
        .iter()
        .find(|i| i.id == id)
        .and_then(|i| i.address.parse().ok())
}

/// The address a file target designates (`instances`: the `[[instance]]`
/// table).
pub(crate) fn target_addr(t: &model::Target, instances: &[model::Instance]) -> Option<SocketAddr> {
    match (&t.address, &t.instance, t.port) {
        (Some(a), _, _) => a.parse().ok(),
        (None, Some(id), Some(port)) => Some(SocketAddr::new(
            instance_ip(instances, id)?,
            u16::try_from(port).ok()?,
        )),
        _ => None,
    }
}

input! {
    /// The product's `HealthCheck` (seven-layer fields; the others are
    /// for TCP/UDP listeners and are refused).
    pub struct HealthCheckInput {
        /// 1 on, 0 off.
        health_switch: opt i64 = "HealthSwitch",
        /// 2–60 s.
        time_out: opt i64 = "TimeOut",
        /// 5–300 s.
        interval_time: opt i64 = "IntervalTime",
        /// 2–10.
        health_num: opt i64 = "HealthNum",
        /// 2–10.
        un_health_num: opt i64 = "UnHealthNum",
        /// 1–31 bitmask of healthy status classes.
        http_code: opt i64 = "HttpCode",
        /// Probe path.
        http_check_path: opt String = "HttpCheckPath",
        /// Probe Host.
        http_check_domain: opt String = "HttpCheckDomain",
        /// GET | HEAD.
        http_check_method: opt String = "HttpCheckMethod",
        /// TCP/UDP only.
        check_port: opt i64 = "CheckPort",
        /// TCP/UDP only.
        context_type: opt String = "ContextType",
        /// TCP/UDP only.
        send_context: opt String = "SendContext",
        /// TCP/UDP only.
        recv_context: opt String = "RecvContext",
        /// HTTP only on seven-layer rules.
        check_type: opt String = "CheckType",
        /// TCP only.
        http_version: opt String = "HttpVersion",
    }
}

impl HealthCheckInput {
    /// `base` with the given fields changed (omitted fields keep `base`'s
    /// value; a new rule's base is DECISIONS.md's defaults: GET, 1xx–4xx,
    /// 5 s, 2 s, 3/3). `field` names the input (`Rules.0.HealthCheck`).
    pub fn apply(&self, mut base: HealthCheck, field: &str) -> Result<HealthCheck, ApiError> {
        let f = |name: &str| format!("{field}.{name}");
        for (name, set) in [
            ("CheckPort", self.check_port.is_some()),
            ("ContextType", self.context_type.is_some()),
            ("SendContext", self.send_context.is_some()),
            ("RecvContext", self.recv_context.is_some()),
            ("HttpVersion", self.http_version.is_some()),
        ] {
            if set {
                return Err(ApiError::invalid(
                    &f(name),
                    "applies only to TCP/UDP listeners; stgw has seven-layer listeners only",
                ));
            }
        }
        if let Some(t) = &self.check_type {
            one_of(&f("CheckType"), t, &["HTTP"])?;
        }
        if let Some(s) = self.health_switch {
            base.enabled = check_range(&f("HealthSwitch"), s, 0, 1)? == 1;
        }
        if let Some(v) = self.time_out {
            base.timeout = check_range(&f("TimeOut"), v, 2, 60)?;
        }
        if let Some(v) = self.interval_time {
            base.interval = check_range(&f("IntervalTime"), v, 5, 300)?;
        }
        if base.timeout >= base.interval {
            return Err(ApiError::value(
                &f("TimeOut"),
                format_args!(
                    "TimeOut {} s must be less than IntervalTime {} s",
                    base.timeout, base.interval
                ),
            ));
        }
        if let Some(v) = self.health_num {
            base.healthy_threshold = check_range(&f("HealthNum"), v, 2, 10)?;
        }
        if let Some(v) = self.un_health_num {
            base.unhealthy_threshold = check_range(&f("UnHealthNum"), v, 2, 10)?;
        }
        if let Some(mask) = self.http_code {
            let mask = check_range(&f("HttpCode"), mask, 1, 31)?;
            base.http_codes = (0..5)
                .filter(|bit| mask & (1 << bit) != 0)
                .map(|bit| format!("http_{}xx", bit + 1))
                .collect();
        }
        if let Some(path) = &self.http_check_path {
            check_length(&f("HttpCheckPath"), path, 1, 200)?;
            if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ApiError::value(
                    &f("HttpCheckPath"),
                    "must start with '/' and contain no spaces",
                ));
            }
            base.path = path.clone();
        }
        if let Some(domain) = &self.http_check_domain {
            if domain.is_empty() {
                base.domain = None;
            } else {
                check_length(&f("HttpCheckDomain"), domain, 1, 120)?;
                if !domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                {
                    return Err(ApiError::value(
                        &f("HttpCheckDomain"),
                        "may contain only a-z 0-9 . _ - (no wildcard or regex)",
                    ));
                }
                base.domain = Some(domain.clone());
            }
        }
        if let Some(m) = &self.http_check_method {
            base.method = one_of(&f("HttpCheckMethod"), m, &["GET", "HEAD"])?.to_owned();
        }
        Ok(base)
    }
}

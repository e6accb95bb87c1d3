//! Forwarding rules: CreateRule, ModifyRule, DeleteRule (domains are in
//! [`super::domains`]).
//!
//! A rule (`LocationId`) is a `[[load_balancer.listener.domain.rule]]`; its
//! `Domain` is the `[[load_balancer.listener.domain]]` it sits in (created
//! with the first rule, removed with the last). Redirects that name a rule
//! by domain and URL follow a rename.

use serde::Serialize;
use serde_json::Value;

use super::cert_input::{CertificateInput, resolve_domain_certificate};
use super::common::{
    HealthCheckInput, RuleSelector, check_length, check_range, lb_mut, listener_mut, one_of,
    same_domain, same_url,
};
use super::listeners::set_default_domain;
use super::{Api, cert_dir, empty, output};
use crate::admin::certs::StoredCert;
use crate::admin::error::{ApiError, Code};
use crate::admin::ids::new_id;
use crate::admin::params::input;
use crate::config::model::{
    self, ConfigFile, ForwardType, HealthCheck, LoadBalancer, Protocol, Scheduler,
};
use crate::routing::{DomainPattern, UrlPattern};

input! {
    /// The product's `RuleInput`.
    pub struct RuleInput {
        /// Domain, 1–120 characters: exact, `*.a.b`, `a.b.*` or `~regex`.
        domain: req String = "Domain",
        /// URL, 1–200 characters: `= /x`, `^~ /x`, `~ re`, `~* re` or `/x`.
        url: req String = "Url",
        /// 0 off, 30–3600 s (WRR only).
        session_expire_time: opt i64 = "SessionExpireTime",
        /// Health check (omitted fields take the defaults).
        health_check: opt HealthCheckInput = "HealthCheck",
        /// The domain's certificate (SNI listeners).
        certificate: opt CertificateInput = "Certificate",
        /// WRR (default) | LEAST_CONN | IP_HASH.
        scheduler: opt String = "Scheduler",
        /// HTTP (default) | HTTPS | GRPC | GRPCS.
        forward_type: opt String = "ForwardType",
        /// Make the domain the listener's default.
        default_server: opt bool = "DefaultServer",
        /// HTTPS: offer HTTP/2 for the domain.
        http2: opt bool = "Http2",
        /// NODE only.
        target_type: opt String = "TargetType",
        /// TRPC: not supported.
        trpc_callee: opt Value = "TrpcCallee",
        /// TRPC: not supported.
        trpc_func: opt Value = "TrpcFunc",
    }
}

input! {
    /// CreateRule input.
    pub struct CreateInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// HTTP/HTTPS listener id.
        listener_id: req String = "ListenerId",
        /// Rules to create.
        rules: req Vec<RuleInput> = "Rules",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateOutput {
    location_ids: Vec<String>,
}

fn scheduler(field: &str, value: &str) -> Result<Scheduler, ApiError> {
    Ok(
        match one_of(field, value, &["WRR", "LEAST_CONN", "IP_HASH"])? {
            "LEAST_CONN" => Scheduler::LeastConn,
            "IP_HASH" => Scheduler::IpHash,
            _ => Scheduler::Wrr,
        },
    )
}

fn forward_type(field: &str, value: &str) -> Result<ForwardType, ApiError> {
    if value.eq_ignore_ascii_case("TRPC") {
        return Err(ApiError::new(
            Code::UnsupportedOperation,
            format!("{field}: TRPC is not supported: HTTP, HTTPS, GRPC or GRPCS"),
        ));
    }
    Ok(
        match one_of(field, value, &["HTTP", "HTTPS", "GRPC", "GRPCS"])? {
            "HTTPS" => ForwardType::Https,
            "GRPC" => ForwardType::Grpc,
            "GRPCS" => ForwardType::Grpcs,
            _ => ForwardType::Http,
        },
    )
}

fn session_time(field: &str, value: i64) -> Result<i64, ApiError> {
    if value == 0 {
        return Ok(0);
    }
    check_range(field, value, 30, 3600).map_err(|_| {
        ApiError::value(
            field,
            format_args!("{value} is out of range: allowed 0 (off) or 30-3600"),
        )
    })
}

/// Checks a domain name the way ModifyDomain describes it.
pub(crate) fn check_domain(field: &str, name: &str) -> Result<(), ApiError> {
    check_length(field, name, 1, 120)?;
    DomainPattern::parse(name.trim())
        .map_err(|e| ApiError::value(field, format_args!("{name:?}: {e}")))?;
    Ok(())
}

fn check_url(field: &str, url: &str) -> Result<(), ApiError> {
    check_length(field, url, 1, 200)?;
    UrlPattern::parse(url).map_err(|e| ApiError::value(field, format_args!("{url:?}: {e}")))?;
    Ok(())
}

fn refuse_unsupported(
    prefix: &str,
    target_type: Option<&String>,
    trpc: bool,
) -> Result<(), ApiError> {
    if let Some(t) = target_type
        && !t.eq_ignore_ascii_case("NODE")
    {
        return Err(ApiError::new(
            Code::UnsupportedOperation,
            format!(
                "{prefix}TargetType: {t:?} is not supported: targets bind to rules directly (NODE)"
            ),
        ));
    }
    if trpc {
        return Err(ApiError::new(
            Code::UnsupportedOperation,
            format!("{prefix}TrpcCallee: TRPC is not supported"),
        ));
    }
    Ok(())
}

fn rule_id_taken(file: &ConfigFile, id: &str) -> bool {
    file.load_balancers
        .iter()
        .flat_map(|lb| &lb.listeners)
        .flat_map(|l| &l.domains)
        .flat_map(|d| &d.rules)
        .any(|r| r.id.as_deref() == Some(id))
}

/// Creates rules (and their domains) under an HTTP/HTTPS listener.
pub(crate) async fn create(api: &Api, input: CreateInput) -> Result<Value, ApiError> {
    if input.rules.is_empty() {
        return Err(ApiError::missing("Rules"));
    }
    let mut checked = Vec::new();
    for (i, r) in input.rules.iter().enumerate() {
        let p = format!("Rules.{i}.");
        check_domain(&format!("{p}Domain"), &r.domain)?;
        check_url(&format!("{p}Url"), &r.url)?;
        refuse_unsupported(
            &p,
            r.target_type.as_ref(),
            r.trpc_callee.is_some() || r.trpc_func.is_some(),
        )?;
        let sched = match &r.scheduler {
            Some(s) => scheduler(&format!("{p}Scheduler"), s)?,
            None => Scheduler::Wrr,
        };
        let session = session_time(
            &format!("{p}SessionExpireTime"),
            r.session_expire_time.unwrap_or(0),
        )?;
        if session > 0 && sched != Scheduler::Wrr {
            return Err(ApiError::invalid(
                &format!("{p}SessionExpireTime"),
                "session persistence works only with Scheduler WRR",
            ));
        }
        let fwd = match &r.forward_type {
            Some(f) => forward_type(&format!("{p}ForwardType"), f)?,
            None => ForwardType::Http,
        };
        let health = match &r.health_check {
            Some(h) => Some(h.apply(HealthCheck::default(), &format!("{p}HealthCheck"))?),
            None => None,
        };
        checked.push((sched, session, fwd, health));
    }
    let mut uploads: Vec<StoredCert> = Vec::new();
    let result = api
        .store
        .write(|file, config| {
            let dir = cert_dir(config);
            let mut ids: Vec<String> = Vec::new();
            for (i, (r, (sched, session, fwd, health))) in
                input.rules.iter().zip(checked.iter().cloned()).enumerate()
            {
                let p = format!("Rules.{i}.");
                let cert = match &r.certificate {
                    Some(c) => resolve_domain_certificate(
                        c,
                        file,
                        &dir,
                        &format!("{p}Certificate"),
                        &mut uploads,
                    )?,
                    None => None,
                };
                let id = new_id("loc-", |id| {
                    rule_id_taken(file, id) || ids.iter().any(|x| x == id)
                });
                let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
                let l = listener_mut(lb, &input.listener_id, "ListenerId")?;
                let https = l.protocol == Protocol::Https;
                if r.http2 == Some(true) && !https {
                    return Err(ApiError::invalid(
                        &format!("{p}Http2"),
                        "only domains of HTTPS listeners offer HTTP/2",
                    ));
                }
                if cert.is_some() && !(https && l.sni) {
                    return Err(ApiError::invalid(
                        &format!("{p}Certificate"),
                        "a domain certificate needs an HTTPS listener with SNI on (SniSwitch 1)",
                    ));
                }
                let di = match l
                    .domains
                    .iter()
                    .position(|d| same_domain(&d.name, &r.domain))
                {
                    Some(di) => di,
                    None => {
                        l.domains.push(model::Domain {
                            name: r.domain.trim().to_owned(),
                            default_server: false,
                            http2: true,
                            certificate: None,
                            rules: Vec::new(),
                        });
                        l.domains.len() - 1
                    }
                };
                if let Some(existing) = l.domains[di]
                    .rules
                    .iter()
                    .find(|x| same_url(&r.url, &x.url))
                {
                    return Err(ApiError::invalid(
                        &format!("{p}Url"),
                        format!(
                            "domain {} already has the rule {} ({})",
                            r.domain,
                            existing.url,
                            existing.id.as_deref().unwrap_or("?")
                        ),
                    ));
                }
                let domain = &mut l.domains[di];
                if let Some(h2) = r.http2 {
                    domain.http2 = h2;
                }
                if let Some(c) = cert {
                    domain.certificate = Some(c);
                }
                domain.rules.push(model::Rule {
                    id: Some(id.clone()),
                    url: r.url.trim().to_owned(),
                    scheduler: sched,
                    session_expire_time: session,
                    forward_type: fwd,
                    tls_verify: false,
                    tls_ca: None,
                    tls_sni: None,
                    gzip: true,
                    gzip_level: 1,
                    client_ip: true,
                    targets: Vec::new(),
                    health_check: health,
                });
                if r.default_server == Some(true) {
                    let name = l.domains[di].name.clone();
                    set_default_domain(l, &name, &format!("{p}Domain"))?;
                }
                ids.push(id);
            }
            Ok(ids)
        })
        .await;
    match result {
        Ok(ids) => output(&CreateOutput { location_ids: ids }),
        Err(e) => {
            uploads.iter().for_each(StoredCert::discard);
            Err(e)
        }
    }
}

input! {
    /// ModifyRule input.
    pub struct ModifyInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// Rule id.
        location_id: req String = "LocationId",
        /// New URL.
        url: opt String = "Url",
        /// Health check changes (omitted fields keep their value).
        health_check: opt HealthCheckInput = "HealthCheck",
        /// WRR | LEAST_CONN | IP_HASH.
        scheduler: opt String = "Scheduler",
        /// 0 off, 30–3600 s.
        session_expire_time: opt i64 = "SessionExpireTime",
        /// HTTP | HTTPS | GRPC | GRPCS.
        forward_type: opt String = "ForwardType",
        /// NODE only.
        target_type: opt String = "TargetType",
        /// TRPC: not supported.
        trpc_callee: opt Value = "TrpcCallee",
        /// TRPC: not supported.
        trpc_func: opt Value = "TrpcFunc",
    }
}

/// Redirects (source or target) that name `(listener, domain, url)` are
/// changed by `f`.
fn update_rewrite_ends(
    lb: &mut LoadBalancer,
    listener: &str,
    domain: &str,
    url: &str,
    mut f: impl FnMut(&mut model::RewriteEnd),
) {
    for rw in &mut lb.rewrites {
        for end in [&mut rw.source, &mut rw.target] {
            if end.listener == listener
                && same_domain(&end.domain, domain)
                && same_url(url, &end.url)
            {
                f(end);
            }
        }
    }
}

/// Changes a rule's URL, health check, scheduler, stickiness or backend
/// protocol.
pub(crate) async fn modify(api: &Api, input: ModifyInput) -> Result<Value, ApiError> {
    refuse_unsupported(
        "",
        input.target_type.as_ref(),
        input.trpc_callee.is_some() || input.trpc_func.is_some(),
    )?;
    if let Some(u) = &input.url {
        check_url("Url", u)?;
    }
    let sched = match &input.scheduler {
        Some(s) => Some(scheduler("Scheduler", s)?),
        None => None,
    };
    let session = match input.session_expire_time {
        Some(s) => Some(session_time("SessionExpireTime", s)?),
        None => None,
    };
    let fwd = match &input.forward_type {
        Some(f) => Some(forward_type("ForwardType", f)?),
        None => None,
    };
    api.store
        .write(|file, _| {
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            let listener_id = input.listener_id.clone();
            let l = listener_mut(lb, &listener_id, "ListenerId")?;
            let selector = RuleSelector {
                location_id: Some(input.location_id.clone()),
                ..RuleSelector::default()
            };
            let (di, ri) = selector.find(l, "")?;
            let domain_name = l.domains[di].name.clone();
            let old_url = l.domains[di].rules[ri].url.clone();
            if let Some(u) = &input.url {
                let clash = l.domains[di]
                    .rules
                    .iter()
                    .enumerate()
                    .any(|(i, r)| i != ri && same_url(u, &r.url));
                if clash {
                    return Err(ApiError::invalid(
                        "Url",
                        format!("domain {domain_name} already has a rule {u:?}"),
                    ));
                }
            }
            let rule = &mut l.domains[di].rules[ri];
            if let Some(h) = &input.health_check {
                rule.health_check =
                    Some(h.apply(rule.health_check.clone().unwrap_or_default(), "HealthCheck")?);
            }
            if let Some(s) = sched {
                rule.scheduler = s;
            }
            if let Some(s) = session {
                rule.session_expire_time = s;
            }
            if rule.session_expire_time > 0 && rule.scheduler != Scheduler::Wrr {
                return Err(ApiError::invalid(
                    "SessionExpireTime",
                    "session persistence works only with Scheduler WRR",
                ));
            }
            if let Some(f) = fwd {
                rule.forward_type = f;
                if !f.is_tls() {
                    rule.tls_verify = false;
                    rule.tls_ca = None;
                    rule.tls_sni = None;
                }
            }
            if let Some(u) = &input.url {
                rule.url = u.trim().to_owned();
                let new_url = rule.url.clone();
                update_rewrite_ends(lb, &listener_id, &domain_name, &old_url, |end| {
                    end.url = new_url.clone()
                });
            }
            Ok(())
        })
        .await?;
    empty()
}

input! {
    /// DeleteRule input.
    pub struct DeleteInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// Rules to delete.
        location_ids: opt Vec<String> = "LocationIds",
        /// Or the rule's domain…
        domain: opt String = "Domain",
        /// …and URL.
        url: opt String = "Url",
        /// The domain to become the default when the default one goes.
        new_default_server_domain: opt String = "NewDefaultServerDomain",
    }
}

/// Deletes rules (and redirects from or to them); a domain left without
/// rules goes too.
pub(crate) async fn delete(api: &Api, input: DeleteInput) -> Result<Value, ApiError> {
    let selectors: Vec<RuleSelector> = match &input.location_ids {
        Some(ids) if !ids.is_empty() => ids
            .iter()
            .map(|id| RuleSelector {
                location_id: Some(id.clone()),
                ..RuleSelector::default()
            })
            .collect(),
        _ => vec![RuleSelector {
            location_id: None,
            domain: input.domain.clone(),
            url: input.url.clone(),
        }],
    };
    api.store
        .write(|file, _| {
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            let listener_id = input.listener_id.clone();
            let mut doomed = Vec::new();
            {
                let l = listener_mut(lb, &listener_id, "ListenerId")?;
                for s in &selectors {
                    let (di, ri) = s.find(l, "")?;
                    let d = &l.domains[di];
                    doomed.push((d.name.clone(), d.rules[ri].id.clone(), d.rules[ri].url.clone()));
                }
            }
            for (domain, _, url) in &doomed {
                lb.rewrites.retain(|rw| {
                    ![&rw.source, &rw.target].iter().any(|end| {
                        end.listener == listener_id && same_domain(&end.domain, domain) && same_url(url, &end.url)
                    })
                });
            }
            let l = listener_mut(lb, &listener_id, "ListenerId")?;
            let had_default = l.domains.iter().position(|d| d.default_server);
            for (_, id, _) in &doomed {
                for d in &mut l.domains {
                    d.rules.retain(|r| r.id != *id);
                }
            }
            let emptied: Vec<String> = l.domains.iter().filter(|d| d.rules.is_empty()).map(|d| d.name.clone()).collect();
            l.domains.retain(|d| !d.rules.is_empty());
            let lost_default = had_default.is_some() && !l.domains.iter().any(|d| d.default_server);
            if let Some(name) = &input.new_default_server_domain {
                set_default_domain(l, name, "NewDefaultServerDomain")?;
            } else if lost_default {
                tracing::info!("the default domain of {listener_id} was deleted; the first domain serves unmatched hosts");
            }
            for a in &mut lb.auto_rewrites {
                if a.listener == listener_id
                    && let Some(names) = &mut a.domains {
                        names.retain(|n| !emptied.iter().any(|e| same_domain(e, n)));
                    }
            }
            // An AutoRewrite left without domains goes, with its listener.
            lb.auto_rewrites
                .retain(|a| a.domains.as_ref().is_none_or(|names| !names.is_empty()));
            Ok(())
        })
        .await?;
    empty()
}

//! Redirects: AutoRewrite, ManualRewrite, DeleteRewrite, DescribeRewrite.
//!
//! ManualRewrite adds `[[load_balancer.rewrite]]` entries (source rule →
//! target rule, by listener id, domain and URL). AutoRewrite adds an
//! `[[load_balancer.auto_rewrite]]`, which creates an HTTP listener on
//! port 80 redirecting the HTTPS listener's domains; DescribeListeners
//! shows that listener and its `BeAutoCreated` rules.

use serde::Serialize;
use serde_json::Value;

use super::common::{RuleSelector, check_range, lb_index, lb_mut, same_domain, same_url};
use super::listeners::listener_id_taken;
use super::{Api, empty, output};
use crate::admin::error::{ApiError, Code};
use crate::admin::ids::new_id;
use crate::admin::params::input;
use crate::admin::view::{self, RuleOutput};
use crate::config::model::{self, LoadBalancer, Protocol};

/// The port of the HTTP listener AutoRewrite creates (the product's).
const AUTO_REWRITE_HTTP_PORT: i64 = 80;

input! {
    /// AutoRewrite input.
    pub struct AutoInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// The HTTPS listener.
        listener_id: req String = "ListenerId",
        /// Its domains to redirect (default: all).
        domains: opt Vec<String> = "Domains",
        /// Keep path and query (default true); one value for all domains.
        take_urls: opt Vec<bool> = "TakeUrls",
        /// 301 (default), 302 or 307; one value for all domains.
        rewrite_codes: opt Vec<i64> = "RewriteCodes",
    }
}

fn check_code(field: &str, code: i64) -> Result<i64, ApiError> {
    if [301, 302, 307].contains(&code) {
        Ok(code)
    } else {
        Err(ApiError::value(
            field,
            format_args!("{code} is not one of 301, 302, 307"),
        ))
    }
}

/// The one value of a per-domain list (stgw applies one per AutoRewrite).
fn uniform<T: PartialEq + Copy>(field: &str, values: &[T]) -> Result<Option<T>, ApiError> {
    match values.split_first() {
        None => Ok(None),
        Some((first, rest)) if rest.iter().all(|v| v == first) => Ok(Some(*first)),
        Some(_) => Err(ApiError::value(
            field,
            "stgw applies one value to every domain of an AutoRewrite: give equal values (or one AutoRewrite per value)",
        )),
    }
}

/// Redirects HTTP:80 to the HTTPS listener for its domains.
pub(crate) async fn auto(api: &Api, input: AutoInput) -> Result<Value, ApiError> {
    let codes = input.rewrite_codes.clone().unwrap_or_default();
    for (i, c) in codes.iter().enumerate() {
        check_code(&format!("RewriteCodes.{i}"), *c)?;
    }
    let code = uniform("RewriteCodes", &codes)?.unwrap_or(301);
    let take_url = uniform("TakeUrls", input.take_urls.as_deref().unwrap_or(&[]))?.unwrap_or(true);
    api.store
        .write(|file, _| {
            let taken_id = new_id("lbl-", |id| listener_id_taken(file, id));
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            let lb_id = lb.id.clone().unwrap_or_default();
            let Some(l) = lb.listeners.iter().find(|l| l.id.as_deref() == Some(input.listener_id.as_str())) else {
                return Err(ApiError::listener_not_found("ListenerId", &input.listener_id, &lb_id));
            };
            if l.protocol != Protocol::Https {
                return Err(ApiError::new(
                    Code::ProtocolCheckFailed,
                    format!("ListenerId: listener {} is not an HTTPS listener", input.listener_id),
                ));
            }
            if l.domains.is_empty() {
                return Err(ApiError::location_not_found(
                    "ListenerId",
                    format!("listener {} has no rules to redirect to", input.listener_id),
                ));
            }
            if let Some(names) = &input.domains {
                for (i, n) in names.iter().enumerate() {
                    if !l.domains.iter().any(|d| same_domain(&d.name, n)) {
                        return Err(ApiError::location_not_found(
                            &format!("Domains.{i}"),
                            format!("listener {} has no domain {n:?}", input.listener_id),
                        ));
                    }
                }
            }
            if let Some(existing) = lb.auto_rewrites.iter_mut().find(|a| a.listener == input.listener_id) {
                existing.code = code;
                existing.take_url = take_url;
                match (&mut existing.domains, &input.domains) {
                    (Some(have), Some(add)) => {
                        for n in add {
                            if !have.iter().any(|h| same_domain(h, n)) {
                                have.push(n.trim().to_owned());
                            }
                        }
                    }
                    (have, None) => *have = None,
                    (None, Some(_)) => {}
                }
                return Ok(());
            }
            let port_used = lb.listeners.iter().any(|l| l.port == AUTO_REWRITE_HTTP_PORT)
                || lb.auto_rewrites.iter().any(|a| a.http_port == AUTO_REWRITE_HTTP_PORT);
            if port_used {
                return Err(ApiError::new(
                    Code::PortCheckFailed,
                    format!("ListenerId: port {AUTO_REWRITE_HTTP_PORT} of {lb_id} is already used, so AutoRewrite cannot create its HTTP listener"),
                ));
            }
            lb.auto_rewrites.push(model::AutoRewrite {
                listener: input.listener_id.clone(),
                http_port: AUTO_REWRITE_HTTP_PORT,
                id: Some(taken_id),
                code,
                take_url,
                domains: input.domains.as_ref().map(|d| d.iter().map(|n| n.trim().to_owned()).collect()),
            });
            Ok(())
        })
        .await?;
    empty()
}

input! {
    /// The product's `RewriteLocationMap`.
    pub struct RewriteLocationMap {
        /// Source rule id.
        source_location_id: req String = "SourceLocationId",
        /// Target rule id.
        target_location_id: req String = "TargetLocationId",
        /// 301 (default), 302 or 307.
        rewrite_code: opt i64 = "RewriteCode",
        /// Carry the rest of the URL (default false).
        take_url: opt bool = "TakeUrl",
        /// Must be the source rule's domain.
        source_domain: opt String = "SourceDomain",
    }
}

input! {
    /// ManualRewrite / DeleteRewrite input.
    pub struct ManualInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener of the source rules.
        source_listener_id: req String = "SourceListenerId",
        /// Listener of the target rules.
        target_listener_id: req String = "TargetListenerId",
        /// Source → target pairs.
        rewrite_infos: req Vec<RewriteLocationMap> = "RewriteInfos",
    }
}

/// The redirect end of rule `location_id` of listener `listener_id`.
fn end_of(
    lb: &mut LoadBalancer,
    listener_id: &str,
    location_id: &str,
    field: &str,
    listener_field: &str,
) -> Result<model::RewriteEnd, ApiError> {
    let lb_id = lb.id.clone().unwrap_or_default();
    let Some(l) = lb
        .listeners
        .iter()
        .find(|l| l.id.as_deref() == Some(listener_id))
    else {
        return Err(ApiError::listener_not_found(
            listener_field,
            listener_id,
            &lb_id,
        ));
    };
    let sel = RuleSelector {
        location_id: Some(location_id.to_owned()),
        ..RuleSelector::default()
    };
    let (di, ri) = sel
        .find(l, "")
        .map_err(|e| ApiError::new(e.code, format!("{field}: {}", e.message)))?;
    Ok(model::RewriteEnd {
        listener: listener_id.to_owned(),
        domain: l.domains[di].name.clone(),
        url: l.domains[di].rules[ri].url.clone(),
    })
}

fn same_end(a: &model::RewriteEnd, b: &model::RewriteEnd) -> bool {
    a.listener == b.listener && same_domain(&a.domain, &b.domain) && same_url(&a.url, &b.url)
}

/// Makes source rules answer with redirects to target rules.
pub(crate) async fn manual(api: &Api, input: ManualInput) -> Result<Value, ApiError> {
    if input.rewrite_infos.is_empty() {
        return Err(ApiError::missing("RewriteInfos"));
    }
    let mut codes = Vec::new();
    for (i, info) in input.rewrite_infos.iter().enumerate() {
        codes.push(check_code(
            &format!("RewriteInfos.{i}.RewriteCode"),
            info.rewrite_code.unwrap_or(301),
        )?);
    }
    api.store
        .write(|file, _| {
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            for (i, (info, code)) in input.rewrite_infos.iter().zip(codes.iter().copied()).enumerate() {
                let p = format!("RewriteInfos.{i}.");
                let source = end_of(lb, &input.source_listener_id, &info.source_location_id, &format!("{p}SourceLocationId"), "SourceListenerId")?;
                let target = end_of(lb, &input.target_listener_id, &info.target_location_id, &format!("{p}TargetLocationId"), "TargetListenerId")?;
                if let Some(d) = &info.source_domain
                    && !same_domain(d, &source.domain) {
                        return Err(ApiError::invalid(
                            &format!("{p}SourceDomain"),
                            format!("{d:?} is not the domain of {} ({})", info.source_location_id, source.domain),
                        ));
                    }
                if same_end(&source, &target) {
                    return Err(ApiError::invalid(&format!("{p}TargetLocationId"), "a rule cannot redirect to itself"));
                }
                if lb.rewrites.iter().any(|rw| same_end(&rw.source, &source)) {
                    return Err(ApiError::new(
                        Code::RewriteAlreadyExist,
                        format!("{p}SourceLocationId: rule {} already redirects; delete that redirect first", info.source_location_id),
                    ));
                }
                if lb.rewrites.iter().any(|rw| same_end(&rw.source, &target)) {
                    return Err(ApiError::invalid(
                        &format!("{p}TargetLocationId"),
                        format!("rule {} itself redirects: redirects cannot chain", info.target_location_id),
                    ));
                }
                if lb.rewrites.iter().any(|rw| same_end(&rw.target, &source)) {
                    return Err(ApiError::invalid(
                        &format!("{p}SourceLocationId"),
                        format!("rule {} is the target of a redirect: redirects cannot chain", info.source_location_id),
                    ));
                }
                lb.rewrites.push(model::Rewrite {
                    source,
                    target,
                    code: check_range(&format!("{p}RewriteCode"), code, 301, 307)?,
                    take_url: info.take_url.unwrap_or(false),
                });
            }
            Ok(())
        })
        .await?;
    empty()
}

/// Removes redirects; each pair must exist (`SomeRewriteNotFound`).
pub(crate) async fn delete(api: &Api, input: ManualInput) -> Result<Value, ApiError> {
    if input.rewrite_infos.is_empty() {
        return Err(ApiError::missing("RewriteInfos"));
    }
    api.store
        .write(|file, _| {
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            for (i, info) in input.rewrite_infos.iter().enumerate() {
                let p = format!("RewriteInfos.{i}.");
                let source = end_of(
                    lb,
                    &input.source_listener_id,
                    &info.source_location_id,
                    &format!("{p}SourceLocationId"),
                    "SourceListenerId",
                );
                let target = end_of(
                    lb,
                    &input.target_listener_id,
                    &info.target_location_id,
                    &format!("{p}TargetLocationId"),
                    "TargetListenerId",
                );
                let found = match (source, target) {
                    (Ok(s), Ok(t)) => lb
                        .rewrites
                        .iter()
                        .position(|rw| same_end(&rw.source, &s) && same_end(&rw.target, &t)),
                    _ => None,
                };
                let Some(index) = found else {
                    return Err(ApiError::new(
                        Code::SomeRewriteNotFound,
                        format!(
                            "{p}SourceLocationId: no redirect from {} to {}",
                            info.source_location_id, info.target_location_id
                        ),
                    ));
                };
                lb.rewrites.remove(index);
            }
            Ok(())
        })
        .await?;
    empty()
}

input! {
    /// DescribeRewrite input.
    pub struct DescribeInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Only rules of these listeners.
        source_listener_ids: opt Vec<String> = "SourceListenerIds",
        /// Only these rules.
        source_location_ids: opt Vec<String> = "SourceLocationIds",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOutput {
    rewrite_set: Vec<RuleOutput>,
}

/// Lists the rules that redirect (manual and automatic), each with its
/// `RewriteTarget`.
pub(crate) fn describe(api: &Api, input: DescribeInput) -> Result<Value, ApiError> {
    let config = api.store.current();
    let index = lb_index(&config.file, &input.load_balancer_id, "LoadBalancerId")?;
    let lb = &config.load_balancers[index];
    let set = lb
        .listeners
        .iter()
        .filter(|l| {
            input
                .source_listener_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&l.id))
        })
        .flat_map(|l| view::listener(&config, lb, l).rules)
        .filter(|r| r.rewrite_target.is_some())
        .filter(|r| {
            input
                .source_location_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&r.location_id))
        })
        .collect();
    output(&DescribeOutput { rewrite_set: set })
}

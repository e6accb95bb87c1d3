//! Targets of rules: RegisterTargets, DeregisterTargets, DescribeTargets,
//! ModifyTargetWeight, ModifyTargetPort, BatchModifyTargetWeight,
//! BatchRegisterTargets, BatchDeregisterTargets.
//!
//! A target is an entry of a rule's `targets`: `{ address = "IP:port" }`
//! for `EniIp`, `{ instance = "ins-…", port = N }` for `InstanceId` (the
//! `[[instance]]` table). A target is identified by the address it
//! designates, so an `EniIp` also finds an instance target with that IP.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde::Serialize;
use serde_json::Value;

use super::common::{
    RuleSelector, TargetInput, check_range, lb_index, lb_mut, listener_mut, resolve_target,
    target_addr,
};
use super::{Api, empty, output};
use crate::admin::error::ApiError;
use crate::admin::params::input;
use crate::admin::view::{Backend, backend};
use crate::config::model::{self, ConfigFile};

/// The most targets one call may name (the product's limit).
const MAX_TARGETS_PER_CALL: usize = 20;

/// The most targets a batch call may name.
const MAX_BATCH_TARGETS: usize = 500;

input! {
    /// RegisterTargets / DeregisterTargets input.
    pub struct TargetsInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// At most 20.
        targets: req Vec<TargetInput> = "Targets",
        /// Rule id.
        location_id: opt String = "LocationId",
        /// Or the rule's domain…
        domain: opt String = "Domain",
        /// …and URL.
        url: opt String = "Url",
    }
}

fn selector(
    location_id: &Option<String>,
    domain: &Option<String>,
    url: &Option<String>,
) -> RuleSelector {
    RuleSelector {
        location_id: location_id.clone(),
        domain: domain.clone(),
        url: url.clone(),
    }
}

fn check_count(field: &str, n: usize, max: usize) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::missing(field));
    }
    if n > max {
        return Err(ApiError::value(
            field,
            format_args!("{n} targets exceed the limit of {max} per call"),
        ));
    }
    Ok(())
}

/// The rule a selector designates, mutable.
fn rule_mut<'a>(
    file: &'a mut ConfigFile,
    lb_id: &str,
    listener_id: &str,
    selector: &RuleSelector,
    prefix: &str,
) -> Result<&'a mut model::Rule, ApiError> {
    let lb = lb_mut(file, lb_id, "LoadBalancerId")?;
    let l = listener_mut(lb, listener_id, &format!("{prefix}ListenerId"))?;
    let (di, ri) = selector.find(l, prefix)?;
    Ok(&mut l.domains[di].rules[ri])
}

/// Resolves input targets against the file (before a rule is borrowed).
fn resolve_all(
    targets: &[TargetInput],
    file: &ConfigFile,
    prefix: &str,
) -> Result<Vec<(SocketAddr, model::Target, Option<i64>)>, ApiError> {
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (addr, target) = resolve_target(t, file, &format!("{prefix}Targets.{i}"))?;
            Ok((addr, target, t.weight))
        })
        .collect()
}

/// Adds `targets` to `rule`; a target already bound is refused.
fn add_targets(
    rule: &mut model::Rule,
    targets: Vec<(SocketAddr, model::Target, Option<i64>)>,
    instances: &[model::Instance],
    prefix: &str,
) -> Result<(), ApiError> {
    let before = rule.targets.len();
    for (i, (addr, target, _)) in targets.into_iter().enumerate() {
        if let Some(at) = rule
            .targets
            .iter()
            .position(|t| target_addr(t, instances) == Some(addr))
        {
            let why = if at < before {
                format!(
                    "{addr} is already bound to rule {}",
                    rule.id.as_deref().unwrap_or("?")
                )
            } else {
                format!("{addr} is listed twice in Targets")
            };
            return Err(ApiError::invalid(&format!("{prefix}Targets.{i}"), why));
        }
        rule.targets.push(target);
    }
    Ok(())
}

/// The index of the target of `rule` at `addr`, or `InvalidParameter`.
fn bound(
    rule: &model::Rule,
    addr: SocketAddr,
    instances: &[model::Instance],
    field: &str,
) -> Result<usize, ApiError> {
    rule.targets
        .iter()
        .position(|t| target_addr(t, instances) == Some(addr))
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                format!(
                    "{addr} is not bound to rule {}",
                    rule.id.as_deref().unwrap_or("?")
                ),
            )
        })
}

/// Binds targets to a rule; traffic reaches them from the next request.
pub(crate) async fn register(api: &Api, input: TargetsInput) -> Result<Value, ApiError> {
    check_count("Targets", input.targets.len(), MAX_TARGETS_PER_CALL)?;
    let sel = selector(&input.location_id, &input.domain, &input.url);
    api.store
        .write(|file, _| {
            let resolved = resolve_all(&input.targets, file, "")?;
            let instances = file.instances.clone();
            let rule = rule_mut(file, &input.load_balancer_id, &input.listener_id, &sel, "")?;
            add_targets(rule, resolved, &instances, "")
        })
        .await?;
    empty()
}

/// Unbinds targets from a rule; requests in flight to them finish.
pub(crate) async fn deregister(api: &Api, input: TargetsInput) -> Result<Value, ApiError> {
    check_count("Targets", input.targets.len(), MAX_TARGETS_PER_CALL)?;
    let sel = selector(&input.location_id, &input.domain, &input.url);
    api.store
        .write(|file, _| {
            let resolved = resolve_all(&input.targets, file, "")?;
            let instances = file.instances.clone();
            let rule = rule_mut(file, &input.load_balancer_id, &input.listener_id, &sel, "")?;
            for (i, (addr, _, _)) in resolved.into_iter().enumerate() {
                let index = bound(rule, addr, &instances, &format!("Targets.{i}"))?;
                rule.targets.remove(index);
            }
            Ok(())
        })
        .await?;
    empty()
}

input! {
    /// ModifyTargetWeight input.
    pub struct ModifyWeightInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// Targets to change (their own Weight wins over `Weight`).
        targets: req Vec<TargetInput> = "Targets",
        /// Rule id.
        location_id: opt String = "LocationId",
        /// Or the rule's domain…
        domain: opt String = "Domain",
        /// …and URL.
        url: opt String = "Url",
        /// 0–100, default 10.
        weight: opt i64 = "Weight",
    }
}

/// Sets the weights of bound targets in `rule`.
fn set_weights(
    rule: &mut model::Rule,
    resolved: Vec<(SocketAddr, model::Target, Option<i64>)>,
    default: i64,
    instances: &[model::Instance],
    prefix: &str,
) -> Result<(), ApiError> {
    for (i, (addr, _, own)) in resolved.into_iter().enumerate() {
        let index = bound(rule, addr, instances, &format!("{prefix}Targets.{i}"))?;
        rule.targets[index].weight = own.unwrap_or(default);
    }
    Ok(())
}

/// Changes target weights of a rule (0 stops new traffic to a target).
pub(crate) async fn modify_weight(api: &Api, input: ModifyWeightInput) -> Result<Value, ApiError> {
    check_count("Targets", input.targets.len(), MAX_TARGETS_PER_CALL)?;
    let weight = check_range("Weight", input.weight.unwrap_or(10), 0, 100)?;
    let sel = selector(&input.location_id, &input.domain, &input.url);
    api.store
        .write(|file, _| {
            let resolved = resolve_all(&input.targets, file, "")?;
            let instances = file.instances.clone();
            let rule = rule_mut(file, &input.load_balancer_id, &input.listener_id, &sel, "")?;
            set_weights(rule, resolved, weight, &instances, "")
        })
        .await?;
    empty()
}

input! {
    /// ModifyTargetPort input.
    pub struct ModifyPortInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// Targets (by their current port).
        targets: req Vec<TargetInput> = "Targets",
        /// The new port.
        new_port: req i64 = "NewPort",
        /// Rule id.
        location_id: opt String = "LocationId",
        /// Or the rule's domain…
        domain: opt String = "Domain",
        /// …and URL.
        url: opt String = "Url",
    }
}

/// Moves bound targets to another port.
pub(crate) async fn modify_port(api: &Api, input: ModifyPortInput) -> Result<Value, ApiError> {
    check_count("Targets", input.targets.len(), MAX_TARGETS_PER_CALL)?;
    let new_port = check_range("NewPort", input.new_port, 1, 65535)?;
    let sel = selector(&input.location_id, &input.domain, &input.url);
    api.store
        .write(|file, _| {
            let resolved = resolve_all(&input.targets, file, "")?;
            let instances = file.instances.clone();
            let rule = rule_mut(file, &input.load_balancer_id, &input.listener_id, &sel, "")?;
            for (i, (addr, _, _)) in resolved.into_iter().enumerate() {
                let field = format!("Targets.{i}");
                let index = bound(rule, addr, &instances, &field)?;
                let moved = SocketAddr::new(addr.ip(), new_port as u16);
                if rule
                    .targets
                    .iter()
                    .any(|t| target_addr(t, &instances) == Some(moved))
                {
                    return Err(ApiError::invalid(
                        &field,
                        format!("{moved} is already bound to this rule"),
                    ));
                }
                let t = &mut rule.targets[index];
                if t.instance.is_some() {
                    t.port = Some(new_port);
                } else {
                    t.address = Some(moved.to_string());
                }
            }
            Ok(())
        })
        .await?;
    empty()
}

input! {
    /// The product's `RsWeightRule`.
    pub struct RsWeightRule {
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// Targets to change.
        targets: req Vec<TargetInput> = "Targets",
        /// Rule id.
        location_id: opt String = "LocationId",
        /// Or the rule's domain…
        domain: opt String = "Domain",
        /// …and URL.
        url: opt String = "Url",
        /// 0–100.
        weight: opt i64 = "Weight",
    }
}

input! {
    /// BatchModifyTargetWeight input.
    pub struct BatchModifyWeightInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Changes, applied together.
        modify_list: req Vec<RsWeightRule> = "ModifyList",
    }
}

/// Changes weights across rules in one configuration change.
pub(crate) async fn batch_modify_weight(
    api: &Api,
    input: BatchModifyWeightInput,
) -> Result<Value, ApiError> {
    if input.modify_list.is_empty() {
        return Err(ApiError::missing("ModifyList"));
    }
    let mut weights = Vec::new();
    for (i, m) in input.modify_list.iter().enumerate() {
        check_count(
            &format!("ModifyList.{i}.Targets"),
            m.targets.len(),
            MAX_BATCH_TARGETS,
        )?;
        weights.push(check_range(
            &format!("ModifyList.{i}.Weight"),
            m.weight.unwrap_or(10),
            0,
            100,
        )?);
    }
    api.store
        .write(|file, _| {
            let instances = file.instances.clone();
            for (i, (m, weight)) in input
                .modify_list
                .iter()
                .zip(weights.iter().copied())
                .enumerate()
            {
                let prefix = format!("ModifyList.{i}.");
                let resolved = resolve_all(&m.targets, file, &prefix)?;
                let sel = selector(&m.location_id, &m.domain, &m.url);
                let rule = rule_mut(file, &input.load_balancer_id, &m.listener_id, &sel, &prefix)?;
                set_weights(rule, resolved, weight, &instances, &prefix)?;
            }
            Ok(())
        })
        .await?;
    empty()
}

input! {
    /// The product's `BatchTarget`.
    pub struct BatchTarget {
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// Backend port.
        port: req i64 = "Port",
        /// An `[[instance]]` id.
        instance_id: opt String = "InstanceId",
        /// Or the backend's IP.
        eni_ip: opt String = "EniIp",
        /// 0–100, default 10.
        weight: opt i64 = "Weight",
        /// Rule id (required: every stgw listener is seven-layer).
        location_id: opt String = "LocationId",
    }
}

input! {
    /// BatchRegisterTargets / BatchDeregisterTargets input.
    pub struct BatchTargetsInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// At most 500.
        targets: req Vec<BatchTarget> = "Targets",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchOutput {
    fail_listener_id_set: Vec<String>,
}

/// Applies `op` to each batch target's rule; a target that fails names its
/// listener in `FailListenerIdSet` and the others are applied together.
async fn batch(
    api: &Api,
    input: BatchTargetsInput,
    op: fn(&mut model::Rule, SocketAddr, model::Target, &[model::Instance]) -> Result<(), ApiError>,
) -> Result<Value, ApiError> {
    check_count("Targets", input.targets.len(), MAX_BATCH_TARGETS)?;
    let failed = api
        .store
        .write(|file, _| {
            lb_index(file, &input.load_balancer_id, "LoadBalancerId")?;
            let instances = file.instances.clone();
            let mut failed = BTreeSet::new();
            for (i, b) in input.targets.iter().enumerate() {
                let prefix = format!("Targets.{i}.");
                let one = TargetInput {
                    kind: None,
                    instance_id: b.instance_id.clone(),
                    port: b.port,
                    weight: b.weight,
                    eni_ip: b.eni_ip.clone(),
                    instance_bms_id: None,
                };
                let attempt = resolve_target(&one, file, &format!("Targets.{i}")).and_then(
                    |(addr, target)| {
                        let sel = selector(&b.location_id, &None, &None);
                        let rule =
                            rule_mut(file, &input.load_balancer_id, &b.listener_id, &sel, &prefix)?;
                        op(rule, addr, target, &instances)
                    },
                );
                if let Err(e) = attempt {
                    tracing::info!("batch target {i} failed: {}", e.message);
                    failed.insert(b.listener_id.clone());
                }
            }
            Ok(failed)
        })
        .await?;
    output(&BatchOutput {
        fail_listener_id_set: failed.into_iter().collect(),
    })
}

/// Binds targets across rules of one load balancer.
pub(crate) async fn batch_register(api: &Api, input: BatchTargetsInput) -> Result<Value, ApiError> {
    batch(api, input, |rule, addr, target, instances| {
        add_targets(rule, vec![(addr, target, None)], instances, "")
    })
    .await
}

/// Unbinds targets across rules of one load balancer.
pub(crate) async fn batch_deregister(
    api: &Api,
    input: BatchTargetsInput,
) -> Result<Value, ApiError> {
    batch(api, input, |rule, addr, _, instances| {
        let index = bound(rule, addr, instances, "Targets")?;
        rule.targets.remove(index);
        Ok(())
    })
    .await
}

input! {
    /// DescribeTargets input.
    pub struct DescribeInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Only these listeners.
        listener_ids: opt Vec<String> = "ListenerIds",
        /// Only this protocol.
        protocol: opt String = "Protocol",
        /// Only this port.
        port: opt i64 = "Port",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RuleTargets {
    location_id: String,
    domain: String,
    url: String,
    targets: Vec<Backend>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListenerBackend {
    listener_id: String,
    protocol: String,
    port: i64,
    rules: Vec<RuleTargets>,
    targets: Option<Vec<Backend>>,
    end_port: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOutput {
    listeners: Vec<ListenerBackend>,
}

/// Lists the targets of every rule of the chosen listeners.
pub(crate) fn describe(api: &Api, input: DescribeInput) -> Result<Value, ApiError> {
    let config = api.store.current();
    let index = lb_index(&config.file, &input.load_balancer_id, "LoadBalancerId")?;
    let lb = &config.load_balancers[index];
    let file_lb = &config.file.load_balancers[index];
    let mut listeners = Vec::new();
    for l in &lb.listeners {
        let keep = input
            .listener_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&l.id))
            && input
                .protocol
                .as_ref()
                .is_none_or(|p| p.eq_ignore_ascii_case(l.protocol.as_str()))
            && input.port.is_none_or(|p| p == i64::from(l.addr.port()));
        if !keep {
            continue;
        }
        let file_listener = file_lb
            .listeners
            .iter()
            .find(|m| m.id.as_deref() == Some(l.id.as_str()));
        let mut rules = Vec::new();
        for (di, d) in l.domains.iter().enumerate() {
            for (ri, r) in d.rules.iter().enumerate() {
                let targets = file_listener
                    .and_then(|m| m.domains.get(di))
                    .and_then(|fd| fd.rules.get(ri))
                    .map(|fr| {
                        fr.targets
                            .iter()
                            .map(|t| backend(t, &config.file))
                            .collect()
                    })
                    .unwrap_or_default();
                rules.push(RuleTargets {
                    location_id: r.id.clone(),
                    domain: d.name.clone(),
                    url: r.url.clone(),
                    targets,
                });
            }
        }
        listeners.push(ListenerBackend {
            listener_id: l.id.clone(),
            protocol: l.protocol.as_str().into(),
            port: i64::from(l.addr.port()),
            rules,
            targets: None,
            end_port: 0,
        });
    }
    output(&DescribeOutput { listeners })
}

//! DescribeTargetHealth: the health of every target of every rule, as the
//! running proxy sees it.

use serde::Serialize;
use serde_json::Value;

use super::common::lb_index;
use super::{Api, output};
use crate::admin::error::ApiError;
use crate::admin::params::input;
use crate::balance::HealthState;

input! {
    /// DescribeTargetHealth input.
    pub struct DescribeTargetHealthInput {
        /// Load balancers to report.
        load_balancer_ids: req Vec<String> = "LoadBalancerIds",
        /// Only these listeners (later API versions).
        listener_ids: opt Vec<String> = "ListenerIds",
        /// Only these rules (later API versions).
        location_ids: opt Vec<String> = "LocationIds",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    load_balancers: Vec<LoadBalancerHealth>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LoadBalancerHealth {
    load_balancer_id: String,
    load_balancer_name: String,
    listeners: Vec<ListenerHealth>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListenerHealth {
    listener_id: String,
    listener_name: String,
    protocol: String,
    port: i64,
    rules: Vec<RuleHealth>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RuleHealth {
    location_id: String,
    domain: String,
    url: String,
    targets: Vec<TargetHealth>,
}

#[derive(Serialize)]
struct TargetHealth {
    #[serde(rename = "IP")]
    ip: String,
    #[serde(rename = "Port")]
    port: i64,
    #[serde(rename = "HealthStatus")]
    health_status: bool,
    #[serde(rename = "TargetId")]
    target_id: String,
    /// Current SDKs read this spelling…
    #[serde(rename = "HealthStatusDetail")]
    health_status_detail: String,
    /// …and older ones the seed's.
    #[serde(rename = "HealthStatusDetial")]
    health_status_detial: String,
}

/// Reports LB → listener → rule → target health. `HealthStatus` is true
/// only for `Alive`; `Unknown` (not probed yet) and `Dead` are false.
pub(crate) fn describe(api: &Api, input: DescribeTargetHealthInput) -> Result<Value, ApiError> {
    let config = api.store.current();
    let state = api.store.runtime().state();
    let mut out = Vec::new();
    for (i, id) in input.load_balancer_ids.iter().enumerate() {
        let index = lb_index(&config.file, id, &format!("LoadBalancerIds.{i}"))?;
        let Some(lb) = config.load_balancers.get(index) else {
            continue;
        };
        let file_lb = &config.file.load_balancers[index];
        let mut listeners = Vec::new();
        for l in &lb.listeners {
            if input
                .listener_ids
                .as_ref()
                .is_some_and(|ids| !ids.contains(&l.id))
            {
                continue;
            }
            let file_listener = file_lb
                .listeners
                .iter()
                .find(|m| m.id.as_deref() == Some(l.id.as_str()));
            let mut rules = Vec::new();
            for (di, d) in l.domains.iter().enumerate() {
                for (ri, r) in d.rules.iter().enumerate() {
                    if input
                        .location_ids
                        .as_ref()
                        .is_some_and(|ids| !ids.contains(&r.id))
                    {
                        continue;
                    }
                    let file_rule = file_listener
                        .and_then(|m| m.domains.get(di))
                        .and_then(|fd| fd.rules.get(ri));
                    let targets = r
                        .targets
                        .iter()
                        .enumerate()
                        .map(|(ti, t)| {
                            let rule_id: std::sync::Arc<str> = r.id.as_str().into();
                            let health = state
                                .health
                                .get(&(rule_id, t.addr))
                                .map_or(HealthState::Unknown, |h| h.state());
                            let target_id = file_rule
                                .and_then(|fr| fr.targets.get(ti))
                                .and_then(|ft| ft.instance.clone())
                                .unwrap_or_default();
                            let detail: &str = match health {
                                HealthState::Alive => "Alive",
                                HealthState::Dead => "Dead",
                                HealthState::Unknown => "Unknown",
                            };
                            TargetHealth {
                                ip: t.addr.ip().to_string(),
                                port: i64::from(t.addr.port()),
                                health_status: health == HealthState::Alive,
                                target_id,
                                health_status_detail: detail.into(),
                                health_status_detial: detail.into(),
                            }
                        })
                        .collect();
                    rules.push(RuleHealth {
                        location_id: r.id.clone(),
                        domain: d.name.clone(),
                        url: r.url.clone(),
                        targets,
                    });
                }
            }
            listeners.push(ListenerHealth {
                listener_id: l.id.clone(),
                listener_name: l.name.clone(),
                protocol: l.protocol.as_str().into(),
                port: i64::from(l.addr.port()),
                rules,
            });
        }
        out.push(LoadBalancerHealth {
            load_balancer_id: lb.id.clone(),
            load_balancer_name: lb.name.clone(),
            listeners,
        });
    }
    output(&Output {
        load_balancers: out,
    })
}

//! The actions: one file per group, each action a function from its typed
//! input to its output members. Writes go through
//! [`ConfigStore::write`](crate::admin::store::ConfigStore::write).

pub mod cert_input;
pub mod certificates;
pub mod common;
pub mod domains;
pub mod health;
pub mod listeners;
pub mod load_balancers;
pub mod rewrites;
pub mod rules;
pub mod targets;
pub mod tasks;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::certs::CertDir;
use super::error::{ApiError, Code};
use super::params::read;
use super::store::ConfigStore;
use super::tasks::TaskLog;
use crate::config::Config;
use crate::store::Store;

/// What every action works on.
#[derive(Debug)]
pub struct Api {
    /// The running configuration and its file.
    pub store: ConfigStore,
    /// Task ids of asynchronous actions.
    pub tasks: TaskLog,
}

impl Api {
    /// The API over the proxy and configuration store of `store`.
    pub fn new(store: Arc<Store>) -> Api {
        Api {
            store: ConfigStore::new(store),
            tasks: TaskLog::default(),
        }
    }
}

/// Where uploaded certificates of `config` are written.
pub fn cert_dir(config: &Config) -> CertDir {
    CertDir {
        resolved: config.global.state_dir.clone(),
        as_written: config.file.global.state_dir.clone(),
    }
}

/// Actions the product documents as asynchronous: their RequestId is a
/// task id for DescribeTaskStatus.
const ASYNC_ACTIONS: [&str; 18] = [
    "AutoRewrite",
    "BatchModifyTargetWeight",
    "CreateListener",
    "CreateLoadBalancer",
    "CreateRule",
    "DeleteListener",
    "DeleteLoadBalancer",
    "DeleteRewrite",
    "DeleteRule",
    "DeregisterTargets",
    "ManualRewrite",
    "ModifyDomain",
    "ModifyDomainAttributes",
    "ModifyListener",
    "ModifyRule",
    "ModifyTargetPort",
    "ModifyTargetWeight",
    "RegisterTargets",
];

/// Every action this API answers, in the README's order.
pub const ACTIONS: [&str; 32] = [
    "DescribeTaskStatus",
    "DescribeLoadBalancers",
    "CreateLoadBalancer",
    "DeleteLoadBalancer",
    "ModifyLoadBalancerAttributes",
    "CreateListener",
    "DescribeListeners",
    "ModifyListener",
    "DeleteListener",
    "CreateRule",
    "ModifyRule",
    "DeleteRule",
    "ModifyDomain",
    "ModifyDomainAttributes",
    "RegisterTargets",
    "DeregisterTargets",
    "DescribeTargets",
    "ModifyTargetWeight",
    "ModifyTargetPort",
    "BatchModifyTargetWeight",
    "BatchRegisterTargets",
    "BatchDeregisterTargets",
    "DescribeTargetHealth",
    "AutoRewrite",
    "ManualRewrite",
    "DeleteRewrite",
    "DescribeRewrite",
    "UpLoadCert",
    "DescribeCerts",
    "DeleteCert",
    "ReplaceCert",
    "ModifyCertAlias",
];

/// Runs `action` with `params` (the JSON shape of its input). An
/// asynchronous action that succeeds records `request_id` as a succeeded
/// task. Unknown action → `InvalidAction`.
pub async fn dispatch(
    api: &Api,
    action: &str,
    params: Value,
    request_id: &str,
) -> Result<Value, ApiError> {
    let output = match action {
        "DescribeTaskStatus" => tasks::describe_task_status(api, read(params)?),
        "DescribeLoadBalancers" => load_balancers::describe(api, read(params)?),
        "CreateLoadBalancer" => load_balancers::create(api, read(params)?).await,
        "DeleteLoadBalancer" => load_balancers::delete(api, read(params)?).await,
        "ModifyLoadBalancerAttributes" => load_balancers::modify(api, read(params)?).await,
        "CreateListener" => listeners::create(api, read(params)?).await,
        "DescribeListeners" => listeners::describe(api, read(params)?),
        "ModifyListener" => listeners::modify(api, read(params)?).await,
        "DeleteListener" => listeners::delete(api, read(params)?).await,
        "CreateRule" => rules::create(api, read(params)?).await,
        "ModifyRule" => rules::modify(api, read(params)?).await,
        "DeleteRule" => rules::delete(api, read(params)?).await,
        "ModifyDomain" => domains::modify_domain(api, read(params)?).await,
        "ModifyDomainAttributes" => domains::modify_domain_attributes(api, read(params)?).await,
        "RegisterTargets" => targets::register(api, read(params)?).await,
        "DeregisterTargets" => targets::deregister(api, read(params)?).await,
        "DescribeTargets" => targets::describe(api, read(params)?),
        "ModifyTargetWeight" => targets::modify_weight(api, read(params)?).await,
        "ModifyTargetPort" => targets::modify_port(api, read(params)?).await,
        "BatchModifyTargetWeight" => targets::batch_modify_weight(api, read(params)?).await,
        "BatchRegisterTargets" => targets::batch_register(api, read(params)?).await,
        "BatchDeregisterTargets" => targets::batch_deregister(api, read(params)?).await,
        "DescribeTargetHealth" => health::describe(api, read(params)?),
        "AutoRewrite" => rewrites::auto(api, read(params)?).await,
        "ManualRewrite" => rewrites::manual(api, read(params)?).await,
        "DeleteRewrite" => rewrites::delete(api, read(params)?).await,
        "DescribeRewrite" => rewrites::describe(api, read(params)?),
        "UpLoadCert" => certificates::upload(api, read(params)?).await,
        "DescribeCerts" => certificates::describe(api, read(params)?),
        "DeleteCert" => certificates::delete(api, read(params)?).await,
        "ReplaceCert" => certificates::replace(api, read(params)?).await,
        "ModifyCertAlias" => certificates::modify_alias(api, read(params)?).await,
        _ => Err(ApiError::new(
            Code::InvalidAction,
            format!("The action {action:?} does not exist (or is not supported by stgw)."),
        )),
    }?;
    if ASYNC_ACTIONS.contains(&action) {
        api.tasks.succeeded(request_id);
    }
    Ok(output)
}

/// An output structure as the members of `Response`.
pub fn output<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// No output members (only RequestId).
pub fn empty() -> Result<Value, ApiError> {
    Ok(Value::Object(Default::default()))
}

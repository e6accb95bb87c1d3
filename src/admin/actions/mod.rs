//! The actions: one file per group, each action a function from its typed
//! input to its output members. Writes go through
//! [`ConfigStore::write`](crate::admin::store::ConfigStore::write).

pub(crate) mod cert_input;
pub(crate) mod certificates;
pub(crate) mod common;
pub(crate) mod domains;
pub(crate) mod health;
pub(crate) mod listeners;
pub(crate) mod load_balancers;
pub(crate) mod rewrites;
pub(crate) mod rules;
pub(crate) mod targets;
pub(crate) mod tasks;

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

/// Every action this API answers, in the README's order: the names
/// [`decode`] knows (a unit test holds the two together).
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

/// One action with its decoded input: the table of what each action name
/// takes. A variant is named as its action and carries the typed input
/// that [`decode`] read from the action's parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `DescribeTaskStatus`.
    DescribeTaskStatus(tasks::DescribeTaskStatusInput),
    /// `DescribeLoadBalancers`.
    DescribeLoadBalancers(load_balancers::DescribeInput),
    /// `CreateLoadBalancer`.
    CreateLoadBalancer(load_balancers::CreateInput),
    /// `DeleteLoadBalancer`.
    DeleteLoadBalancer(load_balancers::DeleteInput),
    /// `ModifyLoadBalancerAttributes`.
    ModifyLoadBalancerAttributes(load_balancers::ModifyInput),
    /// `CreateListener`.
    CreateListener(listeners::CreateInput),
    /// `DescribeListeners`.
    DescribeListeners(listeners::DescribeInput),
    /// `ModifyListener`.
    ModifyListener(listeners::ModifyInput),
    /// `DeleteListener`.
    DeleteListener(listeners::DeleteInput),
    /// `CreateRule`.
    CreateRule(rules::CreateInput),
    /// `ModifyRule`.
    ModifyRule(rules::ModifyInput),
    /// `DeleteRule`.
    DeleteRule(rules::DeleteInput),
    /// `ModifyDomain`.
    ModifyDomain(domains::ModifyDomainInput),
    /// `ModifyDomainAttributes`.
    ModifyDomainAttributes(domains::ModifyDomainAttributesInput),
    /// `RegisterTargets`.
    RegisterTargets(targets::TargetsInput),
    /// `DeregisterTargets`.
    DeregisterTargets(targets::TargetsInput),
    /// `DescribeTargets`.
    DescribeTargets(targets::DescribeInput),
    /// `ModifyTargetWeight`.
    ModifyTargetWeight(targets::ModifyWeightInput),
    /// `ModifyTargetPort`.
    ModifyTargetPort(targets::ModifyPortInput),
    /// `BatchModifyTargetWeight`.
    BatchModifyTargetWeight(targets::BatchModifyWeightInput),
    /// `BatchRegisterTargets`.
    BatchRegisterTargets(targets::BatchTargetsInput),
    /// `BatchDeregisterTargets`.
    BatchDeregisterTargets(targets::BatchTargetsInput),
    /// `DescribeTargetHealth`.
    DescribeTargetHealth(health::DescribeTargetHealthInput),
    /// `AutoRewrite`.
    AutoRewrite(rewrites::AutoInput),
    /// `ManualRewrite`.
    ManualRewrite(rewrites::ManualInput),
    /// `DeleteRewrite` (it names rewrites as ManualRewrite does).
    DeleteRewrite(rewrites::ManualInput),
    /// `DescribeRewrite`.
    DescribeRewrite(rewrites::DescribeInput),
    /// `UpLoadCert`.
    UpLoadCert(certificates::UploadInput),
    /// `DescribeCerts`.
    DescribeCerts(certificates::DescribeInput),
    /// `DeleteCert`.
    DeleteCert(certificates::DeleteInput),
    /// `ReplaceCert`.
    ReplaceCert(certificates::ReplaceInput),
    /// `ModifyCertAlias`.
    ModifyCertAlias(certificates::ModifyAliasInput),
}

impl Call {
    /// Whether the action changes state (every action but the queries):
    /// its RequestId is then a task id for DescribeTaskStatus. The product
    /// marks seventeen actions asynchronous, but DescribeTaskStatus's own
    /// page tells callers to follow every non-query action with it, and
    /// clients do (after ModifyLoadBalancerAttributes or
    /// BatchRegisterTargets, say).
    pub fn changes_state(&self) -> bool {
        use Call::*;
        !matches!(
            self,
            DescribeTaskStatus(_)
                | DescribeLoadBalancers(_)
                | DescribeListeners(_)
                | DescribeTargets(_)
                | DescribeTargetHealth(_)
                | DescribeRewrite(_)
                | DescribeCerts(_)
        )
    }
}

/// Reads `params` (the JSON shape of the action's input) as the input of
/// `action`, without running anything. An unknown action is
/// `InvalidAction` (whatever `params` are); otherwise the errors are those
/// of reading the input ([`read`]): `MissingParameter`,
/// `UnknownParameter`, `InvalidParameter.FormatError`.
pub fn decode(action: &str, params: Value) -> Result<Call, ApiError> {
    use Call::*;
    let call = match action {
        "DescribeTaskStatus" => DescribeTaskStatus(read(params)?),
        "DescribeLoadBalancers" => DescribeLoadBalancers(read(params)?),
        "CreateLoadBalancer" => CreateLoadBalancer(read(params)?),
        "DeleteLoadBalancer" => DeleteLoadBalancer(read(params)?),
        "ModifyLoadBalancerAttributes" => ModifyLoadBalancerAttributes(read(params)?),
        "CreateListener" => CreateListener(read(params)?),
        "DescribeListeners" => DescribeListeners(read(params)?),
        "ModifyListener" => ModifyListener(read(params)?),
        "DeleteListener" => DeleteListener(read(params)?),
        "CreateRule" => CreateRule(read(params)?),
        "ModifyRule" => ModifyRule(read(params)?),
        "DeleteRule" => DeleteRule(read(params)?),
        "ModifyDomain" => ModifyDomain(read(params)?),
        "ModifyDomainAttributes" => ModifyDomainAttributes(read(params)?),
        "RegisterTargets" => RegisterTargets(read(params)?),
        "DeregisterTargets" => DeregisterTargets(read(params)?),
        "DescribeTargets" => DescribeTargets(read(params)?),
        "ModifyTargetWeight" => ModifyTargetWeight(read(params)?),
        "ModifyTargetPort" => ModifyTargetPort(read(params)?),
        "BatchModifyTargetWeight" => BatchModifyTargetWeight(read(params)?),
        "BatchRegisterTargets" => BatchRegisterTargets(read(params)?),
        "BatchDeregisterTargets" => BatchDeregisterTargets(read(params)?),
        "DescribeTargetHealth" => DescribeTargetHealth(read(params)?),
        "AutoRewrite" => AutoRewrite(read(params)?),
        "ManualRewrite" => ManualRewrite(read(params)?),
        "DeleteRewrite" => DeleteRewrite(read(params)?),
        "DescribeRewrite" => DescribeRewrite(read(params)?),
        "UpLoadCert" => UpLoadCert(read(params)?),
        "DescribeCerts" => DescribeCerts(read(params)?),
        "DeleteCert" => DeleteCert(read(params)?),
        "ReplaceCert" => ReplaceCert(read(params)?),
        "ModifyCertAlias" => ModifyCertAlias(read(params)?),
        _ => {
            return Err(ApiError::new(
                Code::InvalidAction,
                format!("The action {action:?} does not exist (or is not supported by stgw)."),
            ));
        }
    };
    Ok(call)
}

/// Runs `action` with `params` (the JSON shape of its input): [`decode`],
/// then the action. An action that changes state
/// ([`Call::changes_state`]) and succeeds records `request_id` as a
/// succeeded task. Unknown action →
/// `InvalidAction`; parameters that do not read → the error of [`decode`],
/// and nothing runs.
pub async fn dispatch(
    api: &Api,
    action: &str,
    params: Value,
    request_id: &str,
) -> Result<Value, ApiError> {
    let call = decode(action, params)?;
    let changes_state = call.changes_state();
    let output = match call {
        Call::DescribeTaskStatus(input) => tasks::describe_task_status(api, input),
        Call::DescribeLoadBalancers(input) => load_balancers::describe(api, input),
        Call::CreateLoadBalancer(input) => load_balancers::create(api, input).await,
        Call::DeleteLoadBalancer(input) => load_balancers::delete(api, input).await,
        Call::ModifyLoadBalancerAttributes(input) => load_balancers::modify(api, input).await,
        Call::CreateListener(input) => listeners::create(api, input).await,
        Call::DescribeListeners(input) => listeners::describe(api, input),
        Call::ModifyListener(input) => listeners::modify(api, input).await,
        Call::DeleteListener(input) => listeners::delete(api, input).await,
        Call::CreateRule(input) => rules::create(api, input).await,
        Call::ModifyRule(input) => rules::modify(api, input).await,
        Call::DeleteRule(input) => rules::delete(api, input).await,
        Call::ModifyDomain(input) => domains::modify_domain(api, input).await,
        Call::ModifyDomainAttributes(input) => domains::modify_domain_attributes(api, input).await,
        Call::RegisterTargets(input) => targets::register(api, input).await,
        Call::DeregisterTargets(input) => targets::deregister(api, input).await,
        Call::DescribeTargets(input) => targets::describe(api, input),
        Call::ModifyTargetWeight(input) => targets::modify_weight(api, input).await,
        Call::ModifyTargetPort(input) => targets::modify_port(api, input).await,
        Call::BatchModifyTargetWeight(input) => targets::batch_modify_weight(api, input).await,
        Call::BatchRegisterTargets(input) => targets::batch_register(api, input).await,
        Call::BatchDeregisterTargets(input) => targets::batch_deregister(api, input).await,
        Call::DescribeTargetHealth(input) => health::describe(api, input),
        Call::AutoRewrite(input) => rewrites::auto(api, input).await,
        Call::ManualRewrite(input) => rewrites::manual(api, input).await,
        Call::DeleteRewrite(input) => rewrites::delete(api, input).await,
        Call::DescribeRewrite(input) => rewrites::describe(api, input),
        Call::UpLoadCert(input) => certificates::upload(api, input).await,
        Call::DescribeCerts(input) => certificates::describe(api, input),
        Call::DeleteCert(input) => certificates::delete(api, input).await,
        Call::ReplaceCert(input) => certificates::replace(api, input).await,
        Call::ModifyCertAlias(input) => certificates::modify_alias(api, input).await,
    }?;
    if changes_state {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What reading an input (not the action name) may fail with.
    fn is_parameter_error(code: Code) -> bool {
        matches!(
            code,
            Code::MissingParameter | Code::UnknownParameter | Code::FormatError
        )
    }

    #[test]
    fn every_listed_action_decodes_its_own_input() {
        for action in ACTIONS {
            match decode(action, json!({})) {
                Ok(_) => {}
                Err(e) => assert!(
                    is_parameter_error(e.code),
                    "{action} with {{}}: {:?} {}",
                    e.code,
                    e.message
                ),
            }
            // A parameter no input takes is refused: the action's own
            // input was read, not skipped.
            let Err(e) = decode(action, json!({"NoSuchParameter": 1})) else {
                panic!("{action} took an unknown parameter");
            };
            assert!(
                is_parameter_error(e.code),
                "{action}: {:?} {}",
                e.code,
                e.message
            );
            // Parameters that are not an object are a format error.
            let Err(e) = decode(action, json!([])) else {
                panic!("{action} took an array for its parameters");
            };
            assert_eq!(e.code, Code::FormatError, "{action}: {}", e.message);
        }
    }

    #[test]
    fn an_unknown_action_is_invalid_action_whatever_the_parameters() {
        for params in [json!({}), json!([]), json!({"LoadBalancerId": "lb-1"})] {
            let e = decode("NoSuchAction", params).expect_err("NoSuchAction decoded");
            assert_eq!(e.code, Code::InvalidAction);
            assert!(e.message.contains("\"NoSuchAction\""), "{}", e.message);
        }
        // Names are matched exactly.
        let e = decode("createlistener", json!({})).expect_err("decoded");
        assert_eq!(e.code, Code::InvalidAction);
    }

    #[test]
    fn actions_sharing_an_input_decode_to_their_own_call() {
        let params = json!({"LoadBalancerId": "lb-1", "ListenerId": "lbl-1", "Targets": []});
        assert!(matches!(
            decode("RegisterTargets", params.clone()),
            Ok(Call::RegisterTargets(_))
        ));
        assert!(matches!(
            decode("DeregisterTargets", params),
            Ok(Call::DeregisterTargets(_))
        ));
    }
}

//! DescribeTaskStatus.

use serde::Serialize;
use serde_json::Value;

use super::{Api, output};
use crate::admin::error::{ApiError, Code};
use crate::admin::params::input;

input! {
    /// DescribeTaskStatus input.
    pub struct DescribeTaskStatusInput {
        /// The RequestId of an asynchronous action.
        task_id: opt String = "TaskId",
        /// Billing order (not supported).
        deal_name: opt String = "DealName",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeTaskStatusOutput {
    status: i64,
}

/// The status of a task: 0 (succeeded) for every task id an asynchronous
/// action returned (stgw applies writes before answering); an unknown id
/// is `InvalidParameter` (the action's own error list has no other fit).
pub(crate) fn describe_task_status(
    api: &Api,
    input: DescribeTaskStatusInput,
) -> Result<Value, ApiError> {
    if input.deal_name.is_some() {
        return Err(ApiError::new(
            Code::UnsupportedOperation,
            "DealName: stgw has no billing orders; give TaskId",
        ));
    }
    let Some(id) = input.task_id else {
        return Err(ApiError::missing("TaskId"));
    };
    match api.tasks.status(&id) {
        Some(status) => output(&DescribeTaskStatusOutput {
            status: status as i64,
        }),
        None => Err(ApiError::invalid(
            "TaskId",
            format!("no task has id {id:?} (task ids are kept until a restart)"),
        )),
    }
}

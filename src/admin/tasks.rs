//! The task ids of asynchronous actions, for DescribeTaskStatus.
//!
//! stgw applies every write before it answers, so a task is finished
//! (succeeded) when its RequestId is handed out. The log is kept in memory
//! and bounded: ids from before a restart, or older than the last
//! [`TASKS_KEPT`] writes, are unknown.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// How many task ids are remembered.
pub(crate) const TASKS_KEPT: usize = 10_000;

/// The product's task status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// 0: succeeded.
    Succeeded = 0,
}

/// Task ids handed out by asynchronous actions.
#[derive(Debug, Default)]
pub struct TaskLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl TaskLog {
    /// Records that the task `id` succeeded.
    pub fn succeeded(&self, id: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.ids.insert(id.to_owned()) {
            inner.order.push_back(id.to_owned());
        }
        while inner.order.len() > TASKS_KEPT {
            if let Some(old) = inner.order.pop_front() {
                inner.ids.remove(&old);
            }
        }
    }

    /// The status of task `id`, or `None` when it is unknown.
    pub fn status(&self, id: &str) -> Option<TaskStatus> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.ids.contains(id).then_some(TaskStatus::Succeeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_ids_only() {
        let log = TaskLog::default();
        log.succeeded("a");
        assert_eq!(log.status("a"), Some(TaskStatus::Succeeded));
        assert_eq!(log.status("b"), None);
        for i in 0..TASKS_KEPT {
            log.succeeded(&i.to_string());
        }
        assert_eq!(log.status("a"), None);
        assert!(log.status("0").is_some());
    }
}

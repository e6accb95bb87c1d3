//! Long synchronous work (validating, compiling and serialising a large
//! configuration) without starving the proxy.
//!
//! A tokio worker that runs seconds of CPU cannot poll the tasks queued on
//! it: a connection woken into its run queue waits for the whole change
//! (seen as 8-10 s stalls of proxied requests while an API write compiled
//! 100,000 rules). [`off_worker`] hands the worker's queue to another
//! thread for the duration, as `tokio::task::block_in_place` does.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `work` to its end on this thread, having first handed this tokio
/// worker's queued tasks to another thread when there is a multi-threaded
/// runtime to hand them to; elsewhere (a current-thread runtime, no
/// runtime) it simply runs `work`.
pub fn off_worker<T>(work: impl FnOnce() -> T) -> T {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// Spins until `flag` is set or `limit` passes; whether it was set (tests
/// of work that holds its thread).
#[cfg(test)]
pub(crate) fn wait_for(flag: &std::sync::atomic::AtomicBool, limit: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if flag.load(std::sync::atomic::Ordering::Acquire) {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn other_tasks_run_while_the_only_worker_is_busy() {
        // On the only worker (the test body itself runs on another thread).
        let seen = tokio::spawn(async {
            let ran = Arc::new(AtomicBool::new(false));
            let flag = ran.clone();
            // Queued on this worker: it can run only if the worker hands
            // its queue over while `off_worker` holds the thread.
            tokio::spawn(async move { flag.store(true, Ordering::Release) });
            off_worker(|| wait_for(&ran, Duration::from_secs(20)))
        })
        .await
        .expect("the task ran");
        assert!(seen, "a queued task was starved while off_worker ran");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runs_inline_on_a_current_thread_runtime() {
        assert_eq!(off_worker(|| 7), 7);
    }

    #[test]
    fn runs_inline_outside_a_runtime() {
        assert_eq!(off_worker(|| "done"), "done");
    }
}

//! The one path every API write takes: edit the file model, validate it,
//! publish it through the configuration store, answer.
//!
//! * Writers are serialised by one lock ([`Runtime::changes`]), shared
//!   with SIGHUP reloads and with changes arriving from a shared store, so
//!   two changes never edit the same base on one node.
//! * The edited model is validated exactly like the file
//!   ([`Config::from_model_after`], which takes the regexes the edit did
//!   not touch from the running configuration); a refused edit changes
//!   nothing.
//! * It is published with [`Store::publish`]: applied with
//!   [`Runtime::apply`], the snapshot swap a reload uses (no connection is
//!   dropped), then stored: written over the configuration file
//!   atomically, or committed to etcd in a transaction that compares the
//!   revision this node runs. If applying fails (a port cannot be bound)
//!   nothing is stored; if storing fails the running configuration is
//!   rolled back, so the store and the proxy agree.
//! * When another node wrote first (etcd), this node runs the store's
//!   latest configuration and the edit is made again on it, so concurrent
//!   writes on different nodes never lose one another.
//!
//! Only then does the action answer, so an acknowledged write survives a
//! crash (`kill -9`) at any later moment.

use std::sync::Arc;

use super::error::{ApiError, Code};
use crate::config::{Config, ConfigFile};
use crate::runtime::{Runtime, off_worker};
use crate::store::{PublishError, Store};

/// How many times an edit is made again after losing a race with another
/// node's write before the call gives up.
const ATTEMPTS: usize = 10;

/// The configuration as the API sees it: the running proxy and its store.
#[derive(Debug)]
pub struct ConfigStore {
    store: Arc<Store>,
}

impl ConfigStore {
    /// The API's view of `store`.
    pub fn new(store: Arc<Store>) -> ConfigStore {
        ConfigStore { store }
    }

    /// The running proxy.
    pub fn runtime(&self) -> &Arc<Runtime> {
        self.store.runtime()
    }

    /// The configuration store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The configuration serving now.
    pub fn current(&self) -> Arc<Config> {
        self.runtime().snapshot().config.clone()
    }

    /// Runs `edit` on a copy of the running file model (ids filled in) and
    /// makes the result the running and stored configuration, as the
    /// module documentation describes. `edit` may run more than once (on
    /// a fresher base each time). Returns what its last run returned; on
    /// any error nothing changed.
    pub async fn write<T>(
        &self,
        mut edit: impl FnMut(&mut ConfigFile, &Config) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        for _ in 0..ATTEMPTS {
            let serial = self.runtime().changes().clone().lock_owned().await;
            if self.runtime().was_handed_over() {
                return Err(ApiError::new(
                    Code::FailedOperation,
                    "This process has handed over to a newer one (a binary upgrade) and takes no more changes; nothing was changed. Send the call again: it reaches the new process.",
                ));
            }
            let current = self.current();
            // Copying, editing and validating a large model takes seconds:
            // off the worker, so proxied traffic is not held up meanwhile.
            let (out, next) = off_worker(|| {
                let mut file = current.file.clone();
                let out = edit(&mut file, &current)?;
                let next = Config::from_model_after(file, &current.path, &current)?;
                Ok::<_, ApiError>((out, next))
            })?;
            // Published on a task of its own, which holds the lock to the
            // end: a client that goes away drops this future, and the
            // change must still be persisted (or rolled back) before the
            // next one starts.
            let store = self.store.clone();
            let published = tokio::spawn(async move {
                let _serial = serial;
                store.publish(current, next).await
            })
            .await;
            match published {
                Ok(Ok(())) => return Ok(out),
                Ok(Err(PublishError::Conflict)) => continue,
                Ok(Err(e)) => return Err(publish_error(e)),
                Err(e) => return Err(ApiError::internal(format!("the change was cut short: {e}"))),
            }
        }
        Err(ApiError::new(
            Code::FailedOperation,
            format!(
                "the shared configuration kept changing on other nodes ({ATTEMPTS} attempts); nothing was changed, try again"
            ),
        ))
    }
}

/// The API's answer to a failed publication.
fn publish_error(e: PublishError) -> ApiError {
    match e {
        PublishError::Invalid(e) => ApiError::from(e),
        PublishError::Apply(e) => ApiError::from(e),
        PublishError::Unavailable(e) => {
            tracing::warn!("API write refused: {e}");
            ApiError::new(
                Code::FailedOperation,
                "The configuration store (etcd) cannot be reached; nothing was changed. Try again when it is back.",
            )
        }
        PublishError::Conflict | PublishError::Persist(_) => ApiError::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::wait_for;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// A running proxy with no load balancer, its file in a fresh folder.
    fn empty_store(test: &str) -> ConfigStore {
        let dir = std::env::temp_dir().join(format!("stgw-store-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let path = dir.join("stgw.toml");
        std::fs::write(
            &path,
            "[global]\naccess_log = \"off\"\nstate_dir = \"var\"\n",
        )
        .expect("config file");
        let config = Config::load(&path).expect("valid config");
        let runtime = Runtime::start(config).expect("runtime starts");
        ConfigStore::new(Arc::new(Store::file(runtime)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn tasks_queued_on_the_worker_run_while_an_edit_is_validated() {
        // The API call runs on the only worker, as a connection task would.
        let seen = tokio::spawn(async {
            let store = empty_store("edit-off-worker");
            let ran = Arc::new(AtomicBool::new(false));
            let flag = ran.clone();
            // A proxied connection's task, queued behind the API call.
            tokio::spawn(async move { flag.store(true, Ordering::Release) });
            // An edit as slow as one of a very large model: it finishes
            // only once the queued task has run.
            store
                .write(|_, _| Ok(wait_for(&ran, Duration::from_secs(20))))
                .await
        })
        .await
        .expect("the task ran");
        assert!(
            seen.expect("the write succeeds"),
            "a task queued on the worker was starved while the edit ran"
        );
    }
}

//! The one path every API write takes: edit the file model, validate it,
//! apply it to the running proxy, persist it, answer.
//!
//! * Writers are serialised by one lock, so two concurrent calls never
//!   edit the same base.
//! * The edited model is validated exactly like the file
//!   ([`Config::from_model`]); a refused edit changes nothing.
//! * It is applied with [`Runtime::apply`], the snapshot swap a reload
//!   uses: no connection is dropped. If applying fails (a port cannot be
//!   bound) nothing is persisted.
//! * It is then written over the configuration file atomically
//!   ([`write_atomic`]); if that fails the running configuration is rolled
//!   back to the previous one, so the file and the proxy agree.
//!
//! Only then does the action answer, so an acknowledged write survives a
//! crash (`kill -9`) at any later moment.

use std::path::PathBuf;
use std::sync::Arc;

use super::error::ApiError;
use super::persist::write_atomic;
use crate::config::{Config, ConfigFile};
use crate::runtime::Runtime;

/// The first line of a file written by the API.
const HEADER: &str =
    "# stgw configuration, last written by the management API (comments are not kept).\n\n";

/// The configuration as the API sees it: the running proxy and its file.
#[derive(Debug)]
pub struct ConfigStore {
    runtime: Arc<Runtime>,
}

impl ConfigStore {
    /// A store over `runtime`, whose configuration file is the one it
    /// was started (or last reloaded) from.
    pub fn new(runtime: Arc<Runtime>) -> ConfigStore {
        ConfigStore { runtime }
    }

    /// The running proxy.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The configuration serving now.
    pub fn current(&self) -> Arc<Config> {
        self.runtime.snapshot().config.clone()
    }

    /// Runs `edit` on a copy of the running file model (ids filled in) and
    /// makes the result the running and persisted configuration, as the
    /// module documentation describes. Returns what `edit` returned; on any
    /// error nothing changed.
    pub async fn write<T>(
        &self,
        edit: impl FnOnce(&mut ConfigFile, &Config) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let _serial = self.runtime.changes().lock().await;
        let current = self.current();
        let mut file = current.file.clone();
        let out = edit(&mut file, &current)?;
        let next = Config::from_model(file, &current.path)?;
        let text = toml::to_string(&next.file).map_err(ApiError::internal)?;
        let path: PathBuf = current.path.clone();
        self.runtime.apply(next)?;
        let persisted = tokio::task::spawn_blocking(move || {
            write_atomic(&path, format!("{HEADER}{text}").as_bytes(), 0o600)
        })
        .await;
        let failure = match persisted {
            Ok(Ok(())) => return Ok(out),
            Ok(Err(e)) => format!("cannot write {}: {e}", current.path.display()),
            Err(e) => format!(
                "the write of {} did not finish: {e}",
                current.path.display()
            ),
        };
        if let Err(e) = self.runtime.apply((*current).clone()) {
            tracing::error!("rollback after a failed write also failed: {e}");
        }
        Err(ApiError::internal(failure))
    }
}

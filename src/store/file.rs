//! The file store: the configuration file is the whole configuration.
//! A published change is applied, then written over the file atomically
//! (temporary file, fsync, rename, fsync of the folder); if writing fails
//! the running configuration is rolled back, so the file and the proxy
//! agree.

use std::sync::Arc;

use super::{Backend, BoxFuture, PublishError, StoreError};
use crate::admin::persist::write_atomic;
use crate::config::Config;
use crate::config::model::StoreKind;
use crate::runtime::Runtime;

/// The first line of a file written by the API.
const HEADER: &str =
    "# stgw configuration, last written by the management API (comments are not kept).\n\n";

/// The configuration file as the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileBackend;

impl Backend for FileBackend {
    fn kind(&self) -> StoreKind {
        StoreKind::File
    }

    fn publish<'a>(
        &'a self,
        runtime: &'a Runtime,
        current: Arc<Config>,
        next: Config,
    ) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let text = toml::to_string(&next.file)
                .map_err(|e| PublishError::Persist(format!("cannot write the file model: {e}")))?;
            let path = current.path.clone();
            runtime.apply(next)?;
            let persisted = tokio::task::spawn_blocking(move || {
                write_atomic(&path, format!("{HEADER}{text}").as_bytes(), 0o600)
            })
            .await;
            let failure = match persisted {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => format!("cannot write {}: {e}", current.path.display()),
                Err(e) => format!(
                    "the write of {} did not finish: {e}",
                    current.path.display()
                ),
            };
            if let Err(e) = runtime.apply((*current).clone()) {
                tracing::error!("rollback after a failed write also failed: {e}");
            }
            Err(PublishError::Persist(failure))
        })
    }

    fn reload<'a>(&'a self, runtime: &'a Runtime) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(runtime.reload()?) })
    }
}

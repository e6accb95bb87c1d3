//! The file store: the configuration file is the whole configuration.
//! A published change is written beside the file and fsynced first (a
//! full disk or a read-only folder refuses it before anything changed),
//! then applied, then renamed over the file (fsync of the folder); if the
//! rename fails the running configuration is rolled back, so the file and
//! the proxy agree.

use std::path::Path;
use std::sync::Arc;

use super::{Backend, BoxFuture, PublishError, StoreError};
use crate::admin::persist::StagedFile;
use crate::config::Config;
use crate::config::model::StoreKind;
use crate::runtime::{Runtime, off_worker};

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
            let mut next = next;
            // Taken, not kept: the running configuration need not hold a
            // copy of the file (megabytes for 100,000 rules).
            let text = match next.model_text.take() {
                Some(text) => text.as_str().to_owned(),
                None => off_worker(|| toml::to_string(&next.file)).map_err(|e| {
                    PublishError::Persist(format!("cannot write the file model: {e}"))
                })?,
            };
            let path = current.path.clone();
            let staged = on_disk(&current.path, move || {
                StagedFile::write(&path, format!("{HEADER}{text}").as_bytes(), 0o600)
            })
            .await
            .map_err(PublishError::Persist)?;
            runtime.apply(next)?;
            if let Err(failure) = on_disk(&current.path, move || staged.commit()).await {
                if let Err(e) = runtime.apply((*current).clone()) {
                    tracing::error!("rollback after a failed write also failed: {e}");
                }
                return Err(PublishError::Persist(failure));
            }
            Ok(())
        })
    }

    fn reload<'a>(&'a self, runtime: &'a Runtime) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(runtime.reload()?) })
    }
}

/// Runs the file operation `op` on `path` off the runtime; its error as a
/// message naming the file.
async fn on_disk<T: Send + 'static>(
    path: &Path,
    op: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(op).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(format!("cannot write {}: {e}", path.display())),
        Err(e) => Err(format!(
            "the write of {} did not finish: {e}",
            path.display()
        )),
    }
}

//! Process signals: SIGHUP reloads, SIGUSR1 reopens the access log,
//! SIGTERM and SIGINT drain and exit.

use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

use crate::store::Store;

/// Handles signals until the process should exit; returns its exit code.
/// SIGHUP reloads through `store` (the node's file, with the shared
/// configuration where that lives in etcd).
pub async fn run(store: Arc<Store>) -> ExitCode {
    let runtime = store.runtime().clone();
    let (Ok(mut hup), Ok(mut term), Ok(mut int), Ok(mut usr1)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined1()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                match store.reload().await {
                    Ok(()) => tracing::info!("configuration reloaded"),
                    Err(e) => tracing::error!("reload refused, the running configuration stays:\n{e}"),
                }
            }
            _ = usr1.recv() => runtime.reopen_access_log(),
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = runtime.handed_over() => break,
        }
    }
    let timeout = runtime.snapshot().config.global.drain_timeout;
    tracing::info!(connections = runtime.connections(), ?timeout, "draining");
    let left = runtime.shutdown(timeout).await;
    if left > 0 {
        tracing::warn!(connections = left, "drain timeout passed; closing the rest");
    }
    ExitCode::SUCCESS
}

//! Following the prefix: every change of the shared configuration is
//! applied, rotated ticket keys are taken on, and an outage is survived.
//!
//! Each round opens a watch on the prefix, waits until etcd has created
//! it, and only then reads the configuration, so no change can fall
//! between the read and the watch. A watch that fails (etcd stopped, the
//! network cut, keep-alive pings unanswered) marks the store unreachable;
//! rounds are retried with a growing delay (up to [`MAX_RETRY`]) until
//! etcd answers, and the first read of a new round is the catch-up.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::Inner;
use super::client::{CONFIG_KEY, TICKETS_KEY};
use crate::runtime::Runtime;
use crate::store::StoreError;

/// The first delay before a new round after a failure.
const MIN_RETRY: Duration = Duration::from_millis(200);
/// The longest delay between two rounds.
pub(super) const MAX_RETRY: Duration = Duration::from_secs(2);
/// How often the shared TLS ticket keys are checked for rotation.
const TICKET_CHECK: Duration = Duration::from_secs(600);

/// Follows the store until the runtime is gone.
pub(super) async fn follow(inner: Arc<Inner>, runtime: Weak<Runtime>) {
    let mut delay = MIN_RETRY;
    loop {
        match round(&inner, &runtime, &mut delay).await {
            Ok(()) => return,
            Err(e) => {
                let Some(rt) = runtime.upgrade() else { return };
                inner.unreachable(&rt, &e);
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RETRY);
    }
}

/// One watch, from its creation to its failure. `Ok` once the runtime is
/// gone. `delay` is reset once the round is established.
async fn round(
    inner: &Inner,
    runtime: &Weak<Runtime>,
    delay: &mut Duration,
) -> Result<(), StoreError> {
    let mut stream = inner.client.watch().await?;
    match stream.message().await? {
        Some(resp) if resp.created() => {}
        Some(resp) => return Err(StoreError::WatchEnded(resp.cancel_reason().to_owned())),
        None => return Err(StoreError::WatchEnded("closed at creation".into())),
    }
    let Some(rt) = runtime.upgrade() else {
        return Ok(());
    };
    catch_up(inner, &rt).await?;
    inner.sync_secrets(&rt).await?;
    inner.reachable(&rt);
    drop(rt);
    *delay = MIN_RETRY;
    let config_key = inner.client.key(CONFIG_KEY);
    let tickets_key = inner.client.key(TICKETS_KEY);
    let mut rotation = tokio::time::interval(TICKET_CHECK);
    loop {
        tokio::select! {
            message = stream.message() => {
                let resp = message?.ok_or_else(|| StoreError::WatchEnded("closed by etcd".into()))?;
                if resp.canceled() {
                    return Err(StoreError::WatchEnded(resp.cancel_reason().to_owned()));
                }
                let Some(rt) = runtime.upgrade() else { return Ok(()) };
                let mut config_changed = false;
                for event in resp.events() {
                    let Some(kv) = event.kv() else { continue };
                    let key = kv.key_str().unwrap_or_default();
                    if key == config_key {
                        config_changed = true;
                    } else if key == tickets_key
                        && let Ok(text) = kv.value_str()
                        && !text.is_empty()
                    {
                        inner.tickets_changed(&rt, text);
                    }
                }
                if config_changed {
                    catch_up(inner, &rt).await?;
                }
            }
            _ = rotation.tick() => inner.rotate_tickets_if_due().await?,
        }
    }
}

/// Reads the configuration and applies it if it is not the one running.
/// Only an unreachable etcd is an error: a revision this node cannot run
/// (invalid with its node-local sections, a port it cannot bind) is
/// logged and shown in the store status, and the node keeps the
/// configuration it runs.
async fn catch_up(inner: &Inner, runtime: &Runtime) -> Result<(), StoreError> {
    let _serial = runtime.changes().lock().await;
    let latest = inner.client.read().await?;
    let revision = latest.revision;
    match inner.install(runtime, latest).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_unreachable() => Err(e),
        Err(e) => {
            tracing::error!(
                revision,
                "cannot run the shared configuration from etcd, keeping the one running: {e}"
            );
            runtime
                .store_status()
                .set_apply_error(format!("revision {revision}: {e}"));
            Ok(())
        }
    }
}

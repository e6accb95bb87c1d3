//! The etcd store: the shared configuration under a key prefix (layout in
//! [`crate::store`]), followed by every node.
//!
//! * At start the node reads the configuration, copies the PEM contents it
//!   names into `state_dir/store/pem/`, reads (or creates, once) the
//!   sticky secret and the TLS ticket keys, and starts. When etcd cannot
//!   be reached it starts from its cache ([`crate::store::cache`]) if it
//!   has one, and says so.
//! * [`watch`] follows the prefix: each new revision is applied through
//!   [`Runtime::apply`]; while etcd is unreachable the node serves its last
//!   good configuration, logs it once, shows it in
//!   [`Runtime::store_status`], and catches up when etcd is back.
//! * An API write ([`Backend::publish`]) is applied, then committed in a
//!   transaction comparing the configuration's revision with the one this
//!   node runs; if another node wrote first, the node runs the store's
//!   latest and the write is retried on it by the caller.

pub mod client;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use client::{Commit, EtcdClient, Revision, STICKY_KEY, TICKETS_KEY};

use super::cache::{Cache, Cached};
use super::shared::{PemDir, SharedConfig, extract, has_shared_sections, merge};
use super::{Backend, BoxFuture, DEFAULT_PREFIX, PublishError, StoreError};
use crate::config::model::{ConfigFile, StoreKind};
use crate::config::{Config, model};
use crate::runtime::Runtime;
use crate::runtime::snapshot::State;
use crate::tls::TicketKeys;

/// The etcd store of one node.
#[derive(Debug)]
pub struct EtcdBackend {
    inner: Arc<Inner>,
    follower: tokio::task::JoinHandle<()>,
}

impl Drop for EtcdBackend {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// The secrets every node shares, as the store holds them.
#[derive(Debug, Clone)]
struct Secrets {
    /// Sticky-cookie key, hex.
    sticky: String,
    /// TLS ticket keys, text form.
    tickets: String,
}

/// What the backend and its follower share.
#[derive(Debug)]
struct Inner {
    client: EtcdClient,
    /// The node's configuration file.
    path: PathBuf,
    /// Its node-local sections (shared sections empty).
    local: Mutex<ConfigFile>,
    pems: PemDir,
    cache: Cache,
    /// The shared configuration this node runs, and its revision.
    applied: Mutex<Revision>,
    secrets: Mutex<Secrets>,
    /// Where the API writes uploaded certificates (`state_dir/certs`):
    /// once their contents are in the store these copies are removed.
    upload_dir: PathBuf,
}

/// Connects to the etcd of `config`'s `[store]` and starts the proxy with
/// the shared configuration found there (see the module documentation).
pub async fn start(
    config: Config,
    inherited: HashMap<SocketAddr, std::net::TcpListener>,
) -> Result<(Arc<Runtime>, Arc<dyn Backend>), StoreError> {
    let prefix = prefix_of(&config.file.store);
    if has_shared_sections(&config.file) {
        tracing::warn!(
            "{}: with [store] kind = \"etcd\" this file's certificate, instance and load_balancer sections are ignored: the shared configuration is read from etcd (`stgw store import` writes a file's into it)",
            config.path.display()
        );
    }
    let client = EtcdClient::connect(&config.file.store.endpoints, &prefix).await?;
    let state_dir = &config.global.state_dir;
    crate::admin::persist::private_dir(state_dir).map_err(|source| StoreError::Local {
        path: state_dir.clone(),
        source,
    })?;
    let pems = PemDir::new(state_dir)?;
    let cache = Cache::new(state_dir);
    let (revision, secrets, reachable) = match first_read(&client, &pems).await {
        Ok((revision, secrets)) => (revision, secrets, true),
        Err(e) if e.is_unreachable() => {
            let Some(cached) = cache.load(&prefix) else {
                return Err(StoreError::NoStartingPoint {
                    prefix,
                    source: Box::new(e),
                });
            };
            tracing::warn!(
                revision = cached.revision,
                "etcd is unreachable ({e}): starting from the configuration this node cached; it follows etcd again once etcd answers"
            );
            let shared = SharedConfig::parse(&cached.config, "the cached configuration")?;
            let revision = Revision {
                revision: cached.revision,
                shared,
            };
            let secrets = Secrets {
                sticky: cached.sticky,
                tickets: cached.tickets,
            };
            (revision, secrets, false)
        }
        Err(e) => return Err(e),
    };
    if revision.revision == 0 {
        tracing::warn!(
            "etcd holds no configuration under {prefix}{}: starting with none (`stgw store import` writes one)",
            client::CONFIG_KEY
        );
    }
    let local = local_sections(&config.file);
    let merged = Config::from_model(merge(&local, &revision.shared, &pems), &config.path)?;
    for w in &merged.warnings {
        tracing::warn!("{w}");
    }
    let sticky = from_hex(&secrets.sticky).ok_or_else(|| StoreError::Corrupt {
        key: client.key(STICKY_KEY),
        message: "not a hex secret".into(),
    })?;
    let state = State::with_secrets(TicketKeys::shared(&secrets.tickets)?, sticky);
    let runtime = Runtime::start_with_state(merged, inherited, state)?;
    runtime.store_status().set_revision(revision.revision);
    runtime.store_status().set_healthy(reachable);
    let inner = Arc::new(Inner {
        client,
        path: config.path.clone(),
        local: Mutex::new(local),
        pems,
        cache,
        applied: Mutex::new(revision),
        secrets: Mutex::new(secrets),
        upload_dir: config.global.state_dir.join("certs"),
    });
    if reachable {
        inner.save_cache();
    }
    tracing::info!(
        prefix = %inner.client.prefix(),
        revision = runtime.store_status().revision(),
        "following the shared configuration in etcd"
    );
    let follower = tokio::spawn(watch::follow(inner.clone(), Arc::downgrade(&runtime)));
    Ok((runtime, Arc::new(EtcdBackend { inner, follower })))
}

/// The prefix of `[store]`, or the default.
pub fn prefix_of(store: &model::Store) -> String {
    store
        .prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned())
}

/// Reads the configuration, its PEM contents and the secrets (creating the
/// secrets when the store has none yet).
async fn first_read(client: &EtcdClient, pems: &PemDir) -> Result<(Revision, Secrets), StoreError> {
    let revision = client.read().await?;
    client.fetch_pems(&revision.shared.pem_keys(), pems).await?;
    let (sticky, _) = client.get_or_create(STICKY_KEY, new_sticky_secret).await?;
    let (tickets, _) = client
        .get_or_create(TICKETS_KEY, || Ok(TicketKeys::new_shared_text(unix_now())?))
        .await?;
    Ok((revision, Secrets { sticky, tickets }))
}

/// The node-local sections of `file`, its shared sections left empty.
pub fn local_sections(file: &ConfigFile) -> ConfigFile {
    ConfigFile {
        global: file.global.clone(),
        store: file.store.clone(),
        node: file.node.clone(),
        admin: file.admin.clone(),
        ..ConfigFile::default()
    }
}

impl Backend for EtcdBackend {
    fn kind(&self) -> StoreKind {
        StoreKind::Etcd
    }

    fn publish<'a>(
        &'a self,
        runtime: &'a Runtime,
        current: Arc<Config>,
        next: Config,
    ) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(self.inner.publish(runtime, current, next))
    }

    fn reload<'a>(&'a self, runtime: &'a Runtime) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.inner.reload(runtime) })
    }
}

impl Inner {
    fn applied(&self) -> Revision {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn local(&self) -> ConfigFile {
        self.local.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The configuration this node runs for `shared`.
    fn node_config(&self, shared: &SharedConfig) -> Result<Config, StoreError> {
        let model = merge(&self.local(), shared, &self.pems);
        Ok(Config::from_model(model, &self.path)?)
    }

    async fn publish(
        &self,
        runtime: &Runtime,
        current: Arc<Config>,
        next: Config,
    ) -> Result<(), PublishError> {
        let persist = |e: StoreError| PublishError::Persist(e.to_string());
        let config_dir = self.path.parent().unwrap_or(Path::new(""));
        let extracted = extract(&next.file, config_dir, Some(&self.pems)).map_err(persist)?;
        for (key, contents) in &extracted.contents {
            self.pems.write(key, contents).map_err(persist)?;
        }
        let config = match self.node_config(&extracted.shared) {
            Ok(c) => c,
            Err(StoreError::Config(e)) => return Err(PublishError::Invalid(e)),
            Err(e) => return Err(persist(e)),
        };
        let base = self.applied();
        let mut contents = extracted.contents.clone();
        for key in extracted
            .shared
            .pem_keys()
            .difference(&base.shared.pem_keys())
        {
            if !contents.contains_key(key) {
                contents.insert(key.clone(), self.pems.read(key).map_err(persist)?);
            }
        }
        runtime.apply(config)?;
        let outcome = self
            .client
            .commit(&base, &extracted.shared, &contents)
            .await;
        match outcome {
            Ok(Commit::Done(revision)) => {
                self.record(
                    runtime,
                    Revision {
                        revision,
                        shared: extracted.shared,
                    },
                );
                self.remove_uploads(&extracted.read_files);
                Ok(())
            }
            Ok(Commit::Conflict(latest)) => {
                tracing::info!(
                    base = base.revision,
                    latest = latest.revision,
                    "another node changed the configuration first: running its revision and editing that"
                );
                // The edit is made again, uploads included.
                self.remove_uploads(&extracted.read_files);
                if let Err(e) = self.install(runtime, latest).await {
                    rollback(runtime, &current);
                    return Err(persist(e));
                }
                Err(PublishError::Conflict)
            }
            Err(e) => {
                rollback(runtime, &current);
                if e.is_unreachable() {
                    self.unreachable(runtime, &e);
                    Err(PublishError::Unavailable(e))
                } else {
                    Err(persist(e))
                }
            }
        }
    }

    /// Applies `latest` (fetching the PEM contents it names) unless it is
    /// the revision running. The caller holds [`Runtime::changes`].
    async fn install(&self, runtime: &Runtime, latest: Revision) -> Result<(), StoreError> {
        if latest.revision == self.applied().revision {
            return Ok(());
        }
        self.client
            .fetch_pems(&latest.shared.pem_keys(), &self.pems)
            .await?;
        let config = self.node_config(&latest.shared)?;
        runtime.apply(config)?;
        tracing::info!(
            revision = latest.revision,
            "applied the shared configuration from etcd"
        );
        self.record(runtime, latest);
        Ok(())
    }

    /// Makes `revision` the one this node runs.
    /// The copies of PEM contents it no longer names are removed (the
    /// running snapshot read its certificates when it was compiled).
    fn record(&self, runtime: &Runtime, revision: Revision) {
        runtime.store_status().set_revision(revision.revision);
        self.pems.retain(&revision.shared.pem_keys());
        *self.applied.lock().unwrap_or_else(|e| e.into_inner()) = revision;
        self.save_cache();
    }

    fn save_cache(&self) {
        let applied = self.applied();
        let secrets = self
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let config = match applied.shared.to_toml() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("cannot cache the configuration: {e}");
                return;
            }
        };
        let cached = Cached {
            prefix: self.client.prefix().to_owned(),
            revision: applied.revision,
            config,
            sticky: secrets.sticky,
            tickets: secrets.tickets,
        };
        if let Err(e) = self.cache.save(&cached) {
            tracing::warn!("cannot cache the configuration: {e}");
        }
    }

    /// Re-reads the node's file and applies it with the shared
    /// configuration this node runs.
    fn reload(&self, runtime: &Runtime) -> Result<(), StoreError> {
        let file = Config::load(&self.path)?;
        let local = local_sections(&file.file);
        if local.store != self.local().store {
            tracing::warn!(
                "[store] changed in {}: it takes effect at the next start",
                self.path.display()
            );
        }
        let model = merge(&local, &self.applied().shared, &self.pems);
        let config = Config::from_model(model, &self.path)?;
        runtime.apply(config)?;
        *self.local.lock().unwrap_or_else(|e| e.into_inner()) = local;
        Ok(())
    }

    /// Removes the API's copies of uploaded certificates that are now in
    /// the store (only files in `state_dir/certs`).
    fn remove_uploads(&self, files: &[PathBuf]) {
        for file in files
            .iter()
            .filter(|f| f.parent() == Some(&self.upload_dir))
        {
            if let Err(e) = std::fs::remove_file(file) {
                tracing::debug!(file = %file.display(), "cannot remove an uploaded certificate copy: {e}");
            }
        }
    }

    /// Records that etcd cannot be reached (logged once per outage).
    fn unreachable(&self, runtime: &Runtime, e: &StoreError) {
        let was_healthy = runtime.store_status().set_healthy(false);
        if was_healthy {
            tracing::warn!(
                revision = runtime.store_status().revision(),
                "etcd is unreachable ({e}): serving the last good configuration; API writes fail until etcd answers again"
            );
        } else {
            tracing::debug!("etcd still unreachable: {e}");
        }
    }

    /// Records that etcd answers again.
    fn reachable(&self, runtime: &Runtime) {
        if !runtime.store_status().set_healthy(true) {
            tracing::info!(
                revision = runtime.store_status().revision(),
                "etcd answers again: following the shared configuration"
            );
        }
    }

    /// Brings the TLS ticket keys in use to `text` (the store's).
    fn tickets_changed(&self, runtime: &Runtime, text: &str) {
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        if secrets.tickets == text {
            return;
        }
        match runtime.state().tls_tickets.set_shared(text) {
            Ok(()) => {
                secrets.tickets = text.to_owned();
                drop(secrets);
                tracing::info!("TLS ticket keys updated from etcd");
                self.save_cache();
            }
            Err(e) => tracing::error!("{e}: keeping the keys in use"),
        }
    }

    /// Reads the secrets (re-creating them from the ones in use if the
    /// store lost them) and takes on rotated ticket keys.
    async fn sync_secrets(&self, runtime: &Runtime) -> Result<(), StoreError> {
        let in_use = self
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (sticky, _) = self
            .client
            .get_or_create(STICKY_KEY, || Ok(in_use.sticky.clone()))
            .await?;
        if sticky != in_use.sticky {
            tracing::warn!(
                "the sticky-cookie secret in etcd differs from the one this node started with: restart this node to honour the other nodes' cookies"
            );
        }
        let (tickets, _) = self
            .client
            .get_or_create(TICKETS_KEY, || Ok(in_use.tickets.clone()))
            .await?;
        self.tickets_changed(runtime, &tickets);
        Ok(())
    }

    /// Rotates the shared ticket keys when they are due (compare-and-swap:
    /// one node of many does it; the others see it through the watch).
    async fn rotate_tickets_if_due(&self) -> Result<(), StoreError> {
        let Some((text, revision)) = self.client.get(TICKETS_KEY).await? else {
            return Ok(());
        };
        if let Some(rotated) = TicketKeys::rotated_shared_text(&text, unix_now())?
            && self
                .client
                .compare_and_swap(TICKETS_KEY, revision, &rotated)
                .await?
        {
            tracing::info!("TLS session-ticket keys rotated for every node");
        }
        Ok(())
    }
}

fn rollback(runtime: &Runtime, current: &Config) {
    if let Err(e) = runtime.apply(current.clone()) {
        tracing::error!("rollback after a failed store write also failed: {e}");
    }
}

/// 32 random bytes, hex.
fn new_sticky_secret() -> Result<String, StoreError> {
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| StoreError::Local {
        path: PathBuf::from("(system random generator)"),
        source: std::io::Error::other("failed"),
    })?;
    Ok(secret.iter().map(|b| format!("{b:02x}")).collect())
}

/// A stored secret's bytes: hexadecimal, blanks around it ignored, never
/// empty.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    crate::encoding::from_hex(text.trim()).filter(|bytes| !bytes.is_empty())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;

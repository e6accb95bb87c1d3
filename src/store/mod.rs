//! Where the configuration lives: the file (the default) or etcd, behind
//! one interface ([`Backend`]) that the management API writes through and
//! SIGHUP reloads through.
//!
//! * [`file`](mod@file): the configuration file itself; an API write replaces it
//!   atomically. Nothing changes for a single node.
//! * [`etcd`]: `[store] kind = "etcd"`. The node-local sections
//!   (`[global]`, `[store]`, `[node]`, `[admin]`) stay in each node's
//!   file; the shared part ([`shared::SharedConfig`]: certificates,
//!   instances, load balancers) lives under the prefix, and every node
//!   watches it and applies each change with [`Runtime::apply`], the
//!   snapshot swap of a reload.
//!
//! # Key layout (etcd)
//!
//! Under the prefix (default `/stgw/`):
//!
//! | key | value |
//! |---|---|
//! | `config` | the whole shared configuration, TOML in the file's own shape; its mod_revision is the configuration's revision |
//! | `pem/<sha256>` | the PEM contents (certificate chain or key) a `[[certificate]]` entry names, by the hash of the contents |
//! | `secrets/sticky` | the sticky-cookie HMAC key (hex), created once |
//! | `secrets/tls-ticket-keys` | the TLS session-ticket keys (current and previous), created once, rotated by compare-and-swap |
//!
//! One key holds the whole configuration so that every write is one
//! transaction comparing one mod_revision: a write made on a stale base is
//! refused, re-read and re-applied, never lost. PEM keys are written in
//! the same transaction as the configuration that first names them and
//! deleted in the one that stops naming them; their names are content
//! hashes, so a value never changes meaning.

pub mod cache;
pub mod cli;
pub mod etcd;
pub mod file;
pub mod shared;
mod status;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use status::{StoreStatus, StoreSummary};

use crate::config::model::StoreKind;
use crate::config::{Config, ConfigError};
use crate::runtime::{Runtime, RuntimeError};

/// The prefix used when `[store]` names none.
pub const DEFAULT_PREFIX: &str = "/stgw/";

/// A future a [`Backend`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// etcd answered with an error or could not be reached.
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    /// etcd did not answer in time.
    #[error("etcd did not answer within {0:?}")]
    Timeout(Duration),
    /// The watch on the prefix ended.
    #[error("etcd: the watch ended ({0})")]
    WatchEnded(String),
    /// A value in the store is not what stgw wrote there.
    #[error("{key} in the store: {message}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A certificate entry's file could not be read.
    #[error("certificate {id}: cannot read {}: {source}", path.display())]
    CertificateFile {
        /// The entry's id.
        id: String,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A local copy (PEM files, the cache) could not be read or written.
    #[error("{}: {source}", path.display())]
    Local {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The configuration (the node's file, or with the shared part) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration could not be started or applied.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The shared TLS ticket keys are unusable.
    #[error(transparent)]
    Tickets(#[from] crate::tls::TicketKeyError),
    /// etcd is unreachable at start and no configuration was cached.
    #[error(
        "cannot start: etcd is unreachable ({source}) and this node has no cached configuration of prefix {prefix}"
    )]
    NoStartingPoint {
        /// The prefix.
        prefix: String,
        /// Why etcd could not be read.
        source: Box<StoreError>,
    },
    /// A `stgw store` command was given a file whose store is not etcd.
    #[error("{}: [store] kind is not \"etcd\": there is no store to import into or export from", path.display())]
    NotEtcd {
        /// The file.
        path: PathBuf,
    },
}

impl StoreError {
    /// Whether this says that etcd cannot be reached now (as opposed to
    /// a value that is wrong whenever it is read).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            StoreError::Etcd(_) | StoreError::Timeout(_) | StoreError::WatchEnded(_)
        )
    }
}

/// Why a change could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The configuration, with the shared part as stored, is invalid.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// It could not be applied to the running proxy (nothing was stored).
    #[error(transparent)]
    Apply(#[from] RuntimeError),
    /// Another node changed the shared configuration first: this node now
    /// runs the store's latest; edit that and publish again.
    #[error("the shared configuration changed on another node")]
    Conflict,
    /// The store cannot be reached; the running configuration was rolled back.
    #[error("the configuration store cannot be reached: {0}")]
    Unavailable(StoreError),
    /// It was applied but could not be stored; the running configuration
    /// was rolled back.
    #[error("{0}")]
    Persist(String),
}

/// Where the shared configuration is kept and how a change reaches it.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Which kind of store this is.
    fn kind(&self) -> StoreKind;

    /// Makes `next` (validated, edited from `current`, the configuration
    /// running now) the running and stored configuration: applies it,
    /// then stores it. On any error nothing is stored and the node runs
    /// `current` again, except after [`PublishError::Conflict`], when it
    /// runs the store's latest. The caller holds [`Runtime::changes`].
    fn publish<'a>(
        &'a self,
        runtime: &'a Runtime,
        current: Arc<Config>,
        next: Config,
    ) -> BoxFuture<'a, Result<(), PublishError>>;

    /// Re-reads the node's file (SIGHUP) and applies it, with the shared
    /// configuration where that lives elsewhere. On error the running
    /// configuration stays. The caller holds [`Runtime::changes`].
    fn reload<'a>(&'a self, runtime: &'a Runtime) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// The running proxy and the store its configuration comes from.
#[derive(Debug)]
pub struct Store {
    runtime: Arc<Runtime>,
    backend: Arc<dyn Backend>,
}

impl Store {
    /// The file store over `runtime` (its configuration file is the store).
    pub fn file(runtime: Arc<Runtime>) -> Store {
        Store {
            runtime,
            backend: Arc::new(file::FileBackend),
        }
    }

    /// The running proxy.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Which kind of store this is.
    pub fn kind(&self) -> StoreKind {
        self.backend.kind()
    }

    /// See [`Backend::publish`]; the caller holds [`Runtime::changes`].
    pub async fn publish(&self, current: Arc<Config>, next: Config) -> Result<(), PublishError> {
        self.backend.publish(&self.runtime, current, next).await
    }

    /// Reloads the node's file (SIGHUP), serialised with API writes.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _serial = self.runtime.changes().lock().await;
        self.backend.reload(&self.runtime).await
    }
}

/// Starts serving `config` (the node's file, validated) from the store its
/// `[store]` names, taking the `inherited` listening sockets of a binary
/// upgrade. With etcd this reads the shared configuration first (or the
/// cached one, when etcd is unreachable) and keeps following it. Must run
/// inside a tokio runtime.
pub async fn start(
    config: Config,
    inherited: HashMap<SocketAddr, std::net::TcpListener>,
) -> Result<Arc<Store>, StoreError> {
    match config.file.store.kind {
        StoreKind::File => {
            let runtime = Runtime::start_with(config, inherited)?;
            Ok(Arc::new(Store::file(runtime)))
        }
        StoreKind::Etcd => {
            let (runtime, backend) = etcd::start(config, inherited).await?;
            Ok(Arc::new(Store { runtime, backend }))
        }
    }
}

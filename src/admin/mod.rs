//! The management API: the CLB product's API (version 2018-03-17), so the
//! vendor's SDKs and CLI drive a self-hosted stgw unchanged.
//!
//! * [`server`]: the `[admin]` listener and its router.
//! * [`sign`]: TC3-HMAC-SHA256 and v1 (HmacSHA1/256) authentication.
//! * [`params`] / [`envelope`] / [`error`]: parameters in, the product's
//!   JSON envelope and error codes out.
//! * [`actions`]: one file per group of actions, every write through
//!   [`store::ConfigStore::write`] (edit → validate → apply → store).
//!
//! Every object maps onto the configuration file of `CONFIG.md`: the API
//! edits that same model, and its store (the file, or etcd for several
//! nodes: [`crate::store`]) is what survives a restart.

pub mod actions;
pub(crate) mod certs;
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod ids;
pub(crate) mod params;
pub(crate) mod persist;
pub mod server;
pub mod sign;
pub(crate) mod store;
pub(crate) mod tasks;
pub(crate) mod view;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::sign::SingleCertAndKey;
use tokio_rustls::TlsAcceptor;

use crate::config::{AdminSettings, SecretSource};
use crate::store::Store;
use crate::tls::certs::load_server_cert;

/// Why the admin listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// `secret_key_env` names a variable that is unset or empty.
    #[error("admin.secret_key_env: the environment variable {0} is not set (or empty)")]
    SecretKeyEnv(String),
    /// Neither `secret_key` nor `secret_key_env` is configured.
    #[error("admin: give secret_key or secret_key_env")]
    NoSecretKey,
    /// `[admin] certificate` cannot be read or used.
    #[error("admin.certificate: {0}")]
    Certificate(String),
    /// The listen address cannot be bound.
    #[error("admin.listen: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
}

/// A running admin listener.
#[derive(Debug)]
pub struct AdminServer {
    /// The address it listens on (the real port when `listen` asked for 0).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Resolves the credentials of `settings` (reading the environment for
/// `secret_key_env`), binds `settings.listen` (or takes the socket a
/// previous process handed over in a binary upgrade) and serves the API
/// for the proxy of `store`, writing through `store`, until the returned
/// server is dropped or a newer process takes over. Must run inside a
/// tokio runtime.
pub async fn start(store: Arc<Store>, settings: &AdminSettings) -> Result<AdminServer, AdminError> {
    let runtime = store.runtime().clone();
    let key = match &settings.secret_key {
        SecretSource::Inline(k) => k.clone(),
        SecretSource::Env(var) => std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AdminError::SecretKeyEnv(var.clone()))?,
        SecretSource::Generated => return Err(AdminError::NoSecretKey),
    };
    let creds = server::Credentials {
        keys: HashMap::from([(settings.secret_id.clone(), key)]),
    };
    let tls = settings.tls.as_ref().map(tls_acceptor).transpose()?;
    let listener = match runtime.take_inherited(settings.listen) {
        // A binary upgrade: the previous process handed its socket over.
        Some(socket) => tokio::net::TcpListener::from_std(socket),
        None => tokio::net::TcpListener::bind(settings.listen).await,
    }
    .map_err(|source| AdminError::Bind {
        addr: settings.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| AdminError::Bind {
        addr: settings.listen,
        source,
    })?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the admin API listens beyond loopback: put TLS and a firewall in front of it (README, \"Exposing the admin API\")");
    }
    runtime.hand_over_too(settings.listen, listener.as_raw_fd());
    let api = Arc::new(actions::Api::new(store));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = tokio::spawn(server::serve(listener, tls, api, Arc::new(creds)));
    tracing::info!(%addr, scheme, "admin API listening");
    Ok(AdminServer { addr, task })
}

/// The TLS side of the admin listener: TLS 1.2 and 1.3, HTTP/1.1, the one
/// certificate of `[admin] certificate`.
fn tls_acceptor((cert, key): &(PathBuf, PathBuf)) -> Result<TlsAcceptor, AdminError> {
    let read = |path: &PathBuf| {
        std::fs::read(path)
            .map_err(|e| AdminError::Certificate(format!("cannot read {}: {e}", path.display())))
    };
    let provider = crate::tls::provider();
    let loaded = load_server_cert(&read(cert)?, &read(key)?, &provider)
        .map_err(|e| AdminError::Certificate(format!("{}: {e}", cert.display())))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AdminError::Certificate(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(loaded.certified_key)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

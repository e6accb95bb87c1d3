//! TLS: certificates, HTTPS termination, TLS towards targets, session
//! tickets.

pub mod certs;
pub mod ciphers;
mod client;
mod server;
mod tickets;

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

pub use client::{UpstreamConnector, UpstreamTlsError};
pub use server::{
    HandshakeError, ListenerTls, ServerParams, TlsIdentity, TlsInfo, identity, server_config,
};
pub use tickets::{TicketKeyError, TicketKeys};

/// The process's crypto provider (aws-lc-rs, every suite rustls offers).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

//! TLS: certificates, HTTPS termination, TLS towards targets, session
//! tickets.

pub(crate) mod certs;
pub(crate) mod ciphers;
mod client;
mod server;
mod tickets;

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

pub(crate) use client::UpstreamConnector;
pub(crate) use server::{ListenerTls, ServerParams, TlsIdentity, TlsInfo, identity, server_config};
pub(crate) use tickets::{TicketKeyError, TicketKeys};

/// The process's crypto provider: aws-lc-rs with every suite rustls
/// offers, AES-128-GCM first within each TLS version, then AES-256-GCM,
/// then ChaCha20-Poly1305 (the product's default `ssl_ciphers` order).
/// Servers pick suites in this order (README, "HTTPS").
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let mut provider = rustls::crypto::aws_lc_rs::default_provider();
            // Stable: TLS 1.3 before 1.2, ECDSA before RSA, as rustls has them.
            provider
                .cipher_suites
                .sort_by_key(|suite| (suite.tls13().is_none(), suite_rank(suite.suite())));
            Arc::new(provider)
        })
        .clone()
}

/// Where a suite's cipher comes in the preference order: AES-128-GCM,
/// AES-256-GCM, then the rest. AES-128 is as safe for TLS and cheaper: ten
/// AES rounds instead of fourteen, and SHA-256 instead of SHA-384 for the
/// handshake's key schedule (SHA-384 has no vector code in aws-lc on AMD
/// processors, where it took 17% of a resuming handshake's CPU).
fn suite_rank(suite: rustls::CipherSuite) -> u8 {
    use rustls::CipherSuite as S;
    match suite {
        S::TLS13_AES_128_GCM_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        S::TLS13_AES_256_GCM_SHA384
        | S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use rustls::CipherSuite as S;

    #[test]
    fn aes_128_gcm_comes_first_within_each_version() {
        let order: Vec<S> = super::provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            &order[..3],
            [
                S::TLS13_AES_128_GCM_SHA256,
                S::TLS13_AES_256_GCM_SHA384,
                S::TLS13_CHACHA20_POLY1305_SHA256
            ]
        );
        assert_eq!(
            &order[3..],
            [
                S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]
        );
    }
}

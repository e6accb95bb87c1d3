//! Loading server certificates and client CA bundles from PEM text.
//!
//! The product accepts PEM only: a certificate file holds one or more
//! `CERTIFICATE` blocks, the server certificate first and then its
//! intermediates; a key file holds one PKCS#1 (`RSA PRIVATE KEY`), PKCS#8
//! (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) key. Anything else is refused
//! with a [`CertError`] that says what was found and, where the product's
//! documentation gives one, the `openssl` command that converts it.

mod chain;
mod der;
mod error;
mod pem;

#[cfg(test)]
mod tests;

pub(crate) use error::{CertError, Input};

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

use self::chain::{check_key_matches, inspect_chain, key_kind};
use self::pem::{read_certificates, read_private_key, read_server_chain};

/// A certificate whose remaining validity is below this many days is
/// reported as [`Expiry::ExpiresSoon`].
pub(crate) const EXPIRY_WARNING_DAYS: u64 = 30;

const SECS_PER_DAY: u64 = 24 * 60 * 60;

/// A server certificate chain with its private key, checked and ready for rustls.
///
/// Produced only by [`load_server_cert`], so the key matches the first
/// certificate and every certificate is issued by the one after it.
#[derive(Clone, Debug)]
pub(crate) struct LoadedCert {
    /// The chain (server certificate first) and its signing key, for a rustls
    /// certificate resolver.
    pub certified_key: Arc<CertifiedKey>,
    /// The type of the private key, which decides the TLS 1.2 suites it can serve.
    pub key_kind: KeyKind,
    /// End of the server certificate's validity (its `notAfter`, inclusive).
    pub not_after: SystemTime,
    /// Start of the server certificate's validity (its `notBefore`).
    pub not_before: SystemTime,
    /// The server certificate's subject, e.g. `CN=www.example.com, O=Example`.
    pub subject: String,
}

/// The public-key algorithm of a server certificate's private key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyKind {
    /// RSA: serves the `ECDHE-RSA-*` TLS 1.2 suites.
    Rsa,
    /// ECDSA (P-256, P-384 or P-521): serves the `ECDHE-ECDSA-*` TLS 1.2 suites.
    Ecdsa,
    /// Ed25519: TLS 1.3, or TLS 1.2 `ECDHE-ECDSA-*` suites with an Ed25519 signature.
    Ed25519,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rsa => "RSA",
            Self::Ecdsa => "ECDSA",
            Self::Ed25519 => "Ed25519",
        })
    }
}

/// Where a certificate stands in its validity period at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// Valid for [`EXPIRY_WARNING_DAYS`] days or more.
    Valid,
    /// Still valid, but for less than [`EXPIRY_WARNING_DAYS`] days; `days` is
    /// the number of whole days left (0 on the last day).
    ExpiresSoon {
        /// Whole days left before `not_after`.
        days: u64,
    },
    /// `not_after` has passed.
    Expired,
    /// `not_before` has not been reached yet.
    NotYetValid,
}

/// Loads a server certificate chain and its private key, both PEM.
///
/// `cert_pem` holds the server certificate first, then its intermediates in
/// issuing order; `key_pem` holds one unencrypted PKCS#1, PKCS#8 or SEC1 key.
/// Blocks of the other kind in either input are ignored, so one file holding
/// both may be given twice. The key must be usable by `provider` and match
/// the server certificate; each certificate must be issued (by name) by the
/// next one. Validity dates are read but not enforced: see [`expiry_status`].
///
/// # Errors
///
/// A [`CertError`] naming the faulty input and what to do about it: not PEM
/// (with the openssl conversion), a key where a certificate belongs or the
/// reverse, an encrypted or unsupported key, a key that does not match, or
/// certificates out of issuing order.
pub(crate) fn load_server_cert(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<LoadedCert, CertError> {
    let chain = read_server_chain(cert_pem, key_pem)?;
    let leaf = inspect_chain(&chain)?;
    let key = provider
        .key_provider
        .load_private_key(read_private_key(key_pem)?)
        .map_err(|err| CertError::InvalidPrivateKey {
            detail: err.to_string(),
        })?;
    let key_kind = key_kind(key.algorithm())?;
    check_key_matches(key.as_ref(), &leaf.public_key)?;
    Ok(LoadedCert {
        certified_key: Arc::new(CertifiedKey::new(chain, key)),
        key_kind,
        not_after: leaf.not_after,
        not_before: leaf.not_before,
        subject: leaf.subject,
    })
}

/// Loads a PEM bundle of CA certificates that client certificates must chain
/// to (mutual TLS).
///
/// Every `CERTIFICATE` block becomes a trust anchor, in file order; other
/// blocks are ignored. A bundle without a certificate, or with a certificate
/// that rustls cannot use as a trust anchor, is refused.
///
/// # Errors
///
/// A [`CertError`] about [`Input::CaBundle`]: empty, not PEM, no certificate,
/// or a certificate rustls cannot use as a trust anchor (with its position).
pub(crate) fn load_ca_certs(pem: &[u8]) -> Result<RootCertStore, CertError> {
    let mut store = RootCertStore::empty();
    for (index, der) in read_certificates(pem, Input::CaBundle)?
        .into_iter()
        .enumerate()
    {
        store
            .add(der)
            .map_err(|err| CertError::InvalidCertificate {
                input: Input::CaBundle,
                position: index + 1,
                detail: err.to_string(),
            })?;
    }
    Ok(store)
}

/// Classifies `cert`'s validity at `now`.
///
/// `not_after` itself is still valid (X.509 validity is inclusive); less than
/// [`EXPIRY_WARNING_DAYS`] days left gives [`Expiry::ExpiresSoon`].
#[must_use]
pub(crate) fn expiry_status(cert: &LoadedCert, now: SystemTime) -> Expiry {
    if now < cert.not_before {
        return Expiry::NotYetValid;
    }
    let Ok(left) = cert.not_after.duration_since(now) else {
        return Expiry::Expired;
    };
    let days = left.as_secs() / SECS_PER_DAY;
    if days < EXPIRY_WARNING_DAYS {
        return Expiry::ExpiresSoon { days };
    }
    Expiry::Valid
}

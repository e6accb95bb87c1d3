//! Checking the chain (issuing order, the key against the server
//! certificate) and reading what the server certificate says.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::SignatureAlgorithm;
use rustls::sign::SigningKey;
use rustls_pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::KeyKind;
use super::error::{CertError, Input};

pub(super) fn key_kind(algorithm: SignatureAlgorithm) -> Result<KeyKind, CertError> {
    match algorithm {
        SignatureAlgorithm::RSA => Ok(KeyKind::Rsa),
        SignatureAlgorithm::ECDSA => Ok(KeyKind::Ecdsa),
        SignatureAlgorithm::ED25519 => Ok(KeyKind::Ed25519),
        other => Err(CertError::UnsupportedKeyType {
            algorithm: format!("{other:?}"),
        }),
    }
}

/// What [`LoadedCert`](super::LoadedCert) reports about the server certificate.
pub(super) struct LeafInfo {
    /// The DER `SubjectPublicKeyInfo`, to check the private key against.
    pub(super) public_key: Vec<u8>,
    pub(super) not_before: SystemTime,
    pub(super) not_after: SystemTime,
    pub(super) subject: String,
}

/// Parses the chain, checks its order and describes the server certificate.
pub(super) fn inspect_chain(chain: &[CertificateDer<'_>]) -> Result<LeafInfo, CertError> {
    let parsed = chain
        .iter()
        .enumerate()
        .map(|(index, der)| parse_certificate(der, index + 1))
        .collect::<Result<Vec<_>, _>>()?;
    check_chain_order(&parsed)?;
    let Some(leaf) = parsed.first() else {
        return Err(CertError::NoCertificate {
            input: Input::Certificate,
            found: "no PEM block".to_owned(),
        });
    };
    describe_leaf(leaf)
}

fn parse_certificate<'a>(
    der: &'a CertificateDer<'_>,
    position: usize,
) -> Result<X509Certificate<'a>, CertError> {
    x509_parser::parse_x509_certificate(der.as_ref())
        .map(|(_, cert)| cert)
        .map_err(|err| invalid_certificate(position, err))
}

fn invalid_certificate(position: usize, err: impl fmt::Display) -> CertError {
    CertError::InvalidCertificate {
        input: Input::Certificate,
        position,
        detail: err.to_string(),
    }
}

/// Each certificate must name the next one's subject as its issuer.
fn check_chain_order(chain: &[X509Certificate<'_>]) -> Result<(), CertError> {
    let pairs = chain.iter().zip(chain.iter().skip(1));
    for (index, (child, parent)) in pairs.enumerate() {
        if !is_issued_by(child, parent) {
            return Err(CertError::ChainOrder {
                position: index + 1,
            });
        }
    }
    Ok(())
}

/// Compares names byte for byte, then as text (which ignores the string encodings).
fn is_issued_by(child: &X509Certificate<'_>, parent: &X509Certificate<'_>) -> bool {
    child.issuer().as_raw() == parent.subject().as_raw()
        || child.issuer().to_string() == parent.subject().to_string()
}

/// Compares the key's `SubjectPublicKeyInfo` with the certificate's, as rustls's
/// `CertifiedKey::keys_match` does; a key that cannot tell its public key is accepted.
pub(super) fn check_key_matches(
    key: &dyn SigningKey,
    cert_public_key: &[u8],
) -> Result<(), CertError> {
    let Some(key_spki) = key.public_key() else {
        return Ok(());
    };
    if key_spki.as_ref() != cert_public_key {
        return Err(CertError::KeyMismatch);
    }
    Ok(())
}

/// A subjectAltName that does not parse refuses the certificate; its names
/// are not kept (nothing serves by them).
fn describe_leaf(leaf: &X509Certificate<'_>) -> Result<LeafInfo, CertError> {
    let validity = leaf.validity();
    let info = LeafInfo {
        public_key: leaf.public_key().raw.to_vec(),
        not_before: system_time(validity.not_before.timestamp())?,
        not_after: system_time(validity.not_after.timestamp())?,
        subject: leaf.subject().to_string(),
    };
    san_dns_names(leaf)?;
    Ok(info)
}

fn system_time(unix_seconds: i64) -> Result<SystemTime, CertError> {
    let magnitude = Duration::from_secs(unix_seconds.unsigned_abs());
    let time = if unix_seconds >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    time.ok_or_else(|| invalid_certificate(1, "a validity date is out of range"))
}

pub(super) fn san_dns_names(leaf: &X509Certificate<'_>) -> Result<Vec<String>, CertError> {
    let Some(san) = leaf
        .subject_alternative_name()
        .map_err(|err| invalid_certificate(1, err))?
    else {
        return Ok(Vec::new());
    };
    let names = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
            _ => None,
        });
    Ok(names.collect())
}

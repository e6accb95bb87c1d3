//! Recognising binary (DER) input, to say how to convert it to PEM.

use super::error::{CertError, Input};

const DER_SEQUENCE: u8 = 0x30;
const DER_INTEGER: u8 = 0x02;
pub(super) const DER_OCTET_STRING: u8 = 0x04;
const DER_OID: u8 = 0x06;
/// OID 1.2.840.113549.1.7.2 (PKCS#7 signedData), content bytes.
const PKCS7_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];

/// What a DER file looks like from its first elements.
#[derive(Debug, PartialEq, Eq)]
enum DerKind {
    Certificate,
    /// A private key, with the openssl command that converts it to PEM.
    PrivateKey(&'static str),
    EncryptedPrivateKey,
    Pkcs12,
    Pkcs7,
}

pub(super) fn explain_binary(data: &[u8], input: Input) -> CertError {
    match sniff_der(data) {
        Some(DerKind::Certificate) => CertError::DerCertificate { input },
        Some(DerKind::PrivateKey(command)) => CertError::DerPrivateKey { input, command },
        Some(DerKind::EncryptedPrivateKey) => CertError::EncryptedKey {
            command: "openssl pkey -inform DER -in enc.der -out plain.key",
        },
        Some(DerKind::Pkcs12) => CertError::Pkcs12 { input },
        Some(DerKind::Pkcs7) => CertError::Pkcs7 { input },
        None => CertError::NotPem { input },
    }
}

/// Recognises DER certificates, keys, PKCS#12 and PKCS#7 by their outer structure.
fn sniff_der(data: &[u8]) -> Option<DerKind> {
    let (DER_SEQUENCE, body, _) = der_element(data)? else {
        return None;
    };
    let (tag, first, after) = der_element(body)?;
    match tag {
        // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, ... };
        // EncryptedPrivateKeyInfo ::= SEQUENCE { SEQUENCE { OID, ... }, OCTET STRING }.
        DER_SEQUENCE if first.first() == Some(&DER_OID) => Some(DerKind::EncryptedPrivateKey),
        DER_SEQUENCE => Some(DerKind::Certificate),
        // ContentInfo ::= SEQUENCE { contentType OID, ... }.
        DER_OID if first == PKCS7_SIGNED_DATA => Some(DerKind::Pkcs7),
        DER_INTEGER => sniff_versioned(first, *after.first()?),
        _ => None,
    }
}

/// Structures that start with a version INTEGER, told apart by what follows it.
fn sniff_versioned(version: &[u8], next_tag: u8) -> Option<DerKind> {
    match (version, next_tag) {
        // PFX ::= SEQUENCE { version 3, authSafe ContentInfo, ... }.
        ([3], DER_SEQUENCE) => Some(DerKind::Pkcs12),
        // RSAPrivateKey ::= SEQUENCE { version 0, modulus INTEGER, ... }.
        ([0], DER_INTEGER) => Some(DerKind::PrivateKey(
            "openssl rsa -inform DER -outform PEM -in key.der -out key.pem",
        )),
        // PrivateKeyInfo ::= SEQUENCE { version 0 or 1, AlgorithmIdentifier, ... }.
        ([0 | 1], DER_SEQUENCE) => Some(DerKind::PrivateKey(
            "openssl pkey -inform DER -outform PEM -in key.der -out key.pem",
        )),
        // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, ... }.
        ([1], DER_OCTET_STRING) => Some(DerKind::PrivateKey(
            "openssl ec -inform DER -outform PEM -in key.der -out key.pem",
        )),
        _ => None,
    }
}

/// Reads one DER element: its tag, its content and the bytes after it.
pub(super) fn der_element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let (length_bytes, rest) = rest.split_at_checked(usize::from(first & 0x7F))?;
        if length_bytes.is_empty() || length_bytes.len() > 4 {
            return None;
        }
        let length = length_bytes
            .iter()
            .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, rest)
    };
    let (content, rest) = rest.split_at_checked(length)?;
    Some((tag, content, rest))
}

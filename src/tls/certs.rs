//! Loading server certificates and client CA bundles from PEM text.
//!
//! The product accepts PEM only: a certificate file holds one or more
//! `CERTIFICATE` blocks, the server certificate first and then its
//! intermediates; a key file holds one PKCS#1 (`RSA PRIVATE KEY`), PKCS#8
//! (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) key. Anything else is refused
//! with a [`CertError`] that says what was found and, where the product's
//! documentation gives one, the `openssl` command that converts it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::RootCertStore;
use rustls::SignatureAlgorithm;
use rustls::crypto::CryptoProvider;
use rustls::sign::{CertifiedKey, SigningKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// A certificate whose remaining validity is below this many days is
/// reported as [`Expiry::ExpiresSoon`].
pub const EXPIRY_WARNING_DAYS: u64 = 30;

const SECS_PER_DAY: u64 = 24 * 60 * 60;

/// A server certificate chain with its private key, checked and ready for rustls.
///
/// Produced only by [`load_server_cert`], so the key matches the first
/// certificate and every certificate is issued by the one after it.
#[derive(Clone, Debug)]
pub struct LoadedCert {
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
pub enum KeyKind {
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
pub enum Expiry {
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

/// Which input an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The server certificate (chain) of a [`load_server_cert`] call.
    Certificate,
    /// The private key of a [`load_server_cert`] call.
    PrivateKey,
    /// The client CA bundle of a [`load_ca_certs`] call.
    CaBundle,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Certificate => "certificate input",
            Self::PrivateKey => "private key input",
            Self::CaBundle => "CA certificate bundle",
        })
    }
}

/// Why a certificate, key or CA bundle was refused; each message says what is
/// wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The input holds nothing but white space.
    #[error("the {input} is empty: give the PEM text, including its -----BEGIN and -----END lines")]
    Empty {
        /// The empty input.
        input: Input,
    },

    /// The input has no PEM block and is of no binary format recognised here.
    #[error(
        "the {input} is not PEM: no \"-----BEGIN ...-----\" line was found. Only PEM is accepted; \
         a .cer or .crt file that is PEM inside can be used as is, other formats must be \
         converted with openssl (DER, P7B and PFX are recognised and explained)"
    )]
    NotPem {
        /// The input that is not PEM.
        input: Input,
    },

    /// The input is a binary (DER) certificate.
    #[error(
        "the {input} is a DER (binary) certificate, but only PEM is accepted: convert it with \
         `openssl x509 -inform der -in cert.der -out cert.pem`"
    )]
    DerCertificate {
        /// The input that holds the DER certificate.
        input: Input,
    },

    /// The input is a binary (DER) private key.
    #[error(
        "the {input} is a DER (binary) private key, but only PEM is accepted: convert it with \
         `{command}`"
    )]
    DerPrivateKey {
        /// The input that holds the DER key.
        input: Input,
        /// The openssl command that converts this kind of key to PEM.
        command: &'static str,
    },

    /// The input is a PKCS#12 (PFX) bundle.
    #[error(
        "the {input} is a PKCS#12 (PFX) bundle, but only PEM is accepted: extract the \
         certificate with `openssl pkcs12 -in cert.pfx -nokeys -out cert.pem` and the private \
         key with `openssl pkcs12 -in cert.pfx -nocerts -nodes -out key.pem`"
    )]
    Pkcs12 {
        /// The input that holds the PFX bundle.
        input: Input,
    },

    /// The input is a PKCS#7 (P7B) bundle, in PEM or DER form.
    #[error(
        "the {input} is a PKCS#7 (P7B) bundle, but only PEM certificates are accepted: convert \
         it with `openssl pkcs7 -print_certs -in cert.p7b -out cert.pem` and use the \
         -----BEGIN CERTIFICATE----- blocks it prints (a P7B holds no private key: export the \
         key separately, e.g. from IIS)"
    )]
    Pkcs7 {
        /// The input that holds the P7B bundle.
        input: Input,
    },

    /// The private key is protected by a passphrase.
    #[error(
        "the private key is encrypted with a passphrase, which is not supported: decrypt it \
         first with `{command}`"
    )]
    EncryptedKey {
        /// The openssl command that writes the key unencrypted.
        command: &'static str,
    },

    /// A private key was given where certificates are expected.
    #[error(
        "the {input} holds a private key but no certificate: give the certificate \
         (-----BEGIN CERTIFICATE-----) here and the private key separately"
    )]
    KeyInsteadOfCertificate {
        /// The certificate input that holds a key.
        input: Input,
    },

    /// A certificate was given where the private key is expected.
    #[error(
        "the private key input holds a certificate but no private key: give the private key \
         (-----BEGIN RSA PRIVATE KEY-----, -----BEGIN PRIVATE KEY----- or \
         -----BEGIN EC PRIVATE KEY-----) here"
    )]
    CertificateInsteadOfKey,

    /// The certificate input holds only a key and the key input only certificates.
    #[error(
        "the certificate and the private key are swapped: the certificate input holds a private \
         key and the private key input holds a certificate"
    )]
    Swapped,

    /// A certificate signing request was given instead of a certificate.
    #[error(
        "the {input} is a certificate signing request (CSR), not a certificate: submit it to \
         your certificate authority and use the certificate it issues"
    )]
    CertificateRequest {
        /// The input that holds the CSR.
        input: Input,
    },

    /// A public key was given instead of the private key.
    #[error(
        "the private key input holds a public key: the private key is needed (-----BEGIN RSA \
         PRIVATE KEY-----, -----BEGIN PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)"
    )]
    PublicKeyInsteadOfPrivate,

    /// The PEM text has no `CERTIFICATE` block.
    #[error(
        "the {input} has no -----BEGIN CERTIFICATE----- block (it holds: {found}): give the \
         certificate in PEM"
    )]
    NoCertificate {
        /// The input without a certificate.
        input: Input,
        /// The PEM block labels that were found instead.
        found: String,
    },

    /// The PEM text has no private key block.
    #[error(
        "the private key input has no private key block (it holds: {found}): give an \
         RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY block"
    )]
    NoPrivateKey {
        /// The PEM block labels that were found instead.
        found: String,
    },

    /// More than one private key was given.
    #[error(
        "the private key input holds {count} private keys: keep only the one that belongs to \
         the certificate"
    )]
    MultiplePrivateKeys {
        /// How many private key blocks were found.
        count: usize,
    },

    /// The PEM framing or its base64 content is broken.
    #[error(
        "the {input} is not well-formed PEM: {detail}. Each block starts with \
         -----BEGIN <LABEL>----- and ends with -----END <LABEL>-----, with base64 lines between"
    )]
    MalformedPem {
        /// The malformed input.
        input: Input,
        /// What is broken.
        detail: String,
    },

    /// A certificate block does not hold a usable X.509 certificate.
    #[error("certificate {position} of the {input} is not a valid X.509 certificate: {detail}")]
    InvalidCertificate {
        /// The input that holds the certificate.
        input: Input,
        /// 1-based position of the certificate in its input.
        position: usize,
        /// What the parser refused.
        detail: String,
    },

    /// The private key is of a supported format but the crypto provider refuses it.
    #[error(
        "the private key cannot be used: {detail}. Supported are RSA, ECDSA (P-256, P-384, \
         P-521) and Ed25519 keys"
    )]
    InvalidPrivateKey {
        /// What the crypto provider refused.
        detail: String,
    },

    /// The private key's algorithm cannot sign for a TLS server here.
    #[error(
        "the private key's algorithm ({algorithm}) is not supported for server certificates: \
         use an RSA, ECDSA or Ed25519 key"
    )]
    UnsupportedKeyType {
        /// The algorithm or PEM label of the refused key.
        algorithm: String,
    },

    /// The private key does not belong to the server certificate.
    #[error(
        "the private key does not belong to the certificate (their public keys differ): use \
         the key generated with this certificate's request, and put the server certificate \
         first in the certificate file"
    )]
    KeyMismatch,

    /// The chain is not in issuing order.
    #[error(
        "certificate {position} is not issued by certificate {next}: put the server certificate \
         first, then its intermediates in order",
        next = .position + 1
    )]
    ChainOrder {
        /// 1-based position of the certificate whose issuer is not the next certificate.
        position: usize,
    },
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
pub fn load_server_cert(
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
pub fn load_ca_certs(pem: &[u8]) -> Result<RootCertStore, CertError> {
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
pub fn expiry_status(cert: &LoadedCert, now: SystemTime) -> Expiry {
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

// ---------------------------------------------------------------------------
// Reading PEM

const CERTIFICATE_LABEL: &str = "CERTIFICATE";
const SUPPORTED_KEY_LABELS: [&str; 3] = ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY"];

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block of a PEM text.
struct PemBlock<'a> {
    label: String,
    /// The block's text, both marker lines included.
    text: &'a [u8],
    /// A `Proc-Type: 4,ENCRYPTED` header was seen (OpenSSL's legacy encryption).
    encrypted: bool,
}

impl PemBlock<'_> {
    fn is_certificate(&self) -> bool {
        self.label == CERTIFICATE_LABEL
    }

    fn is_private_key(&self) -> bool {
        self.label.ends_with("PRIVATE KEY")
    }

    fn is_public_key(&self) -> bool {
        self.label.ends_with("PUBLIC KEY")
    }

    fn is_certificate_request(&self) -> bool {
        self.label.ends_with("CERTIFICATE REQUEST")
    }
}

/// Reads the server chain, recognising a certificate and key given the wrong way round.
fn read_server_chain(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, CertError> {
    match read_certificates(cert_pem, Input::Certificate) {
        Err(CertError::KeyInsteadOfCertificate { .. }) if holds_only_certificates(key_pem) => {
            Err(CertError::Swapped)
        }
        result => result,
    }
}

fn holds_only_certificates(pem: &[u8]) -> bool {
    read_pem(pem, Input::PrivateKey).is_ok_and(|blocks| {
        blocks.iter().any(PemBlock::is_certificate) && !blocks.iter().any(PemBlock::is_private_key)
    })
}

/// Decodes every `CERTIFICATE` block of `pem`, in order; at least one is required.
fn read_certificates(pem: &[u8], input: Input) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let blocks = read_pem(pem, input)?;
    if blocks.iter().any(|block| block.label == "PKCS7") {
        return Err(CertError::Pkcs7 { input });
    }
    let certs = blocks
        .iter()
        .filter(|block| block.is_certificate())
        .map(|block| {
            CertificateDer::from_pem_slice(block.text).map_err(|err| malformed(input, err))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(missing_certificate(&blocks, input));
    }
    Ok(certs)
}

fn missing_certificate(blocks: &[PemBlock<'_>], input: Input) -> CertError {
    if blocks.iter().any(PemBlock::is_private_key) {
        return CertError::KeyInsteadOfCertificate { input };
    }
    if blocks.iter().any(PemBlock::is_certificate_request) {
        return CertError::CertificateRequest { input };
    }
    CertError::NoCertificate {
        input,
        found: describe_labels(blocks),
    }
}

/// Decodes the single unencrypted private key block of `pem`.
fn read_private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, CertError> {
    let blocks = read_pem(pem, Input::PrivateKey)?;
    let keys: Vec<&PemBlock<'_>> = blocks
        .iter()
        .filter(|block| block.is_private_key())
        .collect();
    if let Some(encrypted) = keys
        .iter()
        .find(|block| block.encrypted || block.label == "ENCRYPTED PRIVATE KEY")
    {
        return Err(CertError::EncryptedKey {
            command: decrypt_command(&encrypted.label),
        });
    }
    match keys.as_slice() {
        [] => Err(missing_private_key(&blocks)),
        [key] => decode_private_key(key),
        _ => Err(CertError::MultiplePrivateKeys { count: keys.len() }),
    }
}

fn decode_private_key(block: &PemBlock<'_>) -> Result<PrivateKeyDer<'static>, CertError> {
    if !SUPPORTED_KEY_LABELS.contains(&block.label.as_str()) {
        return Err(CertError::UnsupportedKeyType {
            algorithm: format!("a \"{}\" block", block.label),
        });
    }
    PrivateKeyDer::from_pem_slice(block.text).map_err(|err| malformed(Input::PrivateKey, err))
}

fn missing_private_key(blocks: &[PemBlock<'_>]) -> CertError {
    if blocks.iter().any(PemBlock::is_certificate) {
        return CertError::CertificateInsteadOfKey;
    }
    if blocks.iter().any(PemBlock::is_public_key) {
        return CertError::PublicKeyInsteadOfPrivate;
    }
    CertError::NoPrivateKey {
        found: describe_labels(blocks),
    }
}

fn decrypt_command(label: &str) -> &'static str {
    match label {
        "RSA PRIVATE KEY" => "openssl rsa -in enc.key -out plain.key",
        "EC PRIVATE KEY" => "openssl ec -in enc.key -out plain.key",
        _ => "openssl pkey -in enc.key -out plain.key",
    }
}

fn describe_labels(blocks: &[PemBlock<'_>]) -> String {
    if blocks.is_empty() {
        return "no PEM block".to_owned();
    }
    let labels: Vec<&str> = blocks.iter().map(|block| block.label.as_str()).collect();
    labels.join(", ")
}

fn malformed(input: Input, err: impl fmt::Display) -> CertError {
    CertError::MalformedPem {
        input,
        detail: err.to_string(),
    }
}

/// Splits `pem` into its blocks, explaining empty and non-PEM input.
fn read_pem(pem: &[u8], input: Input) -> Result<Vec<PemBlock<'_>>, CertError> {
    let pem = pem.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(pem);
    if pem.trim_ascii().is_empty() {
        return Err(CertError::Empty { input });
    }
    if !pem.windows(BEGIN.len()).any(|window| window == BEGIN) {
        return Err(explain_binary(pem, input));
    }
    split_blocks(pem, input)
}

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// A block whose END line has not been seen yet.
struct OpenBlock {
    label: String,
    start: usize,
    encrypted: bool,
}

/// Splits PEM text into blocks; text outside blocks is ignored (as OpenSSL does).
fn split_blocks(pem: &[u8], input: Input) -> Result<Vec<PemBlock<'_>>, CertError> {
    let mut blocks = Vec::new();
    let mut open: Option<OpenBlock> = None;
    let mut offset = 0;
    for raw_line in pem.split_inclusive(|&byte| byte == b'\n' || byte == b'\r') {
        let start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_ascii();
        if let Some(label) = marker_label(line, BEGIN) {
            if let Some(unclosed) = open {
                return Err(unterminated(input, &unclosed.label));
            }
            open = Some(OpenBlock {
                label,
                start,
                encrypted: false,
            });
        } else if let Some(label) = marker_label(line, END) {
            let Some(block) = open.take().filter(|block| block.label == label) else {
                return Err(malformed(
                    input,
                    format!("\"-----END {label}-----\" has no matching BEGIN line"),
                ));
            };
            blocks.push(PemBlock {
                label,
                text: &pem[block.start..offset],
                encrypted: block.encrypted,
            });
        } else if let Some(block) = open.as_mut() {
            block.encrypted |= is_encryption_header(line);
        }
    }
    match open {
        Some(unclosed) => Err(unterminated(input, &unclosed.label)),
        None => Ok(blocks),
    }
}

fn unterminated(input: Input, label: &str) -> CertError {
    malformed(
        input,
        format!("\"-----BEGIN {label}-----\" is not closed by \"-----END {label}-----\""),
    )
}

/// The label of a `-----BEGIN <label>-----` (or END) line.
fn marker_label(line: &[u8], prefix: &[u8]) -> Option<String> {
    let label = line.strip_prefix(prefix)?.strip_suffix(DASHES)?;
    Some(String::from_utf8_lossy(label).trim().to_owned())
}

/// `Proc-Type: 4,ENCRYPTED`, the header of OpenSSL's legacy key encryption.
fn is_encryption_header(line: &[u8]) -> bool {
    line.starts_with(b"Proc-Type:") && line.windows(9).any(|window| window == b"ENCRYPTED")
}

// ---------------------------------------------------------------------------
// Recognising binary formats, to say how to convert them

const DER_SEQUENCE: u8 = 0x30;
const DER_INTEGER: u8 = 0x02;
const DER_OCTET_STRING: u8 = 0x04;
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

fn explain_binary(data: &[u8], input: Input) -> CertError {
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
fn der_element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
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

// ---------------------------------------------------------------------------
// Checking the chain

fn key_kind(algorithm: SignatureAlgorithm) -> Result<KeyKind, CertError> {
    match algorithm {
        SignatureAlgorithm::RSA => Ok(KeyKind::Rsa),
        SignatureAlgorithm::ECDSA => Ok(KeyKind::Ecdsa),
        SignatureAlgorithm::ED25519 => Ok(KeyKind::Ed25519),
        other => Err(CertError::UnsupportedKeyType {
            algorithm: format!("{other:?}"),
        }),
    }
}

/// What [`LoadedCert`] reports about the server certificate.
struct LeafInfo {
    /// The DER `SubjectPublicKeyInfo`, to check the private key against.
    public_key: Vec<u8>,
    not_before: SystemTime,
    not_after: SystemTime,
    subject: String,
}

/// Parses the chain, checks its order and describes the server certificate.
fn inspect_chain(chain: &[CertificateDer<'_>]) -> Result<LeafInfo, CertError> {
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
fn check_key_matches(key: &dyn SigningKey, cert_public_key: &[u8]) -> Result<(), CertError> {
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

fn san_dns_names(leaf: &X509Certificate<'_>) -> Result<Vec<String>, CertError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, RsaKeySize,
    };

    // -- Test material, generated with rcgen at test time ---------------------

    fn provider() -> CryptoProvider {
        rustls::crypto::aws_lc_rs::default_provider()
    }

    fn ecdsa_key() -> KeyPair {
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
    }

    fn rsa_key() -> KeyPair {
        KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap()
    }

    fn params(common_name: &str, dns_names: &[&str]) -> CertificateParams {
        let names: Vec<String> = dns_names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
    }

    fn ca_params(common_name: &str) -> CertificateParams {
        let mut params = params(common_name, &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
    }

    fn self_signed(key: &KeyPair) -> String {
        params("www.example.com", &["www.example.com", "Api.Example.COM"])
            .self_signed(key)
            .unwrap()
            .pem()
    }

    /// A root, an intermediate it signed and a leaf the intermediate signed.
    struct Chain {
        root: String,
        intermediate: String,
        leaf: String,
        leaf_key: KeyPair,
    }

    fn chain() -> Chain {
        let root = CertifiedIssuer::self_signed(ca_params("Test Root CA"), ecdsa_key()).unwrap();
        let intermediate =
            CertifiedIssuer::signed_by(ca_params("Test Intermediate CA"), ecdsa_key(), &root)
                .unwrap();
        let leaf_key = ecdsa_key();
        let leaf = params("www.example.com", &["www.example.com"])
            .signed_by(&leaf_key, &intermediate)
            .unwrap();
        Chain {
            root: root.pem(),
            intermediate: intermediate.pem(),
            leaf: leaf.pem(),
            leaf_key,
        }
    }

    fn with_validity(not_before: SystemTime, not_after: SystemTime) -> LoadedCert {
        let key = ecdsa_key();
        let mut params = params("expiry.example.com", &["expiry.example.com"]);
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        let cert = params.self_signed(&key).unwrap().pem();
        load(&cert, &key.serialize_pem()).unwrap()
    }

    fn load(cert: &str, key: &str) -> Result<LoadedCert, CertError> {
        load_server_cert(cert.as_bytes(), key.as_bytes(), &provider())
    }

    fn days(count: u64) -> Duration {
        Duration::from_secs(count * SECS_PER_DAY)
    }

    /// The key inside a PKCS#8 structure: PKCS#1 for RSA, SEC1 for ECDSA.
    fn unwrap_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
        let (_, info, _) = der_element(pkcs8).unwrap();
        let (_, _version, rest) = der_element(info).unwrap();
        let (_, _algorithm, rest) = der_element(rest).unwrap();
        let (tag, key, _) = der_element(rest).unwrap();
        assert_eq!(tag, DER_OCTET_STRING);
        key.to_vec()
    }

    fn to_pem(label: &str, der: &[u8]) -> String {
        let encoded = base64(der);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    fn base64(data: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let bytes = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let group = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(group >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn cert_der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    // -- Loading keys -------------------------------------------------------------

    #[test]
    fn an_rsa_pkcs1_key_loads() {
        let key = rsa_key();
        let pkcs1 = to_pem("RSA PRIVATE KEY", &unwrap_pkcs8(&key.serialize_der()));
        let loaded = load(&self_signed(&key), &pkcs1).unwrap();
        assert_eq!(loaded.key_kind, KeyKind::Rsa);
    }

    #[test]
    fn an_rsa_pkcs8_key_loads() {
        let key = rsa_key();
        let loaded = load(&self_signed(&key), &key.serialize_pem()).unwrap();
        assert_eq!(loaded.key_kind, KeyKind::Rsa);
    }

    #[test]
    fn an_ecdsa_sec1_key_loads() {
        let key = ecdsa_key();
        let sec1 = to_pem("EC PRIVATE KEY", &unwrap_pkcs8(&key.serialize_der()));
        let loaded = load(&self_signed(&key), &sec1).unwrap();
        assert_eq!(loaded.key_kind, KeyKind::Ecdsa);
    }

    #[test]
    fn an_ecdsa_pkcs8_key_loads() {
        let key = ecdsa_key();
        let loaded = load(&self_signed(&key), &key.serialize_pem()).unwrap();
        assert_eq!(loaded.key_kind, KeyKind::Ecdsa);
    }

    #[test]
    fn an_ed25519_key_loads() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let loaded = load(&self_signed(&key), &key.serialize_pem()).unwrap();
        assert_eq!(loaded.key_kind, KeyKind::Ed25519);
    }

    #[test]
    fn a_loaded_certificate_reports_subject_names_and_validity() {
        let key = ecdsa_key();
        let loaded = load(&self_signed(&key), &key.serialize_pem()).unwrap();
        assert_eq!(loaded.subject, "CN=www.example.com");
        let (_, leaf) =
            x509_parser::parse_x509_certificate(loaded.certified_key.cert[0].as_ref()).unwrap();
        assert_eq!(
            san_dns_names(&leaf).unwrap(),
            ["www.example.com", "api.example.com"]
        );
        assert!(loaded.not_before < loaded.not_after);
        assert_eq!(loaded.certified_key.cert.len(), 1);
    }

    #[test]
    fn a_file_holding_both_certificate_and_key_can_be_given_twice() {
        let key = ecdsa_key();
        let both = format!("{}{}", self_signed(&key), key.serialize_pem());
        assert!(load(&both, &both).is_ok());
    }

    #[test]
    fn crlf_line_endings_and_a_byte_order_mark_are_accepted() {
        let key = ecdsa_key();
        let cert = format!("\u{feff}{}", self_signed(&key).replace('\n', "\r\n"));
        assert!(load(&cert, &key.serialize_pem().replace('\n', "\r\n")).is_ok());
    }

    // -- Chains ---------------------------------------------------------------------

    #[test]
    fn a_leaf_with_its_intermediate_loads() {
        let chain = chain();
        let pem = format!("{}{}", chain.leaf, chain.intermediate);
        let loaded = load(&pem, &chain.leaf_key.serialize_pem()).unwrap();
        assert_eq!(loaded.certified_key.cert.len(), 2);
        assert_eq!(loaded.subject, "CN=www.example.com");
    }

    #[test]
    fn a_full_chain_up_to_the_root_loads() {
        let chain = chain();
        let pem = format!("{}{}{}", chain.leaf, chain.intermediate, chain.root);
        let loaded = load(&pem, &chain.leaf_key.serialize_pem()).unwrap();
        assert_eq!(loaded.certified_key.cert.len(), 3);
    }

    #[test]
    fn a_reversed_chain_is_refused_with_the_position() {
        let chain = chain();
        let pem = format!("{}{}", chain.intermediate, chain.leaf);
        let err = load(&pem, &chain.leaf_key.serialize_pem()).unwrap_err();
        assert!(
            matches!(err, CertError::ChainOrder { position: 1 }),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("certificate 1 is not issued by certificate 2: put the server")
        );
    }

    #[test]
    fn a_chain_skipping_the_intermediate_is_refused_at_that_position() {
        let chain = chain();
        let pem = format!("{}{}{}", chain.leaf, chain.intermediate, chain.leaf);
        let err = load(&pem, &chain.leaf_key.serialize_pem()).unwrap_err();
        assert!(
            matches!(err, CertError::ChainOrder { position: 2 }),
            "{err}"
        );
    }

    #[test]
    fn the_key_of_another_certificate_is_a_mismatch() {
        let key = ecdsa_key();
        let other = ecdsa_key();
        let err = load(&self_signed(&key), &other.serialize_pem()).unwrap_err();
        assert!(matches!(err, CertError::KeyMismatch), "{err}");
    }

    #[test]
    fn a_key_of_another_type_is_a_mismatch() {
        let err = load(&self_signed(&ecdsa_key()), &rsa_key().serialize_pem()).unwrap_err();
        assert!(matches!(err, CertError::KeyMismatch), "{err}");
    }

    // -- Formats other than PEM ---------------------------------------------------------

    #[test]
    fn a_der_certificate_is_refused_with_the_openssl_command() {
        let key = ecdsa_key();
        let der = cert_der(&self_signed(&key));
        let err = load_server_cert(&der, key.serialize_pem().as_bytes(), &provider()).unwrap_err();
        assert!(matches!(err, CertError::DerCertificate { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("openssl x509 -inform der -in cert.der -out cert.pem")
        );
    }

    #[test]
    fn a_der_key_is_refused_with_the_openssl_command_for_its_kind() {
        let rsa = rsa_key();
        let pkcs1 = unwrap_pkcs8(&rsa.serialize_der());
        let err = read_private_key(&pkcs1).unwrap_err();
        assert!(
            err.to_string()
                .contains("openssl rsa -inform DER -outform PEM -in key.der -out key.pem"),
            "{err}"
        );
        let err = read_private_key(&ecdsa_key().serialize_der()).unwrap_err();
        assert!(
            err.to_string().contains("openssl pkey -inform DER"),
            "{err}"
        );
        let sec1 = unwrap_pkcs8(&ecdsa_key().serialize_der());
        let err = read_private_key(&sec1).unwrap_err();
        assert!(err.to_string().contains("openssl ec -inform DER"), "{err}");
    }

    #[test]
    fn a_pfx_looking_input_is_refused_with_both_pkcs12_commands() {
        // PFX ::= SEQUENCE { version INTEGER 3, authSafe SEQUENCE { ... } }
        let pfx = [0x30, 0x08, 0x02, 0x01, 0x03, 0x30, 0x03, 0x02, 0x01, 0x00];
        let err = read_certificates(&pfx, Input::Certificate).unwrap_err();
        assert!(matches!(err, CertError::Pkcs12 { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("openssl pkcs12 -in cert.pfx -nokeys -out cert.pem"));
        assert!(message.contains("openssl pkcs12 -in cert.pfx -nocerts -nodes -out key.pem"));
    }

    #[test]
    fn a_p7b_is_refused_with_the_openssl_command_in_pem_and_der_form() {
        let pem = b"-----BEGIN PKCS7-----\nMAsGCSqGSIb3DQEHAg==\n-----END PKCS7-----\n";
        let der = [
            0x30, 0x0B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
        ];
        for input in [&pem[..], &der[..]] {
            let err = read_certificates(input, Input::Certificate).unwrap_err();
            assert!(matches!(err, CertError::Pkcs7 { .. }), "{err}");
            assert!(
                err.to_string()
                    .contains("openssl pkcs7 -print_certs -in cert.p7b -out cert.pem")
            );
        }
    }

    #[test]
    fn text_without_pem_markers_is_refused_as_not_pem() {
        let err = read_certificates(b"MIIBkTCB+wIJAKHHIG...", Input::Certificate).unwrap_err();
        assert!(matches!(err, CertError::NotPem { .. }), "{err}");
    }

    #[test]
    fn an_empty_file_is_refused() {
        for input in [&b""[..], b" \r\n\t\n"] {
            let err = load_server_cert(input, b"", &provider()).unwrap_err();
            assert!(
                matches!(
                    err,
                    CertError::Empty {
                        input: Input::Certificate
                    }
                ),
                "{err}"
            );
        }
        let err = load(&self_signed(&ecdsa_key()), "").unwrap_err();
        assert!(
            matches!(
                err,
                CertError::Empty {
                    input: Input::PrivateKey
                }
            ),
            "{err}"
        );
    }

    // -- Wrong content ----------------------------------------------------------------

    #[test]
    fn a_certificate_file_given_as_key_is_refused() {
        let cert = self_signed(&ecdsa_key());
        let err = load(&cert, &cert).unwrap_err();
        assert!(matches!(err, CertError::CertificateInsteadOfKey), "{err}");
    }

    #[test]
    fn a_key_file_given_as_certificate_is_refused() {
        let key = ecdsa_key().serialize_pem();
        let err = load(&key, &key).unwrap_err();
        assert!(
            matches!(err, CertError::KeyInsteadOfCertificate { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_certificate_and_key_given_the_wrong_way_round_are_called_swapped() {
        let key = ecdsa_key();
        let err = load(&key.serialize_pem(), &self_signed(&key)).unwrap_err();
        assert!(matches!(err, CertError::Swapped), "{err}");
    }

    #[test]
    fn a_certificate_request_is_refused_as_a_csr() {
        let key = ecdsa_key();
        let csr = params("www.example.com", &["www.example.com"])
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let err = load(&csr, &key.serialize_pem()).unwrap_err();
        assert!(matches!(err, CertError::CertificateRequest { .. }), "{err}");
    }

    #[test]
    fn a_public_key_given_as_private_key_is_refused() {
        let key = ecdsa_key();
        let err = load(&self_signed(&key), &key.public_key_pem()).unwrap_err();
        assert!(matches!(err, CertError::PublicKeyInsteadOfPrivate), "{err}");
    }

    #[test]
    fn two_private_keys_are_refused() {
        let key = ecdsa_key();
        let keys = format!("{}{}", key.serialize_pem(), ecdsa_key().serialize_pem());
        let err = load(&self_signed(&key), &keys).unwrap_err();
        assert!(
            matches!(err, CertError::MultiplePrivateKeys { count: 2 }),
            "{err}"
        );
    }

    #[test]
    fn an_encrypted_pkcs8_key_is_refused_with_the_decrypt_command() {
        let key = ecdsa_key();
        let encrypted = to_pem("ENCRYPTED PRIVATE KEY", &key.serialize_der());
        let err = load(&self_signed(&key), &encrypted).unwrap_err();
        assert!(
            err.to_string()
                .contains("decrypt it first with `openssl pkey -in enc.key -out plain.key`"),
            "{err}"
        );
    }

    #[test]
    fn a_legacy_encrypted_rsa_key_is_refused_with_the_decrypt_command() {
        let encrypted = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                         DEK-Info: AES-128-CBC,3F17F5316E2BAC89AE8FB8A9A4E6D4B3\n\n\
                         bm90IGEgcmVhbCBrZXk=\n-----END RSA PRIVATE KEY-----\n";
        let err = read_private_key(encrypted.as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("openssl rsa -in enc.key -out plain.key"),
            "{err}"
        );
    }

    #[test]
    fn an_unterminated_block_is_malformed_pem() {
        let cert = self_signed(&ecdsa_key());
        let truncated = cert.replace("-----END CERTIFICATE-----", "");
        let err = read_certificates(truncated.as_bytes(), Input::Certificate).unwrap_err();
        assert!(matches!(err, CertError::MalformedPem { .. }), "{err}");
        assert!(err.to_string().contains("is not closed by"), "{err}");
    }

    #[test]
    fn broken_base64_is_malformed_pem() {
        let pem = "-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n";
        let err = read_certificates(pem.as_bytes(), Input::Certificate).unwrap_err();
        assert!(matches!(err, CertError::MalformedPem { .. }), "{err}");
    }

    #[test]
    fn a_certificate_block_with_garbage_is_an_invalid_certificate() {
        let pem = to_pem("CERTIFICATE", b"garbage that is not DER");
        let err = load(&pem, &ecdsa_key().serialize_pem()).unwrap_err();
        assert!(
            matches!(err, CertError::InvalidCertificate { position: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_key_block_with_garbage_is_an_invalid_private_key() {
        let garbage = to_pem("PRIVATE KEY", b"garbage that is not a key");
        let err = load(&self_signed(&ecdsa_key()), &garbage).unwrap_err();
        assert!(matches!(err, CertError::InvalidPrivateKey { .. }), "{err}");
    }

    #[test]
    fn an_unsupported_key_block_is_refused() {
        let dsa = to_pem("DSA PRIVATE KEY", b"whatever");
        let err = read_private_key(dsa.as_bytes()).unwrap_err();
        assert!(matches!(err, CertError::UnsupportedKeyType { .. }), "{err}");
    }

    // -- Expiry ----------------------------------------------------------------------

    #[test]
    fn a_certificate_valid_for_months_is_valid() {
        let now = SystemTime::now();
        let cert = with_validity(now - days(1), now + days(90));
        assert_eq!(expiry_status(&cert, now), Expiry::Valid);
    }

    #[test]
    fn a_certificate_ending_in_ten_days_expires_soon() {
        let now = SystemTime::now();
        let cert = with_validity(now - days(1), now + days(10));
        assert!(matches!(
            expiry_status(&cert, now),
            Expiry::ExpiresSoon { days: 9 | 10 }
        ));
    }

    #[test]
    fn a_certificate_past_its_end_is_expired() {
        let now = SystemTime::now();
        let cert = with_validity(now - days(30), now - days(1));
        assert_eq!(expiry_status(&cert, now), Expiry::Expired);
    }

    #[test]
    fn a_certificate_before_its_start_is_not_yet_valid() {
        let now = SystemTime::now();
        let cert = with_validity(now + days(1), now + days(90));
        assert_eq!(expiry_status(&cert, now), Expiry::NotYetValid);
    }

    #[test]
    fn expiry_boundaries_follow_the_thirty_day_threshold_and_inclusive_end() {
        let now = SystemTime::now();
        let cert = with_validity(now - days(1), now + days(90));
        let end = cert.not_after;
        let second = Duration::from_secs(1);
        assert_eq!(expiry_status(&cert, end - days(30)), Expiry::Valid);
        assert_eq!(
            expiry_status(&cert, end - days(30) + second),
            Expiry::ExpiresSoon { days: 29 }
        );
        assert_eq!(expiry_status(&cert, end), Expiry::ExpiresSoon { days: 0 });
        assert_eq!(expiry_status(&cert, end + second), Expiry::Expired);
        assert_eq!(
            expiry_status(&cert, cert.not_before - second),
            Expiry::NotYetValid
        );
    }

    // -- CA bundles ------------------------------------------------------------------

    #[test]
    fn a_ca_bundle_loads_every_certificate() {
        let chain = chain();
        let bundle = format!("{}\n{}", chain.root, chain.intermediate);
        let store = load_ca_certs(bundle.as_bytes()).unwrap();
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn a_ca_bundle_holding_only_a_key_is_refused() {
        let err = load_ca_certs(ecdsa_key().serialize_pem().as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::KeyInsteadOfCertificate {
                    input: Input::CaBundle
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_der_ca_certificate_is_refused_with_the_openssl_command() {
        let der = cert_der(&chain().root);
        let err = load_ca_certs(&der).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::DerCertificate {
                    input: Input::CaBundle
                }
            ),
            "{err}"
        );
    }
}

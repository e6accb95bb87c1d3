//! Reading PEM: splitting the text into labelled blocks, then taking the
//! certificates or the one private key out of them.

use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::der::explain_binary;
use super::error::{CertError, Input};

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
pub(super) fn read_server_chain(
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
pub(super) fn read_certificates(
    pem: &[u8],
    input: Input,
) -> Result<Vec<CertificateDer<'static>>, CertError> {
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
pub(super) fn read_private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, CertError> {
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

//! Which input an error concerns ([`Input`]) and why a certificate, key or CA
//! bundle was refused ([`CertError`]), with the fix where there is one.

use std::fmt;

/// Which input an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The server certificate (chain) of a [`load_server_cert`](super::load_server_cert) call.
    Certificate,
    /// The private key of a [`load_server_cert`](super::load_server_cert) call.
    PrivateKey,
    /// The client CA bundle of a [`load_ca_certs`](super::load_ca_certs) call.
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

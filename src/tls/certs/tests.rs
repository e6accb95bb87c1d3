//! Loading certificates, keys and CA bundles made with rcgen at test time,
//! and the refusal of each malformed or mismatched input.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, RsaKeySize,
};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::chain::san_dns_names;
use super::der::{DER_OCTET_STRING, der_element};
use super::error::{CertError, Input};
use super::pem::{read_certificates, read_private_key};
use super::{
    Expiry, KeyKind, LoadedCert, SECS_PER_DAY, expiry_status, load_ca_certs, load_server_cert,
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
        CertifiedIssuer::signed_by(ca_params("Test Intermediate CA"), ecdsa_key(), &root).unwrap();
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

//! Certificates handed to the API: checked, described, and stored as PEM
//! files in `state_dir/certs/` (folder 0700, files 0600).

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::persist::{private_dir, write_atomic};
use crate::calendar::civil_from_days;
use crate::config::model::{CertificateEntry, CertificateKind};

/// What DescribeCerts shows about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    /// The subject's common name, else the first DNS name.
    pub domain: String,
    /// DNS names of the subjectAltName extension.
    pub sans: Vec<String>,
    /// notBefore, `YYYY-MM-DD HH:MM:SS` UTC.
    pub not_before: String,
    /// notAfter, `YYYY-MM-DD HH:MM:SS` UTC.
    pub not_after: String,
    /// `rsa`, `ecc` or `other`, from the public key.
    pub algorithm: &'static str,
}

/// Parses a PEM chain and describes its first certificate.
pub(crate) fn inspect(pem: &str) -> Result<CertInfo, String> {
    let chain = chain(pem)?;
    let Some(leaf) = chain.first() else {
        return Err("contains no CERTIFICATE block".into());
    };
    let (_, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| format!("the first certificate cannot be parsed: {e}"))?;
    let sans: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned);
    let algorithm = match cert
        .public_key()
        .algorithm
        .algorithm
        .to_id_string()
        .as_str()
    {
        "1.2.840.113549.1.1.1" => "rsa",
        "1.2.840.10045.2.1" => "ecc",
        _ => "other",
    };
    Ok(CertInfo {
        domain: cn.or_else(|| sans.first().cloned()).unwrap_or_default(),
        sans,
        not_before: format_time(cert.validity().not_before.timestamp()),
        not_after: format_time(cert.validity().not_after.timestamp()),
        algorithm,
    })
}

/// The DER certificates of a PEM text.
fn chain(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not a PEM certificate chain: {e}"))
}

/// Checks that `key` is a PEM private key (PKCS#1, PKCS#8 or SEC1) that
/// belongs to the first certificate of `cert`.
pub(crate) fn check_key(cert: &str, key: &str) -> Result<(), String> {
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| format!("is not a PEM private key: {e}"))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    rustls::sign::CertifiedKey::from_der(chain(cert)?, key, &provider)
        .map(|_| ())
        .map_err(|e| format!("does not match the certificate: {e}"))
}

/// A certificate written to `state_dir` and its store entry.
#[derive(Debug, Clone)]
pub struct StoredCert {
    /// The `[[certificate]]` entry to add.
    pub entry: CertificateEntry,
    /// The files written (to remove if the configuration write fails).
    pub files: Vec<PathBuf>,
}

impl StoredCert {
    /// Removes the files (after a refused configuration write).
    pub fn discard(&self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Where certificates go: `state_dir` as resolved (to write) and as written
/// in the file (to reference, relative to the file's folder like it).
#[derive(Debug, Clone)]
pub struct CertDir {
    /// `state_dir` resolved against the configuration file's folder.
    pub resolved: PathBuf,
    /// `global.state_dir` as written in the file.
    pub as_written: String,
}

impl CertDir {
    /// Writes `cert` (and `key`) as `certs/<id>.crt` / `certs/<id>.key`,
    /// mode 0600, durably, and returns the entry that references them.
    pub fn store(
        &self,
        id: &str,
        kind: CertificateKind,
        alias: Option<String>,
        cert: &str,
        key: Option<&str>,
    ) -> std::io::Result<StoredCert> {
        let dir = self.resolved.join("certs");
        private_dir(&self.resolved)?;
        private_dir(&dir)?;
        let mut files = Vec::new();
        let cert_path = dir.join(format!("{id}.crt"));
        write_atomic(&cert_path, cert.as_bytes(), 0o600)?;
        files.push(cert_path);
        let key_ref = match key {
            Some(k) => {
                let key_path = dir.join(format!("{id}.key"));
                if let Err(e) = write_atomic(&key_path, k.as_bytes(), 0o600) {
                    let _ = std::fs::remove_file(&files[0]);
                    return Err(e);
                }
                files.push(key_path);
                Some(self.reference(&format!("{id}.key")))
            }
            None => None,
        };
        Ok(StoredCert {
            entry: CertificateEntry {
                id: id.to_owned(),
                kind,
                cert: self.reference(&format!("{id}.crt")),
                key: key_ref,
                alias,
            },
            files,
        })
    }

    fn reference(&self, name: &str) -> String {
        Path::new(&self.as_written)
            .join("certs")
            .join(name)
            .to_string_lossy()
            .into_owned()
    }

    /// Whether `path` (as written in an entry) is a file this store wrote.
    pub fn owns(&self, path: &str) -> bool {
        Path::new(path).starts_with(Path::new(&self.as_written).join("certs"))
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a UNIX timestamp.
pub(crate) fn format_time(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_generated_certificate_and_checks_its_key() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["www.example.com".into()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = inspect(&cert.pem()).unwrap();
        assert_eq!(info.sans, ["www.example.com"]);
        assert_eq!(info.algorithm, "ecc");
        check_key(&cert.pem(), &key.serialize_pem()).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        assert!(check_key(&cert.pem(), &other.serialize_pem()).is_err());
        assert!(inspect("not a pem").is_err());
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_795_698_497), "2026-11-26 13:08:17");
    }
}

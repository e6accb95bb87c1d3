//! Compiling the TLS side of HTTPS listeners (certificates are read here).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;

use crate::config::model::CertificateKind;
use crate::config::{CertFiles, CustomConfig, Issue, ListenerConfig, Site, SslMode};
use crate::tls::certs::{
    CertError, Expiry, LoadedCert, expiry_status, load_ca_certs, load_server_cert,
};
use crate::tls::{ListenerTls, ServerParams, TlsIdentity, identity, server_config};

use super::snapshot::State;

/// Certificates read during one compile, so a file used twice is read once
/// and a bad one is reported once, where it is first named.
#[derive(Default)]
pub(super) struct CertCache {
    loaded: HashMap<CertFiles, Arc<LoadedCert>>,
    failed: HashSet<CertFiles>,
}

impl CertCache {
    fn load(&mut self, files: &CertFiles, issues: &mut Vec<Issue>) -> Option<Arc<LoadedCert>> {
        if let Some(c) = self.loaded.get(files) {
            return Some(c.clone());
        }
        if self.failed.contains(files) {
            return None;
        }
        let loaded = match read_server_cert(files) {
            Ok(l) => Arc::new(l),
            Err(e) => {
                issues.push(e);
                self.failed.insert(files.clone());
                return None;
            }
        };
        let what = describe(files);
        match expiry_status(&loaded, SystemTime::now()) {
            Expiry::Expired => {
                tracing::error!(certificate = %what, subject = %loaded.subject, "certificate has expired")
            }
            Expiry::NotYetValid => {
                tracing::error!(certificate = %what, subject = %loaded.subject, "certificate is not valid yet")
            }
            Expiry::ExpiresSoon { days } => {
                tracing::warn!(certificate = %what, subject = %loaded.subject, days, "certificate expires soon")
            }
            Expiry::Valid => {}
        }
        self.loaded.insert(files.clone(), loaded.clone());
        Some(loaded)
    }

    /// Reads a client CA bundle (a bad one is reported once).
    fn load_ca(
        &mut self,
        files: &CertFiles,
        issues: &mut Vec<Issue>,
    ) -> Option<rustls::RootCertStore> {
        if self.failed.contains(files) {
            return None;
        }
        match read_ca(files) {
            Ok(roots) => Some(roots),
            Err(e) => {
                issues.push(e);
                self.failed.insert(files.clone());
                None
            }
        }
    }
}

fn issue(field: &str, message: String) -> Issue {
    Issue {
        line: None,
        field: field.to_owned(),
        message,
    }
}

/// How logs and errors name a certificate: its store id, else its file.
fn describe(files: &CertFiles) -> String {
    files.id.as_deref().map_or_else(
        || files.cert.display().to_string(),
        |id| format!("certificate {id}"),
    )
}

/// An issue at `site` (where a file is named).
fn issue_at(site: &Site, message: String) -> Issue {
    Issue {
        line: site.line,
        field: site.field.clone(),
        message,
    }
}

/// Reads and checks a server certificate and its key; a problem is
/// reported at the field that names the file at fault.
fn read_server_cert(files: &CertFiles) -> Result<LoadedCert, Issue> {
    let at = &files.named_at;
    let what = describe(files);
    let cert = std::fs::read(&files.cert)
        .map_err(|e| issue_at(&at.cert, format!("{}: {e}", files.cert.display())))?;
    let Some(key_path) = &files.key else {
        return Err(issue_at(&at.key, format!("{what}: no private key")));
    };
    let key = std::fs::read(key_path)
        .map_err(|e| issue_at(&at.key, format!("{}: {e}", key_path.display())))?;
    load_server_cert(&cert, &key, &crate::tls::provider()).map_err(|e| {
        let site = if names_the_key(&e) { &at.key } else { &at.cert };
        issue_at(site, format!("{what}: {e}"))
    })
}

/// Whether a certificate error is the key's fault (or the pair's).
fn names_the_key(e: &CertError) -> bool {
    use crate::tls::certs::Input;
    matches!(
        e,
        CertError::KeyMismatch
            | CertError::Swapped
            | CertError::EncryptedKey { .. }
            | CertError::DerPrivateKey { .. }
            | CertError::CertificateInsteadOfKey
            | CertError::PublicKeyInsteadOfPrivate
            | CertError::NoPrivateKey { .. }
            | CertError::MultiplePrivateKeys { .. }
            | CertError::InvalidPrivateKey { .. }
            | CertError::UnsupportedKeyType { .. }
            | CertError::Empty {
                input: Input::PrivateKey
            }
            | CertError::NotPem {
                input: Input::PrivateKey
            }
    )
}

/// Reads a client CA bundle.
fn read_ca(files: &CertFiles) -> Result<rustls::RootCertStore, Issue> {
    let at = &files.named_at.cert;
    let pem = std::fs::read(&files.cert)
        .map_err(|e| issue_at(at, format!("{}: {e}", files.cert.display())))?;
    load_ca_certs(&pem).map_err(|e| issue_at(at, format!("{}: {e}", files.cert.display())))
}

/// Reads every entry of the certificate store, referenced or not, so that a
/// missing file or a key that does not match its certificate is refused
/// whether or not a listener uses it yet.
pub(super) fn check_store(
    store: &[(CertificateKind, CertFiles)],
    cache: &mut CertCache,
    issues: &mut Vec<Issue>,
) {
    for (kind, files) in store {
        match kind {
            CertificateKind::Server => {
                cache.load(files, issues);
            }
            CertificateKind::Ca => {
                cache.load_ca(files, issues);
            }
        }
    }
}

/// The listener's TLS configurations and each domain's identity (in
/// domain order), or the problems found.
pub(super) fn compile_listener_tls(
    l: &ListenerConfig,
    custom: &CustomConfig,
    state: &State,
    cache: &mut CertCache,
    issues: &mut Vec<Issue>,
) -> Option<(ListenerTls, Vec<TlsIdentity>)> {
    let tls = l.tls.as_ref()?;
    let field = format!("listener {}", l.id);
    let provider = provider_for(custom, issues, &field)?;
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if custom.ssl_protocols.tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if custom.ssl_protocols.tls12 {
        versions.push(&rustls::version::TLS12);
    }
    let client_auth = match (tls.ssl_mode, &tls.client_ca) {
        (SslMode::Mutual, Some(ca)) => {
            let roots = cache.load_ca(ca, issues)?;
            Some((Arc::new(roots), custom.ssl_verify_depth))
        }
        _ => None,
    };
    let mutual_ca = client_auth.as_ref().and(tls.client_ca.as_ref());

    let mut configs = HashMap::new();
    let mut build = |files: &[CertFiles],
                     h2: bool,
                     cache: &mut CertCache,
                     issues: &mut Vec<Issue>|
     -> Option<TlsIdentity> {
        let id = identity(files, h2, mutual_ca);
        if configs.contains_key(&id) {
            return Some(id);
        }
        let certs: Vec<Arc<LoadedCert>> = files
            .iter()
            .map(|f| cache.load(f, issues))
            .collect::<Option<_>>()?;
        if let [first, second] = &certs[..]
            && first.key_kind == second.key_kind
        {
            issues.push(issue_at(
                &files[1].named_at.cert,
                format!(
                    "two {} certificates side by side: give at most one RSA and one ECDSA certificate",
                    first.key_kind
                ),
            ));
            return None;
        }
        let params = ServerParams {
            certs,
            h2,
            provider: provider.clone(),
            versions: &versions,
            client_auth: client_auth.clone(),
            ticketer: state.tls_tickets.clone(),
            sessions: state.tls_sessions.clone(),
        };
        match server_config(params) {
            Ok(c) => {
                configs.insert(id, Arc::new(c));
                Some(id)
            }
            Err(e) => {
                issues.push(issue(&field, format!("TLS configuration: {e}")));
                None
            }
        }
    };
    let mut domain_ids = Vec::with_capacity(l.domains.len());
    for d in &l.domains {
        let files = if tls.sni && !d.certificates.is_empty() {
            &d.certificates
        } else {
            &tls.certificates
        };
        domain_ids.push(build(files, d.http2, cache, issues)?);
    }
    let default_h2 = l
        .default_domain
        .and_then(|i| l.domains.get(i))
        .is_none_or(|d| d.http2);
    let fallback = if tls.certificates.is_empty() {
        let i = l.default_domain.unwrap_or(0);
        *domain_ids.get(i)?
    } else {
        build(&tls.certificates, default_h2, cache, issues)?
    };
    Some((ListenerTls::new(configs, fallback), domain_ids))
}

/// The crypto provider with the TLS 1.2 suites `ssl_ciphers` selects (TLS
/// 1.3 suites are always on).
fn provider_for(
    custom: &CustomConfig,
    issues: &mut Vec<Issue>,
    field: &str,
) -> Option<Arc<CryptoProvider>> {
    let base = crate::tls::provider();
    let Some(spec) = &custom.ssl_ciphers else {
        return Some(base);
    };
    match crate::tls::ciphers::select_tls12_suites(spec, &base) {
        Ok(tls12) => {
            let mut suites: Vec<_> = base
                .cipher_suites
                .iter()
                .filter(|s| s.tls13().is_some())
                .copied()
                .collect();
            suites.extend(tls12);
            Some(Arc::new(CryptoProvider {
                cipher_suites: suites,
                ..(*base).clone()
            }))
        }
        Err(_) if !custom.ssl_protocols.tls12 => Some(base),
        Err(e) => {
            issues.push(issue(
                &format!("{field} custom_config ssl_ciphers"),
                e.to_string(),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::config::Config;
    use crate::runtime::snapshot::{Snapshot, State};

    /// A scratch folder with self-signed ECDSA pairs `<name>.pem` / `<name>.key`.
    fn scratch(test: &str, names: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stgw-tls-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in names {
            let ck = rcgen::generate_simple_self_signed(vec![format!("{name}.test")]).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), ck.cert.pem()).unwrap();
            std::fs::write(
                dir.join(format!("{name}.key")),
                ck.signing_key.serialize_pem(),
            )
            .unwrap();
        }
        dir
    }

    /// `store` entries and one HTTPS listener with `certificate`.
    fn compile(dir: &Path, store: &str, certificate: &str) -> Result<(), String> {
        let text = format!(
            r#"{store}
[[load_balancer]]
name = "t"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  protocol = "HTTPS"
  port = 8443
  certificate = {certificate}
    [[load_balancer.listener.domain]]
    name = "a.test"
      [[load_balancer.listener.domain.rule]]
      url = "/"
"#
        );
        let path = dir.join("stgw.toml");
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path).map_err(|e| e.to_string())?;
        let state = State::ephemeral().unwrap();
        Snapshot::compile(std::sync::Arc::new(config), &state)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_unreferenced_store_certificate_is_read_and_refused_when_broken() {
        let dir = scratch("store", &["a", "b"]);
        let inline = r#"{ cert = "a.pem", key = "a.key" }"#;
        let ok = "[[certificate]]\nid = \"cert-b\"\ncert = \"b.pem\"\nkey = \"b.key\"\n";
        compile(&dir, ok, inline).unwrap();
        let missing = ok.replace("b.key", "gone.key");
        let e = compile(&dir, &missing, inline).unwrap_err();
        assert!(
            e.contains("stgw.toml:4: certificate[0].key:") && e.contains("gone.key"),
            "{e}"
        );
        let mismatch = ok.replace("b.key", "a.key");
        let e = compile(&dir, &mismatch, inline).unwrap_err();
        assert!(
            e.contains("stgw.toml:4: certificate[0].key: certificate cert-b:"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn certificate_file_errors_name_the_line_and_field_that_names_the_file() {
        let dir = scratch("lines", &["a"]);
        let e = compile(&dir, "", r#"{ cert = "nope.pem", key = "a.key" }"#).unwrap_err();
        assert!(
            e.contains("stgw.toml:8: load_balancer[0].listener[0].certificate.cert:")
                && e.contains("nope.pem"),
            "{e}"
        );
        // Referenced by id: reported once, where the store names the file.
        let store = "[[certificate]]\nid = \"cert-a\"\ncert = \"nope.pem\"\nkey = \"a.key\"\n";
        let e = compile(&dir, store, r#"{ id = "cert-a" }"#).unwrap_err();
        assert!(e.contains("stgw.toml:3: certificate[0].cert:"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn two_certificates_of_one_key_type_are_refused() {
        let dir = scratch("pair", &["a", "b"]);
        let e = compile(
            &dir,
            "",
            r#"[{ cert = "a.pem", key = "a.key" }, { cert = "b.pem", key = "b.key" }]"#,
        )
        .unwrap_err();
        assert!(
            e.contains("stgw.toml:8: load_balancer[0].listener[0].certificate[1].cert: two ECDSA certificates"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

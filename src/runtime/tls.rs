//! Compiling the TLS side of HTTPS listeners (certificates are read here).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;

use crate::config::{CertFiles, CustomConfig, Issue, ListenerConfig, SslMode};
use crate::tls::certs::{Expiry, LoadedCert, expiry_status, load_ca_certs, load_server_cert};
use crate::tls::{ListenerTls, ServerParams, TlsIdentity, identity, server_config};

use super::snapshot::State;

/// Certificates read during one compile, so a file used twice is read once.
#[derive(Default)]
pub struct CertCache {
    loaded: HashMap<CertFiles, Arc<LoadedCert>>,
}

impl CertCache {
    fn load(
        &mut self,
        files: &CertFiles,
        issues: &mut Vec<Issue>,
        field: &str,
    ) -> Option<Arc<LoadedCert>> {
        if let Some(c) = self.loaded.get(files) {
            return Some(c.clone());
        }
        let what = files.id.as_deref().map_or_else(
            || files.cert.display().to_string(),
            |id| format!("certificate {id}"),
        );
        let cert = match std::fs::read(&files.cert) {
            Ok(pem) => pem,
            Err(e) => {
                issues.push(issue(field, format!("{}: {e}", files.cert.display())));
                return None;
            }
        };
        let key = match files.key.as_ref().map(std::fs::read) {
            Some(Ok(pem)) => pem,
            Some(Err(e)) => {
                let path = files
                    .key
                    .as_ref()
                    .map(|k| k.display().to_string())
                    .unwrap_or_default();
                issues.push(issue(field, format!("{path}: {e}")));
                return None;
            }
            None => {
                issues.push(issue(field, format!("{what}: no private key")));
                return None;
            }
        };
        let loaded = match load_server_cert(&cert, &key, &crate::tls::provider()) {
            Ok(l) => Arc::new(l),
            Err(e) => {
                issues.push(issue(field, format!("{what}: {e}")));
                return None;
            }
        };
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
}

fn issue(field: &str, message: String) -> Issue {
    Issue {
        line: None,
        field: field.to_owned(),
        message,
    }
}

/// The listener's TLS configurations and each domain's identity (in
/// domain order), or the problems found.
pub fn compile_listener_tls(
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
            let pem = match std::fs::read(&ca.cert) {
                Ok(p) => p,
                Err(e) => {
                    issues.push(issue(
                        &format!("{field} client_ca"),
                        format!("{}: {e}", ca.cert.display()),
                    ));
                    return None;
                }
            };
            match load_ca_certs(&pem) {
                Ok(roots) => Some((Arc::new(roots), custom.ssl_verify_depth)),
                Err(e) => {
                    issues.push(issue(
                        &format!("{field} client_ca"),
                        format!("{}: {e}", ca.cert.display()),
                    ));
                    return None;
                }
            }
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
            .map(|f| cache.load(f, issues, &field))
            .collect::<Option<_>>()?;
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

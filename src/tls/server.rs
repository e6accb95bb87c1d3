//! TLS termination for HTTPS listeners.
//!
//! The ClientHello is read first; its SNI picks a domain with the same
//! matcher as routing (exact, wildcard, regex — never the default domain),
//! and the domain picks one of the listener's server configurations: its
//! certificate(s) (the domain's own with `sni = true`, else the
//! listener's), ALPN (`h2` only for domains with `http2 = true`) and client
//! authentication. A ClientHello that names no known domain gets the
//! listener's certificate. Each configuration has a stable
//! [`TlsIdentity`]; a request whose Host selects a different identity than
//! its connection's SNI did gets 421 (without SNI, Host alone routes).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, StoresServerSessions, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DistinguishedName, HandshakeKind, ProtocolVersion, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use super::certs::{KeyKind, LoadedCert};

/// A stable name for a server configuration: equal across reloads when the
/// certificate paths, ALPN and client authentication are equal.
pub(crate) type TlsIdentity = u64;

/// The compiled TLS side of one HTTPS listener.
#[derive(Debug)]
pub struct ListenerTls {
    configs: HashMap<TlsIdentity, Arc<ServerConfig>>,
    /// Used without SNI and for SNI names no domain matches.
    fallback: TlsIdentity,
}

/// What the handshake established, for the request pipeline and the logs.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    /// The configuration the SNI selected.
    pub identity: TlsIdentity,
    /// The SNI name, lower-cased.
    pub sni: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub protocol: &'static str,
    /// OpenSSL name of the cipher suite.
    pub cipher: &'static str,
    /// A resumed session (ticket or cache).
    pub resumed: bool,
    /// HTTP/2 was negotiated.
    pub h2: bool,
    /// From the first byte to the end of the handshake.
    pub handshake_time: Duration,
}

/// Why a TLS handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Reading the ClientHello or completing the handshake failed.
    #[error("TLS handshake: {0}")]
    Io(#[from] std::io::Error),
}

impl ListenerTls {
    /// A listener's TLS configurations and the fallback identity.
    pub fn new(
        configs: HashMap<TlsIdentity, Arc<ServerConfig>>,
        fallback: TlsIdentity,
    ) -> ListenerTls {
        ListenerTls { configs, fallback }
    }

    /// The identity used when the SNI (or Host) names no domain.
    pub fn fallback(&self) -> TlsIdentity {
        self.fallback
    }

    /// Completes a handshake on `io`: `select` maps the SNI name (already
    /// lower-cased) to an identity, `None` meaning the fallback.
    pub async fn accept<IO>(
        &self,
        io: IO,
        select: impl FnOnce(&str) -> Option<TlsIdentity>,
    ) -> Result<(TlsStream<IO>, TlsInfo), HandshakeError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let started = Instant::now();
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await?;
        let sni = start
            .client_hello()
            .server_name()
            .map(|s| s.trim_end_matches('.').to_ascii_lowercase());
        let identity = sni.as_deref().and_then(select).unwrap_or(self.fallback);
        let config = match self
            .configs
            .get(&identity)
            .or_else(|| self.configs.get(&self.fallback))
        {
            Some(c) => c.clone(),
            None => return Err(std::io::Error::other("no TLS configuration").into()),
        };
        let stream = start.into_stream(config).await?;
        let conn = stream.get_ref().1;
        let info = TlsInfo {
            identity,
            sni,
            protocol: match conn.protocol_version() {
                Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
                Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
                _ => "",
            },
            cipher: conn
                .negotiated_cipher_suite()
                .and_then(|s| super::ciphers::openssl_name(s.suite()))
                .unwrap_or(""),
            resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
            h2: conn.alpn_protocol() == Some(b"h2"),
            handshake_time: started.elapsed(),
        };
        Ok((stream, info))
    }
}

/// Computes the identity of a configuration.
pub(crate) fn identity(
    certs: &[crate::config::CertFiles],
    h2: bool,
    client_ca: Option<&crate::config::CertFiles>,
) -> TlsIdentity {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in certs {
        c.cert.hash(&mut h);
        c.key.hash(&mut h);
    }
    h2.hash(&mut h);
    client_ca.map(|c| &c.cert).hash(&mut h);
    h.finish()
}

/// Everything a server configuration is built from.
pub(crate) struct ServerParams<'a> {
    /// One certificate, or an RSA and an ECDSA one side by side.
    pub certs: Vec<Arc<LoadedCert>>,
    /// Offer `h2` in ALPN.
    pub h2: bool,
    /// Provider with the cipher suites `ssl_ciphers` selects.
    pub provider: Arc<CryptoProvider>,
    /// `ssl_protocols`.
    pub versions: &'a [&'static rustls::SupportedProtocolVersion],
    /// Mutual TLS: the client CAs and `ssl_verify_depth`.
    pub client_auth: Option<(Arc<rustls::RootCertStore>, u8)>,
    /// Session tickets shared by the whole process.
    pub ticketer: Arc<dyn rustls::server::ProducesTickets>,
    /// Session cache shared by the whole process.
    pub sessions: Arc<dyn StoresServerSessions>,
}

/// Builds one server configuration.
pub(crate) fn server_config(p: ServerParams<'_>) -> Result<ServerConfig, rustls::Error> {
    let builder = ServerConfig::builder_with_provider(p.provider.clone())
        .with_protocol_versions(p.versions)?;
    let builder = match p.client_auth {
        Some((roots, depth)) => {
            let inner = WebPkiClientVerifier::builder_with_provider(roots, p.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(Arc::new(DepthLimited { inner, depth }))
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(ByKeyType {
        keys: p
            .certs
            .iter()
            .map(|c| (c.key_kind, c.certified_key.clone()))
            .collect(),
    }));
    config.alpn_protocols = if p.h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    config.ticketer = p.ticketer;
    config.session_storage = p.sessions;
    // The server's order ([`crate::tls::provider`], then `ssl_ciphers`
    // for TLS 1.2), as nginx's `ssl_prefer_server_ciphers on`.
    config.ignore_client_order = true;
    Ok(config)
}

/// Picks the ECDSA certificate for clients that can verify it, else RSA.
#[derive(Debug)]
struct ByKeyType {
    keys: Vec<(KeyKind, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for ByKeyType {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let ecdsa_ok = hello.signature_schemes().iter().any(|s| {
            matches!(
                s,
                SignatureScheme::ECDSA_NISTP256_SHA256
                    | SignatureScheme::ECDSA_NISTP384_SHA384
                    | SignatureScheme::ECDSA_NISTP521_SHA512
            )
        });
        let want = |kind: KeyKind| {
            self.keys
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, c)| c.clone())
        };
        if ecdsa_ok && let Some(k) = want(KeyKind::Ecdsa) {
            return Some(k);
        }
        want(KeyKind::Rsa).or_else(|| self.keys.first().map(|(_, c)| c.clone()))
    }
}

/// nginx's `ssl_verify_depth`: at most `depth - 1` intermediates between the
/// client's certificate and a trusted CA. A trusted CA the client sends
/// along (OpenSSL clients such as curl add it when they can) is where the
/// chain ends, not an intermediate: it does not count, as in OpenSSL.
#[derive(Debug)]
struct DepthLimited {
    inner: Arc<dyn ClientCertVerifier>,
    depth: u8,
}

/// Whether `cert`'s subject is one of the trusted CAs' `anchors`.
fn is_trusted_subject(cert: &CertificateDer<'_>, anchors: &[DistinguishedName]) -> bool {
    use x509_parser::prelude::{FromDer, X509Certificate};
    X509Certificate::from_der(cert.as_ref()).is_ok_and(|(_, cert)| {
        let subject = cert.subject().as_raw();
        anchors.iter().any(|anchor| anchor.as_ref() == subject)
    })
}

impl ClientCertVerifier for DepthLimited {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let anchors = self.inner.root_hint_subjects();
        let chain = intermediates
            .iter()
            .filter(|cert| !is_trusted_subject(cert, anchors))
            .count();
        if chain >= usize::from(self.depth) {
            return Err(rustls::Error::General(format!(
                "client certificate chain is longer than ssl_verify_depth {}",
                self.depth
            )));
        }
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

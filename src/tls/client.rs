//! TLS towards targets (`forward_type` HTTPS and GRPCS), for their
//! traffic and health probes alike. Like the product (and nginx's
//! default), the target's certificate is not verified unless the rule asks
//! (`tls_verify`, with `tls_ca` or the system's CA bundle).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::certs::{CertError, load_ca_certs};

/// Where Debian keeps the system's CA bundle.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How to speak TLS to a target.
#[derive(Debug, Clone)]
pub struct UpstreamConnector {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

/// Why the upstream TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamTlsError {
    /// The CA bundle could not be read.
    #[error("tls_ca {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The CA bundle is not usable.
    #[error("tls_ca {path}: {source}")]
    Ca {
        /// The file.
        path: String,
        /// The error.
        source: CertError,
    },
    /// `tls_sni` is not a valid name.
    #[error("tls_sni {0:?} is not a valid DNS name")]
    Sni(String),
}

impl UpstreamConnector {
    /// A connector for a rule: verify or not, CA bundle, SNI, ALPN h2 or
    /// http/1.1.
    pub fn new(
        provider: Arc<CryptoProvider>,
        verify: bool,
        ca: Option<&Path>,
        sni: Option<&str>,
        h2: bool,
    ) -> Result<UpstreamConnector, UpstreamTlsError> {
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| UpstreamTlsError::Sni(e.to_string()))?;
        let mut config = if verify {
            let path = ca.unwrap_or(Path::new(SYSTEM_CA_BUNDLE));
            let display = path.display().to_string();
            let pem = std::fs::read(path).map_err(|source| UpstreamTlsError::Read {
                path: display.clone(),
                source,
            })?;
            let roots = load_ca_certs(&pem).map_err(|source| UpstreamTlsError::Ca {
                path: display,
                source,
            })?;
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth()
        };
        config.alpn_protocols = if h2 {
            vec![b"h2".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let server_name = match sni {
            Some(name) => Some(
                ServerName::try_from(name.to_owned())
                    .map_err(|_| UpstreamTlsError::Sni(name.into()))?,
            ),
            None => None,
        };
        Ok(UpstreamConnector {
            config: Arc::new(config),
            server_name,
        })
    }

    /// Completes a handshake with the target at `addr`. Without a
    /// configured SNI the IP address is used as the name, which sends no
    /// SNI extension.
    pub async fn connect(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let name = self
            .server_name
            .clone()
            .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()));
        TlsConnector::from(self.config.clone())
            .connect(name, stream)
            .await
    }
}

/// Accepts any certificate but still checks the handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

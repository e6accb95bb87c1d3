//! Test certificates, generated at test time (never committed), and TLS
//! clients and servers that use them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, RsaKeySize,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Key type of a generated certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ecdsa,
    Rsa,
}

/// A test CA that issues server and client certificates into a folder.
pub struct Pki {
    pub dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
    pub ca_pem: String,
}

/// A certificate written to disk.
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Issued {
    /// A TLS server that presents this certificate (a target's, say).
    pub fn server_config(&self) -> rustls::ServerConfig {
        use rustls::pki_types::pem::PemObject;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).expect("a PEM key");
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![self.der.clone()], key)
            .expect("a certificate and its key")
    }

    /// The listener setting that serves this certificate (its files).
    pub fn listener_setting(&self) -> String {
        format!(
            "certificate = {{ cert = {:?}, key = {:?} }}",
            self.cert, self.key
        )
    }
}

fn key(kind: Kind) -> KeyPair {
    match kind {
        Kind::Ecdsa => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        Kind::Rsa => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap(),
    }
}

fn params(cn: &str, sans: &[&str]) -> CertificateParams {
    let mut p =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        let mut ca_params = params("stgw test CA", &[]);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, key(Kind::Ecdsa)).unwrap();
        let ca_pem = ca.pem();
        std::fs::write(dir.join("ca.pem"), &ca_pem).unwrap();
        Pki {
            dir: dir.to_owned(),
            ca,
            ca_pem,
        }
    }

    /// A server certificate for `sans`, written as `<file>.pem` / `<file>.key`.
    pub fn server(&self, file: &str, sans: &[&str], kind: Kind) -> Issued {
        let k = key(kind);
        let cert = params(sans.first().copied().unwrap_or(file), sans)
            .signed_by(&k, &self.ca)
            .unwrap();
        self.write(file, cert.pem(), k.serialize_pem(), cert.der().clone())
    }

    /// A self-signed server certificate (not from this CA).
    pub fn self_signed(&self, file: &str, sans: &[&str]) -> Issued {
        let k = key(Kind::Ecdsa);
        let cert = params(file, sans).self_signed(&k).unwrap();
        self.write(file, cert.pem(), k.serialize_pem(), cert.der().clone())
    }

    fn write(
        &self,
        file: &str,
        cert_pem: String,
        key_pem: String,
        der: CertificateDer<'static>,
    ) -> Issued {
        let cert = self.dir.join(format!("{file}.pem"));
        let key = self.dir.join(format!("{file}.key"));
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, &key_pem).unwrap();
        Issued {
            cert,
            key,
            der,
            cert_pem,
            key_pem,
        }
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        roots
    }

    /// A client config trusting this CA, offering `alpn`.
    pub fn client(&self, alpn: &[&str]) -> ClientConfig {
        let mut c = ClientConfig::builder()
            .with_root_certificates(self.roots())
            .with_no_client_auth();
        c.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        c
    }

    /// A client config that presents a client certificate from this CA.
    pub fn client_with_cert(&self, alpn: &[&str]) -> ClientConfig {
        self.client_sending(alpn, false)
    }

    /// [`client_with_cert`](Self::client_with_cert), sending the CA's
    /// certificate after its own, as OpenSSL clients (curl) do.
    pub fn client_with_cert_and_ca(&self, alpn: &[&str]) -> ClientConfig {
        self.client_sending(alpn, true)
    }

    fn client_sending(&self, alpn: &[&str], with_ca: bool) -> ClientConfig {
        let k = key(Kind::Ecdsa);
        let cert = params("client", &["client.test"])
            .signed_by(&k, &self.ca)
            .unwrap();
        let key_der = PrivateKeyDer::try_from(k.serialize_der()).unwrap();
        let mut chain = vec![cert.der().clone()];
        if with_ca {
            chain.push(self.ca.der().clone());
        }
        let mut c = ClientConfig::builder()
            .with_root_certificates(self.roots())
            .with_client_auth_cert(chain, key_der)
            .unwrap();
        c.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        c
    }

    /// A client that verifies nothing (to look at what is presented).
    pub fn rsa_only_client_or_any() -> ClientConfig {
        ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert))
            .with_no_client_auth()
    }

    /// A client that verifies nothing and accepts only RSA signatures
    /// (to see which certificate an RSA-only client gets).
    pub fn rsa_only_client() -> ClientConfig {
        ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(RsaOnly))
            .with_no_client_auth()
    }
}

#[derive(Debug)]
struct AnyCert;

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[derive(Debug)]
struct RsaOnly;

impl ServerCertVerifier for RsaOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PSS_SHA384,
            SignatureScheme::RSA_PKCS1_SHA256,
        ]
    }
}

/// Connects with TLS; `sni = None` sends no SNI.
pub async fn connect(
    config: ClientConfig,
    addr: std::net::SocketAddr,
    sni: Option<&str>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_owned()).map_err(std::io::Error::other)?,
        None => ServerName::IpAddress(addr.ip().into()),
    };
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// The leaf certificate the server presented.
pub fn presented(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("server certificate")[0]
        .clone()
        .into_owned()
}

//! A load generator for full TLS handshakes: CONCURRENCY loops, each opening
//! a new connection, doing a full handshake (session resumption disabled:
//! no session cache, no tickets), sending one HTTP/1.1 request with
//! `Connection: close`, reading the whole answer and closing, for SECONDS.
//!
//! wrk cannot do this: it resumes the previous session of each of its
//! connections when it reconnects.
//!
//! ```text
//! cargo run --release --example handshakes -- 127.0.0.1:19443 10 64 /small
//! ```
//!
//! Prints one line, `rps P50_US P99_US REQUESTS ERRORS` (latency of the
//! whole connection: connect, handshake, request, answer), then a human
//! summary and the first error on stderr. The certificate is not checked
//! (like wrk), but the handshake signature is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn usage() -> ! {
    eprintln!(
        "usage: handshakes ADDR SECONDS CONCURRENCY [PATH]   (e.g. 127.0.0.1:19443 10 64 /small)"
    );
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || args.len() > 4 {
        usage();
    }
    let addr: SocketAddr = args[0].parse().unwrap_or_else(|_| usage());
    let secs: u64 = args[1].parse().unwrap_or_else(|_| usage());
    let conc: usize = args[2].parse().unwrap_or_else(|_| usage());
    let path = args.get(3).cloned().unwrap_or_else(|| "/small".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(addr, Duration::from_secs(secs), conc.max(1), path));
}

/// Accepts any certificate, checks handshake signatures.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
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

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

async fn run(addr: SocketAddr, duration: Duration, conc: usize, path: String) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = TlsConnector::from(Arc::new(config));
    let request: Arc<[u8]> = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: handshakes\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
    .into();

    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..conc {
        let connector = connector.clone();
        let request = request.clone();
        tasks.spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let left = deadline.saturating_duration_since(t0) + Duration::from_secs(2);
                match tokio::time::timeout(left, one(addr, &connector, &request)).await {
                    Ok(Ok(())) => tally
                        .latencies_us
                        .push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32),
                    Ok(Err(e)) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert(e);
                    }
                    Err(_) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert("timed out".into());
                    }
                }
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(t) = tasks.join_next().await {
        let t = t.expect("worker task");
        all.latencies_us.extend(t.latencies_us);
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut lat = all.latencies_us;
    lat.sort_unstable();
    let pct = |p: f64| -> i64 {
        if lat.is_empty() {
            return -1;
        }
        let i = ((lat.len() as f64 * p) as usize).clamp(1, lat.len()) - 1;
        i64::from(lat[i])
    };
    let n = lat.len();
    println!(
        "{:.2} {} {} {} {}",
        n as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        n,
        all.errors
    );
    eprintln!(
        "{n} full handshakes + requests in {elapsed:.2}s with {conc} loops: {:.0}/s, p50 {}us, p99 {}us, {} errors",
        n as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        all.errors
    );
    if let Some(e) = all.first_error {
        eprintln!("first error: {e}");
    }
}

/// One connection: connect, full handshake, one request, the whole answer.
async fn one(addr: SocketAddr, connector: &TlsConnector, request: &[u8]) -> Result<(), String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::from(addr.ip());
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tls.write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let (head_len, body_len) = loop {
        let got = tls
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if got == 0 {
            return Err("connection closed before the answer ended".into());
        }
        buf.extend_from_slice(&chunk[..got]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]);
            if head.split(' ').nth(1) != Some("200") {
                return Err(format!("answer: {}", head.lines().next().unwrap_or("")));
            }
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .ok_or("answer without Content-Length")?;
            break (end + 4, length);
        }
        if buf.len() > 16 * 1024 {
            return Err("answer head too large".into());
        }
    };
    let mut have = buf.len() - head_len;
    while have < body_len {
        let got = tls
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read body: {e}"))?;
        if got == 0 {
            return Err("connection closed inside the body".into());
        }
        have += got;
    }
    Ok(())
}

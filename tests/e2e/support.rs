//! Real servers and clients on loopback for the end-to-end tests.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use stgw::config::Config;
use stgw::runtime::Runtime;

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind :0");
        let port = l.local_addr().unwrap().port();
        // Avoid the product's reserved ports.
        if ![20000, 36000, 42222, 48369, 56000, 65010].contains(&port) {
            return port;
        }
    }
}

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "stgw-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a backend saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub uri: http::Uri,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: SocketAddr,
}

/// How a backend answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub delay: Duration,
}

impl Reply {
    pub fn text(body: impl Into<Bytes>) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A recording HTTP/1.1 backend on loopback.
pub struct Backend {
    pub addr: SocketAddr,
    pub name: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub probes: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Backend {
    /// Answers every request with its name.
    pub async fn start(name: &str) -> Backend {
        let body = Bytes::from(name.to_owned());
        Backend::start_with(name, "127.0.0.1:0", move |_| Reply::text(body.clone())).await
    }

    /// Answers with `handler`, listening on `bind`.
    pub async fn start_with(
        name: &str,
        bind: &str,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Backend {
        let listener = TcpListener::bind(bind).await.expect("backend bind");
        Backend::serve(name, listener, Arc::new(handler))
    }

    /// A backend that speaks TLS with `config`.
    pub async fn start_tls(name: &str, config: rustls::ServerConfig) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("backend bind");
        let body = Bytes::from(name.to_owned());
        let handler: Handler = Arc::new(move |_| Reply::text(body.clone()));
        Backend::serve_with(name, listener, handler, Some(Arc::new(config)))
    }

    pub fn serve(name: &str, listener: TcpListener, handler: Handler) -> Backend {
        Backend::serve_with(name, listener, handler, None)
    }

    fn serve_with(
        name: &str,
        listener: TcpListener,
        handler: Handler,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Backend {
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let probe_count = Arc::new(AtomicUsize::new(0));
        let log = seen.clone();
        let probes_outer = probe_count.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let log = log.clone();
                let handler = handler.clone();
                let probes = probes_outer.clone();
                let tls = tls.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        let handler = handler.clone();
                        let probes = probes.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let seen = Seen {
                                method: parts.method,
                                uri: parts.uri,
                                version: parts.version,
                                headers: parts.headers,
                                body,
                                peer,
                            };
                            let reply = handler(&seen);
                            // Health probes are counted apart from traffic.
                            let probe = seen
                                .headers
                                .get("user-agent")
                                .is_some_and(|v| v == "stgw-health-check");
                            if probe {
                                probes.fetch_add(1, Ordering::Relaxed);
                            } else {
                                log.lock().unwrap().push(seen);
                            }
                            if !reply.delay.is_zero() {
                                tokio::time::sleep(reply.delay).await;
                            }
                            let mut resp = Response::new(Full::new(reply.body));
                            *resp.status_mut() = reply.status;
                            for (k, v) in reply.headers {
                                resp.headers_mut().append(
                                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                                    http::HeaderValue::from_str(&v).unwrap(),
                                );
                            }
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder.max_headers(1024);
                    let serve = async move {
                        match tls {
                            None => {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .with_upgrades()
                                    .await;
                            }
                            Some(config) => {
                                let Ok(stream) =
                                    tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                                else {
                                    return;
                                };
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .with_upgrades()
                                    .await;
                            }
                        }
                    };
                    // Stopping the backend closes its open connections too.
                    tokio::select! {
                        _ = serve => {}
                        _ = stopped.wait_for(|s| *s) => {}
                    }
                });
            }
        });
        Backend {
            addr,
            name: name.to_owned(),
            seen,
            probes: probe_count,
            task,
            stop,
        }
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("backend saw nothing")
    }

    /// Closes the listener and every open connection.
    pub fn stop(&self) {
        self.task.abort();
        let _ = self.stop.send(true);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// stgw running in this process.
pub struct Stgw {
    pub runtime: Arc<Runtime>,
    pub dir: TempDir,
}

impl Stgw {
    /// Starts stgw with a configuration text (relative paths are relative
    /// to a fresh scratch directory).
    pub fn start(toml: &str) -> Stgw {
        let dir = TempDir::new();
        let path = dir.path().join("stgw.toml");
        std::fs::write(&path, toml).unwrap();
        let config = Config::load(&path).unwrap_or_else(|e| panic!("config refused: {e}\n{toml}"));
        let runtime = Runtime::start(config).unwrap_or_else(|e| panic!("start failed: {e}"));
        Stgw { runtime, dir }
    }

    /// Rewrites the file and applies it (what SIGHUP does).
    pub fn reload(&self, toml: &str) {
        std::fs::write(self.dir.path().join("stgw.toml"), toml).unwrap();
        self.runtime
            .reload()
            .unwrap_or_else(|e| panic!("reload failed: {e}"));
    }
}

/// A config with one HTTP listener on 127.0.0.1:`port`, one domain and
/// one rule `url` over `targets` (`address` strings with weights).
pub fn one_rule(
    port: u16,
    domain: &str,
    url: &str,
    extra_rule: &str,
    targets: &[(SocketAddr, u32)],
) -> String {
    let targets: Vec<String> = targets
        .iter()
        .map(|(a, w)| format!("{{ address = \"{a}\", weight = {w} }}"))
        .collect();
    format!(
        r#"
[global]
state_dir = "var"

[[load_balancer]]
name = "test"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  protocol = "HTTP"
  port = {port}
    [[load_balancer.listener.domain]]
    name = "{domain}"
      [[load_balancer.listener.domain.rule]]
      url = "{url}"
      {extra_rule}
      targets = [{targets}]
"#,
        targets = targets.join(", ")
    )
}

/// A simple HTTP/1.1 response.
#[derive(Debug)]
pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a new connection (optionally from `source` IP).
pub async fn send(
    addr: SocketAddr,
    source: Option<IpAddr>,
    req: Request<Full<Bytes>>,
) -> Result<Got, String> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| e.to_string())?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| e.to_string())?;
    }
    let stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Got {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// GET `path` with `Host: host`.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Got {
    let req = Request::get(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(addr, None, req)
        .await
        .unwrap_or_else(|e| panic!("GET {host}{path}: {e}"))
}

/// Raw bytes in, raw bytes out (until the server closes or `wait` passes).
pub async fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> Vec<u8> {
    raw_until_closed(addr, request, wait).await.0
}

/// Raw bytes in, raw bytes out until the server closes or `wait` passes;
/// and whether it closed.
pub async fn raw_until_closed(addr: SocketAddr, request: &[u8], wait: Duration) -> (Vec<u8>, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let closed = tokio::time::timeout(wait, stream.read_to_end(&mut out))
        .await
        .is_ok();
    (out, closed)
}

/// The status code of a raw HTTP/1.1 answer.
pub fn raw_status(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The stgw binary run as a child process (for signals).
pub struct Process {
    pub child: Child,
    pub dir: TempDir,
}

impl Process {
    pub fn start(toml: &str) -> Process {
        let dir = TempDir::new();
        let path = dir.path().join("stgw.toml");
        std::fs::write(&path, toml).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_stgw"))
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stgw");
        Process { child, dir }
    }

    /// Starts another stgw on the same configuration file and state, taking
    /// over from this one (`--upgrade`).
    pub fn upgrade(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_stgw"))
            .arg("--config")
            .arg(self.dir.path().join("stgw.toml"))
            .arg("--upgrade")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stgw --upgrade")
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.dir.path().join("stgw.toml"), toml).unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something accepts connections on `addr`.
pub async fn wait_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing listens on {addr}");
}

/// Waits until nothing accepts connections on `addr` any more (a removed
/// listener closes its socket as its accept loop stops, soon after the
/// change that removed it): whether that happened within `within`.
pub async fn stops_listening(addr: SocketAddr, within: Duration) -> bool {
    let released = async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(within, released).await.is_ok()
}

/// An HTTP/1.1 client on an established stream (kept for reuse).
pub async fn h1_client<T>(io: T) -> hyper::client::conn::http1::SendRequest<Full<Bytes>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("h1 handshake");
    tokio::spawn(conn);
    sender
}

/// An HTTP/2 client on an established stream.
pub async fn h2_client<T>(io: T) -> hyper::client::conn::http2::SendRequest<Full<Bytes>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(io),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    sender
}

/// Collects a response.
pub async fn collect(resp: Response<Incoming>) -> Got {
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Got {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A GET request for `host` and `path` (HTTP/1.1 Host header).
pub fn get_req(host: &str, path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// `toml` with the load balancer's `custom_config` set to `text`.
pub fn with_custom(toml: &str, text: &str) -> String {
    toml.replacen(
        "vip = \"127.0.0.1\"",
        &format!("vip = \"127.0.0.1\"\ncustom_config = '''\n{text}\n'''"),
        1,
    )
}

/// `toml` (one HTTP listener, as [`one_rule`] writes it) with the listener
/// made HTTPS: `settings` (TOML lines such as `certificate = { ... }`) go
/// before its `port`.
pub fn with_https(toml: &str, settings: &str) -> String {
    toml.replace("protocol = \"HTTP\"", "protocol = \"HTTPS\"")
        .replace("port = ", &format!("{settings}\n  port = "))
}

/// A self-signed certificate and key for `names`, written to `dir`;
/// returns their paths.
pub fn self_signed(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let ck = rcgen::generate_simple_self_signed(names).expect("rcgen");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// The `Location` of an answer.
pub fn location(got: &Got) -> String {
    got.headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// One request as a raw target read it: the head (up to the blank line)
/// and the body bytes that came with it.
#[derive(Debug)]
pub struct RawRequest {
    pub head: String,
    pub rest: Vec<u8>,
}

impl RawRequest {
    /// The request line's target.
    pub fn path(&self) -> &str {
        self.head.split_whitespace().nth(1).unwrap_or("")
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads a request head from `stream`; `None` if the peer closed first.
pub async fn read_head(stream: &mut TcpStream) -> Option<RawRequest> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return Some(RawRequest {
                head,
                rest: buf[end + 4..].to_vec(),
            });
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A target address whose connects go unanswered: a listener with a full
/// accept queue, so further SYNs are dropped (the connect times out).
/// Held open while it lives.
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _fillers: Vec<TcpStream>,
}

impl Blackhole {
    pub async fn start() -> Blackhole {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        socket.listen(0).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..4 {
            let connect = TcpStream::connect(addr);
            if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(300), connect).await {
                fillers.push(s);
            }
        }
        Blackhole {
            addr,
            _listener: socket,
            _fillers: fillers,
        }
    }
}

/// A target that speaks raw HTTP/1.1: `handler` gets each connection's
/// first request and the stream, and writes whatever it likes.
pub struct RawBackend {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RawBackend {
    pub async fn start<F, Fut>(handler: F) -> RawBackend
    where
        F: Fn(RawRequest, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = handler.clone();
                tokio::spawn(async move {
                    if let Some(req) = read_head(&mut stream).await {
                        handler(req, stream).await;
                    }
                });
            }
        });
        RawBackend { addr, task }
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A raw target that answers every request with `answer` and closes.
pub async fn answering(answer: &'static str) -> RawBackend {
    use tokio::io::AsyncWriteExt;
    RawBackend::start(move |_req, mut stream: TcpStream| async move {
        let _ = stream.write_all(answer.as_bytes()).await;
    })
    .await
}

/// Writes `data` as one chunk of a chunked body.
pub async fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    if data.is_empty() {
        return Ok(());
    }
    stream
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    stream.write_all(data).await?;
    stream.write_all(b"\r\n").await
}

/// Deterministic, compressible text of `len` bytes.
pub fn text_body(len: usize) -> Vec<u8> {
    let words = [
        "alpha ",
        "beta ",
        "gamma ",
        "delta ",
        "epsilon\n",
        "zeta ",
        "eta ",
        "theta ",
    ];
    let mut out = Vec::with_capacity(len + 8);
    let mut i = 0usize;
    while out.len() < len {
        out.extend_from_slice(words[(i * 7 + i / 13) % words.len()].as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// Decompresses a gzip body.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

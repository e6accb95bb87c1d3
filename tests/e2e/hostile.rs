//! Hostile input: smuggling attempts, malformed requests, slow and greedy
//! clients, abuse limits, PROXY protocol trust.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn setup(extra_listener: &str) -> (Stgw, SocketAddr, Backend) {
    let b = Backend::start_with("b", "127.0.0.1:0", |seen| Reply::text(seen.body.clone())).await;
    let port = free_port();
    let toml = one_rule(port, "h.test", "/", "", &[(b.addr, 10)])
        .replace("port = ", &format!("{extra_listener}\n  port = "));
    (Stgw::start(&toml), local(port), b)
}

/// Sends raw bytes; returns what came back and whether the server closed.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> (String, bool) {
    let (out, closed) = raw_until_closed(addr, bytes, Duration::from_secs(5)).await;
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

fn status(text: &str) -> u16 {
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn malformed_requests_are_refused_closed_and_never_forwarded() {
    let (_stgw, addr, backend) = setup("").await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("duplicate Content-Length", b"POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc".to_vec(), 400),
        ("conflicting Content-Length", b"POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(), 400),
        ("Content-Length list", b"POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3, 4\r\n\r\nabcd".to_vec(), 400),
        ("negative Content-Length", b"POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: -1\r\n\r\n".to_vec(), 400),
        ("Transfer-Encoding not chunked", b"POST / HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: gzip\r\n\r\nabc".to_vec(), 400),
        ("chunked not final", b"POST / HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec(), 400),
        ("Transfer-Encoding in HTTP/1.0", b"POST / HTTP/1.0\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec(), 400),
        ("bad chunk size", b"POST / HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".to_vec(), 400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: h.test\r\nX-A: 1\r\n  folded\r\n\r\n".to_vec(), 400),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : h.test\r\n\r\n".to_vec(), 400),
        ("control byte in the request line", b"GET /a\x01b HTTP/1.1\r\nHost: h.test\r\n\r\n".to_vec(), 400),
        ("control byte in a header", b"GET / HTTP/1.1\r\nHost: h.test\r\nX-A: a\x01b\r\n\r\n".to_vec(), 400),
        ("missing Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: h.test\r\nHost: h.test\r\n\r\n".to_vec(), 400),
        ("bad version", b"GET / HTTP/9.9\r\nHost: h.test\r\n\r\n".to_vec(), 400),
        ("long request line", format!("GET /{} HTTP/1.1\r\nHost: h.test\r\n\r\n", "a".repeat(9000)).into_bytes(), 414),
        ("very long request line", format!("GET /{} HTTP/1.1\r\nHost: h.test\r\n\r\n", "a".repeat(60000)).into_bytes(), 414),
        ("long header line", format!("GET / HTTP/1.1\r\nHost: h.test\r\nX-A: {}\r\n\r\n", "a".repeat(9000)).into_bytes(), 431),
        ("long head", format!("GET / HTTP/1.1\r\nHost: h.test\r\n{}\r\n", (0..6).map(|i| format!("X-{i}: {}\r\n", "b".repeat(6000))).collect::<String>()).into_bytes(), 431),
    ];
    for (name, bytes, want) in cases {
        let (text, closed) = exchange(addr, &bytes).await;
        assert_eq!(status(&text), want, "{name}: {text:?}");
        assert!(closed, "{name}: connection left open");
    }
    assert_eq!(backend.hits(), 0, "a refused request reached the target");
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_chunked_and_nothing_trailing_is_forwarded() {
    let (_stgw, addr, backend) = setup("").await;
    let smuggle = b"POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h.test\r\n\r\n";
    let (text, closed) = exchange(addr, smuggle).await;
    assert!(closed, "the connection is closed after the answer");
    assert!(status(&text) == 200 || status(&text) == 400, "{text}");
    let seen = backend.seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|s| s.uri.path() != "/smuggled"),
        "the trailing request was forwarded"
    );
    for s in &seen {
        assert_eq!(s.body, "abc");
        assert!(s.headers.get("transfer-encoding").is_none());
        assert_eq!(s.headers["content-length"], "3", "exactly one framing");
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (_stgw, addr, backend) = setup("").await;
    let two = b"GET /1 HTTP/1.1\r\nHost: h.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n";
    let (text, closed) = exchange(addr, two).await;
    assert!(closed);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
    let paths: Vec<String> = backend
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.uri.path().to_owned())
        .collect();
    assert_eq!(paths, ["/1", "/2"]);
}

#[tokio::test]
async fn a_request_after_an_unread_body_still_works_on_the_same_connection() {
    // A 404 with a body stgw never reads: the body is not mistaken for a head.
    let (_stgw, addr, backend) = setup("").await;
    let body = "x".repeat(20000);
    let req = format!(
        "POST /none HTTP/1.1\r\nHost: other.test\r\nContent-Length: {}\r\n\r\n{body}GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (text, _) = exchange(addr, req.as_bytes()).await;
    assert!(text.starts_with("HTTP/1.1 "), "{text}");
    assert!(!text.contains("414") && !text.contains("431"), "{text}");
    drop(backend);
}

async fn connect_from(addr: SocketAddr, ip: &str) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(ip.parse().unwrap(), 0))?;
    s.connect(addr).await
}

/// Whether the server closes `s` within a moment without answering.
async fn is_refused(mut s: TcpStream) -> bool {
    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n").await;
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn blocked_addresses_are_refused_at_accept() {
    let (_stgw, addr, backend) = setup("blocked_ips = [\"127.9.0.0/16\"]").await;
    assert!(is_refused(connect_from(addr, "127.9.1.1").await.unwrap()).await);
    let ok = connect_from(addr, "127.8.1.1").await.unwrap();
    assert!(!is_refused(ok).await);
    assert_eq!(backend.hits(), 1);
}

#[tokio::test]
async fn the_per_address_cap_refuses_a_greedy_address_but_not_another() {
    let (_stgw, addr, _backend) = setup("max_connections_per_ip = 3").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect_from(addr, "127.5.0.1").await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.unwrap();
        held.push(s);
    }
    let started = Instant::now();
    assert!(is_refused(connect_from(addr, "127.5.0.1").await.unwrap()).await);
    assert!(started.elapsed() < Duration::from_secs(1), "refused fast");
    assert!(!is_refused(connect_from(addr, "127.5.0.2").await.unwrap()).await);
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!is_refused(connect_from(addr, "127.5.0.1").await.unwrap()).await);
}

#[tokio::test]
async fn past_max_connections_new_connections_are_refused_while_existing_ones_work() {
    let (_stgw, addr, _backend) = setup("max_connections = 2").await;
    let mut a = h1_client(TcpStream::connect(addr).await.unwrap()).await;
    let mut b = h1_client(TcpStream::connect(addr).await.unwrap()).await;
    assert_eq!(
        collect(a.send_request(get_req("h.test", "/")).await.unwrap())
            .await
            .status,
        200
    );
    assert!(is_refused(TcpStream::connect(addr).await.unwrap()).await);
    assert_eq!(
        collect(b.send_request(get_req("h.test", "/")).await.unwrap())
            .await
            .status,
        200
    );
    assert_eq!(
        collect(a.send_request(get_req("h.test", "/")).await.unwrap())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn limit_req_answers_503_past_rate_and_burst_per_address() {
    let (_stgw, addr, _backend) = setup("limit_req = { rate = 1, burst = 2 }").await;
    let mut codes = Vec::new();
    for _ in 0..6 {
        let (text, _) = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
        )
        .await;
        codes.push(status(&text));
    }
    assert_eq!(codes, [200, 200, 200, 503, 503, 503]);
    let mut other = connect_from(addr, "127.6.0.1").await.unwrap();
    other
        .write_all(b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    other.read_to_string(&mut out).await.unwrap();
    assert_eq!(status(&out), 200, "another address has its own budget");
}

#[tokio::test]
async fn proxy_protocol_is_believed_only_from_trusted_proxies() {
    let (_stgw, addr, backend) =
        setup("proxy_protocol = true\n  trusted_proxies = [\"127.0.0.1/32\"]").await;
    let v1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 56324 80\r\nGET / HTTP/1.1\r\nHost: h.test\r\nX-Forwarded-For: 198.51.100.9\r\nConnection: close\r\n\r\n";
    let (text, _) = exchange(addr, v1).await;
    assert_eq!(status(&text), 200, "{text}");
    let seen = backend.last();
    assert_eq!(seen.headers["x-real-ip"], "203.0.113.7");
    assert_eq!(seen.headers["x-forwarded-for"], "198.51.100.9, 203.0.113.7");

    let mut v2 = vec![
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0, 12,
    ];
    v2.extend_from_slice(&[192, 0, 2, 44, 127, 0, 0, 1, 0x10, 0x00, 0, 80]);
    v2.extend_from_slice(b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n");
    let (text, _) = exchange(addr, &v2).await;
    assert_eq!(status(&text), 200);
    assert_eq!(backend.last().headers["x-real-ip"], "192.0.2.44");

    // A header that is not PROXY, from a trusted sender: closed.
    let (text, closed) = exchange(addr, b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n").await;
    assert!(text.is_empty() && closed);
    // From an untrusted address: refused at once.
    let untrusted = connect_from(addr, "127.7.0.1").await.unwrap();
    assert!(is_refused(untrusted).await);
}

#[tokio::test]
async fn a_clients_own_x_forwarded_for_is_kept_but_not_believed() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "h.test",
        "/",
        "scheduler = \"IP_HASH\"",
        &[(b.addr, 10)],
    ));
    let (text, _) = exchange(
        local(port),
        b"GET / HTTP/1.1\r\nHost: h.test\r\nX-Forwarded-For: 1.2.3.4\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&text), 200);
    let seen = b.last();
    assert_eq!(seen.headers["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
    assert_eq!(seen.headers["x-real-ip"], "127.0.0.1");
}

#[tokio::test]
async fn a_trusted_proxys_x_forwarded_for_names_the_client() {
    let (_stgw, addr, backend) =
        setup("trusted_proxies = [\"127.0.0.1/32\", \"10.0.0.0/8\"]").await;
    let (text, _) = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: h.test\r\nX-Forwarded-For: 1.2.3.4, 203.0.113.5, 10.1.1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&text), 200);
    assert_eq!(backend.last().headers["x-real-ip"], "203.0.113.5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_at_client_header_timeout_while_others_are_served() {
    let b = Backend::start("b").await;
    let port = free_port();
    let toml = one_rule(port, "h.test", "/", "", &[(b.addr, 10)]).replace(
        "vip = \"127.0.0.1\"",
        "vip = \"127.0.0.1\"\ncustom_config = \"client_header_timeout 30s;\"",
    );
    let _stgw = Stgw::start(&toml);
    let addr = local(port);
    let started = Instant::now();
    let mut slow = Vec::new();
    for i in 0..300u32 {
        let ip = IpAddr::from([127, 3, (i / 200) as u8, (i % 200 + 1) as u8]);
        slow.push(tokio::spawn(async move {
            let s = TcpSocket::new_v4().unwrap();
            s.bind(SocketAddr::new(ip, 0)).unwrap();
            let mut s = s.connect(addr).await.unwrap();
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: h.test\r\n").await;
            // One byte every 2 s, never finishing the head.
            let mut buf = [0u8; 16];
            loop {
                if s.write_all(b"X").await.is_err() {
                    return Instant::now();
                }
                match tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Instant::now(),
                    _ => {}
                }
            }
        }));
    }
    // A normal client is answered throughout.
    while started.elapsed() < Duration::from_secs(28) {
        assert_eq!(get(addr, "h.test", "/").await.status, 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for s in slow {
        let closed_at = s.await.unwrap().duration_since(started);
        assert!(
            closed_at >= Duration::from_secs(29) && closed_at < Duration::from_secs(36),
            "{closed_at:?}"
        );
    }
}

#[tokio::test]
async fn a_client_that_waits_before_speaking_is_served() {
    // A listener without connection rules defers accepting until the
    // client speaks, or about a second of silence (browsers preconnect).
    let (_stgw, addr, backend) = setup("").await;
    let mut early = TcpStream::connect(addr).await.unwrap();
    let mut late = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    early
        .write_all(b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1700)).await;
    late.write_all(b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    for s in [&mut early, &mut late] {
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status(&String::from_utf8_lossy(&answer)), 200);
    }
    assert_eq!(backend.hits(), 2);
}

#[tokio::test]
async fn a_cap_added_by_a_reload_counts_silent_connections_at_once() {
    let b = Backend::start("b").await;
    let port = free_port();
    let plain = one_rule(port, "h.test", "/", "", &[(b.addr, 10)]);
    let stgw = Stgw::start(&plain);
    let addr = local(port);
    stgw.reload(&plain.replace("port = ", "max_connections = 2\n  port = "));
    let _held = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert!(is_refused(TcpStream::connect(addr).await.unwrap()).await);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once"
    );
    assert_eq!(b.hits(), 0);
}

#[tokio::test]
async fn started_with_a_soft_limit_of_256_files_it_still_holds_600_clients() {
    // The usual soft limit (1024) would cap a proxy near 500 clients; stgw
    // raises its soft limit to the hard one at start. Started here under
    // 256, it must still hold 600 connections and serve one more.
    // (This test's own process holds the 600 client ends.)
    stgw::limits::raise_open_files().expect("the test process raises its own limit");
    let b = Backend::start("b").await;
    let port = free_port();
    let dir = TempDir::new();
    let path = dir.path().join("stgw.toml");
    std::fs::write(&path, one_rule(port, "h.test", "/", "", &[(b.addr, 10)])).unwrap();
    let child = std::process::Command::new("prlimit")
        .arg("--nofile=256:")
        .arg(env!("CARGO_BIN_EXE_stgw"))
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("prlimit (util-linux) starts stgw");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Kill(child);
    let addr = local(port);
    wait_listening(addr).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.0.id())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default();
    assert!(!open_files.contains(" 256 "), "{open_files}");

    // Each client sends the start of a request, so it is accepted (not
    // left waiting in the deferred-accept queue) and holds a descriptor.
    let mut held = Vec::new();
    for _ in 0..600 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = tokio::time::timeout(Duration::from_secs(5), get(addr, "h.test", "/"))
        .await
        .expect("served while 600 clients are held");
    assert_eq!(got.status, 200);
    // The held clients are served too once they finish their requests.
    let last = held.last_mut().unwrap();
    last.write_all(b"Host: h.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), last.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status(&String::from_utf8_lossy(&answer)), 200);
}

/// stgw run as a child under a limit of `nofile` open files (soft and
/// hard); killed when dropped.
struct Limited(std::process::Child);

impl Limited {
    /// Starts stgw on `toml` (written into `dir`) under the limit; its
    /// warnings go to `dir`/stderr.log.
    async fn start(dir: &TempDir, toml: &str, nofile: u32, addr: SocketAddr) -> Limited {
        let path = dir.path().join("stgw.toml");
        std::fs::write(&path, toml).unwrap();
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = std::process::Command::new("prlimit")
            .arg(format!("--nofile={nofile}"))
            .arg(env!("CARGO_BIN_EXE_stgw"))
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stderr(log)
            .spawn()
            .expect("prlimit (util-linux) starts stgw");
        let limited = Limited(child);
        wait_listening(addr).await;
        limited
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens `n` clients that each send the start of a head (so that they are
/// accepted, deferred accept or not) and hold a descriptor of stgw's.
async fn hold_descriptors(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    held
}

#[tokio::test]
async fn out_of_descriptors_a_request_gets_500_and_no_target_is_blamed() {
    // stgw under a hard limit of 64 files, its descriptors all held by
    // clients: the connection to a target cannot even be opened. As
    // nginx ("socket() failed", 500), that is stgw's failure, not the
    // targets': no 502 after trying (and ejecting) each of them.
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let addr = local(port);
    let dir = TempDir::new();
    let toml = one_rule(port, "h.test", "/", "", &[(a.addr, 10), (b.addr, 10)]);
    let _stgw = Limited::start(&dir, &toml, 64, addr).await;

    // The client whose request comes last is accepted first (it sends the
    // start of its head: deferred accept hands it over with that).
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = hold_descriptors(addr, 100).await;
    client
        .write_all(b"Host: h.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut answer))
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(status(&String::from_utf8_lossy(&answer)), 500);
    assert_eq!(a.hits() + b.hits(), 0);

    // Descriptors back: served again.
    drop(held);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = tokio::time::timeout(Duration::from_secs(5), get(addr, "h.test", "/"))
        .await
        .expect("served once descriptors are free");
    assert_eq!(got.status, 200);
}

#[tokio::test]
async fn out_of_descriptors_health_probes_are_not_counted_against_the_target() {
    // Probes every 5 s, dead after 2 failures: 12 s without descriptors
    // would make it dead if a probe that could not be sent counted.
    let a = Backend::start("a").await;
    let port = free_port();
    let addr = local(port);
    let dir = TempDir::new();
    let check = "health_check = { interval = 5, timeout = 2, healthy_threshold = 2, unhealthy_threshold = 2 }";
    let toml = one_rule(port, "h.test", "/", check, &[(a.addr, 10)]);
    let stgw = Limited::start(&dir, &toml, 64, addr).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = hold_descriptors(addr, 100).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    drop(held);
    drop(stgw);
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(log.contains("health probe not sent"), "{log}");
    assert!(!log.contains("target is dead"), "{log}");
}

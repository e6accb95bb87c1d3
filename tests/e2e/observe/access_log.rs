//! The access log: nginx's combined format, 499 for clients that leave,
//! logrotate with SIGUSR1, and a stalled disk that drops records without
//! slowing requests.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::Request;
use http_body_util::Full;
use tokio::io::AsyncWriteExt;

use super::*;

fn one_target(port: u16, target: SocketAddr, global: &str) -> String {
    let toml = one_rule(
        port,
        "log.test",
        "/",
        "health_check = { enabled = false }",
        &[(target, 10)],
    );
    toml.replacen(
        "state_dir = \"var\"",
        &format!("state_dir = \"var\"\n{global}"),
        1,
    )
}

#[tokio::test]
async fn the_combined_format_is_nginx_s() {
    let target = Backend::start("t").await;
    let port = free_port();
    let stgw = Stgw::start(&one_target(
        port,
        target.addr,
        "access_log = \"combined.log\"\naccess_log_format = \"combined\"",
    ));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let req = Request::get("/a?b=c")
        .header("host", "log.test")
        .header("user-agent", "Mozilla/5.0 \"quoted\"")
        .header("referer", "http://r.test/")
        .body(Full::default())
        .unwrap();
    assert_eq!(send(addr, None, req).await.unwrap().status, 200);
    assert_eq!(get(addr, "log.test", "/").await.status, 200);
    let lines = lines(&stgw.dir.path().join("combined.log"), 2).await;
    let re = regex::Regex::new(
        r#"^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "(.*)" (\d{3}) (\d+) "(.*)" "(.*)"$"#,
    )
    .unwrap();
    let first = re
        .captures(&lines[0])
        .unwrap_or_else(|| panic!("{}", lines[0]));
    assert_eq!(&first[1], "GET /a?b=c HTTP/1.1");
    assert_eq!(&first[2], "200");
    assert_eq!(&first[3], "1", "body_bytes_sent: the body \"t\"");
    assert_eq!(&first[4], "http://r.test/");
    assert_eq!(&first[5], "Mozilla/5.0 \\x22quoted\\x22");
    let second = re
        .captures(&lines[1])
        .unwrap_or_else(|| panic!("{}", lines[1]));
    assert_eq!((&second[4], &second[5]), ("-", "-"));
}

#[tokio::test]
async fn a_client_that_leaves_before_the_answer_is_logged_as_499() {
    let slow = Backend::start_with("slow", "127.0.0.1:0", |_| {
        let mut r = Reply::text("late");
        r.delay = Duration::from_secs(2);
        r
    })
    .await;
    let port = free_port();
    let stgw = Stgw::start(&one_target(port, slow.addr, "access_log = \"access.log\""));
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: log.test\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
    let log = records(&lines(&stgw.dir.path().join("access.log"), 1).await);
    assert_eq!(log[0]["status"], 499, "{}", log[0]);
    assert_eq!(log[0]["request"], "GET /slow HTTP/1.1");
    assert_eq!(log[0]["location_id"].as_str().unwrap().len(), 12);
    assert_eq!(log[0]["upstream_addr"], slow.addr.to_string());
    assert_eq!(log[0]["upstream_status"], "-");
    assert!(log[0]["request_time"].as_f64().unwrap() < 1.5);
}

/// The `request` paths of JSON records in `text`.
fn paths(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let request = v["request"].as_str().unwrap().to_owned();
            request.split(' ').nth(1).unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_logrotate_rename_and_sigusr1_continue_in_the_new_file_without_losing_a_record() {
    let target = Backend::start("t").await;
    let port = free_port();
    let stgw = Process::start(&one_target(
        port,
        target.addr,
        "access_log = \"access.log\"",
    ));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(addr).await;
    let log = stgw.dir.path().join("access.log");
    let rotated = stgw.dir.path().join("access.log.1");
    // Requests run on while the file is renamed and reopened.
    let traffic = tokio::spawn(async move {
        let mut sent = Vec::new();
        for i in 0..150 {
            let path = format!("/r/{i}");
            assert_eq!(get(addr, "log.test", &path).await.status, 200);
            sent.push(path);
            tokio::time::sleep(Duration::from_millis(4)).await;
        }
        sent
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::rename(&log, &rotated).expect("the log exists");
    stgw.signal("USR1");
    // The writer reopens by name: a new file appears.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log.exists() {
        assert!(Instant::now() < deadline, "no new access.log after SIGUSR1");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = traffic.await.unwrap();
    // Everything is in one file or the other, once, in order.
    let new = lines(&log, 1).await.join("\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    let (old, new) = loop {
        let old = std::fs::read_to_string(&rotated).unwrap();
        let new = std::fs::read_to_string(&log).unwrap_or(new.clone());
        if paths(&old).len() + paths(&new).len() >= sent.len() || Instant::now() > deadline {
            break (paths(&old), paths(&new));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        !old.is_empty() && !new.is_empty(),
        "old {} new {}",
        old.len(),
        new.len()
    );
    let all: Vec<String> = old.iter().chain(&new).cloned().collect();
    assert_eq!(all, sent, "every request logged once, in order");
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), sent.len());
}

#[tokio::test]
async fn a_stalled_log_drops_records_and_never_slows_requests() {
    let target = Backend::start("t").await;
    let (port, admin_port) = (free_port(), free_port());
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let dir = TempDir::new();
    // A pipe nobody reads: once its buffer is full, every write blocks,
    // as on a stalled disk.
    let fifo = dir.path().join("stalled.log");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblocking()
        .open(&fifo)
        .unwrap();
    let rest = with_custom(
        &one_target(port, target.addr, ""),
        "keepalive_requests 10000;",
    )
    .split_once("[[load_balancer]]")
    .map(|(_, lb)| format!("[[load_balancer]]{lb}"))
    .unwrap();
    let global = format!("access_log = \"{}\"", fifo.display());
    let stgw = Stgw::start(&config(admin_addr, &global, &rest));
    let _admin = admin(&stgw).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    // More than the pipe's buffer and the writer's queue hold.
    let total = 9_000;
    let clients = 4;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut sender = h1_client(stream).await;
            let mut slowest = Duration::ZERO;
            for _ in 0..total / clients {
                let t = Instant::now();
                let resp = sender.send_request(get_req("log.test", "/")).await.unwrap();
                assert_eq!(collect(resp).await.status, 200);
                slowest = slowest.max(t.elapsed());
            }
            slowest
        }));
    }
    let mut slowest = Duration::ZERO;
    for t in tasks {
        slowest = slowest.max(t.await.unwrap());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a request waited {slowest:?} for the log ({:?} for all)",
        started.elapsed()
    );
    // The disk comes back: what was queued is written, and every request
    // is either a line or a counted drop.
    let mut reader = reader;
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (written, dropped) = loop {
        let mut chunk = [0u8; 65536];
        loop {
            match std::io::Read::read(&mut reader, &mut chunk) {
                Ok(n) if n > 0 => read.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        let s = scrape(admin_addr).await;
        let dropped = value(&s, "stgw_access_log_dropped_total", &[]).unwrap();
        let written = value(&s, "stgw_access_log_records_total", &[]).unwrap();
        let lines = read.iter().filter(|&&b| b == b'\n').count();
        if (written + dropped) as usize == total && lines == written as usize {
            break (written, dropped);
        }
        assert!(
            Instant::now() < deadline,
            "written {written}, dropped {dropped}, read {lines} of {total}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(dropped > 0.0, "the queue never filled (written {written})");
}

/// Opening a FIFO for reading without waiting for a writer.
trait NonBlocking {
    fn custom_flags_nonblocking(&mut self) -> &mut Self;
}

impl NonBlocking for std::fs::OpenOptions {
    fn custom_flags_nonblocking(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

#[tokio::test]
async fn https_and_http2_requests_log_their_tls_facts_and_protocol() {
    use crate::pki::{Kind, Pki, connect};
    let certs = TempDir::new();
    let pki = Pki::new(certs.path());
    let site = pki.server("site", &["tls.test"], Kind::Ecdsa);
    let target = Backend::start("t").await;
    let port = free_port();
    let toml = format!(
        r#"
[global]
state_dir = "var"
access_log = "access.log"
[[load_balancer]]
name = "tls"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  protocol = "HTTPS"
  port = {port}
  certificate = {{ cert = {cert:?}, key = {key:?} }}
    [[load_balancer.listener.domain]]
    name = "tls.test"
      [[load_balancer.listener.domain.rule]]
      url = "/"
      health_check = {{ enabled = false }}
      targets = [{{ address = "{t}" }}]
"#,
        cert = site.cert,
        key = site.key,
        t = target.addr,
    );
    let stgw = Stgw::start(&toml);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let h1 = connect(pki.client(&["http/1.1"]), addr, Some("tls.test"))
        .await
        .unwrap();
    let mut sender = h1_client(h1).await;
    for _ in 0..2 {
        let got = collect(
            sender
                .send_request(get_req("tls.test", "/one"))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got.status, 200);
    }
    let h2 = connect(pki.client(&["h2"]), addr, Some("tls.test"))
        .await
        .unwrap();
    let mut h2 = h2_client(h2).await;
    let req = Request::get("https://tls.test/two")
        .body(Full::default())
        .unwrap();
    assert_eq!(
        collect(h2.send_request(req).await.unwrap()).await.status,
        200
    );

    let log = records(&lines(&stgw.dir.path().join("access.log"), 3).await);
    for r in &log {
        assert_eq!(r["ssl_protocol"], "TLSv1.3", "{r}");
        assert!(r["ssl_cipher"].as_str().unwrap().starts_with("TLS_"), "{r}");
        assert_eq!(r["ssl_session_reused"], ".");
        assert!(r["ssl_handshake_time"].as_f64().unwrap() < 5.0);
        assert_eq!(r["server_name"], "tls.test");
    }
    assert_eq!(log[0]["protocol_type"], "https");
    assert_eq!(log[0]["request"], "GET /one HTTP/1.1");
    assert_eq!(log[0]["connection_requests"], 1);
    assert_eq!(
        log[1]["connection_requests"], 2,
        "keep-alive: the second request"
    );
    assert_eq!(log[2]["protocol_type"], "http2");
    assert_eq!(log[2]["request"], "GET /two HTTP/2.0");
    assert_eq!(log[2]["http_host"], "tls.test");
}

#[tokio::test]
async fn request_length_counts_a_streamed_body_as_it_was_read() {
    use tokio::io::AsyncReadExt;
    let target = Backend::start("t").await;
    let port = free_port();
    let toml = with_custom(
        &one_target(port, target.addr, "access_log = \"access.log\""),
        "proxy_request_buffering off;",
    );
    let stgw = Stgw::start(&toml);
    let log = stgw.dir.path().join("access.log");

    // Chunked: no Content-Length to go by, 300,000 bytes in ten chunks.
    let head = "POST /chunked HTTP/1.1\r\nhost: log.test\r\ntransfer-encoding: chunked\r\n\r\n";
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'c'; 30_000];
    for _ in 0..10 {
        stream.write_all(b"7530\r\n").await.unwrap();
        stream.write_all(&chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let record = &records(&lines(&log, 1).await)[0];
    let length = record["request_length"].as_u64().unwrap();
    // The head and the body's data (its chunk framing, 85 bytes, is not
    // counted).
    let expected = head.len() as u64 + 300_000;
    assert!(
        (expected..=expected + 85).contains(&length),
        "request_length {length}, not the head and 300,000 body bytes: {record}"
    );
    drop(stream);

    // A Content-Length of 1,000,000 but 200,000 bytes before the client
    // goes away: what was read counts, not what was announced.
    let head = "POST /short HTTP/1.1\r\nhost: log.test\r\ncontent-length: 1000000\r\n\r\n";
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b's'; 200_000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
    let record = &records(&lines(&log, 2).await)[1];
    assert_eq!(record["request"], "POST /short HTTP/1.1", "{record}");
    let length = record["request_length"].as_u64().unwrap();
    assert_eq!(length, head.len() as u64 + 200_000, "{record}");
}

//! Every directive of the personalized configuration, shown acting on real
//! traffic (the 30-second timeouts are in `timeouts.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One listener on `port`, domain `h.test`, rule `/` over `target`, with
/// `custom` as the personalized configuration.
fn configured(port: u16, target: SocketAddr, custom: &str) -> String {
    with_custom(&one_rule(port, "h.test", "/", "", &[(target, 10)]), custom)
}

fn header<'a>(got: &'a Got, name: &str) -> Vec<&'a str> {
    got.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[tokio::test]
async fn add_header_acts_on_nginx_statuses_and_more_set_headers_on_every_answer() {
    let b = Backend::start_with("b", "127.0.0.1:0", |seen| {
        let status = match seen.uri.path() {
            "/app/missing" => StatusCode::NOT_FOUND,
            "/app/created" => StatusCode::CREATED,
            _ => StatusCode::OK,
        };
        Reply {
            status,
            headers: vec![
                ("content-type".into(), "text/plain".into()),
                ("server".into(), "backend/1.0".into()),
                ("x-powered-by".into(), "php".into()),
                ("x-added".into(), "from-target".into()),
            ],
            body: Bytes::from_static(b"ok"),
            delay: Duration::ZERO,
        }
    })
    .await;
    let port = free_port();
    let custom = r#"add_header X-Added yes; add_header X-Always yes always; add_header X-Empty "";
more_set_headers "Server: edge" "X-Powered-By:";"#;
    let toml = with_custom(
        &one_rule(port, "h.test", "/app/", "", &[(b.addr, 10)]),
        custom,
    );
    let _stgw = Stgw::start(&toml);

    for path in ["/app/ok", "/app/created"] {
        let got = get(local(port), "h.test", path).await;
        assert!(got.status.is_success());
        assert_eq!(
            header(&got, "x-added"),
            ["from-target", "yes"],
            "add_header appends"
        );
        assert_eq!(header(&got, "x-always"), ["yes"]);
        assert_eq!(
            header(&got, "server"),
            ["edge"],
            "more_set_headers replaces"
        );
        assert!(
            got.headers.get("x-powered-by").is_none(),
            "an empty value removes"
        );
        assert!(
            got.headers.get("x-empty").is_none(),
            "add_header with an empty value adds nothing"
        );
    }
    // A target's 404: add_header does not act, more_set_headers does.
    let got = get(local(port), "h.test", "/app/missing").await;
    assert_eq!(got.status, 404);
    assert_eq!(header(&got, "x-added"), ["from-target"]);
    assert_eq!(header(&got, "x-always"), ["yes"]);
    assert_eq!(header(&got, "server"), ["edge"]);
    // stgw's own answers: its 404, and its 301 (a listed status).
    let got = get(local(port), "h.test", "/elsewhere").await;
    assert_eq!(got.status, 404);
    assert!(got.headers.get("x-added").is_none());
    assert_eq!(header(&got, "x-always"), ["yes"]);
    assert_eq!(header(&got, "server"), ["edge"]);
    let got = get(local(port), "h.test", "/app").await;
    assert_eq!(got.status, 301);
    assert_eq!(header(&got, "x-added"), ["yes"]);
    assert_eq!(header(&got, "server"), ["edge"]);
}

#[tokio::test]
async fn proxy_set_header_sends_the_products_variables_and_an_empty_value_removes() {
    let b = Backend::start("b").await;
    let port = free_port();
    let custom = r#"
proxy_set_header X-Real-Port $remote_port;
proxy_set_header X-clb-stgw-vip $server_addr;
proxy_set_header X-Forwarded-Port $vport;
proxy_set_header X-Method $request_method;
proxy_set_header X-Uri $uri;
proxy_set_header X-clb-lbid $lbid;
proxy_set_header Stgw-request-id $stgw_request_id;
proxy_set_header X-Full "$scheme://$host$request_uri from $remote_addr";
proxy_set_header X-Replaced "by stgw";
proxy_set_header User-Agent "";
"#;
    let _stgw = Stgw::start(&configured(port, b.addr, custom));
    let stream = TcpStream::connect(local(port)).await.unwrap();
    let client_port = stream.local_addr().unwrap().port();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/a/%62c/../d?x=1")
        .header("host", "H.Test:8080")
        .header("user-agent", "curl/8")
        .header("x-replaced", "by client")
        .body(Full::new(Bytes::from_static(b"body")))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = b.last().headers;
    assert_eq!(h["x-real-port"], client_port.to_string().as_str());
    assert_eq!(h["x-clb-stgw-vip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-port"], port.to_string().as_str());
    assert_eq!(h["x-method"], "POST");
    assert_eq!(h["x-uri"], "/a/d", "$uri is the normalised path");
    assert!(h["x-clb-lbid"].to_str().unwrap().starts_with("lb-"));
    assert_eq!(h["stgw-request-id"].len(), 32);
    assert_eq!(h["x-full"], "http://h.test/a/%62c/../d?x=1 from 127.0.0.1");
    assert_eq!(
        h.get_all("x-replaced").iter().collect::<Vec<_>>(),
        ["by stgw"]
    );
    assert!(h.get("user-agent").is_none());
}

#[tokio::test]
async fn proxy_redirect_rewrites_http_to_https_in_location_and_refresh() {
    let b = Backend::start_with("b", "127.0.0.1:0", |seen| Reply {
        status: if seen.uri.path() == "/refresh" {
            StatusCode::OK
        } else {
            StatusCode::FOUND
        },
        headers: vec![
            ("location".into(), "http://app.test/login?next=%2F".into()),
            ("refresh".into(), "0; url=http://app.test/r".into()),
        ],
        body: Bytes::new(),
        delay: Duration::ZERO,
    })
    .await;
    let (on, off) = (free_port(), free_port());
    let _on = Stgw::start(&configured(on, b.addr, "proxy_redirect http:// https://;"));
    let _off = Stgw::start(&configured(off, b.addr, ""));
    let got = get(local(on), "h.test", "/").await;
    assert_eq!(got.status, 302);
    assert_eq!(location(&got), "https://app.test/login?next=%2F");
    assert_eq!(got.headers["refresh"], "0; url=https://app.test/r");
    let got = get(local(on), "h.test", "/refresh").await;
    assert_eq!(got.headers["refresh"], "0; url=https://app.test/r");
    let got = get(local(off), "h.test", "/").await;
    assert_eq!(
        location(&got),
        "http://app.test/login?next=%2F",
        "off by default"
    );
}

/// Reads one HTTP/1.1 response with a Content-Length body from `stream`.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return String::from_utf8_lossy(&buf[..end + 4 + len]).into_owned();
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// How long until the peer closes `stream` (reading and discarding).
async fn time_to_close(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n";

#[tokio::test]
async fn keepalive_timeout_0_disables_keep_alive_and_1s_closes_an_idle_connection() {
    let b = Backend::start("b").await;
    let (zero, one, default) = (free_port(), free_port(), free_port());
    let _zero = Stgw::start(&configured(zero, b.addr, "keepalive_timeout 0;"));
    let _one = Stgw::start(&configured(one, b.addr, "keepalive_timeout 1s;"));
    let _default = Stgw::start(&configured(default, b.addr, ""));

    let mut s = TcpStream::connect(local(zero)).await.unwrap();
    s.write_all(GET).await.unwrap();
    let resp = read_response(&mut s).await;
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    assert!(
        time_to_close(&mut s, Duration::from_secs(2))
            .await
            .is_some()
    );

    let mut s = TcpStream::connect(local(one)).await.unwrap();
    s.write_all(GET).await.unwrap();
    let resp = read_response(&mut s).await;
    assert!(
        !resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    let idle = time_to_close(&mut s, Duration::from_secs(5))
        .await
        .expect("closed when idle");
    assert!(
        idle >= Duration::from_millis(800) && idle < Duration::from_secs(3),
        "{idle:?}"
    );

    let mut s = TcpStream::connect(local(default)).await.unwrap();
    s.write_all(GET).await.unwrap();
    read_response(&mut s).await;
    assert!(
        time_to_close(&mut s, Duration::from_secs(3))
            .await
            .is_none(),
        "75 s by default"
    );
}

#[tokio::test]
async fn keepalive_requests_closes_the_connection_after_that_many_requests() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, b.addr, "keepalive_requests 2;"));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(GET).await.unwrap();
    let first = read_response(&mut s).await;
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    s.write_all(GET).await.unwrap();
    let second = read_response(&mut s).await;
    assert!(
        second.to_ascii_lowercase().contains("connection: close"),
        "{second}"
    );
    assert!(
        time_to_close(&mut s, Duration::from_secs(2))
            .await
            .is_some()
    );
}

/// What an uploading client saw.
struct Upload {
    response: Vec<u8>,
    /// Body bytes written when the first response byte arrived.
    written_at_answer: usize,
    /// Every body byte was written without error.
    completed: bool,
}

/// Sends `head`, then `total` body bytes in 64 KiB pieces paced by
/// `pause`, reading the answer at the same time.
async fn upload(port: u16, head: String, total: usize, pause: Duration) -> Upload {
    let stream = TcpStream::connect(local(port)).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let piece = vec![b'x'; 64 * 1024];
        let mut left = total;
        while left > 0 {
            let n = left.min(piece.len());
            wr.write_all(&piece[..n]).await?;
            w.fetch_add(n, Ordering::Relaxed);
            left -= n;
            tokio::time::sleep(pause).await;
        }
        Ok::<_, std::io::Error>(wr)
    });
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut written_at_answer = usize::MAX;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rd.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                if response.is_empty() {
                    written_at_answer = written.load(Ordering::Relaxed);
                }
                response.extend_from_slice(&chunk[..n]);
                if response.windows(4).any(|w| w == b"\r\n\r\n") && complete(&response) {
                    break;
                }
            }
            _ => break,
        }
    }
    let completed = matches!(writer.await, Ok(Ok(_)));
    Upload {
        response,
        written_at_answer,
        completed,
    }
}

/// Whether `bytes` holds a whole response with a Content-Length body.
fn complete(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    bytes.len() >= end + 4 + len
}

fn post_head(length: Option<usize>, extra: &str) -> String {
    match length {
        Some(n) => {
            format!("POST /app/up HTTP/1.1\r\nHost: h.test\r\nContent-Length: {n}\r\n{extra}\r\n")
        }
        None => format!(
            "POST /app/up HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
        ),
    }
}

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn client_max_body_size_takes_exactly_the_limit_and_answers_413_to_one_byte_more() {
    let b = Backend::start_with("echo", "127.0.0.1:0", |seen| {
        Reply::text(seen.body.len().to_string())
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, b.addr, "client_max_body_size 1m;"));
    let pause = Duration::from_millis(15);

    // Exactly the limit.
    let up = upload(port, post_head(Some(MIB), ""), MIB, pause).await;
    assert_eq!(raw_status(&up.response), 200);
    assert!(up.response.ends_with(b"1048576"));
    assert!(up.completed);

    // One byte more, announced: 413 at once, read while still uploading,
    // and the upload is not reset (lingering close).
    let up = upload(port, post_head(Some(MIB + 1), ""), MIB + 1, pause).await;
    assert_eq!(raw_status(&up.response), 413);
    let text = String::from_utf8_lossy(&up.response).to_ascii_lowercase();
    assert!(text.contains("connection: close"), "{text}");
    assert!(
        up.written_at_answer < MIB,
        "answered after {} bytes",
        up.written_at_answer
    );
    assert!(
        up.completed,
        "the client could finish sending without a reset"
    );
    assert_eq!(b.hits(), 1, "the target never saw the refused request");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_buffered_or_streamed() {
    for buffering in ["on", "off"] {
        let b = Backend::start_with("echo", "127.0.0.1:0", |seen| {
            Reply::text(seen.body.len().to_string())
        })
        .await;
        let port = free_port();
        let custom = format!("client_max_body_size 1m; proxy_request_buffering {buffering};");
        let _stgw = Stgw::start(&configured(port, b.addr, &custom));
        // Chunked framing by hand: 16 chunks of 64 KiB, plus one byte.
        let stream = TcpStream::connect(local(port)).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::spawn(async move {
            wr.write_all(post_head(None, "").as_bytes()).await?;
            let piece = vec![b'y'; 64 * 1024];
            for _ in 0..16 {
                wr.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await?;
                wr.write_all(&piece).await?;
                wr.write_all(b"\r\n").await?;
            }
            wr.write_all(b"1\r\nz\r\n0\r\n\r\n").await?;
            Ok::<_, std::io::Error>(wr)
        });
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut out)).await;
        let _ = writer.await;
        assert_eq!(raw_status(&out), 413, "buffering {buffering}");
        assert!(
            String::from_utf8_lossy(&out)
                .to_ascii_lowercase()
                .contains("connection: close")
        );
    }
}

#[tokio::test]
async fn expect_100_continue_over_the_limit_gets_413_without_100() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, b.addr, "client_max_body_size 1m;"));
    let head = post_head(Some(2 * MIB), "Expect: 100-continue\r\n");
    let out = raw(local(port), head.as_bytes(), Duration::from_secs(8)).await;
    let text = String::from_utf8_lossy(&out);
    assert_eq!(raw_status(&out), 413, "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    // Within the limit, the 100 comes and the body is taken.
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(post_head(Some(5), "Expect: 100-continue\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"));
    s.write_all(b"hello").await.unwrap();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

/// A target that reports when the first body byte arrives, then reads the
/// whole body (Content-Length or chunked) and answers 200.
async fn body_watching_target(first_byte: tokio::sync::mpsc::Sender<Instant>) -> RawBackend {
    RawBackend::start(move |req, mut stream: TcpStream| {
        let first_byte = first_byte.clone();
        async move {
            let mut body = req.rest.clone();
            let length: Option<usize> = req.header("content-length").and_then(|v| v.parse().ok());
            let mut chunk = vec![0u8; 65536];
            let mut reported = false;
            loop {
                if !body.is_empty() && !reported {
                    reported = true;
                    let _ = first_byte.send(Instant::now()).await;
                }
                let done = match length {
                    Some(n) => body.len() >= n,
                    None => body.ends_with(b"0\r\n\r\n"),
                };
                if done {
                    break;
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
        }
    })
    .await
}

#[tokio::test]
async fn with_buffering_off_the_target_sees_the_first_bytes_before_the_client_sends_the_last() {
    for (buffering, streams) in [("off", true), ("on", false)] {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let target = body_watching_target(tx).await;
        let port = free_port();
        let _stgw = Stgw::start(&configured(
            port,
            target.addr,
            &format!("proxy_request_buffering {buffering};"),
        ));
        let mut s = TcpStream::connect(local(port)).await.unwrap();
        s.write_all(post_head(Some(200_000), "").as_bytes())
            .await
            .unwrap();
        s.write_all(&[b'a'; 1000]).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
        assert_eq!(first.is_ok(), streams, "buffering {buffering}");
        s.write_all(&vec![b'b'; 199_000]).await.unwrap();
        let resp = read_response(&mut s).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        if !streams {
            assert!(
                rx.recv().await.is_some(),
                "buffered: the body arrives once complete"
            );
        }
    }
}

#[tokio::test]
async fn error_page_replaces_stgws_own_errors_internally_or_by_redirect() {
    let app = Backend::start_with("app", "127.0.0.1:0", |seen| Reply {
        status: if seen.uri.path() == "/app/missing" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        },
        headers: vec![("content-type".into(), "text/plain".into())],
        body: Bytes::from(format!("app {}", seen.uri.path())),
        delay: Duration::ZERO,
    })
    .await;
    let pages = Backend::start_with("pages", "127.0.0.1:0", |seen| Reply {
        status: StatusCode::OK,
        headers: vec![("content-type".into(), "text/html".into())],
        body: Bytes::from(format!("page {}", seen.uri)),
        delay: Duration::ZERO,
    })
    .await;
    let dead = local(free_port());
    let port = free_port();
    let toml = format!(
        r#"
[global]
state_dir = "var"
[[load_balancer]]
name = "pages"
vip = "127.0.0.1"
custom_config = '''
client_max_body_size 1m;
error_page 404 /errors/404.html?from=stgw;
error_page 502 = /errors/502.html;
error_page 503 =200 /errors/503.html;
error_page 414 http://status.example.com/too-long;
error_page 413 =301 https://status.example.com/big;
'''
  [[load_balancer.listener]]
  protocol = "HTTP"
  port = {port}
    [[load_balancer.listener.domain]]
    name = "h.test"
      [[load_balancer.listener.domain.rule]]
      url = "/app/"
      targets = [{{ address = "{app}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/errors/"
      targets = [{{ address = "{pages}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/dead/"
      health_check = {{ enabled = false }}
      targets = [{{ address = "{dead}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/none/"
      targets = []
"#,
        app = app.addr,
        pages = pages.addr,
    );
    let _stgw = Stgw::start(&toml);

    // 404 from stgw: the page, internally, with the error's status.
    let got = get(local(port), "h.test", "/nothing").await;
    assert_eq!(got.status, 404);
    assert_eq!(got.text(), "page /errors/404.html?from=stgw");
    assert_eq!(got.headers["content-type"], "text/html");
    let seen = pages.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.headers["host"], "h.test");
    // The internal request is a GET (HEAD stays HEAD), without the body.
    let req = Request::post("/nothing")
        .header("host", "h.test")
        .body(Full::new(Bytes::from_static(b"data")))
        .unwrap();
    let got = send(local(port), None, req).await.unwrap();
    assert_eq!(got.status, 404);
    assert_eq!(pages.last().method, "GET");
    assert!(pages.last().body.is_empty());
    let req = Request::head("/nothing")
        .header("host", "h.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(local(port), None, req).await.unwrap().status, 404);
    assert_eq!(pages.last().method, "HEAD");
    // A target's own 404 passes through.
    let got = get(local(port), "h.test", "/app/missing").await;
    assert_eq!(got.status, 404);
    assert_eq!(got.text(), "app /app/missing");
    // `=`: the page's status; `=200`: that status.
    let got = get(local(port), "h.test", "/dead/x").await;
    assert_eq!(
        (got.status.as_u16(), got.text()),
        (200, "page /errors/502.html".to_owned())
    );
    let got = get(local(port), "h.test", "/none/x").await;
    assert_eq!(
        (got.status.as_u16(), got.text()),
        (200, "page /errors/503.html".to_owned())
    );
    // URL targets: 302, or the =code given.
    let long = format!("/app/{}", "a".repeat(9000));
    let got = get(local(port), "h.test", &long).await;
    assert_eq!(got.status, 302);
    assert_eq!(location(&got), "http://status.example.com/too-long");
    let up = upload(port, post_head(Some(2 * MIB), ""), 0, Duration::ZERO).await;
    let text = String::from_utf8_lossy(&up.response).to_ascii_lowercase();
    assert_eq!(raw_status(&up.response), 301, "{text}");
    assert!(
        text.contains("location: https://status.example.com/big"),
        "{text}"
    );
    assert!(text.contains("connection: close"), "{text}");
}

#[tokio::test]
async fn an_error_page_that_fails_gives_stgws_page_for_that_failure() {
    let dead = local(free_port());
    let port = free_port();
    let toml = with_custom(
        &one_rule(
            port,
            "h.test",
            "/app/",
            "health_check = { enabled = false }",
            &[(dead, 10)],
        ),
        "error_page 404 /app/404.html;",
    );
    let _stgw = Stgw::start(&toml);
    let got = get(local(port), "h.test", "/nothing").await;
    assert_eq!(got.status, 502, "the page's own failure, no recursion");
    assert!(got.text().contains("502 Bad Gateway"));
}

async fn h2_get(port: u16, headers: &[(&str, String)]) -> StatusCode {
    let stream = TcpStream::connect(local(port)).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut req = Request::get("http://h.test/").version(Version::HTTP_2);
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test]
async fn http2_max_field_size_limits_each_decoded_field() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, b.addr, "http2_max_field_size 1k;"));
    assert_eq!(h2_get(port, &[("x-big", "v".repeat(1024))]).await, 200);
    assert_eq!(h2_get(port, &[("x-big", "v".repeat(1025))]).await, 431);
    assert_eq!(h2_get(port, &[("cookie", "c".repeat(1025))]).await, 431);
    assert_eq!(b.hits(), 1);
    // The default is 4k.
    let port = free_port();
    let _default = Stgw::start(&configured(port, b.addr, ""));
    assert_eq!(h2_get(port, &[("x-big", "v".repeat(4096))]).await, 200);
    assert_eq!(h2_get(port, &[("x-big", "v".repeat(4097))]).await, 431);
}

#[tokio::test]
async fn ssl_verify_depth_and_the_other_values_reach_the_running_listener() {
    let b = Backend::start("b").await;
    let port = free_port();
    let stgw = Stgw::start(&configured(
        port,
        b.addr,
        "ssl_verify_depth 4; proxy_buffers 4 8k; proxy_buffer_size 8k;",
    ));
    let snapshot = stgw.runtime.snapshot();
    let custom = &snapshot.listeners[0].custom;
    assert_eq!(custom.ssl_verify_depth, 4);
    assert_eq!(
        (custom.proxy_buffers.count, custom.proxy_buffers.size),
        (4, 8 * 1024)
    );
    assert_eq!(custom.proxy_buffer_size, 8 * 1024);
}

/// A target that reports, after receiving a request and being told the
/// client is gone, whether stgw closed the connection (`true`) or kept
/// it and read the answer (`false`).
async fn abort_watching_target(
    got_request: tokio::sync::mpsc::Sender<()>,
    client_gone: Arc<tokio::sync::Notify>,
    closed: tokio::sync::mpsc::Sender<bool>,
) -> RawBackend {
    RawBackend::start(move |_req, mut stream: TcpStream| {
        let (got_request, client_gone, closed) =
            (got_request.clone(), client_gone.clone(), closed.clone());
        async move {
            let _ = got_request.send(()).await;
            client_gone.notified().await;
            let mut buf = [0u8; 16];
            let eof = matches!(
                tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
                Ok(Ok(0)) | Ok(Err(_))
            );
            if eof {
                let _ = closed.send(true).await;
                return;
            }
            let body = vec![b'r'; 256 * 1024];
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let wrote = stream.write_all(head.as_bytes()).await.is_ok()
                && stream.write_all(&body).await.is_ok();
            // Read to the end, the connection goes back to stgw's pool: open.
            let kept = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf))
                .await
                .is_err();
            let _ = closed.send(!(wrote && kept)).await;
        }
    })
    .await
}

#[tokio::test]
async fn proxy_ignore_client_abort_decides_whether_a_client_abort_cancels_the_target_request() {
    for (setting, cancelled) in [("off", true), ("on", false)] {
        let (req_tx, mut req_rx) = tokio::sync::mpsc::channel(1);
        let (closed_tx, mut closed_rx) = tokio::sync::mpsc::channel(1);
        let gone = Arc::new(tokio::sync::Notify::new());
        let target = abort_watching_target(req_tx, gone.clone(), closed_tx).await;
        let port = free_port();
        let custom = format!("proxy_ignore_client_abort {setting};");
        let _stgw = Stgw::start(&configured(port, target.addr, &custom));
        let mut s = TcpStream::connect(local(port)).await.unwrap();
        s.write_all(GET).await.unwrap();
        tokio::time::timeout(Duration::from_secs(3), req_rx.recv())
            .await
            .unwrap();
        drop(s);
        tokio::time::sleep(Duration::from_millis(200)).await;
        gone.notify_one();
        let closed = tokio::time::timeout(Duration::from_secs(5), closed_rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(closed, cancelled, "proxy_ignore_client_abort {setting}");
    }
}

#[tokio::test]
async fn proxy_connect_timeout_bounds_the_connect_to_a_target() {
    // A listener whose accept queue is full: further SYNs go unanswered.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&local(0).into()).unwrap();
    socket.listen(0).unwrap();
    let blackhole: SocketAddr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(blackhole)).await
        {
            fillers.push(s);
        }
    }
    let port = free_port();
    let toml = with_custom(
        &one_rule(
            port,
            "h.test",
            "/",
            "health_check = { enabled = false }",
            &[(blackhole, 10)],
        ),
        "proxy_connect_timeout 4s;",
    );
    let _stgw = Stgw::start(&toml);
    let started = Instant::now();
    let got = get(local(port), "h.test", "/").await;
    let waited = started.elapsed();
    assert_eq!(got.status, 504);
    assert!(
        waited >= Duration::from_millis(3900) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    drop(fillers);
}

/// A target that answers `size` bytes and counts how many it has written.
async fn counting_target(
    size: usize,
    written: Arc<AtomicUsize>,
    finished: Arc<AtomicBool>,
) -> RawBackend {
    RawBackend::start(move |_req, mut stream: TcpStream| {
        let (written, finished) = (written.clone(), finished.clone());
        async move {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let piece = vec![b'd'; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(piece.len());
                if stream.write_all(&piece[..n]).await.is_err() {
                    return;
                }
                written.fetch_add(n, Ordering::Relaxed);
                left -= n;
            }
            finished.store(true, Ordering::Relaxed);
        }
    })
    .await
}

#[tokio::test]
async fn send_timeout_closes_a_connection_whose_client_stops_reading() {
    let written = Arc::new(AtomicUsize::new(0));
    let target = counting_target(64 * MIB, written, Arc::default()).await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, target.addr, "send_timeout 1s;"));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(GET).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut total = 0usize;
    let mut chunk = vec![0u8; 65536];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
        if n == 0 {
            break;
        }
        total += n;
    }
    assert!(
        total > 0 && total < 64 * MIB,
        "read {total} bytes before stgw gave up on the client"
    );
}

#[tokio::test]
async fn proxy_buffers_bound_what_is_read_from_the_target_ahead_of_a_slow_client() {
    let written = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let size = 128 * MIB;
    let target = counting_target(size, written.clone(), finished.clone()).await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(
        port,
        target.addr,
        "proxy_buffers 3 4k; proxy_buffer_size 1k;",
    ));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(GET).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Only socket buffers (a few MiB per hop on loopback) and stgw's bounded
    // buffers hold the answer while the client does not read.
    let ahead = written.load(Ordering::Relaxed);
    assert!(
        ahead < 48 * MIB,
        "the target wrote {ahead} bytes ahead of the client"
    );
    assert!(!finished.load(Ordering::Relaxed));
    let mut total = 0usize;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        total += n;
        if total >= size {
            break;
        }
    }
    assert!(
        total >= size,
        "the whole answer arrives once the client reads"
    );
}

#[tokio::test]
async fn answers_sent_before_the_body_is_read_close_the_connection_and_linger() {
    let b = Backend::start("b").await;
    let port = free_port();
    let toml = with_custom(
        &one_rule(port, "h.test", "/app/", "", &[(b.addr, 10)]),
        "client_max_body_size 64m;",
    );
    let _stgw = Stgw::start(&toml);
    // No rule (404) and nginx's add-slash redirect (301): stgw answers at
    // once; the client, still sending 4 MiB, reads the answer and is not
    // reset.
    for (path, status) in [("/nothing", 404), ("/app", 301)] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: h.test\r\nContent-Length: {}\r\n\r\n",
            4 * MIB
        );
        let up = upload(port, head, 4 * MIB, Duration::from_millis(10)).await;
        let text = String::from_utf8_lossy(&up.response).to_ascii_lowercase();
        assert_eq!(raw_status(&up.response), status, "{text}");
        assert!(text.contains("connection: close"), "{text}");
        assert!(
            up.written_at_answer < 4 * MIB,
            "{path}: answered after {} bytes",
            up.written_at_answer
        );
        assert!(up.completed, "{path}: the upload was reset");
    }
    assert_eq!(b.hits(), 0);
    // Without a body, the connection stays open.
    let got = get(local(port), "h.test", "/nothing").await;
    assert!(got.headers.get("connection").is_none());
}

//! What targets receive, what clients get back, and every error stgw
//! answers itself.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// What a client gets through stgw from a target that answers every
/// request with `answer` (its body `ok`).
async fn relayed(answer: &'static str) -> Got {
    let target = answering(answer).await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(target.addr, 10)]));
    let got = get(local(port), "h.test", "/").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "ok");
    got
}

/// The status stgw on `port` answers `request` with (sent raw; the
/// request should end the connection).
async fn status_of(port: u16, request: &[u8]) -> u16 {
    raw_status(&raw(local(port), request, Duration::from_secs(3)).await)
}

#[tokio::test]
async fn targets_receive_the_injected_headers() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let req = Request::get("/p?q=1")
        .header("host", "h.test")
        .header("x-forwarded-for", "203.0.113.7")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "secret")
        .header("keep-alive", "timeout=5")
        .header("x-app", "kept")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let got = send(local(port), None, req).await.unwrap();
    assert_eq!(got.status, 200);
    let seen = b.last();
    let h = &seen.headers;
    assert_eq!(seen.uri, "/p?q=1");
    assert_eq!(seen.version, http::Version::HTTP_11);
    assert_eq!(h["host"], "h.test");
    assert_eq!(h["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["x-client-proto"], "http");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-app"], "kept");
    assert!(h.get("x-hop").is_none());
    assert!(h.get("keep-alive").is_none());
    let id = h["stgw-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    get(local(port), "h.test", "/").await;
    assert_ne!(
        b.last().headers["stgw-request-id"],
        id.as_str(),
        "request ids are unique"
    );
}

#[tokio::test]
async fn clients_get_no_connection_specific_fields_and_stgws_server_and_date() {
    let got = relayed(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\
         Connection: keep-alive, X-Internal\r\nX-Internal: secret\r\n\
         Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\
         Server: BackendOS/1.2\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
         Upgrade: h2c\r\nX-Kept: yes\r\n\r\nok",
    )
    .await;
    let h = &got.headers;
    // stgw's own Server and Date, as nginx answers with its own.
    let servers: Vec<_> = h.get_all("server").iter().collect();
    assert_eq!(servers, ["stgw"]);
    let dates: Vec<_> = h.get_all("date").iter().collect();
    assert_eq!(dates.len(), 1);
    assert_ne!(dates[0], "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(h["x-kept"], "yes");
    for name in ["x-internal", "keep-alive", "proxy-connection", "upgrade"] {
        assert!(h.get(name).is_none(), "{name} reached the client: {h:?}");
    }
    // stgw's own Connection field, if any, names no field of the target's.
    for value in h.get_all("connection") {
        assert!(
            !value
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("x-internal")
        );
    }
}

#[tokio::test]
async fn targets_never_see_expect_or_underscored_field_names() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    // With Expect, hyper's server takes the request and answers 100 itself.
    let out = raw(
        local(port),
        b"POST /p HTTP/1.1\r\nHost: h.test\r\nX_Real_IP: 6.6.6.6\r\n\
          x_forwarded_for: 6.6.6.6\r\nX-Kept: 1\r\nExpect: 100-continue\r\n\
          Content-Length: 2\r\nConnection: close\r\n\r\nok",
        Duration::from_secs(3),
    )
    .await;
    assert!(out.starts_with(b"HTTP/1.1 100 Continue\r\n"), "{out:?}");
    let seen = b.last();
    let h = &seen.headers;
    assert_eq!(h["x-kept"], "1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    for name in ["expect", "x_real_ip", "x_forwarded_for"] {
        assert!(h.get(name).is_none(), "{name} reached the target: {h:?}");
    }
    // The same through stgw's own server (no Expect: it takes the request).
    let request =
        b"GET /q HTTP/1.1\r\nHost: h.test\r\nX_Real_IP: 6.6.6.6\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(port, request).await, 200);
    let seen = b.last();
    assert_eq!(seen.uri, "/q");
    assert!(seen.headers.get("x_real_ip").is_none());
    assert_eq!(seen.headers["x-real-ip"], "127.0.0.1");
}

#[tokio::test]
async fn trace_is_405_and_userinfo_in_the_request_line_is_400() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    // As nginx: 405, and the connection closes (a TRACE may carry a body
    // it does not announce).
    let trace = b"TRACE / HTTP/1.1\r\nHost: h.test\r\n\r\n";
    let (answer, closed) = raw_until_closed(local(port), trace, Duration::from_secs(3)).await;
    assert_eq!(raw_status(&answer), 405);
    assert!(closed, "{}", String::from_utf8_lossy(&answer));
    for line in [
        &b"GET http://user:pw@h.test/ HTTP/1.1\r\nHost: h.test\r\n\r\n"[..],
        b"GET http://evil@h.test/ HTTP/1.1\r\nHost: h.test\r\n\r\n",
    ] {
        let status = status_of(port, line).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(line));
    }
    assert_eq!(b.hits(), 0);
    // The target still serves the rest.
    assert_eq!(get(local(port), "h.test", "/").await.status, 200);
}

#[tokio::test]
async fn request_lines_nginx_takes_are_served_mended() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    // A GBK path and query (raw, as old clients send them), then `<>` and `"`.
    for (request, seen) in [
        (
            &b"GET /\xc4\xe3?q=\xba\xc3 HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n"[..],
            "/%C4%E3?q=%BA%C3",
        ),
        (
            b"GET /a<b>?x=\"y\" HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
            "/a%3Cb%3E?x=%22y%22",
        ),
        // HTTP/1.0 gets the escaped target too.
        (b"GET /p\xff HTTP/1.0\r\nHost: h.test\r\n\r\n", "/p%FF"),
        // A later HTTP/1 minor version is served as HTTP/1.1 (RFC 9112 §2.3).
        (
            b"GET /v HTTP/1.2\r\nHost: h.test\r\nConnection: close\r\n\r\n",
            "/v",
        ),
    ] {
        let status = status_of(port, request).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(request));
        assert_eq!(b.last().uri, seen);
    }
}

#[tokio::test]
async fn an_invalid_field_line_in_an_answer_is_left_out_not_502() {
    let got = relayed(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX(A): 1\r\n\
         X-Ctl: a\x01b\r\nX-Kept: yes\r\n\r\nok",
    )
    .await;
    assert_eq!(got.headers["x-kept"], "yes");
    assert!(got.headers.get("x-ctl").is_none());
    assert!(!got.headers.keys().any(|n| n.as_str().starts_with("x(")));
}

#[tokio::test]
async fn a_targets_own_reason_phrase_reaches_http_1_1_clients_as_sent() {
    use tokio::io::AsyncWriteExt;
    let target = RawBackend::start(|req, mut stream| async move {
        let line = match req.path() {
            "/fine" => "HTTP/1.1 200 Everything Fine",
            "/custom" => "HTTP/1.1 599 Custom Thing",
            "/empty" => "HTTP/1.1 404 ",
            _ => "HTTP/1.1 404 Not Found",
        };
        let answer = format!("{line}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        let _ = stream.write_all(answer.as_bytes()).await;
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(target.addr, 10)]));
    wait_listening(local(port)).await;
    let status_line = |bytes: Vec<u8>| {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        text.split("\r\n").next().unwrap_or_default().to_owned()
    };
    for (path, line) in [
        ("/fine", "HTTP/1.1 200 Everything Fine"),
        ("/custom", "HTTP/1.1 599 Custom Thing"),
        ("/empty", "HTTP/1.1 404 "),
        ("/standard", "HTTP/1.1 404 Not Found"),
    ] {
        // stgw's own HTTP/1.1 server (no body) and hyper's (a body).
        let get = format!("GET {path} HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n");
        let post = format!(
            "POST {path} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
        );
        for request in [get, post] {
            let answer = raw(local(port), request.as_bytes(), Duration::from_secs(3)).await;
            assert_eq!(status_line(answer), line, "{request}");
        }
    }
}

#[tokio::test]
async fn client_ip_off_injects_no_client_address() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "h.test",
        "/",
        "client_ip = false",
        &[(b.addr, 10)],
    ));
    get(local(port), "h.test", "/").await;
    let h = b.last().headers;
    assert!(h.get("x-forwarded-for").is_none());
    assert!(h.get("x-real-ip").is_none());
    assert_eq!(h["x-client-proto"], "http");
}

#[tokio::test]
async fn bodies_pass_both_ways_buffered_small_and_spilled_large() {
    let b = Backend::start_with("echo", "127.0.0.1:0", |seen| Reply::text(seen.body.clone())).await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "b.test", "/", "", &[(b.addr, 10)]));
    for size in [0usize, 1, 1000, 64 * 1024, 64 * 1024 + 1, 3 * 1024 * 1024] {
        let body: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let req = Request::post("/up")
            .header("host", "b.test")
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        let got = send(local(port), None, req).await.unwrap();
        assert_eq!(got.status, 200, "size {size}");
        assert_eq!(got.body.len(), size);
        assert!(got.body == body, "size {size}: body differs");
        let seen = b.last();
        assert_eq!(
            seen.headers
                .get("content-length")
                .map(|v| v.to_str().unwrap().parse::<usize>().unwrap())
                .unwrap_or(0),
            size
        );
        assert!(seen.headers.get("transfer-encoding").is_none());
    }
}

#[tokio::test]
async fn a_chunked_request_reaches_the_target_with_one_framing() {
    let b = Backend::start_with("echo", "127.0.0.1:0", |seen| Reply::text(seen.body.clone())).await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "c.test", "/", "", &[(b.addr, 10)]));
    let out = raw(
        local(port),
        b"POST / HTTP/1.1\r\nHost: c.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(raw_status(&out), 200);
    assert!(String::from_utf8_lossy(&out).ends_with("hello world"));
    let seen = b.last();
    assert_eq!(seen.headers["content-length"], "11");
    assert!(seen.headers.get("transfer-encoding").is_none());
}

#[tokio::test]
async fn http_1_1_without_host_or_with_two_hosts_is_400() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let wait = Duration::from_secs(3);
    let out = raw(local(port), b"GET / HTTP/1.1\r\n\r\n", wait).await;
    assert_eq!(raw_status(&out), 400);
    let out = raw(
        local(port),
        b"GET / HTTP/1.1\r\nHost: h.test\r\nHost: other\r\n\r\n",
        wait,
    )
    .await;
    assert_eq!(raw_status(&out), 400);
    let out = raw(local(port), b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", wait).await;
    assert_eq!(raw_status(&out), 400);
    // HTTP/1.0 may omit Host: the default domain answers.
    let out = raw(local(port), b"GET / HTTP/1.0\r\n\r\n", wait).await;
    assert_eq!(raw_status(&out), 200);
    // Absolute-form: the URI's authority is the host.
    let out = raw(
        local(port),
        b"GET http://h.test/abs HTTP/1.1\r\nHost: ignored.test\r\nConnection: close\r\n\r\n",
        wait,
    )
    .await;
    assert_eq!(raw_status(&out), 200);
    assert_eq!(b.last().uri, "/abs");
    assert_eq!(b.last().headers["host"], "h.test");
    // Without a path it is the root, and the query follows it.
    let out = raw(
        local(port),
        b"GET http://h.test?x=1 HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
        wait,
    )
    .await;
    assert_eq!(raw_status(&out), 200);
    assert_eq!(b.last().uri, "/?x=1");
    assert_eq!(b.hits(), 3);
    // It still needs one valid Host header (RFC 9112 §3.2), and a port of
    // digits.
    for request in [
        &b"GET http://h.test/abs HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
        b"GET http://h.test/abs HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n",
        b"GET http://h.test:8a/abs HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
    ] {
        let out = raw(local(port), request, wait).await;
        assert_eq!(
            raw_status(&out),
            400,
            "{}",
            String::from_utf8_lossy(request)
        );
    }
    assert_eq!(b.hits(), 3);
}

#[tokio::test]
async fn http_2_without_authority_or_host_is_400() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    // Prior-knowledge h2c; a relative URI sends no `:authority`.
    let tcp = tokio::net::TcpStream::connect(local(port)).await.unwrap();
    let mut h2 = h2_client(tcp).await;
    let bare = Request::get("/x").body(Full::new(Bytes::new())).unwrap();
    let got = collect(h2.send_request(bare).await.unwrap()).await;
    assert_eq!(got.status, 400);
    let with_host = Request::get("/x")
        .header("host", "h.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let got = collect(h2.send_request(with_host).await.unwrap()).await;
    assert_eq!(got.status, 200);
    assert_eq!(b.hits(), 1);
}

#[tokio::test]
async fn oversized_request_lines_and_headers_get_414_and_431() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let wait = Duration::from_secs(3);
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: h.test\r\n\r\n", "a".repeat(9000));
    assert_eq!(
        raw_status(&raw(local(port), long_uri.as_bytes(), wait).await),
        414
    );
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: h.test\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9000)
    );
    assert_eq!(
        raw_status(&raw(local(port), long_header.as_bytes(), wait).await),
        431
    );
    let many: String = (0..5)
        .map(|i| format!("X-H{i}: {}\r\n", "c".repeat(7000)))
        .collect();
    let total = format!("GET / HTTP/1.1\r\nHost: h.test\r\n{many}\r\n");
    assert_eq!(
        raw_status(&raw(local(port), total.as_bytes(), wait).await),
        431
    );
    assert_eq!(b.hits(), 0);
}

#[tokio::test]
async fn a_head_of_many_short_fields_passes_whole() {
    // nginx counts a head's bytes, not its fields (hyper's default stops
    // at 100).
    let b = Backend::start_with("count", "127.0.0.1:0", |seen| {
        let ours = seen
            .headers
            .keys()
            .filter(|k| k.as_str().starts_with("x-n"));
        Reply::text(ours.count().to_string())
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let fields: String = (0..300).map(|i| format!("X-N{i}: {i}\r\n")).collect();
    let head = format!("GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n{fields}\r\n");
    let answer = raw(local(port), head.as_bytes(), Duration::from_secs(3)).await;
    assert_eq!(raw_status(&answer), 200);
    assert!(
        answer.ends_with(b"\r\n\r\n300"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn a_head_refused_while_the_client_still_sends_it_closes_without_a_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    // Past what hyper buffers: the head scan refuses it as it streams in.
    let uri = "a".repeat(512 * 1024);
    let request = format!("GET /{uri} HTTP/1.1\r\nHost: h.test\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(local(port)).await.unwrap();
    let (mut rd, mut wr) = stream.split();
    let (written, read) = tokio::join!(wr.write_all(request.as_bytes()), async {
        let mut answer = Vec::new();
        let end = rd.read_to_end(&mut answer).await;
        (answer, end)
    });
    let (answer, end) = read;
    assert_eq!(raw_status(&answer), 414);
    // Drained, not reset: the whole request was taken and the close is a FIN.
    written.expect("the whole request is taken");
    end.expect("a clean close after the answer, no reset");
    assert_eq!(b.hits(), 0);
}

#[tokio::test]
async fn a_refused_target_is_502_and_a_rule_without_targets_is_503() {
    let dead = free_port();
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "e.test",
        "/",
        "health_check = { enabled = false }",
        &[(local(dead), 10)],
    ));
    let got = get(local(port), "e.test", "/").await;
    assert_eq!(got.status, 502);
    assert!(got.text().contains("502 Bad Gateway"));

    let port = free_port();
    let _none = Stgw::start(&one_rule(port, "e.test", "/", "", &[]));
    assert_eq!(get(local(port), "e.test", "/").await.status, 503);
    let b = Backend::start("b").await;
    let port = free_port();
    let _zero = Stgw::start(&one_rule(port, "e.test", "/", "", &[(b.addr, 0)]));
    assert_eq!(get(local(port), "e.test", "/").await.status, 503);
}

#[tokio::test]
async fn a_target_that_resets_is_502_and_the_next_target_is_tried() {
    // A "target" that accepts and closes at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resetting = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            if let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        }
    });
    let good = Backend::start("good").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "r.test",
        "/",
        "health_check = { enabled = false }",
        &[(resetting, 10), (good.addr, 10)],
    ));
    // GET is idempotent: a failure before any response byte moves on.
    for _ in 0..4 {
        let got = get(local(port), "r.test", "/").await;
        assert_eq!(got.status, 200);
        assert_eq!(got.text(), "good");
    }
    // Alone, the resetting target gives 502.
    let port = free_port();
    let _alone = Stgw::start(&one_rule(
        port,
        "r.test",
        "/",
        "health_check = { enabled = false }",
        &[(resetting, 10)],
    ));
    assert_eq!(get(local(port), "r.test", "/").await.status, 502);
}

#[tokio::test]
async fn a_target_that_never_answers_is_504_after_proxy_read_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        }
    });
    let port = free_port();
    let toml = one_rule(
        port,
        "t.test",
        "/",
        "health_check = { enabled = false }",
        &[(silent, 10)],
    )
    .replace(
        "vip = \"127.0.0.1\"",
        "vip = \"127.0.0.1\"\ncustom_config = \"proxy_read_timeout 30s;\"",
    );
    let _stgw = Stgw::start(&toml);
    let started = std::time::Instant::now();
    let got = get(local(port), "t.test", "/").await;
    assert_eq!(got.status, 504);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(29) && waited < Duration::from_secs(40),
        "{waited:?}"
    );
}

#[tokio::test]
async fn ipv6_listeners_and_targets_work() {
    let b = Backend::start_with("v6", "[::1]:0", |_| Reply::text("v6")).await;
    let port = free_port();
    let toml = one_rule(port, "v6.test", "/", "", &[(b.addr, 10)])
        .replace("vip = \"127.0.0.1\"", "vip = \"::1\"");
    let _stgw = Stgw::start(&toml);
    let addr: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let got = get(addr, "v6.test", "/").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "v6");
    assert_eq!(b.last().headers["x-real-ip"], "::1");
    assert_eq!(b.last().headers["x-forwarded-for"], "::1");
}

#[tokio::test]
async fn keep_alive_connections_to_targets_are_reused() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "k.test", "/", "", &[(b.addr, 10)]));
    for _ in 0..20 {
        assert_eq!(get(local(port), "k.test", "/").await.status, 200);
    }
    let peers: std::collections::HashSet<SocketAddr> =
        b.seen.lock().unwrap().iter().map(|s| s.peer).collect();
    assert_eq!(peers.len(), 1, "one pooled connection served all requests");
}

#[tokio::test]
async fn http_2_request_trailers_follow_a_streamed_body_to_an_http_1_1_target() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let target = RawBackend::start(move |req, mut stream| {
        let seen_tx = seen_tx.clone();
        async move {
            // The body as it came: chunks, the last one, trailers, the end.
            let mut body = req.rest;
            let mut buf = [0u8; 1024];
            while !body.windows(5).any(|w| w == b"0\r\n\r\n") && !ends_trailers(&body) {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&buf[..n]),
                }
            }
            let _ = seen_tx.send(body);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
        }
    })
    .await;
    let port = free_port();
    let toml = one_rule(port, "t.test", "/", "", &[(target.addr, 10)]);
    let _stgw = Stgw::start(&with_custom(&toml, "proxy_request_buffering off;"));
    let tcp = tokio::net::TcpStream::connect(local(port)).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let req = Request::post(format!("http://t.test:{port}/up"))
        .body(())
        .unwrap();
    let (resp, mut send) = client.send_request(req, false).unwrap();
    send.send_data(Bytes::from_static(b"abc"), false).unwrap();
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", "42".parse().unwrap());
    trailers.insert("content-length", "3".parse().unwrap());
    send.send_trailers(trailers).unwrap();
    assert_eq!(resp.await.unwrap().status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(5), seen_rx.recv())
        .await
        .unwrap()
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.ends_with("3\r\nabc\r\n0\r\nx-checksum: 42\r\n\r\n"),
        "the trailer follows the last chunk, minus fields a trailer may not carry: {body:?}"
    );
}

/// Whether a chunked body with a trailer section is complete.
fn ends_trailers(body: &[u8]) -> bool {
    body.windows(3).any(|w| w == b"0\r\n") && body.ends_with(b"\r\n\r\n")
}

//! Gzip: what is compressed decompresses to the target's exact bytes,
//! streaming answers stay streaming, and everything else passes untouched.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The query parameter `name` of a request target.
fn param<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let query = path.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A target answering `/len/N` with N bytes of text and a Content-Length,
/// `/chunked/N` with the same bytes chunked (64 KiB chunks). The query
/// sets `status`, `type`, `ce` (Content-Encoding), `cc` (Cache-Control).
async fn text_target() -> RawBackend {
    RawBackend::start(|req, mut stream: TcpStream| async move {
        let path = req.path().to_owned();
        let mut parts = path.split('?').next().unwrap_or("").split('/').skip(1);
        let mode = parts.next().unwrap_or("len").to_owned();
        let size: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let status = param(&path, "status").unwrap_or("200");
        let ctype = param(&path, "type")
            .unwrap_or("text/plain")
            .replace("%2F", "/");
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nETag: \"v1\"\r\nConnection: close\r\n"
        );
        if let Some(ce) = param(&path, "ce") {
            head.push_str(&format!("Content-Encoding: {ce}\r\n"));
        }
        if let Some(cc) = param(&path, "cc") {
            head.push_str(&format!("Cache-Control: {cc}\r\n"));
        }
        let body = text_body(size);
        let no_body = matches!(status, "204" | "304");
        let head_only = req.head.starts_with("HEAD") || no_body;
        if mode == "chunked" && !no_body {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            if !head_only {
                for piece in body.chunks(64 * 1024) {
                    if write_chunk(&mut stream, piece).await.is_err() {
                        return;
                    }
                }
                let _ = stream.write_all(b"0\r\n\r\n").await;
            }
        } else {
            if !no_body {
                head.push_str(&format!("Content-Length: {size}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            if !head_only {
                let _ = stream.write_all(&body).await;
            }
        }
        let _ = stream.shutdown().await;
    })
    .await
}

async fn fetch(port: u16, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = Request::get(path).header("host", "gz.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(
        local(port),
        None,
        req.body(Full::new(Bytes::new())).unwrap(),
    )
    .await
    .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

#[tokio::test]
async fn gzip_responses_decompress_to_the_targets_exact_bytes_from_0_bytes_to_10_mib() {
    let target = text_target().await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "gz.test", "/", "", &[(target.addr, 10)]));
    let gzip = [("accept-encoding", "gzip, deflate, br")];
    for size in [
        0usize,
        1,
        1023,
        1024,
        1025,
        64 * 1024,
        (1 << 20) + 3,
        10 << 20,
    ] {
        for mode in ["len", "chunked"] {
            let got = fetch(port, &format!("/{mode}/{size}"), &gzip).await;
            assert_eq!(got.status, 200);
            let compressed = mode == "chunked" || size >= 1024;
            let what = format!("{mode} {size}");
            if compressed {
                assert_eq!(got.headers["content-encoding"], "gzip", "{what}");
                assert_eq!(got.headers["vary"], "Accept-Encoding", "{what}");
                assert_eq!(got.headers["etag"], "W/\"v1\"", "{what}");
                assert!(got.headers.get("content-length").is_none(), "{what}");
                let plain = gunzip(&got.body);
                assert!(
                    plain == text_body(size),
                    "{what}: decompressed bytes differ"
                );
                if size >= 64 * 1024 {
                    assert!(
                        got.body.len() < size / 2,
                        "{what}: {} bytes",
                        got.body.len()
                    );
                }
            } else {
                assert!(got.headers.get("content-encoding").is_none(), "{what}");
                assert_eq!(
                    got.headers["content-length"],
                    size.to_string().as_str(),
                    "{what}"
                );
                assert!(got.body == text_body(size), "{what}: bytes differ");
            }
        }
    }
}

#[tokio::test]
async fn a_streaming_response_stays_streaming_when_compressed() {
    // The target sends a first piece, then waits until the client has
    // decompressed it before sending the rest.
    let (seen_tx, seen_rx) = tokio::sync::mpsc::channel::<()>(1);
    let seen_rx = Arc::new(tokio::sync::Mutex::new(seen_rx));
    let target = RawBackend::start(move |_req, mut stream: TcpStream| {
        let seen_rx = seen_rx.clone();
        async move {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = write_chunk(&mut stream, b"<p>first piece</p>").await;
            let waited =
                tokio::time::timeout(Duration::from_secs(5), seen_rx.lock().await.recv()).await;
            let last: &[u8] = if waited.is_ok() {
                b"<p>second piece</p>"
            } else {
                b"<p>timed out</p>"
            };
            let _ = write_chunk(&mut stream, last).await;
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "gz.test", "/", "", &[(target.addr, 10)]));

    let stream = TcpStream::connect(local(port)).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/stream")
        .header("host", "gz.test")
        .header("accept-encoding", "gzip")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let mut body = resp.into_body();
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    use std::io::Write;
    while !String::from_utf8_lossy(decoder.get_ref()).contains("first piece") {
        let frame = tokio::time::timeout(Duration::from_secs(3), body.frame())
            .await
            .expect("the first piece arrives before the target sends the rest")
            .expect("body continues")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            decoder.write_all(&data).unwrap();
            decoder.flush().unwrap();
        }
    }
    seen_tx.send(()).await.unwrap();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            decoder.write_all(&data).unwrap();
        }
    }
    let all = decoder.finish().unwrap();
    assert_eq!(
        String::from_utf8(all).unwrap(),
        "<p>first piece</p><p>second piece</p>"
    );
}

#[tokio::test]
async fn non_eligible_responses_pass_untouched() {
    let target = text_target().await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "gz.test", "/", "", &[(target.addr, 10)]));
    let gzip = ("accept-encoding", "gzip");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/len/5000?type=image%2Fpng", vec![gzip]),
        ("/chunked/5000?type=application%2Foctet-stream", vec![gzip]),
        ("/len/5000?ce=br", vec![gzip]),
        ("/len/5000?cc=public,no-transform", vec![gzip]),
        ("/len/5000?status=206", vec![gzip]),
        ("/len/5000?status=500", vec![gzip]),
        ("/len/5000?status=302", vec![gzip]),
        ("/len/5000", vec![gzip, ("range", "bytes=0-99")]),
        ("/len/5000", vec![("accept-encoding", "gzip;q=0, br")]),
        ("/len/5000", vec![("accept-encoding", "deflate")]),
        ("/len/1023", vec![gzip]),
    ];
    for (path, headers) in cases {
        let got = fetch(port, path, &headers).await;
        assert!(
            got.headers
                .get("content-encoding")
                .is_none_or(|v| v == "br"),
            "{path}"
        );
        let length = path.starts_with("/len/").then(|| path_len(path));
        assert_eq!(
            got.headers
                .get("content-length")
                .map(|v| v.to_str().unwrap()),
            length,
            "{path}"
        );
        assert!(
            got.body == text_body(5000)[..got.body.len()],
            "{path}: bytes differ"
        );
        assert_eq!(got.headers["etag"], "\"v1\"", "{path}");
    }
    // No body at all.
    for path in [
        "/len/0?status=204",
        "/len/0?status=304",
        "/chunked/0?status=304",
    ] {
        let got = fetch(port, path, &[gzip]).await;
        assert!(got.headers.get("content-encoding").is_none(), "{path}");
        assert!(got.body.is_empty(), "{path}");
    }
    // HEAD: the head a GET gets (nginx's; `curl -I` is how users check
    // that gzip is on), and no body at all.
    let out = raw(
        local(port),
        b"HEAD /len/5000 HTTP/1.1\r\nHost: gz.test\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("content-encoding: gzip\r\n"), "{text}");
    assert!(text.contains("vary: accept-encoding\r\n"), "{text}");
    assert!(!text.contains("content-length"), "{text}");
    let after_head = text.split_once("\r\n\r\n").map(|(_, rest)| rest);
    assert_eq!(after_head, Some(""), "no body after the head: {text}");
    // HTTP/1.0 (nginx's gzip_http_version 1.1).
    let out = raw(
        local(port),
        b"GET /len/5000 HTTP/1.0\r\nHost: gz.test\r\nAccept-Encoding: gzip\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(!text.contains("content-encoding"), "{text}");
    assert!(text.contains("vary: accept-encoding\r\n"), "{text}");
    assert!(out.ends_with(&text_body(5000)));
}

fn path_len(path: &str) -> &str {
    path.split('?').next().unwrap().rsplit('/').next().unwrap()
}

#[tokio::test]
async fn a_client_without_gzip_gets_the_plain_bytes_and_vary() {
    let target = text_target().await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "gz.test", "/", "", &[(target.addr, 10)]));
    let got = fetch(port, "/len/5000", &[]).await;
    assert!(got.headers.get("content-encoding").is_none());
    assert_eq!(got.headers["content-length"], "5000");
    assert_eq!(
        got.headers["vary"], "Accept-Encoding",
        "caches must know the answer varies"
    );
    assert!(got.body == text_body(5000));
}

#[tokio::test]
async fn gzip_off_on_the_rule_leaves_answers_alone_and_gzip_level_is_the_rules() {
    let target = text_target().await;
    let (off, fast, best) = (free_port(), free_port(), free_port());
    let _off = Stgw::start(&one_rule(
        off,
        "gz.test",
        "/",
        "gzip = false",
        &[(target.addr, 10)],
    ));
    let _fast = Stgw::start(&one_rule(
        fast,
        "gz.test",
        "/",
        "gzip_level = 1",
        &[(target.addr, 10)],
    ));
    let _best = Stgw::start(&one_rule(
        best,
        "gz.test",
        "/",
        "gzip_level = 9",
        &[(target.addr, 10)],
    ));
    let gzip = [("accept-encoding", "gzip")];
    let got = fetch(off, "/len/100000", &gzip).await;
    assert!(got.headers.get("content-encoding").is_none());
    assert!(got.headers.get("vary").is_none());
    assert!(got.body == text_body(100_000));
    let fast = fetch(fast, "/len/1000000", &gzip).await;
    let best = fetch(best, "/len/1000000", &gzip).await;
    assert_eq!(gunzip(&fast.body), gunzip(&best.body));
    assert!(
        best.body.len() < fast.body.len(),
        "level 9 ({}) beats level 1 ({})",
        best.body.len(),
        fast.body.len()
    );
}

#[tokio::test]
async fn http2_clients_get_compressed_answers_too() {
    let target = text_target().await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "gz.test", "/", "", &[(target.addr, 10)]));
    let stream = TcpStream::connect(local(port)).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = Request::get("http://gz.test/chunked/300000")
        .version(Version::HTTP_2)
        .header("accept-encoding", "gzip")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(gunzip(&body) == text_body(300_000));
}

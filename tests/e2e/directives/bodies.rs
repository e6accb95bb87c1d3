//! client_max_body_size, Expect: 100-continue, proxy_request_buffering,
//! and answers sent before the body was read.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::support::*;

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
async fn over_http2_curl_reads_the_413_while_still_uploading() {
    // The answer leaves at once, and the stream's reset (RFC 9113 §8.1)
    // only after it: sent together, curl 7.88 saw the stream closed before
    // the answer and failed with "Stream error in the HTTP/2 framing layer".
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    let (cert, key) = self_signed(dir.path(), &["h.test"]);
    let upload = dir.path().join("upload");
    std::fs::write(&upload, vec![b'x'; 3 * MIB]).unwrap();
    let port = free_port();
    let toml = with_https(
        &configured(port, b.addr, "client_max_body_size 1m;"),
        &format!("certificate = {{ cert = {cert:?}, key = {key:?} }}"),
    );
    let _stgw = Stgw::start(&toml);
    for framing in [&[][..], &["-H", "Transfer-Encoding: chunked"][..]] {
        let out = tokio::process::Command::new("curl")
            .args([
                "-sk",
                "--http2",
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
            ])
            .args(["--resolve", &format!("h.test:{port}:127.0.0.1")])
            .args(framing)
            .arg("--data-binary")
            .arg(format!("@{}", upload.display()))
            .arg(format!("https://h.test:{port}/"))
            .output()
            .await
            .expect("curl (apt install curl)");
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).as_ref()
            ),
            (Some(0), "2 413"),
            "{framing:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(b.hits(), 0, "the target never saw the refused requests");
}

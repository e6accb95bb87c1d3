//! WebSockets (ws, wss, and RFC 8441 over HTTP/2), gRPC-style HTTP/2 to
//! targets with trailers, and HTTP/2 abuse.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

use crate::pki::{Kind, Pki, connect};
use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn big_config() -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    c.max_message_size = Some(64 << 20);
    c.max_frame_size = Some(64 << 20);
    c
}

/// A WebSocket echo server; returns its address.
pub async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                // Health probes are plain GETs: answer them and stop.
                let mut peek = [0u8; 512];
                let n = stream.peek(&mut peek).await.unwrap_or(0);
                if !String::from_utf8_lossy(&peek[..n])
                    .to_ascii_lowercase()
                    .contains("upgrade: websocket")
                {
                    use tokio::io::AsyncWriteExt;
                    let mut s = stream;
                    let _ = s
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        )
                        .await;
                    return;
                }
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async_with_config(
                    stream,
                    handshake_answer,
                    Some(big_config()),
                )
                .await
                else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    match msg {
                        Message::Close(_) => {
                            // The library queued the echo of the close frame: send it.
                            let _ = ws.flush().await;
                            while let Some(Ok(_)) = ws.next().await {}
                            return;
                        }
                        Message::Ping(_) | Message::Pong(_) => {}
                        m => {
                            if ws.send(m).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// The echo server's handshake answer, with fields of its own.
#[allow(clippy::result_large_err)] // the callback's type, tungstenite's
fn handshake_answer(
    _: &tokio_tungstenite::tungstenite::handshake::server::Request,
    mut resp: tokio_tungstenite::tungstenite::handshake::server::Response,
) -> Result<
    tokio_tungstenite::tungstenite::handshake::server::Response,
    tokio_tungstenite::tungstenite::handshake::server::ErrorResponse,
> {
    let h = resp.headers_mut();
    h.insert("set-cookie", HeaderValue::from_static("sid=abc; Path=/"));
    h.insert("x-handshake", HeaderValue::from_static("echo"));
    Ok(resp)
}

fn ws_config(port: u16, target: SocketAddr, custom: &str) -> String {
    let toml = one_rule(port, "ws.test", "/", "", &[(target, 10)]);
    if custom.is_empty() {
        toml
    } else {
        with_custom(&toml, custom)
    }
}

/// Every kind of message crosses unchanged.
async fn exchange_everything<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let big: Vec<u8> = (0..16 << 20).map(|i: u32| (i * 31 % 253) as u8).collect();
    let messages = vec![
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(big.clone()),
    ];
    for m in messages {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), m);
    }
    // A fragmented text message arrives whole.
    ws.send(Message::Frame(WsFrame::message(
        "frag",
        OpCode::Data(Data::Text),
        false,
    )))
    .await
    .unwrap();
    ws.send(Message::Frame(WsFrame::message(
        "mented",
        OpCode::Data(Data::Continue),
        true,
    )))
    .await
    .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("fragmented")
    );
    // Ping gets its pong (answered by the echo server's library).
    ws.send(Message::Ping(Bytes::from_static(b"p")))
        .await
        .unwrap();
    match ws.next().await.unwrap().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"p"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // The close code comes back.
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    match ws.next().await.unwrap().unwrap() {
        Message::Close(Some(f)) => {
            assert_eq!((f.code, f.reason.as_str()), (CloseCode::Away, "bye"))
        }
        other => panic!("expected the close frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_messages_pass_unchanged_over_ws() {
    let echo = echo_server().await;
    let port = free_port();
    // The upgrade is the connection's last request by keepalive_requests:
    // its 101 must still say `Connection: upgrade`.
    let _stgw = Stgw::start(&ws_config(port, echo, "keepalive_requests 1;"));
    let (mut ws, resp) = tokio_tungstenite::connect_async_with_config(
        format!("ws://ws.test:{port}/chat")
            .as_str()
            .replace("ws.test", "127.0.0.1"),
        Some(big_config()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 101);
    let h = resp.headers();
    assert_eq!(h["connection"], "upgrade");
    assert_eq!(
        h["set-cookie"], "sid=abc; Path=/",
        "the target's fields pass"
    );
    assert_eq!(h["x-handshake"], "echo");
    assert_eq!(h["server"], "stgw");
    exchange_everything(&mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_messages_pass_unchanged_over_wss() {
    let echo = echo_server().await;
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let cert = pki.server("ws", &["ws.test"], Kind::Ecdsa);
    let port = free_port();
    let toml = with_https(&ws_config(port, echo, ""), &cert.listener_setting());
    let _stgw = Stgw::start(&toml);
    let tls = connect(pki.client(&["http/1.1"]), local(port), Some("ws.test"))
        .await
        .unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async_with_config(
        format!("wss://ws.test:{port}/chat"),
        tls,
        Some(big_config()),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 101);
    exchange_everything(&mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tunnel_closes_after_proxy_read_timeout_and_an_active_one_does_not() {
    let echo = echo_server().await;
    let port = free_port();
    let _stgw = Stgw::start(&ws_config(port, echo, "proxy_read_timeout 30s;"));
    let url = format!("ws://127.0.0.1:{port}/");
    let (mut idle, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let (mut active, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let started = Instant::now();
    let idle_closed = tokio::spawn(async move {
        // Returns when the server side goes away.
        let _ = idle.next().await;
        Instant::now()
    });
    while started.elapsed() < Duration::from_secs(36) {
        active.send(Message::text("still here")).await.unwrap();
        assert_eq!(
            active.next().await.unwrap().unwrap(),
            Message::text("still here")
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let closed_at = idle_closed.await.unwrap().duration_since(started);
    assert!(
        closed_at >= Duration::from_secs(29) && closed_at < Duration::from_secs(35),
        "{closed_at:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_is_logged_when_it_closes_with_its_life_and_the_bytes_it_carried() {
    let echo = echo_server().await;
    let port = free_port();
    let stgw = Stgw::start(&with_access_log(&ws_config(port, echo, "")));
    let log = stgw.dir.path().join("access.log");
    let opened = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/chat"))
        .await
        .unwrap();
    let big = Message::binary(vec![7u8; 100_000]);
    ws.send(big.clone()).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), big);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // The tunnel is open: its request is not over, nothing is logged yet.
    let early = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(early.is_empty(), "logged before the tunnel closed: {early}");
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    // Both directions end: the tunnel closes.
    drop(ws);
    let record = &crate::observe::records(&crate::observe::lines(&log, 1).await)[0];
    let lived = opened.elapsed().as_secs_f64();
    assert_eq!(record["status"], 101, "{record}");
    assert_eq!(record["protocol_type"], "ws", "{record}");
    assert_eq!(record["upstream_status"], "101", "{record}");
    assert_eq!(record["request"], "GET /chat HTTP/1.1", "{record}");
    let request_time = record["request_time"].as_f64().unwrap();
    assert!(
        (0.6..=lived).contains(&request_time),
        "request_time {request_time} covers the tunnel's {lived} s"
    );
    let upstream_time: f64 = record["upstream_response_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(upstream_time >= 0.6, "{record}");
    // The echo of 100,000 bytes (a 10-byte frame header) and of the close
    // frame (2 bytes), after the 101's head.
    let carried = 100_000 + 10 + 2;
    let sent = record["bytes_sent"].as_u64().unwrap();
    assert!(
        (carried + 100..carried + 600).contains(&sent),
        "bytes_sent {sent}: the 101's head and {carried} tunnel bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_survives_a_reload() {
    let echo = echo_server().await;
    let port = free_port();
    let toml = ws_config(port, echo, "");
    let stgw = Stgw::start(&toml);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/"))
        .await
        .unwrap();
    ws.send(Message::text("before")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("before"));
    stgw.reload(&toml.replace("weight = 10", "weight = 20"));
    stgw.reload(&toml);
    ws.send(Message::text("after")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("after"));
}

/// A WebSocket upgrade request for `ws.test`, as a client writes it.
const UPGRADE_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnel_bytes_are_never_scanned_as_a_request_head() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let echo = echo_server().await;
    let port = free_port();
    let _stgw = Stgw::start(&ws_config(port, echo, ""));
    let mut tcp = TcpStream::connect(local(port)).await.unwrap();
    tcp.write_all(UPGRADE_REQUEST).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    // A binary frame of 50,000 bytes with no line feed, under a zero mask:
    // as a request head it would be a request line far over the limit.
    let payload = vec![b'a'; 50_000];
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(&payload);
    tcp.write_all(&frame).await.unwrap();
    let mut echoed = vec![0u8; 4 + payload.len()];
    tcp.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed[..4], &[0x82, 126, 0xc3, 0x50], "the echo's header");
    assert!(echoed[4..] == payload[..], "the echo's payload");
}

#[tokio::test]
async fn a_tunnel_carries_each_sides_half_close_to_the_other() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (heard_tx, heard_rx) = tokio::sync::oneshot::channel::<Vec<u8>>();
    let heard_tx = std::sync::Mutex::new(Some(heard_tx));
    let target = RawBackend::start(move |_req, mut stream: TcpStream| {
        let heard_tx = heard_tx.lock().unwrap().take();
        async move {
            stream
                .write_all(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                      Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                )
                .await
                .unwrap();
            // The target is done sending, and still listens.
            stream.write_all(b"bye").await.unwrap();
            stream.shutdown().await.unwrap();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            if let Some(tx) = heard_tx {
                let _ = tx.send(rest);
            }
        }
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&ws_config(port, target.addr, ""));
    let mut tcp = TcpStream::connect(local(port)).await.unwrap();
    tcp.write_all(UPGRADE_REQUEST).await.unwrap();
    let mut got = Vec::new();
    // The target's end reaches the client while the client's side is open.
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut got))
        .await
        .expect("the target's half-close reaches the client")
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(text.ends_with("\r\n\r\nbye"), "{text}");
    // And the client's bytes and end still reach the target.
    tcp.write_all(b"after").await.unwrap();
    tcp.shutdown().await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), heard_rx)
        .await
        .expect("the client's half-close reaches the target")
        .unwrap();
    assert_eq!(heard, b"after");
}

/// A masked client frame (RFC 6455 §5.2) with a short payload.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_over_http2_is_bridged_to_an_http1_upgrade() {
    let echo = echo_server().await;
    let port = free_port();
    let _stgw = Stgw::start(&ws_config(port, echo, ""));
    let (mut send, mut body) = h2_websocket(port).await;
    send.send_data(Bytes::from(client_frame(0x1, b"over h2")), false)
        .unwrap();
    let mut got = Vec::new();
    read_at_least(&mut body, 2 + 7, &mut got).await;
    assert_eq!(&got[..9], b"\x81\x07over h2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connect_the_target_does_not_switch_for_is_answered_not_tunnelled() {
    // A target that answers the upgrade with a plain 200.
    let plain = Backend::start("no upgrade here").await;
    let port = free_port();
    let _stgw = Stgw::start(&ws_config(port, plain.addr, ""));
    let tcp = TcpStream::connect(local(port)).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    // A 2xx would tell the client its tunnel is open: 502 instead.
    let (resp, _send) = client
        .send_request(extended_connect(port, "websocket"), true)
        .unwrap();
    assert_eq!(resp.await.unwrap().status(), 502);
    // Another protocol cannot be asked of an HTTP/1.1 target at all.
    let mut client = client.ready().await.unwrap();
    let (resp, _send) = client
        .send_request(extended_connect(port, "foo"), true)
        .unwrap();
    assert_eq!(resp.await.unwrap().status(), 405);
    assert_eq!(plain.hits(), 1, "only the WebSocket one reached the target");
}

/// An extended CONNECT (RFC 8441) for `protocol` to `/chat` on `port`.
fn extended_connect(port: u16, protocol: &'static str) -> Request<()> {
    let mut req = Request::builder()
        .method("CONNECT")
        .uri(format!("http://ws.test:{port}/chat"))
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    req.extensions_mut()
        .insert(h2::ext::Protocol::from_static(protocol));
    req
}

/// Opens a WebSocket over HTTP/2 (extended CONNECT) to `/chat` on `port`:
/// the stream's sending half and the body of its 200.
async fn h2_websocket(port: u16) -> (h2::SendStream<Bytes>, h2::RecvStream) {
    let tcp = TcpStream::connect(local(port)).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let (resp, send) = client
        .send_request(extended_connect(port, "websocket"), false)
        .unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-handshake"], "echo");
    assert!(resp.headers().get("sec-websocket-accept").is_none());
    (send, resp.into_body())
}

/// Reads `body` into `got` until it holds `n` bytes (5 s at the most).
async fn read_at_least(body: &mut h2::RecvStream, n: usize, got: &mut Vec<u8>) {
    while got.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.data())
            .await
            .expect("data within 5 s")
            .expect("the stream is open")
            .unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        got.extend_from_slice(&chunk);
    }
}

/// `toml` with the access log on, to `access.log` in stgw's directory.
fn with_access_log(toml: &str) -> String {
    toml.replacen(
        "state_dir = \"var\"",
        "state_dir = \"var\"\naccess_log = \"access.log\"",
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_over_http2_outlives_keepalive_timeout_and_is_logged_when_it_closes() {
    let echo = echo_server().await;
    let port = free_port();
    let stgw = Stgw::start(&with_access_log(&ws_config(
        port,
        echo,
        "keepalive_timeout 1s;",
    )));
    let log = stgw.dir.path().join("access.log");
    let opened = Instant::now();
    let (mut send, mut body) = h2_websocket(port).await;
    // The only stream is the tunnel: the connection is not idle, however
    // long the tunnel is (keep-alive 1 s, then 5 s of lingering).
    tokio::time::sleep(Duration::from_secs(7)).await;
    let early = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(early.is_empty(), "logged before the tunnel closed: {early}");
    send.send_data(Bytes::from(client_frame(0x1, b"still here")), false)
        .unwrap();
    let mut got = Vec::new();
    read_at_least(&mut body, 2 + 10, &mut got).await;
    assert_eq!(&got[..], b"\x81\x0astill here");
    // A close frame, then the end of the stream: the echo server answers
    // the close and goes away, and the tunnel closes.
    send.send_data(Bytes::from(client_frame(0x8, b"")), true)
        .unwrap();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        got.extend_from_slice(&chunk);
    }
    assert_eq!(&got[12..], b"\x88\x00", "the close frame's echo");
    let record = &crate::observe::records(&crate::observe::lines(&log, 1).await)[0];
    let lived = opened.elapsed().as_secs_f64();
    assert_eq!(record["status"], 200, "{record}");
    assert_eq!(record["protocol_type"], "http2", "{record}");
    assert_eq!(record["upstream_status"], "101", "{record}");
    let request_time = record["request_time"].as_f64().unwrap();
    assert!(
        (7.0..=lived).contains(&request_time),
        "request_time {request_time} covers the tunnel's {lived} s"
    );
    // The echoes (12 + 2 bytes) after the answer's head.
    let sent = record["bytes_sent"].as_u64().unwrap();
    assert!(
        (14 + 10..14 + 300).contains(&sent),
        "bytes_sent {sent}: {record}"
    );
}

/// A gRPC-style body: echoes the request's data frames as they come, then
/// ends with `grpc-status` trailers.
struct EchoWithTrailers {
    inner: Incoming,
    done: bool,
}

impl Body for EchoWithTrailers {
    type Data = Bytes;
    type Error = hyper::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => match f.into_data() {
                Ok(d) => Poll::Ready(Some(Ok(Frame::data(d)))),
                Err(_trailers) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            },
            Poll::Ready(None) => {
                self.done = true;
                let mut t = HeaderMap::new();
                t.insert("grpc-status", HeaderValue::from_static("0"));
                t.insert("grpc-message", HeaderValue::from_static("ok"));
                Poll::Ready(Some(Ok(Frame::trailers(t))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An HTTP/2 target (h2c, or TLS when `tls` is given) with the echo body.
async fn grpc_target(tls: Option<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = tls.map(|mut c| {
        c.alpn_protocols = vec![b"h2".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(c))
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let mut resp = Response::new(EchoWithTrailers {
                        inner: req.into_body(),
                        done: false,
                    });
                    resp.headers_mut()
                        .insert("content-type", HeaderValue::from_static("application/grpc"));
                    Ok::<_, std::convert::Infallible>(resp)
                });
                let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                match tls {
                    None => {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            let _ = builder.serve_connection(TokioIo::new(s), service).await;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Streams three messages through stgw over h2c and checks the echo and
/// the trailers.
async fn grpc_stream_through(port: u16) {
    let tcp = TcpStream::connect(local(port)).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let req = Request::post(format!("http://grpc.test:{port}/pkg.Echo/Stream"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, mut send) = client.send_request(req, false).unwrap();
    send.send_data(Bytes::from_static(b"\0\0\0\0\x05first"), false)
        .unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    // The first message comes back before the client sends the second: it streams.
    let first = body.data().await.unwrap().unwrap();
    assert_eq!(&first[..], b"\0\0\0\0\x05first");
    let _ = body.flow_control().release_capacity(first.len());
    send.send_data(Bytes::from_static(b"\0\0\0\0\x06second"), true)
        .unwrap();
    let mut rest = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(&rest[..], b"\0\0\0\0\x06second");
    let trailers = body.trailers().await.unwrap().expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_streams_with_trailers_over_h2c_and_over_tls() {
    let h2c = grpc_target(None).await;
    let port = free_port();
    let extra = "forward_type = \"GRPC\"\n      health_check = { enabled = false }";
    let toml = one_rule(port, "grpc.test", "/", extra, &[(h2c, 10)]);
    let plain = Stgw::start(&with_access_log(&toml));
    grpc_stream_through(port).await;
    // The second message (11 bytes) was read after the answer's head: it
    // counts in request_length all the same.
    let log = plain.dir.path().join("access.log");
    let record = &crate::observe::records(&crate::observe::lines(&log, 1).await)[0];
    // "POST /pkg.Echo/Stream HTTP/1.1", content-type and te (80 bytes as
    // HTTP/1.1 would frame them), then the two messages.
    assert_eq!(record["request_length"], 80 + 10 + 11, "{record}");

    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let server = pki.self_signed("grpc", &["grpc.internal"]).server_config();
    let h2s = grpc_target(Some(server)).await;
    let port = free_port();
    let extra = "forward_type = \"GRPCS\"\n      health_check = { enabled = false }";
    let _tls = Stgw::start(&one_rule(port, "grpc.test", "/", extra, &[(h2s, 10)]));
    grpc_stream_through(port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_share_few_connections_to_an_h2_target() {
    let h2c = grpc_target(None).await;
    let port = free_port();
    let extra = "forward_type = \"GRPC\"\n      health_check = { enabled = false }";
    let _stgw = Stgw::start(&one_rule(port, "grpc.test", "/", extra, &[(h2c, 10)]));
    let mut tasks = Vec::new();
    for i in 0..50 {
        tasks.push(tokio::spawn(async move {
            let req = Request::post("/pkg.Echo/Unary")
                .header("host", "grpc.test")
                .header("content-type", "application/grpc")
                .body(Full::new(Bytes::from(format!("m{i}"))))
                .unwrap();
            send(local(port), None, req).await.unwrap()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let got = t.await.unwrap();
        assert_eq!(got.status, 200);
        assert_eq!(got.text(), format!("m{i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_reset_client_is_cut_off_while_others_are_served() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "rr.test", "/", "", &[(b.addr, 10)]));
    let attacker = tokio::spawn(async move {
        let tcp = TcpStream::connect(local(port)).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        let conn = tokio::spawn(conn);
        let mut client = client;
        for _ in 0..100_000 {
            let Ok(mut ready) = client.ready().await else {
                break;
            };
            let req = Request::get(format!("http://rr.test:{port}/"))
                .body(())
                .unwrap();
            let Ok((_resp, mut stream)) = ready.send_request(req, true) else {
                break;
            };
            stream.send_reset(h2::Reason::CANCEL);
            client = ready;
        }
        match conn.await.unwrap() {
            Err(e) => e.is_go_away() || e.is_io(),
            Ok(()) => true,
        }
    });
    // Another client keeps being served meanwhile.
    for _ in 0..20 {
        assert_eq!(get(local(port), "rr.test", "/").await.status, 200);
    }
    let cut_off = tokio::time::timeout(Duration::from_secs(20), attacker)
        .await
        .expect("the attacker was cut off")
        .unwrap();
    assert!(cut_off);
    assert_eq!(get(local(port), "rr.test", "/").await.status, 200);
}

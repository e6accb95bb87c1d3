//! stgw's HTTP/1.1 client against scripted targets on loopback.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Version, header};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::answer::{BodyFraming, FramingFields};
use super::body::chunk_size;
use super::*;
use crate::upstream::RequestBody;
use crate::upstream::pool::{Pool, PoolSettings};

/// A target that reads one request head (and `body_len` bytes) per
/// connection, then writes `answer`.
async fn target(
    answer: &'static [u8],
    body_len: usize,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n")
                && got.len() >= end + 4 + body_len
            {
                break;
            }
            if n == 0 {
                break;
            }
        }
        s.write_all(answer).await.unwrap();
        // Keep the connection open briefly so keep-alive can be seen.
        tokio::time::sleep(Duration::from_millis(200)).await;
        got
    });
    (addr, task)
}

async fn conn(addr: std::net::SocketAddr) -> H1Conn {
    H1Conn::new(
        UpstreamIo::Plain(TcpStream::connect(addr).await.unwrap()),
        64 * 1024,
    )
}

fn pool(addr: std::net::SocketAddr) -> Arc<Pool> {
    Arc::new(Pool::new(
        addr,
        None,
        false,
        PoolSettings {
            max_idle: 8,
            idle_timeout: Duration::from_secs(60),
        },
    ))
}

const T: Duration = Duration::from_secs(5);

async fn get(
    answer: &'static [u8],
    method: Method,
) -> (
    Result<(AnswerHead, Bytes, HeaderMap), ExchangeError>,
    Arc<Pool>,
) {
    let (addr, _task) = target(answer, 0).await;
    let mut c = conn(addr).await;
    let mut head = Vec::new();
    let mut body = RequestBody::Empty;
    let mut headers = HeaderMap::new();
    headers.insert("host", "t".parse().unwrap());
    encode_head(&mut head, &method, "/", &headers, std::iter::empty(), &body);
    let pool = pool(addr);
    let answer = match c
        .exchange(&head, &mut body, &method, T, T, &mut headers)
        .await
    {
        Ok(a) => a,
        Err(e) => return (Err(e), pool),
    };
    // The request's map was taken to hold the answer's fields.
    assert!(headers.is_empty() && headers.capacity() == 0);
    let mut b = H1Body::new(c, pool.clone(), &answer, &method, T);
    let mut data = Vec::new();
    let mut trailers = HeaderMap::new();
    while let Some(frame) = b.frame().await {
        match frame {
            Ok(f) => match f.into_data() {
                Ok(d) => data.extend_from_slice(&d),
                Err(f) => trailers = f.into_trailers().unwrap_or_default(),
            },
            Err(e) => return (Err(ExchangeError::ClientBody(e.to_string())), pool),
        }
    }
    (Ok((answer, Bytes::from(data), trailers)), pool)
}

#[tokio::test]
async fn a_content_length_answer_is_read_and_the_connection_pooled() {
    let (got, pool) = get(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
        Method::GET,
    )
    .await;
    let (head, body, _) = got.unwrap();
    assert_eq!(head.parts.status, 200);
    assert_eq!(head.parts.headers["x-a"], "1");
    assert_eq!(&body[..], b"hello");
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn a_chunked_answer_is_decoded_with_extensions() {
    let (got, pool) = get(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: y\r\n\r\n",
        Method::GET,
    )
    .await;
    let (_, body, _) = got.unwrap();
    assert_eq!(&body[..], b"hello world");
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn an_answer_without_length_runs_until_close_and_is_not_pooled() {
    let (addr, task) = target(b"HTTP/1.1 200 OK\r\n\r\nuntil close", 0).await;
    let mut c = conn(addr).await;
    let mut body = RequestBody::Empty;
    let head = bare_head(&Method::GET, "/", &body);
    let answer = c
        .exchange(&head, &mut body, &Method::GET, T, T, &mut HeaderMap::new())
        .await
        .unwrap();
    let pool = pool(addr);
    let b = H1Body::new(c, pool.clone(), &answer, &Method::GET, T);
    let collected = tokio::spawn(async move { b.collect().await.map(|c| c.to_bytes()) });
    task.await.unwrap(); // the target closes
    assert_eq!(&collected.await.unwrap().unwrap()[..], b"until close");
    assert_eq!(pool.idle_count(), 0);
}

#[tokio::test]
async fn head_answers_have_no_body_whatever_their_length_says() {
    let (got, pool) = get(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        Method::HEAD,
    )
    .await;
    let (_, body, _) = got.unwrap();
    assert!(body.is_empty());
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn interim_answers_are_skipped() {
    let (got, _) = get(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        Method::GET,
    )
    .await;
    assert_eq!(got.unwrap().0.parts.status, 204);
}

#[tokio::test]
async fn invalid_answers_are_refused() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"NOT HTTP\r\n\r\n",
    ] {
        let (got, _) = get(answer, Method::GET).await;
        assert!(
            matches!(got, Err(ExchangeError::Invalid(_))),
            "{:?}",
            String::from_utf8_lossy(answer)
        );
    }
    let (got, _) = get(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        Method::GET,
    )
    .await;
    assert!(got.is_err());
}

#[tokio::test]
async fn a_buffered_body_is_sent_with_its_length_in_one_write() {
    let (addr, task) = target(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 11).await;
    let mut c = conn(addr).await;
    let mut body = RequestBody::Memory(Some(Bytes::from_static(b"hello world")));
    let head = bare_head(&Method::POST, "/up?x=1", &body);
    let answer = c
        .exchange(&head, &mut body, &Method::POST, T, T, &mut HeaderMap::new())
        .await
        .unwrap();
    assert_eq!(answer.parts.status, 200);
    let seen = String::from_utf8(task.await.unwrap()).unwrap();
    assert!(seen.starts_with("POST /up?x=1 HTTP/1.1\r\n"), "{seen}");
    assert!(seen.contains("content-length: 11\r\n"), "{seen}");
    assert!(seen.ends_with("\r\n\r\nhello world"), "{seen}");
}

#[tokio::test]
async fn a_target_that_closes_before_answering_is_an_unanswered_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        drop(s);
    });
    let mut c = conn(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut body = RequestBody::Empty;
    let head = bare_head(&Method::GET, "/", &body);
    let mut fields = HeaderMap::new();
    fields.insert("host", "t".parse().unwrap());
    match c
        .exchange(&head, &mut body, &Method::GET, T, T, &mut fields)
        .await
    {
        Err(ExchangeError::Io {
            answered: false, ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Without an answer the request's fields stay (a retry encodes them).
    assert_eq!(fields.get("host").unwrap(), "t");
}

#[tokio::test]
async fn no_answer_within_the_read_timeout_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    });
    let mut c = conn(addr).await;
    let mut body = RequestBody::Empty;
    let head = bare_head(&Method::GET, "/", &body);
    let started = std::time::Instant::now();
    let got = c
        .exchange(
            &head,
            &mut body,
            &Method::GET,
            T,
            Duration::from_millis(300),
            &mut HeaderMap::new(),
        )
        .await;
    assert!(
        matches!(got, Err(ExchangeError::Timeout("proxy_read_timeout"))),
        "{got:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn chunk_sizes_parse_as_hex_with_extensions() {
    assert_eq!(chunk_size(b"1a"), Some(26));
    assert_eq!(chunk_size(b"0;foo=bar"), Some(0));
    assert_eq!(chunk_size(b"FF "), Some(255));
    assert_eq!(chunk_size(b""), None);
    assert_eq!(chunk_size(b"-1"), None);
    assert_eq!(chunk_size(b"+5"), None);
    assert_eq!(chunk_size(b"1234567890abcdef0"), None);
}

#[test]
fn decimals_are_written_without_formatting() {
    for n in [0u64, 7, 10, 1234567890, u64::MAX] {
        let mut out = Vec::new();
        push_decimal(&mut out, n);
        assert_eq!(out, n.to_string().into_bytes());
    }
}

#[test]
fn content_lengths_are_digits_only_and_fit_in_u64() {
    assert_eq!(decimal(b"0"), Some(0));
    assert_eq!(decimal(b"007"), Some(7));
    assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(decimal(b"18446744073709551616"), None);
    for bad in [
        &b""[..],
        b"+5",
        b"-5",
        b"5 ",
        b" 5",
        b"5x",
        b"0x10",
        b"\xd9\xa5",
    ] {
        assert_eq!(decimal(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
    let items: Vec<&[u8]> = list_items(b" a ,b,, c\t").collect();
    assert_eq!(items, [&b"a"[..], b"b", b"", b"c"]);
}

#[test]
fn framing_follows_rfc_9112_section_6_3() {
    fn decide(
        status: u16,
        version: Version,
        fields: &[(&str, &str)],
    ) -> Result<(BodyFraming, bool), ExchangeError> {
        let mut framing = FramingFields::default();
        for (name, value) in fields {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            framing.see(&name, &HeaderValue::from_str(value).unwrap());
        }
        framing.decide(StatusCode::from_u16(status).unwrap(), version)
    }
    fn ok(status: u16, version: Version, fields: &[(&str, &str)]) -> Option<(BodyFraming, bool)> {
        decide(status, version, fields).ok()
    }
    let (h10, h11) = (Version::HTTP_10, Version::HTTP_11);
    let cl5 = ("content-length", "5");
    assert_eq!(ok(200, h11, &[cl5]), Some((BodyFraming::Length(5), true)));
    assert_eq!(ok(200, h10, &[cl5]), Some((BodyFraming::Length(5), false)));
    let ka = ("connection", "Keep-Alive");
    assert_eq!(
        ok(200, h10, &[ka, cl5]),
        Some((BodyFraming::Length(5), true))
    );
    let close = ("connection", "keep-alive, close");
    assert_eq!(
        ok(200, h11, &[close, cl5]),
        Some((BodyFraming::Length(5), false))
    );
    let chunked = ("transfer-encoding", "gzip, chunked");
    assert_eq!(ok(200, h11, &[chunked]), Some((BodyFraming::Chunked, true)));
    let not_last = ("transfer-encoding", "chunked, gzip");
    assert_eq!(
        ok(200, h11, &[not_last]),
        Some((BodyFraming::UntilClose, false))
    );
    // Transfer-Encoding overrides Content-Length, even an unusable one.
    let bad_cl = ("content-length", "x");
    assert_eq!(
        ok(200, h11, &[bad_cl, chunked]),
        Some((BodyFraming::Chunked, true))
    );
    assert!(decide(200, h11, &[bad_cl]).is_err());
    let (five, six) = (("content-length", "5, 5"), ("content-length", "6"));
    assert_eq!(ok(200, h11, &[five]), Some((BodyFraming::Length(5), true)));
    assert!(decide(200, h11, &[five, six]).is_err());
    assert_eq!(
        ok(200, h11, &[("content-length", "0")]),
        Some((BodyFraming::Empty, true))
    );
    assert!(decide(200, h11, &[("content-length", "+5")]).is_err());
    assert!(decide(200, h11, &[("content-length", "5,")]).is_err());
    // Bytes outside ASCII do not hide the tokens around them.
    let mut framing = FramingFields::default();
    let odd = HeaderValue::from_bytes(b"close, \xe9t\xe9").unwrap();
    framing.see(&header::CONNECTION, &odd);
    assert!(framing.close);
    assert_eq!(ok(200, h11, &[]), Some((BodyFraming::UntilClose, false)));
    for bodyless in [101, 204, 304] {
        assert_eq!(ok(bodyless, h11, &[cl5]), Some((BodyFraming::Empty, true)));
    }
}

/// A request head with no fields but the framing for `body`.
fn bare_head(method: &Method, target: &str, body: &RequestBody) -> Vec<u8> {
    let mut head = Vec::new();
    encode_head(
        &mut head,
        method,
        target,
        &HeaderMap::new(),
        std::iter::empty(),
        body,
    );
    head
}

#[test]
fn chunk_sizes_are_lower_case_hexadecimal() {
    for (n, text) in [(0, "0"), (10, "a"), (0xabc, "abc"), (65536, "10000")] {
        let mut out = Vec::new();
        push_hex(&mut out, n);
        assert_eq!(out, text.as_bytes(), "{n}");
    }
}

#[tokio::test]
async fn a_sliver_of_room_left_by_earlier_answers_is_renewed_before_a_read() {
    static TEN_KIB: [u8; 10 * 1024] = [b'x'; 10 * 1024];
    let (addr, _task) = target(&TEN_KIB, 0).await;
    let mut c = conn(addr).await;
    c.io.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    // Earlier answers were taken from the front of a 16 KiB buffer: 6 KiB
    // of room is left.
    c.rbuf = BytesMut::with_capacity(16 * 1024);
    c.rbuf.resize(10 * 1024, 0);
    drop(c.rbuf.split());
    assert!(c.rbuf.capacity() < READ_CHUNK);
    // All 10 KiB are in the socket by now.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let n = std::future::poll_fn(|cx| c.poll_fill(cx)).await.unwrap();
    assert_eq!(n, TEN_KIB.len(), "one read takes the whole answer");
}

#[test]
fn connection_specific_fields_are_read_for_framing_and_left_out_of_the_map() {
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n\
           Transfer-Encoding: chunked\r\nUpgrade: h2c\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n0\r\n\r\n"[..],
    );
    let mut storage = HeaderMap::new();
    let head = parse_answer_head(&mut buf, &mut storage)
        .unwrap()
        .expect("a complete head");
    let names: Vec<&str> = head.parts.headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["x-kept"]);
    // The fields left out still decided the framing and the connection's fate.
    assert_eq!(head.body, BodyFraming::Chunked);
    assert!(!head.keep_alive);
    assert_eq!(&buf[..], b"0\r\n\r\n");
}

#[test]
fn an_answer_keeps_every_field_but_connection_specific_ones_server_and_date() {
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 2\r\nConnection: keep-alive\r\nETag: \"x\"\r\nDate: d\r\nX-A: 1\r\n\r\nhi"[..],
    );
    let mut storage = HeaderMap::new();
    let head = parse_answer_head(&mut buf, &mut storage)
        .unwrap()
        .expect("a complete head");
    let names: Vec<&str> = head.parts.headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["content-length", "etag", "x-a"]);
    assert_eq!(head.body, BodyFraming::Length(2));
    assert!(head.keep_alive);
}

#[test]
fn a_head_of_many_fields_is_taken_as_nginx_takes_it_bounded_by_its_bytes() {
    // 600 cookies in 9 KiB: more fields than fit inline.
    let cookies: String = (0..600)
        .map(|i| format!("Set-Cookie: c{i}=1\r\n"))
        .collect();
    let raw = format!("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n{cookies}Server: t\r\n\r\nhi");
    let mut buf = BytesMut::from(raw.as_bytes());
    let mut storage = HeaderMap::new();
    let head = parse_answer_head(&mut buf, &mut storage)
        .unwrap()
        .expect("a complete head");
    assert_eq!(head.parts.headers.get_all("set-cookie").iter().count(), 600);
    assert!(head.parts.headers.get("server").is_none());
    assert_eq!(head.body, BodyFraming::Length(2));
    assert_eq!(&buf[..], b"hi");
    // A partial head of many fields is waited for, not refused.
    let mut partial = BytesMut::from(&raw.as_bytes()[..raw.len() - 10]);
    assert!(
        parse_answer_head(&mut partial, &mut storage)
            .unwrap()
            .is_none()
    );
    // Past the byte limit it is refused all the same.
    let big: String = (0..3000).map(|i| format!("X-{i}: 1234567\r\n")).collect();
    let mut buf = BytesMut::from(format!("HTTP/1.1 200 OK\r\n{big}\r\n").as_bytes());
    assert!(parse_answer_head(&mut buf, &mut storage).is_err());
}

#[test]
fn an_invalid_field_line_is_skipped_unless_it_names_a_framing_field() {
    let mut storage = HeaderMap::new();
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nX (bad): 1\r\nX-Ctl: a\x01b\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nhi"
            [..],
    );
    let head = parse_answer_head(&mut buf, &mut storage)
        .unwrap()
        .expect("a complete head");
    let names: Vec<&str> = head.parts.headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["content-length", "x-a"]);
    assert_eq!(head.body, BodyFraming::Length(2));
    // Read without the bad line, the first answer would be 49 bytes long,
    // and the target's next "answer" its chunked body's tail.
    for framing in [
        &b"Transfer-Encoding : chunked\r\nContent-Length: 49\r\n"[..],
        b"Content-Length: 49\r\n Transfer-Encoding: chunked\r\n",
        b"Content-Length : 5\r\nTransfer-Encoding: chunked\r\n",
        b"Content-Length: 5\x01\r\n",
        b"Transfer-Encoding: gzip\r\n chunked\r\n",
    ] {
        let mut raw = b"HTTP/1.1 200 OK\r\nX-A: 1\r\n".to_vec();
        raw.extend_from_slice(framing);
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
        let mut buf = BytesMut::from(&raw[..]);
        assert!(
            parse_answer_head(&mut buf, &mut storage).is_err(),
            "{}",
            String::from_utf8_lossy(framing)
        );
    }
}

#[test]
fn a_reason_phrase_other_than_the_standard_one_is_kept_for_its_status() {
    let phrase_of = |line: &str| {
        let mut buf = BytesMut::from(format!("{line}\r\nContent-Length: 0\r\n\r\n").as_bytes());
        let head = parse_answer_head(&mut buf, &mut HeaderMap::new())
            .unwrap()
            .expect("a complete head");
        TargetReason::for_status(&head.parts.extensions, head.parts.status).map(<[u8]>::to_vec)
    };
    assert_eq!(phrase_of("HTTP/1.1 200 OK"), None);
    assert_eq!(phrase_of("HTTP/1.1 404 Not Found"), None);
    assert_eq!(
        phrase_of("HTTP/1.1 200 Everything Fine").as_deref(),
        Some(&b"Everything Fine"[..])
    );
    assert_eq!(
        phrase_of("HTTP/1.1 599 Custom").as_deref(),
        Some(&b"Custom"[..])
    );
    assert_eq!(phrase_of("HTTP/1.1 404 ").as_deref(), Some(&b""[..]));
    assert_eq!(phrase_of("HTTP/1.0 200 ok").as_deref(), Some(&b"ok"[..]));
}

//! HTTP/1.1 on the wire: stgw's own server for requests without a body or
//! with a small one, the hand-over to hyper for everything else on the
//! same connection, and how answers are framed.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One answer taken off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Field names lower-cased.
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `bytes` into answers, one per request; `heads[i]`: the i-th
/// request was HEAD (its answer has no body whatever it announces).
fn answers(mut bytes: &[u8], heads: &[bool]) -> Vec<Answer> {
    let answers = heads
        .iter()
        .map(|&head| {
            take_answer(&mut bytes, head).unwrap_or_else(|| {
                panic!("no whole answer in {:?}", String::from_utf8_lossy(bytes))
            })
        })
        .collect();
    assert!(
        bytes.is_empty(),
        "bytes after the last answer: {:?}",
        String::from_utf8_lossy(bytes)
    );
    answers
}

/// Takes one answer off the front of `bytes`; `None` while incomplete.
/// Malformed framing fails the test.
fn take_answer(bytes: &mut &[u8], head: bool) -> Option<Answer> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut fields);
    let len = match parsed.parse(bytes).expect("a well-formed answer head") {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return None,
    };
    let status = parsed.code?;
    let fields: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|f| {
            (
                f.name.to_ascii_lowercase(),
                String::from_utf8_lossy(f.value).into_owned(),
            )
        })
        .collect();
    let mut rest = &bytes[len..];
    let find = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if head || status == 204 || status == 304 {
        // No body.
    } else if find("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size = std::str::from_utf8(&rest[..line_end]).expect("ASCII chunk size");
            let size = usize::from_str_radix(size, 16).expect("hex chunk size");
            rest = &rest[line_end + 2..];
            if size == 0 {
                if rest.len() < 2 {
                    return None;
                }
                assert_eq!(&rest[..2], b"\r\n", "no trailer section expected");
                rest = &rest[2..];
                break;
            }
            if rest.len() < size + 2 {
                return None;
            }
            body.extend_from_slice(&rest[..size]);
            assert_eq!(&rest[size..size + 2], b"\r\n", "chunk data ends with CRLF");
            rest = &rest[size + 2..];
        }
    } else {
        let len: usize = find("content-length")
            .expect("a framed answer")
            .parse()
            .unwrap();
        if rest.len() < len {
            return None;
        }
        body.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
    }
    *bytes = rest;
    Some(Answer {
        status,
        fields,
        body,
    })
}

/// Writes `bytes` and reads until the server closes (at most 5 s).
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> (Vec<u8>, bool) {
    raw_until_closed(addr, bytes, Duration::from_secs(5)).await
}

#[tokio::test]
async fn gets_a_post_and_a_head_pipelined_on_one_connection_are_answered_in_order() {
    let b = Backend::start_with("b", "127.0.0.1:0", |seen| {
        let mut body = seen.uri.path().as_bytes().to_vec();
        body.extend_from_slice(&seen.body);
        Reply::text(body)
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let big = "v".repeat(5000);
    let requests = format!(
        "GET /1 HTTP/1.1\r\nHost: h.test\r\n\r\n\
         HEAD /2 HTTP/1.1\r\nHost: h.test\r\n\r\n\
         GET /3 HTTP/1.1\r\nHost: h.test\r\nX-A: {big}\r\nX-B: {big}\r\n\r\n\
         POST /4 HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\n\r\nabc\
         GET /5 HTTP/1.1\r\nHost: h.test\r\n\r\n\
         HEAD /6 HTTP/1.1\r\nHost: h.test\r\n\r\n\
         GET /7 HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n"
    );
    let (bytes, closed) = exchange(local(port), requests.as_bytes()).await;
    assert!(
        closed,
        "the connection closes after the request asking for it"
    );
    let got = answers(&bytes, &[false, true, false, false, false, true, false]);
    let bodies: Vec<String> = got
        .iter()
        .map(|a| String::from_utf8_lossy(&a.body).into_owned())
        .collect();
    assert_eq!(bodies, ["/1", "", "/3", "/4abc", "/5", "", "/7"]);
    for a in &got {
        assert_eq!(a.status, 200);
        assert!(a.field("date").is_some(), "{a:?}");
    }
    // HEAD answers announce the length a GET would get.
    assert_eq!(got[1].field("content-length"), Some("2"));
    assert_eq!(got[5].field("content-length"), Some("2"));
    assert_eq!(got[6].field("connection"), Some("close"));
    let paths: Vec<String> = b
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| format!("{} {}", s.method, s.uri.path()))
        .collect();
    assert_eq!(
        paths,
        [
            "GET /1", "HEAD /2", "GET /3", "POST /4", "GET /5", "HEAD /6", "GET /7"
        ]
    );
    let seen = b.seen.lock().unwrap();
    assert_eq!(
        seen[2].headers["x-b"],
        big.as_str(),
        "a head over 8 KiB is whole"
    );
}

#[tokio::test]
async fn a_connection_closing_after_its_answer_ends_cleanly_not_with_a_reset() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    for request in [
        "GET /a HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
        "POST /b HTTP/1.1\r\nHost: h.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        "GET /c HTTP/1.0\r\nHost: h.test\r\n\r\n",
    ] {
        let mut stream = TcpStream::connect(local(port)).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        // A reset would be an error here, and could lose the answer.
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes))
            .await
            .expect("the connection closes")
            .expect("a clean close (FIN)");
        let got = answers(&bytes, &[false]);
        assert_eq!(got[0].status, 200, "{request:?}");
    }
}

#[tokio::test]
async fn answers_are_framed_by_their_length_chunked_or_not_at_all() {
    let large = text_body(100_000);
    let sent = large.clone();
    let target = RawBackend::start(move |req, mut stream: TcpStream| {
        let large = sent.clone();
        async move {
            let head = match req.path() {
                "/chunked" => {
                    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                    let _ = stream.write_all(head.as_bytes()).await;
                    for piece in [&large[..10], &large[10..30_000], &large[30_000..]] {
                        let _ = write_chunk(&mut stream, piece).await;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let _ = stream.write_all(b"0\r\n\r\n").await;
                    return;
                }
                "/length" if req.head.starts_with("HEAD") => {
                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
                }
                "/length" => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                "/nocontent" => "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
                "/notmodified" => {
                    "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nConnection: close\r\n\r\n"
                }
                _ => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            };
            let _ = stream.write_all(head.as_bytes()).await;
        }
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(target.addr, 10)]));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    let mut got = Vec::new();
    for (path, head) in [
        ("/chunked", false),
        ("/length", false),
        ("/nocontent", false),
        ("/notmodified", false),
        ("/empty", false),
        ("/length", true),
    ] {
        let method = if head { "HEAD" } else { "GET" };
        let req = format!("{method} {path} HTTP/1.1\r\nHost: h.test\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let bytes = read_answer(&mut s, head).await;
        got.extend(answers(&bytes, &[head]));
    }
    assert_eq!(got[0].field("transfer-encoding"), Some("chunked"));
    assert_eq!(got[0].field("content-length"), None);
    assert!(got[0].body == large, "the chunked body arrives whole");
    assert_eq!(got[1].field("content-length"), Some("5"));
    assert_eq!(got[1].body, b"hello");
    assert_eq!((got[2].status, got[2].field("content-length")), (204, None));
    assert_eq!((got[3].status, got[3].field("content-length")), (304, None));
    assert_eq!(got[3].field("etag"), Some("\"x\""));
    assert_eq!(got[4].field("content-length"), Some("0"));
    assert_eq!(got[5].field("content-length"), Some("5"));
    for a in &got {
        assert_eq!(
            a.field("connection"),
            None,
            "the target's close is hop-by-hop"
        );
    }
}

#[tokio::test]
async fn a_length_body_arriving_in_pieces_reaches_the_client_whole_and_in_order() {
    let large = text_body(100_000);
    let sent = large.clone();
    let target = RawBackend::start(move |_, mut stream: TcpStream| {
        let large = sent.clone();
        async move {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                large.len()
            );
            // The head alone, then pieces: some close together (held and
            // written with the next), some after a pause (written alone).
            let _ = stream.write_all(head.as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            for (i, piece) in large.chunks(9_000).enumerate() {
                let _ = stream.write_all(piece).await;
                if i % 3 == 2 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "p.test", "/", "", &[(target.addr, 10)]));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /pieces HTTP/1.1\r\nHost: p.test\r\n\r\n")
            .await
            .unwrap();
        let bytes = read_answer(&mut s, false).await;
        let got = answers(&bytes, &[false]);
        assert_eq!(got[0].status, 200);
        assert_eq!(got[0].field("content-length"), Some("100000"));
        assert!(got[0].body == large, "the body arrives whole and in order");
    }
}

/// Reads one answer from a connection that stays open: until its head
/// and the body it frames have arrived.
async fn read_answer(s: &mut TcpStream, head: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 65536];
    while take_answer(&mut &bytes[..], head).is_none() {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before a whole answer: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&chunk[..n]);
    }
    bytes
}

#[tokio::test]
async fn stgws_own_answers_carry_a_date_and_their_length() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/only/", "", &[(b.addr, 10)]));
    let (bytes, closed) = exchange(
        local(port),
        b"GET /elsewhere HTTP/1.1\r\nHost: h.test\r\n\r\nHEAD /elsewhere HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(closed);
    let got = answers(&bytes, &[false, true]);
    assert_eq!((got[0].status, got[1].status), (404, 404));
    let length: usize = got[0].field("content-length").unwrap().parse().unwrap();
    assert_eq!(length, got[0].body.len());
    assert_eq!(
        got[1].field("content-length"),
        got[0].field("content-length")
    );
    let date = got[0].field("date").unwrap();
    let re = regex::Regex::new(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$").unwrap();
    assert!(re.is_match(date), "{date}");
}

#[tokio::test]
async fn the_h2c_preface_arriving_in_pieces_still_selects_http2() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    for piece in [&preface[..3], &preface[3..17], &preface[17..]] {
        s.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // An empty SETTINGS frame: the server's own SETTINGS come back.
    s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let mut frame = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut frame))
        .await
        .expect("an HTTP/2 frame in time")
        .unwrap();
    assert_eq!(
        frame[3], 4,
        "a SETTINGS frame, not an HTTP/1.1 answer: {frame:?}"
    );
}

#[tokio::test]
async fn bodies_with_a_length_are_forwarded_whole_and_the_connection_kept() {
    let b = Backend::start_with("b", "127.0.0.1:0", |seen| {
        let length = seen
            .headers
            .get("content-length")
            .map_or("-".to_owned(), |v| v.to_str().unwrap().to_owned());
        let body = String::from_utf8_lossy(&seen.body);
        Reply::text(format!(
            "{} {} {length} {body}",
            seen.method,
            seen.uri.path()
        ))
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let requests = "POST /a HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\n\r\nabc\
         PUT /b HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\r\n\r\n\
         DELETE /c HTTP/1.1\r\nHost: h.test\r\n\r\n\
         PATCH /d HTTP/1.1\r\nHost: h.test\r\ncontent-length: 4\r\n\r\nwxyz\
         OPTIONS /e HTTP/1.1\r\nHost: h.test\r\n\r\n\
         GET /f HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n";
    let (bytes, closed) = exchange(local(port), requests.as_bytes()).await;
    assert!(closed, "closed after the request asking for it");
    let got = answers(&bytes, &[false; 6]);
    let bodies: Vec<String> = got
        .iter()
        .map(|a| String::from_utf8_lossy(&a.body).into_owned())
        .collect();
    assert_eq!(
        bodies,
        [
            "POST /a 3 abc",
            "PUT /b 0 ",
            "DELETE /c - ",
            "PATCH /d 4 wxyz",
            "OPTIONS /e - ",
            "GET /f - ",
        ]
    );

    // A body sent after its head, in two pieces, arrives whole (hyper
    // waits for it).
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(b"POST /h HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\n\r\nhe")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b"llo").await.unwrap();
    let got = answers(&read_answer(&mut s, false).await, &[false]);
    assert_eq!(got[0].body, b"POST /h 5 hello");
}

#[tokio::test]
async fn heads_longer_than_the_first_read_are_served_and_the_next_ones_too() {
    // The read buffer starts at 1 KiB and grows for a longer head.
    let b = Backend::start_with("b", "127.0.0.1:0", |seen| {
        let cookie = seen.headers.get("cookie").map_or(0, |v| v.len());
        Reply::text(format!("{} {cookie}", seen.uri.path()))
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let cookie = "c".repeat(3000);
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    let mut bodies = Vec::new();
    for (path, cookie) in [
        ("/long", cookie.as_str()),
        ("/short", "s"),
        ("/again", &cookie),
    ] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: h.test\r\nCookie: {cookie}\r\n\r\n");
        // In pieces, so that reads end inside the head.
        for piece in req.as_bytes().chunks(700) {
            s.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let got = answers(&read_answer(&mut s, false).await, &[false]);
        bodies.push(String::from_utf8_lossy(&got[0].body).into_owned());
    }
    assert_eq!(bodies, ["/long 3000", "/short 1", "/again 3000"]);
}

#[tokio::test]
async fn an_answer_with_transfer_encoding_and_content_length_is_framed_by_the_coding() {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, which a
    // proxy removes; the client must not be told the stale length.
    let target = answering(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(target.addr, 10)]));
    let got = get(local(port), "h.test", "/clte").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "abc");
    assert!(
        got.headers.get("content-length").is_none(),
        "{:?}",
        got.headers
    );
}

#[tokio::test]
async fn request_transfer_codings_other_than_chunked_are_refused() {
    let target = answering("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(target.addr, 10)]));
    let wait = Duration::from_secs(5);
    for (coding, status) in [
        ("gzip, chunked", 501),
        ("chunked, chunked", 400),
        ("chunked", 200),
    ] {
        let req = format!(
            "POST /u HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: {coding}\r\n\
             Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        );
        let answer = raw(local(port), req.as_bytes(), wait).await;
        assert_eq!(
            raw_status(&answer),
            status,
            "{coding}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
}

#[tokio::test]
async fn a_request_framed_two_ways_or_with_a_lower_case_method_is_refused_and_nothing_reaches_the_target()
 {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    let wait = Duration::from_secs(5);
    // Each would put a second request ("GET /smuggled") on the target's
    // connection for a reader that frames the first one the other way.
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: h.test\r\n\r\n";
    for first in [
        "POST /a HTTP/1.1\r\nHost: h.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
        "POST /a HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX",
        "POST /a HTTP/1.1\r\nHost: h.test\r\nContent-Length: 6\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\nX",
        "get /a HTTP/1.1\r\nHost: h.test\r\n\r\n",
        "head /a HTTP/1.1\r\nHost: h.test\r\n\r\n",
    ] {
        let req = format!("{first}{smuggled}");
        let (answer, closed) = raw_until_closed(local(port), req.as_bytes(), wait).await;
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(raw_status(&answer), 400, "{first:?}: {text}");
        assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{first:?}: {text}");
        assert!(closed, "{first:?}");
    }
    assert!(
        b.seen.lock().unwrap().is_empty(),
        "{:?}",
        b.seen.lock().unwrap()
    );
    // Upper-case extension methods pass.
    let req = b"M-SEARCH /a HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_status(&raw(local(port), req, wait).await), 200);
    assert_eq!(b.last().method.as_str(), "M-SEARCH");
}

#[tokio::test]
async fn an_answer_with_an_invalid_framing_line_is_502_and_other_invalid_lines_are_skipped() {
    // Read without its bad line, this answer is 49 bytes long, the last 35
    // of them a second, poisoned answer.
    let poisoned = answering(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\nContent-Length: 49\r\n\r\n\
         0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nPOISON!",
    )
    .await;
    let skipped = answering(
        "HTTP/1.1 200 OK\r\nX (bad): 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let port = free_port();
    let mut config = one_rule(port, "h.test", "/", "", &[(poisoned.addr, 10)]);
    config.push_str(&format!(
        "      [[load_balancer.listener.domain.rule]]\n      url = \"/ok\"\n      \
         targets = [{{ address = \"{}\", weight = 10 }}]\n",
        skipped.addr
    ));
    let _stgw = Stgw::start(&config);
    let got = get(local(port), "h.test", "/poisoned").await;
    assert_eq!(got.status, 502, "{}", got.text());
    let got = get(local(port), "h.test", "/ok").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "ok");
}

#[tokio::test]
async fn a_target_always_gets_a_host() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    // The client's Connection field names Host: it goes, and `$host`
    // takes its place (an HTTP/1.1 request must carry one).
    let req = b"GET /a HTTP/1.1\r\nHost: h.test\r\nConnection: host, close\r\n\r\n";
    let answer = raw(local(port), req, Duration::from_secs(5)).await;
    assert_eq!(raw_status(&answer), 200);
    assert_eq!(b.last().headers["host"], "h.test");
}

#[tokio::test]
async fn an_http_1_0_client_keeps_its_connection_only_when_it_asks_as_with_nginx() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(b.addr, 10)]));
    wait_listening(local(port)).await;
    // Asked for (ab -k): an HTTP/1.1 status line, as nginx sends, and
    // `Connection: keep-alive`; the next request comes on the same connection.
    let mut stream = tokio::net::TcpStream::connect(local(port)).await.unwrap();
    let req = b"GET /a HTTP/1.0\r\nHost: h.test\r\nConnection: Keep-Alive\r\n\r\n";
    for _ in 0..2 {
        stream.write_all(req).await.unwrap();
        let head = read_answer_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: keep-alive\r\n"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("a length");
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.unwrap();
    }
    assert_eq!(b.hits(), 2);
    // Not asked for: the answer says close, and the connection closes.
    let req = b"GET /a HTTP/1.0\r\nHost: h.test\r\n\r\n";
    let (answer, closed) = raw_until_closed(local(port), req, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    assert!(closed);
}

/// Reads an answer's head (through the blank line) byte by byte.
async fn read_answer_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("the answer in time")
            .unwrap();
        assert_eq!(n, 1, "closed after {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn an_http_1_0_client_is_told_the_connection_closes_after_a_body_of_unknown_length() {
    let target = answering("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(target.addr, 10)]));
    let req = b"GET /a HTTP/1.0\r\nHost: h.test\r\nConnection: keep-alive\r\n\r\n";
    let (answer, closed) = raw_until_closed(local(port), req, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert_eq!(raw_status(&answer), 200, "{text}");
    assert!(text.contains("\r\nconnection: close\r\n"), "{text}");
    assert!(!text.contains("keep-alive"), "{text}");
    assert!(text.ends_with("until close"), "{text}");
    assert!(closed);
}

#[tokio::test]
async fn an_answer_the_target_cuts_short_reaches_the_client_as_far_as_it_came() {
    // The client sees the head and the bytes that came, then the close: a
    // truncated answer, not an empty reply (as with nginx).
    for (path, answer, body) in [
        (
            "/length",
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial!!",
            "partial!!",
        ),
        (
            "/chunked",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            "hello",
        ),
    ] {
        let target = answering(answer).await;
        let port = free_port();
        let _stgw = Stgw::start(&one_rule(port, "h.test", "/", "", &[(target.addr, 10)]));
        let req = format!("GET {path} HTTP/1.1\r\nHost: h.test\r\n\r\n");
        let (got, closed) =
            raw_until_closed(local(port), req.as_bytes(), Duration::from_secs(5)).await;
        let text = String::from_utf8_lossy(&got);
        assert_eq!(raw_status(&got), 200, "{path}: {text}");
        assert!(text.contains(body), "{path}: {text}");
        assert!(
            closed,
            "{path}: the connection stays open after a cut answer"
        );
    }
}

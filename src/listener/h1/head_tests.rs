use super::*;

fn parse_text(text: &[u8]) -> (Parsed, BytesMut) {
    let mut buf = BytesMut::from(text);
    let parsed = parse(&mut buf, &mut None);
    (parsed, buf)
}

#[test]
fn a_get_is_taken_off_the_buffer_with_its_fields() {
    let (parsed, rest) =
        parse_text(b"GET /a?b=1 HTTP/1.1\r\nHost: h.test\r\nX-Two: 1\r\nx-two: 2\r\n\r\nGET /next");
    let Parsed::Request { parts, body, close } = parsed else {
        panic!("{parsed:?}");
    };
    assert!(!close);
    assert_eq!(body, None);
    assert_eq!(parts.method, Method::GET);
    assert_eq!(parts.uri, "/a?b=1");
    assert_eq!(parts.version, Version::HTTP_11);
    assert_eq!(parts.headers["host"], "h.test");
    let two: Vec<_> = parts.headers.get_all("x-two").iter().collect();
    assert_eq!(two, ["1", "2"]);
    assert_eq!(&rest[..], b"GET /next", "the next request stays");
}

#[test]
fn connection_close_is_seen_among_other_tokens() {
    for (value, close) in [
        ("close", true),
        ("keep-alive, Close", true),
        ("keep-alive", false),
        ("closed", false),
    ] {
        let text = format!("HEAD / HTTP/1.1\r\nHost: h\r\nConnection: {value}\r\n\r\n");
        let (parsed, _) = parse_text(text.as_bytes());
        let Parsed::Request {
            parts, close: seen, ..
        } = parsed
        else {
            panic!("{value}: {parsed:?}");
        };
        assert_eq!(parts.method, Method::HEAD);
        assert_eq!(seen, close, "{value}");
    }
}

#[test]
fn an_unfinished_head_is_partial_and_left_alone() {
    let (parsed, rest) = parse_text(b"GET / HTTP/1.1\r\nHost: h");
    assert!(matches!(parsed, Parsed::Partial), "{parsed:?}");
    assert_eq!(&rest[..], b"GET / HTTP/1.1\r\nHost: h");
}

#[test]
fn heads_for_hyper_stay_in_the_buffer_whole() {
    let long_fields: String = (0..65).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases = [
        "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n".to_owned(),
        "TRACE / HTTP/1.1\r\nHost: h\r\n\r\n".to_owned(),
        "GET / HTTP/2.0\r\nHost: h\r\n\r\n".to_owned(),
        "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_owned(),
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\n\r\nab".to_owned(),
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab".to_owned(),
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +2\r\n\r\nab".to_owned(),
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n".to_owned(),
        // Would not fit in the read buffer with its head.
        "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 8192\r\n\r\n".to_owned(),
        "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            .to_owned(),
        "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n".to_owned(),
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n".to_owned(),
        "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n".to_owned(),
        format!("GET / HTTP/1.1\r\nHost: h\r\n{long_fields}\r\n"),
        // httparse takes it; `Uri` does not.
        "GET http://[::1/ HTTP/1.1\r\nHost: h\r\n\r\n".to_owned(),
    ];
    for text in cases {
        let (parsed, rest) = parse_text(text.as_bytes());
        assert!(matches!(parsed, Parsed::Hyper), "{text:?}: {parsed:?}");
        assert_eq!(&rest[..], text.as_bytes(), "{text:?}");
    }
}

#[test]
fn a_body_with_a_length_is_taken_off_with_its_head() {
    let (parsed, rest) =
        parse_text(b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /next");
    let Parsed::Request { parts, body, .. } = parsed else {
        panic!("{parsed:?}");
    };
    assert_eq!(parts.method, Method::POST);
    assert_eq!(parts.headers["content-length"], "5");
    assert_eq!(body.as_deref(), Some(&b"hello"[..]));
    assert_eq!(&rest[..], b"GET /next", "the next request stays");

    // Other methods, an empty body, and one as large as the buffer allows.
    let head = "PATCH / HTTP/1.1\r\nHost: h\r\nContent-Length: ";
    let most = MAX_REQUEST - head.len() - "8128\r\n\r\n".len();
    let cases = [
        (
            "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n".to_owned(),
            Method::PUT,
            Some(0),
        ),
        (
            "DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n".to_owned(),
            Method::DELETE,
            None,
        ),
        (
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n".to_owned(),
            Method::OPTIONS,
            None,
        ),
        (
            format!("{head}{most}\r\n\r\n{}", "b".repeat(most)),
            Method::PATCH,
            Some(most),
        ),
    ];
    for (text, method, len) in cases {
        let (parsed, rest) = parse_text(text.as_bytes());
        let Parsed::Request { parts, body, .. } = parsed else {
            panic!("{text:?}: {parsed:?}");
        };
        assert_eq!(parts.method, method);
        assert_eq!(body.map(|b| b.len()), len, "{text:?}");
        assert!(rest.is_empty());
    }
}

#[test]
fn a_body_not_all_there_yet_is_left_to_hyper_whole() {
    for text in [
        &b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello"[..],
        b"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n",
    ] {
        let (parsed, rest) = parse_text(text);
        assert!(matches!(parsed, Parsed::Hyper), "{parsed:?}");
        assert_eq!(&rest[..], text);
    }
}

fn answer(status: u16, fields: &[(&str, &str)]) -> response::Parts {
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = StatusCode::from_u16(status).unwrap();
    for (name, value) in fields {
        parts.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    parts
}

fn encode_text(
    parts: &mut response::Parts,
    size: BodySize,
    head_request: bool,
    closing: bool,
) -> (String, Encoded) {
    let mut out = Vec::new();
    let request = Answering {
        head: head_request,
        http10: false,
    };
    let encoded = encode(&mut out, parts, size, request, closing);
    (String::from_utf8(out).unwrap(), encoded)
}

/// The answer head for an HTTP/1.0 client.
fn encode_http10(parts: &mut response::Parts, size: BodySize, closing: bool) -> (String, Encoded) {
    let mut out = Vec::new();
    let request = Answering {
        head: false,
        http10: true,
    };
    let encoded = encode(&mut out, parts, size, request, closing);
    (String::from_utf8(out).unwrap(), encoded)
}

const DATED: (&str, &str) = ("date", "Thu, 01 Jan 1970 00:00:00 GMT");

#[test]
fn field_names_are_written_capitalised() {
    let mut parts = answer(
        200,
        &[
            ("x-request-id", "1"),
            ("www-authenticate", "b"),
            ("a", "2"),
            DATED,
        ],
    );
    let (text, _) = encode_text(&mut parts, BodySize::Empty, false, false);
    assert!(
        text.contains("\r\nX-Request-Id: 1\r\nWww-Authenticate: b\r\nA: 2\r\n"),
        "{text}"
    );
}

#[test]
fn a_known_length_is_announced_and_fields_follow_in_order() {
    let mut parts = answer(
        200,
        &[("server", "stgw"), ("x-a", "1"), ("x-a", "2"), DATED],
    );
    let (text, encoded) = encode_text(&mut parts, BodySize::Known(5), false, false);
    assert_eq!(
        text,
        "HTTP/1.1 200 OK\r\nServer: stgw\r\nX-A: 1\r\nX-A: 2\r\n\
         Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 5\r\n\r\n"
    );
    assert_eq!(
        encoded,
        Encoded {
            framing: Framing::Length(5),
            last: false
        }
    );
    assert!(parts.headers.is_empty(), "the map is drained for reuse");
}

#[test]
fn an_unknown_length_is_chunked_unless_a_length_field_says_it() {
    let mut parts = answer(404, &[("transfer-encoding", "chunked"), DATED]);
    let (text, encoded) = encode_text(&mut parts, BodySize::Unknown, false, false);
    assert_eq!(
        text,
        "HTTP/1.1 404 Not Found\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    assert_eq!(encoded.framing, Framing::Chunked);

    let mut parts = answer(200, &[("content-length", "42"), DATED]);
    let (text, encoded) = encode_text(&mut parts, BodySize::Unknown, false, false);
    assert!(text.contains("\r\nContent-Length: 42\r\n"), "{text}");
    assert_eq!(encoded.framing, Framing::Length(42));
}

#[test]
fn an_empty_body_is_length_0_and_bodiless_statuses_get_no_framing() {
    let mut parts = answer(200, &[("content-length", "0"), DATED]);
    let (text, encoded) = encode_text(&mut parts, BodySize::Empty, false, false);
    assert_eq!(text.matches("Content-Length: 0\r\n").count(), 1, "{text}");
    assert_eq!(encoded.framing, Framing::None);
    for status in [204, 304] {
        let mut parts = answer(status, &[("content-length", "7"), ("etag", "\"e\""), DATED]);
        let (text, encoded) = encode_text(&mut parts, BodySize::Known(7), false, false);
        assert!(!text.contains("Content-Length"), "{status}: {text}");
        assert!(!text.contains("Transfer-Encoding"), "{status}: {text}");
        assert!(text.contains("Etag: \"e\"\r\n"), "{text}");
        assert_eq!(encoded.framing, Framing::None);
    }
}

#[test]
fn the_answer_to_head_keeps_its_length_and_sends_no_body() {
    let mut parts = answer(200, &[("content-length", "1234"), DATED]);
    let (text, encoded) = encode_text(&mut parts, BodySize::Empty, true, false);
    assert!(text.contains("\r\nContent-Length: 1234\r\n"), "{text}");
    assert_eq!(encoded.framing, Framing::None);
    // stgw's own answer: the length of the body it would send.
    let mut parts = answer(404, &[DATED]);
    let (text, encoded) = encode_text(&mut parts, BodySize::Known(150), true, false);
    assert!(text.contains("\r\nContent-Length: 150\r\n"), "{text}");
    assert_eq!(encoded.framing, Framing::None);
    let mut parts = answer(200, &[DATED]);
    let (text, _) = encode_text(&mut parts, BodySize::Unknown, true, false);
    assert!(!text.contains("Transfer-Encoding"), "{text}");
}

#[test]
fn closing_is_announced_once_and_a_close_field_closes() {
    let mut parts = answer(200, &[DATED]);
    let (text, encoded) = encode_text(&mut parts, BodySize::Empty, false, true);
    assert_eq!(text.matches("Connection: close\r\n").count(), 1, "{text}");
    assert!(encoded.last);

    let mut parts = answer(502, &[("connection", "close"), DATED]);
    let (text, encoded) = encode_text(&mut parts, BodySize::Known(3), false, false);
    assert_eq!(text.matches("Connection: close\r\n").count(), 1, "{text}");
    assert!(encoded.last);

    let mut parts = answer(200, &[("connection", "keep-alive"), DATED]);
    let (_, encoded) = encode_text(&mut parts, BodySize::Known(3), false, false);
    assert!(!encoded.last);
}

#[test]
fn a_date_is_added_when_absent_and_unknown_statuses_have_an_empty_reason() {
    let mut parts = answer(599, &[]);
    let (text, _) = encode_text(&mut parts, BodySize::Empty, false, false);
    assert!(text.starts_with("HTTP/1.1 599 \r\n"), "{text}");
    let date = text
        .lines()
        .find_map(|l| l.strip_prefix("Date: "))
        .expect("a date field");
    assert_eq!(date.len(), date::LEN);
}

#[test]
fn a_request_line_nginx_takes_is_mended_and_then_taken() {
    for (line, escaped) in [
        (&b"GET /p\xff?q=\xc4\xe3 HTTP/1.1"[..], "/p%FF?q=%C4%E3"),
        (b"GET /a<b>?x=\"y\" HTTP/1.1", "/a%3Cb%3E?x=%22y%22"),
        (b"GET /a`b{c}|d^e\\f HTTP/1.1", "/a%60b%7Bc%7D%7Cd%5Ee%5Cf"),
        // UTF-8 is escaped with the rest when something else is refused.
        ("GET /caf\u{e9}<1> HTTP/1.1".as_bytes(), "/caf%C3%A9%3C1%3E"),
        // A later minor version is read as HTTP/1.1; with a target to escape too.
        (b"GET /v HTTP/1.2", "/v"),
        (b"GET /v\xff HTTP/1.9", "/v%FF"),
    ] {
        let mut buf = BytesMut::from(line);
        buf.extend_from_slice(b"\r\nHost: h.test\r\n\r\nGET /next");
        assert!(matches!(parse(&mut buf, &mut None), Parsed::Hyper));
        assert!(mend_request_line(&mut buf), "{line:?}");
        let Parsed::Request { parts, .. } = parse(&mut buf, &mut None) else {
            panic!("{line:?} not taken once escaped");
        };
        assert_eq!(parts.uri, escaped);
        assert_eq!(parts.version, Version::HTTP_11);
        assert_eq!(parts.headers["host"], "h.test");
        assert_eq!(&buf[..], b"GET /next", "the next request stays");
    }
}

#[test]
fn a_request_line_the_parsers_take_or_none_is_left_alone() {
    for text in [
        "GET /caf\u{e9}?q=1 HTTP/1.1\r\nHost: h\r\n\r\n".as_bytes(),
        b"GET /plain HTTP/1.0\r\n\r\n",
        b"GET /plain HTTP/2.0\r\n\r\n",
        b"GET /plain HTTP/1.10\r\n\r\n",
        b"GET /p\xff HTTP/1.1",
        b"GET\r\n\r\n",
        b"/p\xff\r\n\r\n",
    ] {
        let mut buf = BytesMut::from(text);
        assert!(!mend_request_line(&mut buf), "{text:?}");
        assert_eq!(&buf[..], text);
    }
}

#[test]
fn a_targets_own_reason_phrase_is_written_for_the_status_it_came_with() {
    let reason = |status: u16, phrase: &'static str| TargetReason {
        status: StatusCode::from_u16(status).unwrap(),
        phrase: Bytes::from_static(phrase.as_bytes()),
    };
    for (status, phrase, line) in [
        (200, "Everything Fine", "HTTP/1.1 200 Everything Fine\r\n"),
        (599, "Custom", "HTTP/1.1 599 Custom\r\n"),
        (404, "", "HTTP/1.1 404 \r\n"),
    ] {
        let mut parts = answer(status, &[DATED]);
        parts.extensions.insert(reason(status, phrase));
        let (text, _) = encode_text(&mut parts, BodySize::Empty, false, false);
        assert!(text.starts_with(line), "{text}");
    }
    // A status stgw changed since (an error page) shows its standard phrase.
    let mut parts = answer(200, &[DATED]);
    parts.extensions.insert(reason(404, "Gone Fishing"));
    let (text, _) = encode_text(&mut parts, BodySize::Empty, false, false);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
}

#[test]
fn http_1_0_requests_are_taken_and_persist_only_when_asked() {
    for (text, closes) in [
        (&b"GET / HTTP/1.0\r\nHost: a\r\n\r\n"[..], true),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", false),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            true,
        ),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false),
    ] {
        let (parsed, _) = parse_text(text);
        let Parsed::Request { parts, close, .. } = parsed else {
            panic!("taken: {parsed:?}");
        };
        let http10 = text.starts_with(b"GET / HTTP/1.0");
        assert_eq!(parts.version == Version::HTTP_10, http10);
        assert_eq!(close, closes, "{}", String::from_utf8_lossy(text));
    }
}

#[test]
fn an_http_1_0_client_gets_an_http_1_1_line_keep_alive_and_no_chunks() {
    let mut parts = answer(200, &[DATED]);
    let (text, encoded) = encode_http10(&mut parts, BodySize::Known(5), false);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Connection: keep-alive\r\n"), "{text}");
    assert_eq!(encoded.framing, Framing::Length(5));
    assert!(!encoded.last);
    // A body of unknown length ends with the connection.
    let mut parts = answer(200, &[DATED]);
    let (text, encoded) = encode_http10(&mut parts, BodySize::Unknown, false);
    assert!(!text.contains("chunked"), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert_eq!(encoded.framing, Framing::UntilClose);
    assert!(encoded.last);
    // Closing: said once.
    let mut parts = answer(200, &[DATED]);
    let (text, encoded) = encode_http10(&mut parts, BodySize::Known(5), true);
    assert_eq!(text.matches("Connection:").count(), 1, "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(encoded.last);
}

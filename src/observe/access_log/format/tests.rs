use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Uri, Version};

use super::*;
use crate::observe::record::{ProtocolType, RequestLine, TlsFacts, Tries};

fn record() -> Record {
    let mut upstream = Tries::default();
    upstream.push(Try {
        addr: "10.0.0.1:80".parse().unwrap(),
        status: 502,
        connect: None,
        header: None,
        response: Some(Duration::from_millis(1)),
    });
    upstream.push(Try {
        addr: "10.0.0.2:80".parse().unwrap(),
        status: 200,
        connect: Some(Duration::from_millis(2)),
        header: Some(Duration::from_millis(12)),
        response: Some(Duration::from_millis(1234)),
    });
    Record {
        time: SystemTime::now(),
        remote: "192.0.2.7:50123".parse::<SocketAddr>().unwrap(),
        local: "127.0.0.1:8080".parse().unwrap(),
        vport: 8080,
        server_name: Some(Arc::from("*.example.com")),
        host: Some(HeaderValue::from_static("a.example.com")),
        request: RequestLine {
            method: Some(Method::GET),
            uri: Some(Uri::from_static("/p?q=a|b")),
            version: Some(Version::HTTP_11),
        },
        status: 200,
        bytes_sent: 345,
        body_bytes_sent: 300,
        request_length: 120,
        request_time: Duration::from_millis(1250),
        upstream,
        tls: Some(TlsFacts {
            protocol: "TLSv1.3",
            cipher: "TLS_AES_128_GCM_SHA256",
            resumed: true,
            handshake: Duration::from_millis(3),
        }),
        protocol_type: ProtocolType::Https,
        connection_requests: 2,
        user_agent: Some(HeaderValue::from_bytes(b"curl/8 \xff\"").unwrap()),
        referer: None,
        request_id: HeaderValue::from_static("abc"),
        listener_id: Arc::from("lbl-1"),
        location_id: Some(Arc::from("loc-1")),
    }
}

/// The issue's field list, in order.
const FIELDS: [&str; 28] = [
    "time_local",
    "remote_addr",
    "remote_port",
    "server_addr",
    "vport",
    "server_name",
    "http_host",
    "request",
    "status",
    "bytes_sent",
    "request_length",
    "request_time",
    "upstream_addr",
    "upstream_status",
    "upstream_connect_time",
    "upstream_header_time",
    "upstream_response_time",
    "ssl_protocol",
    "ssl_cipher",
    "ssl_session_reused",
    "ssl_handshake_time",
    "protocol_type",
    "connection_requests",
    "http_user_agent",
    "http_referer",
    "request_id",
    "listener_id",
    "location_id",
];

#[test]
fn a_json_line_has_every_field_under_its_name() {
    let mut out = Vec::new();
    line(
        AccessLogFormat::Json,
        &record(),
        "10/Oct/2000:13:55:36 +0000",
        &mut out,
    );
    assert_eq!(out.last(), Some(&b'\n'));
    let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(v["time_local"], "10/Oct/2000:13:55:36 +0000");
    assert_eq!(v["remote_addr"], "192.0.2.7");
    assert_eq!(v["remote_port"], 50123);
    assert_eq!(v["server_addr"], "127.0.0.1");
    assert_eq!(v["vport"], 8080);
    assert_eq!(v["server_name"], "*.example.com");
    assert_eq!(v["http_host"], "a.example.com");
    assert_eq!(v["request"], "GET /p?q=a|b HTTP/1.1");
    assert_eq!(v["status"], 200);
    assert_eq!(v["bytes_sent"], 345);
    assert_eq!(v["request_length"], 120);
    assert_eq!(v["request_time"], 1.25);
    assert_eq!(v["upstream_addr"], "10.0.0.1:80, 10.0.0.2:80");
    assert_eq!(v["upstream_status"], "502, 200");
    assert_eq!(v["upstream_connect_time"], "-, 0.002");
    assert_eq!(v["upstream_header_time"], "-, 0.012");
    assert_eq!(v["upstream_response_time"], "0.001, 1.234");
    assert_eq!(v["ssl_protocol"], "TLSv1.3");
    assert_eq!(v["ssl_cipher"], "TLS_AES_128_GCM_SHA256");
    assert_eq!(v["ssl_session_reused"], "r");
    assert_eq!(v["ssl_handshake_time"], 0.003);
    assert_eq!(v["protocol_type"], "https");
    assert_eq!(v["connection_requests"], 2);
    assert_eq!(v["http_user_agent"], "curl/8 \\xFF\"");
    assert_eq!(v["http_referer"], "");
    assert_eq!(v["request_id"], "abc");
    assert_eq!(v["listener_id"], "lbl-1");
    assert_eq!(v["location_id"], "loc-1");
    let mut names: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = FIELDS.to_vec();
    names.sort_unstable();
    expected.sort_unstable();
    assert_eq!(names, expected);
    // In the issue's order on the line.
    let text = String::from_utf8(out).unwrap();
    let at: Vec<usize> = FIELDS
        .iter()
        .map(|f| text.find(&format!("\"{f}\":")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn a_combined_line_is_nginx_s() {
    let mut out = Vec::new();
    line(
        AccessLogFormat::Combined,
        &record(),
        "10/Oct/2000:13:55:36 +0000",
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /p?q=a|b HTTP/1.1\" 200 300 \"-\" \"curl/8 \\xFF\\x22\"\n"
    );
}

#[test]
fn a_refused_head_has_no_request_line() {
    let mut r = record();
    r.request = RequestLine::default();
    r.status = 414;
    let mut out = Vec::new();
    line(AccessLogFormat::Combined, &r, "t", &mut out);
    assert!(String::from_utf8(out).unwrap().contains("[t] \"-\" 414 "));
    let mut out = Vec::new();
    line(AccessLogFormat::Json, &r, "t", &mut out);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["request"], "");
}

#[test]
fn http2_requests_are_logged_in_origin_form() {
    let mut r = record();
    r.request.uri = Some(Uri::from_static("https://a.example.com/x?y"));
    r.request.version = Some(Version::HTTP_2);
    r.host = None;
    let mut out = Vec::new();
    line(AccessLogFormat::Json, &r, "t", &mut out);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["request"], "GET /x?y HTTP/2.0");
    assert_eq!(v["http_host"], "a.example.com");
}

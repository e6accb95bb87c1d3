//! stgw's own HTTP/1.1 server, once per request: parsing a browser-like
//! GET head into the field map kept from the previous answer, and
//! encoding a target's answer head (with `Date` added) into the reused
//! write buffer.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderName, HeaderValue};
use stgw::listener::h1::head::{Answering, BodySize, Parsed, encode, parse};

const REQUEST: &[u8] = b"GET /static/app.js?v=42 HTTP/1.1\r\nHost: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/\r\nConnection: keep-alive\r\n\
Cookie: session=6a3f1c2e64; theme=dark\r\n\r\n";

const ANSWER: [(&str, &str); 6] = [
    ("server", "nginx/1.22.1"),
    ("content-type", "application/javascript"),
    ("content-length", "100"),
    ("last-modified", "Thu, 26 Nov 2026 09:00:00 GMT"),
    ("etag", "\"6a3f1c2e-64\""),
    ("accept-ranges", "bytes"),
];

fn request_head(c: &mut Criterion) {
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut storage = Some(http::HeaderMap::with_capacity(16));
    c.bench_function("own server: parse a GET head (9 fields)", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(REQUEST);
            let Parsed::Request {
                mut parts, close, ..
            } = parse(&mut buf, &mut storage)
            else {
                panic!("the head is not taken");
            };
            let fields = parts.headers.len();
            parts.headers.clear();
            storage = Some(parts.headers);
            black_box((fields, close))
        })
    });
    let mut out = Vec::with_capacity(1024);
    let fields: Vec<(HeaderName, HeaderValue)> = ANSWER
        .iter()
        .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
        .collect();
    c.bench_function("own server: encode an answer head (6 fields)", |b| {
        b.iter(|| {
            let mut parts = http::Response::new(()).into_parts().0;
            parts.headers.extend(fields.iter().cloned());
            out.clear();
            let encoded = encode(
                &mut out,
                &mut parts,
                BodySize::Known(100),
                Answering::default(),
                false,
            );
            black_box((out.len(), encoded))
        })
    });
}

criterion_group!(benches, request_head);
criterion_main!(benches);

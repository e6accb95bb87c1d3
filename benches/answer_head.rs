//! Parsing a target's answer head, once per proxied HTTP/1.1 request: the
//! head nginx sends for a small static file, into a fresh header map (as
//! on the request path, where the previous map went to the client).

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, criterion_group, criterion_main};
use stgw::upstream::h1::parse_answer_head;

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\
Date: Fri, 27 Nov 2026 14:20:00 GMT\r\nContent-Type: text/plain\r\n\
Content-Length: 100\r\nLast-Modified: Thu, 26 Nov 2026 09:00:00 GMT\r\n\
Connection: keep-alive\r\nETag: \"6a3f1c2e-64\"\r\nAccept-Ranges: bytes\r\n\r\n";

fn answer_head(c: &mut Criterion) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    c.bench_function("parse_answer_head (8 fields)", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(HEAD);
            let mut storage = http::HeaderMap::new();
            let head = parse_answer_head(&mut buf, &mut storage);
            black_box(head.ok().flatten().map(|h| h.parts.headers.len()))
        })
    });
}

criterion_group!(benches, answer_head);
criterion_main!(benches);

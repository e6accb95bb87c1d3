//! The request parser of stgw's own HTTP/1.1 server: it never panics; a
//! request it takes is a prefix of the bytes: a head that ends with the
//! empty line, of a method it serves, with at most 64 fields, followed by
//! exactly the body its `Content-Length` announces, all within the read
//! buffer (a body not all there is hyper's); it is taken whatever follows
//! it; anything it does not take leaves the bytes untouched for hyper.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use stgw::listener::h1::head::{MAX_REQUEST, Parsed, parse};

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    match parse(&mut buf, &mut None) {
        Parsed::Partial | Parsed::Hyper => assert_eq!(&buf[..], data, "untouched"),
        Parsed::Request { parts, body, .. } => {
            let taken = data.len() - buf.len();
            assert!(taken <= MAX_REQUEST);
            assert_eq!(&buf[..], &data[taken..], "the request is a prefix");
            let body_len = body.as_ref().map_or(0, |b| b.len());
            let head_len = taken - body_len;
            assert_eq!(body.as_deref().unwrap_or(b""), &data[head_len..taken]);
            let head = &data[..head_len];
            assert!(head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"));
            let announced = parts
                .headers
                .get("content-length")
                .map(|v| v.to_str().unwrap().parse::<usize>().unwrap());
            assert_eq!(announced, body.as_ref().map(|b| b.len()));
            assert!(METHODS.contains(&parts.method.as_str()));
            assert!(parts.headers.len() <= 64);
            // The same request alone, and with other bytes after it.
            let mut alone = BytesMut::from(&data[..taken]);
            let Parsed::Request {
                parts: again,
                body: body_again,
                ..
            } = parse(&mut alone, &mut None)
            else {
                panic!("the request alone is not taken");
            };
            assert!(alone.is_empty());
            assert_eq!((&again.method, &again.uri), (&parts.method, &parts.uri));
            assert_eq!(again.headers, parts.headers);
            assert_eq!(body_again, body);
            // One byte short: a head not ended yet, or a body for hyper
            // to wait for.
            let mut short = BytesMut::from(&data[..taken - 1]);
            match parse(&mut short, &mut None) {
                Parsed::Partial => assert_eq!(body_len, 0),
                Parsed::Hyper => assert!(body_len > 0),
                Parsed::Request { .. } => panic!("a request one byte short is taken"),
            }
        }
    }
});

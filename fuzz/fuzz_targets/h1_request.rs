//! The request-head parser of stgw's own HTTP/1.1 server: it never
//! panics; a head it takes is a prefix of the bytes, ends with the empty
//! line, is GET or HEAD with at most 64 fields, and is taken whatever
//! follows it; anything it does not take leaves the bytes untouched for
//! hyper.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use stgw::listener::h1::head::{Parsed, parse};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    match parse(&mut buf, &mut None) {
        Parsed::Partial | Parsed::Hyper => assert_eq!(&buf[..], data, "untouched"),
        Parsed::Request { parts, .. } => {
            let taken = data.len() - buf.len();
            assert_eq!(&buf[..], &data[taken..], "the head is a prefix");
            assert!(data[..taken].ends_with(b"\n\n") || data[..taken].ends_with(b"\n\r\n"));
            assert!(parts.method == "GET" || parts.method == "HEAD");
            assert!(parts.headers.len() <= 64);
            // The same head alone, and with other bytes after it.
            let mut alone = BytesMut::from(&data[..taken]);
            let Parsed::Request { parts: again, .. } = parse(&mut alone, &mut None) else {
                panic!("the head alone is not taken");
            };
            assert!(alone.is_empty());
            assert_eq!((&again.method, &again.uri), (&parts.method, &parts.uri));
            assert_eq!(again.headers, parts.headers);
            // One byte short: not a whole head yet.
            let mut short = BytesMut::from(&data[..taken - 1]);
            assert!(matches!(parse(&mut short, &mut None), Parsed::Partial));
        }
    }
});

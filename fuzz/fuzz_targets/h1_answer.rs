//! The parser of a target's answer head (stgw's own HTTP/1.1 client): it
//! never panics, and what it makes of the bytes does not depend on how
//! they arrived (the client parses after every read).

#![no_main]

use bytes::BytesMut;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use stgw::upstream::h1::parse_answer_head;

/// Feeds `reads` in order, parsing every complete head after each read as
/// the client does, until an error; returns what was parsed, as text.
fn parse(reads: &[&[u8]]) -> String {
    let mut buf = BytesMut::new();
    let mut parsed = String::new();
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            // A map with fields in it, as the request's map is.
            let mut storage = HeaderMap::new();
            storage.insert("x-request", http::HeaderValue::from_static("1"));
            match parse_answer_head(&mut buf, &mut storage) {
                Ok(Some(head)) => {
                    assert!(!head.parts.headers.contains_key("x-request"), "{head:?}");
                    parsed.push_str(&format!("{head:?}\n"));
                }
                Ok(None) => break,
                Err(e) => {
                    parsed.push_str(&format!("error: {e}\n"));
                    return parsed;
                }
            }
        }
    }
    parsed
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where to cut; the rest is what the target sent.
    let (cut, bytes) = data.split_at(data.len().min(1));
    let whole = parse(&[bytes]);
    let at = usize::from(cut.first().copied().unwrap_or(0)) * 16 % (bytes.len() + 1);
    let (a, b) = bytes.split_at(at);
    assert_eq!(parse(&[a, b]), whole, "cut at {at}");
    let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(parse(&bytewise), whole, "byte by byte");
});

//! The request-head scan the listener runs on every read of an HTTP/1
//! head: its verdict must not depend on how the bytes were split into
//! reads, and it never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stgw::listener::head_scan::{HeadScan, Verdict};

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose where to cut; the rest is the head.
    let (cuts, head) = data.split_at(data.len().min(2));
    let whole = HeadScan::scan([head]);
    if let Verdict::Refuse(code) = whole {
        assert!(code == 400 || code == 414, "unexpected status {code}");
    }
    // Every byte alone: the finest split.
    assert_eq!(HeadScan::scan(head.chunks(1)), whole, "byte by byte");
    // Fixed-size reads of a fuzzer-chosen size.
    let size = usize::from(cuts.first().copied().unwrap_or(1)).max(1);
    assert_eq!(HeadScan::scan(head.chunks(size)), whole, "reads of {size}");
    // One cut anywhere.
    let at = usize::from(cuts.get(1).copied().unwrap_or(0)) * 16 % (head.len() + 1);
    let (a, b) = head.split_at(at);
    assert_eq!(HeadScan::scan([a, b]), whole, "cut at {at}");
});

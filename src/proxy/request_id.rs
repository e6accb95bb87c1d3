//! stgw's request ids (the `Stgw-Request-Id` header and `$request_id`):
//! 32 lowercase hex digits, 16 of a per-process random prefix and 16 of a
//! counter, so unique within a process and unlikely to repeat across
//! restarts.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use http::HeaderValue;

/// Length of an id.
const ID_LEN: usize = 32;
/// Ids carved from one block of memory: a thread allocates one block per
/// this many requests instead of one value per request.
const IDS_PER_BLOCK: usize = 128;

thread_local! {
    /// The current thread's block: the ids carved from it share it.
    static BLOCK: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A new request id.
pub(super) fn next() -> HeaderValue {
    static PREFIX: OnceLock<[u8; 16]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| hex(random_prefix()));
    let counter = hex(COUNTER.fetch_add(1, Ordering::Relaxed));
    let id = BLOCK.with_borrow_mut(|block| {
        if block.capacity() < ID_LEN {
            *block = BytesMut::with_capacity(ID_LEN * IDS_PER_BLOCK);
        }
        block.extend_from_slice(prefix);
        block.extend_from_slice(&counter);
        block.split().freeze()
    });
    HeaderValue::from_maybe_shared(id).unwrap_or(HeaderValue::from_static("0"))
}

/// A value that differs between processes: the start time and the process
/// id through a randomly keyed hash.
fn random_prefix() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// `word` as 16 lowercase hex digits, without allocating.
fn hex(word: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    crate::encoding::hex_into(&word.to_be_bytes(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_with_one_prefix_and_a_counter() {
        // More than a block's worth, so ids come from several blocks.
        let ids: Vec<HeaderValue> = (0..3 * IDS_PER_BLOCK).map(|_| next()).collect();
        for id in &ids {
            let text = id.to_str().unwrap();
            assert_eq!(text.len(), ID_LEN, "{text}");
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert_eq!(text[..16], ids[0].to_str().unwrap()[..16], "one prefix");
        }
        let counters: Vec<u64> = ids
            .iter()
            .map(|id| u64::from_str_radix(&id.to_str().unwrap()[16..], 16).unwrap())
            .collect();
        // Other tests take ids concurrently: increasing, not consecutive.
        assert!(counters.windows(2).all(|w| w[0] < w[1]), "{counters:?}");
    }

    #[test]
    fn hex_writes_every_digit() {
        assert_eq!(&hex(0x0123_4567_89ab_cdef), b"0123456789abcdef");
        assert_eq!(&hex(0), b"0000000000000000");
        assert_eq!(&hex(u64::MAX), b"ffffffffffffffff");
    }
}

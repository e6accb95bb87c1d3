//! Ids for objects the API creates: the product's shapes (`lb-`, `lbl-`,
//! `loc-`, `cert-` followed by 8 characters of `[0-9a-z]`), unique in the
//! configuration they are added to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// A fresh id `prefix` + 8 base-36 characters for which `taken` is false.
pub(crate) fn new_id(prefix: &str, taken: impl Fn(&str) -> bool) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = Sha256::new();
        h.update(prefix.as_bytes());
        h.update(nanos.to_be_bytes());
        h.update(std::process::id().to_be_bytes());
        h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let d = h.finalize();
        let mut n = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
        const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut id = String::from(prefix);
        for _ in 0..8 {
            id.push(char::from(ALPHABET[(n % 36) as usize]));
            n /= 36;
        }
        if !taken(&id) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_products_shape_and_avoid_taken_ones() {
        let a = new_id("lb-", |_| false);
        assert_eq!(a.len(), 11);
        assert!(
            a[3..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
        let refused = std::cell::Cell::new(0);
        let b = new_id("lbl-", |_| {
            refused.set(refused.get() + 1);
            refused.get() <= 3
        });
        assert_eq!(refused.get(), 4, "taken ids are skipped");
        assert!(b.starts_with("lbl-") && b.len() == 12);
    }
}

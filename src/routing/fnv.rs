//! The hash of the route tables' maps: FNV-1a.
//!
//! std's default, keyed SipHash, protects a map whose keys an attacker
//! chooses from collisions that make every operation slow. The route
//! tables' keys come from the configuration; a request only looks one up,
//! and a lookup ends at the first empty slot of its probe sequence however
//! its key was chosen. So these maps need no keyed hash, and FNV-1a is
//! several times faster than SipHash on names this short.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by configured names.
pub(super) type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv1a>>;
/// A set of configured names.
pub(super) type FnvSet<K> = HashSet<K, BuildHasherDefault<Fnv1a>>;

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(OFFSET_BASIS)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv(bytes: &[u8]) -> u64 {
        let mut h = Fnv1a::default();
        h.write(bytes);
        h.finish()
    }

    #[test]
    fn matches_the_published_test_vectors() {
        assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn maps_find_what_was_put_in() {
        let mut map: FnvMap<Box<str>, u32> = FnvMap::default();
        for (i, name) in ["a.test", "b.test", "www.example.com", ""]
            .iter()
            .enumerate()
        {
            map.insert((*name).into(), i as u32);
        }
        assert_eq!(map.get("www.example.com"), Some(&2));
        assert_eq!(map.get(""), Some(&3));
        assert_eq!(map.get("c.test"), None);
    }
}

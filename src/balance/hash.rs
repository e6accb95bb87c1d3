//! Stable 64-bit hashes for ip_hash: the same on every node and every build,
//! so several stgw processes send a client to the same target.

use std::net::{IpAddr, SocketAddr};

/// FNV-1a over bytes, finished with [`mix`].
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// MurmurHash3's 64-bit finaliser: spreads every input bit over the output.
pub(super) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The hash of a client address: the full address, IPv4-mapped IPv6 taken
/// as IPv4.
pub(crate) fn client_hash(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => fnv(&v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => fnv(&v4.octets()),
            None => fnv(&v6.octets()),
        },
    }
}

/// The hash of a target address (IP and port).
pub(crate) fn target_hash(addr: SocketAddr) -> u64 {
    let mut bytes = [0u8; 18];
    let len = match addr.ip() {
        IpAddr::V4(v4) => {
            bytes[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            bytes[..16].copy_from_slice(&v6.octets());
            16
        }
    };
    bytes[len..len + 2].copy_from_slice(&addr.port().to_be_bytes());
    fnv(&bytes[..len + 2])
}

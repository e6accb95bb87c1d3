//! Cookie-insert stickiness: the cookie names a target without revealing
//! its address, cannot be forged without the secret, and stops holding
//! once `max_age` passed without a request, whatever the client does with
//! its `Max-Age`.
//!
//! A target's token is HMAC-SHA256(secret, its address), truncated to 128
//! bits. A cookie value is the token, the time it was issued and a tag
//! binding the two (HMAC again, 64 bits), all in hex: 56 characters. Every
//! node with the same secret computes the same tokens and tags, so any node
//! honours a cookie another one set. A value that matches no target of the
//! rule (unknown, tampered, removed) or is older than `max_age` is ignored
//! and a fresh one is issued; every answer issues a fresh one (sliding
//! expiry).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;

use crate::encoding::{from_hex, hex};

/// Hex digits of a target's token.
const TOKEN_LEN: usize = 32;
/// Hex digits of the issue time (Unix seconds).
const ISSUED_LEN: usize = 8;
/// Hex digits of the tag.
const TAG_LEN: usize = 16;
/// How far in the future an issue time may be (another node's clock).
const CLOCK_SKEW: u64 = 60;

/// The tokens of one rule's targets.
#[derive(Debug)]
pub struct StickyTable {
    secret: Box<[u8]>,
    tokens: Vec<String>,
    by_token: HashMap<String, usize>,
    max_age: Duration,
}

fn mac(secret: &[u8]) -> Option<Hmac<Sha256>> {
    // HMAC accepts keys of any length; keep a total function anyway.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()
}

/// The token of `addr` under `secret`.
pub(super) fn token(secret: &[u8], addr: SocketAddr) -> String {
    let Some(mut mac) = mac(secret) else {
        return String::new();
    };
    mac.update(b"stgw-sticky-v1:");
    mac.update(addr.to_string().as_bytes());
    let digest = mac.finalize().into_bytes();
    hex(&digest[..TOKEN_LEN / 2])
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl StickyTable {
    /// Tokens for `targets` (in rule order), valid for `max_age` after each
    /// response (sliding).
    pub fn new(secret: &[u8], targets: &[SocketAddr], max_age: Duration) -> StickyTable {
        let tokens: Vec<String> = targets.iter().map(|a| token(secret, *a)).collect();
        let by_token = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        StickyTable {
            secret: secret.into(),
            tokens,
            by_token,
            max_age,
        }
    }

    /// The tag binding `token` to `issued` (hex of the issue time).
    fn tag(&self, token: &str, issued: &str) -> String {
        let Some(mut mac) = mac(&self.secret) else {
            return String::new();
        };
        mac.update(b"stgw-sticky-v2:");
        mac.update(token.as_bytes());
        mac.update(issued.as_bytes());
        hex(&mac.finalize().into_bytes()[..TAG_LEN / 2])
    }

    /// The target a cookie value names, if it is authentic and was issued
    /// at most `max_age` before `now` (Unix seconds).
    pub fn lookup(&self, value: &str, now: u64) -> Option<usize> {
        if value.len() != TOKEN_LEN + ISSUED_LEN + TAG_LEN || !value.is_ascii() {
            return None;
        }
        let (token, rest) = value.split_at(TOKEN_LEN);
        let (issued_hex, tag) = rest.split_at(ISSUED_LEN);
        let index = *self.by_token.get(token)?;
        let issued = from_hex(issued_hex)?
            .into_iter()
            .fold(0u64, |n, b| n << 8 | u64::from(b));
        let fresh =
            issued <= now + CLOCK_SKEW && now.saturating_sub(issued) <= self.max_age.as_secs();
        let authentic = self.tag(token, issued_hex).as_bytes() == tag.as_bytes();
        (fresh && authentic).then_some(index)
    }

    /// The cookie value naming target `index`, issued at `now`.
    pub fn value(&self, index: usize, now: u64) -> Option<String> {
        let token = self.tokens.get(index)?;
        let issued = format!("{:08x}", now & 0xffff_ffff);
        let tag = self.tag(token, &issued);
        Some(format!("{token}{issued}{tag}"))
    }

    /// The cookie lifetime.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The `Set-Cookie` value for target `index`, issued at `now`.
    pub fn set_cookie(&self, name: &str, index: usize, secure: bool, now: u64) -> Option<String> {
        let value = self.value(index, now)?;
        let mut v = format!(
            "{name}={value}; Max-Age={}; Path=/; HttpOnly",
            self.max_age.as_secs()
        );
        if secure {
            v.push_str("; Secure");
        }
        Some(v)
    }
}

/// The values of cookie `name` in the request's `Cookie` headers, in
/// order (browsers send the most specific first). The headers are read as
/// bytes: another application's cookie with non-ASCII bytes does not hide
/// this one.
pub(crate) fn cookies<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .filter_map(move |pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            if key.trim_ascii() != name.as_bytes() {
                return None;
            }
            let value = std::str::from_utf8(value.trim_ascii()).ok()?;
            Some(value.trim_matches('"'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn addrs() -> Vec<SocketAddr> {
        vec![
            "10.0.0.1:80".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        ]
    }

    #[test]
    fn values_name_targets_without_revealing_them_and_depend_on_the_secret() {
        let t = StickyTable::new(b"secret-one-secret-one", &addrs(), Duration::from_secs(60));
        let value = t.value(1, NOW).unwrap();
        assert_eq!(value.len(), 56);
        assert!(!value.contains("10.0.0.2"));
        assert_eq!(t.lookup(&value, NOW), Some(1));
        let other = StickyTable::new(b"secret-two-secret-two", &addrs(), Duration::from_secs(60));
        assert_eq!(
            other.lookup(&value, NOW),
            None,
            "another secret does not honour it"
        );
        let same = StickyTable::new(b"secret-one-secret-one", &addrs(), Duration::from_secs(60));
        assert_eq!(
            same.lookup(&value, NOW),
            Some(1),
            "the same secret on another node does"
        );
    }

    #[test]
    fn a_value_holds_for_max_age_after_it_was_issued() {
        let t = StickyTable::new(b"k", &addrs(), Duration::from_secs(60));
        let value = t.value(0, NOW).unwrap();
        assert_eq!(t.lookup(&value, NOW + 60), Some(0));
        assert_eq!(t.lookup(&value, NOW + 61), None, "expired");
        assert_eq!(
            t.lookup(&value, NOW - 30),
            Some(0),
            "a node whose clock is behind"
        );
        assert_eq!(t.lookup(&value, NOW - 600), None, "issued in the future");
    }

    #[test]
    fn tampered_values_match_nothing() {
        let t = StickyTable::new(b"k", &addrs(), Duration::from_secs(60));
        let value = t.value(0, NOW).unwrap();
        for at in [0, 33, 50] {
            let mut bad = value.clone();
            let flipped = if bad.as_bytes()[at] == b'0' { "1" } else { "0" };
            bad.replace_range(at..=at, flipped);
            assert_eq!(t.lookup(&bad, NOW), None, "digit {at}");
        }
        // A later issue time with the old tag: the expiry cannot be stretched.
        let later = format!("{}{:08x}{}", &value[..32], NOW + 30, &value[40..]);
        assert_eq!(t.lookup(&later, NOW + 80), None);
        assert_eq!(t.lookup(&value[..32], NOW), None, "a bare token");
        assert_eq!(t.lookup("", NOW), None);
        assert_eq!(t.lookup(&"é".repeat(28), NOW), None);
    }

    #[test]
    fn set_cookie_has_the_documented_attributes() {
        let t = StickyTable::new(b"k", &addrs(), Duration::from_secs(300));
        let v = t.set_cookie("stgw_sticky", 0, true, NOW).unwrap();
        assert!(v.starts_with(&format!("stgw_sticky={}", t.value(0, NOW).unwrap())));
        assert!(v.ends_with("; Max-Age=300; Path=/; HttpOnly; Secure"));
        assert!(
            !t.set_cookie("stgw_sticky", 0, false, NOW)
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn the_cookie_is_found_among_others_whatever_their_bytes() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; stgw_sticky=abc ; b=2".parse().unwrap());
        let found: Vec<_> = cookies(&h, "stgw_sticky").collect();
        assert_eq!(found, ["abc"]);
        assert_eq!(cookies(&h, "stgw").count(), 0);
        let mut h = HeaderMap::new();
        let utf8 = http::HeaderValue::from_bytes(
            "name=café; stgw_sticky=x1; stgw_sticky=\"x2\"".as_bytes(),
        )
        .unwrap();
        h.append("cookie", utf8);
        h.append(
            "cookie",
            http::HeaderValue::from_bytes(b"z=\xff; stgw_sticky=x3").unwrap(),
        );
        let found: Vec<_> = cookies(&h, "stgw_sticky").collect();
        assert_eq!(found, ["x1", "x2", "x3"]);
    }
}

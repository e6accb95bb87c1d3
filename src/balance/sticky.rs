//! Cookie-insert stickiness: the cookie names a target without revealing
//! its address, and cannot be forged without the secret.
//!
//! A target's token is HMAC-SHA256(secret, its address), truncated to 128
//! bits and written in hex. Every node with the same secret computes the
//! same tokens, so any node honours a cookie another one set. A value that
//! matches no target of the rule (unknown, tampered, removed) is ignored and
//! a fresh one is issued.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;

/// The tokens of one rule's targets.
#[derive(Debug)]
pub struct StickyTable {
    tokens: Vec<String>,
    by_token: HashMap<String, usize>,
    max_age: Duration,
}

/// The token of `addr` under `secret`.
pub fn token(secret: &[u8], addr: SocketAddr) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC accepts keys of any length; keep a total function anyway.
        Err(_) => return String::new(),
    };
    mac.update(b"stgw-sticky-v1:");
    mac.update(addr.to_string().as_bytes());
    let digest = mac.finalize().into_bytes();
    crate::encoding::hex(&digest[..16])
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
            tokens,
            by_token,
            max_age,
        }
    }

    /// The target a cookie value names, if any.
    pub fn lookup(&self, value: &str) -> Option<usize> {
        self.by_token.get(value).copied()
    }

    /// The value that names target `index`.
    pub fn token(&self, index: usize) -> Option<&str> {
        self.tokens.get(index).map(String::as_str)
    }

    /// The cookie lifetime.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The `Set-Cookie` value for target `index`.
    pub fn set_cookie(&self, name: &str, index: usize, secure: bool) -> Option<String> {
        let token = self.token(index)?;
        let mut v = format!(
            "{name}={token}; Max-Age={}; Path=/; HttpOnly",
            self.max_age.as_secs()
        );
        if secure {
            v.push_str("; Secure");
        }
        Some(v)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers (the first
/// one, as browsers send the most specific first).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> Vec<SocketAddr> {
        vec![
            "10.0.0.1:80".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        ]
    }

    #[test]
    fn tokens_name_targets_without_revealing_them_and_depend_on_the_secret() {
        let t = StickyTable::new(b"secret-one-secret-one", &addrs(), Duration::from_secs(60));
        let tok = t.token(1).unwrap();
        assert_eq!(tok.len(), 32);
        assert!(!tok.contains("10.0.0.2"));
        assert_eq!(t.lookup(tok), Some(1));
        let other = StickyTable::new(b"secret-two-secret-two", &addrs(), Duration::from_secs(60));
        assert_eq!(other.lookup(tok), None, "another secret does not honour it");
        let same = StickyTable::new(b"secret-one-secret-one", &addrs(), Duration::from_secs(60));
        assert_eq!(
            same.lookup(tok),
            Some(1),
            "the same secret on another node does"
        );
    }

    #[test]
    fn tampered_values_match_nothing() {
        let t = StickyTable::new(b"k", &addrs(), Duration::from_secs(60));
        let mut tok = t.token(0).unwrap().to_owned();
        tok.replace_range(0..1, if tok.starts_with('0') { "1" } else { "0" });
        assert_eq!(t.lookup(&tok), None);
        assert_eq!(t.lookup(""), None);
    }

    #[test]
    fn set_cookie_has_the_documented_attributes() {
        let t = StickyTable::new(b"k", &addrs(), Duration::from_secs(300));
        let v = t.set_cookie("stgw_sticky", 0, true).unwrap();
        assert!(v.starts_with("stgw_sticky="));
        assert!(v.ends_with("; Max-Age=300; Path=/; HttpOnly; Secure"));
        assert!(
            !t.set_cookie("stgw_sticky", 0, false)
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; stgw_sticky=abc ; b=2".parse().unwrap());
        assert_eq!(cookie(&h, "stgw_sticky"), Some("abc"));
        assert_eq!(cookie(&h, "stgw"), None);
    }
}

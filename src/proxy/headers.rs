//! Header rewriting between client and target.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection and never cross a proxy
/// (RFC 9110 §7.6.1, plus the de-facto `Keep-Alive` and `Proxy-Connection`),
/// and `Upgrade`, which tunnels handle separately.
static HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// `X-Client-Proto`.
pub static X_CLIENT_PROTO: HeaderName = HeaderName::from_static("x-client-proto");
/// `X-Forwarded-Proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-For`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Real-IP`.
pub static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
/// `Stgw-request-id`.
pub static STGW_REQUEST_ID: HeaderName = HeaderName::from_static("stgw-request-id");

/// Removes hop-by-hop headers, those the `Connection` header names, and
/// `Upgrade` (tunnels are handled separately). Most messages have none:
/// one pass over the names finds that out without touching the map.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Bit i: HOP_BY_HOP[i] is present.
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(i) = hop_index(name) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return;
    }
    // Names listed in Connection besides its own tokens. Cloning the values
    // is a reference count; removing by `&str` allocates nothing.
    if headers.get_all(header::CONNECTION).iter().any(lists_fields) {
        let listed: Vec<HeaderValue> = headers
            .get_all(header::CONNECTION)
            .iter()
            .cloned()
            .collect();
        for value in &listed {
            for token in connection_tokens(value).filter(|t| !is_connection_option(t)) {
                headers.remove(token);
            }
        }
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// Where `name` is in [`HOP_BY_HOP`]. One match on the (lower-case) text:
/// its length rules out most names at once, where comparing with each
/// entry would cost nine comparisons per field.
fn hop_index(name: &HeaderName) -> Option<usize> {
    Some(match name.as_str() {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "proxy-authenticate" => 3,
        "proxy-authorization" => 4,
        "te" => 5,
        "trailer" => 6,
        "transfer-encoding" => 7,
        "upgrade" => 8,
        _ => return None,
    })
}

/// The comma-separated tokens of a `Connection` value (none if not text).
fn connection_tokens(value: &HeaderValue) -> impl Iterator<Item = &str> {
    let text = value.to_str().unwrap_or("");
    text.split(',').map(str::trim).filter(|t| !t.is_empty())
}

/// `close`, `keep-alive` and `upgrade`: options, or fields removed anyway.
fn is_connection_option(token: &str) -> bool {
    ["close", "keep-alive", "upgrade"]
        .iter()
        .any(|o| token.eq_ignore_ascii_case(o))
}

/// Whether a `Connection` value names fields to remove.
fn lists_fields(value: &HeaderValue) -> bool {
    connection_tokens(value).any(|t| !is_connection_option(t))
}

/// Joins HTTP/2's split `cookie` fields into one, as HTTP/1.1 requires.
pub fn join_cookies(headers: &mut HeaderMap) {
    let mut values = headers.get_all(header::COOKIE).iter();
    let (Some(first), Some(_)) = (values.next(), values.next()) else {
        return;
    };
    let mut joined = first.as_bytes().to_vec();
    for v in headers.get_all(header::COOKIE).iter().skip(1) {
        joined.extend_from_slice(b"; ");
        joined.extend_from_slice(v.as_bytes());
    }
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, v);
    }
}

/// What the target learns about the client.
pub struct ClientFacts<'a> {
    /// The address the connection came from (appended to X-Forwarded-For).
    pub ip: IpAddr,
    /// `ip`, rendered once per connection.
    pub ip_value: &'a HeaderValue,
    /// The client's address as believed (X-Real-IP): `ip`, or from a
    /// trusted proxy's X-Forwarded-For.
    pub real_ip: IpAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The request id.
    pub request_id: &'a HeaderValue,
    /// Append X-Forwarded-For and set X-Real-IP.
    pub client_ip: bool,
}

/// Adds stgw's forwarding headers. In the common case (no prior
/// X-Forwarded-For, the client is the connection's peer) this allocates
/// nothing: the values are shared.
pub fn add_forwarding(headers: &mut HeaderMap, facts: &ClientFacts<'_>) {
    // Grow the map at most once for the fields added below.
    headers.reserve(6);
    let scheme = HeaderValue::from_static(facts.scheme);
    headers.insert(X_CLIENT_PROTO.clone(), scheme.clone());
    headers.insert(X_FORWARDED_PROTO.clone(), scheme);
    headers.insert(STGW_REQUEST_ID.clone(), facts.request_id.clone());
    if !facts.client_ip {
        return;
    }
    let xff = if headers.contains_key(&X_FORWARDED_FOR) {
        // Several X-Forwarded-For lines are one list: fold them, then append.
        let mut chain = Vec::with_capacity(64);
        for prior in headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter(|v| !v.is_empty())
        {
            chain.extend_from_slice(prior.as_bytes());
            chain.extend_from_slice(b", ");
        }
        chain.extend_from_slice(facts.ip_value.as_bytes());
        HeaderValue::from_bytes(&chain).ok()
    } else {
        Some(facts.ip_value.clone())
    };
    if let Some(v) = xff {
        headers.insert(X_FORWARDED_FOR.clone(), v);
    }
    let real = if facts.real_ip == facts.ip {
        Some(facts.ip_value.clone())
    } else {
        HeaderValue::from_str(&facts.real_ip.to_string()).ok()
    };
    if let Some(v) = real {
        headers.insert(X_REAL_IP.clone(), v);
    }
}

/// `ip` as a header value, as `Display` writes it. IPv4 addresses (every
/// connection renders its client's once) skip the formatting machinery.
pub fn ip_header_value(ip: IpAddr) -> HeaderValue {
    let IpAddr::V4(v4) = ip else {
        return HeaderValue::try_from(ip.to_string()).unwrap_or(HeaderValue::from_static(""));
    };
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    HeaderValue::from_bytes(&text[..len]).unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_index_finds_each_hop_by_hop_name_and_nothing_else() {
        for (i, name) in HOP_BY_HOP.iter().enumerate() {
            assert_eq!(hop_index(name), Some(i), "{name}");
        }
        for name in [
            "host",
            "user-agent",
            "content-length",
            "x-te",
            "upgrade-insecure-requests",
        ] {
            assert_eq!(hop_index(&HeaderName::from_static(name)), None, "{name}");
        }
    }

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
        ]);
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn forwarding_headers_append_to_an_existing_chain() {
        let mut h = map(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        add_forwarding(
            &mut h,
            &ClientFacts {
                ip: "192.0.2.1".parse().unwrap(),
                ip_value: &HeaderValue::from_static("192.0.2.1"),
                real_ip: "192.0.2.1".parse().unwrap(),
                scheme: "https",
                request_id: &HeaderValue::from_static("abc"),
                client_ip: true,
            },
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, 198.51.100.1, 192.0.2.1");
        assert_eq!(h["x-real-ip"], "192.0.2.1");
        assert_eq!(h["x-client-proto"], "https");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["stgw-request-id"], "abc");
    }

    #[test]
    fn client_ip_off_leaves_the_chain_alone() {
        let mut h = map(&[("x-forwarded-for", "203.0.113.9")]);
        add_forwarding(
            &mut h,
            &ClientFacts {
                ip: "192.0.2.1".parse().unwrap(),
                ip_value: &HeaderValue::from_static("192.0.2.1"),
                real_ip: "192.0.2.1".parse().unwrap(),
                scheme: "http",
                request_id: &HeaderValue::from_static("abc"),
                client_ip: false,
            },
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.9");
        assert!(h.get("x-real-ip").is_none());
        assert_eq!(h["x-client-proto"], "http");
    }

    #[test]
    fn split_cookies_are_joined() {
        let mut h = map(&[("cookie", "a=1"), ("cookie", "b=2")]);
        join_cookies(&mut h);
        assert_eq!(h["cookie"], "a=1; b=2");
        assert_eq!(h.get_all("cookie").iter().count(), 1);
    }

    #[test]
    fn ip_header_values_read_as_display_writes_them() {
        let v4 = [0u8, 1, 9, 10, 42, 99, 100, 127, 199, 200, 255];
        for a in v4 {
            for b in v4 {
                let ip = IpAddr::from([a, b, 255 - b, a / 3]);
                assert_eq!(ip_header_value(ip).to_str().unwrap(), ip.to_string());
            }
        }
        for text in ["::1", "2001:db8::8:800:200c:417a", "::ffff:10.0.0.1"] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(ip_header_value(ip).to_str().unwrap(), ip.to_string());
        }
    }
}

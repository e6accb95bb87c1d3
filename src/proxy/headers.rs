//! Header rewriting between client and target.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// `X-Client-Proto`.
pub(crate) static X_CLIENT_PROTO: HeaderName = HeaderName::from_static("x-client-proto");
/// `X-Forwarded-Proto`.
pub(crate) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-For`.
pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Real-IP`.
pub(crate) static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
/// `Stgw-request-id`.
pub(crate) static STGW_REQUEST_ID: HeaderName = HeaderName::from_static("stgw-request-id");

/// Joins HTTP/2's split `cookie` fields into one, as HTTP/1.1 requires.
pub(crate) fn join_cookies(headers: &mut HeaderMap) {
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

/// Removes the client's fields that no target sees, besides the
/// connection-specific ones: `Expect` (stgw answers `100 Continue` itself
/// and sends the body whole, as nginx does) and fields whose name has an
/// underscore (nginx's `underscores_in_headers off`): CGI-style targets
/// (PHP, WSGI) read `X_Real_IP` as `X-Real-IP`, so a client could pass
/// for another address.
pub(crate) fn remove_client_only(headers: &mut HeaderMap) {
    let mut expect = false;
    let mut underscored: Vec<HeaderName> = Vec::new();
    for name in headers.keys() {
        if name == header::EXPECT {
            expect = true;
        } else if name.as_str().contains('_') {
            underscored.push(name.clone());
        }
    }
    if expect {
        headers.remove(header::EXPECT);
    }
    for name in &underscored {
        headers.remove(name);
    }
}

/// What the target learns about the client.
pub(crate) struct ClientFacts<'a> {
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

/// The fields stgw adds to a forwarded request: `X-Client-Proto`,
/// `X-Forwarded-Proto` and `Stgw-Request-Id`, and with `client_ip` on,
/// `X-Forwarded-For` (the client's chain plus its address) and `X-Real-IP`.
///
/// They are kept apart from the request's map: an HTTP/1.1 head is encoded
/// with them appended ([`fields`](Self::fields)), so the common request
/// neither hashes five names nor grows the map (HTTP/2's decoded maps are
/// full). [`insert_into`](Self::insert_into) puts them in the map where the
/// map itself is sent (HTTP/2 targets) or edited (`proxy_set_header`).
#[derive(Debug)]
pub(crate) struct Forwarding {
    scheme: HeaderValue,
    request_id: HeaderValue,
    forwarded_for: Option<HeaderValue>,
    real_ip: Option<HeaderValue>,
}

/// Bits of [`Forwarding::take`]'s one pass over the client's names.
const HAS_PROTO: u8 = 1;
const HAS_FORWARDED_FOR: u8 = 2;
const HAS_REAL_IP: u8 = 4;

impl Forwarding {
    /// The fields for this request. The client's own copies of them leave
    /// `headers` (its X-Forwarded-For chain is folded into the new one;
    /// with `client_ip` off its X-Forwarded-For and X-Real-IP stay as they
    /// are). In the common case (no such fields from the client, the
    /// client is the connection's peer) this allocates nothing: the values
    /// are shared.
    pub(crate) fn take(headers: &mut HeaderMap, facts: &ClientFacts<'_>) -> Forwarding {
        let mut present = 0u8;
        for name in headers.keys() {
            present |= match name.as_str() {
                "x-client-proto" | "x-forwarded-proto" | "stgw-request-id" => HAS_PROTO,
                "x-forwarded-for" => HAS_FORWARDED_FOR,
                "x-real-ip" => HAS_REAL_IP,
                _ => 0,
            };
        }
        if present & HAS_PROTO != 0 {
            for name in [&X_CLIENT_PROTO, &X_FORWARDED_PROTO, &STGW_REQUEST_ID] {
                headers.remove(name);
            }
        }
        let mut fields = Forwarding {
            scheme: HeaderValue::from_static(facts.scheme),
            request_id: facts.request_id.clone(),
            forwarded_for: None,
            real_ip: None,
        };
        if !facts.client_ip {
            return fields;
        }
        fields.forwarded_for = if present & HAS_FORWARDED_FOR != 0 {
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
            headers.remove(&X_FORWARDED_FOR);
            HeaderValue::from_bytes(&chain).ok()
        } else {
            Some(facts.ip_value.clone())
        };
        if present & HAS_REAL_IP != 0 {
            headers.remove(&X_REAL_IP);
        }
        fields.real_ip = if facts.real_ip == facts.ip {
            Some(facts.ip_value.clone())
        } else {
            HeaderValue::from_str(&facts.real_ip.to_string()).ok()
        };
        fields
    }

    /// The fields in the order they are sent.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        [
            (&X_CLIENT_PROTO, Some(&self.scheme)),
            (&X_FORWARDED_PROTO, Some(&self.scheme)),
            (&STGW_REQUEST_ID, Some(&self.request_id)),
            (&X_FORWARDED_FOR, self.forwarded_for.as_ref()),
            (&X_REAL_IP, self.real_ip.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    /// Puts the fields in `headers` (after [`take`](Self::take) removed
    /// the client's copies).
    pub(crate) fn insert_into(self, headers: &mut HeaderMap) {
        headers.reserve(5);
        for (name, value) in self.fields() {
            headers.append(name.clone(), value.clone());
        }
    }
}

/// `ip` as a header value, as `Display` writes it. IPv4 addresses (every
/// connection renders its client's once) skip the formatting machinery.
pub(crate) fn ip_header_value(ip: IpAddr) -> HeaderValue {
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
    fn expect_and_underscored_names_never_reach_a_target() {
        let mut h = map(&[
            ("expect", "100-continue"),
            ("x_real_ip", "6.6.6.6"),
            ("X_Forwarded_For", "6.6.6.6"),
            ("x-kept", "1"),
            ("x_real_ip", "7.7.7.7"),
        ]);
        remove_client_only(&mut h);
        let left: Vec<&str> = h.keys().map(|n| n.as_str()).collect();
        assert_eq!(left, ["x-kept"]);
    }

    /// The fields for a client at 192.0.2.1 believed to be `real_ip`, with
    /// request id `abc`.
    fn take(h: &mut HeaderMap, scheme: &'static str, real_ip: &str, client_ip: bool) -> Forwarding {
        let facts = ClientFacts {
            ip: "192.0.2.1".parse().unwrap(),
            ip_value: &HeaderValue::from_static("192.0.2.1"),
            real_ip: real_ip.parse().unwrap(),
            scheme,
            request_id: &HeaderValue::from_static("abc"),
            client_ip,
        };
        Forwarding::take(h, &facts)
    }

    #[test]
    fn forwarding_headers_append_to_an_existing_chain() {
        let mut h = map(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        take(&mut h, "https", "192.0.2.1", true).insert_into(&mut h);
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, 198.51.100.1, 192.0.2.1");
        assert_eq!(h["x-real-ip"], "192.0.2.1");
        assert_eq!(h["x-client-proto"], "https");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["stgw-request-id"], "abc");
    }

    #[test]
    fn client_ip_off_leaves_the_chain_alone() {
        let mut h = map(&[("x-forwarded-for", "203.0.113.9")]);
        take(&mut h, "http", "192.0.2.1", false).insert_into(&mut h);
        assert_eq!(h["x-forwarded-for"], "203.0.113.9");
        assert!(h.get("x-real-ip").is_none());
        assert_eq!(h["x-client-proto"], "http");
    }

    #[test]
    fn the_clients_own_copies_are_replaced_and_the_fields_kept_apart_until_inserted() {
        let mut h = map(&[
            ("x-client-proto", "gopher"),
            ("X-Forwarded-Proto", "gopher"),
            ("stgw-request-id", "forged"),
            ("x-real-ip", "10.9.9.9"),
            ("x-kept", "yes"),
        ]);
        let fields = take(&mut h, "https", "198.51.100.7", true);
        // Only the client's other fields are left in the map.
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h["x-kept"], "yes");
        let sent: Vec<(&str, &str)> = fields
            .fields()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            sent,
            [
                ("x-client-proto", "https"),
                ("x-forwarded-proto", "https"),
                ("stgw-request-id", "abc"),
                ("x-forwarded-for", "192.0.2.1"),
                ("x-real-ip", "198.51.100.7"),
            ]
        );
        fields.insert_into(&mut h);
        assert_eq!(h.len(), 6);
        assert_eq!(h.get_all("x-real-ip").iter().count(), 1);
        assert_eq!(h["x-real-ip"], "198.51.100.7");
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

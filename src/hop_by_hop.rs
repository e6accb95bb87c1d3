//! Connection-specific header fields (RFC 9110 §7.6.1): they describe one
//! connection and never cross a proxy, in either direction. The client's
//! request loses them in `proxy::forward`; an HTTP/1.1 target's answer
//! loses them while its head is parsed (`upstream::h1`).

use http::header::{self, HeaderMap, HeaderValue};

/// The fields removed from every forwarded message, in lower case:
/// RFC 9110's, the de-facto `Keep-Alive` and `Proxy-Connection`, and
/// `Upgrade`, which tunnels handle separately.
pub(crate) const NAMES: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where the field named `name` (in any case) is in [`NAMES`]. Its length
/// rules out most names at once and leaves at most two to compare, so
/// this is cheap enough to ask of every field of a head.
#[inline]
pub(crate) fn index(name: &[u8]) -> Option<usize> {
    let (first, second) = match name.len() {
        2 => (5, 5),
        7 => (6, 8),
        10 => (0, 1),
        16 => (2, 2),
        17 => (7, 7),
        18 => (3, 3),
        19 => (4, 4),
        _ => return None,
    };
    if name.eq_ignore_ascii_case(NAMES[first].as_bytes()) {
        Some(first)
    } else if name.eq_ignore_ascii_case(NAMES[second].as_bytes()) {
        Some(second)
    } else {
        None
    }
}

/// Removes the fields in [`NAMES`] and those a `Connection` field names.
/// Most messages have none: one pass over the names finds that out
/// without touching the map.
pub(crate) fn remove(headers: &mut HeaderMap) {
    // Bit i: NAMES[i] is present.
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(i) = index(name.as_str().as_bytes()) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return;
    }
    // Cloning the values is a reference count; removing by `&str`
    // allocates nothing (the names are lower case).
    if headers.get_all(header::CONNECTION).iter().any(lists_fields) {
        let listed: Vec<HeaderValue> = headers
            .get_all(header::CONNECTION)
            .iter()
            .cloned()
            .collect();
        remove_listed(headers, &listed);
    }
    for (i, name) in NAMES.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(*name);
        }
    }
}

/// Whether a `Connection` value names fields to remove (besides its own
/// options, `close`, `keep-alive` and `upgrade`, which are removed anyway).
fn lists_fields(value: &HeaderValue) -> bool {
    listed_fields(value).next().is_some()
}

/// Removes from `headers` the fields that the `Connection` values in
/// `connection` name.
pub(crate) fn remove_listed(headers: &mut HeaderMap, connection: &[HeaderValue]) {
    for value in connection {
        for name in listed_fields(value) {
            headers.remove(name);
        }
    }
}

/// The field names a `Connection` value lists: its comma-separated tokens
/// other than the options (none if the value is not text).
fn listed_fields(value: &HeaderValue) -> impl Iterator<Item = &str> {
    let text = value.to_str().unwrap_or("");
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !is_connection_option(t))
}

/// `close`, `keep-alive` and `upgrade`: options, or fields removed anyway.
fn is_connection_option(token: &str) -> bool {
    ["close", "keep-alive", "upgrade"]
        .iter()
        .any(|o| token.eq_ignore_ascii_case(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_finds_each_field_in_any_case_and_nothing_else() {
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(index(name.as_bytes()), Some(i), "{name}");
            let upper = name.to_ascii_uppercase();
            assert_eq!(index(upper.as_bytes()), Some(i), "{upper}");
        }
        for name in [
            "host",
            "user-agent",
            "content-length",
            "x-te",
            "tE-",
            "upgrade-insecure-requests",
            "connectionx",
            "keep-alivf",
        ] {
            assert_eq!(index(name.as_bytes()), None, "{name}");
        }
    }

    #[test]
    fn the_fields_and_those_connection_names_are_removed() {
        let mut h: HeaderMap = [
            ("connection", "keep-alive, X-Secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
        ]
        .into_iter()
        .map(|(k, v)| {
            (
                http::HeaderName::from_static(k),
                HeaderValue::from_static(v),
            )
        })
        .collect();
        remove(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn connection_options_name_no_fields() {
        assert!(!lists_fields(&HeaderValue::from_static(
            "Keep-Alive, close"
        )));
        assert!(!lists_fields(&HeaderValue::from_static(" , upgrade")));
        assert!(lists_fields(&HeaderValue::from_static("close, x-trace")));
    }
}

//! Redirect answers: nginx's add-slash 301, manual and automatic rewrites.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::body::ResponseBody;
use super::error::status_page;
use crate::config::{Protocol, RedirectConfig};

/// Where the request came in, for building absolute locations.
pub(super) struct Origin<'a> {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The request's host (normalised), if it had one.
    pub host: Option<&'a str>,
    /// The local address (used when there is no Host).
    pub local: std::net::SocketAddr,
    /// The raw path of the request.
    pub path: &'a str,
    /// The path normalised (decoded), as the rule matched it.
    pub normalized: &'a [u8],
    /// The raw query, without `?`.
    pub query: Option<&'a str>,
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

fn authority(scheme: &str, host: &str, port: u16) -> String {
    if port == default_port(scheme) {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

fn host_or_ip(origin: &Origin<'_>) -> String {
    match origin.host {
        Some(h) => h.to_owned(),
        None => match origin.local.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        },
    }
}

/// nginx's answer when a path names a directory rule without its slash:
/// 301 to the rule's URL plus the query (when not empty), on the same
/// scheme, host and port. The URL is a decoded path, as the rule matched
/// it, so it is percent-encoded as nginx encodes a location's name:
/// `%` and `?` in a rule's URL are text.
pub(super) fn add_slash(origin: &Origin<'_>, url: &str) -> Response<ResponseBody> {
    let mut location = format!(
        "{}://{}",
        origin.scheme,
        authority(origin.scheme, &host_or_ip(origin), origin.local.port())
    );
    location.push_str(&encode_path(url.as_bytes()));
    if let Some(q) = origin.query.filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(q);
    }
    to(StatusCode::MOVED_PERMANENTLY, &location)
}

/// A configured rewrite (manual or automatic): `Location` is the target
/// listener's scheme, the target domain (the request's host when the target
/// domain is not an exact name, or for automatic redirects), the target
/// port (omitted when it is the scheme's default) and the target URL. With
/// `take_url`, the rest of the request path after the source rule's prefix
/// and the query are carried (see [`rest_of_path`]).
pub(super) fn rewrite(origin: &Origin<'_>, r: &RedirectConfig) -> Response<ResponseBody> {
    let scheme = match r.scheme {
        Protocol::Http => "http",
        Protocol::Https => "https",
    };
    let host = r.host.clone().unwrap_or_else(|| host_or_ip(origin));
    let mut location = format!("{scheme}://{}", authority(scheme, &host, r.port));
    match (&r.path, r.take_url) {
        // Automatic: the request's own path.
        (None, true) => location.push_str(origin.path),
        (None, false) => location.push('/'),
        (Some(path), false) => location.push_str(path),
        (Some(path), true) => {
            location.push_str(path);
            let rest = rest_of_path(origin, r.strip_prefix.as_deref());
            if location.ends_with('/') && rest.starts_with('/') {
                location.push_str(&rest[1..]);
            } else {
                location.push_str(&rest);
            }
        }
    }
    if r.take_url
        && let Some(q) = origin.query
    {
        location.push('?');
        location.push_str(q);
    }
    let status = StatusCode::from_u16(r.code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    to(status, &location)
}

/// What `take_url` carries of the path. `prefix` is the source rule's URL
/// for a prefix rule, `""` for a regex rule (the whole path is carried) and
/// `None` for an exact rule (nothing is). The prefix loses a trailing `/`
/// first, so the rest keeps its separator: source `/` to target `/demo`
/// sends `/a/b` to `/demo/a/b`, source `/old/` to target `/new` sends
/// `/old/x` to `/new/x`. The rest is cut from the raw path when it starts
/// with the prefix; otherwise (the prefix matched only after normalisation,
/// e.g. `/o%6Cd/x`) from the normalised path, percent-encoded again.
pub(super) fn rest_of_path<'a>(origin: &Origin<'a>, prefix: Option<&str>) -> Cow<'a, str> {
    let Some(prefix) = prefix else {
        return Cow::Borrowed("");
    };
    let prefix = prefix.trim_end_matches('/');
    if let Some(rest) = origin.path.strip_prefix(prefix) {
        return Cow::Borrowed(rest);
    }
    let rest = origin
        .normalized
        .strip_prefix(prefix.as_bytes())
        .unwrap_or(origin.normalized);
    Cow::Owned(encode_path(rest))
}

/// Percent-encodes what may not appear literally in a URI path.
fn encode_path(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// stgw's redirect answer: `status`, `Location: location` and a short page.
pub(super) fn to(status: StatusCode, location: &str) -> Response<ResponseBody> {
    let body: Bytes = status_page(status);
    let mut resp = Response::new(ResponseBody::full(body.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin<'a>(path: &'a str, query: Option<&'a str>, port: u16) -> Origin<'a> {
        Origin {
            scheme: "http",
            host: Some("www.example.com"),
            local: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            path,
            normalized: path.as_bytes(),
            query,
        }
    }

    fn location(r: Response<ResponseBody>) -> (u16, String) {
        (
            r.status().as_u16(),
            r.headers()[header::LOCATION].to_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn add_slash_keeps_scheme_host_port_and_query() {
        let r = add_slash(&origin("/dir", Some("a=1"), 8080), "/dir/");
        assert_eq!(
            location(r),
            (301, "http://www.example.com:8080/dir/?a=1".into())
        );
        let r = add_slash(&origin("/dir", None, 80), "/dir/");
        assert_eq!(location(r), (301, "http://www.example.com/dir/".into()));
        let r = add_slash(&origin("/dir", Some(""), 80), "/dir/");
        assert_eq!(location(r), (301, "http://www.example.com/dir/".into()));
    }

    #[test]
    fn add_slash_encodes_the_rules_url_which_is_a_decoded_path() {
        // Rule `/%61/` matches the decoded path `/%61`, sent as `/%2561`.
        let r = add_slash(&origin("/%2561", None, 80), "/%61/");
        assert_eq!(location(r), (301, "http://www.example.com/%2561/".into()));
        let r = add_slash(&origin("/a%3Fb", Some("q"), 80), "/a?b/");
        assert_eq!(location(r), (301, "http://www.example.com/a%3Fb/?q".into()));
    }

    #[test]
    fn manual_rewrites_carry_the_rest_with_take_url() {
        let cfg = |take_url| RedirectConfig {
            code: 302,
            scheme: Protocol::Https,
            host: Some("www.new.com".into()),
            port: 8443,
            path: Some("/index".into()),
            take_url,
            strip_prefix: Some("/forsale".into()),
        };
        let r = rewrite(&origin("/forsale/item/1", Some("x=1"), 80), &cfg(true));
        assert_eq!(
            location(r),
            (302, "https://www.new.com:8443/index/item/1?x=1".into())
        );
        let r = rewrite(&origin("/forsale/item/1", Some("x=1"), 80), &cfg(false));
        assert_eq!(location(r), (302, "https://www.new.com:8443/index".into()));
    }

    #[test]
    fn automatic_rewrites_go_to_https_on_the_listener_port() {
        let cfg = RedirectConfig {
            code: 307,
            scheme: Protocol::Https,
            host: None,
            port: 443,
            path: None,
            take_url: true,
            strip_prefix: None,
        };
        let r = rewrite(&origin("/a/b", Some("q=1"), 80), &cfg);
        assert_eq!(location(r), (307, "https://www.example.com/a/b?q=1".into()));
    }

    fn manual(prefix: Option<&str>, target: &str) -> RedirectConfig {
        RedirectConfig {
            code: 301,
            scheme: Protocol::Http,
            host: Some("new.test".into()),
            port: 80,
            path: Some(target.into()),
            take_url: true,
            strip_prefix: prefix.map(Into::into),
        }
    }

    #[test]
    fn the_rest_keeps_its_separator_whatever_the_slashes() {
        let cases = [
            (Some("/"), "/demo", "/a/b", "http://new.test/demo/a/b"),
            (Some("/"), "/demo/", "/a/b", "http://new.test/demo/a/b"),
            (Some("/old/"), "/new", "/old/x", "http://new.test/new/x"),
            (Some("/old"), "/new/", "/old/x", "http://new.test/new/x"),
            (Some("/old"), "/new", "/old", "http://new.test/new"),
            (Some("/old"), "/new", "/oldies", "http://new.test/newies"),
            (None, "/new", "/old", "http://new.test/new"),
            (Some(""), "/img", "/a/b.jpg", "http://new.test/img/a/b.jpg"),
        ];
        for (prefix, target, path, want) in cases {
            let r = rewrite(&origin(path, None, 80), &manual(prefix, target));
            assert_eq!(location(r).1, want, "{prefix:?} {target} {path}");
        }
    }

    #[test]
    fn a_prefix_matched_after_normalisation_carries_the_reencoded_rest() {
        let o = Origin {
            normalized: b"/old/a b",
            ..origin("/o%6Cd/a%20b", Some("q=1"), 80)
        };
        let r = rewrite(&o, &manual(Some("/old"), "/new"));
        assert_eq!(location(r).1, "http://new.test/new/a%20b?q=1");
    }

    #[test]
    fn without_a_host_the_local_address_is_used() {
        let o = Origin {
            host: None,
            local: "[::1]:8080".parse().unwrap(),
            ..origin("/a", None, 8080)
        };
        let cfg = RedirectConfig {
            host: None,
            port: 8443,
            scheme: Protocol::Https,
            ..manual(Some("/"), "/b")
        };
        assert_eq!(location(rewrite(&o, &cfg)).1, "https://[::1]:8443/b/a");
    }
}

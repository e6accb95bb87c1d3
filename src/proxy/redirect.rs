//! Redirect answers: nginx's add-slash 301, manual and automatic rewrites.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::body::ResponseBody;
use super::error::status_page;
use crate::config::{Protocol, RedirectConfig};

/// Where the request came in, for building absolute locations.
pub struct Origin<'a> {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The request's host (normalised), if it had one.
    pub host: Option<&'a str>,
    /// The local address (used when there is no Host).
    pub local: std::net::SocketAddr,
    /// The raw path of the request.
    pub path: &'a str,
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
/// 301 to the rule's URL plus the query, on the same scheme, host and port.
pub fn add_slash(origin: &Origin<'_>, url: &str) -> Response<ResponseBody> {
    let mut location = format!(
        "{}://{}{url}",
        origin.scheme,
        authority(origin.scheme, &host_or_ip(origin), origin.local.port())
    );
    if let Some(q) = origin.query {
        location.push('?');
        location.push_str(q);
    }
    redirect(StatusCode::MOVED_PERMANENTLY, &location)
}

/// A configured rewrite (manual or automatic).
pub fn rewrite(origin: &Origin<'_>, r: &RedirectConfig) -> Response<ResponseBody> {
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
        (Some(path), take_url) => {
            location.push_str(path);
            if take_url {
                let rest = r
                    .strip_prefix
                    .as_deref()
                    .and_then(|p| origin.path.strip_prefix(p))
                    .unwrap_or("");
                if location.ends_with('/') && rest.starts_with('/') {
                    location.push_str(&rest[1..]);
                } else {
                    location.push_str(rest);
                }
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
    redirect(status, &location)
}

fn redirect(status: StatusCode, location: &str) -> Response<ResponseBody> {
    let body: Bytes = status_page(status);
    let mut resp = Response::new(ResponseBody::full(body.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static("stgw"));
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
}

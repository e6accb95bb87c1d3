//! Response header directives: `add_header`, `more_set_headers` (every
//! answer, stgw's own included) and `proxy_redirect` (targets' answers).

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};

use super::settings::{HttpSettings, ResponseValue};
use super::template::{Vars, header_value};

/// The statuses nginx's `add_header` acts on without `always`
/// (`ngx_http_headers_filter`).
const ADD_HEADER_STATUSES: [u16; 10] = [200, 201, 204, 206, 301, 302, 303, 304, 307, 308];

/// Applies `more_set_headers`, then `add_header`, in nginx's filter order
/// (the headers-more filter runs before the core headers filter): a
/// `more_set_headers` entry replaces every copy of its header, or removes
/// it; an `add_header` entry is appended when the status is one of nginx's
/// list or the entry says `always`.
///
/// Values with variables are expanded with `vars` (`None` only when no
/// value has one: [`HttpSettings::response_vars`]; a template is then
/// taken as empty). As in nginx, an `add_header` value that expands to
/// nothing adds nothing, and as in headers-more, a `more_set_headers` one
/// removes the header; a value that expands to bytes a header cannot carry
/// (a decoded `$uri` with a control character) counts as empty.
pub(crate) fn apply(
    headers: &mut HeaderMap,
    status: StatusCode,
    settings: &HttpSettings,
    vars: Option<&Vars<'_>>,
) {
    let mut buf = Vec::new();
    for (name, value) in &settings.set_headers {
        match value.as_ref().and_then(|v| resolve(v, vars, &mut buf)) {
            Some(v) => {
                headers.insert(name.clone(), v);
            }
            None => {
                headers.remove(name);
            }
        }
    }
    if settings.add_headers.is_empty() {
        return;
    }
    let listed = ADD_HEADER_STATUSES.contains(&status.as_u16());
    for h in &settings.add_headers {
        if (listed || h.always)
            && let Some(v) = resolve(&h.value, vars, &mut buf)
        {
            headers.append(h.name.clone(), v);
        }
    }
}

/// The header value `value` gives; `None` when it expands to nothing or
/// to bytes a header cannot carry. `buf` is scratch space.
fn resolve(
    value: &ResponseValue,
    vars: Option<&Vars<'_>>,
    buf: &mut Vec<u8>,
) -> Option<HeaderValue> {
    match value {
        ResponseValue::Fixed(v) => Some(v.clone()),
        ResponseValue::Template(parts) => header_value(buf, parts, vars?),
    }
}

/// `proxy_redirect http:// https://`: a `Location` starting with `http://`,
/// and the URL after `url=` in a `Refresh`, are rewritten to `https://`
/// (nginx rewrites both headers whatever the status; 3xx answers are where
/// they matter).
pub(crate) fn rewrite_redirects(headers: &mut HeaderMap) {
    if let Some(v) = headers.get(header::LOCATION)
        && let Some(new) = to_https(v.as_bytes(), 0)
    {
        headers.insert(header::LOCATION, new);
    }
    let refresh = header::HeaderName::from_static("refresh");
    if let Some(v) = headers.get(&refresh) {
        let bytes = v.as_bytes();
        if let Some(at) = find_ignore_case(bytes, b"url=")
            && let Some(new) = to_https(bytes, at + 4)
        {
            headers.insert(refresh, new);
        }
    }
}

/// `value` with `http://` at `at` replaced by `https://`, if it is there.
fn to_https(value: &[u8], at: usize) -> Option<HeaderValue> {
    let rest = value.get(at..)?;
    if rest.len() < 7 || !rest[..7].eq_ignore_ascii_case(b"http://") {
        return None;
    }
    let mut out = Vec::with_capacity(value.len() + 1);
    out.extend_from_slice(&value[..at]);
    out.extend_from_slice(b"https://");
    out.extend_from_slice(&rest[7..]);
    HeaderValue::from_bytes(&out).ok()
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> HttpSettings {
        HttpSettings::compile(&crate::config::custom::parse(text).unwrap().config)
    }

    #[test]
    fn add_header_acts_on_nginx_statuses_only_unless_always() {
        let s = settings("add_header X-A a; add_header X-B b always;");
        for code in [200, 201, 204, 206, 301, 302, 303, 304, 307, 308] {
            let mut h = HeaderMap::new();
            apply(&mut h, StatusCode::from_u16(code).unwrap(), &s, None);
            assert_eq!(h["x-a"], "a", "{code}");
            assert_eq!(h["x-b"], "b", "{code}");
        }
        for code in [202, 300, 400, 404, 500, 502] {
            let mut h = HeaderMap::new();
            apply(&mut h, StatusCode::from_u16(code).unwrap(), &s, None);
            assert!(h.get("x-a").is_none(), "{code}");
            assert_eq!(h["x-b"], "b", "{code}");
        }
    }

    #[test]
    fn add_header_appends_and_more_set_headers_replaces_or_removes() {
        let s = settings(
            "add_header X-A two; more_set_headers \"Server: edge\" \"X-Powered-By:\" \"X-A: one\";",
        );
        let mut h = HeaderMap::new();
        h.insert("server", HeaderValue::from_static("stgw"));
        h.append("x-powered-by", HeaderValue::from_static("php"));
        h.append("x-powered-by", HeaderValue::from_static("asp"));
        h.insert("x-a", HeaderValue::from_static("zero"));
        apply(&mut h, StatusCode::NOT_FOUND, &s, None);
        assert_eq!(h["server"], "edge");
        assert!(h.get("x-powered-by").is_none());
        let a: Vec<_> = h.get_all("x-a").iter().collect();
        assert_eq!(a, ["one"], "404: add_header does not act");
        apply(&mut h, StatusCode::OK, &s, None);
        let a: Vec<_> = h.get_all("x-a").iter().collect();
        assert_eq!(a, ["one", "two"]);
    }

    fn vars<'a>(headers: &'a HeaderMap, uri: &'a [u8], status: u16) -> Vars<'a> {
        Vars {
            peer: "192.0.2.7:40000".parse().unwrap(),
            local: "10.0.0.1:8080".parse().unwrap(),
            vport: 80,
            lb_id: "lb-abcdefgh",
            request_id: "00ff",
            method: "GET",
            host: "www.example.com",
            server_name: "example.com",
            scheme: "http",
            uri,
            request_uri: "/p?q=1",
            headers,
            status: Some(StatusCode::from_u16(status).unwrap()),
        }
    }

    #[test]
    fn response_values_expand_variables_and_the_status() {
        let s = settings(
            "add_header X-Client \"$remote_addr:$remote_port\"; \
             add_header Access-Control-Allow-Origin $http_origin always; \
             more_set_headers \"X-Status: $status\" \"X-Where: $scheme://$host$request_uri ($server_name, $args)\";",
        );
        let mut request = HeaderMap::new();
        request.insert("origin", HeaderValue::from_static("https://app.test"));
        let mut h = HeaderMap::new();
        apply(
            &mut h,
            StatusCode::NOT_FOUND,
            &s,
            Some(&vars(&request, b"", 404)),
        );
        assert!(h.get("x-client").is_none(), "404 without always");
        assert_eq!(h["access-control-allow-origin"], "https://app.test");
        assert_eq!(h["x-status"], "404");
        assert_eq!(
            h["x-where"],
            "http://www.example.com/p?q=1 (example.com, q=1)"
        );
        let mut h = HeaderMap::new();
        apply(&mut h, StatusCode::OK, &s, Some(&vars(&request, b"", 200)));
        assert_eq!(h["x-client"], "192.0.2.7:40000");
        assert_eq!(h["x-status"], "200");
    }

    #[test]
    fn empty_expansions_add_nothing_and_more_set_headers_removes() {
        let s = settings(
            "add_header X-Origin $http_origin always; add_header X-Uri $uri always; \
             more_set_headers \"X-Powered-By: $http_x_none\" \"X-Bad: $uri\";",
        );
        let none = HeaderMap::new();
        let mut h = HeaderMap::new();
        h.insert("x-powered-by", HeaderValue::from_static("php"));
        h.insert("x-bad", HeaderValue::from_static("target"));
        apply(
            &mut h,
            StatusCode::OK,
            &s,
            Some(&vars(&none, b"/a\nb", 200)),
        );
        assert!(h.get("x-origin").is_none(), "empty: not added");
        assert!(h.get("x-powered-by").is_none(), "empty: removed");
        assert!(h.get("x-uri").is_none(), "control character: dropped");
        assert!(h.get("x-bad").is_none(), "control character: removed");
        assert!(h.is_empty());
    }

    #[test]
    fn proxy_redirect_rewrites_location_and_refresh() {
        let mut h = HeaderMap::new();
        h.insert(
            "location",
            HeaderValue::from_static("http://a.test:8080/x?y"),
        );
        h.insert(
            "refresh",
            HeaderValue::from_static("5; URL=http://a.test/r"),
        );
        rewrite_redirects(&mut h);
        assert_eq!(h["location"], "https://a.test:8080/x?y");
        assert_eq!(h["refresh"], "5; URL=https://a.test/r");
        let mut h = HeaderMap::new();
        h.insert("location", HeaderValue::from_static("/relative"));
        h.insert("refresh", HeaderValue::from_static("5"));
        rewrite_redirects(&mut h);
        assert_eq!(h["location"], "/relative");
        assert_eq!(h["refresh"], "5");
        let mut h = HeaderMap::new();
        h.insert("location", HeaderValue::from_static("https://already/"));
        rewrite_redirects(&mut h);
        assert_eq!(h["location"], "https://already/");
    }
}

//! `proxy_set_header`: request headers for targets, with the product's
//! variables expanded per request.

use http::header::HeaderMap;

use super::settings::ProxyHeader;
use super::template::{Vars, header_value};

/// Applies the entries in order, as nginx does: each one replaces the
/// header of its name (the client's copy included); an entry whose value is
/// empty, or expands to nothing, removes it. A value that expands to bytes
/// a header cannot carry (a decoded `$uri` with a control character) also
/// removes it.
pub(super) fn apply(headers: &mut HeaderMap, entries: &[ProxyHeader], vars: &Vars<'_>) {
    let mut buf = Vec::new();
    for entry in entries {
        match header_value(&mut buf, &entry.value, vars) {
            Some(value) => {
                headers.insert(entry.name.clone(), value);
            }
            None => {
                headers.remove(&entry.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::settings::HttpSettings;
    use http::HeaderValue;

    static NO_HEADERS: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(HeaderMap::new);

    fn vars() -> Vars<'static> {
        Vars {
            peer: "[2001:db8::7]:40000".parse().unwrap(),
            local: "10.0.0.1:8443".parse().unwrap(),
            vport: 443,
            lb_id: "lb-abcdefgh",
            request_id: "00ff",
            method: "POST",
            host: "www.example.com",
            scheme: "https",
            uri: b"/a b",
            request_uri: "/a%20b?x=1",
            server_name: "example.com",
            headers: &NO_HEADERS,
            status: None,
        }
    }

    #[test]
    fn every_variable_expands() {
        let text = "proxy_set_header X-All \"$remote_addr|$remote_port|$server_addr|$server_port|$vport|$lbid|$stgw_request_id|$request_method|$host|$scheme|$uri|$request_uri|$args|$query_string|$server_name\";";
        let s = HttpSettings::compile(&crate::config::custom::parse(text).unwrap().config);
        let mut h = HeaderMap::new();
        apply(&mut h, &s.proxy_set_headers, &vars());
        assert_eq!(
            h["x-all"],
            "2001:db8::7|40000|10.0.0.1|8443|443|lb-abcdefgh|00ff|POST|www.example.com|https|/a b|/a%20b?x=1|x=1|x=1|example.com"
        );
    }

    #[test]
    fn an_entry_replaces_the_clients_header_and_an_empty_one_removes_it() {
        let text = "proxy_set_header X-Real-Port $remote_port; proxy_set_header User-Agent \"\";";
        let s = HttpSettings::compile(&crate::config::custom::parse(text).unwrap().config);
        let mut h = HeaderMap::new();
        h.insert("x-real-port", HeaderValue::from_static("1"));
        h.append("x-real-port", HeaderValue::from_static("2"));
        h.insert("user-agent", HeaderValue::from_static("curl"));
        apply(&mut h, &s.proxy_set_headers, &vars());
        let ports: Vec<_> = h.get_all("x-real-port").iter().collect();
        assert_eq!(ports, ["40000"]);
        assert!(h.get("user-agent").is_none());
    }

    #[test]
    fn request_headers_expand_joined_as_nginx_joins_them() {
        let text = "proxy_set_header X-O \"[$http_x_multi]\"; proxy_set_header X-C $http_cookie; proxy_set_header X-N \"[$http_none]\";";
        let s = HttpSettings::compile(&crate::config::custom::parse(text).unwrap().config);
        let mut client = HeaderMap::new();
        client.append("x-multi", HeaderValue::from_static("a"));
        client.append("x-multi", HeaderValue::from_static("b"));
        client.append("cookie", HeaderValue::from_static("c=1"));
        client.append("cookie", HeaderValue::from_static("d=2"));
        let headers = crate::proxy::template::copy_headers(&client, &s.proxy_header_names);
        let mut out = HeaderMap::new();
        apply(
            &mut out,
            &s.proxy_set_headers,
            &Vars {
                headers: &headers,
                ..vars()
            },
        );
        assert_eq!(out["x-o"], "[a, b]");
        assert_eq!(out["x-c"], "c=1; d=2");
        assert_eq!(out["x-n"], "[]");
    }
}

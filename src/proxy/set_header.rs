//! `proxy_set_header`: request headers for targets, with the product's
//! variables expanded per request.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use http::header::{HeaderMap, HeaderValue};

use super::settings::{Part, ProxyHeader};
use crate::config::custom::Variable;

/// What the variables of one request expand to.
#[derive(Debug)]
pub struct Vars<'a> {
    /// `$remote_addr`, `$remote_port`.
    pub peer: SocketAddr,
    /// `$server_addr`, `$server_port`.
    pub local: SocketAddr,
    /// `$vport`: the listener's port.
    pub vport: u16,
    /// `$lbid`.
    pub lb_id: &'a str,
    /// `$stgw_request_id`.
    pub request_id: &'a str,
    /// `$request_method`.
    pub method: &'a str,
    /// `$host`: the request's host (normalised), else the domain name.
    pub host: &'a str,
    /// `$scheme`.
    pub scheme: &'a str,
    /// `$uri`: the normalised path (empty unless some value uses it).
    pub uri: &'a [u8],
    /// `$request_uri`: the original path and query.
    pub request_uri: &'a str,
}

/// Applies the entries in order, as nginx does: each one replaces the
/// header of its name (the client's copy included); an entry whose value is
/// empty, or expands to nothing, removes it. A value that expands to bytes
/// a header cannot carry (a decoded `$uri` with a control character) also
/// removes it.
pub fn apply(headers: &mut HeaderMap, entries: &[ProxyHeader], vars: &Vars<'_>) {
    let mut buf = Vec::new();
    for entry in entries {
        buf.clear();
        for part in &entry.value {
            match part {
                Part::Literal(text) => buf.extend_from_slice(text),
                Part::Var(v) => expand(&mut buf, *v, vars),
            }
        }
        match HeaderValue::from_bytes(&buf) {
            Ok(value) if !buf.is_empty() => {
                headers.insert(entry.name.clone(), value);
            }
            _ => {
                headers.remove(&entry.name);
            }
        }
    }
}

fn expand(buf: &mut Vec<u8>, v: Variable, vars: &Vars<'_>) {
    // Writing to a Vec cannot fail.
    let _ = match v {
        Variable::RemotePort => write!(buf, "{}", vars.peer.port()),
        Variable::RemoteAddr => write_ip(buf, vars.peer.ip()),
        Variable::ServerAddr => write_ip(buf, vars.local.ip()),
        Variable::ServerPort => write!(buf, "{}", vars.local.port()),
        Variable::Vport => write!(buf, "{}", vars.vport),
        Variable::StgwRequestId => buf.write_all(vars.request_id.as_bytes()),
        Variable::RequestMethod => buf.write_all(vars.method.as_bytes()),
        Variable::Uri => buf.write_all(vars.uri),
        Variable::Lbid => buf.write_all(vars.lb_id.as_bytes()),
        Variable::Host => buf.write_all(vars.host.as_bytes()),
        Variable::Scheme => buf.write_all(vars.scheme.as_bytes()),
        Variable::RequestUri => buf.write_all(vars.request_uri.as_bytes()),
    };
}

/// nginx writes addresses without brackets (`::1`, not `[::1]`).
fn write_ip(buf: &mut Vec<u8>, ip: IpAddr) -> std::io::Result<()> {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => write!(buf, "{v4}"),
            None => write!(buf, "{v6}"),
        },
        IpAddr::V4(v4) => write!(buf, "{v4}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::settings::HttpSettings;

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
        }
    }

    #[test]
    fn every_variable_expands() {
        let text = "proxy_set_header X-All \"$remote_addr|$remote_port|$server_addr|$server_port|$vport|$lbid|$stgw_request_id|$request_method|$host|$scheme|$uri|$request_uri\";";
        let s = HttpSettings::compile(&crate::config::custom::parse(text).unwrap().config);
        let mut h = HeaderMap::new();
        apply(&mut h, &s.proxy_set_headers, &vars());
        assert_eq!(
            h["x-all"],
            "2001:db8::7|40000|10.0.0.1|8443|443|lb-abcdefgh|00ff|POST|www.example.com|https|/a b|/a%20b?x=1"
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
}

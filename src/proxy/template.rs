//! Header value templates: the variables of `proxy_set_header`,
//! `add_header` and `more_set_headers`, expanded per request.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};

use super::settings::{HttpSettings, Part};
use crate::config::custom::Variable;
use crate::listener::conn::ClientConn;
use crate::routing::{HostName, normalize_path};
use crate::runtime::snapshot::ListenerRuntime;

/// What the variables of one request expand to.
#[derive(Debug)]
pub(crate) struct Vars<'a> {
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
    /// `$server_name`: the domain's name (empty when no domain took the
    /// request).
    pub server_name: &'a str,
    /// `$scheme`.
    pub scheme: &'a str,
    /// `$uri`: the normalised path (empty unless some value uses it).
    pub uri: &'a [u8],
    /// `$request_uri`: the original path and query; `$args` and
    /// `$query_string` are what follows its `?`.
    pub request_uri: &'a str,
    /// The request headers `$http_NAME` reads (those the templates name,
    /// as the client sent them).
    pub headers: &'a HeaderMap,
    /// `$status` (`None` for a request header, which cannot use it).
    pub status: Option<StatusCode>,
}

/// The header value `parts` expand to; `None` when they expand to nothing
/// or to bytes a header cannot carry (a decoded `$uri` with a control
/// character). `buf` is scratch space.
pub(super) fn header_value(
    buf: &mut Vec<u8>,
    parts: &[Part],
    vars: &Vars<'_>,
) -> Option<HeaderValue> {
    buf.clear();
    render(buf, parts, vars);
    if buf.is_empty() {
        return None;
    }
    HeaderValue::from_bytes(buf).ok()
}

/// Appends the expansion of `parts` to `buf`.
fn render(buf: &mut Vec<u8>, parts: &[Part], vars: &Vars<'_>) {
    for part in parts {
        match part {
            Part::Literal(text) => buf.extend_from_slice(text),
            Part::Var(v) => expand(buf, *v, vars),
            Part::Header(name) => write_header(buf, vars.headers, name),
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
        Variable::Args | Variable::QueryString => buf.write_all(query(vars.request_uri)),
        Variable::ServerName => buf.write_all(vars.server_name.as_bytes()),
        Variable::Status => match vars.status {
            Some(status) => buf.write_all(status.as_str().as_bytes()),
            None => Ok(()),
        },
    };
}

/// The query of a request target: what follows its first `?`.
fn query(request_uri: &str) -> &[u8] {
    request_uri
        .split_once('?')
        .map_or(b"", |(_, query)| query.as_bytes())
}

/// `$http_NAME`: every copy of the header in order, joined with `", "`
/// (`"; "` for `Cookie`), as nginx (1.23+) joins them; nothing when absent.
fn write_header(buf: &mut Vec<u8>, headers: &HeaderMap, name: &HeaderName) {
    let separator: &[u8] = if name == header::COOKIE { b"; " } else { b", " };
    for (i, value) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(separator);
        }
        buf.extend_from_slice(value.as_bytes());
    }
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

/// A copy of the request headers named in `names` (every copy of each),
/// for `$http_NAME`.
pub(super) fn copy_headers(headers: &HeaderMap, names: &[HeaderName]) -> HeaderMap {
    let mut copy = HeaderMap::new();
    for name in names {
        for value in headers.get_all(name) {
            copy.append(name.clone(), value.clone());
        }
    }
    copy
}

/// The facts of a request that response templates read, copied from its
/// head before it is dispatched (which consumes or rewrites it). Made only
/// when some `add_header` / `more_set_headers` value has a variable
/// ([`HttpSettings::response_vars`]).
#[derive(Debug)]
pub(super) struct RequestFacts {
    method: Method,
    host: Option<HostName>,
    uri: Vec<u8>,
    request_uri: String,
    headers: HeaderMap,
}

impl RequestFacts {
    /// Copies what the response templates of `settings` read from `req`:
    /// the normalised path only when one uses `$uri`, and only the headers
    /// they name.
    pub(super) fn of(req: &Parts, settings: &HttpSettings) -> RequestFacts {
        let uri = if settings.response_needs_uri {
            normalize_path(req.uri.path().as_bytes())
                .map(|p| p.into_owned())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        RequestFacts {
            method: req.method.clone(),
            host: super::request_host(req).ok().flatten(),
            uri,
            request_uri: req
                .uri
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned(),
            headers: copy_headers(&req.headers, &settings.response_header_names),
        }
    }

    /// The variables of the answer with `status` to this request, which
    /// came on `conn` to `listener` and got `request_id`; `$host` falls
    /// back to `server_name` (the domain that took the request, if one
    /// did).
    pub(super) fn vars<'a>(
        &'a self,
        conn: &'a ClientConn,
        listener: &'a ListenerRuntime,
        request_id: &'a HeaderValue,
        server_name: Option<&'a str>,
        status: StatusCode,
    ) -> Vars<'a> {
        let server_name = server_name.unwrap_or("");
        Vars {
            peer: conn.peer,
            local: conn.local,
            vport: listener.addr.port(),
            lb_id: &listener.lb_id,
            request_id: request_id.to_str().unwrap_or(""),
            method: self.method.as_str(),
            host: self.host.as_ref().map_or(server_name, HostName::as_str),
            server_name,
            scheme: conn.scheme,
            uri: &self.uri,
            request_uri: &self.request_uri,
            headers: &self.headers,
            status: Some(status),
        }
    }
}

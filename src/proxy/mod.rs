//! The request pipeline: from a parsed request to the response the client
//! gets.
//!
//! 1. The request is checked (Host, path, header sizes) and normalised.
//! 2. The route table picks the domain and the rule (or answers 404 or
//!    nginx's add-slash 301).
//! 3. A redirect rule answers with its redirect; a forward rule reads the
//!    body (buffered by default), rewrites the headers, picks a target and
//!    sends the request there ([`forward`]), retrying per DECISIONS.md.
//! 4. The target's response streams back; stgw's own answers are short
//!    pages with the status.

pub(crate) mod body;
pub(crate) mod error;
mod error_page;
mod forward;
pub(crate) mod gzip;
pub(crate) mod headers;
pub(crate) mod limit;
mod redirect;
mod request_id;
pub(crate) mod response_headers;
mod set_header;
pub(crate) mod settings;
mod template;
mod websocket;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode, Version, header};

pub(crate) use body::ResponseBody;
pub(crate) use error::ProxyError;
pub(crate) use settings::HttpSettings;

use crate::config::RuleAction;
use crate::listener::conn::ClientConn;
use crate::observe::{RequestTrace, RouteTrace, Source};
use crate::routing::{HostName, LocationMatch, Routed, normalize_path};
use crate::runtime::snapshot::ListenerRuntime;
use crate::upstream::IncomingBody;

/// Longest request line accepted (nginx: one 8 KiB large header buffer).
const MAX_URI: usize = 8 * 1024;
/// Longest single header line accepted.
const MAX_HEADER_LINE: usize = 8 * 1024;

/// A client request's body.
#[derive(Debug)]
pub(crate) enum ClientBody {
    /// Still arriving from the client (hyper's requests): read whole or
    /// streamed, as the rule says.
    Incoming(IncomingBody),
    /// Read whole with its head (stgw's own HTTP/1.1 server takes bodies
    /// that fit in its read buffer); possibly empty.
    Complete(bytes::Bytes),
}

impl ClientBody {
    /// Whether bytes of it may still be on their way from the client.
    fn follows(&self) -> bool {
        match self {
            ClientBody::Incoming(body) => !http_body::Body::is_end_stream(body),
            ClientBody::Complete(_) => false,
        }
    }
}

/// Handles one request from a client connection. Never fails: every error
/// becomes an answer (replaced per `error_page` when one is configured),
/// and every answer gets `Server: stgw`, then the `more_set_headers` /
/// `add_header` directives.
/// The `Result` is the shape hyper's service wants; it is always `Ok`.
///
/// The request is followed by a [`RequestTrace`] that counts it in the
/// metrics and writes its access-log record once its answer has been sent.
///
/// The request head is kept in one place, the returned future, which
/// lends it to the pipeline: the HTTP server keeps that future in place
/// while it runs (stgw's own HTTP/1.1 server pins it where it is made,
/// hyper keeps it in a slot per connection), and every copy of the head in
/// it would be moved with it (an `async fn` would hold its argument
/// twice).
///
/// `body` is `None` for a request that has no body (stgw's own HTTP/1.1
/// server's requests without `Content-Length`); hyper's requests bring
/// theirs, even when empty.
#[allow(clippy::manual_async_fn)] // an `async fn` would hold `parts` twice
pub(crate) fn handle(
    conn: Arc<ClientConn>,
    mut parts: Parts,
    body: Option<ClientBody>,
) -> impl Future<Output = Result<Response<ResponseBody>, Infallible>> + Send + 'static {
    async move {
        let started = conn.state.head_started();
        let (number, guard) = conn.state.start_request();
        let body_follows = body.as_ref().is_some_and(ClientBody::follows);
        conn.state.body_pending(body_follows);
        let listener = conn.slot.runtime.load_full();
        // Boxed: large, and a freshly freed block is warmer than the
        // connection's own future.
        let mut trace = Box::new(RequestTrace::start(
            &conn,
            listener.clone(),
            &parts,
            number,
            started,
            request_id::next(),
        ));
        let origin = (!listener.custom.error_pages.is_empty())
            .then(|| Box::new(error_page::Origin::of(&parts)));
        // Boxed: only when some response header value has a variable.
        let facts = listener
            .http
            .response_vars
            .then(|| Box::new(template::RequestFacts::of(&parts, &listener.http)));
        let h1 = !conn.state.is_h2();
        let http10 = parts.version == Version::HTTP_10;
        let has_body = h1 && body_follows;
        // Only hyper's HTTP/1.1 requests can carry Transfer-Encoding (stgw's
        // own server hands such heads to hyper; HTTP/2 forbids the field).
        let coding = match &body {
            Some(ClientBody::Incoming(_)) if h1 => transfer_coding_error(&parts.headers),
            _ => None,
        };
        let coding = method_error(&parts.method).or(coding);
        let served = if let Some(e) = coding {
            Err(e)
        } else if listener.custom.proxy_ignore_client_abort {
            let id = trace.request_id.clone();
            let (served, route) = detached(conn.clone(), listener.clone(), parts, body, id).await;
            trace.route = route;
            served
        } else {
            dispatch(
                &conn,
                &listener,
                &mut parts,
                Payload::Client(body),
                &trace.request_id,
                &mut trace.route,
            )
            .await
        };
        let request_id = &trace.request_id;
        let mut source = Source::Proxy;
        let mut resp = match served {
            Ok(mut resp) => {
                if !resp.body().is_own() {
                    source = Source::Target;
                } else if has_body {
                    // A redirect answered without reading the body.
                    early_close(&conn, &mut resp);
                }
                resp
            }
            Err(e) => {
                tracing::debug!(error = %e, peer = %conn.peer, "answering the request ourselves");
                let close = h1
                    && (e.closes_connection()
                        || (has_body && body_unread(&e, listener.custom.proxy_request_buffering)));
                if close {
                    conn.state.set_linger();
                }
                let status = e.status();
                let page = listener.custom.error_page_for(status.as_u16());
                let mut resp = match (page, origin) {
                    (Some(page), Some(origin)) => {
                        // Boxed: rare, and as large as a whole request.
                        let answer =
                            error_page::answer(&conn, &listener, page, status, *origin, request_id);
                        Box::pin(answer).await
                    }
                    _ => error::generated(status, close),
                };
                if close {
                    resp.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                resp
            }
        };
        let status = resp.status();
        // Every answer is stgw's (a target's own Server was left out):
        // `more_set_headers` may then change it.
        resp.headers_mut()
            .insert(header::SERVER, HeaderValue::from_static("stgw"));
        match &facts {
            Some(facts) => {
                let server_name = trace.route.server_name();
                let vars = facts.vars(&conn, &listener, &trace.request_id, server_name, status);
                response_headers::apply(resp.headers_mut(), status, &listener.http, Some(&vars));
            }
            None => response_headers::apply(resp.headers_mut(), status, &listener.http, None),
        }
        // A 101's connection becomes the tunnel: its `Connection` stays
        // `upgrade` (a client would refuse the handshake otherwise).
        if h1
            && number >= listener.custom.keepalive_requests
            && status != StatusCode::SWITCHING_PROTOCOLS
        {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if http10 && http_body::Body::size_hint(resp.body()).exact().is_none() {
            // An HTTP/1.0 client has no chunked coding: a body of unknown
            // length ends when the connection does, whatever it asked for.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if http10
            && resp
                .headers()
                .get(header::CONNECTION)
                .is_some_and(|v| v == "close")
        {
            // For an HTTP/1.0 client that asked for keep-alive, hyper would
            // append `keep-alive` to this `close` on an HTTP/1.1 answer (and
            // close anyway). An HTTP/1.0 answer without it just closes.
            *resp.version_mut() = Version::HTTP_10;
        }
        let finish = trace.finish(&resp, source);
        Ok(resp.map(|b| b.observed(finish, guard)))
    }
}

/// A method nginx refuses with 400: one with a character other than an
/// upper-case letter, `_` or `-` (`get` is refused, `M-SEARCH` is not). Methods are
/// case-sensitive (RFC 9110 §9.1): a target that read `head` as HEAD would
/// answer without the body its `Content-Length` announces, and stgw would
/// wait for it.
fn method_error(method: &Method) -> Option<ProxyError> {
    let syntax = |b: u8| b.is_ascii_uppercase() || b == b'_' || b == b'-';
    (!method.as_str().bytes().all(syntax))
        .then_some(ProxyError::BadRequest("method not upper case"))
}

/// Why a request's `Transfer-Encoding` cannot be forwarded, if it cannot:
/// a coding other than `chunked`, which stgw does not decode (501, RFC 9112
/// §6.1; removing the field would hand the target coded bytes as the
/// content), or `chunked` applied twice (400). hyper has already checked
/// that `chunked` comes last.
fn transfer_coding_error(headers: &http::HeaderMap) -> Option<ProxyError> {
    let mut chunked = 0;
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        for coding in crate::upstream::h1::list_items(value.as_bytes()) {
            if coding.eq_ignore_ascii_case(b"chunked") {
                chunked += 1;
            } else if !coding.is_empty() {
                return Some(ProxyError::NotImplemented);
            }
        }
    }
    (chunked > 1).then_some(ProxyError::BadRequest("chunked applied twice"))
}

/// Whether the request body can still be unread when `e` is the answer:
/// always for errors found before the body is read (no rule, bad path);
/// for target errors only when the body streams (with buffering it was
/// read before a target was chosen).
fn body_unread(e: &ProxyError, buffering: bool) -> bool {
    match e {
        ProxyError::BadGateway(_)
        | ProxyError::NoTarget
        | ProxyError::GatewayTimeout
        | ProxyError::Internal(_) => !buffering,
        _ => true,
    }
}

/// An answer sent before the request body was read: `Connection: close`
/// and a lingering close, so that a client still sending reads it
/// (DECISIONS: early responses).
fn early_close(conn: &ClientConn, resp: &mut Response<ResponseBody>) {
    conn.state.set_linger();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// `proxy_ignore_client_abort on`: the request is served on its own task,
/// which runs to completion (and reads the target's answer to its end)
/// even when the client goes away and this future is dropped.
async fn detached(
    conn: Arc<ClientConn>,
    listener: Arc<ListenerRuntime>,
    mut parts: Parts,
    body: Option<ClientBody>,
    request_id: HeaderValue,
) -> (Result<Response<ResponseBody>, ProxyError>, RouteTrace) {
    let task = tokio::spawn(async move {
        let mut route = RouteTrace::default();
        let served = dispatch(
            &conn,
            &listener,
            &mut parts,
            Payload::Client(body),
            &request_id,
            &mut route,
        )
        .await;
        (served, route)
    });
    task.await.unwrap_or_else(|e| {
        let failed = Err(ProxyError::Internal(e.to_string()));
        (failed, RouteTrace::default())
    })
}

/// Where a dispatched request comes from.
enum Payload {
    /// A client: its body (`None`: it has none), and its head is checked
    /// against the size limits and counted by the rate limiter.
    Client(Option<ClientBody>),
    /// stgw itself (an `error_page` URI): no body, and no limits again.
    Internal,
}

/// Routes a request and answers it: 404, nginx's add-slash 301, the rule's
/// redirect, or the targets' answer. Where it went is told to `trace`.
async fn dispatch(
    conn: &ClientConn,
    listener: &ListenerRuntime,
    parts: &mut Parts,
    payload: Payload,
    request_id: &HeaderValue,
    trace: &mut RouteTrace,
) -> Result<Response<ResponseBody>, ProxyError> {
    let (from_client, body) = match payload {
        Payload::Client(body) => (true, body),
        Payload::Internal => (false, None),
    };
    if from_client {
        check_sizes(parts)?;
        if conn.state.is_h2() {
            check_h2_fields(parts, listener.custom.http2_max_field_size)?;
        }
    }
    let host = match request_host(parts) {
        Ok(host) => host,
        // The error page of a request whose Host was refused is routed as
        // a request without one (to the default domain), as nginx serves
        // it from its default server.
        Err(_) if !from_client => None,
        Err(e) => return Err(e),
    };
    if parts.method == Method::TRACE {
        return Err(ProxyError::MethodNotAllowed);
    }
    give_root_path(&mut parts.uri);
    let host_str = host.as_ref().map(HostName::as_str);
    check_misdirected(conn, listener, host_str)?;
    let client = client_ip(conn, listener, &parts.headers);
    // Internal requests (error pages) are not counted again.
    if from_client
        && let Some(limiter) = &listener.limiter
        && !limiter.allow(client)
    {
        listener.observe.limited.inc();
        return Err(ProxyError::RateLimited);
    }
    let path = normalize_path(parts.uri.path().as_bytes())
        .map_err(|_| ProxyError::BadRequest("invalid path"))?;
    let routed = listener.routes.route(host_str, &path);
    let origin = || redirect::Origin {
        scheme: conn.scheme,
        host: host_str,
        local: conn.local,
        path: parts.uri.path(),
        normalized: &path,
        query: parts.uri.query(),
    };
    let (domain, rule) = match routed {
        Routed::NoDomain => return Err(ProxyError::NotFound),
        Routed::Domain {
            domain,
            location: LocationMatch::None,
        } => {
            trace.domain(domain);
            return Err(ProxyError::NotFound);
        }
        Routed::Domain {
            domain,
            location: LocationMatch::AddSlash(rule),
        } => {
            trace.rule(domain, rule);
            let url = rule.literal.as_deref().unwrap_or("/");
            return Ok(redirect::add_slash(&origin(), url));
        }
        Routed::Domain {
            domain,
            location: LocationMatch::Rule(rule),
        } => {
            trace.rule(domain, rule);
            (domain, rule)
        }
    };
    match &rule.action {
        RuleAction::Redirect(r) => Ok(redirect::rewrite(&origin(), r)),
        RuleAction::Forward => {
            let facts = forward::Facts {
                request_id,
                host: host_str.unwrap_or(&domain.name),
                server_name: &domain.name,
                client,
            };
            forward::forward(conn, listener, rule, parts, body, facts, trace).await
        }
    }
}

/// The client's address for scheduling, limits and logs: the connection's
/// client (the PROXY header's source, else the TCP peer), or — when that is
/// a trusted proxy — the rightmost address of `X-Forwarded-For` that is not
/// itself trusted. A client's own X-Forwarded-For is never believed.
fn client_ip(
    conn: &ClientConn,
    listener: &ListenerRuntime,
    headers: &http::HeaderMap,
) -> std::net::IpAddr {
    let direct = conn.remote.ip();
    let rules = &listener.admission;
    if !rules.is_trusted(direct) {
        return direct;
    }
    let chain: Vec<std::net::IpAddr> = headers
        .get_all(headers::X_FORWARDED_FOR.clone())
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    let mut client = direct;
    for ip in chain.into_iter().rev() {
        client = ip;
        if !rules.is_trusted(ip) {
            break;
        }
    }
    client
}

/// On HTTPS, the Host must select the TLS configuration (certificate,
/// client authentication, ALPN) the connection's SNI selected; else 421.
/// A connection without SNI (a client that connects by address) selected
/// nothing: its requests are routed by Host alone, as nginx routes them
/// (client authentication is the listener's, the same for every domain).
fn check_misdirected(
    conn: &ClientConn,
    listener: &ListenerRuntime,
    host: Option<&str>,
) -> Result<(), ProxyError> {
    let (Some(info), Some(tls)) = (&conn.tls, &listener.tls) else {
        return Ok(());
    };
    if info.sni.is_none() {
        return Ok(());
    }
    let wanted = host
        .and_then(|h| listener.routes.domain_exact(h))
        .and_then(|d| d.tls_identity)
        .unwrap_or(tls.fallback());
    if wanted == info.identity {
        Ok(())
    } else {
        Err(ProxyError::Misdirected)
    }
}

/// `http2_max_field_size`: every field of an HTTP/2 request (pseudo-header
/// fields included), name and value each, decoded, at most `max` bytes;
/// over it the request gets 431, as an HTTP/1.1 header line over 8 KiB.
fn check_h2_fields(req: &Parts, max: usize) -> Result<(), ProxyError> {
    let uri = &req.uri;
    let pseudo = [
        uri.path_and_query().map_or(0, |pq| pq.as_str().len()),
        uri.authority().map_or(0, |a| a.as_str().len()),
        req.method.as_str().len(),
    ];
    let too_long = pseudo.into_iter().any(|len| len > max)
        || req
            .headers
            .iter()
            .any(|(name, value)| name.as_str().len() > max || value.len() > max);
    if too_long {
        return Err(ProxyError::HeaderTooLarge);
    }
    Ok(())
}

/// nginx's limits: an HTTP/1 request line (method, target, version and
/// CRLF) or an HTTP/2 `:path` over 8 KiB is 414; a header line over 8 KiB
/// is 431 (hyper refuses heads over 40 KiB in all with 431).
fn check_sizes(req: &Parts) -> Result<(), ProxyError> {
    if request_line_len(req) > MAX_URI {
        return Err(ProxyError::UriTooLong);
    }
    let mut total = 0;
    for (name, value) in &req.headers {
        let line = name.as_str().len() + 2 + value.len();
        if line > MAX_HEADER_LINE {
            return Err(ProxyError::HeaderTooLarge);
        }
        total += line + 2;
    }
    if total > 4 * MAX_HEADER_LINE {
        return Err(ProxyError::HeaderTooLarge);
    }
    Ok(())
}

/// The length of the request line nginx measures: `METHOD target
/// HTTP/1.1\r\n` for HTTP/1, the path and query for HTTP/2.
fn request_line_len(req: &Parts) -> usize {
    let uri = &req.uri;
    let path = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if req.version >= Version::HTTP_2 {
        return path;
    }
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + "://".len());
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let version_and_crlf = " HTTP/1.1\r\n".len();
    req.method.as_str().len() + 1 + scheme + authority + path + version_and_crlf
}

/// The request's host: the URI's authority when present (absolute-form or
/// HTTP/2 `:authority`, RFC 9112 §3.2.2), else the one Host header.
///
/// An HTTP/1.1 request needs exactly one valid Host header even when its
/// request line names the host (RFC 9112 §3.2, as nginx checks); HTTP/1.0
/// may have none, and HTTP/2 may carry `:authority` alone, but a Host
/// naming another host than `:authority` makes it malformed (RFC 9113
/// §8.3.1). An authority with userinfo (`user:password@host`) is refused,
/// as nginx does (RFC 9110 §4.2.4): it would reach the target as its Host;
/// so is one whose port is not digits.
fn request_host(req: &Parts) -> Result<Option<HostName>, ProxyError> {
    let header = host_header(req)?;
    let Some(authority) = req.uri.authority() else {
        return match header {
            None if req.version >= Version::HTTP_11 => Err(ProxyError::BadRequest("missing Host")),
            header => Ok(header),
        };
    };
    if authority.as_str().contains('@') {
        return Err(ProxyError::BadRequest(
            "userinfo in the request's authority",
        ));
    }
    let is_h2 = req.version >= Version::HTTP_2;
    if !is_h2 && !is_request_line_host(authority.host()) {
        return Err(ProxyError::BadRequest("invalid host"));
    }
    // As a Host header is read: the port, if any, is digits.
    let name = HostName::parse(authority.as_str().as_bytes())
        .map_err(|_| ProxyError::BadRequest("invalid host"))?;
    match header {
        None if !is_h2 && req.version >= Version::HTTP_11 => {
            Err(ProxyError::BadRequest("missing Host"))
        }
        Some(other) if is_h2 && other.as_str() != name.as_str() => {
            Err(ProxyError::BadRequest("Host differs from :authority"))
        }
        _ => Ok(Some(name)),
    }
}

/// An absolute-form target without a path (`http://host?q`) gets the
/// root path (`/?q`), which it means (RFC 9112 §3.2.2) and which a target
/// expects: the query is not forwarded as a request line of its own.
fn give_root_path(uri: &mut http::Uri) {
    let Some(pq) = uri.path_and_query() else {
        return;
    };
    if !pq.as_str().starts_with('?') {
        return;
    }
    let rooted = format!("/{}", pq.as_str());
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = rooted.parse().ok();
    if let Ok(fixed) = http::Uri::from_parts(parts) {
        *uri = fixed;
    }
}

/// The one Host header, parsed; `None` when there is none. Two Host
/// headers, or one that is not a valid host, are refused.
fn host_header(req: &Parts) -> Result<Option<HostName>, ProxyError> {
    let mut hosts = req.headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(ProxyError::BadRequest("duplicate Host")),
        (Some(h), None) => HostName::parse(h.as_bytes())
            .map(Some)
            .map_err(|_| ProxyError::BadRequest("invalid Host")),
        (None, _) => Ok(None),
    }
}

/// The host of an absolute-form request line as nginx's parser takes it:
/// letters, digits, `.` and `-`, or a bracketed IPv6 literal. (The Host
/// header and HTTP/2's `:authority` are looser: `_` is allowed there.)
fn is_request_line_host(host: &str) -> bool {
    host.starts_with('[')
        || host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(version: Version, uri: &str, host: Option<&str>) -> Parts {
        let mut req = http::Request::builder().version(version).uri(uri);
        if let Some(host) = host {
            req = req.header(header::HOST, host);
        }
        req.body(()).expect("a valid request").into_parts().0
    }

    fn host(version: Version, uri: &str, host_header: Option<&str>) -> Option<String> {
        request_host(&parts(version, uri, host_header))
            .ok()
            .map(|h| h.map(|h| h.as_str().to_owned()).unwrap_or_default())
    }

    #[test]
    fn an_absolute_form_host_is_read_as_nginx_reads_a_request_line() {
        let h11 = Version::HTTP_11;
        assert_eq!(
            host(h11, "http://A-1.example.com/x", Some("other")).as_deref(),
            Some("a-1.example.com")
        );
        assert_eq!(
            host(h11, "http://[::1]:80/x", Some("other")).as_deref(),
            Some("[::1]")
        );
        assert_eq!(host(h11, "http://x_y.example.com/x", Some("other")), None);
        // `_` is fine in a Host header and in HTTP/2's :authority.
        assert_eq!(
            host(h11, "/x", Some("x_y.example.com")).as_deref(),
            Some("x_y.example.com")
        );
        assert_eq!(
            host(Version::HTTP_2, "https://x_y.example.com/x", None).as_deref(),
            Some("x_y.example.com")
        );
    }

    #[test]
    fn an_absolute_form_request_still_needs_one_valid_host_header() {
        let h11 = Version::HTTP_11;
        let uri = "http://a.example/x";
        assert_eq!(host(h11, uri, None), None, "HTTP/1.1 without Host");
        assert_eq!(host(h11, uri, Some("")), None, "an empty Host");
        assert_eq!(host(h11, uri, Some("bad/host")), None, "an invalid Host");
        let mut two = parts(h11, uri, Some("a.example"));
        two.headers
            .append(header::HOST, HeaderValue::from_static("b.example"));
        assert!(request_host(&two).is_err(), "two Hosts");
        // HTTP/1.0 may leave it out; the request line's host routes.
        assert_eq!(
            host(Version::HTTP_10, uri, None).as_deref(),
            Some("a.example")
        );
    }

    #[test]
    fn an_authority_port_must_be_digits() {
        let h11 = Version::HTTP_11;
        for uri in [
            "http://a.example:abc/x",
            "http://a.example:8a/x",
            "http://a.example:-1/x",
        ] {
            assert_eq!(host(h11, uri, Some("a.example")), None, "{uri}");
        }
        assert_eq!(host(Version::HTTP_2, "https://a.example:abc/x", None), None);
        assert_eq!(
            host(h11, "http://a.example:8080/x", Some("a.example")).as_deref(),
            Some("a.example")
        );
        assert_eq!(
            host(h11, "http://a.example:/x", Some("a.example")).as_deref(),
            Some("a.example")
        );
    }

    #[test]
    fn an_http2_host_header_must_name_the_authority() {
        let h2 = Version::HTTP_2;
        assert_eq!(
            host(h2, "https://a.example/x", Some("A.example")).as_deref(),
            Some("a.example")
        );
        assert_eq!(host(h2, "https://a.example/x", Some("b.example")), None);
        assert_eq!(host(h2, "https://a.example/x", Some("bad/host")), None);
    }

    #[test]
    fn an_absolute_form_target_without_a_path_gets_the_root() {
        let mut uri: http::Uri = "http://a.example?x=1".parse().unwrap();
        give_root_path(&mut uri);
        assert_eq!(uri, "http://a.example/?x=1");
        let mut uri: http::Uri = "/p?x=1".parse().unwrap();
        give_root_path(&mut uri);
        assert_eq!(uri, "/p?x=1");
    }

    #[test]
    fn the_request_line_limit_counts_method_target_and_version() {
        let target = format!("/{}", "a".repeat(MAX_URI - "GET / HTTP/1.1\r\n".len()));
        let fits = parts(Version::HTTP_11, &target, Some("a"));
        assert_eq!(request_line_len(&fits), MAX_URI);
        assert!(check_sizes(&fits).is_ok());
        let over = parts(Version::HTTP_11, &format!("{target}a"), Some("a"));
        assert!(matches!(check_sizes(&over), Err(ProxyError::UriTooLong)));
        let mut delete = fits.clone();
        delete.method = Method::DELETE;
        assert!(matches!(check_sizes(&delete), Err(ProxyError::UriTooLong)));
    }

    #[test]
    fn an_authority_with_userinfo_is_refused() {
        for (version, uri) in [
            (Version::HTTP_11, "http://user:pw@a.example/x"),
            (Version::HTTP_11, "http://evil@a.example/x"),
            (Version::HTTP_2, "https://user@a.example/x"),
        ] {
            let refused = request_host(&parts(version, uri, Some("a.example")));
            assert!(
                matches!(refused, Err(ProxyError::BadRequest(_))),
                "{uri} over {version:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn the_host_header_must_be_there_once_in_http_1_1() {
        assert_eq!(host(Version::HTTP_11, "/", None), None);
        assert_eq!(host(Version::HTTP_2, "/", None), None);
        assert_eq!(host(Version::HTTP_10, "/", None).as_deref(), Some(""));
        let mut two = parts(Version::HTTP_11, "/", Some("a.test"));
        two.headers
            .append(header::HOST, HeaderValue::from_static("b.test"));
        assert!(request_host(&two).is_err());
    }
}

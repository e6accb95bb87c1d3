//! Sending a request to one of a rule's targets.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, Uri, Version};
use hyper::body::Incoming;

use super::body::ResponseBody;
use super::error::ProxyError;
use super::gzip::GzipRequest;
use super::headers::{ClientFacts, add_forwarding, join_cookies, remove_hop_by_hop};
use super::response_headers::rewrite_redirects;
use super::set_header;
use crate::config::CustomConfig;
use crate::listener::conn::ClientConn;
use crate::observe::RouteTrace;
use crate::routing::normalize_path;
use crate::runtime::snapshot::{ListenerRuntime, RuleRuntime};
use crate::upstream::{
    BodyError, BufferedBody, ConnectError, Phase, PooledConn, RequestBody, SendProgress,
};

/// Attempts on other targets, at most (DECISIONS: upstream retries).
const MAX_TRIES: usize = 3;
/// Reused pooled connections found dead before any response byte; retried
/// without counting as a try (nginx does the same for cached connections).
const MAX_STALE: usize = 8;

/// Where the request body comes from on each attempt.
enum BodySource {
    /// Read completely: can be sent again.
    Buffered(BufferedBody),
    /// Streamed from the client: can be sent once (or again if it came
    /// back unsent).
    Stream(Option<RequestBody>, Arc<Mutex<Option<BodyError>>>),
}

impl BodySource {
    fn take(&mut self) -> Option<RequestBody> {
        match self {
            BodySource::Buffered(b) => Some(b.to_body()),
            BodySource::Stream(b, _) => b.take(),
        }
    }

    fn put_back(&mut self, body: RequestBody) {
        if let BodySource::Stream(slot, _) = self {
            *slot = Some(body);
        }
    }

    fn replayable(&self) -> bool {
        match self {
            BodySource::Buffered(_) => true,
            BodySource::Stream(b, _) => b.is_some(),
        }
    }

    /// Why the client's side of a streamed body failed, if it did.
    fn client_failure(&self) -> Option<ProxyError> {
        let BodySource::Stream(_, failure) = self else {
            return None;
        };
        let failure = failure.lock().ok()?;
        failure.as_ref().map(body_error)
    }
}

fn body_error(e: &BodyError) -> ProxyError {
    match e {
        BodyError::TooLarge { .. } => ProxyError::PayloadTooLarge,
        BodyError::Timeout(_) => ProxyError::RequestTimeout,
        BodyError::Client(_) => ProxyError::BadRequest("malformed request body"),
        BodyError::Io(e) => ProxyError::Internal(e.to_string()),
    }
}

/// What a forwarded request carries besides its head and body.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// stgw's request id.
    pub request_id: &'a str,
    /// The request's host, normalised (`$host`), else the domain's name.
    pub host: &'a str,
    /// The client's address as believed (scheduling, X-Real-IP).
    pub client: std::net::IpAddr,
}

/// Forwards a request by `rule`: reads or streams the body (`None`: no
/// body, as for an `error_page` request), picks a target, retries per
/// DECISIONS.md, and streams the answer back.
pub async fn forward(
    conn: &ClientConn,
    listener: &ListenerRuntime,
    rule: &RuleRuntime,
    mut parts: Parts,
    body: Option<Incoming>,
    facts: Facts<'_>,
    trace: &mut RouteTrace,
) -> Result<Response<ResponseBody>, ProxyError> {
    let custom = &listener.custom;
    let limit = custom.client_max_body_size;
    if body.is_some() && content_length(&parts.headers).is_some_and(|len| len > limit) {
        return Err(ProxyError::PayloadTooLarge);
    }
    let gzip = GzipRequest::new(
        rule.gzip_level,
        &parts.method,
        parts.version,
        &parts.headers,
    );
    let mut source = match body {
        None => BodySource::Buffered(BufferedBody::Empty),
        Some(body) => read_body(body, conn, listener).await?,
    };
    if let BodySource::Buffered(b) = &source {
        trace.body_read(b.len());
    }

    prepare_headers(
        &mut parts.headers,
        &parts.uri,
        conn,
        rule,
        facts.request_id,
        facts.client,
    );
    if !listener.http.proxy_set_headers.is_empty() {
        let uri: Cow<'_, [u8]> = if listener.http.needs_uri {
            normalize_path(parts.uri.path().as_bytes()).unwrap_or_default()
        } else {
            Cow::Borrowed(b"")
        };
        let vars = set_header::Vars {
            peer: conn.peer,
            local: conn.local,
            vport: listener.addr.port(),
            lb_id: &listener.lb_id,
            request_id: facts.request_id,
            method: parts.method.as_str(),
            host: facts.host,
            scheme: conn.scheme,
            uri: &uri,
            request_uri: parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
        };
        set_header::apply(&mut parts.headers, &listener.http.proxy_set_headers, &vars);
    }
    let uri = origin_form(&parts.uri);
    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    let balancer = &rule.upstream.balancer;
    let max_tries = balancer
        .candidates()
        .iter()
        .filter(|c| c.weight > 0)
        .count()
        .min(MAX_TRIES);
    let mut tried: Vec<usize> = Vec::new();
    let mut stale = 0;
    let mut last_error = ProxyError::NoTarget;
    // A valid sticky cookie names the first target to try.
    let mut sticky = rule.sticky.as_ref().and_then(|table| {
        crate::balance::cookie(&parts.headers, &listener.sticky_cookie)
            .and_then(|value| table.lookup(value))
            .filter(|&i| balancer.sticky(i))
    });
    loop {
        let pick = match sticky.take() {
            Some(index) if !tried.contains(&index) => Some(index),
            _ => balancer.pick(facts.client, &tried).map(|p| p.index),
        };
        let Some(index) = pick else {
            return Err(last_error);
        };
        let target = &rule.upstream.targets[index];
        trace.try_start(target);
        let active = target.load.start();
        let mut upstream = match target
            .pool
            .checkout(custom.proxy_connect_timeout, read_buffer(custom))
            .await
        {
            Ok(c) => {
                trace.connected();
                c
            }
            Err(e) => {
                tracing::warn!(target = %target.addr, rule = %rule.id, error = %e, "cannot connect to target");
                let timed_out = matches!(e, ConnectError::Timeout { .. });
                trace.try_failed(if timed_out { 504 } else { 502 }, timed_out);
                if matches!(e, ConnectError::Io { .. }) && rule.health_check.enabled {
                    // Passive detection: out of rotation until a probe succeeds.
                    target.health.set(crate::balance::HealthState::Dead);
                }
                last_error = match e {
                    ConnectError::Timeout { .. } => ProxyError::GatewayTimeout,
                    e => ProxyError::BadGateway(e.to_string()),
                };
                tried.push(index);
                if tried.len() >= max_tries {
                    return Err(last_error);
                }
                continue;
            }
        };
        let Some(body) = source.take() else {
            return Err(last_error);
        };
        let (body, progress) = body.watched();
        let mut request = Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri.clone();
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = parts.headers.clone();

        match exchange(&mut upstream, request, &progress, custom).await {
            Err(phase) => {
                tracing::warn!(target = %target.addr, rule = %rule.id, ?phase, "target timed out");
                trace.try_failed(504, true);
                return Err(ProxyError::GatewayTimeout);
            }
            Ok(Ok(resp)) => {
                trace.answered(resp.status().as_u16());
                let mut resp = response(resp, upstream, custom, gzip, active);
                if let Some(table) = &rule.sticky
                    && let Some(cookie) =
                        table.set_cookie(&listener.sticky_cookie, index, conn.tls.is_some())
                    && let Ok(v) = HeaderValue::from_str(&cookie)
                {
                    // Sliding expiry: every response refreshes it.
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
                return Ok(resp);
            }
            Ok(Err((error, unsent))) => {
                if let Some(client) = source.client_failure() {
                    return Err(client);
                }
                let was_unsent = unsent.is_some();
                if let Some(req) = unsent {
                    source.put_back(req.into_body().unwatched());
                }
                if !(was_unsent || (idempotent && source.replayable())) {
                    trace.try_failed(502, false);
                    return Err(ProxyError::BadGateway(error.to_string()));
                }
                if upstream.reused() && stale < MAX_STALE {
                    stale += 1;
                    trace.try_stale();
                    continue;
                }
                trace.try_failed(502, false);
                tracing::warn!(target = %target.addr, rule = %rule.id, %error, "target failed before answering");
                last_error = ProxyError::BadGateway(error.to_string());
                tried.push(index);
                if tried.len() >= max_tries {
                    return Err(last_error);
                }
            }
        }
    }
}

/// The response bytes read from a target ahead of a slower client
/// (DECISIONS: `proxy_buffer_size` + `proxy_buffers`), never less than a
/// maximal response head plus one buffer.
fn read_buffer(custom: &CustomConfig) -> usize {
    let configured =
        custom.proxy_buffer_size + custom.proxy_buffers.count * custom.proxy_buffers.size;
    configured.max(crate::upstream::MIN_READ_BUFFER)
}

/// Sends the request and waits for the answer's head, with
/// `proxy_send_timeout` between two pieces of the body taken by the target
/// and `proxy_read_timeout` from the end of the body to the answer. `Err`
/// names the timeout that fired.
async fn exchange(
    upstream: &mut PooledConn,
    request: Request<RequestBody>,
    progress: &SendProgress,
    custom: &CustomConfig,
) -> Result<Result<Response<Incoming>, (hyper::Error, Option<Request<RequestBody>>)>, Phase> {
    let (send_t, read_t) = (custom.proxy_send_timeout, custom.proxy_read_timeout);
    let send = upstream.send(request);
    let mut send = std::pin::pin!(send);
    let mut timer = std::pin::pin!(tokio::time::sleep_until(
        progress.deadline(send_t, read_t).0
    ));
    loop {
        tokio::select! {
            biased;
            result = &mut send => return Ok(result),
            () = &mut timer => {
                let (at, phase) = progress.deadline(send_t, read_t);
                if phase != Phase::Idle && tokio::time::Instant::now() >= at {
                    return Err(phase);
                }
                timer.as_mut().reset(at);
            }
        }
    }
}

/// Reads the body completely (`proxy_request_buffering on`) or prepares it
/// for streaming.
async fn read_body(
    body: Incoming,
    conn: &ClientConn,
    listener: &ListenerRuntime,
) -> Result<BodySource, ProxyError> {
    let custom = &listener.custom;
    let limit = custom.client_max_body_size;
    Ok(if custom.proxy_request_buffering {
        let buffered = if http_body::Body::is_end_stream(&body) {
            BufferedBody::Empty
        } else {
            BufferedBody::read(body, limit, custom.client_body_timeout, &listener.spill_dir)
                .await
                .map_err(|e| body_error(&e))?
        };
        conn.state.body_pending(false);
        BodySource::Buffered(buffered)
    } else {
        let failure = Arc::new(Mutex::new(None));
        let stream = crate::upstream::StreamBody::new(
            body,
            limit,
            custom.client_body_timeout,
            failure.clone(),
        );
        BodySource::Stream(Some(RequestBody::Stream(stream)), failure)
    })
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The request target as a target expects it: origin-form.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(_) if uri.scheme().is_none() => uri.clone(),
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from_static("/"),
    }
}

/// The headers a target receives: the client's, minus hop-by-hop ones and
/// framing (hyper frames the body itself: exactly one framing), with Host
/// from the authority when the request carried one, and stgw's additions.
fn prepare_headers(
    headers: &mut HeaderMap,
    uri: &Uri,
    conn: &ClientConn,
    rule: &RuleRuntime,
    request_id: &str,
    client: std::net::IpAddr,
) {
    remove_hop_by_hop(headers);
    headers.remove(header::CONTENT_LENGTH);
    if let Some(authority) = uri.authority()
        && let Ok(v) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, v);
    }
    join_cookies(headers);
    add_forwarding(
        headers,
        &ClientFacts {
            ip: conn.remote.ip(),
            real_ip: client,
            scheme: conn.scheme,
            request_id,
            client_ip: rule.client_ip,
        },
    );
}

/// The client's response: the target's, minus hop-by-hop headers, with
/// `proxy_redirect` applied, its body streamed and, when eligible,
/// compressed.
fn response(
    resp: Response<Incoming>,
    upstream: PooledConn,
    custom: &CustomConfig,
    gzip: Option<GzipRequest>,
    active: crate::balance::ActiveRequest,
) -> Response<ResponseBody> {
    let (mut parts, body) = resp.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    if custom.proxy_redirect_https {
        rewrite_redirects(&mut parts.headers);
    }
    let level = gzip.and_then(|g| g.respond(parts.status, &mut parts.headers));
    let body = ResponseBody::upstream(
        body,
        upstream,
        custom.proxy_read_timeout,
        active,
        custom.proxy_ignore_client_abort,
    );
    let body = match level {
        Some(level) => body.gzip(level),
        None => body,
    };
    Response::from_parts(parts, body)
}

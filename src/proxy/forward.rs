//! Sending a request to one of a rule's targets.

use std::sync::{Arc, Mutex};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, Uri, Version};
use hyper::body::Incoming;

use super::body::ResponseBody;
use super::error::ProxyError;
use super::headers::{ClientFacts, add_forwarding, join_cookies, remove_hop_by_hop};
use crate::listener::conn::ClientConn;
use crate::runtime::snapshot::{ListenerRuntime, RuleRuntime};
use crate::upstream::{BodyError, BufferedBody, ConnectError, RequestBody};

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

/// Forwards `req` by `rule`: reads or streams the body, picks a target,
/// retries per DECISIONS.md, and streams the answer back.
pub async fn forward(
    conn: &ClientConn,
    listener: &ListenerRuntime,
    rule: &RuleRuntime,
    req: Request<Incoming>,
    request_id: &str,
    client: std::net::IpAddr,
) -> Result<Response<ResponseBody>, ProxyError> {
    let custom = &listener.custom;
    let (mut parts, body) = req.into_parts();
    let limit = custom.client_max_body_size;
    if content_length(&parts.headers).is_some_and(|len| len > limit) {
        return Err(ProxyError::PayloadTooLarge);
    }
    let mut source = if custom.proxy_request_buffering {
        let buffered = if http_body::Body::is_end_stream(&body) {
            BufferedBody::Empty
        } else {
            let read =
                BufferedBody::read(body, limit, custom.client_body_timeout, &listener.spill_dir)
                    .await
                    .map_err(|e| body_error(&e))?;
            conn.state.body_pending(false);
            read
        };
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
    };

    prepare_headers(
        &mut parts.headers,
        &parts.uri,
        conn,
        rule,
        request_id,
        client,
    );
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
            _ => balancer.pick(client, &tried).map(|p| p.index),
        };
        let Some(index) = pick else {
            return Err(last_error);
        };
        let target = &rule.upstream.targets[index];
        let active = target.load.start();
        let mut upstream = match target.pool.checkout(custom.proxy_connect_timeout).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(target = %target.addr, rule = %rule.id, error = %e, "cannot connect to target");
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
        let mut request = Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri.clone();
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = parts.headers.clone();

        match tokio::time::timeout(custom.proxy_read_timeout, upstream.send(request)).await {
            Err(_) => {
                tracing::warn!(target = %target.addr, rule = %rule.id, "target did not answer in time");
                return Err(ProxyError::GatewayTimeout);
            }
            Ok(Ok(resp)) => {
                let mut resp = response(resp, upstream, custom.proxy_read_timeout, active);
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
                    source.put_back(req.into_body());
                }
                if !(was_unsent || (idempotent && source.replayable())) {
                    return Err(ProxyError::BadGateway(error.to_string()));
                }
                if upstream.reused() && stale < MAX_STALE {
                    stale += 1;
                    continue;
                }
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

/// The client's response: the target's, minus hop-by-hop headers, with its
/// body streamed.
fn response(
    resp: Response<Incoming>,
    upstream: crate::upstream::PooledConn,
    read_timeout: std::time::Duration,
    active: crate::balance::ActiveRequest,
) -> Response<ResponseBody> {
    let (mut parts, body) = resp.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    Response::from_parts(
        parts,
        ResponseBody::upstream(body, upstream, read_timeout, active),
    )
}

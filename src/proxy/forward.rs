//! Sending a request to one of a rule's targets.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, Uri, Version};
use hyper::body::Incoming;

use super::ClientBody;
use super::body::ResponseBody;
use super::error::ProxyError;
use super::gzip::GzipRequest;
use super::headers::{ClientFacts, Forwarding, join_cookies, remove_client_only};
use super::response_headers::rewrite_redirects;
use super::set_header;
use super::template;
use super::websocket::WsUpgrade;
use crate::config::CustomConfig;
use crate::listener::conn::ClientConn;
use crate::observe::RouteTrace;
use crate::routing::normalize_path;
use crate::runtime::snapshot::{ListenerRuntime, RuleRuntime};
use crate::upstream::h1::{ExchangeError, H1Body, H1Conn, PROXYS_OWN, encode_head};
use crate::upstream::{
    BodyError, BufferedBody, ConnectError, IncomingBody, Phase, PooledConn, RequestBody,
    SendProgress, UpstreamBody,
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
pub(super) struct Facts<'a> {
    /// stgw's request id.
    pub request_id: &'a HeaderValue,
    /// The request's host, normalised (`$host`), else the domain's name.
    pub host: &'a str,
    /// The domain's name (`$server_name`).
    pub server_name: &'a str,
    /// The client's address as believed (scheduling, X-Real-IP).
    pub client: std::net::IpAddr,
}

/// Forwards a request by `rule`: reads or streams the body (`None`: no
/// body, as for an `error_page` request), picks a target, retries per
/// DECISIONS.md, and streams the answer back. The body's length and each
/// attempt are told to `trace`.
pub(super) async fn forward(
    conn: &ClientConn,
    listener: &ListenerRuntime,
    rule: &RuleRuntime,
    parts: &mut Parts,
    body: Option<ClientBody>,
    facts: Facts<'_>,
    trace: &mut RouteTrace,
) -> Result<Response<ResponseBody>, ProxyError> {
    let custom = &listener.custom;
    let limit = custom.client_max_body_size;
    // A WebSocket upgrade has no body to read (over HTTP/2 the stream is
    // the tunnel itself).
    let mut websocket = WsUpgrade::take(parts);
    if parts.method == Method::CONNECT {
        // Left after the WebSocket one: an extended CONNECT for another
        // protocol, which no target could be asked for in HTTP/1.1.
        return Err(ProxyError::MethodNotAllowed);
    }
    let body = if websocket.is_some() {
        conn.state.body_pending(false);
        None
    } else {
        body
    };
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
        Some(ClientBody::Complete(bytes)) => BodySource::Buffered(BufferedBody::in_memory(bytes)),
        // gRPC streams both ways and carries trailers: never buffered.
        Some(ClientBody::Incoming(body)) => {
            read_body(body, conn, listener, rule.forward_type.is_h2()).await?
        }
    };
    match &source {
        BodySource::Buffered(b) => trace.body_read(b.len()),
        BodySource::Stream(Some(RequestBody::Stream(s)), _) => trace.body_streamed(s.read_count()),
        BodySource::Stream(..) => {}
    }

    // Only HTTP/2 targets get `te: trailers` (read before the hop-by-hop
    // fields go).
    let te_trailers = rule.forward_type.is_h2()
        && parts.headers.get_all(header::TE).iter().any(|v| {
            v.to_str().is_ok_and(|t| {
                t.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
            })
        });
    // `$http_NAME` reads the client's headers, before they are rewritten.
    let client_headers = if listener.http.proxy_header_names.is_empty() {
        None
    } else {
        Some(template::copy_headers(
            &parts.headers,
            &listener.http.proxy_header_names,
        ))
    };
    let mut forwarding = Some(prepare_headers(
        &mut parts.headers,
        &parts.uri,
        conn,
        rule,
        &facts,
    ));
    // The map is sent as it is to HTTP/2 targets and edited by
    // proxy_set_header: there the fields go in; otherwise HTTP/1.1 heads
    // get them appended.
    let set_headers = !listener.http.proxy_set_headers.is_empty();
    if (set_headers || rule.forward_type.is_h2())
        && let Some(fields) = forwarding.take()
    {
        fields.insert_into(&mut parts.headers);
    }
    if set_headers {
        let uri: Cow<'_, [u8]> = if listener.http.needs_uri {
            normalize_path(parts.uri.path().as_bytes()).unwrap_or_default()
        } else {
            Cow::Borrowed(b"")
        };
        let no_headers = HeaderMap::new();
        let vars = template::Vars {
            peer: conn.peer,
            local: conn.local,
            vport: listener.addr.port(),
            lb_id: &listener.lb_id,
            request_id: facts.request_id.to_str().unwrap_or(""),
            method: parts.method.as_str(),
            host: facts.host,
            scheme: conn.scheme,
            uri: &uri,
            request_uri: parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
            server_name: facts.server_name,
            headers: client_headers.as_ref().unwrap_or(&no_headers),
            status: None,
        };
        set_header::apply(&mut parts.headers, &listener.http.proxy_set_headers, &vars);
    }
    if websocket.is_some() {
        WsUpgrade::restore_headers(&mut parts.headers);
    }
    let uri = origin_form(&parts.uri);
    let h2_target = rule.forward_type.is_h2().then(|| {
        // HTTP/2 carries the host as :authority and keeps `te: trailers`
        // (gRPC needs it).
        let authority = parts.headers.remove(header::HOST);
        if te_trailers || is_grpc(&parts.headers) {
            parts
                .headers
                .insert(header::TE, HeaderValue::from_static("trailers"));
        }
        absolute_uri(rule, authority.as_ref(), &uri)
    });
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
    let mut head = Vec::with_capacity(512);
    let mut stale = 0;
    let mut last_error = ProxyError::NoTarget;
    // A valid sticky cookie names the first target to try.
    let sticky_now = rule.sticky.as_ref().map(|_| crate::balance::unix_now());
    let mut sticky = rule
        .sticky
        .as_ref()
        .zip(sticky_now)
        .and_then(|(table, now)| {
            crate::balance::cookies(&parts.headers, &listener.sticky_cookie)
                .find_map(|value| table.lookup(value, now))
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
        let now = trace.try_start(target);
        let active = target.load.start();
        let upstream = match target
            .pool
            .checkout(custom.proxy_connect_timeout, read_buffer(custom), now)
            .await
        {
            Ok(c) => {
                trace.connected(c.reused());
                c
            }
            Err(e) if e.is_local() => {
                // stgw is out of descriptors (or buffers): as nginx (500,
                // "socket() failed"), neither the target's fault nor one
                // that another target would cure, so no ejection, no retry.
                tracing::error!(target = %target.addr, rule = %rule.id, error = %e, "cannot open a connection to the target");
                trace.try_failed(500, false);
                return Err(ProxyError::Internal(e.to_string()));
            }
            Err(e) => {
                tracing::warn!(target = %target.addr, rule = %rule.id, error = %e, "cannot connect to target");
                let timed_out = matches!(e, ConnectError::Timeout { .. });
                trace.try_failed(if timed_out { 504 } else { 502 }, timed_out);
                if rule.health_check.enabled {
                    // Passive detection: a target that refuses connections
                    // or leaves them unanswered (proxy_connect_timeout) is
                    // out of rotation until a probe succeeds, as nginx
                    // marks a peer failed on `error` and `timeout`.
                    let was = target.health.eject();
                    if was != crate::balance::HealthState::Dead {
                        let reason = if timed_out {
                            "connect timed out"
                        } else {
                            "connect failed"
                        };
                        tracing::warn!(rule = %rule.id, target = %target.addr, reason, "target is dead (passive)");
                    }
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
        let reused = upstream.reused();
        let attempt = match upstream {
            PooledConn::H1 { conn: h1, .. } => {
                let out = H1Head {
                    buf: &mut head,
                    target: uri.path_and_query().map_or("/", |pq| pq.as_str()),
                    added: forwarding.as_ref(),
                };
                attempt_h1(h1, body, out, parts, custom, &target.pool).await
            }
            PooledConn::H2 { sender, .. } => {
                let target_uri = h2_target.clone().unwrap_or_else(|| uri.clone());
                // Boxed so that HTTP/1.1 requests' futures stay small.
                Box::pin(attempt_h2(sender, body, parts, target_uri, custom)).await
            }
        };
        match attempt {
            Attempt::Answer(head, AnswerBody::Upgraded(target_io)) => {
                let Some(ws) = websocket.take() else {
                    trace.try_failed(502, false);
                    return Err(ProxyError::BadGateway(
                        "a 101 to a request that asked for no upgrade".into(),
                    ));
                };
                trace.answered(head.status.as_u16());
                // The client's next bytes are WebSocket frames.
                conn.state.tunnel();
                let idle = custom.proxy_read_timeout;
                return Ok(ws.respond(&head, target_io, active, idle, conn.slot.clone()));
            }
            Attempt::Answer(head, _)
                if head.status.is_success()
                    && websocket.as_ref().is_some_and(WsUpgrade::over_h2) =>
            {
                // Over HTTP/2 a 2xx to the CONNECT means the tunnel is
                // open (RFC 8441 §5): a target that answered without
                // switching protocols cannot be passed on as one.
                trace.try_failed(502, false);
                return Err(ProxyError::BadGateway(
                    "the target did not switch protocols".into(),
                ));
            }
            Attempt::Answer(head, AnswerBody::Stream(body)) => {
                trace.answered(head.status.as_u16());
                let mut resp = response(head, body, custom, gzip, active);
                if let Some((table, now)) = rule.sticky.as_ref().zip(sticky_now)
                    && let Some(cookie) =
                        table.set_cookie(&listener.sticky_cookie, index, conn.tls.is_some(), now)
                    && let Ok(v) = HeaderValue::from_str(&cookie)
                {
                    // Sliding expiry: every response refreshes it.
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
                return Ok(resp);
            }
            Attempt::Timeout(which) => {
                tracing::warn!(target = %target.addr, rule = %rule.id, which, "target timed out");
                trace.try_failed(504, true);
                return Err(ProxyError::GatewayTimeout);
            }
            Attempt::Invalid(why) => {
                tracing::warn!(target = %target.addr, rule = %rule.id, why, "invalid answer from target");
                trace.try_failed(502, false);
                return Err(ProxyError::BadGateway(why.to_owned()));
            }
            Attempt::Failed {
                error,
                unsent,
                answered,
                sent,
            } => {
                if let Some(client) = source.client_failure() {
                    return Err(client);
                }
                if let Some(body) = unsent {
                    source.put_back(body);
                }
                // Never after an answer byte; otherwise when idempotent or
                // nothing was sent, and the body can be sent again.
                let retryable = !answered && (idempotent || !sent) && source.replayable();
                if !retryable {
                    trace.try_failed(502, false);
                    return Err(ProxyError::BadGateway(error));
                }
                if reused && stale < MAX_STALE {
                    stale += 1;
                    trace.try_stale();
                    continue;
                }
                trace.try_failed(502, false);
                tracing::warn!(target = %target.addr, rule = %rule.id, %error, "target failed before answering");
                last_error = ProxyError::BadGateway(error);
                tried.push(index);
                if tried.len() >= max_tries {
                    return Err(last_error);
                }
            }
        }
    }
}

/// The outcome of one attempt on one target.
enum Attempt {
    /// The target answered.
    Answer(http::response::Parts, AnswerBody),
    /// `proxy_send_timeout` or `proxy_read_timeout` fired.
    Timeout(&'static str),
    /// The target's answer is not valid HTTP.
    Invalid(&'static str),
    /// The connection failed; `unsent` is the body when none of it was
    /// taken; `answered`: a byte of an answer had arrived; `sent`: a byte
    /// of the request had been written.
    Failed {
        error: String,
        unsent: Option<RequestBody>,
        answered: bool,
        sent: bool,
    },
}

/// What follows an answer's head.
enum AnswerBody {
    /// A body to stream to the client.
    Stream(UpstreamBody),
    /// After a 101: the target connection, for a tunnel.
    Upgraded(crate::upstream::h1::Upgraded),
}

/// What an HTTP/1.1 request head is encoded from besides the request's
/// method and fields.
struct H1Head<'a> {
    /// Where it is encoded.
    buf: &'a mut Vec<u8>,
    /// The request target (origin-form).
    target: &'a str,
    /// stgw's fields, when they are not in the map.
    added: Option<&'a Forwarding>,
}

/// One attempt over HTTP/1.1 (stgw's own client, in this task).
async fn attempt_h1(
    mut h1: H1Conn,
    mut body: RequestBody,
    out: H1Head<'_>,
    parts: &mut Parts,
    custom: &CustomConfig,
    pool: &Arc<crate::upstream::Pool>,
) -> Attempt {
    let head = out.buf;
    let added = out.added.into_iter().flat_map(Forwarding::fields);
    encode_head(
        head,
        &parts.method,
        out.target,
        &parts.headers,
        added,
        &body,
    );
    let (send_t, read_t) = (custom.proxy_send_timeout, custom.proxy_read_timeout);
    // The request's map, encoded, holds the answer's fields: a target's
    // answer ends the attempts, and nothing reads the request's fields
    // after it.
    let fields = &mut parts.headers;
    match h1
        .exchange(head, &mut body, &parts.method, send_t, read_t, fields)
        .await
    {
        Ok(answer) if answer.parts.status == http::StatusCode::SWITCHING_PROTOCOLS => {
            let head = answer.parts;
            Attempt::Answer(head, AnswerBody::Upgraded(h1.into_upgraded()))
        }
        Ok(answer) => {
            let body = H1Body::new(h1, pool.clone(), &answer, &parts.method, read_t);
            Attempt::Answer(answer.parts, AnswerBody::Stream(UpstreamBody::H1(body)))
        }
        Err(ExchangeError::Timeout(which)) => Attempt::Timeout(which),
        Err(ExchangeError::Invalid(why)) => Attempt::Invalid(why),
        Err(e @ ExchangeError::ClientBody(_)) => Attempt::Failed {
            error: e.to_string(),
            unsent: None,
            answered: true,
            sent: true,
        },
        Err(ExchangeError::Io {
            source,
            answered,
            sent,
            body_taken,
        }) => Attempt::Failed {
            error: source.to_string(),
            unsent: (!body_taken).then_some(body),
            answered,
            sent,
        },
    }
}

/// One attempt over HTTP/2 (hyper's client on the shared connection).
async fn attempt_h2(
    mut sender: hyper::client::conn::http2::SendRequest<RequestBody>,
    body: RequestBody,
    parts: &Parts,
    uri: Uri,
    custom: &CustomConfig,
) -> Attempt {
    let (body, progress) = body.watched();
    let mut request = Request::new(body);
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_2;
    *request.headers_mut() = parts.headers.clone();
    match exchange_h2(&mut sender, request, &progress, custom).await {
        Err(Phase::Send) => Attempt::Timeout("proxy_send_timeout"),
        Err(_) => Attempt::Timeout("proxy_read_timeout"),
        Ok(Ok(resp)) => {
            let (mut parts, body) = resp.into_parts();
            // An HTTP/1.1 target's head loses them as it is parsed.
            crate::hop_by_hop::remove(&mut parts.headers);
            for name in &PROXYS_OWN {
                parts.headers.remove(name);
            }
            let body = UpstreamBody::h2(body, custom.proxy_read_timeout);
            Attempt::Answer(parts, AnswerBody::Stream(body))
        }
        Ok(Err((error, unsent))) => {
            // A stream the target refused (REFUSED_STREAM, or past its
            // GOAWAY) was not processed: as good as unsent.
            let refused = refused_stream(&error);
            let unprocessed = unsent.is_some() || refused;
            Attempt::Failed {
                error: error.to_string(),
                answered: false,
                sent: !unprocessed,
                unsent: unsent.map(|r| r.into_body().unwatched()),
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
async fn exchange_h2(
    sender: &mut hyper::client::conn::http2::SendRequest<RequestBody>,
    request: Request<RequestBody>,
    progress: &SendProgress,
    custom: &CustomConfig,
) -> Result<Result<Response<Incoming>, (hyper::Error, Option<Request<RequestBody>>)>, Phase> {
    let (send_t, read_t) = (custom.proxy_send_timeout, custom.proxy_read_timeout);
    let send = send_h2(sender, request);
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

/// Sends a request on an HTTP/2 connection; the request comes back when
/// it was not sent at all.
async fn send_h2(
    sender: &mut hyper::client::conn::http2::SendRequest<RequestBody>,
    req: Request<RequestBody>,
) -> Result<Response<Incoming>, (hyper::Error, Option<Request<RequestBody>>)> {
    if let Err(e) = sender.ready().await {
        return Err((e, Some(req)));
    }
    sender.try_send_request(req).await.map_err(|mut e| {
        let req = e.take_message();
        (e.into_error(), req)
    })
}

/// Reads the body completely (`proxy_request_buffering on`) or prepares it
/// for streaming.
async fn read_body(
    body: IncomingBody,
    conn: &ClientConn,
    listener: &ListenerRuntime,
    always_stream: bool,
) -> Result<BodySource, ProxyError> {
    let custom = &listener.custom;
    let limit = custom.client_max_body_size;
    Ok(if custom.proxy_request_buffering && !always_stream {
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

/// Whether the request is gRPC.
fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// The request target for an HTTP/2 target: scheme (http for GRPC, https
/// for GRPCS), the client's host as authority, the path and query.
fn absolute_uri(rule: &RuleRuntime, host: Option<&HeaderValue>, origin: &Uri) -> Uri {
    let scheme = if rule.forward_type.is_tls() {
        "https"
    } else {
        "http"
    };
    let authority = host
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.parse::<http::uri::Authority>().is_ok())
        .map(str::to_owned)
        .or_else(|| rule.upstream.targets.first().map(|t| t.addr.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    let pq = origin.path_and_query().map_or("/", |pq| pq.as_str());
    format!("{scheme}://{authority}{pq}")
        .parse()
        .unwrap_or_else(|_| origin.clone())
}

/// Whether an error is an HTTP/2 stream the target refused unprocessed.
fn refused_stream(error: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM) || h2.is_go_away();
        }
        source = e.source();
    }
    false
}

/// The headers a target receives: the client's, minus hop-by-hop ones,
/// those [`remove_client_only`] removes and framing (the body is framed
/// when sent: exactly one framing), with Host
/// from the authority when the request carried one, else `$host` when it
/// has none (an HTTP/1.0 request without one, or a `Connection` field that
/// named it: an HTTP/1.1 request must carry one). Returns stgw's
/// additions, which are not in the map yet.
fn prepare_headers(
    headers: &mut HeaderMap,
    uri: &Uri,
    conn: &ClientConn,
    rule: &RuleRuntime,
    facts: &Facts<'_>,
) -> Forwarding {
    crate::hop_by_hop::remove(headers);
    remove_client_only(headers);
    headers.remove(header::CONTENT_LENGTH);
    if let Some(authority) = uri.authority()
        && let Ok(v) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, v);
    } else if !headers.contains_key(header::HOST)
        && let Ok(v) = HeaderValue::from_str(facts.host)
    {
        headers.insert(header::HOST, v);
    }
    join_cookies(headers);
    Forwarding::take(
        headers,
        &ClientFacts {
            ip: conn.remote.ip(),
            ip_value: &conn.remote_ip,
            real_ip: facts.client,
            scheme: conn.scheme,
            request_id: facts.request_id,
            client_ip: rule.client_ip,
        },
    )
}

/// The client's response: the target's (without hop-by-hop headers, or
/// its `Server` and `Date`: each attempt removed them; [`super::handle`]
/// adds stgw's `Server`, the server that answers its `Date`), with
/// `proxy_redirect` applied, its body streamed and, when eligible,
/// compressed.
fn response(
    mut parts: http::response::Parts,
    body: UpstreamBody,
    custom: &CustomConfig,
    gzip: Option<GzipRequest>,
    active: crate::balance::ActiveRequest,
) -> Response<ResponseBody> {
    if custom.proxy_redirect_https {
        rewrite_redirects(&mut parts.headers);
    }
    let level = gzip.and_then(|g| g.respond(parts.status, &mut parts.headers));
    let body = ResponseBody::upstream(
        body,
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

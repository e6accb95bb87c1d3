//! The `[admin]` listener: HTTP/1.1 (over TLS with `[admin] certificate`)
//! on its own socket, one router.
//!
//! `/` takes API calls (POST JSON with `X-TC-*` headers and a TC3
//! signature, or GET / form POST with v1 parameters). Every call is
//! authenticated before anything else is looked at. `/metrics`,
//! `/status` and `/status.json` are the observability pages
//! ([`crate::observe::admin`]): open on a loopback listener, HTTP basic
//! with the API credentials otherwise.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::actions::{self, Api};
use super::envelope;
use super::error::{ApiError, Code};
use super::params::form_to_json;
use super::sign::{self, Params, SignedRequest};

/// The API version every call must name.
pub const VERSION: &str = "2018-03-17";

/// The largest request body read (the product's limit for TC3 POST).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The credentials the admin listener accepts.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// SecretId → SecretKey.
    pub keys: HashMap<String, String>,
}

/// Serves the admin API on `listener` (over TLS when `tls` is given) until
/// the task is dropped or aborted. It stops accepting once a newer process
/// has taken the socket over (a binary upgrade), so writes go to the new
/// process only.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    api: Arc<Api>,
    creds: Arc<Credentials>,
) {
    let runtime = api.store.runtime().clone();
    let local = listener.local_addr().ok();
    let loopback = local.is_some_and(|a| a.ip().is_loopback());
    let mut accept_failures = crate::listener::AcceptFailures::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = runtime.handed_over() => {
                tracing::info!("admin API handed over to the new process");
                return;
            }
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                accept_failures.back_off(local, &e).await;
                continue;
            }
        };
        let client = Client {
            api: api.clone(),
            creds: creds.clone(),
            peer,
            loopback,
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => client.serve(stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => client.serve(stream).await,
                        Ok(Err(e)) => tracing::debug!(%peer, "admin TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "admin TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// One admin connection's context.
struct Client {
    api: Arc<Api>,
    creds: Arc<Credentials>,
    peer: SocketAddr,
    loopback: bool,
}

impl Client {
    /// Serves HTTP/1.1 on `io` until the client closes.
    async fn serve<IO>(self, io: IO)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let this = Arc::new(self);
        let service = service_fn(move |req| {
            let this = this.clone();
            async move {
                let resp = route(&this.api, &this.creds, this.peer, this.loopback, req).await;
                Ok::<_, Infallible>(resp)
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(io), service)
            .await;
    }
}

/// The router: one arm per path.
async fn route(
    api: &Api,
    creds: &Credentials,
    peer: SocketAddr,
    loopback: bool,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/" => api_call(api, creds, peer, req).await,
        path @ ("/metrics" | "/status" | "/status.json") => {
            let page = crate::observe::admin::PageRequest {
                path,
                query: req.uri().query(),
                headers: req.headers(),
                loopback,
            };
            crate::observe::admin::serve(api.store.runtime(), &creds.keys, page)
        }
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json(value: &Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    // Exactly this value: the vendor's SDKs look for errors only when the
    // Content-Type is literally `application/json`.
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// One API call: authenticate, check the version, run the action, wrap
/// the result in the product's envelope.
async fn api_call(
    api: &Api,
    creds: &Credentials,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = envelope::request_id();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let e = ApiError::new(
                Code::InvalidParameter,
                "the request body is unreadable or larger than 10 MiB",
            );
            return json(&envelope::failure(&e, &request_id));
        }
    };
    let outcome = call(api, creds, &parts, &body, &request_id).await;
    match outcome {
        Ok((action, output)) => {
            tracing::info!(%peer, action, request_id, "admin call succeeded");
            json(&envelope::success(output, &request_id))
        }
        Err((action, e)) => {
            tracing::info!(%peer, action, request_id, code = e.code.as_str(), "admin call refused: {}", e.message);
            json(&envelope::failure(&e, &request_id))
        }
    }
}

async fn call(
    api: &Api,
    creds: &Credentials,
    parts: &http::request::Parts,
    body: &[u8],
    request_id: &str,
) -> Result<(String, Value), (String, ApiError)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let signed = SignedRequest {
        method: &parts.method,
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body,
    };
    let auth = sign::authenticate(&signed, &creds.keys, now)
        .map_err(|e| (String::new(), ApiError::from(e)))?;
    let action = auth.action.clone();
    let fail = |e: ApiError| (action.clone(), e);
    if auth.version != VERSION {
        return Err(fail(ApiError::new(
            Code::NoSuchVersion,
            format!(
                "Version {:?} does not exist: this API is {VERSION}",
                auth.version
            ),
        )));
    }
    let params = action_params(auth.params, &parts.method, body).map_err(fail)?;
    let output = actions::dispatch(api, &action, params, request_id)
        .await
        .map_err(fail)?;
    Ok((action, output))
}

/// The action's input as one JSON value, from an authenticated request:
/// the JSON body of a TC3 POST (a blank body is `{}`), nothing for a TC3
/// GET without parameters, or the form pairs of a v1 request or TC3 GET
/// nested by [`form_to_json`]. A body that is not JSON, or pairs that do
/// not nest, give `FormatError`; never panics on input.
pub fn action_params(params: Params, method: &Method, body: &[u8]) -> Result<Value, ApiError> {
    match params {
        Params::Json if method == Method::POST => parse_json(body),
        Params::Json => Ok(Value::Object(Default::default())),
        Params::Form(pairs) => form_to_json(&pairs),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            Code::FormatError,
            format!("the request body is not valid JSON: {e}"),
        )
    })
}

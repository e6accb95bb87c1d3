//! `error_page`: what replaces stgw's own error answers.
//!
//! Only errors stgw generates are replaced (as nginx with
//! `proxy_intercept_errors off`): a target's 404 passes through as is.
//!
//! * A URL target is a redirect: `Location` is the URL, the status 302 or
//!   the `=code` given.
//! * A local URI is served *internally*: it is routed like a request for
//!   that URI on the same listener with the same Host (domain, then URL
//!   rule), sent as a body-less `GET` (`HEAD` stays `HEAD`) with the
//!   client's headers, and its answer — from a target, or stgw's redirect
//!   if the URI's rule redirects — is returned with the error's status, the
//!   page's own status (`=`), or the `=code` given. If serving the page
//!   fails, the answer is stgw's page for *that* failure, with no further
//!   `error_page` (nginx's `recursive_error_pages off`).

use http::HeaderValue;
use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Uri, Version};

use super::body::ResponseBody;
use super::error::{self, ProxyError};
use super::redirect;
use crate::config::custom::{ErrorPage, ErrorPageResponse, ErrorPageTarget};
use crate::listener::conn::ClientConn;
use crate::runtime::snapshot::ListenerRuntime;

/// The parts of a request an error page needs, kept before the request is
/// consumed (only when `error_page` is configured).
#[derive(Debug)]
pub(super) struct Origin {
    method: Method,
    version: Version,
    uri: Uri,
    headers: HeaderMap,
}

impl Origin {
    /// Copies what an internal request for an error page needs.
    pub(super) fn of(req: &http::request::Parts) -> Origin {
        Origin {
            method: req.method.clone(),
            version: req.version,
            uri: req.uri.clone(),
            headers: req.headers.clone(),
        }
    }
}

/// The answer replacing stgw's own `status` answer by `page`.
pub(super) async fn answer(
    conn: &ClientConn,
    listener: &ListenerRuntime,
    page: &ErrorPage,
    status: StatusCode,
    origin: Origin,
    request_id: &HeaderValue,
) -> http::Response<ResponseBody> {
    match &page.target {
        ErrorPageTarget::Redirect(url) => {
            let code = match page.response {
                ErrorPageResponse::Code(c) => c,
                ErrorPageResponse::Keep | ErrorPageResponse::Auto => 302,
            };
            redirect::to(StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND), url)
        }
        ErrorPageTarget::Local(uri) => {
            match internal(conn, listener, uri, origin, request_id).await {
                Ok(mut resp) => {
                    let new = match page.response {
                        ErrorPageResponse::Keep => Some(status),
                        ErrorPageResponse::Auto => None,
                        ErrorPageResponse::Code(c) => StatusCode::from_u16(c).ok(),
                    };
                    if let Some(s) = new {
                        *resp.status_mut() = s;
                    }
                    resp
                }
                Err(e) => {
                    tracing::debug!(error = %e, page = %uri, "error page failed");
                    error::generated(e.status(), false)
                }
            }
        }
    }
}

/// Fetches the local URI `target` as a body-less request.
async fn internal(
    conn: &ClientConn,
    listener: &ListenerRuntime,
    target: &str,
    origin: Origin,
    request_id: &HeaderValue,
) -> Result<http::Response<ResponseBody>, ProxyError> {
    let path_and_query: Uri = target
        .parse()
        .map_err(|_| ProxyError::Internal(format!("error_page URI {target:?} is not a URI")))?;
    // Keep the authority of an absolute-form request (it is the host).
    let mut uri = http::uri::Builder::new();
    if let (Some(scheme), Some(authority)) = (origin.uri.scheme(), origin.uri.authority()) {
        uri = uri.scheme(scheme.clone()).authority(authority.clone());
    }
    let uri = uri
        .path_and_query(
            path_and_query
                .path_and_query()
                .map_or(target, |pq| pq.as_str()),
        )
        .build()
        .map_err(|e| ProxyError::Internal(e.to_string()))?;
    let mut req = http::Request::new(());
    *req.method_mut() = if origin.method == Method::HEAD {
        Method::HEAD
    } else {
        Method::GET
    };
    *req.version_mut() = origin.version;
    *req.uri_mut() = uri;
    let mut headers = origin.headers;
    for name in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::EXPECT,
        header::CONTENT_TYPE,
    ] {
        headers.remove(name);
    }
    *req.headers_mut() = headers;
    let (mut parts, ()) = req.into_parts();
    // The request is counted and logged under its original route.
    let mut internal = crate::observe::RouteTrace::default();
    let payload = super::Payload::Internal;
    super::dispatch(
        conn,
        listener,
        &mut parts,
        payload,
        request_id,
        &mut internal,
    )
    .await
}

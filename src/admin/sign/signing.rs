//! Signing requests as the vendor's SDKs and CLI do, for the tests and the
//! CLI.

use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::primitives::{percent_encode, utc_date};
use super::tc3::{canonical_request, tc3_signature};
use super::v1::{v1_signature, v1_string_to_sign};
use super::{
    SERVICE, TC3_ALGORITHM, TC3_TERMINATOR, V1Method, X_TC_ACTION, X_TC_REGION, X_TC_TIMESTAMP,
    X_TC_VERSION,
};

/// Returns the headers the vendor's Python SDK sends for a TC3 JSON call: POST,
/// `Content-Type: application/json`, `Host: <host>`, `X-TC-Action`, `X-TC-Version`,
/// `X-TC-Timestamp`, `X-TC-Region` (when given) and `Authorization` with
/// `SignedHeaders=content-type;host` and service [`SERVICE`].
///
/// `host` is the endpoint as the client was given it (e.g. `127.0.0.1:9180`). Values that
/// are not valid header values are left out, and the request then fails authentication.
#[allow(clippy::too_many_arguments)]
pub fn sign_tc3(
    secret_id: &str,
    secret_key: &str,
    host: &str,
    action: &str,
    version: &str,
    region: Option<&str>,
    timestamp: i64,
    payload: &[u8],
) -> HeaderMap {
    let request = Tc3Request {
        method: &Method::POST,
        host,
        content_type: "application/json",
        query: "",
        payload,
        action,
        version,
        region,
        timestamp,
        extra_signed_headers: &[],
    };
    sign_tc3_request(secret_id, secret_key, &request)
}

/// A TC3 request to sign with [`sign_tc3_request`].
#[derive(Debug, Clone, Copy)]
pub struct Tc3Request<'a> {
    /// GET (query in `query`, empty payload signed) or POST (`query` ignored, body signed).
    pub method: &'a Method,
    /// The `Host` header value.
    pub host: &'a str,
    /// The `Content-Type` header value, e.g. `application/json; charset=utf-8`.
    pub content_type: &'a str,
    /// The raw (already percent-encoded) query string of a GET request.
    pub query: &'a str,
    /// The body of a POST request.
    pub payload: &'a [u8],
    /// `X-TC-Action`.
    pub action: &'a str,
    /// `X-TC-Version`.
    pub version: &'a str,
    /// `X-TC-Region`, left out when `None`.
    pub region: Option<&'a str>,
    /// `X-TC-Timestamp`; the credential date is its UTC date.
    pub timestamp: i64,
    /// Headers set by this function to sign besides `content-type` and `host`, lower-case
    /// (e.g. `["x-tc-action"]`); a name that is not set makes the signature unusable.
    pub extra_signed_headers: &'a [&'a str],
}

/// Signs `request` with TC3-HMAC-SHA256 and returns all its headers, `Authorization` included
/// (left out only if the signature cannot be computed).
pub fn sign_tc3_request(secret_id: &str, secret_key: &str, request: &Tc3Request) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let timestamp = request.timestamp.to_string();
    put(&mut headers, CONTENT_TYPE.as_str(), request.content_type);
    put(&mut headers, HOST.as_str(), request.host);
    put(&mut headers, X_TC_ACTION, request.action);
    put(&mut headers, X_TC_VERSION, request.version);
    put(&mut headers, X_TC_TIMESTAMP, &timestamp);
    if let Some(region) = request.region {
        put(&mut headers, X_TC_REGION, region);
    }
    let mut signed: Vec<String> = ["content-type", "host"]
        .into_iter()
        .chain(request.extra_signed_headers.iter().copied())
        .map(str::to_ascii_lowercase)
        .collect();
    signed.sort();
    signed.dedup();
    if let Some(authorization) =
        tc3_authorization(secret_id, secret_key, request, &headers, &signed)
    {
        put(&mut headers, AUTHORIZATION.as_str(), &authorization);
    }
    headers
}

/// The `Authorization` value for `request`, whose other headers are already in `headers`.
fn tc3_authorization(
    secret_id: &str,
    secret_key: &str,
    request: &Tc3Request,
    headers: &HeaderMap,
    signed: &[String],
) -> Option<String> {
    let is_get = request.method == Method::GET;
    let query = if is_get { request.query } else { "" };
    let payload = if is_get { &b""[..] } else { request.payload };
    let canonical =
        canonical_request(request.method.as_str(), query, headers, signed, payload).ok()?;
    let date = utc_date(request.timestamp);
    let timestamp = request.timestamp.to_string();
    let signature = tc3_signature(secret_key, &date, SERVICE, &timestamp, &canonical)?;
    Some(format!(
        "{TC3_ALGORITHM} Credential={secret_id}/{date}/{SERVICE}/{TC3_TERMINATOR}, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    ))
}

/// Inserts a header, skipping names or values that are not valid.
pub(super) fn put(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.insert(name, value);
    }
}

/// Signs a v1 request and returns the percent-encoded (RFC 3986, upper-case hex) query string
/// or form body: `params` in the given order, then `Signature`.
///
/// `params` must contain the common parameters (`Action`, `Version`, `Region`, `SecretId`,
/// `Timestamp`, `Nonce`); with [`V1Method::HmacSha256`] a `SignatureMethod=HmacSHA256` pair
/// is appended unless present. `host` is the `Host` header value the request will carry
/// (signed without surrounding blanks, as the server reads it) and `method` its method (GET
/// for a query string, POST for a form body).
pub fn sign_v1(
    method: &Method,
    host: &str,
    secret_key: &str,
    signature_method: V1Method,
    params: &[(&str, &str)],
) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let has_method = pairs.iter().any(|(k, _)| k == "SignatureMethod");
    if signature_method == V1Method::HmacSha256 && !has_method {
        pairs.push(("SignatureMethod".into(), "HmacSHA256".into()));
    }
    let string_to_sign = v1_string_to_sign(method.as_str(), host.trim(), &pairs);
    if let Some(signature) = v1_signature(secret_key, &string_to_sign, signature_method) {
        pairs.push(("Signature".into(), signature));
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    encoded.join("&")
}

//! Authentication of management-API requests, compatible with the vendor's
//! CLB API 3.0 (version 2018-03-17) signing schemes.
//!
//! Two schemes are accepted, exactly as the vendor's SDKs and CLI produce them:
//!
//! * **TC3-HMAC-SHA256** ("signature v3"): common parameters travel in
//!   `X-TC-*` headers and the signature in `Authorization`. This is what the
//!   official SDKs send by default (POST, `Content-Type: application/json`,
//!   `SignedHeaders=content-type;host`, service `clb`).
//! * **HmacSHA1 / HmacSHA256** ("signature v1"): every parameter, the common
//!   ones included, travels in the query string (GET) or in an
//!   `application/x-www-form-urlencoded` body (POST).
//!
//! The module only decides *who* is calling and *whether the request is
//! intact*. Whether the action or the version exists, and whether the region
//! is served, is the caller's decision (`InvalidAction`, `NoSuchVersion`,
//! `UnsupportedRegion`).

use std::collections::HashMap;

use crate::encoding::{base64, hex};
use hmac::{Hmac, KeyInit, Mac};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The service name that TC3 credential scopes must carry (`<date>/clb/tc3_request`).
pub const SERVICE: &str = "clb";

/// The largest accepted difference, in seconds, between the request's timestamp
/// and the server clock; one second more gives `AuthFailure.SignatureExpire`.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// The algorithm name of signature v3, as it opens the `Authorization` header.
pub const TC3_ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The terminator of a TC3 credential scope.
const TC3_TERMINATOR: &str = "tc3_request";

/// The `X-TC-Content-SHA256` value with which the SDK opts out of signing the body.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The longest SecretId accepted as well-formed.
const MAX_SECRET_ID_LEN: usize = 128;

/// Parameter names that are envelope, not action input: removed from [`Params::Form`].
/// `RequestClient` and `Language` are added by the vendor's SDK in v1 requests.
pub const COMMON_PARAMS: [&str; 11] = [
    "Action",
    "Region",
    "Timestamp",
    "Nonce",
    "SecretId",
    "Signature",
    "Version",
    "SignatureMethod",
    "Token",
    "RequestClient",
    "Language",
];

const X_TC_ACTION: &str = "x-tc-action";
const X_TC_VERSION: &str = "x-tc-version";
const X_TC_REGION: &str = "x-tc-region";
const X_TC_TIMESTAMP: &str = "x-tc-timestamp";
const X_TC_TOKEN: &str = "x-tc-token";
const X_TC_CONTENT_SHA256: &str = "x-tc-content-sha256";

const FORM_URLENCODED: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// The raw pieces of an incoming API request, as the admin HTTP handler received them.
///
/// `query` is the raw query string without the leading `?` (empty when there is none);
/// `body` is the complete request body. `headers` must carry `Host`: for HTTP/2 requests the
/// caller copies the `:authority` into a `host` header before calling [`authenticate`].
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The request method; only GET and POST are accepted.
    pub method: &'a Method,
    /// The raw query string, without `?`, exactly as received (still percent-encoded).
    pub query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The complete request body.
    pub body: &'a [u8],
}

/// A credential store: maps a SecretId to its SecretKey, or `None` when the id is unknown.
pub trait Credentials {
    /// Returns the SecretKey of `secret_id`, or `None` when no such id is configured.
    fn secret_key(&self, secret_id: &str) -> Option<&str>;
}

/// A map from SecretId to SecretKey is a credential store.
impl Credentials for HashMap<String, String> {
    fn secret_key(&self, secret_id: &str) -> Option<&str> {
        self.get(secret_id).map(String::as_str)
    }
}

/// The HMAC of a v1 signature: SHA-1 unless the request says `SignatureMethod=HmacSHA256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Method {
    /// `HmacSHA1`, the default.
    HmacSha1,
    /// `HmacSHA256`, selected by `SignatureMethod=HmacSHA256`.
    HmacSha256,
}

/// Which signing scheme a request was authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// TC3-HMAC-SHA256 (common parameters in `X-TC-*` headers).
    Tc3,
    /// HmacSHA1 / HmacSHA256 (common parameters in the query string or form body).
    V1 {
        /// The HMAC that was verified.
        method: V1Method,
    },
}

/// Where the action's own parameters are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Params {
    /// The request body is the JSON payload (TC3 POST). The Content-Type is not checked here.
    Json,
    /// Decoded name/value pairs in the order received, from the query string (GET) or the form
    /// body (v1 POST), with the common parameters ([`Authenticated`]'s fields, `Nonce`,
    /// `Signature`, `SignatureMethod`, `Token`, `RequestClient`, `Language`) removed.
    Form(Vec<(String, String)>),
}

/// A request whose signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The action name (`X-TC-Action` or `Action`), not checked against any list.
    pub action: String,
    /// The API version (`X-TC-Version` or `Version`), not checked against any list.
    pub version: String,
    /// The region (`X-TC-Region` or `Region`); `None` when absent or empty.
    pub region: Option<String>,
    /// The SecretId whose key verified the signature.
    pub secret_id: String,
    /// The scheme that was verified.
    pub style: Style,
    /// Where the action's parameters are.
    pub params: Params,
    /// `false` only for a TC3 request sent with `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`, whose
    /// body is therefore not covered by the signature; `true` otherwise.
    pub payload_signed: bool,
}

/// Why a request was not authenticated. Each variant is one of the product's error codes
/// ([`AuthError::code`]); `Display` gives the human message ([`AuthError::message`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `AuthFailure.SignatureFailure`: the signature does not match, or the `Authorization`
    /// header / credential scope is malformed. The string says which.
    #[error(
        "The provided credentials could not be validated: {0}. Please check your signature is correct."
    )]
    SignatureFailure(String),
    /// `AuthFailure.SecretIdNotFound`: the (well-formed) SecretId is not configured.
    #[error("The SecretId is not found; please check that the SecretId is correct.")]
    SecretIdNotFound(String),
    /// `AuthFailure.SignatureExpire`: the request timestamp is more than
    /// [`MAX_CLOCK_SKEW_SECS`] away from the server clock.
    #[error(
        "Signature expired: timestamp {timestamp} differs from the server time {now} by more than 300 seconds."
    )]
    SignatureExpire {
        /// The request's timestamp.
        timestamp: i64,
        /// The server time it was compared with.
        now: i64,
    },
    /// `AuthFailure.InvalidSecretId`: the SecretId is not of the accepted form.
    #[error("Invalid SecretId: {0}.")]
    InvalidSecretId(String),
    /// `AuthFailure.TokenFailure`: a temporary-credential token was sent; this server only
    /// supports long-term SecretId/SecretKey pairs.
    #[error(
        "Temporary credentials are not supported: remove the token (X-TC-Token / Token) and use a long-term SecretId and SecretKey."
    )]
    TokenFailure,
    /// `MissingParameter`: a required header or parameter is absent; the string names it.
    #[error("The request is missing a required parameter `{0}`.")]
    MissingParameter(String),
    /// `InvalidParameter`: a common header or parameter is present but unusable
    /// (non-integer timestamp, bad percent-encoding, non-UTF-8 form body, ...).
    #[error("Invalid parameter `{name}`: {reason}.")]
    InvalidParameter {
        /// The header or parameter name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `UnsupportedProtocol`: a method other than GET or POST.
    #[error("HTTP method {0} is not supported; only GET and POST are.")]
    UnsupportedProtocol(String),
}

impl AuthError {
    /// The product error code to put in `Response.Error.Code`.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::SignatureFailure(_) => "AuthFailure.SignatureFailure",
            AuthError::SecretIdNotFound(_) => "AuthFailure.SecretIdNotFound",
            AuthError::SignatureExpire { .. } => "AuthFailure.SignatureExpire",
            AuthError::InvalidSecretId(_) => "AuthFailure.InvalidSecretId",
            AuthError::TokenFailure => "AuthFailure.TokenFailure",
            AuthError::MissingParameter(_) => "MissingParameter",
            AuthError::InvalidParameter { .. } => "InvalidParameter",
            AuthError::UnsupportedProtocol(_) => "UnsupportedProtocol",
        }
    }

    /// The human text to put in `Response.Error.Message` (clients must not parse it).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// Authenticates `req` against `creds` at server time `now_unix` (seconds).
///
/// A request with an `Authorization` header is verified as TC3-HMAC-SHA256; any other GET, or
/// a POST whose Content-Type is `application/x-www-form-urlencoded`, as signature v1 (whose
/// parameters are read from the query string for GET and from the body only for POST). Returns
/// the action, version, region, SecretId and parameters on success; never panics on input.
/// Checks, in order: method, `Authorization` syntax and SecretId form, required common
/// parameters, token, clock skew, credential scope, SecretId lookup, signature.
pub fn authenticate(
    req: &SignedRequest,
    creds: &dyn Credentials,
    now_unix: i64,
) -> Result<Authenticated, AuthError> {
    if req.method != Method::GET && req.method != Method::POST {
        return Err(AuthError::UnsupportedProtocol(req.method.to_string()));
    }
    if let Some(authorization) = req.headers.get(AUTHORIZATION) {
        return authenticate_tc3(req, authorization.as_bytes(), creds, now_unix);
    }
    if req.method == Method::POST && !is_form_post(req.headers) {
        return Err(AuthError::MissingParameter("Authorization".into()));
    }
    authenticate_v1(req, creds, now_unix)
}

/// True when the request's Content-Type media type is `application/x-www-form-urlencoded`.
fn is_form_post(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|media| media.eq_ignore_ascii_case(FORM_URLENCODED))
}

/// Rejects timestamps more than [`MAX_CLOCK_SKEW_SECS`] away from `now`.
fn check_clock(timestamp: i64, now: i64) -> Result<(), AuthError> {
    if timestamp.abs_diff(now) > MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::SignatureExpire { timestamp, now });
    }
    Ok(())
}

/// Accepts 1–128 characters of ASCII letters, digits, `-` and `_`.
fn check_secret_id(id: &str) -> Result<(), AuthError> {
    if id.is_empty() {
        return Err(AuthError::InvalidSecretId("it is empty".into()));
    }
    if id.len() > MAX_SECRET_ID_LEN {
        return Err(AuthError::InvalidSecretId(
            "it is longer than 128 characters".into(),
        ));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AuthError::InvalidSecretId(
            "it may contain only ASCII letters, digits, '-' and '_'".into(),
        ));
    }
    Ok(())
}

/// Looks the SecretKey up, mapping an unknown id to `AuthFailure.SecretIdNotFound`.
fn lookup<'c>(creds: &'c dyn Credentials, secret_id: &str) -> Result<&'c str, AuthError> {
    creds
        .secret_key(secret_id)
        .ok_or_else(|| AuthError::SecretIdNotFound(secret_id.to_owned()))
}

/// Parses a decimal UNIX timestamp named `name`.
fn parse_timestamp(name: &str, value: &str) -> Result<i64, AuthError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| AuthError::InvalidParameter {
            name: name.to_owned(),
            reason: "must be an integer UNIX timestamp in seconds".into(),
        })
}

/// Constant-time equality: the time taken depends on the lengths only.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Removes the common parameters, keeping the others in order.
fn strip_common(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .filter(|(k, _)| !COMMON_PARAMS.contains(&k.as_str()))
        .collect()
}

// ----- TC3 -----------------------------------------------------------------------------------

/// The parts of a TC3 `Authorization` header.
#[derive(Debug)]
struct Tc3Authorization {
    secret_id: String,
    date: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
}

/// The common headers of a TC3 request.
struct Tc3Common {
    action: String,
    version: String,
    region: Option<String>,
    timestamp: i64,
    timestamp_raw: String,
}

/// Verifies a TC3-HMAC-SHA256 request.
fn authenticate_tc3(
    req: &SignedRequest,
    authorization: &[u8],
    creds: &dyn Credentials,
    now: i64,
) -> Result<Authenticated, AuthError> {
    let auth = parse_tc3_authorization(authorization)?;
    let common = tc3_common_headers(req.headers)?;
    if has_nonempty(req.headers, X_TC_TOKEN) {
        return Err(AuthError::TokenFailure);
    }
    check_clock(common.timestamp, now)?;
    check_credential_scope(&auth, common.timestamp)?;
    let secret_key = lookup(creds, &auth.secret_id)?;
    let unsigned = is_unsigned_payload(req.headers);
    let canonical = tc3_canonical_request(req, &auth.signed_headers, unsigned)?;
    let expected = tc3_signature(
        secret_key,
        &auth.date,
        &auth.service,
        &common.timestamp_raw,
        &canonical,
    )
    .ok_or_else(|| AuthError::SignatureFailure("the signing key could not be derived".into()))?;
    if !ct_eq(
        expected.as_bytes(),
        auth.signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(AuthError::SignatureFailure("signature mismatch".into()));
    }
    Ok(Authenticated {
        action: common.action,
        version: common.version,
        region: common.region,
        secret_id: auth.secret_id,
        style: Style::Tc3,
        params: tc3_params(req)?,
        payload_signed: !unsigned,
    })
}

/// TC3 parameters: the JSON body for POST, the decoded query for GET.
fn tc3_params(req: &SignedRequest) -> Result<Params, AuthError> {
    if req.method == Method::GET {
        Ok(Params::Form(strip_common(parse_form(req.query)?)))
    } else {
        Ok(Params::Json)
    }
}

/// Parses `TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
/// SignedHeaders=<a;b>, Signature=<hex>` (fields in any order, spaces around commas optional).
fn parse_tc3_authorization(raw: &[u8]) -> Result<Tc3Authorization, AuthError> {
    let malformed =
        |what: &str| AuthError::SignatureFailure(format!("malformed Authorization: {what}"));
    let text = std::str::from_utf8(raw).map_err(|_| malformed("not UTF-8"))?;
    let rest = text
        .trim()
        .strip_prefix(TC3_ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| malformed("the scheme must be TC3-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let (key, value) = field
            .trim()
            .split_once('=')
            .ok_or_else(|| malformed("a field is not key=value"))?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => return Err(malformed("unknown field")),
        }
    }
    let credential = credential.ok_or_else(|| malformed("no Credential"))?;
    let signed = signed.ok_or_else(|| malformed("no SignedHeaders"))?;
    let signature = signature.ok_or_else(|| malformed("no Signature"))?;
    let (secret_id, date, service) = parse_credential(credential)?;
    check_secret_id(secret_id)?;
    Ok(Tc3Authorization {
        secret_id: secret_id.to_owned(),
        date: date.to_owned(),
        service: service.to_owned(),
        signed_headers: parse_signed_headers(signed)?,
        signature: signature.to_owned(),
    })
}

/// Splits `<id>/<date>/<service>/tc3_request`.
fn parse_credential(credential: &str) -> Result<(&str, &str, &str), AuthError> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [id, date, service, TC3_TERMINATOR] => Ok((id, date, service)),
        _ => Err(AuthError::SignatureFailure(
            "malformed Authorization: Credential must be <SecretId>/<Date>/<service>/tc3_request"
                .into(),
        )),
    }
}

/// Splits `a;b;c` into lower-cased names; requires `content-type` and `host` among them.
fn parse_signed_headers(list: &str) -> Result<Vec<String>, AuthError> {
    let names: Vec<String> = list.split(';').map(str::to_ascii_lowercase).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(AuthError::SignatureFailure(
            "malformed Authorization: empty name in SignedHeaders".into(),
        ));
    }
    for required in ["content-type", "host"] {
        if !names.iter().any(|n| n == required) {
            return Err(AuthError::SignatureFailure(format!(
                "SignedHeaders must include {required}"
            )));
        }
    }
    Ok(names)
}

/// Requires the service to be [`SERVICE`] and the date to be the UTC date of the timestamp.
fn check_credential_scope(auth: &Tc3Authorization, timestamp: i64) -> Result<(), AuthError> {
    if auth.service != SERVICE {
        return Err(AuthError::SignatureFailure(format!(
            "the credential scope's service must be `{SERVICE}`"
        )));
    }
    let expected = utc_date(timestamp);
    if auth.date != expected {
        return Err(AuthError::SignatureFailure(format!(
            "the credential date {} is not the UTC date of X-TC-Timestamp ({expected})",
            auth.date
        )));
    }
    Ok(())
}

/// Reads X-TC-Action, X-TC-Version, X-TC-Timestamp (required) and X-TC-Region (optional).
fn tc3_common_headers(headers: &HeaderMap) -> Result<Tc3Common, AuthError> {
    let action = required_header(headers, X_TC_ACTION, "X-TC-Action")?;
    let version = required_header(headers, X_TC_VERSION, "X-TC-Version")?;
    let timestamp_raw = required_header(headers, X_TC_TIMESTAMP, "X-TC-Timestamp")?;
    let timestamp = parse_timestamp("X-TC-Timestamp", &timestamp_raw)?;
    let region = optional_header(headers, X_TC_REGION, "X-TC-Region")?;
    Ok(Tc3Common {
        action,
        version,
        region,
        timestamp,
        timestamp_raw,
    })
}

/// A present, non-empty, visible-ASCII header value, trimmed; `display` names it in errors.
fn required_header(headers: &HeaderMap, name: &str, display: &str) -> Result<String, AuthError> {
    optional_header(headers, name, display)?
        .ok_or_else(|| AuthError::MissingParameter(display.to_owned()))
}

/// The trimmed header value, or `None` when absent or empty.
fn optional_header(
    headers: &HeaderMap,
    name: &str,
    display: &str,
) -> Result<Option<String>, AuthError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| AuthError::InvalidParameter {
        name: display.to_owned(),
        reason: "must be visible ASCII".into(),
    })?;
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// True when header `name` is present with a non-blank value.
fn has_nonempty(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty())
}

/// True when the client opted out of signing the body (`X-TC-Content-SHA256: UNSIGNED-PAYLOAD`).
fn is_unsigned_payload(headers: &HeaderMap) -> bool {
    headers
        .get(X_TC_CONTENT_SHA256)
        .is_some_and(|v| v.as_bytes() == UNSIGNED_PAYLOAD.as_bytes())
}

/// Builds the canonical request from the received request.
///
/// Query string: the raw query for GET, empty for POST. Payload: empty for GET, the body for
/// POST, the literal `UNSIGNED-PAYLOAD` when the client asked for an unsigned payload.
fn tc3_canonical_request(
    req: &SignedRequest,
    signed_headers: &[String],
    unsigned_payload: bool,
) -> Result<Vec<u8>, AuthError> {
    let is_get = req.method == Method::GET;
    let payload: &[u8] = match (unsigned_payload, is_get) {
        (true, _) => UNSIGNED_PAYLOAD.as_bytes(),
        (false, true) => b"",
        (false, false) => req.body,
    };
    let query = if is_get { req.query } else { "" };
    canonical_request(
        req.method.as_str(),
        query,
        req.headers,
        signed_headers,
        payload,
    )
}

/// `METHOD \n / \n query \n name:value\n... \n a;b \n hex(sha256(payload))`, with header names
/// in the order listed in `signed_headers` and values trimmed and lower-cased (as the doc says).
fn canonical_request(
    method: &str,
    query: &str,
    headers: &HeaderMap,
    signed_headers: &[String],
    payload: &[u8],
) -> Result<Vec<u8>, AuthError> {
    let mut out = Vec::with_capacity(256);
    for part in [method, "/", query] {
        out.extend_from_slice(part.as_bytes());
        out.push(b'\n');
    }
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&canonical_header_value(headers, name)?);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hex(&Sha256::digest(payload)).as_bytes());
    Ok(out)
}

/// The single value of header `name`, trimmed and ASCII-lower-cased.
fn canonical_header_value(headers: &HeaderMap, name: &str) -> Result<Vec<u8>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let value = values
        .next()
        .ok_or_else(|| AuthError::MissingParameter(name.to_owned()))?;
    if values.next().is_some() {
        return Err(AuthError::SignatureFailure(format!(
            "signed header {name} appears more than once"
        )));
    }
    Ok(value.as_bytes().trim_ascii().to_ascii_lowercase())
}

/// `hex(HMAC(kSigning, "TC3-HMAC-SHA256\n<ts>\n<date>/<service>/tc3_request\nhex(sha256(cr))"))`
/// with `kSigning = HMAC(HMAC(HMAC("TC3"+key, date), service), "tc3_request")`.
fn tc3_signature(
    secret_key: &str,
    date: &str,
    service: &str,
    timestamp: &str,
    canonical: &[u8],
) -> Option<String> {
    let string_to_sign = format!(
        "{TC3_ALGORITHM}\n{timestamp}\n{date}/{service}/{TC3_TERMINATOR}\n{}",
        hex(&Sha256::digest(canonical))
    );
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes())?;
    let k_service = hmac_sha256(&k_date, service.as_bytes())?;
    let k_signing = hmac_sha256(&k_service, TC3_TERMINATOR.as_bytes())?;
    Some(hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes())?))
}

// ----- v1 ------------------------------------------------------------------------------------

/// The common parameters of a v1 request.
struct V1Common {
    action: String,
    version: String,
    region: Option<String>,
    secret_id: String,
    timestamp: i64,
    signature: String,
    method: V1Method,
}

/// Verifies a HmacSHA1 / HmacSHA256 request (query string for GET, form body for POST).
fn authenticate_v1(
    req: &SignedRequest,
    creds: &dyn Credentials,
    now: i64,
) -> Result<Authenticated, AuthError> {
    let pairs = parse_form(v1_raw_params(req)?)?;
    let common = v1_common_params(&pairs)?;
    check_secret_id(&common.secret_id)?;
    check_clock(common.timestamp, now)?;
    let secret_key = lookup(creds, &common.secret_id)?;
    let host = required_header(req.headers, HOST.as_str(), "Host")?;
    let string_to_sign = v1_string_to_sign(req.method.as_str(), &host, &pairs);
    let expected = v1_signature(secret_key, &string_to_sign, common.method)
        .ok_or_else(|| AuthError::SignatureFailure("the HMAC could not be computed".into()))?;
    if !ct_eq(expected.as_bytes(), common.signature.as_bytes()) {
        return Err(AuthError::SignatureFailure("signature mismatch".into()));
    }
    Ok(Authenticated {
        action: common.action,
        version: common.version,
        region: common.region,
        secret_id: common.secret_id,
        style: Style::V1 {
            method: common.method,
        },
        params: Params::Form(strip_common(pairs)),
        payload_signed: true,
    })
}

/// The raw parameter string: the query for GET, the UTF-8 body for POST.
fn v1_raw_params<'r>(req: &SignedRequest<'r>) -> Result<&'r str, AuthError> {
    if req.method == Method::GET {
        return Ok(req.query);
    }
    std::str::from_utf8(req.body).map_err(|_| AuthError::InvalidParameter {
        name: "body".into(),
        reason: "a form body must be UTF-8".into(),
    })
}

/// Extracts the common parameters; the first occurrence of a name wins.
fn v1_common_params(pairs: &[(String, String)]) -> Result<V1Common, AuthError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let require = |name: &str| {
        get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AuthError::MissingParameter(name.to_owned()))
    };
    let action = require("Action")?.to_owned();
    let version = require("Version")?.to_owned();
    let secret_id = require("SecretId")?.to_owned();
    let timestamp = parse_timestamp("Timestamp", require("Timestamp")?)?;
    require("Nonce")?;
    // '+' decodes to a space, but Base64 has no spaces: undo it for clients that did not
    // percent-encode the signature.
    let signature = require("Signature")?.replace(' ', "+");
    if get("Token").is_some_and(|t| !t.is_empty()) {
        return Err(AuthError::TokenFailure);
    }
    let method = match get("SignatureMethod") {
        Some("HmacSHA256") => V1Method::HmacSha256,
        _ => V1Method::HmacSha1,
    };
    Ok(V1Common {
        action,
        version,
        region: get("Region").filter(|r| !r.is_empty()).map(str::to_owned),
        secret_id,
        timestamp,
        signature,
        method,
    })
}

/// `METHOD + host + "/?" + k=v&...` over every parameter except `Signature`, sorted by name in
/// byte order, with raw (decoded) values. Like the vendor SDK, `_` in a name is signed as `.`.
fn v1_string_to_sign(method: &str, host: &str, pairs: &[(String, String)]) -> String {
    let mut signed: Vec<(String, &str)> = pairs
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (k.replace('_', "."), v.as_str()))
        .collect();
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    let query: Vec<String> = signed.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{method}{host}/?{}", query.join("&"))
}

/// `Base64(HMAC(secret_key, string_to_sign))` with SHA-1 or SHA-256.
fn v1_signature(secret_key: &str, string_to_sign: &str, method: V1Method) -> Option<String> {
    let key = secret_key.as_bytes();
    let msg = string_to_sign.as_bytes();
    let mac = match method {
        V1Method::HmacSha1 => hmac_sha1(key, msg)?,
        V1Method::HmacSha256 => hmac_sha256(key, msg)?,
    };
    Some(base64(&mac))
}

// ---------------------------------------------------------------------------------------------
// Signing (tests and CLI)
// ---------------------------------------------------------------------------------------------

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
fn put(headers: &mut HeaderMap, name: &str, value: &str) {
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

// ---------------------------------------------------------------------------------------------
// Small primitives: HMAC, hex, Base64, percent-coding, UTC dates
// ---------------------------------------------------------------------------------------------

/// HMAC-SHA256; `None` only if the MAC cannot be keyed (never for HMAC, handled anyway).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(msg);
    Some(mac.finalize().into_bytes().to_vec())
}

/// HMAC-SHA1; `None` only if the MAC cannot be keyed (never for HMAC, handled anyway).
fn hmac_sha1(key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(msg);
    Some(mac.finalize().into_bytes().to_vec())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, with upper-case hex.
fn percent_encode(text: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Splits `a=1&b=2` into decoded pairs (`+` is a space, `%XY` either case); a name without `=`
/// has an empty value and empty segments are skipped.
fn parse_form(raw: &str) -> Result<Vec<(String, String)>, AuthError> {
    raw.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

/// Decodes one form-urlencoded component into UTF-8 text.
fn percent_decode(text: &str) -> Result<String, AuthError> {
    let invalid = |reason: &str| AuthError::InvalidParameter {
        name: text.chars().take(64).collect(),
        reason: reason.to_owned(),
    };
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(hex_value);
                let lo = bytes.next().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                    _ => return Err(invalid("bad percent-encoding")),
                }
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| invalid("percent-decodes to invalid UTF-8"))
}

/// The value of one hexadecimal digit.
fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The UTC calendar date (`YYYY-MM-DD`) of a UNIX timestamp (proleptic Gregorian calendar).
fn utc_date(timestamp: i64) -> String {
    let (year, month, day) = civil_from_days(timestamp.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Converts days since 1970-01-01 into (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;

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

mod checks;
mod primitives;
mod signing;
mod tc3;
mod v1;

#[cfg(test)]
mod tests;

pub use signing::{Tc3Request, sign_tc3, sign_tc3_request, sign_v1};

use std::collections::HashMap;

use http::header::AUTHORIZATION;
use http::{HeaderMap, Method};

use self::checks::is_form_post;
use self::tc3::authenticate_tc3;
use self::v1::authenticate_v1;

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

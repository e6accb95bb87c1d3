//! Verifying a signature v1 request (HmacSHA1 or HmacSHA256): common
//! parameters and signature in the query string or a form body.

use http::Method;
use http::header::HOST;

use crate::encoding::base64;

use super::checks::{check_clock, check_secret_id, ct_eq, lookup, parse_timestamp, strip_common};
use super::primitives::{hmac_sha1, hmac_sha256, parse_form};
use super::tc3::required_header;
use super::{AuthError, Authenticated, Credentials, Params, SignedRequest, Style, V1Method};

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
pub(super) fn authenticate_v1(
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
pub(super) fn v1_string_to_sign(method: &str, host: &str, pairs: &[(String, String)]) -> String {
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
pub(super) fn v1_signature(
    secret_key: &str,
    string_to_sign: &str,
    method: V1Method,
) -> Option<String> {
    let key = secret_key.as_bytes();
    let msg = string_to_sign.as_bytes();
    let mac = match method {
        V1Method::HmacSha1 => hmac_sha1(key, msg)?,
        V1Method::HmacSha256 => hmac_sha256(key, msg)?,
    };
    Some(base64(&mac))
}

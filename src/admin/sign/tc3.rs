//! Verifying a TC3-HMAC-SHA256 request: the `Authorization` header, the
//! `X-TC-*` common headers, the credential scope and the canonical request.

use http::{HeaderMap, Method};
use sha2::{Digest, Sha256};

use crate::encoding::hex;

use super::checks::{check_clock, check_secret_id, ct_eq, lookup, parse_timestamp, strip_common};
use super::primitives::{hmac_sha256, parse_form, utc_date};
use super::{
    AuthError, Authenticated, Credentials, Params, SERVICE, SignedRequest, Style, TC3_ALGORITHM,
    TC3_TERMINATOR, UNSIGNED_PAYLOAD, X_TC_ACTION, X_TC_CONTENT_SHA256, X_TC_REGION,
    X_TC_TIMESTAMP, X_TC_TOKEN, X_TC_VERSION,
};

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
pub(super) fn authenticate_tc3(
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
pub(super) fn required_header(
    headers: &HeaderMap,
    name: &str,
    display: &str,
) -> Result<String, AuthError> {
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
pub(super) fn canonical_request(
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
pub(super) fn tc3_signature(
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

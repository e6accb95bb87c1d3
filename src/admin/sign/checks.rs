//! Checks both signing schemes share: the clock, the SecretId's form and
//! lookup, timestamps, the form-POST test, and a constant-time comparison.

use http::HeaderMap;
use http::header::CONTENT_TYPE;

use super::{
    AuthError, COMMON_PARAMS, Credentials, FORM_URLENCODED, MAX_CLOCK_SKEW_SECS, MAX_SECRET_ID_LEN,
};

/// True when the request's Content-Type media type is `application/x-www-form-urlencoded`.
pub(super) fn is_form_post(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|media| media.eq_ignore_ascii_case(FORM_URLENCODED))
}

/// Rejects timestamps more than [`MAX_CLOCK_SKEW_SECS`] away from `now`.
pub(super) fn check_clock(timestamp: i64, now: i64) -> Result<(), AuthError> {
    if timestamp.abs_diff(now) > MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::SignatureExpire { timestamp, now });
    }
    Ok(())
}

/// Accepts 1–128 characters of ASCII letters, digits, `-` and `_`.
pub(super) fn check_secret_id(id: &str) -> Result<(), AuthError> {
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
pub(super) fn lookup<'c>(
    creds: &'c dyn Credentials,
    secret_id: &str,
) -> Result<&'c str, AuthError> {
    creds
        .secret_key(secret_id)
        .ok_or_else(|| AuthError::SecretIdNotFound(secret_id.to_owned()))
}

/// Parses a decimal UNIX timestamp named `name`.
pub(super) fn parse_timestamp(name: &str, value: &str) -> Result<i64, AuthError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| AuthError::InvalidParameter {
            name: name.to_owned(),
            reason: "must be an integer UNIX timestamp in seconds".into(),
        })
}

/// Constant-time equality: the time taken depends on the lengths only.
pub(super) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Removes the common parameters, keeping the others in order.
pub(super) fn strip_common(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .filter(|(k, _)| !COMMON_PARAMS.contains(&k.as_str()))
        .collect()
}

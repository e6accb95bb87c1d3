//! HMAC, percent-coding, form decoding and UTC dates.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

use super::AuthError;
use crate::calendar::civil_from_days;

/// HMAC-SHA256; `None` only if the MAC cannot be keyed (never for HMAC, handled anyway).
pub(super) fn hmac_sha256(key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(msg);
    Some(mac.finalize().into_bytes().to_vec())
}

/// HMAC-SHA1; `None` only if the MAC cannot be keyed (never for HMAC, handled anyway).
pub(super) fn hmac_sha1(key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(msg);
    Some(mac.finalize().into_bytes().to_vec())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, with upper-case hex.
pub(super) fn percent_encode(text: &str) -> String {
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
pub(super) fn parse_form(raw: &str) -> Result<Vec<(String, String)>, AuthError> {
    raw.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

/// Decodes one form-urlencoded component into UTF-8 text.
pub(super) fn percent_decode(text: &str) -> Result<String, AuthError> {
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
pub(super) fn utc_date(timestamp: i64) -> String {
    let (year, month, day) = civil_from_days(timestamp.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

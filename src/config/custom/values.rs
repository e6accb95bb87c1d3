//! Times, sizes, whole numbers and flags in nginx's syntax, checked against a
//! directive's range; header name and value checks.

use std::time::Duration;

use super::builder::Directive;
use super::error::CustomConfigError;
use super::lexer::Token;
use super::{GIB, KIB, MIB};

const TIME_FORM: &str = "a time such as 60s, 2m, 1m30s or 500ms (units w, d, h, m, s, ms in decreasing order; a plain number means seconds)";
const SIZE_FORM: &str = "a size such as 512, 8k or 60M (plain bytes or k, m, g)";
const INTEGER_FORM: &str = "a whole number";
const FLAG_FORM: &str = "on or off";

pub(super) fn time_in_range(
    directive: &Directive<'_, '_>,
    token: &Token<'_>,
    min_secs: u64,
    max_secs: u64,
) -> Result<Duration, CustomConfigError> {
    let value = parse_time(&token.text).ok_or_else(|| directive.invalid(token, TIME_FORM))?;
    let range = Duration::from_secs(min_secs)..=Duration::from_secs(max_secs);
    if !range.contains(&value) {
        return Err(directive.out_of_range(token, format!("{min_secs}s–{max_secs}s")));
    }
    Ok(value)
}

pub(super) fn size_in_range(
    directive: &Directive<'_, '_>,
    token: &Token<'_>,
    unit: SizeUnit,
    min: u64,
    max: u64,
) -> Result<u64, CustomConfigError> {
    let value = parse_size(&token.text).ok_or_else(|| directive.invalid(token, SIZE_FORM))?;
    let range = min.saturating_mul(unit.bytes())..=max.saturating_mul(unit.bytes());
    if !range.contains(&value) {
        let suffix = unit.suffix();
        return Err(directive.out_of_range(token, format!("{min}{suffix}–{max}{suffix}")));
    }
    Ok(value)
}

pub(super) fn integer_in_range(
    directive: &Directive<'_, '_>,
    token: &Token<'_>,
    min: u64,
    max: u64,
) -> Result<u64, CustomConfigError> {
    let value = parse_integer(&token.text).ok_or_else(|| directive.invalid(token, INTEGER_FORM))?;
    if !(min..=max).contains(&value) {
        return Err(directive.out_of_range(token, format!("{min}–{max}")));
    }
    Ok(value)
}

/// `on` or `off`, in any case (nginx compares flags case-insensitively).
pub(super) fn parse_flag(
    directive: &Directive<'_, '_>,
    token: &Token<'_>,
) -> Result<bool, CustomConfigError> {
    if token.text.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if token.text.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        Err(directive.invalid(token, FLAG_FORM))
    }
}

/// The unit a size directive's range is expressed in.
#[derive(Clone, Copy)]
pub(super) enum SizeUnit {
    K,
    M,
}

impl SizeUnit {
    fn bytes(self) -> u64 {
        match self {
            SizeUnit::K => KIB,
            SizeUnit::M => MIB,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            SizeUnit::K => "k",
            SizeUnit::M => "M",
        }
    }
}

/// `bytes` in the largest unit that divides it: `512M`, `300k` or `1000`.
pub(super) fn display_size(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{}M", bytes / MIB)
    } else if bytes.is_multiple_of(KIB) {
        format!("{}k", bytes / KIB)
    } else {
        bytes.to_string()
    }
}

/// Digits only; saturates at `u64::MAX` so a huge number is "out of range"
/// rather than "invalid".
pub(super) fn parse_integer(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// nginx size: digits with an optional `k`/`m`/`g` suffix (either case).
pub(super) fn parse_size(text: &str) -> Option<u64> {
    let (digits, scale) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], KIB),
        b'm' | b'M' => (&text[..text.len() - 1], MIB),
        b'g' | b'G' => (&text[..text.len() - 1], GIB),
        _ => (text, 1),
    };
    parse_integer(digits).map(|n| n.saturating_mul(scale))
}

/// nginx time (as read by its millisecond directives): numbers each followed
/// by a unit, units in strictly decreasing order among `w d h m s ms`, with an
/// optional unit-less number at the end counted as seconds.
pub(super) fn parse_time(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total_ms: u64 = 0;
    let mut previous_unit_ms = u64::MAX;
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number = parse_integer(&rest[..digits_len])?;
        rest = &rest[digits_len..];
        let (unit_ms, unit_len) = time_unit(rest)?;
        let is_trailing_plain_number = unit_len == 0;
        if !is_trailing_plain_number {
            if unit_ms >= previous_unit_ms {
                return None;
            }
            previous_unit_ms = unit_ms;
        }
        total_ms = total_ms.saturating_add(number.saturating_mul(unit_ms));
        rest = &rest[unit_len..];
    }
    Some(Duration::from_millis(total_ms))
}

/// The unit at the start of `rest` as (milliseconds, length in bytes); an
/// empty `rest` means a plain number, which counts as seconds.
fn time_unit(rest: &str) -> Option<(u64, usize)> {
    // "ms" comes before "m" so that it matches first.
    const UNITS: [(&str, u64); 6] = [
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1_000),
    ];
    if rest.is_empty() {
        return Some((1_000, 0));
    }
    UNITS
        .iter()
        .find(|(unit, _)| rest.starts_with(unit))
        .map(|(unit, ms)| (*ms, unit.len()))
}

/// An HTTP field name (RFC 9110 token).
pub(super) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Text that can be sent as an HTTP field value: no control character other
/// than tab.
pub(super) fn is_field_value(text: &str) -> bool {
    text.chars()
        .all(|c| c == '\t' || (c >= ' ' && c != '\u{7f}'))
}

pub(super) const HEADER_NAME_FORM: &str =
    "a header name made of letters, digits and !#$%&'*+-.^_`|~";
pub(super) const HEADER_VALUE_FORM: &str =
    "a header value without control characters (CR, LF, ...)";

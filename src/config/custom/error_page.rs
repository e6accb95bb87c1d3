//! `error_page CODE ... [=[RESPONSE]] URI;`: the parsed form and its parser.

use super::builder::{Builder, Directive};
use super::error::CustomConfigError;
use super::lexer::Token;
use super::values::parse_integer;

/// One `error_page code ... [=[response]] uri;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    /// The statuses handled (each 300–599, never 499), in text order.
    pub codes: Vec<u16>,
    /// The status of the answer.
    pub response: ErrorPageResponse,
    /// What is served.
    pub target: ErrorPageTarget,
}

impl ErrorPage {
    /// True when this entry lists `status`.
    pub fn handles(&self, status: u16) -> bool {
        self.codes.contains(&status)
    }
}

/// The status of an `error_page` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPageResponse {
    /// No `=`: the answer keeps the error's status. (nginx answers 400 for
    /// its internal codes 495, 496 and 497.)
    Keep,
    /// `=` alone with a local target: the status of the page served.
    Auto,
    /// `=code`, or the redirect status of a URL target (302 unless a 3xx
    /// code was given).
    Code(u16),
}

/// What an `error_page` serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorPageTarget {
    /// A path starting with `/` (may carry `?query`), served internally.
    Local(String),
    /// An absolute `http://` or `https://` URL, sent as `Location`.
    Redirect(String),
}

const ERROR_CODE_FORM: &str = "an HTTP status code between 300 and 599";
const ERROR_TARGET_FORM: &str = "a path starting with \"/\" or an http:// or https:// URL, without spaces, control characters or \"$\" variables";
const ERROR_PAGE_ARGS: &str = "at least 2 arguments (CODE ... [=[RESPONSE]] URI)";
const REDIRECT_CODES: [u16; 5] = [301, 302, 303, 307, 308];

pub(super) fn error_page(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    let (before_target, target_token) = match directive.args {
        [before @ .., target] if !before.is_empty() => (before, target),
        _ => return Err(directive.wrong_arg_count(ERROR_PAGE_ARGS)),
    };
    let (code_tokens, response_token) = match before_target.split_last() {
        Some((last, codes)) if last.text.starts_with('=') && !codes.is_empty() => {
            (codes, Some(last))
        }
        _ => (before_target, None),
    };
    let codes = code_tokens
        .iter()
        .map(|token| error_code(directive, token))
        .collect::<Result<Vec<_>, _>>()?;
    let target = error_target(directive, target_token)?;
    let response = error_response(directive, response_token, &target)?;
    builder.config.error_pages.push(ErrorPage {
        codes,
        response,
        target,
    });
    Ok(())
}

fn error_code(directive: &Directive<'_, '_>, token: &Token<'_>) -> Result<u16, CustomConfigError> {
    if token.text.starts_with('=') {
        return Err(directive.invalid(
            token,
            "\"=\" or \"=CODE\" (no space inside) only as the argument just before the URI, after at least one code",
        ));
    }
    let code =
        parse_integer(&token.text).ok_or_else(|| directive.invalid(token, ERROR_CODE_FORM))?;
    if code == 499 {
        return Err(directive.invalid(
            token,
            "any code between 300 and 599 except 499 (nginx's \"client closed\" code)",
        ));
    }
    if !(300..=599).contains(&code) {
        return Err(directive.out_of_range(token, "300–599".to_owned()));
    }
    u16::try_from(code).map_err(|_| directive.invalid(token, ERROR_CODE_FORM))
}

fn error_target(
    directive: &Directive<'_, '_>,
    token: &Token<'_>,
) -> Result<ErrorPageTarget, CustomConfigError> {
    let text = token.text.as_ref();
    let printable =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic()) && !text.contains('$');
    if printable && text.starts_with('/') {
        return Ok(ErrorPageTarget::Local(text.to_owned()));
    }
    let after_scheme = strip_prefix_ignore_case(text, "http://")
        .or_else(|| strip_prefix_ignore_case(text, "https://"));
    match after_scheme {
        Some(authority) if printable && !authority.is_empty() && !authority.starts_with('/') => {
            Ok(ErrorPageTarget::Redirect(text.to_owned()))
        }
        _ => Err(directive.invalid(token, ERROR_TARGET_FORM)),
    }
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// nginx: a URL target is a redirect, 302 unless `=code` names a redirect
/// status; a local target keeps the error's status unless `=` or `=code`.
fn error_response(
    directive: &Directive<'_, '_>,
    token: Option<&Token<'_>>,
    target: &ErrorPageTarget,
) -> Result<ErrorPageResponse, CustomConfigError> {
    let Some(token) = token else {
        return Ok(match target {
            ErrorPageTarget::Local(_) => ErrorPageResponse::Keep,
            ErrorPageTarget::Redirect(_) => ErrorPageResponse::Code(302),
        });
    };
    match (target, response_code(directive, token)?) {
        (ErrorPageTarget::Local(_), None) => Ok(ErrorPageResponse::Auto),
        (ErrorPageTarget::Redirect(_), None) => Ok(ErrorPageResponse::Code(302)),
        (ErrorPageTarget::Redirect(_), Some(code)) if !REDIRECT_CODES.contains(&code) => {
            Err(directive.invalid(token, "=301, =302, =303, =307 or =308 with a URL target"))
        }
        (_, Some(code)) => Ok(ErrorPageResponse::Code(code)),
    }
}

/// The code of `=code`, `None` for a bare `=`.
fn response_code(
    directive: &Directive<'_, '_>,
    token: &Token<'_>,
) -> Result<Option<u16>, CustomConfigError> {
    let digits = token.text.strip_prefix('=').unwrap_or_default();
    if digits.is_empty() {
        return Ok(None);
    }
    let code = parse_integer(digits)
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (200..=599).contains(code));
    match code {
        Some(code) => Ok(Some(code)),
        None => Err(directive.invalid(
            token,
            "\"=\" alone or \"=CODE\" with CODE between 200 and 599",
        )),
    }
}

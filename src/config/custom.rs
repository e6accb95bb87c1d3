//! The product's "personalized configuration" (个性化配置): a short text of
//! nginx directives bound to a load balancer instance and applied to all of
//! its HTTP/HTTPS listeners.
//!
//! [`parse`] turns the text into a [`CustomConfig`] holding every value stgw
//! needs (the product's defaults where a directive is absent), plus warnings
//! for values that are accepted but have no effect in stgw.
//!
//! Syntax, as nginx reads it:
//! - a directive is `name arg1 arg2 ...;` and always ends with `;`; several
//!   may share a line and one may span several lines;
//! - whitespace (space, tab, CR, LF) separates tokens; `#` at the start of a
//!   token comments out the rest of the line;
//! - a token may be quoted with `"` or `'`; inside a quoted or bare token,
//!   `\"`, `\'` and `\\` stand for the character itself and `\t`, `\r`, `\n`
//!   for tab, CR and LF; any other backslash is kept;
//! - blocks (`{ ... }`) do not exist here: a brace is an error;
//! - the text is at most [`MAX_TEXT_LEN`] bytes; an empty text is valid.
//!
//! Only the product's directive list is accepted, with the product's ranges.
//! Sizes take `k`, `m` or `g` (either case, powers of 1024) or plain bytes;
//! times take nginx units (`ms`, `s`, `m`, `h`, `d`, `w`, combined in
//! decreasing order as in `1m30s`) or plain seconds. Ranges are checked in
//! the directive's own unit. A single-valued directive given twice is an
//! error, as in nginx.

mod builder;
mod connection;
mod directives;
mod error;
mod error_page;
mod headers;
mod lexer;
mod settings;
mod statement;
mod template;
mod tls;
mod values;

#[cfg(test)]
mod tests;

pub use error::CustomConfigError;
pub use error_page::{ErrorPage, ErrorPageResponse, ErrorPageTarget};
pub use settings::{
    AddHeader, CustomConfig, Parsed, ProxyBuffers, SetHeader, TlsVersions, Warning,
};
pub use template::{ProxySetHeader, TemplatePart, Variable};

use builder::Builder;
use statement::StatementReader;

/// Longest accepted text, in bytes: the product's "64k" limit.
pub const MAX_TEXT_LEN: usize = 64 * 1024;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// A `client_max_body_size` above this many bytes (256 MiB) is accepted only
/// together with `proxy_request_buffering off`.
pub const BUFFERED_BODY_LIMIT: u64 = 256 * MIB;

/// Parses and validates a personalized configuration.
///
/// Returns the configuration (product defaults for every absent directive)
/// and the warnings, or the first error in text order. Never panics.
pub fn parse(text: &str) -> Result<Parsed, CustomConfigError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(CustomConfigError::TooLong {
            len: text.len(),
            max: MAX_TEXT_LEN,
        });
    }
    let mut reader = StatementReader::new(text);
    let mut builder = Builder::default();
    while let Some(statement) = reader.next_statement()? {
        builder.apply(&statement)?;
    }
    builder.finish()
}

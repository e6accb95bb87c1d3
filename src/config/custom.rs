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

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// Longest accepted text, in bytes: the product's "64k" limit.
pub const MAX_TEXT_LEN: usize = 64 * 1024;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// A `client_max_body_size` above this many bytes (256 MiB) is accepted only
/// together with `proxy_request_buffering off`.
pub const BUFFERED_BODY_LIMIT: u64 = 256 * MIB;

// ---------------------------------------------------------------------------
// Public result types
// ---------------------------------------------------------------------------

/// The outcome of a successful [`parse`]: the configuration and the warnings
/// about values that were accepted but are ignored by stgw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The configuration, with product defaults for absent directives.
    pub config: CustomConfig,
    /// Warnings in text order; empty when nothing was ignored.
    pub warnings: Vec<Warning>,
}

/// A value that was accepted but has no effect, or an effect the user may
/// not expect. Displays as `line N: directive: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line of the value within the custom text.
    pub line: usize,
    /// The directive the value belongs to.
    pub directive: &'static str,
    /// Plain-English explanation.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {}: {}",
            self.line, self.directive, self.message
        )
    }
}

/// Every setting of the personalized configuration.
///
/// [`CustomConfig::default`] holds the product defaults, which is also what
/// an empty text parses to. Sizes are in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomConfig {
    /// `ssl_protocols`: the TLS versions offered. Default TLS 1.2 and 1.3.
    pub ssl_protocols: TlsVersions,
    /// `ssl_ciphers`: the raw OpenSSL cipher string, unchecked here (the TLS
    /// module validates it). `None` means the TLS module's default.
    pub ssl_ciphers: Option<String>,
    /// `client_header_timeout`: time to receive the request header. 60 s.
    pub client_header_timeout: Duration,
    /// `client_header_buffer_size`: initial request-header buffer. 4 KiB.
    pub client_header_buffer_size: usize,
    /// `client_body_timeout`: longest idle gap while reading a body. 60 s.
    pub client_body_timeout: Duration,
    /// `client_max_body_size`: largest accepted request body. 60 MiB.
    pub client_max_body_size: u64,
    /// `keepalive_timeout`: idle time between requests; zero disables
    /// keep-alive. 75 s.
    pub keepalive_timeout: Duration,
    /// `keepalive_requests`: most requests on one client connection. 100.
    pub keepalive_requests: u32,
    /// `add_header`: response headers, in text order. Names keep the case
    /// written, since they are sent to clients as given.
    pub add_headers: Vec<AddHeader>,
    /// `more_set_headers`: response headers set or removed on every
    /// response, in text order. Names keep the case written.
    pub more_set_headers: Vec<SetHeader>,
    /// `proxy_connect_timeout`: time to connect to a target. 4 s.
    pub proxy_connect_timeout: Duration,
    /// `proxy_read_timeout`: longest gap between two reads from a target.
    /// 60 s.
    pub proxy_read_timeout: Duration,
    /// `proxy_send_timeout`: longest gap between two writes to a target.
    /// 60 s.
    pub proxy_send_timeout: Duration,
    /// `proxy_buffer_size`: initial buffer for a target's response header.
    /// 4 KiB.
    pub proxy_buffer_size: usize,
    /// `proxy_buffers`: response buffers per request. 8 × 4 KiB.
    pub proxy_buffers: ProxyBuffers,
    /// `proxy_request_buffering`: read the whole body before forwarding it.
    /// Default on.
    pub proxy_request_buffering: bool,
    /// `proxy_set_header`: extra request headers for targets, in text order.
    ///
    /// Default: none. The product lists `X-Real-Port $remote_port` as its
    /// default, but stgw adds no optional header (`X-Real-Port` included)
    /// unless this directive asks for it.
    pub proxy_set_headers: Vec<ProxySetHeader>,
    /// `send_timeout`: longest gap between two writes to the client. 60 s.
    pub send_timeout: Duration,
    /// `ssl_verify_depth`: client-certificate chain depth. 1.
    pub ssl_verify_depth: u8,
    /// `proxy_redirect http:// https://`: rewrite a leading `http://` into
    /// `https://` in `Location` and `Refresh` of a target's 3xx answers.
    /// Default off (no rewriting).
    pub proxy_redirect_https: bool,
    /// `http2_max_field_size`: largest decoded HTTP/2 header field. 4 KiB.
    pub http2_max_field_size: usize,
    /// `error_page`: pages for errors stgw generates, in text order.
    pub error_pages: Vec<ErrorPage>,
    /// `proxy_ignore_client_abort`: keep the target request going when the
    /// client goes away. Default off.
    pub proxy_ignore_client_abort: bool,
}

impl Default for CustomConfig {
    /// The product defaults (stgw's for `ssl_protocols`, `proxy_set_header`
    /// and `proxy_redirect`, see the field docs).
    fn default() -> Self {
        Self {
            ssl_protocols: TlsVersions::default(),
            ssl_ciphers: None,
            client_header_timeout: Duration::from_secs(60),
            client_header_buffer_size: 4 * 1024,
            client_body_timeout: Duration::from_secs(60),
            client_max_body_size: 60 * MIB,
            keepalive_timeout: Duration::from_secs(75),
            keepalive_requests: 100,
            add_headers: Vec::new(),
            more_set_headers: Vec::new(),
            proxy_connect_timeout: Duration::from_secs(4),
            proxy_read_timeout: Duration::from_secs(60),
            proxy_send_timeout: Duration::from_secs(60),
            proxy_buffer_size: 4 * 1024,
            proxy_buffers: ProxyBuffers::default(),
            proxy_request_buffering: true,
            proxy_set_headers: Vec::new(),
            send_timeout: Duration::from_secs(60),
            ssl_verify_depth: 1,
            proxy_redirect_https: false,
            http2_max_field_size: 4 * 1024,
            error_pages: Vec::new(),
            proxy_ignore_client_abort: false,
        }
    }
}

impl CustomConfig {
    /// The `error_page` entry that handles `status`, if any.
    ///
    /// When several entries list the same code, the first in the text wins,
    /// as in nginx (it scans its `error_page` list in order and stops at the
    /// first match).
    pub fn error_page_for(&self, status: u16) -> Option<&ErrorPage> {
        self.error_pages.iter().find(|page| page.handles(status))
    }
}

/// The TLS versions offered (rustls implements only 1.2 and 1.3). At least
/// one is always true after [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsVersions {
    /// TLS 1.2 is offered.
    pub tls12: bool,
    /// TLS 1.3 is offered.
    pub tls13: bool,
}

impl Default for TlsVersions {
    /// Both TLS 1.2 and 1.3.
    fn default() -> Self {
        Self {
            tls12: true,
            tls13: true,
        }
    }
}

/// One `add_header NAME VALUE [always];`.
///
/// As in nginx, the header is added to 2xx/3xx answers only unless `always`
/// is set, and a value that is, or expands to, an empty string means the
/// header is not added at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddHeader {
    /// Header name as written (a valid HTTP token).
    pub name: String,
    /// Value as written; may be empty.
    pub value: String,
    /// `value` split into text and variables (empty when `value` is).
    pub template: Vec<TemplatePart>,
    /// `always` was given: add it to every status.
    pub always: bool,
}

/// One `Name: value` of `more_set_headers`: set (replace) the header on every
/// response whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetHeader {
    /// Header name as written (a valid HTTP token).
    pub name: String,
    /// Value as written with surrounding blanks trimmed; `None` (written
    /// `Name:`) removes the header instead.
    pub value: Option<String>,
    /// `value` split into text and variables (empty when `value` is
    /// `None`). A value that expands to an empty string removes the
    /// header, as `Name:` does.
    pub template: Vec<TemplatePart>,
}

/// `proxy_buffers COUNT SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyBuffers {
    /// Number of buffers (3–8).
    pub count: usize,
    /// Size of each buffer in bytes (4–16 KiB).
    pub size: usize,
}

impl Default for ProxyBuffers {
    /// 8 buffers of 4 KiB.
    fn default() -> Self {
        Self {
            count: 8,
            size: 4 * 1024,
        }
    }
}

/// One `proxy_set_header NAME VALUE;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySetHeader {
    /// Header name, lower-cased (request headers are case-insensitive and
    /// HTTP/2 requires lower case).
    pub name: String,
    /// The value template. Empty (written `""`) means "do not send this
    /// header", as in nginx; a template whose variables all expand to empty
    /// strings is not sent either.
    pub value: Vec<TemplatePart>,
}

impl ProxySetHeader {
    /// True when the header must not be sent to targets at all (nginx's
    /// `proxy_set_header Name "";`), which also drops the client's copy.
    pub fn suppresses(&self) -> bool {
        self.value.is_empty()
    }
}

/// A piece of a header value (`proxy_set_header`, `add_header`,
/// `more_set_headers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Text sent as is (never empty; adjacent text is merged).
    Literal(String),
    /// A variable expanded per request.
    Var(Variable),
    /// `$http_NAME`: the request header of this name (lower case, `-` for
    /// each `_` of NAME; a valid HTTP token), its copies joined as nginx
    /// joins them; empty when the request has none.
    RequestHeader(String),
}

impl TemplatePart {
    /// Whether this part is expanded per request (not literal text).
    pub fn is_variable(&self) -> bool {
        !matches!(self, TemplatePart::Literal(_))
    }
}

/// The named variables a header value may use (names are matched
/// case-insensitively, as nginx does); `$http_NAME` is
/// [`TemplatePart::RequestHeader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variable {
    /// `$remote_port`: the client's source port.
    RemotePort,
    /// `$server_addr`: the address the client connected to (the VIP).
    ServerAddr,
    /// `$stgw_request_id`: stgw's request id.
    StgwRequestId,
    /// `$vport`: the listener port.
    Vport,
    /// `$request_method`: the request method.
    RequestMethod,
    /// `$uri`: the normalised request path, without the query.
    Uri,
    /// `$lbid`: the load balancer instance id.
    Lbid,
    /// `$remote_addr`: the client's address.
    RemoteAddr,
    /// `$host`: the request host (lower-cased, port removed).
    Host,
    /// `$scheme`: `http` or `https`.
    Scheme,
    /// `$server_port`: the port the client connected to.
    ServerPort,
    /// `$request_uri`: the original request URI, with the query.
    RequestUri,
    /// `$args`: the request's query (after `?`, empty without one).
    Args,
    /// `$query_string`: the same as `$args`.
    QueryString,
    /// `$server_name`: the name of the domain that took the request (empty
    /// when none did).
    ServerName,
    /// `$status`: the answer's status code, 3 digits; response headers
    /// only ([`Variable::is_response_only`]).
    Status,
}

impl Variable {
    /// Every variable, in the order of the product's documentation followed
    /// by the nginx ones.
    pub const ALL: [Variable; 16] = [
        Variable::RemotePort,
        Variable::ServerAddr,
        Variable::StgwRequestId,
        Variable::Vport,
        Variable::RequestMethod,
        Variable::Uri,
        Variable::Lbid,
        Variable::RemoteAddr,
        Variable::Host,
        Variable::Scheme,
        Variable::ServerPort,
        Variable::RequestUri,
        Variable::Args,
        Variable::QueryString,
        Variable::ServerName,
        Variable::Status,
    ];

    /// The variable's name without the `$`, e.g. `"remote_port"`.
    pub fn name(&self) -> &'static str {
        match self {
            Variable::RemotePort => "remote_port",
            Variable::ServerAddr => "server_addr",
            Variable::StgwRequestId => "stgw_request_id",
            Variable::Vport => "vport",
            Variable::RequestMethod => "request_method",
            Variable::Uri => "uri",
            Variable::Lbid => "lbid",
            Variable::RemoteAddr => "remote_addr",
            Variable::Host => "host",
            Variable::Scheme => "scheme",
            Variable::ServerPort => "server_port",
            Variable::RequestUri => "request_uri",
            Variable::Args => "args",
            Variable::QueryString => "query_string",
            Variable::ServerName => "server_name",
            Variable::Status => "status",
        }
    }

    /// Whether only response headers (`add_header`, `more_set_headers`)
    /// may use it: `$status` is not known when the request is sent.
    pub fn is_response_only(&self) -> bool {
        matches!(self, Variable::Status)
    }

    /// The variable called `name` (without `$`, any case), if it exists.
    pub fn from_name(name: &str) -> Option<Variable> {
        Variable::ALL
            .into_iter()
            .find(|variable| variable.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Variable {
    /// Writes `$name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.name())
    }
}

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

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a personalized configuration was refused. Every message starts with
/// `line N:` (1-based, within the custom text) except [`TooLong`], and names
/// the directive, the offending value and what is allowed.
///
/// [`TooLong`]: CustomConfigError::TooLong
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CustomConfigError {
    /// The text is longer than [`MAX_TEXT_LEN`].
    #[error("personalized configuration is {len} bytes long: allowed at most {max} bytes (64 KiB)")]
    TooLong {
        /// Length of the text in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },

    /// A quoted token has no closing quote.
    #[error("line {line}: quoted string is not closed{}", in_directive(.directive))]
    UnclosedQuote {
        /// Line of the opening quote.
        line: usize,
        /// The directive being read, unless the quote starts one.
        directive: Option<String>,
    },

    /// A closing quote is followed by something other than whitespace or
    /// `;`.
    #[error(
        "line {line}: unexpected \"{found}\" after a quoted string: expected whitespace or \";\"{}",
        in_directive(.directive)
    )]
    TextAfterQuote {
        /// Line of the unexpected character.
        line: usize,
        /// The unexpected character.
        found: char,
        /// The directive being read, unless the quote starts one.
        directive: Option<String>,
    },

    /// A `{` or `}`: blocks do not exist in a personalized configuration.
    #[error("line {line}: unexpected \"{brace}\": blocks are not allowed here{}", in_directive(.directive))]
    UnexpectedBrace {
        /// Line of the brace.
        line: usize,
        /// `{` or `}`.
        brace: char,
        /// The directive being read, if any.
        directive: Option<String>,
    },

    /// A `;` with no directive before it.
    #[error("line {line}: unexpected \";\": a directive name is missing")]
    EmptyDirective {
        /// Line of the `;`.
        line: usize,
    },

    /// The text ends inside a directive.
    #[error("line {line}: directive \"{directive}\" is not terminated by \";\"")]
    MissingSemicolon {
        /// Line where the directive starts.
        line: usize,
        /// The directive's name.
        directive: String,
    },

    /// A directive outside the product's list.
    #[error("line {line}: unknown directive \"{name}\"; allowed: {allowed}", allowed = allowed_directives())]
    UnknownDirective {
        /// Line of the directive.
        line: usize,
        /// The name as written.
        name: String,
    },

    /// A single-valued directive appears a second time.
    #[error("line {line}: \"{directive}\" directive is duplicate (first set on line {first_line})")]
    Duplicate {
        /// Line of the second occurrence.
        line: usize,
        /// The directive.
        directive: &'static str,
        /// Line of the first occurrence.
        first_line: usize,
    },

    /// A directive has too few or too many arguments.
    #[error("line {line}: {directive} takes {expected}, found {found}")]
    WrongArgCount {
        /// Line of the directive.
        line: usize,
        /// The directive.
        directive: &'static str,
        /// How many arguments were given.
        found: usize,
        /// The accepted count, in words.
        expected: &'static str,
    },

    /// A value that cannot be understood, or a form the product refuses.
    #[error("line {line}: {directive} value \"{value}\" is invalid: expected {expected}")]
    InvalidValue {
        /// Line of the value.
        line: usize,
        /// The directive.
        directive: &'static str,
        /// The value as written (after unquoting).
        value: String,
        /// The accepted form.
        expected: String,
    },

    /// A well-formed value outside the product's range.
    #[error("line {line}: {directive} {value} is out of range: allowed {allowed}")]
    OutOfRange {
        /// Line of the value.
        line: usize,
        /// The directive.
        directive: &'static str,
        /// The value as written.
        value: String,
        /// The accepted range, e.g. `1M–10240M`.
        allowed: String,
    },

    /// A header value uses a variable stgw does not provide.
    #[error("line {line}: {directive} uses unknown variable \"${variable}\"; allowed: {allowed}", allowed = allowed_variables(directive))]
    UnknownVariable {
        /// Line of the value.
        line: usize,
        /// The directive.
        directive: &'static str,
        /// The variable name as written, without `$`.
        variable: String,
    },

    /// A `proxy_set_header` value uses a variable known only for the
    /// answer (`$status`).
    #[error("line {line}: {directive} cannot use \"${variable}\": it is known only for response headers (add_header, more_set_headers); allowed: {allowed}", allowed = allowed_variables(directive))]
    ResponseOnlyVariable {
        /// Line of the value.
        line: usize,
        /// The directive.
        directive: &'static str,
        /// The variable name as written, without `$`.
        variable: String,
    },

    /// A value that is valid only together with another directive.
    #[error("line {line}: {directive} requires {needs} in the same configuration")]
    Requires {
        /// Line of the directive that needs the other one.
        line: usize,
        /// The directive, with its value when the value matters.
        directive: String,
        /// The directive (and value) that must also be present.
        needs: &'static str,
    },
}

impl CustomConfigError {
    /// The 1-based line within the custom text that the error is about;
    /// `None` only for [`CustomConfigError::TooLong`], which concerns the
    /// whole text.
    pub fn line(&self) -> Option<usize> {
        match self {
            CustomConfigError::TooLong { .. } => None,
            CustomConfigError::UnclosedQuote { line, .. }
            | CustomConfigError::TextAfterQuote { line, .. }
            | CustomConfigError::UnexpectedBrace { line, .. }
            | CustomConfigError::EmptyDirective { line }
            | CustomConfigError::MissingSemicolon { line, .. }
            | CustomConfigError::UnknownDirective { line, .. }
            | CustomConfigError::Duplicate { line, .. }
            | CustomConfigError::WrongArgCount { line, .. }
            | CustomConfigError::InvalidValue { line, .. }
            | CustomConfigError::OutOfRange { line, .. }
            | CustomConfigError::UnknownVariable { line, .. }
            | CustomConfigError::ResponseOnlyVariable { line, .. }
            | CustomConfigError::Requires { line, .. } => Some(*line),
        }
    }
}

fn in_directive(directive: &Option<String>) -> String {
    match directive {
        Some(name) => format!(" (in directive \"{name}\")"),
        None => String::new(),
    }
}

fn allowed_directives() -> String {
    let names: Vec<&str> = DIRECTIVES.iter().map(|spec| spec.name).collect();
    names.join(", ")
}

/// The variables `directive` may use, for error messages.
fn allowed_variables(directive: &str) -> String {
    let response = directive != "proxy_set_header";
    let mut names: Vec<String> = Variable::ALL
        .iter()
        .filter(|v| response || !v.is_response_only())
        .map(Variable::to_string)
        .collect();
    names.push("$http_NAME".to_owned());
    names.join(", ")
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------

/// A word of the text, unquoted and unescaped; borrowed when nothing had to
/// be unescaped.
#[derive(Debug)]
struct Token<'a> {
    text: Cow<'a, str>,
    /// 1-based line where the token starts.
    line: usize,
}

/// One lexical element.
enum Lexeme<'a> {
    Word(Token<'a>),
    Semicolon { line: usize },
    Brace { brace: char, line: usize },
}

/// A tokenizer error, before the directive it occurred in is known.
enum LexError {
    UnclosedQuote { line: usize },
    TextAfterQuote { line: usize, found: char },
}

impl LexError {
    fn in_directive(self, directive: Option<&Token<'_>>) -> CustomConfigError {
        let directive = directive.map(|name| name.text.clone().into_owned());
        match self {
            LexError::UnclosedQuote { line } => {
                CustomConfigError::UnclosedQuote { line, directive }
            }
            LexError::TextAfterQuote { line, found } => CustomConfigError::TextAfterQuote {
                line,
                found,
                directive,
            },
        }
    }
}

/// Splits the text into [`Lexeme`]s the way nginx's configuration reader
/// does. Positions only ever stop on ASCII bytes or at the end, so slicing
/// `src` between two positions stays on character boundaries.
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        if byte == b'\n' {
            self.line += 1;
        }
        Some(byte)
    }

    fn next_lexeme(&mut self) -> Result<Option<Lexeme<'a>>, LexError> {
        self.skip_blanks_and_comments();
        let line = self.line;
        let Some(byte) = self.peek() else {
            return Ok(None);
        };
        let lexeme = match byte {
            b';' => {
                self.bump();
                Lexeme::Semicolon { line }
            }
            b'{' | b'}' => {
                self.bump();
                Lexeme::Brace {
                    brace: char::from(byte),
                    line,
                }
            }
            b'"' | b'\'' => Lexeme::Word(self.quoted_word(byte)?),
            _ => Lexeme::Word(self.bare_word()),
        };
        Ok(Some(lexeme))
    }

    fn skip_blanks_and_comments(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    self.bump();
                }
                b'#' => self.skip_comment(),
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(byte) = self.bump() {
            if byte == b'\n' {
                return;
            }
        }
    }

    /// A word up to whitespace, `;` or `{` (except the `{` of `${name}`).
    /// Quotes and `#` inside a word are ordinary characters, as in nginx.
    fn bare_word(&mut self) -> Token<'a> {
        let (line, start) = (self.line, self.pos);
        let mut escaped = false;
        let mut after_dollar = false;
        while let Some(byte) = self.peek() {
            let variable_brace = byte == b'{' && after_dollar;
            if is_word_end(byte) && !variable_brace {
                break;
            }
            after_dollar = byte == b'$';
            self.bump();
            if byte == b'\\' {
                escaped = true;
                self.bump();
            }
        }
        let raw = &self.src[start..self.pos];
        Token {
            text: unescape(raw, escaped),
            line,
        }
    }

    /// A word between `quote`s; the closing quote must be followed by
    /// whitespace, `;`, a brace or the end of the text.
    fn quoted_word(&mut self, quote: u8) -> Result<Token<'a>, LexError> {
        let line = self.line;
        self.bump();
        let start = self.pos;
        let mut escaped = false;
        let end = loop {
            let here = self.pos;
            match self.bump() {
                None => return Err(LexError::UnclosedQuote { line }),
                Some(b'\\') => {
                    escaped = true;
                    self.bump();
                }
                Some(byte) if byte == quote => break here,
                Some(_) => {}
            }
        };
        self.check_after_quote()?;
        let raw = &self.src[start..end];
        Ok(Token {
            text: unescape(raw, escaped),
            line,
        })
    }

    fn check_after_quote(&self) -> Result<(), LexError> {
        match self.peek() {
            None => Ok(()),
            Some(byte) if is_word_end(byte) || byte == b'}' => Ok(()),
            Some(_) => Err(LexError::TextAfterQuote {
                line: self.line,
                found: self.src[self.pos..].chars().next().unwrap_or('?'),
            }),
        }
    }
}

fn is_word_end(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'{')
}

/// nginx's unescaping: `\"`, `\'`, `\\` give the character, `\t`, `\r`, `\n`
/// give tab, CR and LF; any other backslash is kept as is.
fn unescape(raw: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let replacement = match chars.peek() {
            Some(&next @ ('"' | '\'' | '\\')) => next,
            Some('t') => '\t',
            Some('r') => '\r',
            Some('n') => '\n',
            _ => {
                out.push('\\');
                continue;
            }
        };
        out.push(replacement);
        chars.next();
    }
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------

/// One `name args...;`.
struct Statement<'a> {
    name: Token<'a>,
    args: Vec<Token<'a>>,
}

/// Groups lexemes into statements.
struct StatementReader<'a> {
    lexer: Lexer<'a>,
}

impl<'a> StatementReader<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            lexer: Lexer::new(text),
        }
    }

    /// The next complete statement, `None` at the end of the text.
    fn next_statement(&mut self) -> Result<Option<Statement<'a>>, CustomConfigError> {
        let mut name: Option<Token<'a>> = None;
        let mut args = Vec::new();
        loop {
            let lexeme = self
                .lexer
                .next_lexeme()
                .map_err(|error| error.in_directive(name.as_ref()))?;
            match lexeme {
                None => return end_of_text(name),
                Some(Lexeme::Word(token)) if name.is_none() => name = Some(token),
                Some(Lexeme::Word(token)) => args.push(token),
                Some(Lexeme::Semicolon { line }) => {
                    let name = name.ok_or(CustomConfigError::EmptyDirective { line })?;
                    return Ok(Some(Statement { name, args }));
                }
                Some(Lexeme::Brace { brace, line }) => {
                    return Err(CustomConfigError::UnexpectedBrace {
                        line,
                        brace,
                        directive: name.map(|token| token.text.into_owned()),
                    });
                }
            }
        }
    }
}

fn end_of_text(pending: Option<Token<'_>>) -> Result<Option<Statement<'_>>, CustomConfigError> {
    match pending {
        None => Ok(None),
        Some(name) => Err(CustomConfigError::MissingSemicolon {
            line: name.line,
            directive: name.text.into_owned(),
        }),
    }
}

// ---------------------------------------------------------------------------
// Directive table
// ---------------------------------------------------------------------------

/// How a directive's arguments are read. The setters receive values already
/// checked against the range, so they always fit the field.
#[derive(Clone, Copy)]
enum Handler {
    /// One time argument, range in whole seconds.
    Time {
        min_secs: u64,
        max_secs: u64,
        set: fn(&mut CustomConfig, Duration),
    },
    /// One size argument, range in `unit`s.
    Size {
        unit: SizeUnit,
        min: u64,
        max: u64,
        set: fn(&mut CustomConfig, u64),
    },
    /// One plain integer argument.
    Integer {
        min: u64,
        max: u64,
        set: fn(&mut CustomConfig, u64),
    },
    /// One `on` / `off` argument.
    Flag { set: fn(&mut CustomConfig, bool) },
    /// Anything else.
    Custom(CustomHandler),
}

type CustomHandler = fn(&mut Builder, &Directive<'_, '_>) -> Result<(), CustomConfigError>;

struct DirectiveSpec {
    name: &'static str,
    /// May appear several times (otherwise a repeat is "duplicate").
    repeatable: bool,
    handler: Handler,
}

const fn single(name: &'static str, handler: Handler) -> DirectiveSpec {
    DirectiveSpec {
        name,
        repeatable: false,
        handler,
    }
}

const fn repeatable(name: &'static str, handler: Handler) -> DirectiveSpec {
    DirectiveSpec {
        name,
        repeatable: true,
        handler,
    }
}

const fn time(min_secs: u64, max_secs: u64, set: fn(&mut CustomConfig, Duration)) -> Handler {
    Handler::Time {
        min_secs,
        max_secs,
        set,
    }
}

const fn size(unit: SizeUnit, min: u64, max: u64, set: fn(&mut CustomConfig, u64)) -> Handler {
    Handler::Size {
        unit,
        min,
        max,
        set,
    }
}

const fn integer(min: u64, max: u64, set: fn(&mut CustomConfig, u64)) -> Handler {
    Handler::Integer { min, max, set }
}

const fn flag(set: fn(&mut CustomConfig, bool)) -> Handler {
    Handler::Flag { set }
}

/// The product's directives and ranges, in the order of its documentation.
#[rustfmt::skip]
const DIRECTIVES: &[DirectiveSpec] = &[
    single("ssl_protocols", Handler::Custom(ssl_protocols)),
    single("ssl_ciphers", Handler::Custom(ssl_ciphers)),
    single("client_header_timeout", time(30, 120, |c, v| c.client_header_timeout = v)),
    single("client_header_buffer_size", size(SizeUnit::K, 1, 256, |c, v| c.client_header_buffer_size = to_usize(v))),
    single("client_body_timeout", time(30, 120, |c, v| c.client_body_timeout = v)),
    single("client_max_body_size", size(SizeUnit::M, 1, 10240, |c, v| c.client_max_body_size = v)),
    single("keepalive_timeout", Handler::Custom(keepalive_timeout)),
    repeatable("add_header", Handler::Custom(add_header)),
    repeatable("more_set_headers", Handler::Custom(more_set_headers)),
    single("proxy_connect_timeout", time(4, 120, |c, v| c.proxy_connect_timeout = v)),
    single("proxy_read_timeout", time(30, 3600, |c, v| c.proxy_read_timeout = v)),
    single("proxy_send_timeout", time(30, 3600, |c, v| c.proxy_send_timeout = v)),
    single("keepalive_requests", integer(1, 10000, |c, v| c.keepalive_requests = to_u32(v))),
    single("proxy_buffer_size", size(SizeUnit::K, 1, 32, |c, v| c.proxy_buffer_size = to_usize(v))),
    single("proxy_buffers", Handler::Custom(proxy_buffers)),
    single("proxy_request_buffering", flag(|c, v| c.proxy_request_buffering = v)),
    repeatable("proxy_set_header", Handler::Custom(proxy_set_header)),
    single("send_timeout", time(1, 3600, |c, v| c.send_timeout = v)),
    single("ssl_verify_depth", integer(1, 10, |c, v| c.ssl_verify_depth = to_u8(v))),
    single("proxy_redirect", Handler::Custom(proxy_redirect)),
    single("http2_max_field_size", size(SizeUnit::K, 1, 256, |c, v| c.http2_max_field_size = to_usize(v))),
    repeatable("error_page", Handler::Custom(error_page)),
    single("proxy_ignore_client_abort", flag(|c, v| c.proxy_ignore_client_abort = v)),
];

// Range-checked values always fit; saturating keeps the conversions total.
fn to_u8(value: u64) -> u8 {
    u8::try_from(value).unwrap_or(u8::MAX)
}

fn to_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

fn find_spec(name: &str) -> Option<(usize, &'static DirectiveSpec)> {
    DIRECTIVES
        .iter()
        .enumerate()
        .find(|(_, spec)| spec.name == name)
}

// ---------------------------------------------------------------------------
// Building the configuration
// ---------------------------------------------------------------------------

/// One known directive being applied: its name, line and arguments, and the
/// constructors of the errors that name them.
struct Directive<'s, 'a> {
    name: &'static str,
    line: usize,
    args: &'s [Token<'a>],
}

impl Directive<'_, '_> {
    fn wrong_arg_count(&self, expected: &'static str) -> CustomConfigError {
        CustomConfigError::WrongArgCount {
            line: self.line,
            directive: self.name,
            found: self.args.len(),
            expected,
        }
    }

    fn only_arg(&self) -> Result<&Token<'_>, CustomConfigError> {
        match self.args {
            [arg] => Ok(arg),
            _ => Err(self.wrong_arg_count("exactly 1 argument")),
        }
    }

    fn invalid(&self, token: &Token<'_>, expected: impl Into<String>) -> CustomConfigError {
        self.invalid_text(token.line, &token.text, expected)
    }

    fn invalid_text(
        &self,
        line: usize,
        value: &str,
        expected: impl Into<String>,
    ) -> CustomConfigError {
        CustomConfigError::InvalidValue {
            line,
            directive: self.name,
            value: value.to_owned(),
            expected: expected.into(),
        }
    }

    fn out_of_range(&self, token: &Token<'_>, allowed: String) -> CustomConfigError {
        CustomConfigError::OutOfRange {
            line: token.line,
            directive: self.name,
            value: token.text.clone().into_owned(),
            allowed,
        }
    }

    /// All arguments joined by spaces, for messages about their combination.
    fn args_text(&self) -> String {
        let texts: Vec<&str> = self.args.iter().map(|arg| arg.text.as_ref()).collect();
        texts.join(" ")
    }
}

/// Accumulates the configuration while statements are applied.
struct Builder {
    config: CustomConfig,
    warnings: Vec<Warning>,
    /// Line of the first occurrence of each directive, by table index.
    first_lines: [Option<usize>; DIRECTIVES.len()],
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            config: CustomConfig::default(),
            warnings: Vec::new(),
            first_lines: [None; DIRECTIVES.len()],
        }
    }
}

impl Builder {
    fn apply(&mut self, statement: &Statement<'_>) -> Result<(), CustomConfigError> {
        let line = statement.name.line;
        let (index, spec) =
            find_spec(&statement.name.text).ok_or_else(|| CustomConfigError::UnknownDirective {
                line,
                name: statement.name.text.clone().into_owned(),
            })?;
        self.record_occurrence(index, spec, line)?;
        let directive = Directive {
            name: spec.name,
            line,
            args: &statement.args,
        };
        match spec.handler {
            Handler::Time {
                min_secs,
                max_secs,
                set,
            } => {
                let value = time_in_range(&directive, directive.only_arg()?, min_secs, max_secs)?;
                set(&mut self.config, value);
            }
            Handler::Size {
                unit,
                min,
                max,
                set,
            } => {
                let value = size_in_range(&directive, directive.only_arg()?, unit, min, max)?;
                set(&mut self.config, value);
            }
            Handler::Integer { min, max, set } => {
                let value = integer_in_range(&directive, directive.only_arg()?, min, max)?;
                set(&mut self.config, value);
            }
            Handler::Flag { set } => set(
                &mut self.config,
                parse_flag(&directive, directive.only_arg()?)?,
            ),
            Handler::Custom(handler) => handler(self, &directive)?,
        }
        Ok(())
    }

    /// Remembers where a directive first appears; a second occurrence of a
    /// single-valued directive is an error.
    fn record_occurrence(
        &mut self,
        index: usize,
        spec: &DirectiveSpec,
        line: usize,
    ) -> Result<(), CustomConfigError> {
        match self.first_lines[index] {
            Some(first_line) if !spec.repeatable => Err(CustomConfigError::Duplicate {
                line,
                directive: spec.name,
                first_line,
            }),
            Some(_) => Ok(()),
            None => {
                self.first_lines[index] = Some(line);
                Ok(())
            }
        }
    }

    fn line_of(&self, name: &str) -> Option<usize> {
        find_spec(name).and_then(|(index, _)| self.first_lines[index])
    }

    fn warn(&mut self, line: usize, directive: &'static str, message: String) {
        self.warnings.push(Warning {
            line,
            directive,
            message,
        });
    }

    /// Whether `name` is a framing field, which `directive` may not set:
    /// stgw frames every answer itself, and a second `Content-Length` or
    /// a `Transfer-Encoding` the body does not follow would corrupt it
    /// (nginx sends both and clients break). Warns that it is ignored.
    fn skips_framing(&mut self, line: usize, directive: &'static str, name: &str) -> bool {
        let framing = name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding");
        if framing {
            self.warn(
                line,
                directive,
                format!("\"{name}\" is ignored: stgw sets an answer's framing itself"),
            );
        }
        framing
    }

    /// The checks that involve several directives, then the result.
    fn finish(self) -> Result<Parsed, CustomConfigError> {
        self.check_unbuffered_body_size()?;
        self.check_proxy_buffers_present()?;
        Ok(Parsed {
            config: self.config,
            warnings: self.warnings,
        })
    }

    fn check_unbuffered_body_size(&self) -> Result<(), CustomConfigError> {
        if self.config.client_max_body_size <= BUFFERED_BODY_LIMIT
            || !self.config.proxy_request_buffering
        {
            return Ok(());
        }
        Err(CustomConfigError::Requires {
            line: self.line_of("client_max_body_size").unwrap_or_default(),
            directive: format!(
                "client_max_body_size {} (above 256M)",
                display_size(self.config.client_max_body_size)
            ),
            needs: "proxy_request_buffering off",
        })
    }

    fn check_proxy_buffers_present(&self) -> Result<(), CustomConfigError> {
        let Some(line) = self.line_of("proxy_buffer_size") else {
            return Ok(());
        };
        if self.line_of("proxy_buffers").is_some() {
            return Ok(());
        }
        Err(CustomConfigError::Requires {
            line,
            directive: "proxy_buffer_size".to_owned(),
            needs: "proxy_buffers",
        })
    }
}

// ---------------------------------------------------------------------------
// Value parsers shared by several directives
// ---------------------------------------------------------------------------

const TIME_FORM: &str = "a time such as 60s, 2m, 1m30s or 500ms (units w, d, h, m, s, ms in decreasing order; a plain number means seconds)";
const SIZE_FORM: &str = "a size such as 512, 8k or 60M (plain bytes or k, m, g)";
const INTEGER_FORM: &str = "a whole number";
const FLAG_FORM: &str = "on or off";

fn time_in_range(
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

fn size_in_range(
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

fn integer_in_range(
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
fn parse_flag(directive: &Directive<'_, '_>, token: &Token<'_>) -> Result<bool, CustomConfigError> {
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
enum SizeUnit {
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
fn display_size(bytes: u64) -> String {
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
fn parse_integer(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// nginx size: digits with an optional `k`/`m`/`g` suffix (either case).
fn parse_size(text: &str) -> Option<u64> {
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
fn parse_time(text: &str) -> Option<Duration> {
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
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Text that can be sent as an HTTP field value: no control character other
/// than tab.
fn is_field_value(text: &str) -> bool {
    text.chars()
        .all(|c| c == '\t' || (c >= ' ' && c != '\u{7f}'))
}

const HEADER_NAME_FORM: &str = "a header name made of letters, digits and !#$%&'*+-.^_`|~";
const HEADER_VALUE_FORM: &str = "a header value without control characters (CR, LF, ...)";

// ---------------------------------------------------------------------------
// Custom directive handlers
// ---------------------------------------------------------------------------

fn ssl_protocols(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    if directive.args.is_empty() {
        return Err(directive.wrong_arg_count("at least 1 argument"));
    }
    let mut versions = TlsVersions {
        tls12: false,
        tls13: false,
    };
    for token in directive.args {
        let version = token.text.as_ref();
        if version.eq_ignore_ascii_case("TLSv1.2") {
            versions.tls12 = true;
        } else if version.eq_ignore_ascii_case("TLSv1.3") {
            versions.tls13 = true;
        } else if version.eq_ignore_ascii_case("TLSv1") || version.eq_ignore_ascii_case("TLSv1.1") {
            builder.warn(
                token.line,
                directive.name,
                format!("{version} ignored: rustls supports TLS 1.2 and 1.3 only"),
            );
        } else {
            return Err(directive.invalid(token, "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3"));
        }
    }
    if !versions.tls12 && !versions.tls13 {
        return Err(directive.invalid_text(
            directive.line,
            &directive.args_text(),
            "a list including TLSv1.2 or TLSv1.3 (rustls supports TLS 1.2 and 1.3 only)",
        ));
    }
    builder.config.ssl_protocols = versions;
    Ok(())
}

fn ssl_ciphers(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    let token = directive.only_arg()?;
    if token.text.trim().is_empty() {
        return Err(directive.invalid(token, "an OpenSSL cipher string such as HIGH:!aNULL:!MD5"));
    }
    builder.config.ssl_ciphers = Some(token.text.clone().into_owned());
    Ok(())
}

fn keepalive_timeout(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    let [token] = directive.args else {
        return Err(directive.wrong_arg_count(
            "exactly 1 argument (nginx's optional second argument, header_timeout, is not supported)",
        ));
    };
    builder.config.keepalive_timeout = time_in_range(directive, token, 0, 3600)?;
    Ok(())
}

fn add_header(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    let (name, value, always) = match directive.args {
        [name, value] => (name, value, false),
        [name, value, extra] if extra.text == "always" => (name, value, true),
        [_, _, extra] => {
            return Err(directive.invalid(extra, "\"always\" or nothing after the value"));
        }
        _ => return Err(directive.wrong_arg_count("2 or 3 arguments (NAME VALUE [always])")),
    };
    if !is_token(&name.text) {
        return Err(directive.invalid(name, HEADER_NAME_FORM));
    }
    if !is_field_value(&value.text) {
        return Err(directive.invalid(value, HEADER_VALUE_FORM));
    }
    if value.text.is_empty() {
        builder.warn(
            value.line,
            directive.name,
            format!(
                "empty value: header \"{}\" will not be added (nginx semantics)",
                name.text
            ),
        );
    }
    let template = parse_template(directive, value.line, &value.text, Variables::Response)
        .map_err(|e| e.unwrap_or_else(|| directive.invalid(value, TEMPLATE_FORM)))?;
    if builder.skips_framing(name.line, directive.name, &name.text) {
        return Ok(());
    }
    builder.config.add_headers.push(AddHeader {
        name: name.text.clone().into_owned(),
        value: value.text.clone().into_owned(),
        template,
        always,
    });
    Ok(())
}

fn more_set_headers(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    if directive.args.is_empty() {
        return Err(directive.wrong_arg_count("at least 1 argument"));
    }
    for token in directive.args {
        let header = parse_set_header(directive, token)?;
        if builder.skips_framing(token.line, directive.name, &header.name) {
            continue;
        }
        builder.config.more_set_headers.push(header);
    }
    Ok(())
}

const SET_HEADER_FORM: &str =
    "\"Name: value\" or \"Name:\" (the -s and -t options are not supported)";

fn parse_set_header(
    directive: &Directive<'_, '_>,
    token: &Token<'_>,
) -> Result<SetHeader, CustomConfigError> {
    let Some((name, value)) = token.text.split_once(':') else {
        return Err(directive.invalid(token, SET_HEADER_FORM));
    };
    let name = name.trim_matches([' ', '\t']);
    let value = value.trim_matches([' ', '\t']);
    if !is_token(name) {
        return Err(directive.invalid(
            token,
            format!("{SET_HEADER_FORM}, where Name is {HEADER_NAME_FORM}"),
        ));
    }
    if !is_field_value(value) {
        return Err(directive.invalid(token, HEADER_VALUE_FORM));
    }
    let template = parse_template(directive, token.line, value, Variables::Response)
        .map_err(|e| e.unwrap_or_else(|| directive.invalid(token, TEMPLATE_FORM)))?;
    Ok(SetHeader {
        name: name.to_owned(),
        value: (!value.is_empty()).then(|| value.to_owned()),
        template,
    })
}

fn proxy_buffers(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    let [count, size] = directive.args else {
        return Err(directive.wrong_arg_count("exactly 2 arguments (COUNT SIZE)"));
    };
    let count = integer_in_range(directive, count, 3, 8)?;
    let size = size_in_range(directive, size, SizeUnit::K, 4, 16)?;
    builder.config.proxy_buffers = ProxyBuffers {
        count: to_usize(count),
        size: to_usize(size),
    };
    Ok(())
}

fn proxy_set_header(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    let [name, value] = directive.args else {
        return Err(directive.wrong_arg_count("exactly 2 arguments (NAME VALUE)"));
    };
    if !is_token(&name.text) {
        return Err(directive.invalid(name, HEADER_NAME_FORM));
    }
    if !is_field_value(&value.text) {
        return Err(directive.invalid(value, HEADER_VALUE_FORM));
    }
    let template = parse_template(directive, value.line, &value.text, Variables::Request)
        .map_err(|e| e.unwrap_or_else(|| directive.invalid(value, TEMPLATE_FORM)))?;
    builder.config.proxy_set_headers.push(ProxySetHeader {
        name: name.text.to_ascii_lowercase(),
        value: template,
    });
    Ok(())
}

const TEMPLATE_FORM: &str = "text with variables written $name or ${name}";

/// Which variables a header value may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variables {
    /// A request header's (`proxy_set_header`): not `$status`.
    Request,
    /// A response header's: all of them.
    Response,
}

/// Splits a value (`text`, on `line`) into literal text and `$name` /
/// `${name}` variables, the way nginx compiles it (a name is letters,
/// digits and `_`). `Err(None)` is a `$` without a name after it (the
/// caller says where); `Err(Some(_))` a variable `allowed` does not have.
fn parse_template(
    directive: &Directive<'_, '_>,
    line: usize,
    text: &str,
    allowed: Variables,
) -> Result<Vec<TemplatePart>, Option<CustomConfigError>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        push_literal(&mut parts, &rest[..dollar]);
        let (name, after) = split_variable_name(&rest[dollar + 1..]).ok_or(None)?;
        parts.push(variable_part(directive.name, line, name, allowed)?);
        rest = after;
    }
    push_literal(&mut parts, rest);
    Ok(parts)
}

/// The template part for the variable `name` (without `$`), if `allowed`
/// has it.
fn variable_part(
    directive: &'static str,
    line: usize,
    name: &str,
    allowed: Variables,
) -> Result<TemplatePart, Option<CustomConfigError>> {
    if let Some(header) = request_header_name(name) {
        return Ok(TemplatePart::RequestHeader(header));
    }
    let unknown = || CustomConfigError::UnknownVariable {
        line,
        directive,
        variable: name.to_owned(),
    };
    let variable = Variable::from_name(name).ok_or_else(unknown)?;
    if variable.is_response_only() && allowed == Variables::Request {
        return Err(Some(CustomConfigError::ResponseOnlyVariable {
            line,
            directive,
            variable: name.to_owned(),
        }));
    }
    Ok(TemplatePart::Var(variable))
}

/// The header name of `$http_NAME` (`name` without `$`, any case): NAME in
/// lower case with `-` for `_`; `None` when `name` is not of that form.
fn request_header_name(name: &str) -> Option<String> {
    let prefix = name.get(..5)?;
    let rest = &name[5..];
    if !prefix.eq_ignore_ascii_case("http_") || rest.is_empty() || !is_token(rest) {
        return None;
    }
    Some(rest.to_ascii_lowercase().replace('_', "-"))
}

/// `(name, rest)` for the text after a `$`; `None` when no name follows or a
/// `{` is not closed.
fn split_variable_name(text: &str) -> Option<(&str, &str)> {
    if let Some(braced) = text.strip_prefix('{') {
        let close = braced.find('}')?;
        let name = &braced[..close];
        return (!name.is_empty()).then(|| (name, &braced[close + 1..]));
    }
    let len = text
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    (len > 0).then(|| text.split_at(len))
}

fn push_literal(parts: &mut Vec<TemplatePart>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(TemplatePart::Literal(previous)) = parts.last_mut() {
        previous.push_str(text);
        return;
    }
    parts.push(TemplatePart::Literal(text.to_owned()));
}

const PROXY_REDIRECT_FORM: &str = "off, default, or exactly \"http:// https://\"";

/// `off` and `default` both mean no rewriting (stgw's targets are addressed
/// by IP, so nginx's `default` rewrite has nothing to match).
fn proxy_redirect(
    builder: &mut Builder,
    directive: &Directive<'_, '_>,
) -> Result<(), CustomConfigError> {
    let rewrite = match directive.args {
        [mode] if mode.text == "off" || mode.text == "default" => false,
        [from, to] if from.text == "http://" && to.text == "https://" => true,
        [_] | [_, _] => {
            return Err(directive.invalid_text(
                directive.line,
                &directive.args_text(),
                PROXY_REDIRECT_FORM,
            ));
        }
        _ => {
            return Err(
                directive.wrong_arg_count("1 or 2 arguments (off, default, or http:// https://)")
            );
        }
    };
    builder.config.proxy_redirect_https = rewrite;
    Ok(())
}

const ERROR_CODE_FORM: &str = "an HTTP status code between 300 and 599";
const ERROR_TARGET_FORM: &str = "a path starting with \"/\" or an http:// or https:// URL, without spaces, control characters or \"$\" variables";
const ERROR_PAGE_ARGS: &str = "at least 2 arguments (CODE ... [=[RESPONSE]] URI)";
const REDIRECT_CODES: [u16; 5] = [301, 302, 303, 307, 308];

fn error_page(
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

#[cfg(test)]
mod tests {
    use super::*;

    // -- helpers -------------------------------------------------------------

    fn parsed(text: &str) -> Parsed {
        match parse(text) {
            Ok(parsed) => parsed,
            Err(error) => panic!("{text:?} should parse, got: {error}"),
        }
    }

    fn config(text: &str) -> CustomConfig {
        parsed(text).config
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(parsed) => panic!("{text:?} should be refused, got {parsed:?}"),
            Err(error) => error.to_string(),
        }
    }

    fn assert_mentions(message: &str, parts: &[&str]) {
        for part in parts {
            assert!(
                message.contains(part),
                "{message:?} should mention {part:?}"
            );
        }
    }

    /// Puts `directive value;` on line 2 and checks the message names the
    /// directive, the line, the value and the allowed range.
    fn assert_out_of_range(directive: &str, value: &str, allowed: &str) {
        let message = error(&format!("# comment on line 1\n{directive} {value};"));
        assert_mentions(
            &message,
            &["line 2", directive, value, "out of range", allowed],
        );
    }

    fn assert_invalid(text: &str, parts: &[&str]) {
        let message = error(text);
        assert_mentions(&message, &["is invalid"]);
        assert_mentions(&message, parts);
    }

    fn assert_wrong_arg_count(text: &str, directive: &str, expected: &str) {
        let message = error(text);
        assert_mentions(&message, &["line 1", directive, "takes", expected]);
    }

    /// The template of a value without variables.
    fn text(value: &str) -> Vec<TemplatePart> {
        vec![TemplatePart::Literal(value.into())]
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    // -- whole text ----------------------------------------------------------

    #[test]
    fn empty_text_gives_every_product_default() {
        let parsed = parsed("");
        assert!(parsed.warnings.is_empty());
        let c = parsed.config;
        assert_eq!(c, CustomConfig::default());
        assert_eq!(
            c.ssl_protocols,
            TlsVersions {
                tls12: true,
                tls13: true
            }
        );
        assert_eq!(c.ssl_ciphers, None);
        assert_eq!(c.client_header_timeout, secs(60));
        assert_eq!(c.client_header_buffer_size, 4096);
        assert_eq!(c.client_body_timeout, secs(60));
        assert_eq!(c.client_max_body_size, 60 * 1024 * 1024);
        assert_eq!(c.keepalive_timeout, secs(75));
        assert_eq!(c.keepalive_requests, 100);
        assert!(c.add_headers.is_empty());
        assert!(c.more_set_headers.is_empty());
        assert_eq!(c.proxy_connect_timeout, secs(4));
        assert_eq!(c.proxy_read_timeout, secs(60));
        assert_eq!(c.proxy_send_timeout, secs(60));
        assert_eq!(c.proxy_buffer_size, 4096);
        assert_eq!(
            c.proxy_buffers,
            ProxyBuffers {
                count: 8,
                size: 4096
            }
        );
        assert!(c.proxy_request_buffering);
        assert!(c.proxy_set_headers.is_empty());
        assert_eq!(c.send_timeout, secs(60));
        assert_eq!(c.ssl_verify_depth, 1);
        assert!(!c.proxy_redirect_https);
        assert_eq!(c.http2_max_field_size, 4096);
        assert!(c.error_pages.is_empty());
        assert!(!c.proxy_ignore_client_abort);
    }

    #[test]
    fn whitespace_and_comments_alone_give_the_defaults() {
        let c = config("  \t\r\n# only a comment ; add_header X y;\n\n   # another\n");
        assert_eq!(c, CustomConfig::default());
    }

    #[test]
    fn product_default_sample_parses_to_defaults_plus_headers_and_two_warnings() {
        let sample = "ssl_protocols TLSv1 TLSv1.1 TLSv1.2; client_header_timeout 60s; \
                      client_header_buffer_size 4k; client_body_timeout 60s; client_max_body_size 60M; \
                      keepalive_timeout 75s; add_header xxx yyy; more_set_headers \"A:B\"; \
                      proxy_connect_timeout 4s; proxy_read_timeout 60s; proxy_send_timeout 60s;";
        let parsed = parsed(sample);
        let expected = CustomConfig {
            // The sample lists TLS 1.2 as its only version rustls supports.
            ssl_protocols: TlsVersions {
                tls12: true,
                tls13: false,
            },
            add_headers: vec![AddHeader {
                name: "xxx".into(),
                value: "yyy".into(),
                template: text("yyy"),
                always: false,
            }],
            more_set_headers: vec![SetHeader {
                name: "A".into(),
                value: Some("B".into()),
                template: text("B"),
            }],
            ..CustomConfig::default()
        };
        assert_eq!(parsed.config, expected);
        let warnings: Vec<String> = parsed.warnings.iter().map(Warning::to_string).collect();
        assert_eq!(
            warnings,
            [
                "line 1: ssl_protocols: TLSv1 ignored: rustls supports TLS 1.2 and 1.3 only",
                "line 1: ssl_protocols: TLSv1.1 ignored: rustls supports TLS 1.2 and 1.3 only",
            ]
        );
    }

    #[test]
    fn directives_may_share_a_line_or_span_several_lines() {
        let c =
            config("send_timeout 10s; keepalive_requests 5;\nadd_header\n  X-A\n  b\n  always\n;");
        assert_eq!(c.send_timeout, secs(10));
        assert_eq!(c.keepalive_requests, 5);
        assert_eq!(
            c.add_headers,
            [AddHeader {
                name: "X-A".into(),
                value: "b".into(),
                template: text("b"),
                always: true
            }]
        );
    }

    #[test]
    fn comment_runs_to_end_of_line_but_hash_inside_a_word_is_literal() {
        let c = config("add_header X-A a#b; # add_header X-B c;\nadd_header X-C \"#d\";");
        let values: Vec<&str> = c.add_headers.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(values, ["a#b", "#d"]);
    }

    #[test]
    fn double_and_single_quotes_group_words_with_spaces_and_semicolons() {
        let c = config("add_header X-A \"a b; c\"; add_header X-B 'd \"e\"';");
        let values: Vec<&str> = c.add_headers.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(values, ["a b; c", "d \"e\""]);
    }

    #[test]
    fn backslash_escapes_follow_nginx() {
        let c = config(r#"add_header X-A "say \"hi\" \\ \'x\' \d"; add_header X-B a\"b;"#);
        let values: Vec<&str> = c.add_headers.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(values, [r#"say "hi" \ 'x' \d"#, "a\"b"]);
    }

    #[test]
    fn escaped_newline_in_a_header_value_is_refused() {
        assert_invalid(
            r#"add_header X-A "a\nb";"#,
            &["line 1", "add_header", "control characters"],
        );
    }

    #[test]
    fn tokens_without_escapes_borrow_the_text() {
        let mut lexer = Lexer::new("plain \"quoted\" esc\\\"aped");
        let mut borrowed = Vec::new();
        while let Ok(Some(Lexeme::Word(token))) = lexer.next_lexeme() {
            borrowed.push(matches!(token.text, Cow::Borrowed(_)));
        }
        assert_eq!(borrowed, [true, true, false]);
    }

    #[test]
    fn unclosed_quote_is_refused_naming_the_directive_and_line() {
        let message = error("send_timeout 5s;\nadd_header X-A \"abc;\n");
        assert_mentions(
            &message,
            &["line 2", "quoted string is not closed", "add_header"],
        );
    }

    #[test]
    fn text_glued_to_a_closing_quote_is_refused() {
        let message = error("add_header X-A \"a\"b;");
        assert_mentions(&message, &["line 1", "unexpected \"b\"", "add_header"]);
    }

    #[test]
    fn missing_final_semicolon_names_the_directive_and_its_line() {
        let message = error("send_timeout 5s;\n\nkeepalive_requests 5\n");
        assert_eq!(
            message,
            "line 3: directive \"keepalive_requests\" is not terminated by \";\""
        );
    }

    #[test]
    fn braces_are_refused_because_there_are_no_blocks() {
        assert_mentions(
            &error("server {\n}"),
            &["line 1", "unexpected \"{\"", "server"],
        );
        assert_mentions(
            &error("send_timeout 5s;\n}"),
            &["line 2", "unexpected \"}\""],
        );
    }

    #[test]
    fn lone_semicolon_is_refused() {
        assert_eq!(
            error("send_timeout 5s;;"),
            "line 1: unexpected \";\": a directive name is missing"
        );
    }

    #[test]
    fn unknown_directive_is_refused_listing_the_allowed_ones() {
        let message = error("send_timeout 5s;\ngzip_types text/plain;");
        assert!(message.starts_with(
            "line 2: unknown directive \"gzip_types\"; allowed: ssl_protocols, ssl_ciphers,"
        ));
        for spec in DIRECTIVES {
            assert_mentions(&message, &[spec.name]);
        }
    }

    #[test]
    fn directive_names_are_case_sensitive_as_in_nginx() {
        assert_mentions(
            &error("Send_Timeout 5s;"),
            &["unknown directive \"Send_Timeout\""],
        );
    }

    #[test]
    fn text_of_exactly_64_kib_is_accepted() {
        let directive = "send_timeout 5s;";
        let padding = "#".repeat(MAX_TEXT_LEN - directive.len() - 1);
        let text = format!("{directive}\n{padding}");
        assert_eq!(text.len(), 64 * 1024);
        assert_eq!(config(&text).send_timeout, secs(5));
    }

    #[test]
    fn text_over_64_kib_is_refused() {
        let text = " ".repeat(MAX_TEXT_LEN + 1);
        assert_eq!(
            parse(&text),
            Err(CustomConfigError::TooLong {
                len: 65537,
                max: 65536
            })
        );
        assert_mentions(&error(&text), &["65537 bytes", "at most 65536 bytes"]);
    }

    #[test]
    fn duplicate_single_valued_directive_is_refused_with_both_lines() {
        let message =
            error("client_header_timeout 60s;\nsend_timeout 5s;\nclient_header_timeout 60s;");
        assert_eq!(
            message,
            "line 3: \"client_header_timeout\" directive is duplicate (first set on line 1)"
        );
    }

    /// A valid value for every directive, in table order.
    const VALID_VALUES: [(&str, &str); 23] = [
        ("ssl_protocols", "TLSv1.2"),
        ("ssl_ciphers", "HIGH"),
        ("client_header_timeout", "60s"),
        ("client_header_buffer_size", "4k"),
        ("client_body_timeout", "60s"),
        ("client_max_body_size", "60M"),
        ("keepalive_timeout", "75s"),
        ("add_header", "X-A b"),
        ("more_set_headers", "X-A:b"),
        ("proxy_connect_timeout", "4s"),
        ("proxy_read_timeout", "60s"),
        ("proxy_send_timeout", "60s"),
        ("keepalive_requests", "100"),
        ("proxy_buffer_size", "4k"),
        ("proxy_buffers", "8 4k"),
        ("proxy_request_buffering", "on"),
        ("proxy_set_header", "X-A $host"),
        ("send_timeout", "60s"),
        ("ssl_verify_depth", "1"),
        ("proxy_redirect", "off"),
        ("http2_max_field_size", "4k"),
        ("error_page", "404 /x"),
        ("proxy_ignore_client_abort", "off"),
    ];

    #[test]
    fn the_directive_list_is_exactly_the_products() {
        let names: Vec<&str> = DIRECTIVES.iter().map(|spec| spec.name).collect();
        let expected: Vec<&str> = VALID_VALUES.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, expected);
        let all: String = VALID_VALUES
            .iter()
            .map(|(name, value)| format!("{name} {value};\n"))
            .collect();
        parsed(&all);
    }

    #[test]
    fn every_single_valued_directive_refuses_a_duplicate() {
        for (name, value) in VALID_VALUES {
            let text = format!("{name} {value};\n{name} {value};");
            let Some(spec) = find_spec(name).map(|(_, spec)| spec) else {
                panic!("{name} is not in the table");
            };
            if spec.repeatable {
                assert!(parse(&text).is_ok(), "{name} is repeatable");
                continue;
            }
            let message = error(&text);
            let expected =
                format!("line 2: \"{name}\" directive is duplicate (first set on line 1)");
            assert_eq!(message, expected);
        }
    }

    #[test]
    fn repeatable_directives_accumulate_in_text_order() {
        let c = config(
            "add_header A 1; add_header B 2;\nmore_set_headers \"C: 3\"; more_set_headers \"D: 4\";\n\
             proxy_set_header E $host; proxy_set_header F $uri;\nerror_page 404 /a; error_page 500 /b;",
        );
        assert_eq!(c.add_headers.len(), 2);
        assert_eq!(c.more_set_headers.len(), 2);
        assert_eq!(c.proxy_set_headers.len(), 2);
        assert_eq!(c.error_pages.len(), 2);
        assert_eq!(c.add_headers[1].name, "B");
        assert_eq!(c.error_pages[1].codes, [500]);
    }

    #[test]
    fn crlf_line_endings_count_lines_like_lf() {
        let message = error("send_timeout 5s;\r\n# note\r\nsend_timeout 0s;\r\n");
        assert_mentions(&message, &["line 3"]);
    }

    #[test]
    fn error_line_is_the_line_of_the_offending_value() {
        let message = error("proxy_buffers\n  8\n  64k;");
        assert_mentions(&message, &["line 3", "proxy_buffers", "64k", "4k–16k"]);
    }

    #[test]
    fn non_ascii_text_is_handled_without_panicking() {
        let c = config("add_header X-Name \"中文 ü\"; # 注释\n");
        assert_eq!(c.add_headers[0].value, "中文 ü");
        assert_mentions(&error("中文;"), &["unknown directive \"中文\""]);
        assert_mentions(&error("add_header X \"a\"é;"), &["unexpected \"é\""]);
    }

    // -- units ---------------------------------------------------------------

    #[test]
    fn sizes_take_k_m_g_in_either_case_or_plain_bytes() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("8k"), Some(8 * 1024));
        assert_eq!(parse_size("8K"), Some(8 * 1024));
        assert_eq!(parse_size("3m"), Some(3 * 1024 * 1024));
        assert_eq!(parse_size("3M"), Some(3 * 1024 * 1024));
        assert_eq!(parse_size("2g"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("2G"), Some(2 * 1024 * 1024 * 1024));
    }

    #[test]
    fn malformed_sizes_are_invalid_values() {
        for bad in ["4kb", "k", "-1k", "1.5k", "4 k", "", "0x10"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_invalid(
            "client_header_buffer_size 4kb;",
            &["client_header_buffer_size", "\"4kb\"", "a size"],
        );
    }

    #[test]
    fn times_take_nginx_units_and_combinations() {
        assert_eq!(parse_time("60"), Some(secs(60)));
        assert_eq!(parse_time("60s"), Some(secs(60)));
        assert_eq!(parse_time("1m30s"), Some(secs(90)));
        assert_eq!(parse_time("1m30"), Some(secs(90)));
        assert_eq!(parse_time("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_time("1s500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_time("2h"), Some(secs(7200)));
        assert_eq!(parse_time("1d"), Some(secs(86400)));
        assert_eq!(parse_time("1w"), Some(secs(7 * 86400)));
        assert_eq!(parse_time("0"), Some(Duration::ZERO));
    }

    #[test]
    fn times_with_units_out_of_order_or_unknown_are_invalid() {
        for bad in [
            "30s1m", "1s1s", "1y", "1M", "1.5s", "", "s", "1 m", "-5s", "10sec",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_invalid(
            "send_timeout 30s1m;",
            &["send_timeout", "\"30s1m\"", "a time"],
        );
    }

    #[test]
    fn huge_numbers_are_out_of_range_not_a_crash() {
        assert_out_of_range("send_timeout", "99999999999999999999999d", "1s–3600s");
        assert_out_of_range(
            "client_max_body_size",
            "99999999999999999999999G",
            "1M–10240M",
        );
        assert_out_of_range("keepalive_requests", "99999999999999999999999", "1–10000");
    }

    // -- ssl_protocols ---------------------------------------------------------

    #[test]
    fn ssl_protocols_keeps_tls12_and_tls13() {
        let tls13_only = config("ssl_protocols TLSv1.3;").ssl_protocols;
        assert_eq!(
            tls13_only,
            TlsVersions {
                tls12: false,
                tls13: true
            }
        );
        let both = config("ssl_protocols TLSv1.2 TLSv1.3;").ssl_protocols;
        assert_eq!(
            both,
            TlsVersions {
                tls12: true,
                tls13: true
            }
        );
    }

    #[test]
    fn ssl_protocols_drops_tls10_and_tls11_with_a_warning() {
        let parsed = parsed("\nssl_protocols TLSv1.1 TLSv1.2;");
        assert_eq!(
            parsed.config.ssl_protocols,
            TlsVersions {
                tls12: true,
                tls13: false
            }
        );
        assert_eq!(
            parsed.warnings,
            [Warning {
                line: 2,
                directive: "ssl_protocols",
                message: "TLSv1.1 ignored: rustls supports TLS 1.2 and 1.3 only".into(),
            }]
        );
    }

    #[test]
    fn ssl_protocols_leaving_neither_tls12_nor_tls13_is_refused() {
        assert_invalid(
            "ssl_protocols TLSv1 TLSv1.1;",
            &[
                "line 1",
                "ssl_protocols",
                "\"TLSv1 TLSv1.1\"",
                "TLSv1.2 or TLSv1.3",
            ],
        );
    }

    #[test]
    fn ssl_protocols_unknown_version_is_refused() {
        assert_invalid(
            "ssl_protocols SSLv3 TLSv1.2;",
            &[
                "ssl_protocols",
                "\"SSLv3\"",
                "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3",
            ],
        );
    }

    #[test]
    fn ssl_protocols_names_are_case_insensitive_as_in_nginx() {
        assert!(config("ssl_protocols tlsv1.3;").ssl_protocols.tls13);
    }

    #[test]
    fn ssl_protocols_needs_at_least_one_argument() {
        assert_wrong_arg_count("ssl_protocols;", "ssl_protocols", "at least 1 argument");
    }

    // -- ssl_ciphers -----------------------------------------------------------

    #[test]
    fn ssl_ciphers_is_kept_raw_for_the_tls_module() {
        let raw = "ECDHE-RSA-AES128-GCM-SHA256:kEDH+AESGCM:HIGH:!aNULL:!MD5:+3DES";
        assert_eq!(
            config(&format!("ssl_ciphers {raw};"))
                .ssl_ciphers
                .as_deref(),
            Some(raw)
        );
        assert_eq!(
            config(&format!("ssl_ciphers \"{raw}\";"))
                .ssl_ciphers
                .as_deref(),
            Some(raw)
        );
    }

    #[test]
    fn ssl_ciphers_takes_exactly_one_non_empty_argument() {
        assert_wrong_arg_count(
            "ssl_ciphers HIGH MEDIUM;",
            "ssl_ciphers",
            "exactly 1 argument",
        );
        assert_wrong_arg_count("ssl_ciphers;", "ssl_ciphers", "exactly 1 argument");
        assert_invalid(
            "ssl_ciphers \"\";",
            &["ssl_ciphers", "OpenSSL cipher string"],
        );
    }

    // -- client_header_timeout -------------------------------------------------

    #[test]
    fn client_header_timeout_accepts_30s_to_120s() {
        assert_eq!(
            config("client_header_timeout 30s;").client_header_timeout,
            secs(30)
        );
        assert_eq!(
            config("client_header_timeout 120s;").client_header_timeout,
            secs(120)
        );
        assert_eq!(
            config("client_header_timeout 2m;").client_header_timeout,
            secs(120)
        );
    }

    #[test]
    fn client_header_timeout_refuses_29s_and_121s() {
        assert_out_of_range("client_header_timeout", "29s", "30s–120s");
        assert_out_of_range("client_header_timeout", "121s", "30s–120s");
        assert_out_of_range("client_header_timeout", "29999ms", "30s–120s");
    }

    #[test]
    fn client_header_timeout_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "client_header_timeout 30s 40s;",
            "client_header_timeout",
            "exactly 1 argument",
        );
    }

    // -- client_header_buffer_size ---------------------------------------------

    #[test]
    fn client_header_buffer_size_accepts_1k_to_256k() {
        assert_eq!(
            config("client_header_buffer_size 1k;").client_header_buffer_size,
            1024
        );
        assert_eq!(
            config("client_header_buffer_size 1024;").client_header_buffer_size,
            1024
        );
        assert_eq!(
            config("client_header_buffer_size 256k;").client_header_buffer_size,
            256 * 1024
        );
    }

    #[test]
    fn client_header_buffer_size_refuses_0k_1023_bytes_and_257k() {
        assert_out_of_range("client_header_buffer_size", "0k", "1k–256k");
        assert_out_of_range("client_header_buffer_size", "1023", "1k–256k");
        assert_out_of_range("client_header_buffer_size", "257k", "1k–256k");
    }

    #[test]
    fn client_header_buffer_size_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "client_header_buffer_size;",
            "client_header_buffer_size",
            "exactly 1 argument",
        );
    }

    // -- client_body_timeout ---------------------------------------------------

    #[test]
    fn client_body_timeout_accepts_30s_to_120s() {
        assert_eq!(
            config("client_body_timeout 30;").client_body_timeout,
            secs(30)
        );
        assert_eq!(
            config("client_body_timeout 120s;").client_body_timeout,
            secs(120)
        );
    }

    #[test]
    fn client_body_timeout_refuses_29s_and_121s() {
        assert_out_of_range("client_body_timeout", "29s", "30s–120s");
        assert_out_of_range("client_body_timeout", "121s", "30s–120s");
    }

    #[test]
    fn client_body_timeout_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "client_body_timeout 30s 1;",
            "client_body_timeout",
            "exactly 1 argument",
        );
    }

    // -- client_max_body_size --------------------------------------------------

    #[test]
    fn client_max_body_size_accepts_1m_to_256m_alone() {
        assert_eq!(
            config("client_max_body_size 1M;").client_max_body_size,
            1024 * 1024
        );
        assert_eq!(
            config("client_max_body_size 1024k;").client_max_body_size,
            1024 * 1024
        );
        assert_eq!(
            config("client_max_body_size 256M;").client_max_body_size,
            256 * 1024 * 1024
        );
    }

    #[test]
    fn client_max_body_size_above_256m_requires_buffering_off() {
        let message = error("# big uploads\nclient_max_body_size 257M;");
        assert_eq!(
            message,
            "line 2: client_max_body_size 257M (above 256M) requires proxy_request_buffering off in the same configuration"
        );
        let explicit_on = error("client_max_body_size 10240M; proxy_request_buffering on;");
        assert_mentions(
            &explicit_on,
            &["client_max_body_size 10240M", "proxy_request_buffering off"],
        );
    }

    #[test]
    fn client_max_body_size_up_to_10240m_is_accepted_with_buffering_off_in_any_order() {
        let after = config("client_max_body_size 10240M; proxy_request_buffering off;");
        assert_eq!(after.client_max_body_size, 10240 * 1024 * 1024);
        let before = config("proxy_request_buffering off;\nclient_max_body_size 10g;");
        assert_eq!(before.client_max_body_size, 10240 * 1024 * 1024);
        assert!(!before.proxy_request_buffering);
    }

    #[test]
    fn client_max_body_size_1g_counts_as_1024m() {
        assert_eq!(
            config("client_max_body_size 1G; proxy_request_buffering off;").client_max_body_size,
            1 << 30
        );
        assert_mentions(
            &error("client_max_body_size 1G;"),
            &["client_max_body_size 1024M (above 256M)"],
        );
    }

    #[test]
    fn client_max_body_size_refuses_0_512k_and_10241m() {
        // nginx reads 0 as "unlimited"; the product range starts at 1M.
        assert_out_of_range("client_max_body_size", "0", "1M–10240M");
        assert_out_of_range("client_max_body_size", "512k", "1M–10240M");
        assert_out_of_range("client_max_body_size", "10241M", "1M–10240M");
        assert_out_of_range("client_max_body_size", "20000M", "1M–10240M");
    }

    #[test]
    fn client_max_body_size_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "client_max_body_size 1M 2M;",
            "client_max_body_size",
            "exactly 1 argument",
        );
    }

    // -- keepalive_timeout -----------------------------------------------------

    #[test]
    fn keepalive_timeout_accepts_0_to_3600s_where_0_disables_keep_alive() {
        assert_eq!(
            config("keepalive_timeout 0;").keepalive_timeout,
            Duration::ZERO
        );
        assert_eq!(
            config("keepalive_timeout 0s;").keepalive_timeout,
            Duration::ZERO
        );
        assert_eq!(
            config("keepalive_timeout 3600s;").keepalive_timeout,
            secs(3600)
        );
        assert_eq!(
            config("keepalive_timeout 1h;").keepalive_timeout,
            secs(3600)
        );
    }

    #[test]
    fn keepalive_timeout_refuses_3601s() {
        assert_out_of_range("keepalive_timeout", "3601s", "0s–3600s");
        assert_out_of_range("keepalive_timeout", "1h1s", "0s–3600s");
    }

    #[test]
    fn keepalive_timeout_refuses_nginx_header_timeout_argument() {
        let message = error("keepalive_timeout 75s 60s;");
        assert_mentions(
            &message,
            &[
                "line 1",
                "keepalive_timeout",
                "exactly 1 argument",
                "header_timeout",
                "found 2",
            ],
        );
        assert_wrong_arg_count(
            "keepalive_timeout;",
            "keepalive_timeout",
            "exactly 1 argument",
        );
    }

    // -- keepalive_requests ----------------------------------------------------

    #[test]
    fn keepalive_requests_accepts_1_to_10000() {
        assert_eq!(config("keepalive_requests 1;").keepalive_requests, 1);
        assert_eq!(
            config("keepalive_requests 10000;").keepalive_requests,
            10000
        );
    }

    #[test]
    fn keepalive_requests_refuses_0_and_10001() {
        assert_out_of_range("keepalive_requests", "0", "1–10000");
        assert_out_of_range("keepalive_requests", "10001", "1–10000");
    }

    #[test]
    fn keepalive_requests_is_a_plain_integer() {
        assert_invalid(
            "keepalive_requests 1k;",
            &["keepalive_requests", "\"1k\"", "a whole number"],
        );
        assert_wrong_arg_count(
            "keepalive_requests 1 2;",
            "keepalive_requests",
            "exactly 1 argument",
        );
    }

    // -- add_header ------------------------------------------------------------

    #[test]
    fn add_header_keeps_name_case_value_and_always() {
        let c = config(
            "add_header X-Frame-Options \"SAMEORIGIN\" always; add_header Cache-Control 'no-cache, no-store';",
        );
        assert_eq!(
            c.add_headers,
            [
                AddHeader {
                    name: "X-Frame-Options".into(),
                    value: "SAMEORIGIN".into(),
                    template: text("SAMEORIGIN"),
                    always: true
                },
                AddHeader {
                    name: "Cache-Control".into(),
                    value: "no-cache, no-store".into(),
                    template: text("no-cache, no-store"),
                    always: false
                },
            ]
        );
    }

    #[test]
    fn add_header_with_empty_value_is_kept_with_a_warning() {
        let parsed = parsed("add_header X-Empty \"\";");
        assert_eq!(parsed.config.add_headers[0].value, "");
        assert_eq!(parsed.warnings.len(), 1);
        assert_mentions(
            &parsed.warnings[0].to_string(),
            &["line 1", "add_header", "X-Empty", "will not be added"],
        );
    }

    #[test]
    fn framing_fields_are_ignored_with_a_warning() {
        let parsed = parsed(
            "add_header Content-Length 5 always; more_set_headers \"Transfer-Encoding: chunked\" \"X-A: 1\";",
        );
        assert!(parsed.config.add_headers.is_empty());
        assert_eq!(parsed.config.more_set_headers.len(), 1);
        assert_eq!(parsed.config.more_set_headers[0].name, "X-A");
        assert_eq!(parsed.warnings.len(), 2);
        assert_mentions(
            &parsed.warnings[0].to_string(),
            &["add_header", "Content-Length", "ignored", "framing"],
        );
        assert_mentions(&parsed.warnings[1].to_string(), &["Transfer-Encoding"]);
    }

    #[test]
    fn response_header_values_are_templates_without_warnings() {
        let parsed = parsed(
            "add_header X-Host \"h=$host\"; add_header Access-Control-Allow-Origin $http_origin always;\n\
             more_set_headers \"X-Status: $status\" 'X-Via: ${HTTP_X_Forwarded_For}!' \"X-Q: $args$query_string$server_name\";",
        );
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let c = parsed.config;
        assert_eq!(c.add_headers[0].value, "h=$host");
        assert_eq!(
            c.add_headers[0].template,
            [
                TemplatePart::Literal("h=".into()),
                TemplatePart::Var(Variable::Host)
            ]
        );
        assert_eq!(
            c.add_headers[1].template,
            [TemplatePart::RequestHeader("origin".into())]
        );
        assert_eq!(
            c.more_set_headers[0].template,
            [TemplatePart::Var(Variable::Status)]
        );
        assert_eq!(
            c.more_set_headers[1].template,
            [
                TemplatePart::RequestHeader("x-forwarded-for".into()),
                TemplatePart::Literal("!".into())
            ]
        );
        assert_eq!(
            c.more_set_headers[2].template,
            [
                TemplatePart::Var(Variable::Args),
                TemplatePart::Var(Variable::QueryString),
                TemplatePart::Var(Variable::ServerName)
            ]
        );
    }

    #[test]
    fn response_header_values_refuse_unknown_variables_with_their_line() {
        assert_mentions(
            &error("add_header X-A b;\nadd_header X-Id $request_id always;"),
            &[
                "line 2",
                "add_header",
                "unknown variable \"$request_id\"",
                "$status",
                "$http_NAME",
            ],
        );
        assert_mentions(
            &error("\n\nmore_set_headers \"X-A: 1\" \"X-B: $nope\";"),
            &["line 3", "more_set_headers", "unknown variable \"$nope\""],
        );
        assert_mentions(
            &error("add_header X-A $http_;"),
            &["line 1", "unknown variable \"$http_\""],
        );
        assert_invalid(
            "more_set_headers \"X-A: cost $ 5\";",
            &["more_set_headers", "$name or ${name}"],
        );
    }

    #[test]
    fn proxy_set_header_refuses_status_with_what_is_allowed() {
        let message = error("add_header X-S $status;\nproxy_set_header X-S $status;");
        assert_mentions(
            &message,
            &[
                "line 2",
                "proxy_set_header",
                "\"$status\"",
                "response headers",
                "allowed: $remote_port",
                "$http_NAME",
            ],
        );
        let allowed = message.split("allowed:").nth(1).unwrap_or_default();
        assert!(!allowed.contains("$status"), "{message}");
        let refused = parse("\nproxy_set_header X-S ${STATUS};").err();
        assert!(matches!(
            refused,
            Some(CustomConfigError::ResponseOnlyVariable { line: 2, .. })
        ));
    }

    #[test]
    fn proxy_set_header_reads_request_headers() {
        let c = config("proxy_set_header X-Orig $http_x_real_ip;");
        assert_eq!(
            c.proxy_set_headers[0].value,
            [TemplatePart::RequestHeader("x-real-ip".into())]
        );
    }

    #[test]
    fn add_header_refuses_invalid_name_and_unknown_flag() {
        assert_invalid(
            "add_header \"Bad Name\" x;",
            &["add_header", "\"Bad Name\"", "header name"],
        );
        assert_invalid("add_header X:Y x;", &["add_header", "\"X:Y\""]);
        assert_invalid(
            "add_header X-A b sometimes;",
            &["add_header", "\"sometimes\"", "always"],
        );
    }

    #[test]
    fn add_header_takes_2_or_3_arguments() {
        assert_wrong_arg_count("add_header X-A;", "add_header", "2 or 3 arguments");
        assert_wrong_arg_count(
            "add_header X-A b always more;",
            "add_header",
            "2 or 3 arguments",
        );
    }

    // -- more_set_headers ------------------------------------------------------

    #[test]
    fn more_set_headers_sets_each_name_value_pair_with_trimmed_value() {
        let c = config("more_set_headers \"Server: my-server\" 'X-A:  b c  ' X-B:d;");
        assert_eq!(
            c.more_set_headers,
            [
                SetHeader {
                    name: "Server".into(),
                    value: Some("my-server".into()),
                    template: text("my-server"),
                },
                SetHeader {
                    name: "X-A".into(),
                    value: Some("b c".into()),
                    template: text("b c"),
                },
                SetHeader {
                    name: "X-B".into(),
                    value: Some("d".into()),
                    template: text("d"),
                },
            ]
        );
    }

    #[test]
    fn more_set_headers_with_empty_value_removes_the_header() {
        let c = config("more_set_headers \"X-Powered-By:\" 'Server: ';");
        assert_eq!(c.more_set_headers[0].value, None);
        assert_eq!(c.more_set_headers[1].value, None);
    }

    #[test]
    fn more_set_headers_refuses_missing_colon_options_and_bad_names() {
        assert_invalid(
            "more_set_headers \"A B\";",
            &["more_set_headers", "\"A B\"", "Name: value"],
        );
        assert_invalid(
            "more_set_headers -s 404 \"A: B\";",
            &["more_set_headers", "\"-s\"", "-s and -t"],
        );
        assert_invalid(
            "more_set_headers \"Bad Name: x\";",
            &["more_set_headers", "header name"],
        );
        assert_invalid("more_set_headers \":x\";", &["more_set_headers", "\":x\""]);
    }

    #[test]
    fn more_set_headers_needs_at_least_one_argument() {
        assert_wrong_arg_count(
            "more_set_headers;",
            "more_set_headers",
            "at least 1 argument",
        );
    }

    // -- proxy_connect_timeout / proxy_read_timeout / proxy_send_timeout --------

    #[test]
    fn proxy_connect_timeout_accepts_4s_to_120s() {
        assert_eq!(
            config("proxy_connect_timeout 4s;").proxy_connect_timeout,
            secs(4)
        );
        assert_eq!(
            config("proxy_connect_timeout 120s;").proxy_connect_timeout,
            secs(120)
        );
    }

    #[test]
    fn proxy_connect_timeout_refuses_3s_and_121s() {
        assert_out_of_range("proxy_connect_timeout", "3s", "4s–120s");
        assert_out_of_range("proxy_connect_timeout", "3999ms", "4s–120s");
        assert_out_of_range("proxy_connect_timeout", "121s", "4s–120s");
    }

    #[test]
    fn proxy_connect_timeout_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "proxy_connect_timeout;",
            "proxy_connect_timeout",
            "exactly 1 argument",
        );
    }

    #[test]
    fn proxy_read_timeout_accepts_30s_to_3600s() {
        assert_eq!(
            config("proxy_read_timeout 30s;").proxy_read_timeout,
            secs(30)
        );
        assert_eq!(
            config("proxy_read_timeout 3600s;").proxy_read_timeout,
            secs(3600)
        );
    }

    #[test]
    fn proxy_read_timeout_refuses_29s_and_3601s() {
        assert_out_of_range("proxy_read_timeout", "29s", "30s–3600s");
        assert_out_of_range("proxy_read_timeout", "3601s", "30s–3600s");
    }

    #[test]
    fn proxy_read_timeout_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "proxy_read_timeout 1 2;",
            "proxy_read_timeout",
            "exactly 1 argument",
        );
    }

    #[test]
    fn proxy_send_timeout_accepts_30s_to_3600s() {
        assert_eq!(
            config("proxy_send_timeout 30s;").proxy_send_timeout,
            secs(30)
        );
        assert_eq!(
            config("proxy_send_timeout 60m;").proxy_send_timeout,
            secs(3600)
        );
    }

    #[test]
    fn proxy_send_timeout_refuses_29s_and_3601s() {
        assert_out_of_range("proxy_send_timeout", "29s", "30s–3600s");
        assert_out_of_range("proxy_send_timeout", "3601s", "30s–3600s");
    }

    #[test]
    fn proxy_send_timeout_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "proxy_send_timeout;",
            "proxy_send_timeout",
            "exactly 1 argument",
        );
    }

    // -- proxy_buffer_size / proxy_buffers -------------------------------------

    #[test]
    fn proxy_buffer_size_accepts_1k_to_32k_with_proxy_buffers() {
        assert_eq!(
            config("proxy_buffer_size 1k; proxy_buffers 8 4k;").proxy_buffer_size,
            1024
        );
        assert_eq!(
            config("proxy_buffers 8 4k; proxy_buffer_size 32k;").proxy_buffer_size,
            32 * 1024
        );
    }

    #[test]
    fn proxy_buffer_size_refuses_0k_and_33k() {
        let with_buffers =
            |value: &str| error(&format!("proxy_buffers 8 4k;\nproxy_buffer_size {value};"));
        assert_mentions(
            &with_buffers("0k"),
            &["line 2", "proxy_buffer_size 0k", "out of range", "1k–32k"],
        );
        assert_mentions(
            &with_buffers("33k"),
            &["line 2", "proxy_buffer_size 33k", "out of range", "1k–32k"],
        );
    }

    #[test]
    fn proxy_buffer_size_requires_proxy_buffers() {
        assert_eq!(
            error("\nproxy_buffer_size 8k;"),
            "line 2: proxy_buffer_size requires proxy_buffers in the same configuration"
        );
    }

    #[test]
    fn proxy_buffer_size_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "proxy_buffer_size 4k 8k;",
            "proxy_buffer_size",
            "exactly 1 argument",
        );
    }

    #[test]
    fn proxy_buffers_accepts_3_to_8_buffers_of_4k_to_16k() {
        let min = config("proxy_buffers 3 4k;").proxy_buffers;
        assert_eq!(
            min,
            ProxyBuffers {
                count: 3,
                size: 4096
            }
        );
        let max = config("proxy_buffers 8 16k;").proxy_buffers;
        assert_eq!(
            max,
            ProxyBuffers {
                count: 8,
                size: 16384
            }
        );
    }

    #[test]
    fn proxy_buffers_refuses_2_or_9_buffers_and_3k_or_17k_sizes() {
        assert_mentions(
            &error("proxy_buffers 2 4k;"),
            &["line 1", "proxy_buffers 2", "out of range", "3–8"],
        );
        assert_mentions(
            &error("proxy_buffers 9 4k;"),
            &["line 1", "proxy_buffers 9", "out of range", "3–8"],
        );
        assert_mentions(
            &error("proxy_buffers 8 3k;"),
            &["line 1", "proxy_buffers 3k", "out of range", "4k–16k"],
        );
        assert_mentions(
            &error("proxy_buffers 8 17k;"),
            &["line 1", "proxy_buffers 17k", "out of range", "4k–16k"],
        );
        assert_invalid(
            "proxy_buffers eight 4k;",
            &["proxy_buffers", "\"eight\"", "a whole number"],
        );
    }

    #[test]
    fn proxy_buffers_takes_exactly_two_arguments() {
        assert_wrong_arg_count("proxy_buffers 8;", "proxy_buffers", "exactly 2 arguments");
        assert_wrong_arg_count(
            "proxy_buffers 8 4k 4k;",
            "proxy_buffers",
            "exactly 2 arguments",
        );
    }

    // -- proxy_request_buffering / proxy_ignore_client_abort --------------------

    #[test]
    fn proxy_request_buffering_is_on_or_off_in_any_case() {
        assert!(config("proxy_request_buffering on;").proxy_request_buffering);
        assert!(!config("proxy_request_buffering off;").proxy_request_buffering);
        assert!(!config("proxy_request_buffering OFF;").proxy_request_buffering);
    }

    #[test]
    fn proxy_request_buffering_refuses_other_values_and_arg_counts() {
        assert_invalid(
            "proxy_request_buffering yes;",
            &["proxy_request_buffering", "\"yes\"", "on or off"],
        );
        assert_wrong_arg_count(
            "proxy_request_buffering;",
            "proxy_request_buffering",
            "exactly 1 argument",
        );
    }

    #[test]
    fn proxy_ignore_client_abort_is_on_or_off() {
        assert!(config("proxy_ignore_client_abort on;").proxy_ignore_client_abort);
        assert!(!config("proxy_ignore_client_abort off;").proxy_ignore_client_abort);
    }

    #[test]
    fn proxy_ignore_client_abort_refuses_other_values_and_arg_counts() {
        assert_invalid(
            "proxy_ignore_client_abort 1;",
            &["proxy_ignore_client_abort", "\"1\"", "on or off"],
        );
        assert_wrong_arg_count(
            "proxy_ignore_client_abort on off;",
            "proxy_ignore_client_abort",
            "exactly 1 argument",
        );
    }

    // -- proxy_set_header ------------------------------------------------------

    #[test]
    fn every_directive_accepts_every_documented_variable() {
        for variable in Variable::ALL {
            let name = variable.name();
            let c = config(&format!(
                "add_header X-A ${name}; more_set_headers \"X-B: ${name}\";"
            ));
            assert_eq!(c.add_headers[0].template, [TemplatePart::Var(variable)]);
            assert_eq!(
                c.more_set_headers[0].template,
                [TemplatePart::Var(variable)]
            );
            if variable.is_response_only() {
                continue;
            }
            let c = config(&format!("proxy_set_header X-Test ${name};"));
            assert_eq!(c.proxy_set_headers[0].value, [TemplatePart::Var(variable)]);
        }
    }

    #[test]
    fn proxy_set_header_parses_product_examples_with_lower_cased_names() {
        let c = config(
            "proxy_set_header X-Real-Port $remote_port;\nproxy_set_header X-clb-stgw-vip $server_addr;\n\
             proxy_set_header Stgw-request-id $stgw_request_id;",
        );
        let names: Vec<&str> = c
            .proxy_set_headers
            .iter()
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(names, ["x-real-port", "x-clb-stgw-vip", "stgw-request-id"]);
        assert_eq!(
            c.proxy_set_headers[1].value,
            [TemplatePart::Var(Variable::ServerAddr)]
        );
    }

    #[test]
    fn proxy_set_header_mixes_literals_and_braced_variables() {
        let c = config(
            "proxy_set_header X-Where \"${scheme}://$host:${server_port}$request_uri (id $lbid)\";",
        );
        assert_eq!(
            c.proxy_set_headers[0].value,
            [
                TemplatePart::Var(Variable::Scheme),
                TemplatePart::Literal("://".into()),
                TemplatePart::Var(Variable::Host),
                TemplatePart::Literal(":".into()),
                TemplatePart::Var(Variable::ServerPort),
                TemplatePart::Var(Variable::RequestUri),
                TemplatePart::Literal(" (id ".into()),
                TemplatePart::Var(Variable::Lbid),
                TemplatePart::Literal(")".into()),
            ]
        );
    }

    #[test]
    fn proxy_set_header_accepts_unquoted_braced_variable_like_nginx() {
        let c = config("proxy_set_header X-Port ${vport};");
        assert_eq!(
            c.proxy_set_headers[0].value,
            [TemplatePart::Var(Variable::Vport)]
        );
    }

    #[test]
    fn proxy_set_header_variable_names_are_case_insensitive() {
        let c = config("proxy_set_header X-Method $Request_Method;");
        assert_eq!(
            c.proxy_set_headers[0].value,
            [TemplatePart::Var(Variable::RequestMethod)]
        );
    }

    #[test]
    fn proxy_set_header_with_empty_value_suppresses_the_header() {
        let c = config("proxy_set_header Accept-Encoding \"\";");
        assert!(c.proxy_set_headers[0].suppresses());
        assert!(!config("proxy_set_header X-A b;").proxy_set_headers[0].suppresses());
    }

    #[test]
    fn proxy_set_header_refuses_unknown_variables() {
        let message = error("\nproxy_set_header X-Id $request_id;");
        assert_mentions(
            &message,
            &[
                "line 2",
                "proxy_set_header",
                "unknown variable \"$request_id\"",
                "allowed: $remote_port",
                "$request_uri",
            ],
        );
        assert_mentions(
            &error("proxy_set_header X-A $1;"),
            &["unknown variable \"$1\""],
        );
    }

    #[test]
    fn proxy_set_header_refuses_malformed_variables_and_names() {
        assert_invalid(
            "proxy_set_header X-A \"cost $ 5\";",
            &["proxy_set_header", "$name or ${name}"],
        );
        assert_invalid(
            "proxy_set_header X-A \"${host\";",
            &["proxy_set_header", "$name or ${name}"],
        );
        assert_invalid(
            "proxy_set_header X-A \"${}\";",
            &["proxy_set_header", "$name or ${name}"],
        );
        assert_invalid(
            "proxy_set_header \"X A\" b;",
            &["proxy_set_header", "header name"],
        );
    }

    #[test]
    fn proxy_set_header_takes_exactly_two_arguments() {
        assert_wrong_arg_count(
            "proxy_set_header X-A;",
            "proxy_set_header",
            "exactly 2 arguments",
        );
        assert_wrong_arg_count(
            "proxy_set_header X-A b c;",
            "proxy_set_header",
            "exactly 2 arguments",
        );
    }

    // -- send_timeout ----------------------------------------------------------

    #[test]
    fn send_timeout_accepts_1s_to_3600s() {
        assert_eq!(config("send_timeout 1s;").send_timeout, secs(1));
        assert_eq!(config("send_timeout 3600;").send_timeout, secs(3600));
        assert_eq!(
            config("send_timeout 1500ms;").send_timeout,
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn send_timeout_refuses_0s_999ms_and_3601s() {
        assert_out_of_range("send_timeout", "0s", "1s–3600s");
        assert_out_of_range("send_timeout", "999ms", "1s–3600s");
        assert_out_of_range("send_timeout", "3601s", "1s–3600s");
    }

    #[test]
    fn send_timeout_takes_exactly_one_argument() {
        assert_wrong_arg_count("send_timeout;", "send_timeout", "exactly 1 argument");
    }

    // -- ssl_verify_depth ------------------------------------------------------

    #[test]
    fn ssl_verify_depth_accepts_1_to_10() {
        assert_eq!(config("ssl_verify_depth 1;").ssl_verify_depth, 1);
        assert_eq!(config("ssl_verify_depth 10;").ssl_verify_depth, 10);
    }

    #[test]
    fn ssl_verify_depth_refuses_0_and_11() {
        assert_out_of_range("ssl_verify_depth", "0", "1–10");
        assert_out_of_range("ssl_verify_depth", "11", "1–10");
    }

    #[test]
    fn ssl_verify_depth_takes_exactly_one_plain_integer() {
        assert_wrong_arg_count(
            "ssl_verify_depth 1 2;",
            "ssl_verify_depth",
            "exactly 1 argument",
        );
        assert_invalid(
            "ssl_verify_depth 2s;",
            &["ssl_verify_depth", "\"2s\"", "a whole number"],
        );
    }

    // -- proxy_redirect --------------------------------------------------------

    #[test]
    fn proxy_redirect_http_to_https_pair_turns_rewriting_on() {
        assert!(config("proxy_redirect http:// https://;").proxy_redirect_https);
    }

    #[test]
    fn proxy_redirect_off_and_default_mean_no_rewriting() {
        assert!(!config("proxy_redirect off;").proxy_redirect_https);
        assert!(!config("proxy_redirect default;").proxy_redirect_https);
    }

    #[test]
    fn proxy_redirect_refuses_any_other_form_naming_the_allowed_one() {
        assert_invalid(
            "proxy_redirect http://a/ https://b/;",
            &[
                "line 1",
                "proxy_redirect",
                "\"http://a/ https://b/\"",
                "http:// https://",
            ],
        );
        assert_invalid(
            "proxy_redirect on;",
            &["proxy_redirect", "\"on\"", "off, default"],
        );
        assert_invalid("proxy_redirect https:// http://;", &["proxy_redirect"]);
    }

    #[test]
    fn proxy_redirect_takes_1_or_2_arguments() {
        assert_wrong_arg_count("proxy_redirect;", "proxy_redirect", "1 or 2 arguments");
        assert_wrong_arg_count(
            "proxy_redirect http:// https:// x;",
            "proxy_redirect",
            "1 or 2 arguments",
        );
    }

    // -- http2_max_field_size --------------------------------------------------

    #[test]
    fn http2_max_field_size_accepts_1k_to_256k() {
        assert_eq!(
            config("http2_max_field_size 1k;").http2_max_field_size,
            1024
        );
        assert_eq!(
            config("http2_max_field_size 256k;").http2_max_field_size,
            256 * 1024
        );
    }

    #[test]
    fn http2_max_field_size_refuses_0k_and_257k() {
        assert_out_of_range("http2_max_field_size", "0k", "1k–256k");
        assert_out_of_range("http2_max_field_size", "257k", "1k–256k");
    }

    #[test]
    fn http2_max_field_size_takes_exactly_one_argument() {
        assert_wrong_arg_count(
            "http2_max_field_size 4k 8k;",
            "http2_max_field_size",
            "exactly 1 argument",
        );
    }

    // -- error_page ------------------------------------------------------------

    fn only_error_page(text: &str) -> ErrorPage {
        let mut pages = config(text).error_pages;
        assert_eq!(pages.len(), 1);
        pages.remove(0)
    }

    #[test]
    fn error_page_local_uri_keeps_the_error_status() {
        let page = only_error_page("error_page 500 502 503 504 /50x.html;");
        assert_eq!(
            page,
            ErrorPage {
                codes: vec![500, 502, 503, 504],
                response: ErrorPageResponse::Keep,
                target: ErrorPageTarget::Local("/50x.html".into()),
            }
        );
    }

    #[test]
    fn error_page_bare_equals_uses_the_served_page_status() {
        let page = only_error_page("error_page 404 = /fallback?from=404;");
        assert_eq!(page.response, ErrorPageResponse::Auto);
        assert_eq!(
            page.target,
            ErrorPageTarget::Local("/fallback?from=404".into())
        );
    }

    #[test]
    fn error_page_equals_code_sets_the_answer_status() {
        let page = only_error_page("error_page 404 =200 /empty.gif;");
        assert_eq!(page.response, ErrorPageResponse::Code(200));
    }

    #[test]
    fn error_page_url_target_redirects_with_302_by_default() {
        let page = only_error_page("error_page 403 http://example.com/forbidden.html;");
        assert_eq!(page.response, ErrorPageResponse::Code(302));
        assert_eq!(
            page.target,
            ErrorPageTarget::Redirect("http://example.com/forbidden.html".into())
        );
        let bare_equals = only_error_page("error_page 403 = https://example.com/;");
        assert_eq!(bare_equals.response, ErrorPageResponse::Code(302));
    }

    #[test]
    fn error_page_url_target_accepts_a_redirect_code() {
        for code in [301, 302, 303, 307, 308] {
            let page = only_error_page(&format!("error_page 404 ={code} https://example.com/;"));
            assert_eq!(page.response, ErrorPageResponse::Code(code));
        }
    }

    #[test]
    fn error_page_url_target_refuses_a_non_redirect_code() {
        assert_invalid(
            "error_page 404 =200 https://example.com/;",
            &[
                "line 1",
                "error_page",
                "\"=200\"",
                "=301, =302, =303, =307 or =308",
            ],
        );
    }

    #[test]
    fn error_page_codes_must_be_300_to_599_and_not_499() {
        let below = error("# codes\nerror_page 404 299 /x;");
        assert_mentions(
            &below,
            &["line 2", "error_page 299", "out of range", "300–599"],
        );
        let above = error("error_page 600 /x;");
        assert_mentions(
            &above,
            &["line 1", "error_page 600", "out of range", "300–599"],
        );
        assert_invalid(
            "error_page 499 /x;",
            &["error_page", "\"499\"", "except 499"],
        );
        assert_invalid(
            "error_page abc /x;",
            &["error_page", "\"abc\"", "between 300 and 599"],
        );
        assert_eq!(only_error_page("error_page 300 599 /x;").codes, [300, 599]);
    }

    #[test]
    fn error_page_response_code_must_be_200_to_599() {
        assert_invalid(
            "error_page 404 =abc /x;",
            &["error_page", "\"=abc\"", "between 200 and 599"],
        );
        assert_invalid("error_page 404 =700 /x;", &["error_page", "\"=700\""]);
        assert_invalid("error_page 404 =199 /x;", &["error_page", "\"=199\""]);
    }

    #[test]
    fn error_page_equals_must_be_joined_to_its_code_and_follow_a_code() {
        assert_invalid(
            "error_page 404 = 200 /x;",
            &["error_page", "\"=\"", "no space inside"],
        );
        assert_invalid(
            "error_page = /x;",
            &["error_page", "\"=\"", "after at least one code"],
        );
    }

    #[test]
    fn error_page_target_must_be_a_path_or_http_url() {
        for bad in [
            "x.html",
            "@fallback",
            "ftp://example.com/",
            "http://",
            "http:///x",
            "/a$uri",
            "\"/a b\"",
        ] {
            assert_invalid(
                &format!("error_page 404 {bad};"),
                &["error_page", "starting with \"/\""],
            );
        }
        let upper = only_error_page("error_page 404 HTTPS://example.com/;");
        assert_eq!(
            upper.target,
            ErrorPageTarget::Redirect("HTTPS://example.com/".into())
        );
    }

    #[test]
    fn error_page_takes_at_least_two_arguments() {
        assert_wrong_arg_count("error_page /x;", "error_page", "at least 2 arguments");
        assert_wrong_arg_count("error_page;", "error_page", "at least 2 arguments");
    }

    #[test]
    fn error_page_for_returns_the_first_entry_listing_the_status() {
        let c = config("error_page 404 /first; error_page 500 404 /second; error_page 502 /third;");
        let target_of = |status| c.error_page_for(status).map(|page| page.target.clone());
        assert_eq!(
            target_of(404),
            Some(ErrorPageTarget::Local("/first".into()))
        );
        assert_eq!(
            target_of(500),
            Some(ErrorPageTarget::Local("/second".into()))
        );
        assert_eq!(
            target_of(502),
            Some(ErrorPageTarget::Local("/third".into()))
        );
        assert_eq!(target_of(503), None);
    }

    #[test]
    fn error_line_is_available_without_parsing_the_message() {
        let error_at = |text: &str| parse(text).err().and_then(|error| error.line());
        assert_eq!(error_at("send_timeout 5s;\n\nsend_timeout 0s;"), Some(3));
        assert_eq!(error_at("\nadd_header X \"open"), Some(2));
        assert_eq!(error_at("\n\nproxy_buffer_size 4k;"), Some(3));
        assert_eq!(error_at(&" ".repeat(MAX_TEXT_LEN + 1)), None);
    }

    // -- Variable --------------------------------------------------------------

    #[test]
    fn variable_names_round_trip_and_display_with_dollar() {
        for variable in Variable::ALL {
            assert_eq!(Variable::from_name(variable.name()), Some(variable));
            assert_eq!(variable.to_string(), format!("${}", variable.name()));
        }
        assert_eq!(Variable::from_name("request_id"), None);
        assert_eq!(Variable::RemotePort.name(), "remote_port");
        assert_eq!(Variable::StgwRequestId.name(), "stgw_request_id");
    }
}

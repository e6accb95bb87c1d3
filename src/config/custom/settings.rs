//! What a parsed personalized configuration holds: [`CustomConfig`] with the
//! product's defaults for every absent directive, and the warnings.

use std::fmt;
use std::time::Duration;

use super::MIB;
use super::error_page::ErrorPage;
use super::template::{ProxySetHeader, TemplatePart};

/// The outcome of a successful [`parse`](super::parse): the configuration and the warnings
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
/// one is always true after [`parse`](super::parse).
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

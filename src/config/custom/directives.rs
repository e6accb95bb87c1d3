//! The product's directive list: each name, whether it may repeat, and how its
//! arguments are read and range-checked.

use std::time::Duration;

use super::builder::{Builder, Directive};
use super::connection::{keepalive_timeout, proxy_buffers, proxy_redirect};
use super::error::CustomConfigError;
use super::error_page::error_page;
use super::headers::{add_header, more_set_headers, proxy_set_header};
use super::settings::CustomConfig;
use super::tls::{ssl_ciphers, ssl_protocols};
use super::values::SizeUnit;

/// How a directive's arguments are read. The setters receive values already
/// checked against the range, so they always fit the field.
#[derive(Clone, Copy)]
pub(super) enum Handler {
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

pub(super) struct DirectiveSpec {
    pub(super) name: &'static str,
    /// May appear several times (otherwise a repeat is "duplicate").
    pub(super) repeatable: bool,
    pub(super) handler: Handler,
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
pub(super) const DIRECTIVES: &[DirectiveSpec] = &[
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

pub(super) fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

pub(super) fn find_spec(name: &str) -> Option<(usize, &'static DirectiveSpec)> {
    DIRECTIVES
        .iter()
        .enumerate()
        .find(|(_, spec)| spec.name == name)
}

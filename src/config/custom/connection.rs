//! Directives with their own argument shape: `keepalive_timeout` (one time;
//! nginx's second argument is refused), `proxy_buffers COUNT SIZE` and
//! `proxy_redirect`.

use super::builder::{Builder, Directive};
use super::directives::to_usize;
use super::error::CustomConfigError;
use super::settings::ProxyBuffers;
use super::values::{SizeUnit, integer_in_range, size_in_range, time_in_range};

pub(super) fn keepalive_timeout(
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

pub(super) fn proxy_buffers(
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

const PROXY_REDIRECT_FORM: &str = "off, default, or exactly \"http:// https://\"";

/// `off` and `default` both mean no rewriting (stgw's targets are addressed
/// by IP, so nginx's `default` rewrite has nothing to match).
pub(super) fn proxy_redirect(
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

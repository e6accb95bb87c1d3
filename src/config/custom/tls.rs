//! `ssl_protocols` and `ssl_ciphers`.

use super::builder::{Builder, Directive};
use super::error::CustomConfigError;
use super::settings::TlsVersions;

pub(super) fn ssl_protocols(
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

pub(super) fn ssl_ciphers(
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

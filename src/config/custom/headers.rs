//! `add_header`, `more_set_headers` and `proxy_set_header`.

use super::builder::{Builder, Directive};
use super::error::CustomConfigError;
use super::lexer::Token;
use super::settings::{AddHeader, SetHeader};
use super::template::{ProxySetHeader, TEMPLATE_FORM, Variables, parse_template};
use super::values::{HEADER_NAME_FORM, HEADER_VALUE_FORM, is_field_value, is_token};

pub(super) fn add_header(
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

pub(super) fn more_set_headers(
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

pub(super) fn proxy_set_header(
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

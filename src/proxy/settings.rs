//! The header directives of the personalized configuration, compiled once
//! per configuration so that requests never parse a header name or value.

use http::header::{HeaderName, HeaderValue};

use crate::config::CustomConfig;
use crate::config::custom::{TemplatePart, Variable};

/// `add_header`, `more_set_headers` and `proxy_set_header`, ready to apply.
///
/// The personalized-configuration parser has already refused names that
/// are not tokens and values with control characters, so every entry
/// converts; an entry that would not (none can) is left out rather than
/// failing the configuration.
#[derive(Debug, Default)]
pub struct HttpSettings {
    /// `add_header`: appended to answers whose status nginx lists (or to
    /// every answer with `always`). Entries with an empty value are left
    /// out, as nginx does not send them.
    pub add_headers: Vec<AddedHeader>,
    /// `more_set_headers`: set (replacing) or, when `None`, removed, on
    /// every answer.
    pub set_headers: Vec<(HeaderName, Option<HeaderValue>)>,
    /// `proxy_set_header`: request headers for targets.
    pub proxy_set_headers: Vec<ProxyHeader>,
    /// Some `proxy_set_header` value uses `$uri` (the normalised path is
    /// then computed for the request).
    pub needs_uri: bool,
}

/// One `add_header`.
#[derive(Debug)]
pub struct AddedHeader {
    /// Name.
    pub name: HeaderName,
    /// Value (never empty).
    pub value: HeaderValue,
    /// Added whatever the status.
    pub always: bool,
}

/// One `proxy_set_header`.
#[derive(Debug)]
pub struct ProxyHeader {
    /// Name.
    pub name: HeaderName,
    /// Value template; empty means "remove the header".
    pub value: Vec<Part>,
}

/// A piece of a `proxy_set_header` value.
#[derive(Debug)]
pub enum Part {
    /// Sent as is.
    Literal(Box<[u8]>),
    /// Expanded per request.
    Var(Variable),
}

impl HttpSettings {
    /// Compiles the header directives of `custom`.
    pub fn compile(custom: &CustomConfig) -> HttpSettings {
        let add_headers = custom
            .add_headers
            .iter()
            .filter(|h| !h.value.is_empty())
            .filter_map(|h| {
                Some(AddedHeader {
                    name: HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                    value: HeaderValue::from_str(&h.value).ok()?,
                    always: h.always,
                })
            })
            .collect();
        let set_headers = custom
            .more_set_headers
            .iter()
            .filter_map(|h| {
                let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
                let value = match &h.value {
                    Some(v) => Some(HeaderValue::from_str(v).ok()?),
                    None => None,
                };
                Some((name, value))
            })
            .collect();
        let proxy_set_headers: Vec<ProxyHeader> = custom
            .proxy_set_headers
            .iter()
            .filter_map(|h| {
                Some(ProxyHeader {
                    name: HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                    value: h
                        .value
                        .iter()
                        .map(|p| match p {
                            TemplatePart::Literal(s) => Part::Literal(s.as_bytes().into()),
                            TemplatePart::Var(v) => Part::Var(*v),
                        })
                        .collect(),
                })
            })
            .collect();
        let needs_uri = proxy_set_headers
            .iter()
            .flat_map(|h| &h.value)
            .any(|p| matches!(p, Part::Var(Variable::Uri)));
        HttpSettings {
            add_headers,
            set_headers,
            proxy_set_headers,
            needs_uri,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> HttpSettings {
        HttpSettings::compile(&crate::config::custom::parse(text).unwrap().config)
    }

    #[test]
    fn empty_add_header_values_are_left_out() {
        let s = compile("add_header X-A \"\"; add_header X-B b always;");
        assert_eq!(s.add_headers.len(), 1);
        assert_eq!(s.add_headers[0].name, "x-b");
        assert!(s.add_headers[0].always);
    }

    #[test]
    fn more_set_headers_without_a_value_remove() {
        let s = compile("more_set_headers \"Server: edge\" \"X-Powered-By:\";");
        assert_eq!(s.set_headers.len(), 2);
        assert_eq!(s.set_headers[0].1.as_ref().unwrap(), "edge");
        assert!(s.set_headers[1].1.is_none());
    }

    #[test]
    fn proxy_set_header_templates_keep_their_variables() {
        let s = compile("proxy_set_header X-Uri \"u=$uri\"; proxy_set_header X-Gone \"\";");
        assert!(s.needs_uri);
        assert_eq!(s.proxy_set_headers.len(), 2);
        assert!(matches!(
            s.proxy_set_headers[0].value[1],
            Part::Var(Variable::Uri)
        ));
        assert!(s.proxy_set_headers[1].value.is_empty());
    }
}

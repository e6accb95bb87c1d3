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
    pub set_headers: Vec<(HeaderName, Option<ResponseValue>)>,
    /// `proxy_set_header`: request headers for targets.
    pub proxy_set_headers: Vec<ProxyHeader>,
    /// Some `proxy_set_header` value uses `$uri` (the normalised path is
    /// then computed for the request).
    pub needs_uri: bool,
    /// The request headers `proxy_set_header` values read (`$http_NAME`),
    /// without repeats; empty when none does.
    pub proxy_header_names: Vec<HeaderName>,
    /// Some `add_header` / `more_set_headers` value has a variable: the
    /// request's facts are then kept for its answer.
    pub response_vars: bool,
    /// Some `add_header` / `more_set_headers` value uses `$uri`.
    pub response_needs_uri: bool,
    /// The request headers `add_header` / `more_set_headers` values read,
    /// without repeats.
    pub response_header_names: Vec<HeaderName>,
}

/// One `add_header`.
#[derive(Debug)]
pub struct AddedHeader {
    /// Name.
    pub name: HeaderName,
    /// Value (never an empty text; a template may expand to nothing).
    pub value: ResponseValue,
    /// Added whatever the status.
    pub always: bool,
}

/// A response header's value.
#[derive(Debug)]
pub enum ResponseValue {
    /// Without variables: sent as is.
    Fixed(HeaderValue),
    /// With variables: expanded for each answer.
    Template(Box<[Part]>),
}

/// One `proxy_set_header`.
#[derive(Debug)]
pub struct ProxyHeader {
    /// Name.
    pub name: HeaderName,
    /// Value template; empty means "remove the header".
    pub value: Vec<Part>,
}

/// A piece of a header value template.
#[derive(Debug)]
pub enum Part {
    /// Sent as is.
    Literal(Box<[u8]>),
    /// Expanded per request.
    Var(Variable),
    /// `$http_NAME`: the request header of this name.
    Header(HeaderName),
}

impl HttpSettings {
    /// Compiles the header directives of `custom`.
    pub fn compile(custom: &CustomConfig) -> HttpSettings {
        let add_headers: Vec<AddedHeader> = custom
            .add_headers
            .iter()
            .filter(|h| !h.value.is_empty())
            .filter_map(|h| {
                Some(AddedHeader {
                    name: HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                    value: ResponseValue::compile(&h.template)?,
                    always: h.always,
                })
            })
            .collect();
        let set_headers: Vec<(HeaderName, Option<ResponseValue>)> = custom
            .more_set_headers
            .iter()
            .filter_map(|h| {
                let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
                let value = match &h.value {
                    Some(_) => Some(ResponseValue::compile(&h.template)?),
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
                    value: compile_parts(&h.value)?,
                })
            })
            .collect();
        let proxy_parts: Vec<&Part> = proxy_set_headers.iter().flat_map(|h| &h.value).collect();
        let response_parts: Vec<&Part> = add_headers
            .iter()
            .map(|h| &h.value)
            .chain(set_headers.iter().filter_map(|(_, v)| v.as_ref()))
            .flat_map(ResponseValue::parts)
            .collect();
        HttpSettings {
            needs_uri: uses_uri(&proxy_parts),
            proxy_header_names: header_names(&proxy_parts),
            response_vars: !response_parts.is_empty(),
            response_needs_uri: uses_uri(&response_parts),
            response_header_names: header_names(&response_parts),
            add_headers,
            set_headers,
            proxy_set_headers,
        }
    }
}

impl ResponseValue {
    /// `Fixed` for a template without variables, else `Template`; `None`
    /// when the text cannot be a header value (the parser refuses such
    /// text).
    fn compile(template: &[TemplatePart]) -> Option<ResponseValue> {
        if template.iter().any(TemplatePart::is_variable) {
            return Some(ResponseValue::Template(compile_parts(template)?.into()));
        }
        let text: String = template
            .iter()
            .filter_map(|p| match p {
                TemplatePart::Literal(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        HeaderValue::from_str(&text).ok().map(ResponseValue::Fixed)
    }

    /// The template's parts (none for a fixed value).
    pub fn parts(&self) -> &[Part] {
        match self {
            ResponseValue::Fixed(_) => &[],
            ResponseValue::Template(parts) => parts,
        }
    }
}

/// The parts of a parsed template; `None` if a `$http_NAME` is not a
/// header name (the parser accepts tokens only).
fn compile_parts(template: &[TemplatePart]) -> Option<Vec<Part>> {
    template
        .iter()
        .map(|p| match p {
            TemplatePart::Literal(s) => Some(Part::Literal(s.as_bytes().into())),
            TemplatePart::Var(v) => Some(Part::Var(*v)),
            TemplatePart::RequestHeader(name) => HeaderName::from_bytes(name.as_bytes())
                .ok()
                .map(Part::Header),
        })
        .collect()
}

fn uses_uri(parts: &[&Part]) -> bool {
    parts.iter().any(|p| matches!(p, Part::Var(Variable::Uri)))
}

/// The header names `$http_NAME` parts read, each once.
fn header_names(parts: &[&Part]) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = Vec::new();
    for part in parts {
        if let Part::Header(name) = part
            && !names.contains(name)
        {
            names.push(name.clone());
        }
    }
    names
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
        assert!(!s.response_vars, "no variable: nothing to keep");
    }

    #[test]
    fn response_templates_with_variables_are_kept_and_others_precompiled() {
        let s = compile(
            "add_header X-A a; add_header X-B \"$uri $http_origin\" always;\n\
             more_set_headers \"X-C: $status $HTTP_ORIGIN\" \"X-D: d\" \"X-E:\"; proxy_set_header X-F $http_cookie;",
        );
        assert!(matches!(s.add_headers[0].value, ResponseValue::Fixed(_)));
        assert!(matches!(s.add_headers[1].value, ResponseValue::Template(_)));
        assert!(matches!(
            s.set_headers[0].1,
            Some(ResponseValue::Template(_))
        ));
        assert!(matches!(s.set_headers[1].1, Some(ResponseValue::Fixed(_))));
        assert!(s.set_headers[2].1.is_none());
        assert!(s.response_vars);
        assert!(s.response_needs_uri);
        assert!(!s.needs_uri);
        assert_eq!(s.response_header_names, ["origin"]);
        assert_eq!(s.proxy_header_names, ["cookie"]);
    }

    #[test]
    fn more_set_headers_without_a_value_remove() {
        let s = compile("more_set_headers \"Server: edge\" \"X-Powered-By:\";");
        assert_eq!(s.set_headers.len(), 2);
        assert!(matches!(&s.set_headers[0].1, Some(ResponseValue::Fixed(v)) if v == "edge"));
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

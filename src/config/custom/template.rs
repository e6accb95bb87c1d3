//! Header value templates: text with nginx variables (`$host`, `${status}`),
//! parsed once for `proxy_set_header`, `add_header` and `more_set_headers`.

use std::fmt;

use super::builder::Directive;
use super::error::CustomConfigError;
use super::values::is_token;

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

pub(super) const TEMPLATE_FORM: &str = "text with variables written $name or ${name}";

/// Which variables a header value may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Variables {
    /// A request header's (`proxy_set_header`): not `$status`.
    Request,
    /// A response header's: all of them.
    Response,
}

/// Splits a value (`text`, on `line`) into literal text and `$name` /
/// `${name}` variables, the way nginx compiles it (a name is letters,
/// digits and `_`). `Err(None)` is a `$` without a name after it (the
/// caller says where); `Err(Some(_))` a variable `allowed` does not have.
pub(super) fn parse_template(
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

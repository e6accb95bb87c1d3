//! Why a personalized configuration is refused: [`CustomConfigError`], each
//! message naming the line and the directive.

use thiserror::Error;

use super::directives::DIRECTIVES;
use super::template::Variable;

/// Why a personalized configuration was refused. Every message starts with
/// `line N:` (1-based, within the custom text) except [`TooLong`], and names
/// the directive, the offending value and what is allowed.
///
/// [`TooLong`]: CustomConfigError::TooLong
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CustomConfigError {
    /// The text is longer than [`MAX_TEXT_LEN`](super::MAX_TEXT_LEN).
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

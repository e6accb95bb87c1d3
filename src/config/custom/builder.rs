//! Applies each statement to a [`CustomConfig`]: finds the directive, refuses
//! duplicates and collects warnings.

use super::BUFFERED_BODY_LIMIT;
use super::directives::{DIRECTIVES, DirectiveSpec, Handler, find_spec};
use super::error::CustomConfigError;
use super::lexer::Token;
use super::settings::{CustomConfig, Parsed, Warning};
use super::statement::Statement;
use super::values::{display_size, integer_in_range, parse_flag, size_in_range, time_in_range};

/// One known directive being applied: its name, line and arguments, and the
/// constructors of the errors that name them.
pub(super) struct Directive<'s, 'a> {
    pub(super) name: &'static str,
    pub(super) line: usize,
    pub(super) args: &'s [Token<'a>],
}

impl Directive<'_, '_> {
    pub(super) fn wrong_arg_count(&self, expected: &'static str) -> CustomConfigError {
        CustomConfigError::WrongArgCount {
            line: self.line,
            directive: self.name,
            found: self.args.len(),
            expected,
        }
    }

    pub(super) fn only_arg(&self) -> Result<&Token<'_>, CustomConfigError> {
        match self.args {
            [arg] => Ok(arg),
            _ => Err(self.wrong_arg_count("exactly 1 argument")),
        }
    }

    pub(super) fn invalid(
        &self,
        token: &Token<'_>,
        expected: impl Into<String>,
    ) -> CustomConfigError {
        self.invalid_text(token.line, &token.text, expected)
    }

    pub(super) fn invalid_text(
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

    pub(super) fn out_of_range(&self, token: &Token<'_>, allowed: String) -> CustomConfigError {
        CustomConfigError::OutOfRange {
            line: token.line,
            directive: self.name,
            value: token.text.clone().into_owned(),
            allowed,
        }
    }

    /// All arguments joined by spaces, for messages about their combination.
    pub(super) fn args_text(&self) -> String {
        let texts: Vec<&str> = self.args.iter().map(|arg| arg.text.as_ref()).collect();
        texts.join(" ")
    }
}

/// Accumulates the configuration while statements are applied.
pub(super) struct Builder {
    pub(super) config: CustomConfig,
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
    pub(super) fn apply(&mut self, statement: &Statement<'_>) -> Result<(), CustomConfigError> {
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

    pub(super) fn warn(&mut self, line: usize, directive: &'static str, message: String) {
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
    pub(super) fn skips_framing(
        &mut self,
        line: usize,
        directive: &'static str,
        name: &str,
    ) -> bool {
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
    pub(super) fn finish(self) -> Result<Parsed, CustomConfigError> {
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

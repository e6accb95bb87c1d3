//! Groups tokens into `name args...;` statements.

use super::error::CustomConfigError;
use super::lexer::{Lexeme, Lexer, Token};

/// One `name args...;`.
pub(super) struct Statement<'a> {
    pub(super) name: Token<'a>,
    pub(super) args: Vec<Token<'a>>,
}

/// Groups lexemes into statements.
pub(super) struct StatementReader<'a> {
    lexer: Lexer<'a>,
}

impl<'a> StatementReader<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            lexer: Lexer::new(text),
        }
    }

    /// The next complete statement, `None` at the end of the text.
    pub(super) fn next_statement(&mut self) -> Result<Option<Statement<'a>>, CustomConfigError> {
        let mut name: Option<Token<'a>> = None;
        let mut args = Vec::new();
        loop {
            let lexeme = self
                .lexer
                .next_lexeme()
                .map_err(|error| error.in_directive(name.as_ref()))?;
            match lexeme {
                None => return end_of_text(name),
                Some(Lexeme::Word(token)) if name.is_none() => name = Some(token),
                Some(Lexeme::Word(token)) => args.push(token),
                Some(Lexeme::Semicolon { line }) => {
                    let name = name.ok_or(CustomConfigError::EmptyDirective { line })?;
                    return Ok(Some(Statement { name, args }));
                }
                Some(Lexeme::Brace { brace, line }) => {
                    return Err(CustomConfigError::UnexpectedBrace {
                        line,
                        brace,
                        directive: name.map(|token| token.text.into_owned()),
                    });
                }
            }
        }
    }
}

fn end_of_text(pending: Option<Token<'_>>) -> Result<Option<Statement<'_>>, CustomConfigError> {
    match pending {
        None => Ok(None),
        Some(name) => Err(CustomConfigError::MissingSemicolon {
            line: name.line,
            directive: name.text.into_owned(),
        }),
    }
}

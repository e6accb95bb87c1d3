//! The tokenizer: nginx's quoting, escapes and comments, each word with its line.

use std::borrow::Cow;

use super::error::CustomConfigError;

/// A word of the text, unquoted and unescaped; borrowed when nothing had to
/// be unescaped.
#[derive(Debug)]
pub(super) struct Token<'a> {
    pub(super) text: Cow<'a, str>,
    /// 1-based line where the token starts.
    pub(super) line: usize,
}

/// One lexical element.
pub(super) enum Lexeme<'a> {
    Word(Token<'a>),
    Semicolon { line: usize },
    Brace { brace: char, line: usize },
}

/// A tokenizer error, before the directive it occurred in is known.
pub(super) enum LexError {
    UnclosedQuote { line: usize },
    TextAfterQuote { line: usize, found: char },
}

impl LexError {
    pub(super) fn in_directive(self, directive: Option<&Token<'_>>) -> CustomConfigError {
        let directive = directive.map(|name| name.text.clone().into_owned());
        match self {
            LexError::UnclosedQuote { line } => {
                CustomConfigError::UnclosedQuote { line, directive }
            }
            LexError::TextAfterQuote { line, found } => CustomConfigError::TextAfterQuote {
                line,
                found,
                directive,
            },
        }
    }
}

/// Splits the text into [`Lexeme`]s the way nginx's configuration reader
/// does. Positions only ever stop on ASCII bytes or at the end, so slicing
/// `src` between two positions stays on character boundaries.
pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        if byte == b'\n' {
            self.line += 1;
        }
        Some(byte)
    }

    pub(super) fn next_lexeme(&mut self) -> Result<Option<Lexeme<'a>>, LexError> {
        self.skip_blanks_and_comments();
        let line = self.line;
        let Some(byte) = self.peek() else {
            return Ok(None);
        };
        let lexeme = match byte {
            b';' => {
                self.bump();
                Lexeme::Semicolon { line }
            }
            b'{' | b'}' => {
                self.bump();
                Lexeme::Brace {
                    brace: char::from(byte),
                    line,
                }
            }
            b'"' | b'\'' => Lexeme::Word(self.quoted_word(byte)?),
            _ => Lexeme::Word(self.bare_word()),
        };
        Ok(Some(lexeme))
    }

    fn skip_blanks_and_comments(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    self.bump();
                }
                b'#' => self.skip_comment(),
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(byte) = self.bump() {
            if byte == b'\n' {
                return;
            }
        }
    }

    /// A word up to whitespace, `;` or `{` (except the `{` of `${name}`).
    /// Quotes and `#` inside a word are ordinary characters, as in nginx.
    fn bare_word(&mut self) -> Token<'a> {
        let (line, start) = (self.line, self.pos);
        let mut escaped = false;
        let mut after_dollar = false;
        while let Some(byte) = self.peek() {
            let variable_brace = byte == b'{' && after_dollar;
            if is_word_end(byte) && !variable_brace {
                break;
            }
            after_dollar = byte == b'$';
            self.bump();
            if byte == b'\\' {
                escaped = true;
                self.bump();
            }
        }
        let raw = &self.src[start..self.pos];
        Token {
            text: unescape(raw, escaped),
            line,
        }
    }

    /// A word between `quote`s; the closing quote must be followed by
    /// whitespace, `;`, a brace or the end of the text.
    fn quoted_word(&mut self, quote: u8) -> Result<Token<'a>, LexError> {
        let line = self.line;
        self.bump();
        let start = self.pos;
        let mut escaped = false;
        let end = loop {
            let here = self.pos;
            match self.bump() {
                None => return Err(LexError::UnclosedQuote { line }),
                Some(b'\\') => {
                    escaped = true;
                    self.bump();
                }
                Some(byte) if byte == quote => break here,
                Some(_) => {}
            }
        };
        self.check_after_quote()?;
        let raw = &self.src[start..end];
        Ok(Token {
            text: unescape(raw, escaped),
            line,
        })
    }

    fn check_after_quote(&self) -> Result<(), LexError> {
        match self.peek() {
            None => Ok(()),
            Some(byte) if is_word_end(byte) || byte == b'}' => Ok(()),
            Some(_) => Err(LexError::TextAfterQuote {
                line: self.line,
                found: self.src[self.pos..].chars().next().unwrap_or('?'),
            }),
        }
    }
}

fn is_word_end(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'{')
}

/// nginx's unescaping: `\"`, `\'`, `\\` give the character, `\t`, `\r`, `\n`
/// give tab, CR and LF; any other backslash is kept as is.
fn unescape(raw: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let replacement = match chars.peek() {
            Some(&next @ ('"' | '\'' | '\\')) => next,
            Some('t') => '\t',
            Some('r') => '\r',
            Some('n') => '\n',
            _ => {
                out.push('\\');
                continue;
            }
        };
        out.push(replacement);
        chars.next();
    }
    Cow::Owned(out)
}

//! nginx compiles `~` rules and `~` domains with PCRE; stgw matches them
//! with the `regex` crate. The two read most patterns alike, and
//! [`translate`] rewrites the constructs they read differently into the
//! `regex` spelling of PCRE's meaning, so that a pattern selects exactly
//! the paths and hosts it selects in nginx:
//!
//! * `$` also matches before a final newline (`\.php$` matches
//!   `/x.php%0A`), and so does `\Z`;
//! * `\<`, `\>` and any other escaped punctuation are the character itself
//!   (`regex` reads `\<` and `\>` as word boundaries);
//! * `\v`, `\h` (vertical and horizontal white space), `\R` (a line break),
//!   `\e`, `\cX`, octal `\0nn` and `\Q…\E` quoting;
//! * in a class, `[` is a character (`regex` nests classes), `&&`, `--` and
//!   `~~` are characters (`regex` reads set operations), `\b` is a
//!   backspace;
//! * `(?#…)` comments are dropped.
//!
//! What PCRE has and `regex` cannot express is refused with
//! [`Unsupported`]: possessive quantifiers (`a++`), atomic groups,
//! look-around, backreferences, `\G`, `\K`. (`{}` repetitions cannot occur:
//! braces are not allowed in a pattern, as in the product.)

/// A PCRE construct with no equivalent in the `regex` crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not supported")]
pub(super) struct Unsupported(pub &'static str);

/// PCRE's vertical white space (`\v`), as class items.
const VERTICAL: &str = r"\n\x0B\x0C\r\x85";
/// PCRE's horizontal white space (`\h`), as class items.
const HORIZONTAL: &str = r"\t \xA0";

#[cfg(test)]
thread_local! {
    /// Patterns translated on this thread: every regex compiled from the
    /// configuration (URL rules and domains) is translated first, so tests
    /// count compilations with it.
    pub(crate) static TRANSLATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Rewrites a PCRE pattern (as nginx compiles it: no UTF mode) into the
/// `regex` crate's syntax with the same meaning. A pattern `regex` then
/// refuses is reported by `regex` itself.
pub(super) fn translate(pattern: &str) -> Result<String, Unsupported> {
    #[cfg(test)]
    TRANSLATIONS.with(|n| n.set(n.get() + 1));
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escape(&mut out, &mut chars, false)?,
            '[' => class(&mut out, &mut chars)?,
            '$' => out.push_str(r"(?:$|\n?\z)"),
            '(' if chars.peek() == Some(&'?') => group(&mut out, &mut chars)?,
            '*' | '+' | '?' => {
                out.push(c);
                if chars.peek() == Some(&'+') {
                    return Err(Unsupported("a possessive quantifier (*+ ++ ?+)"));
                }
                if chars.peek() == Some(&'?') {
                    chars.next();
                    out.push('?');
                }
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// After `(` with `?` next: comments are dropped, the constructs `regex`
/// lacks refused, the rest (flags, `(?:`, named groups) kept.
fn group(out: &mut String, chars: &mut Chars<'_>) -> Result<(), Unsupported> {
    chars.next();
    match chars.peek() {
        Some('#') => {
            for c in chars.by_ref() {
                if c == ')' {
                    break;
                }
            }
            return Ok(());
        }
        Some('>') => return Err(Unsupported("an atomic group (?>…)")),
        Some('=' | '!') => return Err(Unsupported("look-ahead")),
        Some('|') => return Err(Unsupported("a branch-reset group (?|…)")),
        Some('<') => {
            let mut ahead = chars.clone();
            ahead.next();
            if matches!(ahead.peek(), Some('=' | '!')) {
                return Err(Unsupported("look-behind"));
            }
        }
        Some(c) if c.is_ascii_digit() || matches!(c, 'R' | '&' | '+' | '-') => {
            let recursion = *c != '-' || chars.clone().nth(1).is_some_and(|d| d.is_ascii_digit());
            if recursion {
                return Err(Unsupported("recursion (?R) and subroutine calls"));
            }
        }
        _ => {}
    }
    out.push_str("(?");
    Ok(())
}

/// After `[`: a class, up to its closing `]`, in PCRE's reading.
fn class(out: &mut String, chars: &mut Chars<'_>) -> Result<(), Unsupported> {
    out.push('[');
    if chars.peek() == Some(&'^') {
        chars.next();
        out.push('^');
    }
    // A `]` right after the opening is a character.
    if chars.peek() == Some(&']') {
        chars.next();
        out.push_str(r"\]");
    }
    let mut after_dash = false;
    while let Some(c) = chars.next() {
        let dash = c == '-';
        match c {
            ']' => {
                out.push(']');
                return Ok(());
            }
            '\\' => escape(out, chars, true)?,
            '[' if chars.peek() == Some(&':') => posix_class(out, chars),
            '[' => out.push_str(r"\["),
            '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '-' if after_dash => out.push_str(r"\-"),
            _ => out.push(c),
        }
        after_dash = dash && !after_dash;
    }
    // Unterminated: `regex` reports it.
    Ok(())
}

/// After `[` with `:` next: `[:name:]` copied whole (both dialects have
/// them); a `[:` that does not close is a `[` and a `:`.
fn posix_class(out: &mut String, chars: &mut Chars<'_>) {
    let mut ahead = chars.clone();
    let mut name = String::new();
    ahead.next();
    while let Some(c) = ahead.next() {
        if c == ':' && ahead.peek() == Some(&']') {
            ahead.next();
            out.push_str("[:");
            out.push_str(&name);
            out.push_str(":]");
            *chars = ahead;
            return;
        }
        if !(c.is_ascii_alphabetic() || c == '^') {
            break;
        }
        name.push(c);
    }
    out.push_str(r"\[");
}

/// After `\`: one escape, in or out of a class.
fn escape(out: &mut String, chars: &mut Chars<'_>, in_class: bool) -> Result<(), Unsupported> {
    let Some(c) = chars.next() else {
        // A trailing `\`: `regex` reports it.
        out.push('\\');
        return Ok(());
    };
    match c {
        'Q' => {
            while let Some(q) = chars.next() {
                if q == '\\' && chars.peek() == Some(&'E') {
                    chars.next();
                    break;
                }
                literal(out, q);
            }
        }
        'E' => {}
        'v' if in_class => out.push_str(VERTICAL),
        'h' if in_class => out.push_str(HORIZONTAL),
        'v' => out.push_str(&format!("[{VERTICAL}]")),
        'V' if !in_class => out.push_str(&format!("[^{VERTICAL}]")),
        'h' => out.push_str(&format!("[{HORIZONTAL}]")),
        'H' if !in_class => out.push_str(&format!("[^{HORIZONTAL}]")),
        'R' if !in_class => out.push_str(&format!(r"(?:\r\n|[{VERTICAL}])")),
        'Z' if !in_class => out.push_str(r"(?:\n?\z)"),
        'b' if in_class => out.push_str(r"\x08"),
        'e' => out.push_str(r"\x1B"),
        'c' => {
            let Some(letter) = chars.next().filter(char::is_ascii) else {
                return Err(Unsupported(r"\c without an ASCII character"));
            };
            let code = (letter.to_ascii_uppercase() as u8) ^ 0x40;
            out.push_str(&format!(r"\x{code:02X}"));
        }
        '0' => {
            let mut code = 0u32;
            for _ in 0..2 {
                match chars.peek().and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        code = code * 8 + d;
                        chars.next();
                    }
                    None => break,
                }
            }
            out.push_str(&format!(r"\x{code:02X}"));
        }
        '1'..='9' => return Err(Unsupported(r"a backreference (\1)")),
        'g' | 'k' => return Err(Unsupported(r"a backreference (\g, \k)")),
        'G' => return Err(Unsupported(r"\G")),
        'K' => return Err(Unsupported(r"\K")),
        'V' | 'H' | 'R' | 'Z' => return Err(Unsupported(r"\V, \H, \R or \Z inside a class")),
        c if c.is_ascii_alphanumeric() => {
            // The escapes both dialects share (\d \w \s \b \A \z \x \n \p …);
            // `regex` refuses the ones PCRE has and it lacks.
            out.push('\\');
            out.push(c);
        }
        c => literal(out, c),
    }
    Ok(())
}

/// `c` as a character, escaped when `regex` gives it a meaning.
fn literal(out: &mut String, c: char) {
    // `regex` escapes any ASCII punctuation but `<` and `>`, which it reads
    // as word boundaries when escaped.
    if c.is_ascii_punctuation() && c != '<' && c != '>' {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `pattern`, translated, matches `text` (over bytes, without
    /// Unicode, as URL rules are compiled).
    fn matches(pattern: &str, text: &[u8]) -> bool {
        let translated = translate(pattern).expect("translatable");
        regex::bytes::RegexBuilder::new(&translated)
            .unicode(false)
            .build()
            .unwrap_or_else(|e| panic!("{pattern} -> {translated}: {e}"))
            .is_match(text)
    }

    #[test]
    fn dollar_also_matches_before_a_final_newline() {
        assert!(matches(r"\.php$", b"/x.php"));
        assert!(matches(r"\.php$", b"/x.php\n"));
        assert!(!matches(r"\.php$", b"/x.php\n\n"));
        assert!(!matches(r"\.php$", b"/x.phpx"));
        assert!(matches(r"^/a\Z", b"/a\n"));
        assert!(!matches(r"^/a\z", b"/a\n"));
        assert!(matches(r"(?m)^a$", b"x\na\nb"));
    }

    #[test]
    fn escaped_punctuation_is_the_character() {
        assert!(matches(r"^/\<", b"/<"));
        assert!(!matches(r"\<a", b"/a"));
        assert!(matches(r"a\>$", b"/a>"));
        assert!(matches(r"^/\.\/\-$", b"/./-"));
        assert!(matches(r"^/\Qa.b*\E$", b"/a.b*"));
        assert!(!matches(r"^/\Qa.b\E$", b"/axb"));
    }

    #[test]
    fn pcre_escapes_mean_what_pcre_means() {
        for byte in [b'\n', 0x0B, 0x0C, b'\r', 0x85] {
            assert!(matches(r"^/a\v", &[b'/', b'a', byte]), "{byte:#x}");
            assert!(!matches(r"^/a\V", &[b'/', b'a', byte]), "{byte:#x}");
        }
        assert!(matches(r"^/a\h", b"/a\t"));
        assert!(matches(r"^/a\h", &[b'/', b'a', 0xA0]));
        assert!(!matches(r"^/a\H", b"/a "));
        assert!(matches(r"^/a\R$", b"/a\r\n"));
        assert!(matches(r"^/\e\cA\012$", b"/\x1b\x01\n"));
        assert!(matches(r"^/[\v]$", b"/\r"));
        assert!(matches(r"^/[\b]$", b"/\x08"));
    }

    #[test]
    fn a_class_holds_characters_where_regex_would_nest_or_combine() {
        assert!(matches(r"^/[a&&b]$", b"/a"));
        assert!(matches(r"^/[a&&b]$", b"/&"));
        assert!(matches(r"^/[a~~b]$", b"/~"));
        assert!(matches(r"^/[+--]$", b"/,"));
        assert!(matches(r"^/[a-]$", b"/-"));
        assert!(matches(r"^/[[ab]c]$", b"/ac]"));
        assert!(!matches(r"^/[[ab]c]$", b"/a"));
        assert!(matches(r"^/[]a]$", b"/]"));
        assert!(matches(r"^/[^]a]$", b"/b"));
        assert!(matches(r"^/[[:digit:]x]+$", b"/1x2"));
        assert!(matches(r"^/[a-c]$", b"/b"));
        assert!(matches(r"^/[\<]$", b"/<"));
    }

    #[test]
    fn quantifiers_and_groups() {
        assert!(matches(r"^/a*?b$", b"/aab"));
        assert!(matches(r"^/(?:ab)+$", b"/abab"));
        assert!(matches(r"^/(?i)AB$", b"/ab"));
        assert!(matches(r"^/(?<n>x)(?P<m>y)$", b"/xy"));
        assert!(matches(r"^/a(?#note)b$", b"/ab"));
        assert!(matches(r"^/a?$", b"/"));
    }

    #[test]
    fn what_regex_cannot_express_is_refused() {
        for pattern in [
            r"^/a++a",
            r"^/a*+a",
            r"^/x.?+x$",
            r"^/(?>a)",
            r"^/(?=a)",
            r"^/(?!a)",
            r"^/(?<=a)b",
            r"^/(?<!a)b",
            r"^/(a)\1",
            r"^/\Gx",
            r"^/a\Kb",
            r"^/(?R)",
            r"^/(?1)",
            r"^/(?|a)",
        ] {
            assert!(translate(pattern).is_err(), "{pattern}");
        }
    }
}

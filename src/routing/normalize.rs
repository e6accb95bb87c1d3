//! nginx's URI normalisation (`ngx_http_parse_complex_uri`): the path that
//! location matching sees.
//!
//! Percent-escapes are decoded and the decoded byte is processed as if it had
//! been written literally (so `%2F` is a slash and `%2E%2E` a `..` segment),
//! except that a decoded `%`, `#` or `?` is kept as a literal byte. Runs of
//! `/` are merged, `.` segments removed and `..` segments resolved. A path
//! that climbs above the root, an invalid or truncated escape, or an escape
//! that decodes to NUL is refused (nginx answers 400).

use std::borrow::Cow;

/// Why a path cannot be normalised; the request gets 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path does not start with '/'")]
    NotAbsolute,
    /// A `%` is not followed by two hex digits.
    #[error("invalid percent-escape in the path")]
    BadEscape,
    /// An escape decodes to a NUL byte.
    #[error("the path contains an encoded NUL byte")]
    EncodedNul,
    /// A `..` segment climbs above the root.
    #[error("the path climbs above the root")]
    AboveRoot,
}

/// Normalises `path` (the request target up to, not including, the query).
///
/// Returns the input unchanged (borrowed, no allocation) when it is already
/// in normal form, which is the common case.
pub fn normalize_path(path: &[u8]) -> Result<Cow<'_, [u8]>, PathError> {
    if path.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    if is_simple(path) {
        return Ok(Cow::Borrowed(path));
    }
    normalize_complex(path).map(Cow::Owned)
}

/// A path needs no work when it has no escapes, no fragment, no `//` and no
/// `.` or `..` segment.
fn is_simple(path: &[u8]) -> bool {
    let mut prev = 0u8;
    for (i, &b) in path.iter().enumerate() {
        match b {
            b'%' | b'#' => return false,
            b'/' if prev == b'/' => return false,
            b'.' if prev == b'/' => {
                // "/." followed by end, '/', or ".": a dot segment.
                match path.get(i + 1) {
                    None | Some(b'/') | Some(b'.') => return false,
                    _ => {}
                }
            }
            _ => {}
        }
        prev = b;
    }
    true
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Usual,
    Slash,
    Dot,
    DotDot,
}

fn normalize_complex(path: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(path.len());
    let mut state = State::Usual;
    let mut i = 0;
    while i < path.len() {
        let raw = path[i];
        i += 1;
        let ch = match raw {
            b'#' => break,
            b'%' => {
                let hi = path
                    .get(i)
                    .and_then(|&c| hex(c))
                    .ok_or(PathError::BadEscape)?;
                let lo = path
                    .get(i + 1)
                    .and_then(|&c| hex(c))
                    .ok_or(PathError::BadEscape)?;
                i += 2;
                let decoded = (hi << 4) | lo;
                match decoded {
                    0 => return Err(PathError::EncodedNul),
                    // Kept literally, never a separator or a dot.
                    b'%' | b'#' | b'?' => {
                        out.push(decoded);
                        state = State::Usual;
                        continue;
                    }
                    _ => decoded,
                }
            }
            _ => raw,
        };
        state = step(&mut out, state, ch)?;
    }
    match state {
        State::Dot => {
            out.pop();
        }
        State::DotDot => climb(&mut out)?,
        State::Usual | State::Slash => {}
    }
    Ok(out)
}

/// Feeds one (decoded) byte through the segment state machine.
fn step(out: &mut Vec<u8>, state: State, ch: u8) -> Result<State, PathError> {
    Ok(match (state, ch) {
        (State::Slash, b'/') => State::Slash, // merge slashes
        (State::Slash, b'.') => {
            out.push(ch);
            State::Dot
        }
        (State::Dot, b'/') => {
            out.pop(); // drop "." of "/./"
            State::Slash
        }
        (State::Dot, b'.') => {
            out.push(ch);
            State::DotDot
        }
        (State::DotDot, b'/') => {
            climb(out)?;
            State::Slash
        }
        (_, b'/') => {
            out.push(ch);
            State::Slash
        }
        _ => {
            out.push(ch);
            State::Usual
        }
    })
}

/// `out` ends with `/..`: remove it and the segment before it, keeping that
/// segment's leading slash.
fn climb(out: &mut Vec<u8>) -> Result<(), PathError> {
    out.truncate(out.len() - 3);
    if out.is_empty() {
        return Err(PathError::AboveRoot);
    }
    out.pop();
    while let Some(&last) = out.last() {
        if last == b'/' {
            return Ok(());
        }
        out.pop();
    }
    Err(PathError::AboveRoot)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> Result<String, PathError> {
        normalize_path(p.as_bytes()).map(|c| String::from_utf8_lossy(&c).into_owned())
    }

    #[test]
    fn normal_paths_are_borrowed_unchanged() {
        for p in ["/", "/a/b.html", "/a.b/c..d/", "/.well", "/a/.b"] {
            assert!(
                matches!(normalize_path(p.as_bytes()), Ok(Cow::Borrowed(_))),
                "{p}"
            );
        }
    }

    #[test]
    fn paths_normalise_as_nginx_does() {
        let cases = [
            ("//a///b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/.", "/a/"),
            ("/a/b/..", "/a/"),
            ("/a/b/../c", "/a/c"),
            ("/a/b/../../c", "/c"),
            ("/a/..", "/"),
            ("/%61%62c", "/abc"),
            ("/a%2Fb", "/a/b"),
            ("/a%2f%2fb", "/a/b"),
            ("/a/%2e%2E/b", "/b"),
            ("/a/%2e/b", "/a/b"),
            ("/a%25b", "/a%b"),
            ("/a%23b", "/a#b"),
            ("/a%3Fb", "/a?b"),
            ("/a#frag", "/a"),
            ("/a/b/..%2Fc", "/a/c"),
            ("/%E4%BD%A0", "/\u{4f60}"),
            ("/a+b", "/a+b"),
            ("/..a/b", "/..a/b"),
            ("/a/...", "/a/..."),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn escaping_the_root_is_refused() {
        for p in ["/..", "/../a", "/a/../..", "/%2e%2e/x", "/a/b/../../../c"] {
            assert_eq!(norm(p), Err(PathError::AboveRoot), "{p}");
        }
    }

    #[test]
    fn bad_escapes_and_nul_are_refused() {
        assert_eq!(norm("/a%"), Err(PathError::BadEscape));
        assert_eq!(norm("/a%4"), Err(PathError::BadEscape));
        assert_eq!(norm("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(norm("/a%00b"), Err(PathError::EncodedNul));
        assert_eq!(norm("a"), Err(PathError::NotAbsolute));
    }
}

//! The Host header as nginx reads it (`ngx_http_validate_host`): lower-cased,
//! port and one trailing dot removed, IPv6 literals kept in brackets.

/// Why a Host value is refused; the request gets 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid Host")]
pub struct InvalidHost;

/// Longest host name kept inline. 64 bytes hold nearly every real name
/// (a DNS label is at most 63) and keep the value small: it lives in the
/// request's future while the request is forwarded.
const INLINE: usize = 64;

/// A validated, normalised host name.
///
/// Names up to 64 bytes live inline (building one does not allocate);
/// longer ones are boxed.
pub struct HostName {
    buf: HostBuf,
}

#[allow(clippy::large_enum_variant)] // inline on purpose: no allocation per request
enum HostBuf {
    Inline { bytes: [u8; INLINE], len: u16 },
    Heap(Box<str>),
}

impl HostName {
    /// Validates and normalises a Host header value (or an authority).
    ///
    /// Refused: an empty name, `..`, `/`, `\`, control bytes, spaces, and
    /// anything non-ASCII.
    pub fn parse(raw: &[u8]) -> Result<HostName, InvalidHost> {
        let end = host_end(raw)?;
        let mut name = &raw[..end];
        if name.last() == Some(&b'.') {
            name = &name[..name.len() - 1];
        }
        if name.is_empty() {
            return Err(InvalidHost);
        }
        if name.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            for (dst, src) in bytes.iter_mut().zip(name) {
                *dst = src.to_ascii_lowercase();
            }
            Ok(HostName {
                buf: HostBuf::Inline {
                    bytes,
                    len: name.len() as u16,
                },
            })
        } else {
            let lower = name.to_ascii_lowercase();
            let text = String::from_utf8(lower).map_err(|_| InvalidHost)?;
            Ok(HostName {
                buf: HostBuf::Heap(text.into_boxed_str()),
            })
        }
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        match &self.buf {
            // Validated ASCII in `parse`.
            HostBuf::Inline { bytes, len } => {
                std::str::from_utf8(&bytes[..*len as usize]).unwrap_or_default()
            }
            HostBuf::Heap(s) => s,
        }
    }
}

impl std::fmt::Debug for HostName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// Validates the whole value and returns the length of the name part
/// (before the port).
fn host_end(raw: &[u8]) -> Result<usize, InvalidHost> {
    let literal = raw.first() == Some(&b'[');
    let mut name_end = None;
    let mut prev_dot = false;
    for (i, &ch) in raw.iter().enumerate() {
        match ch {
            b'.' if name_end.is_none() => {
                if prev_dot {
                    return Err(InvalidHost);
                }
                prev_dot = true;
                continue;
            }
            b':' if !literal && name_end.is_none() => name_end = Some(i),
            b']' if literal && name_end.is_none() => name_end = Some(i + 1),
            b'/' | b'\\' => return Err(InvalidHost),
            c if c <= 0x20 || c >= 0x7f => return Err(InvalidHost),
            _ => {}
        }
        prev_dot = false;
    }
    let end = match name_end {
        Some(end) => {
            check_port(&raw[end..])?;
            end
        }
        None if literal => return Err(InvalidHost),
        None => raw.len(),
    };
    Ok(end)
}

/// After the name: nothing, or `:` and digits (possibly none, as nginx allows).
fn check_port(rest: &[u8]) -> Result<(), InvalidHost> {
    match rest.split_first() {
        None => Ok(()),
        Some((b':', digits)) if digits.iter().all(u8::is_ascii_digit) => Ok(()),
        _ => Err(InvalidHost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> Result<String, InvalidHost> {
        HostName::parse(s.as_bytes()).map(|h| h.as_str().to_owned())
    }

    #[test]
    fn hosts_are_lowercased_and_lose_port_and_trailing_dot() {
        assert_eq!(host("WWW.Example.COM").unwrap(), "www.example.com");
        assert_eq!(host("www.example.com:8080").unwrap(), "www.example.com");
        assert_eq!(host("www.example.com.").unwrap(), "www.example.com");
        assert_eq!(host("www.example.com.:80").unwrap(), "www.example.com");
        assert_eq!(host("[::1]:8080").unwrap(), "[::1]");
        assert_eq!(host("[::1]").unwrap(), "[::1]");
        assert_eq!(host("10.0.0.1:80").unwrap(), "10.0.0.1");
        assert_eq!(host("a_b.example").unwrap(), "a_b.example");
        assert_eq!(host("example.com:").unwrap(), "example.com");
    }

    #[test]
    fn invalid_hosts_are_refused() {
        for bad in [
            "",
            ".",
            "a..b",
            "a/b",
            "a\\b",
            "a b",
            "a\tb",
            "[::1",
            "[::1]x",
            "a:b",
            "\u{e9}.com",
            ":80",
        ] {
            assert!(host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn very_long_hosts_still_parse() {
        let long = "a".repeat(300) + ".com";
        assert_eq!(host(&long).unwrap(), long);
    }
}

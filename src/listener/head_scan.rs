//! nginx's request-head limits, checked on the bytes as they arrive (hyper
//! enforces only a total size): a request line over 8 KiB is 414, a header
//! line over 8 KiB or all header lines over 32 KiB is 431
//! (`large_client_header_buffers 4 8k`), and a repeated `Content-Length`
//! line is 400 (hyper would merge identical ones).

/// Longest request line and longest header line.
pub const MAX_LINE: usize = 8 * 1024;
/// Longest set of header lines.
pub const MAX_HEADERS: usize = 32 * 1024;

/// The scan of one request head.
#[derive(Debug, Default)]
pub struct HeadScan {
    active: bool,
    /// Lines finished so far (0 while in the request line).
    line: usize,
    len: usize,
    total: usize,
    /// The first bytes of the current line, lower-cased.
    start: [u8; 15],
    content_length: bool,
}

/// What the scan decided about the bytes fed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing wrong (yet).
    Fine,
    /// Refuse the request with this status.
    Refuse(u16),
}

impl HeadScan {
    /// Starts scanning a new head.
    pub fn start(&mut self) {
        *self = HeadScan {
            active: true,
            ..HeadScan::default()
        };
    }

    /// Whether a head is being scanned.
    pub fn active(&self) -> bool {
        self.active
    }

    /// Feeds bytes of the head; stops at its end.
    pub fn feed(&mut self, bytes: &[u8]) -> Verdict {
        for &b in bytes {
            if !self.active {
                return Verdict::Fine;
            }
            if b == b'\n' {
                if let Verdict::Refuse(s) = self.end_line() {
                    return Verdict::Refuse(s);
                }
                continue;
            }
            if b != b'\r' {
                if self.len < self.start.len() {
                    self.start[self.len] = b.to_ascii_lowercase();
                }
                self.len += 1;
            }
            if self.line == 0 && self.len > MAX_LINE {
                return Verdict::Refuse(414);
            }
            if self.line > 0 {
                self.total += 1;
                if self.len > MAX_LINE || self.total > MAX_HEADERS {
                    return Verdict::Refuse(431);
                }
            }
        }
        Verdict::Fine
    }

    fn end_line(&mut self) -> Verdict {
        let empty = self.len == 0;
        if self.line == 0 {
            // Empty lines before the request line are ignored (RFC 9112 §2.2).
            if !empty {
                self.line = 1;
            }
        } else if empty {
            self.active = false;
        } else {
            if self.start.starts_with(b"content-length:")
                || self.start.starts_with(b"content-length ")
            {
                if self.content_length {
                    return Verdict::Refuse(400);
                }
                self.content_length = true;
            }
            self.line += 1;
        }
        self.len = 0;
        Verdict::Fine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(parts: &[&[u8]]) -> Verdict {
        let mut s = HeadScan::default();
        s.start();
        for p in parts {
            if let Verdict::Refuse(code) = s.feed(p) {
                return Verdict::Refuse(code);
            }
        }
        Verdict::Fine
    }

    #[test]
    fn ordinary_heads_pass_in_any_split() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(scan(&[head]), Verdict::Fine);
        let parts: Vec<&[u8]> = head.chunks(3).collect();
        assert_eq!(scan(&parts), Verdict::Fine);
    }

    #[test]
    fn long_lines_and_heads_are_refused_as_nginx_does() {
        let line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_LINE));
        assert_eq!(scan(&[line.as_bytes()]), Verdict::Refuse(414));
        let header = format!("GET / HTTP/1.1\r\nX: {}\r\n", "b".repeat(MAX_LINE));
        assert_eq!(scan(&[header.as_bytes()]), Verdict::Refuse(431));
        let many: String = (0..5)
            .map(|i| format!("X-{i}: {}\r\n", "c".repeat(7000)))
            .collect();
        let total = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(scan(&[total.as_bytes()]), Verdict::Refuse(431));
    }

    #[test]
    fn a_repeated_content_length_is_refused() {
        let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n";
        assert_eq!(scan(&[head]), Verdict::Refuse(400));
    }

    #[test]
    fn the_body_after_the_head_is_not_scanned() {
        let body = "x".repeat(3 * MAX_LINE);
        let req = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(scan(&[req.as_bytes()]), Verdict::Fine);
    }
}

//! What hyper cannot refuse the way nginx does, checked on the bytes of a
//! request head as they arrive: a request line too long for hyper's head
//! buffer is 414 (hyper would say 431), a repeated `Content-Length`
//! line is 400 (hyper would merge identical ones), and so is a head with
//! both `Content-Length` and `Transfer-Encoding` (hyper would drop the
//! length and close after the answer; a request framed two ways is how
//! requests are smuggled past a proxy, and nginx refuses it).
//!
//! Lines that fit the buffer are left to the request pipeline, which
//! applies nginx's 8 KiB / 32 KiB limits (`large_client_header_buffers
//! 4 8k`) with the usual answers, `error_page` included.

/// Request lines longer than this cannot reach the pipeline (hyper's head
/// buffer is 40 KiB).
pub const MAX_LINE: usize = 40 * 1024 - 64;

/// The scan of one request head.
#[derive(Debug, Default)]
pub struct HeadScan {
    active: bool,
    /// Lines finished so far (0 while in the request line).
    line: usize,
    len: usize,
    /// The first bytes of the current line (compared ignoring case when
    /// the line ends: most lines differ at their first byte).
    start: [u8; 18],
    content_length: bool,
    transfer_encoding: bool,
    /// The current line's last byte so far is a CR not yet counted: the
    /// CR of its CRLF if a `\n` comes next, else part of the line.
    cr: bool,
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

    /// Scans a whole head arriving as `reads`, in order: the verdict of
    /// the first refusal, else [`Verdict::Fine`].
    pub fn scan<'a>(reads: impl IntoIterator<Item = &'a [u8]>) -> Verdict {
        let mut s = HeadScan::default();
        s.start();
        for read in reads {
            if let Verdict::Refuse(code) = s.feed(read) {
                return Verdict::Refuse(code);
            }
        }
        Verdict::Fine
    }

    /// Whether a head is being scanned.
    pub fn active(&self) -> bool {
        self.active
    }

    /// Feeds bytes of the head; stops at its end. Works a line piece at a
    /// time (memchr), looking only at line starts and lengths.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Verdict {
        while self.active && !bytes.is_empty() {
            let (piece, rest, ends) = match memchr::memchr(b'\n', bytes) {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &b""[..], false),
            };
            self.take(piece, ends);
            if self.line == 0 && self.len > MAX_LINE {
                return Verdict::Refuse(414);
            }
            if ends && let Verdict::Refuse(s) = self.end_line() {
                return Verdict::Refuse(s);
            }
            bytes = rest;
        }
        Verdict::Fine
    }

    /// Counts a piece of the current line (without its `\n`); `ends` when
    /// a `\n` follows it. A CR at the end of a read is held back until the
    /// next byte shows whether it ends the line, so the verdict does not
    /// depend on where reads split the head.
    fn take(&mut self, piece: &[u8], ends: bool) {
        if std::mem::take(&mut self.cr) && !piece.is_empty() {
            self.count(b"\r");
        }
        let piece = match piece.strip_suffix(b"\r") {
            Some(before) => {
                self.cr = !ends;
                before
            }
            None => piece,
        };
        self.count(piece);
    }

    /// Adds bytes to the current line.
    fn count(&mut self, piece: &[u8]) {
        let at = self.len.min(self.start.len());
        let n = piece.len().min(self.start.len() - at);
        self.start[at..at + n].copy_from_slice(&piece[..n]);
        self.len += piece.len();
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
            if self.names(b"content-length") {
                if self.content_length {
                    return Verdict::Refuse(400);
                }
                self.content_length = true;
            } else if self.names(b"transfer-encoding") {
                self.transfer_encoding = true;
            }
            if self.content_length && self.transfer_encoding {
                return Verdict::Refuse(400);
            }
            self.line += 1;
        }
        self.len = 0;
        Verdict::Fine
    }

    /// Whether the line just ended is a `name` field: `name` (any case)
    /// then a colon, or whitespace before one (which hyper refuses).
    fn names(&self, name: &[u8]) -> bool {
        self.len > name.len()
            && self.start[..name.len()].eq_ignore_ascii_case(name)
            && matches!(self.start[name.len()], b':' | b' ' | b'\t')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(parts: &[&[u8]]) -> Verdict {
        HeadScan::scan(parts.iter().copied())
    }

    #[test]
    fn ordinary_heads_pass_in_any_split() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(scan(&[head]), Verdict::Fine);
        let parts: Vec<&[u8]> = head.chunks(3).collect();
        assert_eq!(scan(&parts), Verdict::Fine);
    }

    #[test]
    fn a_request_line_longer_than_the_head_buffer_is_414() {
        let line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_LINE));
        assert_eq!(scan(&[line.as_bytes()]), Verdict::Refuse(414));
        let fits = format!(
            "GET /{} HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(9000),
            "b".repeat(9000)
        );
        assert_eq!(
            scan(&[fits.as_bytes()]),
            Verdict::Fine,
            "left to the pipeline"
        );
    }

    #[test]
    fn a_repeated_content_length_is_refused() {
        let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n";
        assert_eq!(scan(&[head]), Verdict::Refuse(400));
    }

    #[test]
    fn a_length_and_a_transfer_coding_together_are_refused() {
        for head in [
            &b"POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\nHost: a\r\ncontent-length: 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nTRANSFER-ENCODING:\tchunked\r\nCONTENT-LENGTH:6\r\n\r\n",
        ] {
            assert_eq!(scan(&[head]), Verdict::Refuse(400));
            let parts: Vec<&[u8]> = head.chunks(5).collect();
            assert_eq!(scan(&parts), Verdict::Refuse(400));
        }
        for fine in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encodings: x\r\nContent-Length: 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nX-Transfer-Encoding: x\r\nContent-Length: 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nTransfer-Encoding: chunked\r\n",
        ] {
            assert_eq!(scan(&[fine]), Verdict::Fine);
        }
    }

    #[test]
    fn a_cr_at_the_end_of_a_read_is_judged_with_the_next_read() {
        // "\r\r\n" is a line holding a CR, not the empty line ending the
        // head: the second Content-Length is still in the head. Split after
        // the first CR, the CR at the end of a read was dropped and the line
        // taken as empty.
        let head = b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\r\nContent-Length: 1\r\n\r\n";
        assert_eq!(scan(&[head]), Verdict::Refuse(400));
        for at in 0..=head.len() {
            let (a, b) = head.split_at(at);
            assert_eq!(scan(&[a, b]), Verdict::Refuse(400), "split at {at}");
        }
        // A CRLF split between reads still ends the line (and the head).
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nContent-Length: 1\r\nContent-Length: 1\r\n";
        for at in 0..=head.len() {
            let (a, b) = head.split_at(at);
            assert_eq!(scan(&[a, b]), Verdict::Fine, "split at {at}");
        }
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

//! Turning a [`Record`] into a line: `json` (one object a line, the field
//! names of the product's access log) or nginx's `combined`. Both write
//! into a buffer the writer reuses, so formatting allocates nothing once
//! the buffer has grown.

use std::io::Write;
use std::time::Duration;

use http::Version;

use crate::config::AccessLogFormat;
use crate::observe::record::{Record, RequestLine, Try};

/// Appends `record` as one line (with its newline) in `format`.
pub(crate) fn line(format: AccessLogFormat, record: &Record, time_local: &str, out: &mut Vec<u8>) {
    match format {
        AccessLogFormat::Json => json(record, time_local, out),
        AccessLogFormat::Combined => combined(record, time_local, out),
    }
}

/// nginx's `combined`:
/// `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`.
fn combined(r: &Record, time_local: &str, out: &mut Vec<u8>) {
    let _ = write!(out, "{} - - [{time_local}] \"", r.remote.ip());
    let start = out.len();
    request_line(&r.request, &mut Escaped::nginx(out));
    if out.len() == start {
        out.push(b'-');
    }
    let _ = write!(out, "\" {} {} \"", r.status, r.body_bytes_sent);
    header_or_dash(r.referer.as_ref(), out);
    out.extend_from_slice(b"\" \"");
    header_or_dash(r.user_agent.as_ref(), out);
    out.extend_from_slice(b"\"\n");
}

fn header_or_dash(v: Option<&http::HeaderValue>, out: &mut Vec<u8>) {
    match v {
        Some(v) if !v.is_empty() => Escaped::nginx(out).bytes(v.as_bytes()),
        _ => out.push(b'-'),
    }
}

/// One JSON object; values nginx prints as lists (several upstream
/// attempts) are strings in nginx's form (`"10.0.0.1:80, 10.0.0.2:80"`).
fn json(r: &Record, time_local: &str, out: &mut Vec<u8>) {
    let mut o = Object::new(out);
    o.str("time_local", time_local.as_bytes());
    o.display("remote_addr", r.remote.ip());
    o.num("remote_port", u64::from(r.remote.port()));
    o.display("server_addr", r.local.ip());
    o.num("vport", u64::from(r.vport));
    o.str(
        "server_name",
        r.server_name.as_deref().unwrap_or("").as_bytes(),
    );
    o.with("http_host", |out| match (&r.host, &r.request.uri) {
        (Some(h), _) => Escaped::json(out).bytes(h.as_bytes()),
        (None, Some(uri)) => {
            Escaped::json(out).bytes(uri.authority().map_or("", |a| a.as_str()).as_bytes())
        }
        (None, None) => {}
    });
    o.with("request", |out| {
        request_line(&r.request, &mut Escaped::json(out))
    });
    o.num("status", u64::from(r.status));
    o.num("bytes_sent", r.bytes_sent);
    o.num("request_length", r.request_length);
    o.raw("request_time", |out| seconds(r.request_time, out));
    o.with("upstream_addr", |out| {
        list(r, out, |t, out| {
            let _ = write!(out, "{}", t.addr);
        })
    });
    o.with("upstream_status", |out| {
        list(r, out, |t, out| match t.status {
            0 => out.push(b'-'),
            s => {
                let _ = write!(out, "{s}");
            }
        })
    });
    o.with("upstream_connect_time", |out| {
        list(r, out, |t, out| maybe_seconds(t.connect, out))
    });
    o.with("upstream_header_time", |out| {
        list(r, out, |t, out| maybe_seconds(t.header, out))
    });
    o.with("upstream_response_time", |out| {
        list(r, out, |t, out| maybe_seconds(t.response, out))
    });
    let tls = r.tls.as_ref();
    o.str("ssl_protocol", tls.map_or("", |t| t.protocol).as_bytes());
    o.str("ssl_cipher", tls.map_or("", |t| t.cipher).as_bytes());
    o.str(
        "ssl_session_reused",
        match tls {
            None => b"",
            Some(t) if t.resumed => b"r",
            Some(_) => b".",
        },
    );
    o.raw("ssl_handshake_time", |out| match tls {
        Some(t) => seconds(t.handshake, out),
        None => out.extend_from_slice(b"null"),
    });
    o.str("protocol_type", r.protocol_type.as_str().as_bytes());
    o.num("connection_requests", u64::from(r.connection_requests));
    o.str(
        "http_user_agent",
        r.user_agent.as_ref().map_or(&b""[..], |v| v.as_bytes()),
    );
    o.str(
        "http_referer",
        r.referer.as_ref().map_or(&b""[..], |v| v.as_bytes()),
    );
    o.str("request_id", r.request_id.as_bytes());
    o.str("listener_id", r.listener_id.as_bytes());
    o.str(
        "location_id",
        r.location_id.as_deref().unwrap_or("").as_bytes(),
    );
    o.end();
}

/// `METHOD TARGET PROTOCOL` as received; HTTP/2 targets are logged in
/// origin form, as nginx does.
fn request_line(req: &RequestLine, out: &mut Escaped<'_>) {
    let (Some(method), Some(uri)) = (&req.method, &req.uri) else {
        return;
    };
    out.bytes(method.as_str().as_bytes());
    out.bytes(b" ");
    let version = req.version.unwrap_or(Version::HTTP_11);
    if version == Version::HTTP_2 || uri.scheme().is_none() {
        out.bytes(
            uri.path_and_query()
                .map_or("/", |pq| pq.as_str())
                .as_bytes(),
        );
    } else {
        out.display(uri);
    }
    out.bytes(match version {
        Version::HTTP_09 => b" HTTP/0.9",
        Version::HTTP_10 => b" HTTP/1.0",
        Version::HTTP_2 => b" HTTP/2.0",
        Version::HTTP_3 => b" HTTP/3.0",
        _ => b" HTTP/1.1",
    });
}

/// nginx's list of per-attempt values: `a, b`; empty when no target.
fn list(r: &Record, out: &mut Vec<u8>, each: impl Fn(&Try, &mut Vec<u8>)) {
    for (i, t) in r.upstream.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        each(t, out);
    }
}

/// Seconds with millisecond precision, as nginx prints times.
fn seconds(d: Duration, out: &mut Vec<u8>) {
    let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
}

fn maybe_seconds(d: Option<Duration>, out: &mut Vec<u8>) {
    match d {
        Some(d) => seconds(d, out),
        None => out.push(b'-'),
    }
}

/// A JSON object being written.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, key: &str, value: &[u8]) {
        self.with(key, |out| Escaped::json(out).bytes(value));
    }

    fn display(&mut self, key: &str, value: impl std::fmt::Display) {
        self.with(key, |out| Escaped::json(out).display(value));
    }

    /// A string value written by `f` (which must escape).
    fn with(&mut self, key: &str, f: impl FnOnce(&mut Vec<u8>)) {
        self.key(key);
        self.out.push(b'"');
        f(self.out);
        self.out.push(b'"');
    }

    fn num(&mut self, key: &str, value: u64) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }

    /// A value written as is by `f` (a number, null).
    fn raw(&mut self, key: &str, f: impl FnOnce(&mut Vec<u8>)) {
        self.key(key);
        f(self.out);
    }

    fn end(self) {
        self.out.extend_from_slice(b"}\n");
    }
}

/// Writes text from the request (any bytes) safely into a line.
struct Escaped<'a> {
    out: &'a mut Vec<u8>,
    json: bool,
}

impl<'a> Escaped<'a> {
    fn json(out: &'a mut Vec<u8>) -> Escaped<'a> {
        Escaped { out, json: true }
    }

    /// nginx's default escaping: `"`, `\`, control and non-ASCII bytes
    /// as `\xHH`.
    fn nginx(out: &'a mut Vec<u8>) -> Escaped<'a> {
        Escaped { out, json: false }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        if self.json {
            self.json_bytes(bytes);
        } else {
            for &b in bytes {
                if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
                    let _ = write!(self.out, "\\x{b:02X}");
                } else {
                    self.out.push(b);
                }
            }
        }
    }

    /// JSON string content: valid UTF-8 passes (escaped as JSON needs);
    /// bytes that are not UTF-8 become the text `\xHH`.
    fn json_bytes(&mut self, bytes: &[u8]) {
        for chunk in bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' => self.out.extend_from_slice(b"\\\""),
                    '\\' => self.out.extend_from_slice(b"\\\\"),
                    '\n' => self.out.extend_from_slice(b"\\n"),
                    '\r' => self.out.extend_from_slice(b"\\r"),
                    '\t' => self.out.extend_from_slice(b"\\t"),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        let _ = write!(self.out, "\\u{:04x}", c as u32);
                    }
                    c => {
                        let mut buf = [0u8; 4];
                        self.out
                            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            for b in chunk.invalid() {
                let _ = write!(self.out, "\\\\x{b:02X}");
            }
        }
    }

    fn display(&mut self, value: impl std::fmt::Display) {
        // Displayed values (addresses, URIs) are ASCII without quotes or
        // backslashes, except a URI may hold any visible ASCII.
        let start = self.out.len();
        let _ = write!(self.out, "{value}");
        if self.out[start..]
            .iter()
            .any(|&b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b))
        {
            let raw = self.out.split_off(start);
            self.bytes(&raw);
        }
    }
}

#[cfg(test)]
mod tests;

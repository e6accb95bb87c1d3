//! Gzip compression of targets' answers (DECISIONS.md #13).
//!
//! The decision is made on headers alone and allocates nothing; only an
//! answer that is compressed pays for an encoder. The body is compressed as
//! it streams. The compressor's output leaves as it comes; what it holds
//! back is flushed (a deflate sync flush, which costs a few bytes) only
//! when the target pauses, and then only once [`FLUSH_AT`] bytes are held
//! or the pause has lasted [`FLUSH_DELAY`]: a streaming answer stays
//! streaming, and one that arrives in tiny pieces is not inflated by a
//! flush per piece.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};

use super::body::BoxError;

/// Answers shorter than this (by Content-Length) are not compressed.
pub(crate) const MIN_LENGTH: u64 = 1024;

/// Input held in the compressor that is flushed as soon as the target
/// pauses.
pub(crate) const FLUSH_AT: usize = 4096;

/// Less input than [`FLUSH_AT`] is flushed once the target has paused
/// this long.
pub(crate) const FLUSH_DELAY: Duration = Duration::from_millis(10);

/// The product's `gzip_types` list, plus `text/html` (always compressed,
/// as in nginx).
const TYPES: [&str; 16] = [
    "text/html",
    "application/atom+xml",
    "application/javascript",
    "application/json",
    "application/rss+xml",
    "application/vnd.ms-fontobject",
    "application/x-font-ttf",
    "application/x-web-app-manifest+json",
    "application/xhtml+xml",
    "application/xml",
    "font/opentype",
    "image/svg+xml",
    "image/x-icon",
    "text/css",
    "text/plain",
    "text/x-component",
];

/// What the request allows, read before its headers are rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GzipRequest {
    /// The rule's level (1–9).
    level: u32,
    /// The client accepts gzip.
    accepts: bool,
    /// A HEAD request: its answer gets the headers of the GET's, and has
    /// no body to compress.
    head: bool,
}

impl GzipRequest {
    /// `None` when no answer to this request can be compressed: the rule's
    /// gzip is off, or the request asks for a range. Otherwise whether the
    /// client accepts gzip (the answer then still gets `Vary`); an HTTP/1.0
    /// client never does here (nginx's `gzip_http_version 1.1`), and its
    /// answers get `Vary` as nginx's do. A HEAD request's answer gets
    /// the headers a GET's would, as nginx's does (`curl -I` is how users
    /// check that gzip is on).
    pub(crate) fn new(
        level: Option<u32>,
        method: &Method,
        version: Version,
        headers: &HeaderMap,
    ) -> Option<GzipRequest> {
        let level = level?;
        if headers.contains_key(header::RANGE) {
            return None;
        }
        let accepts = version >= Version::HTTP_11 && accepts_gzip(headers);
        let head = method == Method::HEAD;
        Some(GzipRequest {
            level,
            accepts,
            head,
        })
    }

    /// Decides for a target's answer and rewrites its headers. A compressible
    /// answer (status 200, 403 or 404 as in nginx; not already encoded;
    /// length unknown or ≥ [`MIN_LENGTH`]; a listed type; no
    /// `Cache-Control: no-transform`; no `Content-Range`) gets
    /// `Vary: Accept-Encoding`; if the client accepts gzip it also gets
    /// `Content-Encoding: gzip`, loses Content-Length and Accept-Ranges, and
    /// its ETag is weakened. Returns the level when the body must be
    /// compressed (never for HEAD).
    pub(crate) fn respond(&self, status: StatusCode, headers: &mut HeaderMap) -> Option<u32> {
        if !compressible(status, headers) {
            return None;
        }
        add_vary(headers);
        if !self.accepts {
            return None;
        }
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::ACCEPT_RANGES);
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        weaken_etag(headers);
        (!self.head).then_some(self.level)
    }
}

fn compressible(status: StatusCode, headers: &HeaderMap) -> bool {
    if !matches!(status.as_u16(), 200 | 403 | 404) {
        return false;
    }
    if headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace))
    {
        return false;
    }
    if headers.contains_key(header::CONTENT_RANGE) {
        return false;
    }
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        match std::str::from_utf8(len.as_bytes())
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            Some(n) if n >= MIN_LENGTH => {}
            _ => return false,
        }
    }
    let Some(ctype) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let media = ctype.as_bytes().split(|&b| b == b';').next().unwrap_or(b"");
    let media = media.trim_ascii();
    if !TYPES
        .iter()
        .any(|t| t.as_bytes().eq_ignore_ascii_case(media))
    {
        return false;
    }
    !headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|d| d.trim_ascii().eq_ignore_ascii_case(b"no-transform"))
}

/// Whether `Accept-Encoding` allows gzip: `gzip` or `x-gzip` with a q-value
/// above 0, or, when neither is listed, `*` with a q-value above 0
/// (RFC 9110 §12.5.3).
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut explicit: Option<bool> = None;
    let mut star: Option<bool> = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let mut params = item.split(|&b| b == b';');
            let coding = params.next().unwrap_or(b"").trim_ascii();
            let q_positive = params
                .filter_map(|p| {
                    let p = p.trim_ascii();
                    let (k, v) = p.split_at(p.iter().position(|&b| b == b'=')?);
                    k.trim_ascii()
                        .eq_ignore_ascii_case(b"q")
                        .then(|| q_above_zero(v[1..].trim_ascii()))
                })
                .next_back()
                .unwrap_or(true);
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                explicit = Some(explicit.unwrap_or(false) || q_positive);
            } else if coding == b"*" {
                star = Some(star.unwrap_or(false) || q_positive);
            }
        }
    }
    explicit.or(star).unwrap_or(false)
}

/// A qvalue (`0`, `0.5`, `1.000`) is above zero when any digit is not 0.
/// Anything malformed counts as 0, as nginx does.
fn q_above_zero(v: &[u8]) -> bool {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    let well_formed =
        matches!(int, b"0" | b"1") && frac.len() <= 3 && frac.iter().all(u8::is_ascii_digit);
    well_formed && (int == b"1" || frac.iter().any(|&d| d != b'0'))
}

fn add_vary(headers: &mut HeaderMap) {
    let listed = headers
        .get_all(header::VARY)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| {
            let t = t.trim_ascii();
            t == b"*" || t.eq_ignore_ascii_case(b"accept-encoding")
        });
    if !listed {
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// `"x"` becomes `W/"x"` (the compressed bytes are not the same
/// representation); an ETag that is already weak, or malformed, stays.
fn weaken_etag(headers: &mut HeaderMap) {
    let Some(etag) = headers.get(header::ETAG) else {
        return;
    };
    let b = etag.as_bytes();
    if b.first() != Some(&b'"') {
        return;
    }
    let mut weak = Vec::with_capacity(b.len() + 2);
    weak.extend_from_slice(b"W/");
    weak.extend_from_slice(b);
    if let Ok(v) = HeaderValue::from_bytes(&weak) {
        headers.insert(header::ETAG, v);
    }
}

/// A body compressed with gzip as it streams.
#[derive(Debug)]
pub(crate) struct GzipBody<B> {
    inner: B,
    encoder: Option<GzEncoder<Vec<u8>>>,
    trailers: Option<HeaderMap>,
    /// Input given to the encoder since its last flush.
    unflushed: usize,
    /// Runs while the target pauses with less than [`FLUSH_AT`] unflushed.
    flush_timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> GzipBody<B> {
    /// The body being compressed.
    pub(crate) fn inner(&self) -> &B {
        &self.inner
    }

    /// Compresses `inner` at `level` (1–9).
    pub(crate) fn new(inner: B, level: u32) -> GzipBody<B> {
        GzipBody {
            inner,
            encoder: Some(GzEncoder::new(Vec::new(), Compression::new(level))),
            trailers: None,
            unflushed: 0,
            flush_timer: None,
        }
    }
}

impl<B> Body for GzipBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            };
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => {
                    return Poll::Ready(this.finish().map(|r| r.map(Frame::data)));
                }
                Poll::Pending => {
                    // The target pauses: flush what the encoder holds, now or
                    // once the pause has lasted.
                    if this.unflushed == 0 {
                        return Poll::Pending;
                    }
                    if this.unflushed < FLUSH_AT {
                        let timer = this
                            .flush_timer
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(FLUSH_DELAY)));
                        std::task::ready!(timer.as_mut().poll(cx));
                    }
                    this.flush_timer = None;
                    this.unflushed = 0;
                    if let Err(e) = encoder.flush() {
                        this.encoder = None;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    let out = std::mem::take(encoder.get_mut());
                    if out.is_empty() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                }
            };
            match frame.into_data() {
                Ok(data) => {
                    if data.is_empty() {
                        continue;
                    }
                    if let Err(e) = encoder.write_all(&data) {
                        this.encoder = None;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    this.unflushed += data.len();
                    // What the compressor let out by itself costs nothing extra.
                    let out = std::mem::take(encoder.get_mut());
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                }
                Err(frame) => {
                    // Trailers end the body: the gzip trailer goes first.
                    if let Ok(t) = frame.into_trailers() {
                        this.trailers = Some(t);
                        if let Some(last) = this.finish() {
                            return Poll::Ready(Some(last.map(Frame::data)));
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl<B> GzipBody<B> {
    /// Ends the gzip stream; its last bytes, if any.
    fn finish(&mut self) -> Option<Result<Bytes, BoxError>> {
        let encoder = self.encoder.take()?;
        match encoder.finish() {
            Ok(out) if out.is_empty() => None,
            Ok(out) => Some(Ok(Bytes::from(out))),
            Err(e) => Some(Err(e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::io::Read;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn accepts(value: &str) -> bool {
        accepts_gzip(&headers(&[("accept-encoding", value)]))
    }

    #[test]
    fn accept_encoding_q_values_are_honoured() {
        assert!(accepts("gzip"));
        assert!(accepts("gzip, deflate, br"));
        assert!(accepts("deflate, GZIP;q=0.5"));
        assert!(accepts("x-gzip"));
        assert!(accepts("br;q=1.0, gzip;q=0.001"));
        assert!(accepts("*"));
        assert!(accepts("br, *;q=0.1"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip; q=0.000"));
        assert!(!accepts("gzip;q=0, *"), "an explicit refusal beats *");
        assert!(!accepts("*;q=0"));
        assert!(!accepts("deflate, br"));
        assert!(!accepts("identity"));
        assert!(!accepts("gzipx"));
        assert!(!accepts("gzip;q=2"), "malformed q counts as 0");
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    fn request(h: &[(&str, &str)]) -> Option<GzipRequest> {
        GzipRequest::new(Some(1), &Method::GET, Version::HTTP_11, &headers(h))
    }

    #[test]
    fn requests_that_can_never_be_compressed() {
        let ae = ("accept-encoding", "gzip");
        assert!(GzipRequest::new(None, &Method::GET, Version::HTTP_11, &headers(&[ae])).is_none());
        // HEAD gets the headers a GET would, and no body to compress.
        let head = GzipRequest::new(Some(1), &Method::HEAD, Version::HTTP_11, &headers(&[ae]));
        let mut h = headers(&[("content-type", "text/html"), ("content-length", "5000")]);
        assert_eq!(head.unwrap().respond(StatusCode::OK, &mut h), None);
        assert_eq!(h["content-encoding"], "gzip");
        assert_eq!(h["vary"], "Accept-Encoding");
        assert!(h.get("content-length").is_none());
        // HTTP/1.0: never compressed, but Vary all the same.
        let old = GzipRequest::new(Some(1), &Method::GET, Version::HTTP_10, &headers(&[ae]));
        assert!(old.is_some_and(|r| !r.accepts));
        assert!(request(&[ae, ("range", "bytes=0-1")]).is_none());
        assert!(request(&[ae]).is_some_and(|r| r.accepts));
        assert!(request(&[]).is_some_and(|r| !r.accepts));
        assert!(
            GzipRequest::new(Some(1), &Method::GET, Version::HTTP_2, &headers(&[ae])).is_some()
        );
    }

    #[test]
    fn compressible_answers_are_rewritten() {
        let r = request(&[("accept-encoding", "gzip")]).unwrap();
        let mut h = headers(&[
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", "5000"),
            ("etag", "\"abc\""),
            ("accept-ranges", "bytes"),
            ("vary", "Cookie"),
        ]);
        assert_eq!(r.respond(StatusCode::OK, &mut h), Some(1));
        assert!(h.get("content-length").is_none());
        assert!(h.get("accept-ranges").is_none());
        assert_eq!(h["content-encoding"], "gzip");
        assert_eq!(h["etag"], "W/\"abc\"");
        let vary: Vec<_> = h.get_all("vary").iter().collect();
        assert_eq!(vary, ["Cookie", "Accept-Encoding"]);
        for status in [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND] {
            let mut h = headers(&[("content-type", "application/json")]);
            assert_eq!(r.respond(status, &mut h), Some(1));
        }
    }

    #[test]
    fn a_client_without_gzip_gets_vary_only() {
        let r = request(&[]).unwrap();
        let mut h = headers(&[("content-type", "text/css"), ("content-length", "5000")]);
        assert_eq!(r.respond(StatusCode::OK, &mut h), None);
        assert_eq!(h["vary"], "Accept-Encoding");
        assert_eq!(h["content-length"], "5000");
        assert!(h.get("content-encoding").is_none());
    }

    #[test]
    fn non_eligible_answers_pass_untouched() {
        let r = request(&[("accept-encoding", "gzip")]).unwrap();
        let cases: Vec<(u16, Vec<(&str, &str)>)> = vec![
            (200, vec![("content-type", "image/png")]),
            (
                200,
                vec![("content-type", "text/plain"), ("content-encoding", "br")],
            ),
            (
                200,
                vec![("content-type", "text/plain"), ("content-length", "1023")],
            ),
            (
                200,
                vec![
                    ("content-type", "text/plain"),
                    ("cache-control", "public, no-transform"),
                ],
            ),
            (
                200,
                vec![
                    ("content-type", "text/plain"),
                    ("content-range", "bytes 0-1/2"),
                ],
            ),
            (200, vec![]),
            (204, vec![("content-type", "text/plain")]),
            (206, vec![("content-type", "text/plain")]),
            (304, vec![("content-type", "text/plain")]),
            (500, vec![("content-type", "text/plain")]),
            (301, vec![("content-type", "text/html")]),
        ];
        for (status, pairs) in cases {
            let mut h = headers(&pairs);
            let before = h.clone();
            assert_eq!(
                r.respond(StatusCode::from_u16(status).unwrap(), &mut h),
                None
            );
            assert_eq!(h, before, "{status} {pairs:?}");
        }
        let mut h = headers(&[("content-type", "text/plain"), ("content-length", "1024")]);
        assert_eq!(
            r.respond(StatusCode::OK, &mut h),
            Some(1),
            "1 KiB is enough"
        );
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[tokio::test]
    async fn pieces_that_arrive_together_are_not_flushed_one_by_one() {
        // 5,000 one-byte pieces, all there at once (a target writing
        // byte by byte): one stream, not a flush per byte.
        let text: Vec<u8> = b"stgw ".iter().copied().cycle().take(5000).collect();
        let pieces: Vec<Result<Frame<Bytes>, BoxError>> = text
            .iter()
            .map(|&b| Ok(Frame::data(Bytes::copy_from_slice(&[b]))))
            .collect();
        let all = GzipBody::new(frames_body(pieces), 1)
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(gunzip(&all), text);
        assert!(
            all.len() < 200,
            "{} bytes for 5,000 repetitive ones",
            all.len()
        );
    }

    /// Decompresses as much of a gzip stream's start as it holds.
    fn gunzip_prefix(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = flate2::read::GzDecoder::new(bytes).read_to_end(&mut out);
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_target_that_pauses_gets_what_it_sent_flushed() {
        let (sender, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut body = GzipBody::new(ChannelBody(rx), 1);
        let send = |piece: Bytes| sender.send(Ok(Frame::data(piece)));
        let mut all = Vec::new();
        // A small piece, then a pause: out after FLUSH_DELAY.
        send(Bytes::from_static(b"event: one\n\n")).unwrap();
        let start = tokio::time::Instant::now();
        // (The gzip header may come first, on its own.)
        while gunzip_prefix(&all).is_empty() {
            all.extend_from_slice(&body.frame().await.unwrap().unwrap().into_data().unwrap());
        }
        assert_eq!(start.elapsed(), FLUSH_DELAY);
        assert_eq!(gunzip_prefix(&all), b"event: one\n\n");
        // FLUSH_AT bytes or more, then a pause: out at once.
        let big = "two ".repeat(FLUSH_AT / 4);
        send(Bytes::from(big.clone())).unwrap();
        let start = tokio::time::Instant::now();
        while gunzip_prefix(&all).len() < 12 + big.len() {
            all.extend_from_slice(&body.frame().await.unwrap().unwrap().into_data().unwrap());
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(sender);
        while let Some(frame) = body.frame().await {
            all.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
        assert_eq!(gunzip(&all), format!("event: one\n\n{big}").into_bytes());
    }

    #[tokio::test]
    async fn an_empty_body_is_a_valid_empty_gzip_stream() {
        let inner = frames_body(Vec::new());
        let body = GzipBody::new(inner, 9);
        let all = body.collect().await.unwrap().to_bytes();
        assert!(!all.is_empty());
        assert_eq!(gunzip(&all), b"");
    }

    #[tokio::test]
    async fn trailers_follow_the_gzip_trailer() {
        let mut t = HeaderMap::new();
        t.insert("grpc-status", HeaderValue::from_static("0"));
        let frames = vec![
            Ok(Frame::data(Bytes::from_static(b"hello"))),
            Ok(Frame::trailers(t)),
        ];
        let body = GzipBody::new(frames_body(frames), 1);
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["grpc-status"], "0");
        assert_eq!(gunzip(&collected.to_bytes()), b"hello");
    }

    type Frames = Vec<Result<Frame<Bytes>, BoxError>>;

    /// A body made of `frames`.
    /// A body of `frames`, all there at once.
    fn frames_body(frames: Frames) -> ChannelBody {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        for frame in frames {
            let _ = tx.send(frame);
        }
        ChannelBody(rx)
    }

    /// A body whose frames come from a channel: pending while it is
    /// empty, ended when its sender is gone.
    struct ChannelBody(tokio::sync::mpsc::UnboundedReceiver<Result<Frame<Bytes>, BoxError>>);

    impl Body for ChannelBody {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            self.get_mut().0.poll_recv(cx)
        }
    }
}

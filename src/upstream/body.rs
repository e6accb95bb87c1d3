//! Request bodies towards targets.
//!
//! With `proxy_request_buffering on` the client's body is read completely
//! first ([`BufferedBody`]): small bodies stay in memory, larger ones are
//! spilled to an unlinked temporary file. A buffered body can be sent again
//! when a request is retried on another target. With buffering off the
//! client's body is streamed as it arrives.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::incoming::IncomingBody;
use super::progress::SendProgress;
use crate::idle::IdleTimer;

/// Boxed error of request bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bodies up to this size are kept in memory; larger ones go to a file.
pub(super) const MEMORY_LIMIT: usize = 64 * 1024;

/// Size of the chunks read back from a spilled body.
const FILE_CHUNK: usize = 64 * 1024;

/// Why reading a client's body failed.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More than `client_max_body_size`.
    #[error("request body larger than client_max_body_size ({limit} bytes)")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// No data for `client_body_timeout`.
    #[error("no request body data for {0:?}")]
    Timeout(Duration),
    /// The client connection failed or sent a malformed body.
    #[error("reading the request body: {0}")]
    Client(#[source] hyper::Error),
    /// The spill file could not be written or read.
    #[error("request body spill file: {0}")]
    Io(#[from] std::io::Error),
}

/// A client's body, read completely.
#[derive(Debug, Clone)]
pub enum BufferedBody {
    /// Nothing.
    Empty,
    /// In memory.
    Memory(Bytes),
    /// Spilled to a file (unlinked; kept open).
    File {
        /// The open file.
        file: Arc<Mutex<File>>,
        /// Its length.
        len: u64,
    },
}

impl BufferedBody {
    /// A body held in memory whole: [`BufferedBody::Empty`] when `bytes` is.
    pub fn in_memory(bytes: Bytes) -> BufferedBody {
        if bytes.is_empty() {
            BufferedBody::Empty
        } else {
            BufferedBody::Memory(bytes)
        }
    }

    /// Reads `body` to the end: at most `limit` bytes, at most `idle` between
    /// two pieces of data, spilling to a temporary file in `spill_dir` past
    /// [`MEMORY_LIMIT`].
    pub async fn read(
        mut body: IncomingBody,
        limit: u64,
        idle: Duration,
        spill_dir: &Path,
    ) -> Result<BufferedBody, BodyError> {
        let mut memory = BytesMut::new();
        let mut spill: Option<(File, u64)> = None;
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => return Err(BodyError::Timeout(idle)),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(BodyError::Client(e)),
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let total = spill.as_ref().map_or(memory.len() as u64, |(_, n)| *n) + data.len() as u64;
            if total > limit {
                return Err(BodyError::TooLarge { limit });
            }
            match &mut spill {
                Some((file, len)) => {
                    file.write_all(&data)?;
                    *len = total;
                }
                None if total as usize > MEMORY_LIMIT => {
                    let mut file = tempfile_in(spill_dir)?;
                    file.write_all(&memory)?;
                    file.write_all(&data)?;
                    memory = BytesMut::new();
                    spill = Some((file, total));
                }
                None => memory.extend_from_slice(&data),
            }
        }
        Ok(match spill {
            Some((file, len)) => BufferedBody::File {
                file: Arc::new(Mutex::new(file)),
                len,
            },
            None => BufferedBody::in_memory(memory.freeze()),
        })
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            BufferedBody::Empty => 0,
            BufferedBody::Memory(b) => b.len() as u64,
            BufferedBody::File { len, .. } => *len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A body that sends this content from the start.
    pub fn to_body(&self) -> RequestBody {
        match self {
            BufferedBody::Empty => RequestBody::Empty,
            BufferedBody::Memory(b) => RequestBody::Memory(Some(b.clone())),
            BufferedBody::File { file, len } => RequestBody::File {
                file: file.clone(),
                offset: 0,
                len: *len,
            },
        }
    }
}

/// An unlinked temporary file in `dir`.
fn tempfile_in(dir: &Path) -> std::io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)?;
    let name = format!(
        ".stgw-body-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// The body of a request to a target.
#[derive(Debug)]
pub enum RequestBody {
    /// No body.
    Empty,
    /// A buffered body in memory.
    Memory(Option<Bytes>),
    /// A buffered body in a spill file.
    File {
        /// The file.
        file: Arc<Mutex<File>>,
        /// Next byte to send.
        offset: u64,
        /// Total length.
        len: u64,
    },
    /// The client's body, streamed.
    Stream(StreamBody),
    /// Another body whose progress towards the target is watched
    /// (`proxy_send_timeout`, see [`SendProgress`]).
    Watched(Box<RequestBody>, Arc<SendProgress>),
}

impl RequestBody {
    /// This body, reporting its progress to a new [`SendProgress`].
    pub fn watched(self) -> (RequestBody, Arc<SendProgress>) {
        let progress = Arc::new(SendProgress::new(self.is_end_stream()));
        (
            RequestBody::Watched(Box::new(self), progress.clone()),
            progress,
        )
    }

    /// The body without its watcher.
    pub fn unwatched(self) -> RequestBody {
        match self {
            RequestBody::Watched(inner, _) => *inner,
            other => other,
        }
    }
}

/// The client's body passed through as it arrives, with
/// `client_max_body_size` and `client_body_timeout` enforced.
#[derive(Debug)]
pub struct StreamBody {
    inner: IncomingBody,
    limit: u64,
    /// Data bytes read from the client so far (shared with the request's
    /// trace: `request_length`).
    seen: Arc<AtomicU64>,
    timer: IdleTimer,
    /// Set when the stream stopped because of the client: the answer is
    /// then 413/408/400 rather than a target error.
    failure: Arc<Mutex<Option<BodyError>>>,
}

impl StreamBody {
    /// Wraps the client's body; `failure` receives the reason if it stops.
    pub fn new(
        inner: IncomingBody,
        limit: u64,
        idle: Duration,
        failure: Arc<Mutex<Option<BodyError>>>,
    ) -> Self {
        StreamBody {
            inner,
            limit,
            seen: Arc::new(AtomicU64::new(0)),
            timer: IdleTimer::new(idle),
            failure,
        }
    }

    /// The count of data bytes read from the client so far, which goes on
    /// as the body streams (even after the answer's head).
    pub fn read_count(&self) -> Arc<AtomicU64> {
        self.seen.clone()
    }

    fn fail(&self, e: BodyError) -> BoxError {
        let msg = e.to_string();
        if let Ok(mut slot) = self.failure.lock() {
            *slot = Some(e);
        }
        msg.into()
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Memory(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            RequestBody::File { file, offset, len } => {
                if *offset >= *len {
                    return Poll::Ready(None);
                }
                let want = (*len - *offset).min(FILE_CHUNK as u64) as usize;
                let mut buf = vec![0u8; want];
                let read = file
                    .lock()
                    .map_err(|_| "spill file lock poisoned".into())
                    .and_then(|mut f| {
                        f.seek(SeekFrom::Start(*offset))?;
                        f.read_exact(&mut buf)?;
                        Ok::<_, Self::Error>(())
                    });
                match read {
                    Ok(()) => {
                        *offset += want as u64;
                        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
                    }
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
            RequestBody::Stream(s) => s.poll(cx),
            RequestBody::Watched(inner, progress) => {
                progress.asked();
                let polled = Pin::new(inner.as_mut()).poll_frame(cx);
                match &polled {
                    Poll::Ready(Some(Ok(_))) => {
                        progress.handed();
                        if inner.is_end_stream() {
                            progress.mark_done();
                        }
                    }
                    Poll::Ready(None) => progress.mark_done(),
                    Poll::Ready(Some(Err(_))) | Poll::Pending => {}
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Memory(b) => b.is_none(),
            RequestBody::File { offset, len, .. } => offset >= len,
            RequestBody::Stream(s) => s.inner.is_end_stream(),
            RequestBody::Watched(inner, _) => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Memory(b) => {
                SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
            RequestBody::File { offset, len, .. } => SizeHint::with_exact(len - offset),
            RequestBody::Stream(s) => s.inner.size_hint(),
            RequestBody::Watched(inner, _) => inner.size_hint(),
        }
    }
}

impl StreamBody {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.timer.activity();
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    let seen = self.seen.fetch_add(len, Ordering::Relaxed) + len;
                    if seen > self.limit {
                        let limit = self.limit;
                        return Poll::Ready(Some(Err(self.fail(BodyError::TooLarge { limit }))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(self.fail(BodyError::Client(e))))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if self.timer.poll_expired(cx) {
                    let idle = self.timer.duration();
                    return Poll::Ready(Some(Err(self.fail(BodyError::Timeout(idle)))));
                }
                Poll::Pending
            }
        }
    }
}

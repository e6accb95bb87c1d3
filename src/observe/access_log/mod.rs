//! The access log: one record per request, written off the request path.
//!
//! A request hands its [`Record`] to a bounded queue and goes on; it never
//! waits for the disk. One writer thread formats the records (see
//! [`format`](mod@format)) and writes them through a buffer, flushed whenever the queue
//! is empty and at least every second. When the queue is full (the disk
//! stalls, or the writer falls behind) the record is dropped and counted
//! (`stgw_access_log_dropped_total`). [`AccessLog::reopen`] (SIGUSR1) makes
//! the writer reopen its file by name, for logrotate: records already
//! queued are written to whichever file is open when their turn comes, so
//! none is lost.

pub(crate) mod format;
mod time;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use prometheus_client::metrics::counter::Counter;

use crate::config::{AccessLogFormat, AccessLogTarget};
use crate::observe::record::Record;

/// Records waiting for the writer, at most.
pub(crate) const QUEUE: usize = 8192;
/// The longest a written record waits in the buffer before a flush.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// The writer's output buffer.
const BUFFER: usize = 64 * 1024;

/// Why the access log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    /// The file cannot be opened for appending.
    #[error("access_log: cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("access_log: cannot start the writer thread: {0}")]
    Thread(std::io::Error),
}

/// The process's access log: where records go and how they are written.
#[derive(Debug)]
pub struct AccessLog {
    writer: ArcSwapOption<Writer>,
    settings: Mutex<(AccessLogTarget, AccessLogFormat)>,
    counters: Counters,
}

/// The metrics the writer keeps.
#[derive(Debug, Clone)]
pub struct Counters {
    /// Records written.
    pub written: Counter,
    /// Records dropped (queue full).
    pub dropped: Counter,
    /// Failed writes, flushes and reopens.
    pub errors: Counter,
}

/// A running writer thread: its queue and its reopen flag.
#[derive(Debug)]
struct Writer {
    queue: SyncSender<Entry>,
    reopen: Arc<AtomicBool>,
}

enum Entry {
    Record(Box<Record>),
    /// Look at the reopen flag now.
    Wake,
}

impl AccessLog {
    /// An access log that is off until [`configure`](Self::configure)d.
    pub fn new(counters: Counters) -> AccessLog {
        AccessLog {
            writer: ArcSwapOption::empty(),
            settings: Mutex::new((AccessLogTarget::Off, AccessLogFormat::Json)),
            counters,
        }
    }

    /// Starts writing to `target` in `format` (a new writer thread when
    /// either changed; the previous one writes what it has queued and
    /// exits). On error the previous configuration stays.
    pub fn configure(
        &self,
        target: &AccessLogTarget,
        format: AccessLogFormat,
    ) -> Result<(), AccessLogError> {
        let mut settings = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if settings.0 == *target && settings.1 == format {
            return Ok(());
        }
        let writer = match target {
            AccessLogTarget::Off => None,
            AccessLogTarget::Stdout => Some(self.spawn(Sink::Stdout, format)?),
            AccessLogTarget::File(path) => {
                let sink = Sink::File {
                    writer: open(path)?,
                    path: path.clone(),
                };
                Some(self.spawn(sink, format)?)
            }
        };
        self.writer.store(writer.map(Arc::new));
        *settings = (target.clone(), format);
        Ok(())
    }

    fn spawn(&self, sink: Sink, format: AccessLogFormat) -> Result<Writer, AccessLogError> {
        let (queue, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let reopen = Arc::new(AtomicBool::new(false));
        let task = WriterTask {
            rx,
            sink,
            format,
            reopen: reopen.clone(),
            counters: self.counters.clone(),
            failing: false,
        };
        std::thread::Builder::new()
            .name("stgw-access-log".into())
            .spawn(move || task.run())
            .map_err(AccessLogError::Thread)?;
        Ok(Writer { queue, reopen })
    }

    /// Whether records are wanted (the log is not off).
    pub fn enabled(&self) -> bool {
        self.writer.load().is_some()
    }

    /// Queues a record; never waits. A full queue drops it (counted).
    pub fn log(&self, record: Box<Record>) {
        let guard = self.writer.load();
        let Some(writer) = guard.as_ref() else {
            return;
        };
        match writer.queue.try_send(Entry::Record(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.inc();
            }
        }
    }

    /// Asks the writer to reopen its file by name (after logrotate moved
    /// it). Records queued before are not lost: they go to the old file or
    /// the new one.
    pub fn reopen(&self) {
        if let Some(writer) = self.writer.load().as_ref() {
            writer.reopen.store(true, Ordering::Relaxed);
            // Wake the writer; if the queue is full it is busy and will
            // see the flag after its current record.
            let _ = writer.queue.try_send(Entry::Wake);
        }
    }
}

/// Opens `path` for appending, creating it (and its folder) if needed.
fn open(path: &Path) -> Result<BufWriter<File>, AccessLogError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| AccessLogError::Open {
            path: path.to_owned(),
            source,
        })?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|f| BufWriter::with_capacity(BUFFER, f))
        .map_err(|source| AccessLogError::Open {
            path: path.to_owned(),
            source,
        })
}

/// Where the writer writes.
enum Sink {
    File {
        path: PathBuf,
        writer: BufWriter<File>,
    },
    Stdout,
}

struct WriterTask {
    rx: Receiver<Entry>,
    sink: Sink,
    format: AccessLogFormat,
    reopen: Arc<AtomicBool>,
    counters: Counters,
    /// The last write failed (errors are reported once per streak).
    failing: bool,
}

impl WriterTask {
    fn run(mut self) {
        let mut line = Vec::with_capacity(1024);
        let mut clock = time::LocalTime::default();
        let mut last_flush = Instant::now();
        loop {
            let first = match self.rx.recv_timeout(FLUSH_EVERY) {
                Ok(entry) => Some(entry),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut next = first;
            loop {
                if self.reopen.swap(false, Ordering::Relaxed) {
                    self.flush();
                    self.reopen_file();
                }
                if let Some(Entry::Record(record)) = next.take() {
                    line.clear();
                    format::line(self.format, &record, clock.format(record.time), &mut line);
                    self.write(&line);
                }
                if last_flush.elapsed() >= FLUSH_EVERY {
                    self.flush();
                    last_flush = Instant::now();
                }
                match self.rx.try_recv() {
                    Ok(entry) => next = Some(entry),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush();
                        return;
                    }
                }
            }
            // The queue is empty: whatever was written goes out now.
            self.flush();
            last_flush = Instant::now();
        }
        self.flush();
    }

    fn write(&mut self, line: &[u8]) {
        let result = match &mut self.sink {
            Sink::File { writer, .. } => writer.write_all(line),
            Sink::Stdout => std::io::stdout().lock().write_all(line),
        };
        match result {
            Ok(()) => {
                self.counters.written.inc();
                self.failing = false;
            }
            Err(e) => self.failed("write", &e),
        }
    }

    fn flush(&mut self) {
        let result = match &mut self.sink {
            Sink::File { writer, .. } => writer.flush(),
            Sink::Stdout => std::io::stdout().lock().flush(),
        };
        if let Err(e) = result {
            self.failed("flush", &e);
        }
    }

    fn reopen_file(&mut self) {
        let Sink::File { path, writer } = &mut self.sink else {
            return;
        };
        match open(path) {
            Ok(new) => {
                *writer = new;
                tracing::info!(path = %path.display(), "access log reopened");
            }
            Err(e) => {
                self.counters.errors.inc();
                tracing::error!("{e}; writing on to the file already open");
            }
        }
    }

    fn failed(&mut self, what: &str, e: &std::io::Error) {
        self.counters.errors.inc();
        if !self.failing {
            tracing::error!(error = %e, "access log {what} failed");
        }
        self.failing = true;
    }
}

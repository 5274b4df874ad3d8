//! The writer thread: batching, the file lock, the tail check, write and sync.
//!
//! Each open log has one OS thread that owns the file. Callers put requests
//! on a channel and go on; the thread takes everything waiting, assigns seqs
//! under the exclusive lock, and does one `write` and one `fdatasync` for the
//! whole batch (group commit). There is no timer: a lone producer's record is
//! written as soon as the thread is free, and records that arrive while a
//! sync is in flight simply form the next batch.
//!
//! Seqs are assigned here and not by callers because several processes may
//! append to one file: only under the lock is the true last seq known.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::line::{self as codec, Kind};
use crate::reader::{self, DamageKind, Position, Recovery};
use crate::record::Record;

/// The seam through which the writer touches the disk, so tests can inject a
/// failed or short write or a failed fdatasync without faking the whole file.
///
/// The default methods are the real calls. An implementation that fails must
/// return the error; the writer then poisons itself and never calls `sync` again.
pub trait IoHooks: Send + Sync + 'static {
    /// Writes the whole batch at the end of the file.
    fn write_all(&self, file: &mut File, buf: &[u8]) -> io::Result<()> {
        io::Write::write_all(file, buf)
    }
    /// Makes the written batch durable (`fdatasync` on Linux).
    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }
}

/// The real disk.
#[derive(Debug, Default)]
pub struct RealIo;
impl IoHooks for RealIo {}

/// What a waiting caller gets back: the record's seq.
pub(crate) type Reply = oneshot::Sender<Result<u64>>;

pub(crate) enum Request {
    /// Messages whose fields after `seq` are already encoded, back to back
    /// in `fields`. They get consecutive seqs in one write; the reply is the first.
    Append {
        fields: Vec<u8>,
        parts: Parts,
        reply: Option<Reply>,
    },
    /// Append the end record, then render the export (if `export` is set).
    End {
        ts: String,
        export: Option<PathBuf>,
        reply: Reply,
    },
    /// Resolves once everything queued before it has been handled.
    Flush { reply: oneshot::Sender<Result<()>> },
}

/// How an [`Request::Append`]'s `fields` divide into records.
pub(crate) enum Parts {
    /// One record: all of `fields`.
    One,
    /// Several records, ending at these offsets of `fields` (an `append_many`
    /// chunk: one request, one reply and one buffer for the lot, instead of
    /// one of each per message crossing between threads).
    Many(Vec<usize>),
}

/// State shared between the handles and the thread.
pub(crate) struct Shared {
    pub path: PathBuf,
    /// The first failure of a request nobody awaited, for [`Session::last_error`](crate::Session::last_error).
    pub detached_error: Mutex<Option<String>>,
    /// Set once the writer is broken; read by callers to fail fast.
    pub poisoned: Mutex<Option<String>>,
}

impl Shared {
    pub fn poison_cause(&self) -> Option<String> {
        lock(&self.poisoned).clone()
    }
}

/// Locks a mutex, recovering from poisoning: the data behind these mutexes is
/// a plain `Option<String>` that a panic elsewhere cannot leave half-updated.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct Config {
    pub lock_timeout: Option<Duration>,
    pub max_batch_bytes: usize,
    pub io: Arc<dyn IoHooks>,
}

/// The thread's own state.
struct Writer {
    shared: Arc<Shared>,
    file: File,
    cfg: Config,
    /// File length after our last write (or scan); a different length under
    /// the lock means another process appended or something cut the file.
    known_len: u64,
    known_lines: u64,
    last_seq: u64,
    ended: bool,
    buf: Vec<u8>,
}

/// Where the log stood when it was opened.
pub(crate) struct Start {
    pub len: u64,
    pub lines: u64,
    pub last_seq: u64,
}

/// Starts the writer thread for an open log.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    file: File,
    start: Start,
    cfg: Config,
) -> Result<(mpsc::Sender<Request>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let mut w = Writer {
        shared,
        file,
        cfg,
        known_len: start.len,
        known_lines: start.lines,
        last_seq: start.last_seq,
        ended: false,
        buf: Vec::with_capacity(1 << 16),
    };
    let path = w.shared.path.clone();
    let thread = std::thread::Builder::new()
        .name("convlog-writer".into())
        .spawn(move || w.run(rx))
        .map_err(|e| Error::io(&path, "spawn writer thread", e))?;
    Ok((tx, thread))
}

impl Writer {
    fn run(&mut self, rx: mpsc::Receiver<Request>) {
        // `recv` fails only when every handle is gone and the queue is empty,
        // so queued records are always written before the thread exits.
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            let mut bytes = request_len(&batch[0]);
            while bytes < self.cfg.max_batch_bytes {
                match rx.try_recv() {
                    Ok(r) => {
                        bytes += request_len(&r);
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            self.handle(batch);
        }
    }

    fn handle(&mut self, batch: Vec<Request>) {
        let outcome = match self.shared.poison_cause() {
            Some(cause) => Err(Error::Poisoned {
                path: self.shared.path.clone(),
                cause,
            }),
            None => self.commit(&batch),
        };
        self.reply(batch, outcome);
    }

    /// Writes the batch durably. Returns, per request, the seq it got or why it failed.
    fn commit(&mut self, batch: &[Request]) -> Result<Vec<Result<u64>>> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        fsutil::lock_exclusive(&self.file, path, self.cfg.lock_timeout)?;
        let result = self.commit_locked(batch);
        fsutil::unlock(&self.file, path);
        result
    }

    fn commit_locked(&mut self, batch: &[Request]) -> Result<Vec<Result<u64>>> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        // One fstat per batch serves both checks below.
        let meta = self
            .file
            .metadata()
            .map_err(|e| Error::io(path, "fstat", e))?;
        if !fsutil::same_file(&meta, path)? {
            return Err(self.poison(format!(
                "{} was removed or replaced by another file while open",
                path.display()
            )));
        }
        self.catch_up(meta.len())?;

        self.buf.clear();
        let mut results = Vec::with_capacity(batch.len());
        let mut seq = self.last_seq;
        let mut ended = self.ended;
        for req in batch {
            if let Request::Flush { .. } = req {
                results.push(Ok(0));
                continue;
            }
            if ended {
                results.push(Err(Error::Ended { path: path.clone() }));
                continue;
            }
            results.push(Ok(seq + 1));
            match req {
                Request::Append {
                    fields,
                    parts: Parts::One,
                    ..
                } => {
                    seq += 1;
                    codec::frame(Kind::Message, seq, fields, &mut self.buf);
                }
                Request::Append {
                    fields,
                    parts: Parts::Many(ends),
                    ..
                } => {
                    let mut start = 0;
                    for &end in ends {
                        seq += 1;
                        codec::frame(Kind::Message, seq, &fields[start..end], &mut self.buf);
                        start = end;
                    }
                }
                Request::End { ts, .. } => {
                    seq += 1;
                    codec::frame(Kind::End, seq, &codec::end_fields(ts), &mut self.buf);
                    ended = true;
                }
                Request::Flush { .. } => {}
            }
        }
        if self.buf.is_empty() {
            return Ok(results);
        }
        if let Err(e) = self.cfg.io.write_all(&mut self.file, &self.buf) {
            return Err(self.poison(format!("write failed: {e}")));
        }
        if let Err(e) = self.cfg.io.sync_data(&self.file) {
            return Err(self.poison(format!("fdatasync failed: {e}")));
        }
        self.known_len += self.buf.len() as u64;
        self.known_lines += seq - self.last_seq;
        self.last_seq = seq;
        self.ended = ended;
        Ok(results)
    }

    /// Under the lock: if the file is not the length we left it at, another
    /// process appended (read its records to learn the last seq) or a
    /// crashed writer left a torn tail (cut it, keeping the bytes).
    fn catch_up(&mut self, len: u64) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        if len == self.known_len {
            return Ok(());
        }
        let pos = if len > self.known_len {
            Position {
                offset: self.known_len,
                line: self.known_lines,
                prev_seq: Some(self.last_seq),
            }
        } else {
            // Shorter than we left it: someone repaired or truncated it. Start over.
            Position::default()
        };
        let mut f = &self.file;
        f.seek(SeekFrom::Start(pos.offset))
            .map_err(|e| Error::io(path, "seek", e))?;
        let mut last_seq = pos.prev_seq.unwrap_or(0);
        let report = reader::scan_from(
            path,
            io::BufReader::new(f.take(len - pos.offset)),
            pos,
            Recovery::SkipCorrupt,
            |rec| {
                if let Record::End { .. } = rec {
                    return Ok(());
                }
                last_seq = last_seq.max(rec.seq());
                Ok(())
            },
        )?;
        for d in report.mid_file_damage() {
            tracing::warn!(
                target: "convlog",
                "{}: line {} (byte {}): {}: {}; appending after it",
                path.display(), d.line, d.offset, d.kind.name(), d.reason
            );
        }
        self.last_seq = report.last_seq.unwrap_or(last_seq).max(last_seq);
        self.ended |= report.ended;
        self.known_lines = pos.line + report.lines;
        self.known_len = len;
        if report.damage.iter().any(|d| d.kind == DamageKind::TornTail) {
            self.cut_torn_tail(report.valid_len, len)?;
            self.known_lines -= report
                .damage
                .iter()
                .filter(|d| d.kind == DamageKind::TornTail)
                .count() as u64;
        }
        Ok(())
    }

    /// Saves the torn bytes to `LOG.broken` and truncates them, so that damage
    /// left by a crashed writer never ends up in the middle of the file.
    fn cut_torn_tail(&mut self, valid_len: u64, len: u64) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        let mut torn = Vec::with_capacity((len - valid_len) as usize);
        let mut f = &self.file;
        f.seek(SeekFrom::Start(valid_len))
            .and_then(|_| f.take(len - valid_len).read_to_end(&mut torn))
            .map_err(|e| Error::io(path, "read torn tail", e))?;
        let backup = fsutil::save_broken(path, &torn)?;
        self.file
            .set_len(valid_len)
            .map_err(|e| Error::io(path, "truncate torn tail", e))?;
        if let Err(e) = self.cfg.io.sync_data(&self.file) {
            return Err(self.poison(format!("fdatasync after truncation failed: {e}")));
        }
        tracing::warn!(
            target: "convlog",
            "{}: cut a torn tail of {} bytes left by an interrupted writer; saved in {}",
            path.display(), len - valid_len, backup.display()
        );
        self.known_len = valid_len;
        Ok(())
    }

    fn poison(&self, cause: String) -> Error {
        let mut p = lock(&self.shared.poisoned);
        if p.is_none() {
            tracing::error!(target: "convlog", "{}: {cause}; writer is now broken", self.shared.path.display());
            *p = Some(cause.clone());
        }
        Error::Poisoned {
            path: self.shared.path.clone(),
            cause: p.clone().unwrap_or(cause),
        }
    }

    fn reply(&mut self, batch: Vec<Request>, outcome: Result<Vec<Result<u64>>>) {
        let mut results = match outcome {
            Ok(r) => r.into_iter().map(Some).collect::<Vec<_>>(),
            Err(e) => {
                let copies: Vec<Error> = (1..batch.len())
                    .map(|_| clone_error(&e, &self.shared))
                    .collect();
                std::iter::once(e)
                    .chain(copies)
                    .map(|e| Some(Err(e)))
                    .collect()
            }
        };
        for (req, result) in batch.into_iter().zip(results.iter_mut()) {
            let result = result.take().unwrap_or(Ok(0));
            match req {
                Request::Append {
                    reply: Some(tx), ..
                } => {
                    // The caller may have dropped its future; the record is written anyway.
                    let _ = tx.send(result);
                }
                Request::Append { reply: None, .. } => {
                    if let Err(e) = result {
                        self.detached_failure(&e);
                    }
                }
                Request::End { export, reply, .. } => {
                    let result = result.and_then(|seq| {
                        if let Some(out) = export {
                            crate::export::export_file(
                                &self.shared.path,
                                &out,
                                crate::export::Format::Json,
                                &crate::export::ExportOptions::default(),
                            )?;
                        }
                        Ok(seq)
                    });
                    let _ = reply.send(result);
                }
                Request::Flush { reply } => {
                    let _ = reply.send(result.map(|_| ()));
                }
            }
        }
    }

    fn detached_failure(&self, e: &Error) {
        tracing::error!(target: "convlog", "{e}");
        let mut slot = lock(&self.shared.detached_error);
        if slot.is_none() {
            *slot = Some(e.to_string());
        }
    }
}

fn request_len(r: &Request) -> usize {
    match r {
        Request::Append { fields, .. } => fields.len() + 64,
        _ => 64,
    }
}

/// A batch-wide failure goes to every request in it. `Error` is not `Clone`
/// (it holds an `io::Error`), so each later request gets a rebuilt copy of
/// the same variant.
///
/// Why not just the text: a caller matching on [`Error::LockTimeout`] (to
/// retry later) or on an I/O error's kind must see the same error whatever
/// place its record had in the batch. Previously every request but the first
/// got an `Error::InvalidInput` carrying the real error's text, so of several
/// appends waiting on a lock held by another process only one reported
/// `LockTimeout`.
fn clone_error(e: &Error, shared: &Shared) -> Error {
    match e {
        Error::LockTimeout { path, waited } => Error::LockTimeout {
            path: path.clone(),
            waited: *waited,
        },
        Error::Poisoned { path, cause } => Error::Poisoned {
            path: path.clone(),
            cause: cause.clone(),
        },
        Error::Io {
            path,
            action,
            source,
        } => Error::Io {
            path: path.clone(),
            action,
            source: match source.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(source.kind(), source.to_string()),
            },
        },
        _ => match shared.poison_cause() {
            Some(cause) => Error::Poisoned {
                path: shared.path.clone(),
                cause,
            },
            None => Error::InvalidInput(e.to_string()),
        },
    }
}

/// A `known_len` no file has: the first batch's catch-up finds the file
/// "shorter" than that and rescans it from the start, under the exclusive lock.
const UNKNOWN_LEN: u64 = u64::MAX;

/// Reads an existing log to find where it stands, under a shared lock so a
/// concurrent batch is not seen half-written.
///
/// The shared lock is only *tried*. Blocking on it made `Session::open_with`
/// wait forever while another process held the exclusive lock, ignoring
/// `Options::lock_timeout` (which only the append path knew about). When the
/// lock is busy, the log is read without it and the writer starts from
/// [`UNKNOWN_LEN`], so its first batch rescans the whole file under the
/// exclusive lock (honouring the timeout) before assigning a seq; the
/// lockless read only serves the open-time checks (ended? session id?),
/// whose worst case is an `Error::Ended` from that first batch instead of
/// from `open`.
pub(crate) fn inspect_existing(path: &Path, file: &File) -> Result<(Start, reader::Report)> {
    let locked = match file.try_lock_shared() {
        Ok(()) => true,
        Err(std::fs::TryLockError::WouldBlock) => false,
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, "lock", e)),
    };
    let result = (|| {
        let mut f = file;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, "seek", e))?;
        reader::scan(path, io::BufReader::new(f), Recovery::SkipCorrupt, |_| {
            Ok(())
        })
    })();
    if locked {
        fsutil::unlock(file, path);
    }
    let report = result?;
    let torn_lines = report
        .damage
        .iter()
        .filter(|d| d.kind == DamageKind::TornTail)
        .count() as u64;
    Ok((
        Start {
            // A torn tail is left for the first batch to cut under the
            // exclusive lock: `known_len` stops before it, so it is noticed.
            len: if locked {
                report.valid_len
            } else {
                UNKNOWN_LEN
            },
            lines: report.lines - torn_lines,
            last_seq: report.last_seq.unwrap_or(0),
        },
        report,
    ))
}

//! One group's commit, done by its leader: under the exclusive lock, catch
//! up with what other processes appended (or cut a torn tail), frame the
//! records with their seqs, write them once and fdatasync once; then answer
//! every request of the group.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use super::IoHooks;
use super::lock;
use super::lock_notice::lock_announced;
use super::request::{Parts, Request};
use super::state::LogState;
use crate::error::{Error, Result};
use crate::line::{self as codec, Kind};
use crate::log::recover::{self, OpenedAt};
use crate::read::{DamageKind, Position};
use crate::record::Record;

pub(crate) struct CommitOptions {
    pub lock_timeout: Option<Duration>,
    pub max_batch_bytes: usize,
    pub io: Arc<dyn IoHooks>,
}

/// The file and what is known about it; only the leader touches it.
pub(super) struct Writer {
    pub(super) shared: Arc<LogState>,
    file: File,
    cfg: CommitOptions,
    /// File length after our last write (or scan); a different length under
    /// the lock means another process appended or something cut the file.
    known_len: u64,
    known_lines: u64,
    last_seq: u64,
    ended: bool,
    buf: Vec<u8>,
    /// The group being committed; kept to reuse its allocation.
    pub(super) batch: Vec<Request>,
    /// The empty queue the leader swaps in for a full one (see
    /// `leader::Queue::take_group`); kept to reuse its allocation.
    pub(super) spare_queue: VecDeque<Request>,
    /// Field buffers of the last group, on their way to the spares (see `LogState::buffer`).
    pub(super) used: Vec<Vec<u8>>,
    /// Per request of the group: its seq or why it failed (kept for reuse).
    results: Vec<Result<u64>>,
}

impl Writer {
    pub(super) fn new(
        shared: Arc<LogState>,
        file: File,
        start: OpenedAt,
        cfg: CommitOptions,
    ) -> Writer {
        Writer {
            shared,
            file,
            cfg,
            known_len: start.len,
            known_lines: start.lines,
            last_seq: start.last_seq,
            ended: false,
            buf: Vec::with_capacity(1 << 16),
            batch: Vec::new(),
            spare_queue: VecDeque::new(),
            used: Vec::new(),
            results: Vec::new(),
        }
    }

    pub(super) fn handle(&mut self, batch: &mut Vec<Request>) {
        let outcome = match self.shared.poison_cause() {
            Some(cause) => Err(Error::Poisoned {
                path: self.shared.path.clone(),
                cause,
            }),
            None => self.commit(batch),
        };
        self.reply(batch, outcome);
    }

    /// Writes the batch durably. Returns, per request, the seq it got or why it failed.
    fn commit(&mut self, batch: &[Request]) -> Result<Vec<Result<u64>>> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        lock_announced(&self.file, path, self.cfg.lock_timeout)?;
        let result = self.commit_locked(batch);
        crate::fs::unlock(&self.file, path);
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
        if !crate::fs::same_file(&meta, path)? {
            return Err(self.poison(format!(
                "{} was removed or replaced by another file while open",
                path.display()
            )));
        }
        self.catch_up(meta.len())?;

        self.buf.clear();
        let mut results = std::mem::take(&mut self.results);
        results.clear();
        let mut seq = self.last_seq;
        let mut ended = self.ended;
        for req in batch {
            // Nothing to write: a flush, or a record built into nothing.
            if let Request::Flush { .. } | Request::Later { .. } = req {
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
                    kind,
                    fields,
                    parts: Parts::One,
                    ..
                } => {
                    seq += 1;
                    codec::frame(*kind, seq, fields, &mut self.buf);
                }
                Request::Append {
                    kind,
                    fields,
                    parts: Parts::Many(ends),
                    ..
                } => {
                    let mut start = 0;
                    for &end in ends {
                        seq += 1;
                        codec::frame(*kind, seq, &fields[start..end], &mut self.buf);
                        start = end;
                    }
                }
                Request::End { ts, .. } => {
                    seq += 1;
                    codec::frame(Kind::End, seq, &codec::end_fields(ts), &mut self.buf);
                    ended = true;
                }
                Request::Flush { .. } | Request::Later { .. } => {}
            }
        }
        if self.buf.is_empty() {
            return Ok(results);
        }
        if let Err(e) = self.cfg.io.write_all(&mut self.file, &self.buf) {
            return Err(self.fail("write", e));
        }
        if let Err(e) = self.cfg.io.sync_data(&self.file) {
            return Err(self.fail("fdatasync", e));
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
        let mut last_seq = pos.prev_seq.unwrap_or(0);
        let report = recover::scan_locked(path, &self.file, pos, Some(len), |rec| {
            if let Record::End { .. } = rec {
                return Ok(());
            }
            last_seq = last_seq.max(rec.seq());
            Ok(())
        })?;
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
        let backup = recover::cut_torn_tail(path, &self.file, valid_len, len)?;
        if let Err(e) = self.cfg.io.sync_data(&self.file) {
            return Err(self.fail("fdatasync after truncation", e));
        }
        tracing::warn!(
            target: "convlog",
            "{}: cut a torn tail of {} bytes left by an interrupted writer; saved in {}",
            path.display(), len - valid_len, backup.display()
        );
        self.known_len = valid_len;
        Ok(())
    }

    /// Breaks the writer because `cause`: every later request gets
    /// [`Error::Poisoned`] naming the first cause.
    fn poison(&self, cause: String) -> Error {
        let path = &self.shared.path;
        let first = self.break_writer(&cause, format!("{}: {cause}", path.display()));
        Error::Poisoned {
            path: path.clone(),
            cause: first,
        }
    }

    /// Breaks the writer after `action` failed with `e` (fsyncgate: never
    /// retried). The group being committed gets the failure itself, with
    /// its `io::ErrorKind` and errno (ENOSPC, EFBIG, EIO…); later requests
    /// get [`Error::Poisoned`].
    fn fail(&self, action: &'static str, e: std::io::Error) -> Error {
        let cause = format!("{action} failed: {e}");
        let err = Error::io(&self.shared.path, action, e);
        self.break_writer(&cause, err.to_string());
        err
    }

    /// Records the writer's first failure, both as the cause every later
    /// request is refused with and as the session's `last_error` (as
    /// `text`), so that `is_broken` and `last_error` agree whether or not
    /// anyone awaited the failing request. Returns the first cause.
    fn break_writer(&self, cause: &str, text: String) -> String {
        let first = {
            let mut p = lock(&self.shared.poisoned);
            if p.is_none() {
                tracing::error!(target: "convlog", "{}: {cause}; writer is now broken", self.shared.path.display());
                *p = Some(cause.to_owned());
            }
            p.clone().unwrap_or_else(|| cause.to_owned())
        };
        let mut slot = lock(&self.shared.detached_error);
        if slot.is_none() {
            *slot = Some(text);
        }
        first
    }

    fn reply(&mut self, batch: &mut Vec<Request>, outcome: Result<Vec<Result<u64>>>) {
        let mut results = match outcome {
            Ok(r) => r,
            Err(e) => {
                let mut all = Vec::with_capacity(batch.len());
                for _ in 1..batch.len() {
                    all.push(Err(e.clone()));
                }
                all.insert(0, Err(e));
                all
            }
        };
        for (req, result) in batch.drain(..).zip(results.drain(..)) {
            match req {
                Request::Append {
                    reply: Some(tx),
                    fields,
                    ..
                } => {
                    // The caller may have dropped its future; the record is written anyway.
                    tx.send(result);
                    self.used.push(fields);
                }
                Request::Append {
                    reply: None,
                    echo,
                    fields,
                    ..
                } => {
                    match result {
                        Err(e) => self.detached_failure(&e),
                        Ok(_) => {
                            if let Some((tag, content)) = echo {
                                tracing::info!(target: "convlog", "[{tag}] {content}");
                            }
                        }
                    }
                    self.used.push(fields);
                }
                Request::End { reply, .. } => reply.send(result),
                Request::Flush { reply } => {
                    reply.send(result.map(|_| 0));
                }
                Request::Later { bytes, .. } => {
                    if bytes.capacity() > 0 {
                        self.used.push(bytes);
                    }
                }
            }
        }
        self.results = results;
    }

    fn detached_failure(&self, e: &Error) {
        tracing::error!(target: "convlog", "{e}");
        let mut slot = lock(&self.shared.detached_error);
        if slot.is_none() {
            *slot = Some(e.to_string());
        }
    }
}

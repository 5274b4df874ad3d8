//! Splitting a log into lines: a reused buffer, a cap on a line's length,
//! and each line's place in the file, so memory stays bounded by the
//! longest line, not the log.

use std::io::{self, BufRead};

use super::report::Position;
use crate::line::{self, LineError, MAX_LINE_BYTES};
use crate::record::Record;

/// Reads lines with a reused buffer and a length cap.
///
/// A line that lies whole in the reader's buffer is handed out in place,
/// without a copy; its bytes are consumed from the reader at the next call.
/// Only a line that straddles a refill is copied into the reused buffer.
pub struct Lines<R> {
    r: R,
    buf: Vec<u8>,
    offset: u64,
    line: u64,
    /// Bytes of the line last returned in place, still to be consumed.
    pending: usize,
}

/// One line read by [`Lines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of its first byte.
    pub offset: u64,
    /// Bytes it takes in the file, newline included.
    pub len: u64,
    /// It ends with a newline.
    pub complete: bool,
    /// It was longer than the cap; its bytes were not kept.
    pub too_long: bool,
}

impl<R: BufRead> Lines<R> {
    /// Reads from `r`, which is positioned at `pos`.
    pub fn new(r: R, pos: Position) -> Lines<R> {
        Lines {
            r,
            buf: Vec::with_capacity(1024),
            offset: pos.offset,
            line: pos.line,
            pending: 0,
        }
    }

    /// Offset after the last line returned.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next line (without its newline) and where it was, or `None` at end of input.
    pub fn next_line(&mut self) -> io::Result<Option<(LineInfo, &[u8])>> {
        if self.pending > 0 {
            self.r.consume(self.pending);
            self.pending = 0;
        }
        // In place: the whole line, newline included, is already buffered.
        let whole = loop {
            match self.r.fill_buf() {
                Ok(a) => break memchr::memchr(b'\n', a).filter(|&i| i <= MAX_LINE_BYTES),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(i) = whole {
            self.pending = i + 1;
            self.line += 1;
            let info = LineInfo {
                line: self.line,
                offset: self.offset,
                len: self.pending as u64,
                complete: true,
                too_long: false,
            };
            self.offset += self.pending as u64;
            // The buffer is not empty, so this returns it again without reading.
            let avail = self.r.fill_buf()?;
            return Ok(Some((info, &avail[..i])));
        }
        self.buf.clear();
        let mut len = 0u64;
        let mut too_long = false;
        let complete = loop {
            let avail = match self.r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if len == 0 {
                    return Ok(None);
                }
                break false;
            }
            let (take, found) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            if !too_long && self.buf.len() + take <= MAX_LINE_BYTES {
                self.buf.extend_from_slice(&avail[..take]);
            } else {
                too_long = true;
                self.buf.clear();
            }
            let used = take + usize::from(found);
            self.r.consume(used);
            len += used as u64;
            if found {
                break true;
            }
        };
        self.line += 1;
        let info = LineInfo {
            line: self.line,
            offset: self.offset,
            len,
            complete,
            too_long,
        };
        self.offset += len;
        Ok(Some((info, &self.buf)))
    }
}

/// Decodes one line as read by [`Lines`].
pub fn decode_line<'a>(info: &LineInfo, bytes: &'a [u8]) -> Result<Record<'a>, LineError> {
    if info.too_long {
        Err(LineError::TooLong)
    } else if !info.complete {
        Err(LineError::Incomplete)
    } else {
        line::decode(bytes)
    }
}

//! Where a run picks up an open log the database already holds: just after
//! the last record shipped, found by reading the log backwards from its end
//! and proven by that record's seq and CRC, so that a re-run over a large,
//! fully shipped open log reads little more than what was written since.
//!
//! Only where the database holds every record up to that one (its count of
//! the session's rows equals the highest seq; see `mod.rs`): then nothing
//! before the point can be missing, and a gap an earlier `skip-corrupt` run
//! left is still found by the full read such a session gets.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::read::{Lines, Position, decode_line};
use crate::record::Record;

use super::encode::line_crc;

/// The last record the database holds of a session, when it holds every
/// record before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shipped {
    pub seq: u64,
    pub crc: u32,
}

/// Bytes read per step backwards; a longer line doubles it up to [`MAX_WINDOW`].
const WINDOW: u64 = 64 << 10;
/// The longest line looked for (so memory stays bounded); past it the log
/// is read from the start.
const MAX_WINDOW: u64 = 16 << 20;

/// The position just after the line holding `want` in a log of `len` bytes,
/// or None when it is not found intact (another copy, a log rewritten or
/// cut short): then the log is read from the start and compared.
pub(crate) fn find(file: &File, len: u64, want: Shipped) -> Option<Position> {
    // [lo, hi): the bytes read and not yet split into whole lines; `hi` is
    // always just past a newline (or the end of the file's last newline).
    let mut buf: Vec<u8> = Vec::new();
    let mut lo = len;
    let mut window = WINDOW;
    let mut tail_checked = false;
    loop {
        if lo == 0 {
            return None;
        }
        let start = lo.saturating_sub(window);
        let mut chunk = vec![0u8; (lo - start) as usize];
        file.read_exact_at(&mut chunk, start).ok()?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        lo = start;
        if !tail_checked {
            // Bytes after the last newline are a write in flight.
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => buf.truncate(i + 1),
                None if lo > 0 => continue,
                None => return None,
            }
            tail_checked = true;
        }
        // Whole lines, last first: each ends at `end` and starts after the
        // newline before it (or at the file's start).
        let mut end = buf.len();
        let whole = end;
        loop {
            let Some(nl) = memchr::memrchr(b'\n', &buf[..end - 1]) else {
                if lo == 0 {
                    return check(&buf[..end], 0, want);
                }
                break;
            };
            let line = &buf[nl + 1..end];
            let offset = lo + nl as u64 + 1;
            if let Some(seq) = seq_of(line) {
                if seq < want.seq {
                    return None;
                }
                if seq == want.seq {
                    return check(line, offset, want);
                }
            }
            end = nl + 1;
        }
        // The line at the window's start is not whole yet: read further back.
        if end == whole {
            // Not one whole line in what was read: a long line.
            window = window.saturating_mul(2);
            if window > MAX_WINDOW {
                return None;
            }
        }
        buf.truncate(end);
    }
}

/// The seq a line declares (`{"crc":"…","kind":"…","seq":N,`), unchecked.
fn seq_of(line: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(line.get(..200.min(line.len()))?, b",\"seq\":")? + 7;
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// The position after `line` (at `offset`) if it is an intact message with
/// `want`'s seq and CRC.
fn check(line: &[u8], offset: u64, want: Shipped) -> Option<Position> {
    // Header, then one line per seq: a log the database holds whole up to
    // here has no damaged line before it.
    let at = Position {
        offset,
        line: want.seq,
        prev_seq: want.seq.checked_sub(1),
    };
    let mut lines = Lines::new(line, at);
    let (info, bytes) = lines.next_line().ok()??;
    if !info.complete || info.len != line.len() as u64 {
        return None;
    }
    match decode_line(&info, bytes).ok()? {
        Record::Message(m) if m.seq == want.seq && line_crc(bytes) == want.crc => Some(Position {
            offset: offset + info.len,
            line: want.seq + 1,
            prev_seq: Some(want.seq),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(body: &str) -> String {
        format!(
            "{{\"crc\":\"{:08x}\",{body}\n",
            crc32fast::hash(body.as_bytes())
        )
    }

    fn message(seq: u64, content: &str) -> String {
        line(&format!(
            r#""kind":"message","seq":{seq},"ts":"2026-03-01T10:00:00.000000Z","role":"user","content":"{content}","source":"stt"}}"#
        ))
    }

    fn found(f: &File, len: u64, seq: u64, crc: u32) -> Option<(u64, u64, Option<u64>)> {
        find(f, len, Shipped { seq, crc }).map(|p| (p.offset, p.line, p.prev_seq))
    }

    #[test]
    fn finds_the_record_from_the_end_across_long_lines_and_a_torn_tail() {
        let mut lines = vec![line(
            r#""kind":"header","seq":0,"format":"convlog","version":1,"session":"s","created":"2026-03-01T10:00:00.000000Z"}"#,
        )];
        // Every 100th line is longer than the first window read.
        lines.extend((1..=400).map(|i| match i % 100 {
            0 => message(i, &"x".repeat(300_000)),
            _ => message(i, &format!("m{i}")),
        }));
        let all = lines.concat();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(all.as_bytes()).unwrap();
        f.write_all(b"{\"crc\":\"0000").unwrap(); // a write in flight
        let len = all.len() as u64 + 12;
        for seq in [400u64, 399, 300, 250, 1] {
            let crc = u32::from_str_radix(&lines[seq as usize][8..16], 16).unwrap();
            let after = lines[..=seq as usize].concat().len() as u64;
            assert_eq!(
                found(&f, len, seq, crc),
                Some((after, seq + 1, Some(seq))),
                "seq {seq}"
            );
        }
        // Another CRC (another copy), or a seq the log does not reach.
        let crc = u32::from_str_radix(&lines[250][8..16], 16).unwrap();
        assert_eq!(found(&f, len, 250, crc ^ 1), None);
        assert_eq!(found(&f, len, 401, crc), None);
    }
}

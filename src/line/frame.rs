//! Framing: the fixed prefix with the body's CRC-32, and the check that
//! every reader runs before it looks at a body.
//!
//! A line is `{"crc":"XXXXXXXX",` + body + `\n`. The prefix has a fixed
//! 18-byte shape so that any implementation can check a line by slicing,
//! without a JSON parser.

use std::fmt;

/// The fixed start of every line, before the eight hex digits: a file that
/// does not begin with it was not written by convlog.
pub const PREFIX_HEAD: &[u8; 8] = b"{\"crc\":\"";
/// Bytes before the body: `{"crc":"` + 8 hex digits + `",`.
pub(crate) const PREFIX_LEN: usize = 18;
/// Longest line the reader will buffer. Longer lines are reported as corrupt
/// and skipped without holding them in memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// The `kind` field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `header`: line 1.
    Header,
    /// `message`: a user or agent message.
    Message,
    /// `tool`: a function call and its output.
    Tool,
    /// `handoff`: the conversation passed to another agent.
    Handoff,
    /// `end`: the session is over.
    End,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Header => "header",
            Kind::Message => "message",
            Kind::Tool => "tool",
            Kind::Handoff => "handoff",
            Kind::End => "end",
        }
    }
}

/// Why a line did not decode. The reader turns this into a torn tail or a
/// corrupt record depending on what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// The file ends without the line's terminating newline.
    Incomplete,
    /// The line does not start with `{"crc":"XXXXXXXX",`.
    BadPrefix,
    /// The stored checksum does not match the body.
    Checksum {
        /// The CRC written in the line.
        stored: u32,
        /// The CRC of the body as read.
        computed: u32,
    },
    /// The checksum matches but the body is not a valid record.
    Invalid(String),
    /// The line is longer than [`MAX_LINE_BYTES`].
    TooLong,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Incomplete => f.write_str("incomplete line (no newline at end of file)"),
            LineError::BadPrefix => {
                f.write_str("line does not start with a {\"crc\":\"…\", prefix")
            }
            LineError::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:08x}, computed {computed:08x})"
            ),
            LineError::Invalid(why) => write!(f, "invalid record: {why}"),
            LineError::TooLong => write!(f, "line longer than {MAX_LINE_BYTES} bytes"),
        }
    }
}

/// Appends one complete line to `out`: prefix with checksum, `kind`, `seq`,
/// the pre-encoded `fields`, and the newline.
pub fn frame(kind: Kind, seq: u64, fields: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(PREFIX_HEAD);
    out.extend_from_slice(b"00000000\",");
    let body = out.len();
    out.extend_from_slice(b"\"kind\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"seq\":");
    push_u64(out, seq);
    out.push(b',');
    out.extend_from_slice(fields);
    let crc = crc32fast::hash(&out[body..]);
    write_hex(crc, &mut out[start + 8..start + 16]);
    out.push(b'\n');
}

/// Appends `v` in decimal.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

pub(super) fn write_hex(v: u32, dst: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, d) in dst.iter_mut().enumerate() {
        *d = DIGITS[((v >> (28 - 4 * i)) & 0xf) as usize];
    }
}

pub(super) fn read_hex(src: &[u8]) -> Option<u32> {
    src.iter().try_fold(0u32, |acc, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            // Uppercase is rejected on purpose: flipping bit 5 of a hex
            // letter must not produce another valid spelling of the same CRC.
            _ => return None,
        };
        Some(acc << 4 | u32::from(d))
    })
}

/// Checks a line's framing and checksum, returning its body.
/// `line` excludes the terminating newline.
pub fn check(line: &[u8]) -> Result<&[u8], LineError> {
    if line.len() < PREFIX_LEN + 2 || &line[..8] != PREFIX_HEAD || &line[16..PREFIX_LEN] != b"\"," {
        return Err(LineError::BadPrefix);
    }
    let stored = read_hex(&line[8..16]).ok_or(LineError::BadPrefix)?;
    let body = &line[PREFIX_LEN..];
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(LineError::Checksum { stored, computed });
    }
    Ok(body)
}

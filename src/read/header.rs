//! A log's header without scanning the log: what a caller needs to place a
//! session in time (an export's subtitle clock, a search's session filter)
//! before, or instead of, reading its messages.

use std::io::BufReader;
use std::path::Path;

use super::lines::{Lines, decode_line};
use super::report::Position;
use crate::error::{Error, Result};
use crate::record::{Header, Record};

/// The header on line 1 of `log`, if line 1 is an intact header. Reads one line.
pub fn read_header(log: &Path) -> Result<Option<Header>> {
    let file = crate::fs::open_read(log)?;
    let mut lines = Lines::new(BufReader::new(file), Position::default());
    let Some((info, bytes)) = lines.next_line().map_err(|e| Error::io(log, "read", e))? else {
        return Ok(None);
    };
    Ok(match decode_line(&info, bytes) {
        Ok(Record::Header(h)) => Some(h),
        _ => None,
    })
}

//! The line format: turns records into checksummed lines and back.
//!
//! A line is `{"crc":"XXXXXXXX",` + body + `\n`, where `XXXXXXXX` is the
//! CRC-32 of the body's exact bytes in lowercase hex, and the whole line is
//! still one JSON object that `jq` reads on its own. See
//! [`crate::format`](mod@crate::format) for the full specification.
//!
//! One job per file, in the order a record travels:
//! - `encode`: a record's fields after `seq` ([`message_fields`],
//!   [`tool_fields`], [`handoff_fields`], [`header_fields`], [`end_fields`]),
//!   run on the caller's task;
//! - `frame`: the prefix, the checksum and the newline around them
//!   ([`frame()`]), and the check every reader runs first ([`check`]);
//! - `decode`: a checked line back into a [`Record`](crate::record::Record)
//!   ([`decode()`]), through the `fast` path when it can vouch for the result.

mod decode;
mod encode;
mod fast;
mod frame;
#[cfg(test)]
mod tests;

/// The fields' string encoding, the one the original design's `json.dumps`
/// wrote (`ensure_ascii=False`): a tool writing lines escapes strings with it.
pub use crate::json_escape::write_json_str;
pub use decode::decode;
pub(crate) use encode::message_fields_into;
pub use encode::{end_fields, handoff_fields, header_fields, message_fields, tool_fields};
pub use frame::{Kind, LineError, MAX_LINE_BYTES, PREFIX_HEAD, check, frame};

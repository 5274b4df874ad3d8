//! Writing the checked entries as a log: through the real session writer,
//! under a temporary name, dated as the original session was.

use std::path::Path;

use chrono::{DateTime, FixedOffset, Local};
use serde_json::Value;

use super::Entry;
use super::bad_entry;
use crate::error::{Error, Result};
use crate::fs::layout;
use crate::record::Message;
use crate::session::{MAX_CONTENT_LIMIT, Options, Session};
use crate::time::{localize, to_rfc3339};

/// When the original session started: the time in its name
/// (`conversation_YYYYMMDD_HHMMSS`, local time), else its first message.
pub(super) fn created_time(original: &Path, entries: &[Entry]) -> DateTime<FixedOffset> {
    let from_name = original
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(layout::parse_log_stem)
        .map(|n| localize(&n));
    let first = entries
        .first()
        .and_then(|e| DateTime::parse_from_rfc3339(&e.ts).ok());
    match (from_name, first) {
        // The file was named when the session was set up, shortly before its
        // first message; a name far from the messages is not trusted.
        (Some(n), Some(f)) if n <= f && f - n <= chrono::TimeDelta::days(1) => n,
        (_, Some(f)) => f,
        (Some(n), None) => n,
        (None, None) => Local::now().fixed_offset(),
    }
}

/// Runs an async block to completion on a fresh current-thread runtime in a
/// scoped thread, so this works from plain code and from inside a runtime alike.
fn block_on<F>(f: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| Error::io(Path::new("<runtime>"), "start tokio runtime", e))?;
            Ok(rt.block_on(f))
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Internal("the import thread panicked".into())))
    })
}

/// Writes `entries` as a complete, ended log at `tmp`.
pub(super) fn write_log(
    tmp: &Path,
    created: &DateTime<FixedOffset>,
    entries: &[Entry],
) -> Result<()> {
    crate::log::create::write_header_file(tmp, created, None)?;
    let session = Session::open_with(
        tmp,
        Options::default()
            .echo(false)
            .export_on_end(false)
            .keep_blank(true)
            .max_content_bytes(MAX_CONTENT_LIMIT),
    )?;
    block_on(async {
        // Queue everything first (the writer commits it in large batches),
        // then collect the acknowledgements in order.
        let pending: Vec<_> = entries
            .iter()
            .map(|e| {
                let mut msg = Message::new(e.role, e.content.clone(), e.source.clone())
                    .timestamp(e.ts.clone());
                msg.meta = e.extra.clone().map(Value::Object);
                (e.index, session.append(msg))
            })
            .collect();
        for (index, fut) in pending {
            match fut.await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(bad_entry(tmp, index, "blank content was not written"));
                }
                // A value the log refuses is this file's fault; a failed
                // write (a full disk, a broken writer) is not, and keeps its kind.
                Err(e) if e.is_rejected_input() => {
                    return Err(Error::InvalidInput(format!("conversation[{index}]: {e}")));
                }
                Err(e) => return Err(e),
            }
        }
        // Dated at the last message: the session ended then, not on import day.
        let end_ts = entries
            .last()
            .map(|e| e.ts.clone())
            .unwrap_or_else(|| to_rfc3339(created));
        session.end_at(end_ts).await.map(drop)
    })?
}

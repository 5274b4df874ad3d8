//! The reading side of the shipper: a thread that finds logs, scans what is
//! new in each with the library's line reader and judge, and hands whole,
//! checksummed records on as binary COPY rows, a batch at a time, so that
//! memory stays bounded by the batch size whatever the log's size. It knows
//! nothing of the database; the database side decides what is already there.
//!
//! Here: which logs to look at and when (the listing, the watcher's
//! wake-ups), whether a file is new, replaced or unchanged, and where its
//! scan starts (a shipped, ended session is not read; an open one the
//! database holds whole is read from its last shipped record). `scan`
//! reads one log's new part; `segment` is what is handed on.

mod scan;
mod segment;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use crate::error::Error;
use crate::fs::non_utf8_name;
use crate::read::{Position, find_logs};

use super::Stop;
use super::resume;
use super::watch::{Wake, Watcher};

pub(crate) use scan::{ReadOptions, header_of};
pub(crate) use segment::{End, Item, Segment};

use scan::{FileState, scan_unread, session_info};
use segment::Batcher;

/// Runs until one pass is done (or, following, until `stop`), sending
/// batches on `tx`. Returns when the receiver is gone.
///
/// Following, a pass after the first looks only at the files the watcher
/// names (and lists the directories again only when names changed), so an
/// idle run over thousands of logs does no work between writes.
pub(crate) fn run(paths: Vec<PathBuf>, opts: ReadOptions, stop: Stop, tx: mpsc::Sender<Item>) {
    let mut files: HashMap<PathBuf, FileState> = HashMap::new();
    let mut out = Batcher::new(&tx, opts.batch_rows);
    let mut watcher = None;
    if opts.follow {
        let (w, notes) = Watcher::new(&paths, opts.poll, opts.notify);
        for (log, detail) in notes {
            if !out.send(Item::Note { log, detail }) {
                return;
            }
        }
        watcher = Some(w);
    }
    let mut wake = Wake::All;
    let mut missing = false;
    loop {
        let (only, list) = match wake {
            Wake::Stop => return,
            Wake::All => (None, true),
            Wake::Some { files, names } => (Some(files), names),
        };
        let logs = if list {
            match find_logs(&paths) {
                Ok(l) => {
                    missing = false;
                    l
                }
                Err(_) if missing => Vec::new(),
                Err(e) => {
                    // A directory that vanished while following: say so once and keep going.
                    missing = true;
                    if !out.send(Item::Unreadable {
                        log: e.path().map(Path::to_path_buf).unwrap_or_default(),
                        detail: e.to_string(),
                    }) {
                        return;
                    }
                    Vec::new()
                }
            }
        } else {
            let mut l: Vec<PathBuf> = only.iter().flatten().cloned().collect();
            l.sort();
            l
        };
        for log in logs {
            if stop.is_stopped() {
                return;
            }
            // Told which files changed: the others are as they were; a new
            // name is a log only if the listing above found it.
            if let Some(only) = &only
                && (files.contains_key(&log) && !only.contains(&log)
                    || !list && !files.contains_key(&log))
            {
                continue;
            }
            let st = match files.entry(log.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    if let Some(exact) = non_utf8_name(&log)
                        && !out.send(Item::Note {
                            detail: format!(
                                "{}: the file name is not UTF-8 (exactly {exact}); it is shown here, and stored in log_name, with U+FFFD in place of the bytes that are not",
                                log.display()
                            ),
                            log: log.clone(),
                        })
                    {
                        return;
                    }
                    e.insert(FileState::default())
                }
            };
            if !step(&log, st, &opts, &stop, &mut out) {
                return;
            }
        }
        if !out.flush() {
            return;
        }
        let Some(w) = &mut watcher else { return };
        wake = w.wait(&stop);
    }
}

fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}

/// Ships what is new in one log. False when the receiver is gone.
fn step(
    log: &Path,
    st: &mut FileState,
    opts: &ReadOptions,
    stop: &Stop,
    out: &mut Batcher,
) -> bool {
    let unreadable = |e: Error| Item::Unreadable {
        log: log.to_path_buf(),
        detail: e.to_string(),
    };
    let file = match crate::fs::open_read(log) {
        Ok(f) => f,
        Err(e) => {
            // Reported once per change, not on every poll.
            let meta = std::fs::symlink_metadata(log).ok();
            let seen = meta.map(|m| (m.len(), mtime_ns(&m))).unwrap_or_default();
            if !st.parked || st.seen != seen {
                st.parked = true;
                st.seen = seen;
                return out.send(unreadable(e));
            }
            return true;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return out.send(unreadable(Error::io(log, "stat", e))),
    };
    let id = (meta.dev(), meta.ino());
    let seen = (meta.len(), mtime_ns(&meta));
    if st.id == id && st.seen == seen {
        return true;
    }
    let header = header_of(&file);
    let replaced = st.header_crc.is_some() && header.as_ref().map(|h| h.1) != st.header_crc;
    if st.id != id || meta.len() < st.pos.offset || replaced {
        // A new file, or one replaced, cut short or written over with
        // another log: read it from the start as a new log; the database's
        // cursor keeps what was shipped from being doubled.
        *st = FileState {
            id,
            ..FileState::default()
        };
    }
    st.seen = seen;
    if st.pos.offset == 0
        && let Some((h, _)) = &header
        && opts.done.contains(&h.session)
    {
        // Shipped and ended: nothing can follow an end record.
        st.parked = true;
        st.header_crc = header.map(|h| h.1);
        return true;
    }
    if st.parked {
        // Parked files are rescanned from the start when they change (a
        // repaired log, a log that was still being created).
        st.pos = Position::default();
        st.session = None;
        st.parked = false;
        st.skipped = false;
    }
    st.header_crc = header.as_ref().map(|h| h.1);
    if st.pos.offset == 0
        && let Some((h, _)) = header
        && let Some(want) = opts.resume.get(&h.session)
        && let Some(pos) = resume::find(&file, meta.len(), *want)
    {
        // Shipped up to `pos`, and the database holds all before it.
        st.pos = pos;
        st.session = Some(session_info(log, h));
        if !out.send(Item::Resumed) {
            return false;
        }
    }
    match scan_unread(log, &file, st, opts, stop, out, meta.len()) {
        Ok(alive) => alive,
        Err(e) => {
            st.parked = true;
            out.send(unreadable(e))
        }
    }
}

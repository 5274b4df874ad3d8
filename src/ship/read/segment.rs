//! What the reader hands to the database side: consecutive records of one
//! session encoded as binary COPY rows ([`Segment`]), the other things it
//! has to say ([`Item`]), and the batching of segments into transactions.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::ship::encode::Stamp;

/// The session a log holds, as its header and file name say.
#[derive(Debug)]
pub(crate) struct SessionInfo {
    pub id: String,
    pub log: PathBuf,
    pub log_name: String,
    pub created: Stamp,
    /// The header's `created` as written.
    pub created_text: String,
}

/// The end record.
#[derive(Debug, Clone)]
pub(crate) struct End {
    pub seq: u64,
    pub ts: Stamp,
    pub text: String,
}

/// Consecutive records of one session from one log, encoded as binary COPY
/// tuples.
pub(crate) struct Segment {
    pub session: Arc<SessionInfo>,
    pub rows: Vec<u8>,
    /// Where each row starts in `rows`.
    pub starts: Vec<usize>,
    pub seqs: Vec<u64>,
    pub crcs: Vec<u32>,
    /// Rows stored with their line in `raw`.
    pub raw: Vec<bool>,
    /// The end record, when this segment reaches it.
    pub end: Option<End>,
}

impl Segment {
    pub(super) fn new(session: Arc<SessionInfo>) -> Segment {
        Segment {
            session,
            rows: Vec::new(),
            starts: Vec::new(),
            seqs: Vec::new(),
            crcs: Vec::new(),
            raw: Vec::new(),
            end: None,
        }
    }

    /// The encoded bytes of row `i`.
    pub fn row(&self, i: usize) -> &[u8] {
        let a = self.starts.get(i).copied().unwrap_or(self.rows.len());
        let b = self.starts.get(i + 1).copied().unwrap_or(self.rows.len());
        &self.rows[a..b]
    }
}

/// What the reader hands to the database side.
pub(crate) enum Item {
    Batch(Vec<Segment>),
    /// Mid-file damage, reported under the recovery mode.
    Damaged {
        log: PathBuf,
        detail: String,
    },
    /// Worth saying, loses nothing.
    Note {
        log: PathBuf,
        detail: String,
    },
    /// An open log picked up just after its last shipped record.
    Resumed,
    /// A file that cannot be shipped: not a log, unreadable.
    Unreadable {
        log: PathBuf,
        detail: String,
    },
}

/// Gathers segments into batches of about `batch_rows` rows and sends them.
pub(super) struct Batcher<'a> {
    tx: &'a mpsc::Sender<Item>,
    batch: Vec<Segment>,
    rows: usize,
    limit: usize,
}

impl<'a> Batcher<'a> {
    pub(super) fn new(tx: &'a mpsc::Sender<Item>, batch_rows: usize) -> Batcher<'a> {
        Batcher {
            tx,
            batch: Vec::new(),
            rows: 0,
            limit: batch_rows.max(1),
        }
    }

    /// False when the receiver is gone.
    pub(super) fn send(&self, item: Item) -> bool {
        self.tx.blocking_send(item).is_ok()
    }

    pub(super) fn push(&mut self, seg: Segment) -> bool {
        self.rows += seg.seqs.len().max(1);
        self.batch.push(seg);
        self.rows < self.limit || self.flush()
    }

    pub(super) fn flush(&mut self) -> bool {
        self.rows = 0;
        let batch = std::mem::take(&mut self.batch);
        batch.is_empty() || self.send(Item::Batch(batch))
    }
}

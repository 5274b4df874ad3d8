//! How to ship: the caller's choices, with the defaults the CLI documents.

use std::time::Duration;

use crate::Recovery;

/// How to ship.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to ship of a damaged log, as for export.
    pub recovery: Recovery,
    /// Keep watching for new records and sessions instead of exiting after one pass.
    pub follow: bool,
    /// The `host` column of new sessions.
    pub host: String,
    /// Create the schema when the database has none.
    pub create_schema: bool,
    /// How often to look for new records when following where file
    /// notifications cannot be had (or `notify` is off).
    pub poll: Duration,
    /// Following, wake on file notifications (inotify on the logs'
    /// directories) instead of polling every `poll`; where they cannot be
    /// had, the run says so once and polls.
    pub notify: bool,
    /// The longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Messages per batch (one transaction).
    pub batch_rows: usize,
    /// How rows reach the messages table.
    pub method: Method,
    /// The longest one exchange with the database may take (a batch's
    /// transaction, a query) before the connection is given up as hung and
    /// the work retried on a new one.
    pub timeout: Duration,
    /// Attempts at a batch through transient faults (a lost connection, a
    /// cancelled statement, a full disk) before a one-pass run gives up with
    /// what it shipped. `--follow` retries for ever, with backoff.
    pub attempts: u32,
    /// Personal data to redact from each message's content on its way to
    /// the database, for logs written without redaction. Default: none.
    pub redact: crate::redact::Policy,
}

/// How a batch's rows reach `convlog.messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Binary COPY straight into the table under a savepoint; when rows are
    /// there already, again through the staging table. The default: the
    /// benchmark measures it faster, since the database's cursor means
    /// conflicts are rare.
    #[default]
    Direct,
    /// Always binary COPY into a temporary staging table, then
    /// `INSERT … ON CONFLICT DO NOTHING`.
    Staging,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            recovery: Recovery::TolerateTail,
            follow: false,
            host: hostname(),
            create_schema: true,
            poll: Duration::from_millis(50),
            notify: true,
            max_backoff: Duration::from_secs(10),
            batch_rows: 20_000,
            method: Method::Direct,
            timeout: Duration::from_secs(60),
            attempts: 6,
            redact: crate::redact::Policy::none(),
        }
    }
}

/// This machine's name, for the `host` column.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // within it or truncates, and we stop at the first NUL either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

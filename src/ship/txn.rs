//! One transaction: the session rows (binary timestamps), then the
//! messages by binary `COPY`, straight into the table or, when another
//! shipper was first, through the staging table after comparing checksums;
//! and the ledger of what the database holds, kept in step with what
//! committed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::encode::PgTime;
use super::error::Attempt;
use super::read::Segment;
use super::{Method, Options, Summary, schema};

/// What the database holds of each session this run met, what may not be
/// shipped further, and what was shipped.
pub(crate) struct Ledger<'a> {
    pub opts: &'a Options,
    pub cursors: HashMap<String, Cursor>,
    /// (session, log) pairs not shipped further in this run: a record the
    /// database refused, or a copy that differs from the one shipped.
    pub blocked: HashSet<(String, PathBuf)>,
    /// The first log this run shipped each session from.
    pub owner: HashMap<String, PathBuf>,
    /// Copies already reported.
    pub told: HashSet<(String, PathBuf)>,
    /// The connection has the staging table (reset on a new connection).
    pub staging_ready: bool,
    pub summary: Summary,
}

/// What the database holds of one session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cursor {
    pub exists: bool,
    pub log_name: String,
    pub host: String,
    pub created: Option<PgTime>,
    pub ended: Option<PgTime>,
    pub max_seq: Option<u64>,
}

/// What to ship of one segment in one go.
pub(crate) struct Part<'a> {
    pub(crate) seg: &'a Segment,
    /// Indexes of the rows to insert.
    pub(crate) rows: Vec<usize>,
    /// Record the end.
    pub(crate) end: bool,
    /// Insert the session row, or update its end.
    pub(crate) session_row: bool,
    /// Rows found in the database with the same CRC.
    pub(crate) already: u64,
}

/// A transaction's result when it did not fail.
pub(crate) enum Outcome {
    Committed,
    /// Another shipper inserted a different copy of these records meanwhile
    /// (session, first differing seq); rolled back.
    Raced(Vec<(String, u64)>),
}

impl<'a> Ledger<'a> {
    pub(crate) fn new(opts: &'a Options) -> Ledger<'a> {
        Ledger {
            opts,
            cursors: HashMap::new(),
            blocked: HashSet::new(),
            owner: HashMap::new(),
            told: HashSet::new(),
            staging_ready: false,
            summary: Summary::default(),
        }
    }

    pub(crate) async fn transaction(
        &mut self,
        client: &mut Client,
        parts: &[&Part<'_>],
    ) -> Attempt<Outcome> {
        let rows: usize = parts.iter().map(|p| p.rows.len()).sum();
        let already: u64 = parts.iter().map(|p| p.already).sum();
        if rows == 0 && !parts.iter().any(|p| p.session_row) {
            self.summary.already += already;
            return Ok(Outcome::Committed);
        }
        if !self.staging_ready {
            client
                .batch_execute(
                    "CREATE TEMP TABLE IF NOT EXISTS convlog_staging
                       (LIKE convlog.messages INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                )
                .await?;
        }
        let host = self.opts.host.as_str();
        let method = self.opts.method;
        let tx = client.transaction().await?;
        let (mut new_sessions, mut new_ended, mut inserted) = (0u64, 0u64, rows as u64);
        let sessions: Vec<&&Part<'_>> = parts.iter().filter(|p| p.session_row).collect();
        if !sessions.is_empty() {
            let info = |p: &&&Part<'_>| p.seg.session.clone();
            let ids: Vec<&str> = sessions.iter().map(|p| p.seg.session.id.as_str()).collect();
            let names: Vec<&str> = sessions
                .iter()
                .map(|p| p.seg.session.log_name.as_str())
                .collect();
            let hosts: Vec<&str> = sessions.iter().map(|_| host).collect();
            let created: Vec<PgTime> = sessions.iter().map(|p| info(p).created.at).collect();
            let created_text: Vec<Option<String>> = sessions
                .iter()
                .map(|p| {
                    let s = info(p);
                    s.created.loses_text().then(|| s.created_text.clone())
                })
                .collect();
            let ends: Vec<Option<&super::read::End>> = sessions
                .iter()
                .map(|p| p.seg.end.as_ref().filter(|_| p.end))
                .collect();
            let ended: Vec<Option<PgTime>> = ends.iter().map(|e| e.map(|e| e.ts.at)).collect();
            let ended_text: Vec<Option<&str>> = ends
                .iter()
                .map(|e| e.filter(|e| e.ts.loses_text()).map(|e| e.text.as_str()))
                .collect();
            let changed = tx
                .query(
                    "INSERT INTO convlog.sessions (id, log_name, host, created, created_text, ended, ended_text)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                                          $5::text[], $6::timestamptz[], $7::text[])
                     ON CONFLICT (id) DO UPDATE SET ended = EXCLUDED.ended, ended_text = EXCLUDED.ended_text
                      WHERE convlog.sessions.ended IS NULL AND EXCLUDED.ended IS NOT NULL
                     RETURNING xmax = 0, ended IS NOT NULL",
                    &[&ids, &names, &hosts, &created, &created_text, &ended, &ended_text],
                )
                .await?;
            // Counted from what the database changed, not what was sent: a
            // second shipper may have been first.
            for r in changed {
                new_sessions += u64::from(r.get::<_, bool>(0));
                new_ended += u64::from(r.get::<_, bool>(1));
            }
        }
        if rows > 0 {
            let mut payload = Vec::with_capacity(
                32 + parts
                    .iter()
                    .flat_map(|p| p.rows.iter().map(|&i| p.seg.row(i).len()))
                    .sum::<usize>(),
            );
            payload.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
            payload.extend_from_slice(&0i32.to_be_bytes());
            payload.extend_from_slice(&0i32.to_be_bytes());
            for p in parts {
                for &i in &p.rows {
                    payload.extend_from_slice(p.seg.row(i));
                }
            }
            payload.extend_from_slice(&(-1i16).to_be_bytes());
            let payload = Bytes::from(payload);
            let cols = schema::MESSAGES
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>()
                .join(", ");
            let direct = match method {
                Method::Direct => {
                    tx.batch_execute("SAVEPOINT direct").await?;
                    copy(
                        &tx,
                        &format!("COPY convlog.messages ({cols}) FROM STDIN (FORMAT binary)"),
                        payload.clone(),
                    )
                    .await
                    .map_err(Some)
                }
                Method::Staging => Err(None),
            };
            match direct {
                Ok(()) => {}
                Err(e)
                    if e.as_ref()
                        .is_none_or(|e| e.code() == Some(&SqlState::UNIQUE_VIOLATION)) =>
                {
                    // Some rows are there already (another shipper was
                    // first): compare them, then let the database skip them.
                    if e.is_some() {
                        tx.batch_execute("ROLLBACK TO SAVEPOINT direct").await?;
                    }
                    copy(
                        &tx,
                        &format!("COPY convlog_staging ({cols}) FROM STDIN (FORMAT binary)"),
                        payload,
                    )
                    .await?;
                    let differ = tx
                        .query(
                            "SELECT s.session_id, min(s.seq) FROM convlog_staging s
                               JOIN convlog.messages m ON m.session_id = s.session_id AND m.seq = s.seq
                              WHERE m.crc <> s.crc GROUP BY 1",
                            &[],
                        )
                        .await?;
                    if !differ.is_empty() {
                        let raced = differ
                            .iter()
                            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
                            .collect();
                        tx.rollback().await?;
                        return Ok(Outcome::Raced(raced));
                    }
                    inserted = tx
                        .execute(
                            &format!(
                                "INSERT INTO convlog.messages ({cols}) SELECT {cols} FROM convlog_staging
                                 ON CONFLICT (session_id, seq) DO NOTHING"
                            ),
                            &[],
                        )
                        .await?;
                }
                Err(Some(e)) => return Err(e.into()),
                Err(None) => {}
            }
        }
        tx.commit().await?;
        self.staging_ready = true;
        self.summary.sessions += new_sessions;
        self.summary.ended += new_ended;
        self.summary.messages += inserted;
        self.summary.already += already + (rows as u64 - inserted);
        let host = self.opts.host.clone();
        for p in parts {
            self.summary.encoded += p.rows.iter().filter(|&&i| p.seg.raw[i]).count() as u64;
            let s = &p.seg.session;
            let cur = self.cursors.entry(s.id.clone()).or_default();
            if !cur.exists {
                *cur = Cursor {
                    exists: true,
                    log_name: s.log_name.clone(),
                    host: host.clone(),
                    created: Some(s.created.at),
                    ..Cursor::default()
                };
            }
            if let Some(last) = p.rows.iter().map(|&i| p.seg.seqs[i]).max() {
                cur.max_seq = cur.max_seq.max(Some(last));
            }
            if p.end {
                cur.ended = p.seg.end.as_ref().map(|e| e.ts.at);
            }
        }
        Ok(Outcome::Committed)
    }
}

async fn copy(
    tx: &tokio_postgres::Transaction<'_>,
    stmt: &str,
    payload: Bytes,
) -> Result<(), tokio_postgres::Error> {
    let sink = tx.copy_in(stmt).await?;
    futures_util::pin_mut!(sink);
    sink.send(payload).await?;
    sink.finish().await?;
    Ok(())
}

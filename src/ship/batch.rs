//! One round of a batch against the database: read back what it holds of
//! each session, compare the overlap record by record (CRC), ship what is
//! missing (new records, and gaps an earlier run left) in one transaction,
//! and narrow a refused transaction down to the record that was refused.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::Event;
use super::error::{Attempt, Class, timed};
use super::read::Segment;
use super::txn::{Cursor, Ledger, Outcome, Part};

type OnEvent<'e> = &'e mut (dyn FnMut(Event<'_>) + Send);

impl Ledger<'_> {
    pub(crate) async fn ship_round(
        &mut self,
        client: &mut Client,
        segs: &[&Segment],
        on_event: OnEvent<'_>,
    ) -> Attempt<()> {
        loop {
            self.load_cursors(client, segs).await?;
            let mut parts = Vec::with_capacity(segs.len());
            for seg in segs {
                if let Some(p) = self.plan(client, seg, on_event).await? {
                    parts.push(p);
                }
            }
            let all: Vec<&Part<'_>> = parts.iter().collect();
            match self.try_parts(client, &all).await {
                Ok(Outcome::Committed) => return Ok(()),
                Ok(Outcome::Raced(r)) => self.raced(segs, r, on_event),
                Err(f) if f.class() == Class::Rejected => {
                    return self.isolate(client, &parts, on_event).await;
                }
                Err(f) => return Err(f),
            }
        }
    }

    fn raced(&mut self, segs: &[&Segment], raced: Vec<(String, u64)>, on_event: OnEvent<'_>) {
        for (id, seq) in raced {
            self.cursors.remove(&id);
            if let Some(seg) = segs.iter().find(|s| s.session.id == id) {
                self.conflict(
                    seg,
                    "another shipper's copy in the database".into(),
                    seq,
                    "a record differs".into(),
                    on_event,
                );
            }
        }
    }

    fn conflict(
        &mut self,
        seg: &Segment,
        other: String,
        seq: u64,
        what: String,
        on_event: OnEvent<'_>,
    ) {
        let key = (seg.session.id.clone(), seg.session.log.clone());
        if self.blocked.insert(key) {
            self.summary.conflicts += 1;
            on_event(Event::Conflict {
                log: &seg.session.log,
                session: &seg.session.id,
                other,
                seq,
                what,
            });
        }
    }

    /// Compares a segment with what the database holds of its session and
    /// says what to ship: nothing when it is blocked or conflicts.
    async fn plan<'s>(
        &mut self,
        client: &Client,
        seg: &'s Segment,
        on_event: OnEvent<'_>,
    ) -> Attempt<Option<Part<'s>>> {
        let s = &seg.session;
        if self.blocked.contains(&(s.id.clone(), s.log.clone())) {
            return Ok(None);
        }
        let cur = self.cursors.get(&s.id).cloned().unwrap_or_default();
        let other = match self.owner.get(&s.id) {
            Some(p) if *p != s.log => p.display().to_string(),
            _ => format!(
                "the database's copy (log_name {}, host {})",
                cur.log_name, cur.host
            ),
        };
        let mut differs = Vec::new();
        if cur.exists {
            if cur.created != Some(s.created.at) {
                let what = format!(
                    "the header's created differs ({} in this log)",
                    s.created_text
                );
                self.conflict(seg, other, 0, what, on_event);
                return Ok(None);
            }
            if cur.log_name != s.log_name {
                differs.push(format!("log_name {} there", cur.log_name));
            }
            if cur.host != self.opts.host {
                differs.push(format!("host {} there", cur.host));
            }
        }
        // Records at or below the highest seq stored are compared with the
        // database's; any it lacks (a gap an earlier run left) are shipped.
        let overlap = cur
            .max_seq
            .map_or(0, |m| seg.seqs.partition_point(|&q| q <= m));
        let stored = match overlap {
            0 => HashMap::new(),
            n => {
                self.stored_crcs(client, &s.id, seg.seqs[0], seg.seqs[n - 1])
                    .await?
            }
        };
        let mut part = Part {
            seg,
            rows: Vec::new(),
            end: false,
            session_row: !cur.exists,
            already: 0,
        };
        for (i, (&seq, &crc)) in seg.seqs.iter().zip(&seg.crcs).enumerate() {
            let what = if i < overlap {
                match stored.get(&seq) {
                    // Rows shipped by schema version 1 have no CRC to compare.
                    Some(Some(c)) if *c != i64::from(crc) => Some("the record differs"),
                    Some(_) => {
                        part.already += 1;
                        None
                    }
                    None => {
                        part.rows.push(i);
                        None
                    }
                }
            } else if cur.ended.is_some() {
                Some("the database's copy ended before it")
            } else {
                part.rows.push(i);
                None
            };
            if let Some(what) = what {
                self.conflict(seg, other, seq, what.into(), on_event);
                return Ok(None);
            }
        }
        if let Some(e) = &seg.end {
            match cur.ended {
                Some(t) if t != e.ts.at => {
                    let what = format!("the end differs ({} in this log)", e.text);
                    self.conflict(seg, other, e.seq, what, on_event);
                    return Ok(None);
                }
                Some(_) => {}
                None => {
                    part.end = true;
                    part.session_row = true;
                }
            }
        }
        let key = (s.id.clone(), s.log.clone());
        let owner = self.owner.entry(s.id.clone()).or_insert(s.log.clone());
        let copy = *owner != s.log;
        if (copy || !differs.is_empty()) && self.told.insert(key) {
            on_event(Event::Copy {
                log: &s.log,
                session: &s.id,
                other,
                differs: (!differs.is_empty()).then(|| differs.join(", ")),
            });
        }
        Ok(Some(part))
    }

    async fn stored_crcs(
        &self,
        client: &Client,
        id: &str,
        from: u64,
        to: u64,
    ) -> Attempt<HashMap<u64, Option<i64>>> {
        let (from, to) = (from as i64, to as i64);
        let rows = timed(self.opts.timeout, "reading stored checksums", async {
            Ok(client
                .query(
                    "SELECT seq, crc FROM convlog.messages
                      WHERE session_id = $1 AND seq BETWEEN $2 AND $3",
                    &[&id, &from, &to],
                )
                .await?)
        })
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect())
    }

    async fn load_cursors(&mut self, client: &Client, segs: &[&Segment]) -> Attempt<()> {
        let mut unknown: Vec<&str> = segs
            .iter()
            .map(|s| s.session.id.as_str())
            .filter(|id| !self.cursors.contains_key(*id))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(());
        }
        let rows = timed(self.opts.timeout, "reading what is shipped", async {
            Ok(client
                .query(
                    "SELECT s.id, s.log_name, s.host, s.created, s.ended,
                            (SELECT max(m.seq) FROM convlog.messages m WHERE m.session_id = s.id)
                       FROM convlog.sessions s WHERE s.id = ANY($1::text[])",
                    &[&unknown],
                )
                .await?)
        })
        .await?;
        for id in unknown {
            self.cursors.insert(id.to_string(), Cursor::default());
        }
        for r in rows {
            let max: Option<i64> = r.get(5);
            self.cursors.insert(
                r.get(0),
                Cursor {
                    exists: true,
                    log_name: r.get(1),
                    host: r.get(2),
                    created: Some(r.get(3)),
                    ended: r.get(4),
                    max_seq: max.and_then(|m| u64::try_from(m).ok()),
                },
            );
        }
        Ok(())
    }

    /// Ships each part alone, narrowing a refused one down to the record the
    /// database refuses (the header, a message, or the end): what precedes
    /// it is shipped, the record is reported, and the rest of the session
    /// from that log is left alone for the rest of the run.
    async fn isolate(
        &mut self,
        client: &mut Client,
        parts: &[Part<'_>],
        on_event: OnEvent<'_>,
    ) -> Attempt<()> {
        for part in parts {
            let seg = part.seg;
            let mut pieces = Vec::new();
            if part.session_row && !self.cursor_exists(&seg.session.id) {
                pieces.push((Vec::new(), false, true, 0));
            }
            pieces.push((part.rows.clone(), false, false, part.already));
            if part.end {
                pieces.push((Vec::new(), true, true, 0));
            }
            for (rows, end, session_row, already) in pieces {
                let seq_of = |rows: &[usize]| match rows.first() {
                    Some(&i) => seg.seqs[i],
                    None if end => seg.end.as_ref().map_or(0, |e| e.seq),
                    None => 0,
                };
                if !self
                    .bisect(
                        client,
                        seg,
                        rows,
                        end,
                        session_row,
                        already,
                        seq_of,
                        on_event,
                    )
                    .await?
                {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Ships `rows` in the longest prefixes the database takes. False when
    /// a record was refused (and reported).
    #[allow(clippy::too_many_arguments)]
    async fn bisect(
        &mut self,
        client: &mut Client,
        seg: &Segment,
        rows: Vec<usize>,
        end: bool,
        session_row: bool,
        already: u64,
        seq_of: impl Fn(&[usize]) -> u64,
        on_event: OnEvent<'_>,
    ) -> Attempt<bool> {
        let n = rows.len();
        let (mut start, mut len) = (0, n);
        let mut already = already;
        loop {
            let part = Part {
                seg,
                rows: rows[start..start + len].to_vec(),
                end,
                session_row: session_row || !self.cursor_exists(&seg.session.id),
                already: std::mem::take(&mut already),
            };
            match self.try_parts(client, &[&part]).await {
                Ok(Outcome::Committed) => {
                    start += len;
                    if start >= n {
                        return Ok(true);
                    }
                    len = n - start;
                }
                Ok(Outcome::Raced(r)) => {
                    self.raced(&[seg], r, on_event);
                    return Ok(false);
                }
                Err(f) if f.class() != Class::Rejected => return Err(f),
                Err(f) => {
                    if len <= 1 {
                        self.summary.rejected += 1;
                        self.blocked
                            .insert((seg.session.id.clone(), seg.session.log.clone()));
                        on_event(Event::Rejected {
                            log: &seg.session.log,
                            session: &seg.session.id,
                            seq: seq_of(&rows[start..start + len]),
                            reason: f.describe(),
                        });
                        return Ok(false);
                    }
                    len /= 2;
                }
            }
        }
    }

    fn cursor_exists(&self, id: &str) -> bool {
        self.cursors.get(id).is_some_and(|c| c.exists)
    }

    /// One transaction, within the per-batch timeout: the session rows,
    /// then the messages.
    async fn try_parts(&mut self, client: &mut Client, parts: &[&Part<'_>]) -> Attempt<Outcome> {
        let limit = self.opts.timeout;
        let outcome = timed(limit, "shipping a batch", self.transaction(client, parts)).await;
        if outcome.is_err() {
            // A transaction cut off by the timeout is rolled back when its
            // connection is dropped; the cached cursors may be behind.
            self.cursors.clear();
        }
        outcome
    }
}

//! The connection and the retry logic: connecting within the connect
//! timeout, every exchange within the per-batch timeout, and faults judged
//! by kind: transient ones retried with backoff (a bounded number of times in
//! a one-pass run, for ever with `--follow`), reported once per outage.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::error::{Class, Fault, fatal, timed};
use super::read::Segment;
use super::txn::Ledger;
use super::{Event, Options, ShipError, Stop, Target, schema};

/// The database side of a run: the connection and its outages, over the
/// [`Ledger`] of what the database holds and what was shipped.
pub(crate) struct Db<'a> {
    pub target: &'a Target,
    pub opts: &'a Options,
    pub stop: &'a Stop,
    pub client: Option<Client>,
    pub outage: Option<Instant>,
    pub backoff: Duration,
    /// Failed attempts since the last success.
    pub failures: u32,
    pub ledger: Ledger<'a>,
}

impl<'a> Db<'a> {
    pub(crate) fn new(target: &'a Target, opts: &'a Options, stop: &'a Stop) -> Db<'a> {
        Db {
            target,
            opts,
            stop,
            client: None,
            outage: None,
            backoff: Duration::from_millis(100),
            failures: 0,
            ledger: Ledger::new(opts),
        }
    }

    /// One connection, checked: within the connect timeout for the whole
    /// of it (TCP, TLS, authentication), since a server that accepts TCP and
    /// never answers would otherwise hold it for ever.
    async fn open(&self) -> Result<Client, Result<Fault, ShipError>> {
        let limit = self
            .target
            .config()
            .get_connect_timeout()
            .copied()
            .unwrap_or(Duration::from_secs(10));
        let mut client = timed(limit, "connecting", async {
            Ok(self.target.connect().await?)
        })
        .await
        .map_err(Ok)?;
        let check = timed(self.opts.timeout, "checking the schema", async {
            Ok(schema::ensure(&mut client, self.opts.create_schema).await)
        });
        match check.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(ShipError::Db { source, .. }))
                if super::error::classify(&source) == Class::Transient =>
            {
                Err(Ok(Fault::Pg(source)))
            }
            Ok(Err(e)) => Err(Err(e)),
            Err(f) => Err(Ok(f)),
        }
    }

    /// Connects (retrying through outages unless this is the first
    /// connection of a one-pass run). False when stopped meanwhile.
    pub(crate) async fn connect(
        &mut self,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
        first: bool,
    ) -> Result<bool, ShipError> {
        loop {
            let fault = match self.open().await {
                Ok(c) => {
                    self.client = Some(c);
                    self.ledger.staging_ready = false;
                    return Ok(true);
                }
                Err(Err(e)) => return Err(e),
                Err(Ok(f)) => f,
            };
            if (first && !self.opts.follow) || fault.class() == Class::Fatal {
                return Err(ShipError::Connect {
                    target: self.target.describe().to_string(),
                    reason: fault.describe(),
                });
            }
            if self.wait_out(&fault, on_event).await? {
                return Ok(false);
            }
        }
    }

    /// Notes an outage (reporting it once) and sleeps the backoff. True
    /// when stopped; an error when a one-pass run has spent its attempts.
    pub(crate) async fn wait_out(
        &mut self,
        f: &Fault,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> Result<bool, ShipError> {
        self.client = None;
        // What committed before the outage is read back on reconnection.
        self.ledger.cursors.clear();
        self.failures += 1;
        if !self.opts.follow && self.failures >= self.opts.attempts.max(1) {
            return Err(ShipError::GaveUp {
                what: f.what(),
                reason: f.describe(),
                attempts: self.failures,
                summary: Box::new(self.ledger.summary.clone()),
            });
        }
        if self.outage.is_none() {
            self.outage = Some(Instant::now());
            self.backoff = Duration::from_millis(100);
            on_event(Event::Outage {
                target: self.target.describe(),
                what: f.what(),
                reason: f.describe(),
            });
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(self.opts.max_backoff);
        Ok(self.stop.sleep(wait).await)
    }

    pub(crate) fn recovered(&mut self, on_event: &mut (dyn FnMut(Event<'_>) + Send)) {
        self.failures = 0;
        if let Some(since) = self.outage.take() {
            on_event(Event::Recovered {
                target: self.target.describe(),
                after: since.elapsed(),
            });
        }
    }

    /// Ships one batch from the reader, through faults. Copies of one
    /// session in one batch (two files with one session id) go in separate
    /// rounds, one transaction each, so the second is compared with what
    /// the first shipped.
    pub(crate) async fn ship_batch(
        &mut self,
        segs: Vec<Segment>,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> Result<(), ShipError> {
        let mut rounds: Vec<Vec<&Segment>> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for s in &segs {
            let r = seen.entry(s.session.id.as_str()).or_insert(0);
            if rounds.len() <= *r {
                rounds.push(Vec::new());
            }
            rounds[*r].push(s);
            *r += 1;
        }
        for round in rounds {
            loop {
                if self.client.is_none() && !self.connect(on_event, false).await? {
                    return Ok(());
                }
                let Some(mut client) = self.client.take() else {
                    continue;
                };
                let outcome = self.ledger.ship_round(&mut client, &round, on_event).await;
                self.client = Some(client);
                match outcome {
                    Ok(()) => {
                        self.recovered(on_event);
                        break;
                    }
                    Err(f) if f.class() == Class::Fatal => return Err(fatal("ship a batch", f)),
                    Err(f) => {
                        if self.wait_out(&f, on_event).await? {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

//! Ending a session: the end record, then the export rendered beside the
//! log. Rendering reads the whole log and fsyncs, so it runs on a thread of
//! its own: neither an async worker nor the committing thread waits for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::Session;
use super::callback::when_answered;
use crate::error::{Error, Result};
use crate::fs::layout::export_path;
use crate::log::commit::{Answer, Request, lock, reply_pair};
use crate::time::{now_rfc3339, parse_ts};

/// What [`Session::end`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The end record's seq.
    pub seq: u64,
    /// The export it rendered, if [`Options::export_on_end`](super::Options::export_on_end) was set.
    pub export: Option<PathBuf>,
}

impl Session {
    /// Appends the end record and, unless turned off, renders the export
    /// beside the log. Appending afterwards is an error, from any process.
    pub async fn end(&self) -> Result<Ended> {
        self.end_at(now_rfc3339()).await
    }

    /// [`Session::end`] for a thread that may block. The export is rendered
    /// on this thread too.
    pub fn end_blocking(&self) -> Result<Ended> {
        self.end_at_blocking(now_rfc3339())
    }

    /// Like [`Session::end`], with the end time given (RFC 3339): an imported
    /// session ended when its last message was logged, not when it was imported.
    pub async fn end_at(&self, ts: impl Into<String>) -> Result<Ended> {
        let (req, export, rx) = self.end_request(ts.into())?;
        self.inner.log.submit(req);
        let seq = rx.await?;
        if let Some(out) = &export {
            let (tx, done) = tokio::sync::oneshot::channel();
            render_apart(self.path().to_path_buf(), out.clone(), move |r| {
                let _ = tx.send(r);
            });
            done.await.map_err(|_| {
                Error::Internal(format!(
                    "{}: the export thread panicked",
                    self.path().display()
                ))
            })??;
        }
        Ok(Ended { seq, export })
    }

    /// [`Session::end_at`] for a thread that may block.
    pub fn end_at_blocking(&self, ts: impl Into<String>) -> Result<Ended> {
        let (req, export, rx) = self.end_request(ts.into())?;
        let seq = self.inner.log.commit_blocking(req, rx)?;
        if let Some(out) = &export {
            render_export(self.path(), out)?;
        }
        Ok(Ended { seq, export })
    }

    #[allow(clippy::type_complexity)]
    fn end_request(&self, ts: String) -> Result<(Request, Option<PathBuf>, Answer)> {
        parse_ts(&ts)?;
        self.ready()?;
        let export = self.inner.export_on_end.then(|| export_path(self.path()));
        let (tx, rx) = reply_pair(&self.inner.log.shared.slots);
        let req = Request::End { ts, reply: tx };
        Ok((req, export, rx))
    }

    /// [`Session::end`] with a callback; see [`Session::append_with`] for
    /// what `done` must not do. Without an export it runs on the committing
    /// thread; with one, on the thread that rendered it, once it is in place.
    pub fn end_with(&self, done: impl FnOnce(Result<Ended>) + Send + 'static) {
        let (req, export, rx) = match self.end_request(now_rfc3339()) {
            Ok(queued) => queued,
            Err(e) => return done(Err(e)),
        };
        self.inner.log.submit(req);
        let log = self.path().to_path_buf();
        when_answered(rx, move |r| match (r, export) {
            (Ok(seq), Some(out)) => render_apart(log, out.clone(), move |rendered| {
                done(rendered.map(|()| Ended {
                    seq,
                    export: Some(out),
                }))
            }),
            (r, export) => done(r.map(|seq| Ended { seq, export })),
        });
    }
}

/// Renders the JSON export of an ended log, once the end record is durable.
fn render_export(log: &Path, out: &Path) -> Result<()> {
    crate::export::export_file(
        log,
        out,
        crate::export::Format::Json,
        &crate::export::ExportOptions::default(),
    )
    .map(drop)
}

/// Renders the export on a thread of its own, then calls `then` there:
/// rendering reads the whole log and fsyncs, which neither an async worker
/// nor the committing thread should wait for. Should no thread be had, it
/// renders here rather than never.
fn render_apart<F>(log: PathBuf, out: PathBuf, then: F)
where
    F: FnOnce(Result<()>) + Send + 'static,
{
    type Job<F> = Mutex<Option<(PathBuf, PathBuf, F)>>;
    fn run<F: FnOnce(Result<()>)>(job: &Job<F>) {
        if let Some((log, out, then)) = lock(job).take() {
            then(render_export(&log, &out));
        }
    }
    let job = Arc::new(Mutex::new(Some((log, out, then))));
    let theirs = Arc::clone(&job);
    let spawned = std::thread::Builder::new()
        .name("convlog-export".into())
        .spawn(move || run(&theirs));
    if spawned.is_err() {
        run(&job);
    }
}

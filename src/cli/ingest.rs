//! `convlog ingest`: JSON lines from stdin, appended with group commit.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Scope;

use clap::Args;
use convlog::{Error, Options, Result, Session};

use super::exit::{Exit, Tracker};
use super::redact::RedactArgs;

mod chunk;
mod workers;
use chunk::{Done, Note, Raw};
use workers::Workers;

/// Append JSON lines from stdin with group commit.
///
/// Each input line is an object with `role`, `content` and `source`, and
/// optionally `timestamp` (RFC 3339, kept as given), `turn`, `interrupted`,
/// `speaker`, `lang` and `meta`. A bad line is reported on stderr with its
/// line number and skipped; the exit code is then 1.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  echo '{\"role\":\"user\",\"content\":\"hi\",\"source\":\"stt\"}' | convlog ingest \"$log\" --ack --end"
)]
pub struct IngestArgs {
    /// The session log to append to.
    log: PathBuf,
    /// Print `LINE SEQ` on stdout for each record once it is durable, in input order.
    /// If stdout closes, ingest stops reading, makes every line it read durable,
    /// names the line to resend from on stderr and exits 2 (without --end).
    #[arg(long)]
    ack: bool,
    /// At end of input, end the session and render its export beside the log.
    #[arg(long)]
    end: bool,
    /// Echo each message as [USER] … / [AGENT] … on stderr.
    #[arg(long)]
    echo: bool,
    #[command(flatten)]
    redact: RedactArgs,
}

/// The future of a chunk's seqs, once it is queued.
type Commit = Pin<Box<dyn Future<Output = Result<Vec<Option<u64>>>> + Send>>;

/// A chunk of input queued as one request: its input line numbers and the
/// future of its seqs.
type Pending = (Vec<u64>, Commit);

/// Reading stdin pauses while more input lines than this are read and not
/// yet durable: 16 worker chunks, 4 plain ones. Enough to keep the
/// workers busy through a commit; more only lets the reader run ahead of
/// the commit thread, which then falls behind while the workers take both
/// cores and is left to write and sync the backlog alone at the end, with
/// every chunk in between alive in memory. Measured with redaction
/// (100,000 lines, 40-60 alternating rounds): 64 chunks in flight took
/// 76.6-78.6 ms and 124-127 ms of CPU, 16 took 70.1-72.8 ms and 115-117;
/// 8 and fewer starve the workers. Plain ingest took the same time with 4
/// chunks in flight as with 64.
const MAX_LINES_IN_FLIGHT: usize = 16 * 1024;
/// Largest chunk: lines read while more input keeps arriving go out together.
const MAX_CHUNK: usize = 4096;
/// Largest chunk for the workers: a chunk's lines and records then stay in
/// a core's cache from parse to queue. Measured (100,000 lines, 20-24
/// alternating rounds): 4096 lines took 160-165 ms of CPU, 1024 151-153,
/// 512 146-149; and the last chunk, on one worker while the other idles,
/// is shorter.
const WORKER_CHUNK: usize = 1024;
/// From this many lines, a chunk committed at a pause is shared with a
/// worker: below it, the hand-off costs more than the half it saves.
const SHARE_FROM: usize = 256;

/// `ingest` reads and acks on one thread. Whenever the next read of stdin
/// could wait (nothing buffered, nothing ready on the descriptor), what was
/// read so far is prepared and committed right here with the blocking API
/// and acked, so a lone producer waiting for each ack costs a lock, a
/// write and an fdatasync and no thread hand-off. While more input is
/// already waiting, full chunks are queued instead (committed by convlog's
/// pool while this thread reads the next), and their acks follow in input
/// order. With redaction, full chunks are prepared (parsed, redacted,
/// encoded) by the [`workers`], one per core, and queued here in order.
pub fn run(a: IngestArgs) -> Result<Exit> {
    let opts = Options::default().echo(a.echo).redact(a.redact.policy()?);
    let session = Session::open_with(&a.log, opts)?;
    // The workers are joined when this scope ends, after `st` (and with it
    // their input) is dropped.
    std::thread::scope(|scope| ingest(&a, &session, scope))
}

/// `run` once the session is open, with a scope for the workers.
fn ingest<'s>(
    a: &'s IngestArgs,
    session: &'s Session,
    scope: &'s std::thread::Scope<'s, '_>,
) -> Result<Exit> {
    let mut input = io::BufReader::with_capacity(1 << 16, io::stdin().lock());
    // Without redaction, parsing is most of the work: a second thread
    // measured the same wall time for about a fifth more CPU (100,000
    // lines), so chunks are prepared on this thread as they always were.
    // The workers start once there is a chunk worth sharing with them:
    // input that never grows one (a lone producer, a short file) costs no
    // thread.
    let mut spawn = !session.redaction().is_empty();
    let max_chunk = if spawn { WORKER_CHUNK } else { MAX_CHUNK };
    let mut st = Ingest {
        session,
        log: &a.log,
        workers: None,
        acks: Acks {
            out: io::BufWriter::new(io::stdout().lock()),
            ack: a.ack,
        },
        pending: VecDeque::new(),
        raw: Raw::default().starting(1),
        spares: Vec::new(),
        stopped: false,
        max_in_flight: MAX_LINES_IN_FLIGHT / max_chunk,
        exit: Tracker::new(),
    };
    let mut n = 0u64;
    let outcome = loop {
        if input.buffer().is_empty() && !stdin_ready() {
            st.start(scope, &mut spawn, SHARE_FROM);
            if let Err(e) = st.settle() {
                break Err(e);
            }
        }
        let read = input
            .read_until(b'\n', st.raw.buf())
            .map_err(|e| Error::io(Path::new("<stdin>"), "read", e));
        match read {
            Err(e) => break Err(Halt::Write(e)),
            Ok(0) => {
                st.start(scope, &mut spawn, SHARE_FROM);
                break st.settle();
            }
            Ok(_) => {}
        }
        n += 1;
        st.raw.line_read();
        st.start(scope, &mut spawn, max_chunk);
        if st.raw.len() >= max_chunk
            && let Err(e) = st.queue_chunk()
        {
            break Err(e);
        }
    };
    match outcome {
        Ok(()) => {}
        Err(Halt::Write(e)) => return Err(e),
        Err(Halt::Stdout(e)) => {
            // Everything read so far was queued or is about to be: make it
            // durable, then say where the input stopped, so a script can
            // resend the rest. Never exit 0 with input unread.
            let durable = st.finish_quietly();
            let end = if a.end { "; --end was not applied" } else { "" };
            match durable {
                Ok(()) => eprintln!(
                    "convlog: {}: stdout closed ({e}) while acknowledging: input lines 1-{n} are \
                     durable, nothing after line {n} was read{end}; resend from line {}",
                    a.log.display(),
                    n + 1
                ),
                Err(w) => eprintln!(
                    "convlog: {}: stdout closed ({e}) while acknowledging, and then {w}; \
                     only the lines acknowledged are known to be durable{end}",
                    a.log.display()
                ),
            }
            return Ok(Exit::Error);
        }
    }
    if a.end {
        session.end_blocking()?;
    }
    Ok(st.exit.code())
}

/// Why `ingest` stopped early: a failed write to the log, or stdout gone.
enum Halt {
    Write(Error),
    Stdout(io::Error),
}

impl From<Error> for Halt {
    fn from(e: Error) -> Halt {
        Halt::Write(e)
    }
}

struct Acks<W: Write> {
    out: io::BufWriter<W>,
    ack: bool,
}

impl<W: Write> Acks<W> {
    fn write(&mut self, lines: &[u64], seqs: &[Option<u64>]) -> std::result::Result<(), Halt> {
        if self.ack {
            for (line, seq) in lines.iter().zip(seqs) {
                if let Some(seq) = seq {
                    writeln!(self.out, "{line} {seq}").map_err(Halt::Stdout)?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::result::Result<(), Halt> {
        self.out.flush().map_err(Halt::Stdout)
    }
}

struct Ingest<'a, W: Write> {
    session: &'a Session,
    log: &'a Path,
    /// Where full chunks are prepared while this thread reads the next;
    /// `None` (no redaction, or no thread to be had): prepared here.
    workers: Option<Workers<'a>>,
    acks: Acks<W>,
    /// Chunks queued to the pool, oldest first, not yet acked (the workers
    /// hold those they have not handed back yet).
    pending: VecDeque<Pending>,
    /// The chunk being read.
    raw: Raw,
    /// Emptied chunk buffers, for the next chunks.
    spares: Vec<Raw>,
    /// A chunk failed before it was queued: nothing after it is queued.
    stopped: bool,
    /// Reading pauses while more full chunks than this are queued or with
    /// the workers, not yet acked.
    max_in_flight: usize,
    exit: Tracker,
}

impl<'a, W: Write> Ingest<'a, W> {
    /// Starts the workers (if `spawn`, which it clears) once the chunk
    /// being read holds `worth` lines.
    fn start(&mut self, scope: &'a Scope<'a, '_>, spawn: &mut bool, worth: usize) {
        if self.raw.len() >= worth && std::mem::take(spawn) {
            self.workers = Workers::spawn(scope, self.session);
        }
    }

    /// Commits what was read on this thread, acks everything in order and
    /// flushes stdout: done before any read of stdin that could wait.
    fn settle(&mut self) -> std::result::Result<(), Halt> {
        let here = self.prepare_rest()?;
        // Every chunk handed to the workers goes before this one.
        self.collect(usize::MAX)?;
        match here.and_then(|done| self.accept(done)) {
            Some((lines, records)) => {
                let seqs = self.session.append_prepared_blocking(records)?;
                // Queued before this chunk, so committed before it.
                self.ack_pending(true)?;
                self.acks.write(&lines, &seqs)?;
            }
            None => self.ack_pending(true)?,
        }
        self.stop_if_failed()?;
        self.acks.flush()
    }

    /// The chunk being read, prepared here (its front half by a worker, if
    /// it is big and there are workers), for the caller to queue after the
    /// chunks handed over before it; `None` if it is empty.
    fn prepare_rest(&mut self) -> Result<Option<Done>> {
        let mut raw = self.take_raw();
        if raw.is_empty() {
            self.spares.push(raw);
            return Ok(None);
        }
        if raw.len() >= SHARE_FROM
            && !self.stopped
            && let Some(workers) = &mut self.workers
        {
            let front = raw.split_front(raw.len() / 2, self.spares.pop().unwrap_or_default());
            workers.send(front)?;
        }
        Ok(Some(chunk::prepare(self.session, raw)))
    }

    /// The chunk read so far, leaving an empty one that starts after it.
    fn take_raw(&mut self) -> Raw {
        let next = self.raw.first_after();
        let fresh = self.spares.pop().unwrap_or_default().starting(next);
        std::mem::replace(&mut self.raw, fresh)
    }

    /// Prepares (or hands to a worker) the full chunk just read, queues
    /// whatever is prepared, in order, and acks whatever has become durable.
    fn queue_chunk(&mut self) -> std::result::Result<(), Halt> {
        let raw = self.take_raw();
        match &mut self.workers {
            Some(workers) => workers.send(raw)?,
            None => {
                let done = chunk::prepare(self.session, raw);
                self.queue(done);
            }
        }
        self.collect(0)?;
        self.ack_pending(false)?;
        self.stop_if_failed()?;
        while self.pending.len() + self.in_workers() > self.max_in_flight {
            self.ack_front(true)?;
        }
        Ok(())
    }

    /// Prints the notes on a prepared chunk's lines and takes its records
    /// to be queued next; `None` if there is nothing to queue. A chunk that
    /// failed goes into `pending` as its error, in its place, and nothing
    /// after it is queued (or noted: those lines were never taken in).
    fn accept(&mut self, done: Done) -> Option<(Vec<u64>, convlog::Prepared)> {
        if self.stopped {
            return None;
        }
        let Done {
            lines,
            notes,
            records,
            spare,
        } = done;
        self.spares.push(spare);
        for (n, note) in notes {
            let log = self.log.display();
            match note {
                Note::Blank => {
                    eprintln!("convlog: {log}: stdin line {n}: skipped: content is blank")
                }
                Note::Rejected(e) => {
                    self.exit.finding();
                    eprintln!("convlog: {log}: stdin line {n}: rejected: {e}");
                }
            }
        }
        match records {
            Ok(records) => Some((lines, records)),
            Err(e) => {
                self.stopped = true;
                self.pending
                    .push_back((lines, Box::pin(std::future::ready(Err(e)))));
                None
            }
        }
    }

    /// Queues a prepared chunk after those queued before it.
    fn queue(&mut self, done: Done) {
        if let Some((lines, records)) = self.accept(done) {
            let fut = self.session.append_prepared(records);
            self.pending.push_back((lines, Box::pin(fut)));
        }
    }

    /// Once a chunk has failed: acks what is durable before it, in order,
    /// and stops with its error.
    fn stop_if_failed(&mut self) -> std::result::Result<(), Halt> {
        if !self.stopped {
            return Ok(());
        }
        self.ack_pending(true)?;
        Err(Halt::Write(Error::Internal(
            "a chunk of ingest failed, but its error was not found".into(),
        )))
    }

    fn in_workers(&self) -> usize {
        match self.stopped {
            // What the workers still hold is never queued.
            true => 0,
            false => self.workers.as_ref().map_or(0, Workers::in_flight),
        }
    }

    /// Takes back the chunks the workers have prepared, in order, and
    /// queues them, waiting until `wait_for` chunks are in `pending` (or
    /// none is left with the workers).
    fn collect(&mut self, wait_for: usize) -> Result<()> {
        while self.in_workers() > 0 {
            let wait = self.pending.len() < wait_for;
            let Some(workers) = &mut self.workers else {
                break;
            };
            match workers.take(wait)? {
                Some(done) => self.queue(done),
                None => break,
            }
        }
        Ok(())
    }

    /// Acks queued chunks in order: all of them (`wait`), or those already durable.
    fn ack_pending(&mut self, wait: bool) -> std::result::Result<(), Halt> {
        while !self.pending.is_empty() || self.in_workers() > 0 {
            if !self.ack_front(wait)? {
                break;
            }
        }
        Ok(())
    }

    /// Acks the oldest queued chunk if it is durable (or, with `wait`, once
    /// it is). Returns whether it was.
    fn ack_front(&mut self, wait: bool) -> std::result::Result<bool, Halt> {
        self.collect(usize::from(wait))?;
        let Some((_, fut)) = self.pending.front_mut() else {
            return Ok(false);
        };
        let seqs = if wait {
            block_on(fut.as_mut())
        } else {
            match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(r) => r,
                Poll::Pending => return Ok(false),
            }
        };
        let Some((lines, _)) = self.pending.pop_front() else {
            return Ok(false);
        };
        self.acks.write(&lines, &seqs?)?;
        Ok(true)
    }

    /// After stdout closed: commit what was read and wait for what was
    /// queued, printing nothing more on stdout.
    fn finish_quietly(&mut self) -> Result<()> {
        let here = self.prepare_rest();
        let mut first = here.as_ref().err().cloned();
        first = first.or_else(|| self.collect(usize::MAX).err());
        // Nothing after a chunk that could not be taken back is queued.
        self.stopped |= first.is_some();
        let here = here.ok().flatten();
        if let Some((_, records)) = here.and_then(|done| self.accept(done))
            && let Err(e) = self.session.append_prepared_blocking(records)
        {
            first.get_or_insert(e);
        }
        while let Some((_, fut)) = self.pending.pop_front() {
            if let Err(e) = block_on(fut) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Whether stdin has input ready now (or is at end of file), so that a read
/// would not wait.
fn stdin_ready() -> bool {
    let mut fd = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid, initialised pollfd; a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n > 0 && fd.revents != 0
}

/// Runs a future to completion on this thread. The futures here are
/// completed by convlog's commit pool, which wakes this thread.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            return r;
        }
        std::thread::park();
    }
}

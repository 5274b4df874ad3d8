//! `convlog ingest`: JSON lines from stdin, appended with group commit.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use clap::Args;
use convlog::{Error, Message, Options, Result, Session};

use super::exit::{Exit, Tracker};
use super::redact::RedactArgs;

mod stage;
use stage::Stage;

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

/// How many chunks may wait for durability before reading stdin pauses.
const MAX_CHUNKS_IN_FLIGHT: usize = 64;
/// Largest chunk: lines read while more input keeps arriving go out together.
const MAX_CHUNK: usize = 4096;

/// `ingest` reads, parses and acks on one thread. Whenever the next read of
/// stdin could wait (nothing buffered, nothing ready on the descriptor),
/// what was read so far is committed right here with the blocking API and
/// acked, so a lone producer waiting for each ack costs a lock, a write and
/// an fdatasync and no thread hand-off. While more input is already
/// waiting, full chunks are queued instead (committed by convlog's pool
/// while this thread parses the next), and their acks follow in input
/// order. With redaction, a full chunk goes to the [`stage`] thread, which
/// redacts, encodes and queues it while this thread parses the next one.
pub fn run(a: IngestArgs) -> Result<Exit> {
    let opts = Options::default().echo(a.echo).redact(a.redact.policy()?);
    let session = Session::open_with(&a.log, opts)?;
    // The stage thread is joined when this scope ends, after `st` (and with
    // it the stage's input) is dropped.
    std::thread::scope(|scope| ingest(&a, &session, scope))
}

/// `run` once the session is open, with a scope for the stage thread.
fn ingest<'s>(
    a: &IngestArgs,
    session: &'s Session,
    scope: &'s std::thread::Scope<'s, '_>,
) -> Result<Exit> {
    let mut input = io::BufReader::with_capacity(1 << 16, io::stdin().lock());
    // Without redaction, parsing is most of the work: a stage measured the
    // same wall time for about a fifth more CPU (100,000 lines), so the
    // chunks are queued on this thread as they always were.
    let stage = match session.redaction().is_empty() {
        true => None,
        false => Stage::spawn(scope, session),
    };
    let mut st = Ingest {
        session,
        stage,
        acks: Acks {
            out: io::BufWriter::new(io::stdout().lock()),
            ack: a.ack,
        },
        pending: VecDeque::new(),
        lines: Vec::new(),
        msgs: Vec::new(),
    };
    let mut line = Vec::new();
    let mut n = 0u64;
    let mut exit = Tracker::new();
    let outcome = loop {
        if input.buffer().is_empty()
            && !stdin_ready()
            && let Err(e) = st.settle()
        {
            break Err(e);
        }
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(Path::new("<stdin>"), "read", e));
        match read {
            Err(e) => break Err(Halt::Write(e)),
            Ok(0) => break st.settle(),
            Ok(_) => {}
        }
        n += 1;
        match parse_line(session, &line) {
            Ok(Some(msg)) if msg.is_blank() => {
                eprintln!(
                    "convlog: {}: stdin line {n}: skipped: content is blank",
                    a.log.display()
                );
            }
            Ok(Some(msg)) => {
                st.lines.push(n);
                st.msgs.push(msg);
            }
            Ok(None) => {}
            Err(e) => {
                exit.finding();
                // The line already names the log; do not name it twice.
                let e = match e {
                    convlog::Error::Rejected { source, .. } => *source,
                    e => e,
                };
                // A parse error can quote the line's values: redacted too,
                // by the log's own policy as well as the one asked for.
                let e = e.to_string();
                let e = session.redaction().redact(&e).map_or(e, |r| r.text);
                eprintln!(
                    "convlog: {}: stdin line {n}: rejected: {e}",
                    a.log.display()
                );
            }
        }
        if st.msgs.len() >= MAX_CHUNK
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
    Ok(exit.code())
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
    /// Where full chunks go to be redacted, encoded and queued while this
    /// thread parses the next; `None` (no thread to be had): queued here.
    stage: Option<Stage<'a>>,
    acks: Acks<W>,
    /// Chunks queued to the pool, oldest first, not yet acked (the stage
    /// holds the futures of those it has not handed back yet).
    pending: VecDeque<Pending>,
    /// The chunk being read: input line numbers and messages.
    lines: Vec<u64>,
    msgs: Vec<Message>,
}

impl<W: Write> Ingest<'_, W> {
    /// Commits what was read on this thread, acks everything in order and
    /// flushes stdout: done before any read of stdin that could wait.
    fn settle(&mut self) -> std::result::Result<(), Halt> {
        // Every chunk handed to the stage is queued before this one.
        self.collect(usize::MAX)?;
        if self.stage_failed() {
            return self.fail();
        }
        if !self.msgs.is_empty() {
            let seqs = self
                .session
                .append_many_blocking(std::mem::take(&mut self.msgs))?;
            // Queued before this chunk, so committed before it.
            self.ack_pending(true)?;
            let lines = std::mem::take(&mut self.lines);
            self.acks.write(&lines, &seqs)?;
        } else {
            self.ack_pending(true)?;
        }
        self.acks.flush()
    }

    /// Queues the current chunk (through the stage, if there is one) and
    /// acks whatever has become durable.
    fn queue_chunk(&mut self) -> std::result::Result<(), Halt> {
        let (lines, msgs) = (
            std::mem::take(&mut self.lines),
            std::mem::take(&mut self.msgs),
        );
        match &mut self.stage {
            Some(stage) => stage.send(lines, msgs),
            None => {
                let fut = Box::pin(self.session.append_many(msgs));
                self.pending.push_back((lines, fut));
            }
        }
        self.ack_pending(false)?;
        if self.stage_failed() {
            return self.fail();
        }
        while self.pending.len() + self.in_stage() > MAX_CHUNKS_IN_FLIGHT {
            self.ack_front(true)?;
        }
        Ok(())
    }

    fn in_stage(&self) -> usize {
        self.stage.as_ref().map_or(0, Stage::in_flight)
    }

    fn stage_failed(&self) -> bool {
        self.stage.as_ref().is_some_and(Stage::failed)
    }

    /// A chunk failed before it was queued, so nothing more is queued: acks
    /// what is durable before it, in order, and stops with its error.
    fn fail(&mut self) -> std::result::Result<(), Halt> {
        self.ack_pending(true)?;
        Err(Halt::Write(Error::Internal(
            "a chunk of ingest failed, but its error was not found".into(),
        )))
    }

    /// Takes back from the stage the futures of the chunks it has queued,
    /// in order, waiting until `wait_for` of them are in `pending` (or none
    /// is left in the stage).
    fn collect(&mut self, wait_for: usize) -> Result<()> {
        let Some(stage) = &mut self.stage else {
            return Ok(());
        };
        while let Some(p) = stage.take(self.pending.len() < wait_for)? {
            self.pending.push_back(p);
        }
        Ok(())
    }

    /// Acks queued chunks in order: all of them (`wait`), or those already durable.
    fn ack_pending(&mut self, wait: bool) -> std::result::Result<(), Halt> {
        while !self.pending.is_empty() || self.in_stage() > 0 {
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
    /// queued, printing nothing more.
    fn finish_quietly(&mut self) -> Result<()> {
        let mut first = self.collect(usize::MAX).err();
        if !self.msgs.is_empty()
            && !self.stage_failed()
            && let Err(e) = self
                .session
                .append_many_blocking(std::mem::take(&mut self.msgs))
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

/// One input line as a checked message, `None` for an empty line. Blank
/// content passes: the caller skips it, as the original design did.
fn parse_line(session: &Session, line: &[u8]) -> Result<Option<Message>> {
    let text = line.trim_ascii();
    if text.is_empty() {
        return Ok(None);
    }
    let msg = Message::from_json(text)?;
    session.check(&msg)?;
    Ok(Some(msg))
}

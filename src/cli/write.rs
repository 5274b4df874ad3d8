//! Commands that write: `new`, `append`, `ingest`, `demo`.

use std::future::Future;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use convlog::{Error, Message, Options, Result, Role, Session};
use serde::Deserialize;

use super::{DirArg, Exit, runtime};

#[derive(Args, Debug)]
pub struct NewArgs {
    #[command(flatten)]
    dir: DirArg,
}

#[derive(Args, Debug)]
pub struct AppendArgs {
    /// The session log to append to.
    log: PathBuf,
    /// Who said it: user or agent.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// Producer name, e.g. deepgram_stt or cartesia_tts.
    #[arg(long)]
    source: String,
    /// Turn id: consecutive same-role fragments with one turn id merge on export.
    #[arg(long)]
    turn: Option<String>,
    /// Mark the message as interrupted (the agent was cut off).
    #[arg(long)]
    interrupted: bool,
    /// Speaker id, when the STT diarises.
    #[arg(long)]
    speaker: Option<String>,
    /// Language tag, e.g. hi or en-IN.
    #[arg(long)]
    lang: Option<String>,
    /// Extra data as a JSON object, e.g. '{"confidence":0.93}'.
    #[arg(long, value_parser = parse_meta)]
    meta: Option<serde_json::Value>,
    /// Store this RFC 3339 time instead of now.
    #[arg(long)]
    timestamp: Option<String>,
    /// The message text. Blank text is skipped, as the original design skipped empty transcripts.
    text: String,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// The session log to append to.
    log: PathBuf,
    /// Print `LINE SEQ` on stdout for each record once it is durable, in input order.
    #[arg(long)]
    ack: bool,
    /// At end of input, end the session and render its export beside the log.
    #[arg(long)]
    end: bool,
    /// Echo each message as [USER] … / [AGENT] … on stderr.
    #[arg(long)]
    echo: bool,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    dir: DirArg,
}

fn parse_role(s: &str) -> std::result::Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

fn parse_meta(s: &str) -> std::result::Result<serde_json::Value, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err("must be a JSON object".into())
    }
}

fn quiet() -> Options {
    Options {
        echo: false,
        ..Options::default()
    }
}

pub fn new(a: NewArgs) -> Result<Exit> {
    let s = Session::create_with(&a.dir.dir, quiet())?;
    println!("{}", s.path().display());
    Ok(Exit::Ok)
}

pub fn append(a: AppendArgs) -> Result<Exit> {
    let mut msg = Message::new(a.role, a.text, a.source).interrupted(a.interrupted);
    msg.turn = a.turn;
    msg.speaker = a.speaker;
    msg.lang = a.lang;
    msg.meta = a.meta;
    msg.timestamp = a.timestamp;
    if msg.is_blank() {
        eprintln!(
            "convlog: {}: skipped: the text is blank, nothing written",
            a.log.display()
        );
        return Ok(Exit::Ok);
    }
    let session = Session::open(&a.log)?;
    runtime()?.block_on(session.append(msg))?;
    Ok(Exit::Ok)
}

/// One input line of `ingest`.
#[derive(Deserialize)]
struct InputLine {
    role: String,
    content: String,
    source: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    turn: Option<TurnId>,
    #[serde(default)]
    interrupted: Option<bool>,
    #[serde(default)]
    speaker: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    meta: Option<serde_json::Value>,
}

/// Producers number their turns or name them; both are kept as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum TurnId {
    Text(String),
    Number(serde_json::Number),
}

fn parse_input(line: &[u8]) -> Result<Message> {
    const EXPECTED: &str = "each line must be a JSON object with role, content, source \
                            (and optionally timestamp, turn, interrupted, speaker, lang, meta)";
    if line.first() != Some(&b'{') {
        // serde would read `[1,2,3]` positionally as the struct's fields and
        // complain about "integer 1": say what the line is instead.
        return Err(Error::InvalidInput(format!(
            "not a JSON object: {EXPECTED}"
        )));
    }
    // From bytes: serde_json checks the UTF-8 of what it keeps, so the line
    // is not validated twice.
    let i: InputLine = serde_json::from_slice(line).map_err(|e| {
        // The caller names the input line; serde's own "at line 1 column N"
        // would give a second, always-1 line number.
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let reason = full.strip_suffix(&suffix).unwrap_or(&full);
        Error::InvalidInput(format!("{reason} (column {}): {EXPECTED}", e.column()))
    })?;
    let mut msg = Message::new(i.role.parse::<Role>()?, i.content, i.source)
        .interrupted(i.interrupted.unwrap_or(false));
    msg.turn = i.turn.map(|t| match t {
        TurnId::Text(s) => s,
        TurnId::Number(n) => n.to_string(),
    });
    msg.speaker = i.speaker;
    msg.lang = i.lang;
    msg.meta = i.meta;
    msg.timestamp = i.timestamp.map(input_timestamp).transpose()?;
    Ok(msg)
}

/// An input timestamp as stored: RFC 3339 as given, or a naive date-time
/// (what the original design wrote) read as local time exactly as `import`
/// reads it, so both paths store the same instant for the same text.
fn input_timestamp(ts: String) -> Result<String> {
    match convlog::import::parse_original_ts(&ts) {
        Some((_, false)) => Ok(ts),
        Some((time, true)) => Ok(time.to_rfc3339_opts(chrono::SecondsFormat::Micros, false)),
        None => Err(Error::InvalidInput(format!(
            "timestamp {ts:?} is neither RFC 3339 (2025-08-18T14:30:22.123456+05:30) \
             nor a local date-time (2025-08-18T14:30:22.123456)"
        ))),
    }
}

/// A chunk of input queued as one request: its input line numbers and the
/// future of its seqs.
type Pending = (
    Vec<u64>,
    Pin<Box<dyn Future<Output = Result<Vec<Option<u64>>>> + Send>>,
);

/// How many chunks may wait for durability before reading stdin pauses.
const MAX_CHUNKS_IN_FLIGHT: usize = 64;
/// Largest chunk: lines read while stdin keeps data buffered go out together.
const MAX_CHUNK: usize = 4096;

pub fn ingest(a: IngestArgs) -> Result<Exit> {
    let session = Session::open_with(
        &a.log,
        Options {
            echo: a.echo,
            ..Options::default()
        },
    )?;
    // The reading thread queues chunks at once (the writer batches whatever
    // is queued); this thread awaits them in input order and prints the acks.
    let (tx, rx) = mpsc::sync_channel::<Pending>(MAX_CHUNKS_IN_FLIGHT);
    let reader_session = session.clone();
    let log = a.log.clone();
    let reader = std::thread::spawn(move || read_input(&log, &reader_session, tx));

    let acked = runtime()?.block_on(print_acks(rx, a.ack));
    // On failure the reader may still be blocked on stdin; exiting ends it.
    acked?;
    let rejected = reader
        .join()
        .map_err(|_| Error::InvalidInput("the stdin reader thread panicked".into()))??;
    if a.end {
        runtime()?.block_on(session.end())?;
    }
    Ok(if rejected > 0 {
        Exit::Finding
    } else {
        Exit::Ok
    })
}

/// Awaits each chunk's durability in input order, printing `LINE SEQ` per
/// record when `ack` is set. Acks already known go out together; stdout is
/// flushed whenever the next ack would have to wait, so none is held back.
async fn print_acks(rx: mpsc::Receiver<Pending>, ack: bool) -> Result<()> {
    use std::task::{Context, Poll, Waker};
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let stdout_err = |e| Error::io(Path::new("<stdout>"), "write", e);
    loop {
        let (lines, mut fut) = match rx.try_recv() {
            Ok(item) => item,
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {
                out.flush().map_err(stdout_err)?;
                match rx.recv() {
                    Ok(item) => item,
                    Err(_) => break,
                }
            }
        };
        let seqs = match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(done) => done,
            Poll::Pending => {
                out.flush().map_err(stdout_err)?;
                fut.await
            }
        }?;
        if ack {
            for (line, seq) in lines.iter().zip(seqs) {
                if let Some(seq) = seq {
                    writeln!(out, "{line} {seq}").map_err(stdout_err)?;
                }
            }
        }
    }
    out.flush().map_err(stdout_err)
}

/// Reads stdin, queues good lines in chunks and reports each bad one.
/// Returns how many were rejected.
fn read_input(log: &Path, session: &Session, tx: mpsc::SyncSender<Pending>) -> Result<u64> {
    // Our own buffer, so we can tell when the next read would wait: that is
    // when a chunk goes out, so a slow producer's lines are never held back.
    let mut input = io::BufReader::with_capacity(1 << 16, io::stdin().lock());
    let mut line = Vec::new();
    let mut n = 0u64;
    let mut rejected = 0u64;
    let mut lines = Vec::new();
    let mut msgs = Vec::new();
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(Path::new("<stdin>"), "read", e))?;
        if read > 0 {
            n += 1;
            match parse_line(session, &line) {
                Ok(Some(msg)) if msg.is_blank() => {
                    eprintln!(
                        "convlog: {}: stdin line {n}: skipped: content is blank",
                        log.display()
                    );
                }
                Ok(Some(msg)) => {
                    lines.push(n);
                    msgs.push(msg);
                }
                Ok(None) => {}
                Err(e) => {
                    rejected += 1;
                    eprintln!("convlog: {}: stdin line {n}: rejected: {e}", log.display());
                }
            }
        }
        let at_end = read == 0;
        if !msgs.is_empty() && (at_end || input.buffer().is_empty() || msgs.len() >= MAX_CHUNK) {
            let fut = Box::pin(session.append_many(std::mem::take(&mut msgs)));
            if tx.send((std::mem::take(&mut lines), fut)).is_err() {
                // The ack side stopped (a write failed or stdout closed); it reports why.
                return Ok(rejected);
            }
        }
        if at_end {
            return Ok(rejected);
        }
    }
}

/// One input line as a checked message, `None` for an empty line. Blank
/// content passes: the caller skips it, as the original design did.
fn parse_line(session: &Session, line: &[u8]) -> Result<Option<Message>> {
    let text = line.trim_ascii();
    if text.is_empty() {
        return Ok(None);
    }
    let msg = parse_input(text)?;
    session.check(&msg)?;
    Ok(Some(msg))
}

/// The demo conversation: (role, source, turn, text, interrupted).
const DEMO: &[(Role, &str, &str, &str, bool)] = &[
    (
        Role::User,
        "deepgram_stt",
        "t1",
        "Hi! Can you help me plan a trip to Jaipur?",
        false,
    ),
    (Role::Agent, "cartesia_tts", "t1", "Of course!", false),
    (
        Role::Agent,
        "cartesia_tts",
        "t1",
        "When are you planning to travel?",
        false,
    ),
    (
        Role::User,
        "deepgram_stt",
        "t2",
        "नमस्कार, अगले महीने के पहले हफ़्ते में।",
        false,
    ),
    (Role::Agent, "cartesia_tts", "t2", "बहुत बढ़िया!", false),
    (
        Role::Agent,
        "cartesia_tts",
        "t2",
        "उस समय जयपुर का मौसम सुहावना रहता है।",
        false,
    ),
    (
        Role::Agent,
        "cartesia_tts",
        "t2",
        "क्या आप होटल की बुकिंग भी चाहेंगे?",
        false,
    ),
    (
        Role::User,
        "deepgram_stt",
        "t3",
        "Yes, something near the old city, not too expensive.",
        false,
    ),
    (
        Role::Agent,
        "cartesia_tts",
        "t3",
        "I found three options near Hawa Mahal, starting at",
        true,
    ),
    (
        Role::User,
        "deepgram_stt",
        "t4",
        "Sorry, just the cheapest one, please.",
        false,
    ),
    (
        Role::Agent,
        "cartesia_tts",
        "t4",
        "The cheapest is Pink City Haveli at ₹2,400 a night.",
        false,
    ),
    (Role::Agent, "cartesia_tts", "t4", "शुभ यात्रा! 🙏", false),
];

pub fn demo(a: DemoArgs) -> Result<Exit> {
    let session = Session::create(&a.dir.dir)?;
    let stt = session.clone();
    let tts = session.clone();
    runtime()?.block_on(async {
        for (i, &(role, source, turn, text, interrupted)) in DEMO.iter().enumerate() {
            let msg = Message::new(role, text, source)
                .turn(turn)
                .interrupted(interrupted)
                .lang(if text.is_ascii() { "en" } else { "hi" });
            match role {
                // The STT path waits for each final transcript to be durable…
                Role::User => {
                    let msg = msg
                        .meta(serde_json::json!({ "confidence": 0.9 + (i % 10) as f64 / 100.0 }));
                    stt.append(msg).await?;
                }
                // …while the TTS path logs fragments as they stream and moves on.
                Role::Agent => tts.log(msg.meta(serde_json::json!({ "latency_ms": 180 + 37 * i }))),
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        tts.flush().await?;
        if let Some(e) = session.last_error() {
            return Err(Error::InvalidInput(e));
        }
        let ended = session.end().await?;
        println!("log:    {}", session.path().display());
        if let Some(export) = ended.export {
            println!("export: {}", export.display());
        }
        Ok(Exit::Ok)
    })
}

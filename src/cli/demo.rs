//! `convlog demo`: a short bilingual session, written, ended and exported.
//!
//! It needs no runtime: the blocking API appends, flushes and ends, and
//! `log` hands fragments to the writer without waiting.

use std::time::Duration;

use clap::Args;
use convlog::{Error, Message, Options, Result, Role, Session};

use super::DirArg;
use super::exit::Exit;
use super::redact::RedactArgs;

/// Write a short bilingual demo session, end it and export it.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  convlog demo --dir conversations")]
pub struct DemoArgs {
    #[command(flatten)]
    dir: DirArg,
    /// With --redact, the caller also books: a phone number read out and a
    /// card number, which the log, the echo and the export show redacted.
    #[command(flatten)]
    redact: RedactArgs,
}

/// The booking turn `--redact` adds: personal data as a caller says it.
const BOOKING: &[(Role, &str, &str, &str, bool)] = &[
    (
        Role::User,
        "deepgram_stt",
        "t5",
        "Book it. My number is nine eight seven six five four three two one zero, \
         card 4111 1111 1111 1111, email priya.sharma@example.com.",
        false,
    ),
    (
        Role::Agent,
        "cartesia_tts",
        "t5",
        "Done! The confirmation is on its way.",
        false,
    ),
];

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

pub fn run(a: DemoArgs) -> Result<Exit> {
    let policy = a.redact.policy()?;
    let booking: &[_] = if policy.is_empty() { &[] } else { BOOKING };
    let session = Session::create_with(&a.dir.dir, Options::default().redact(policy))?;
    let stt = session.clone();
    let tts = session.clone();
    for (i, &(role, source, turn, text, interrupted)) in DEMO.iter().chain(booking).enumerate() {
        let msg = Message::new(role, text, source)
            .turn(turn)
            .interrupted(interrupted)
            .lang(if text.is_ascii() { "en" } else { "hi" });
        match role {
            // The STT path waits for each final transcript to be durable…
            Role::User => {
                let msg =
                    msg.meta(serde_json::json!({ "confidence": 0.9 + (i % 10) as f64 / 100.0 }));
                stt.append_blocking(msg)?;
            }
            // …while the TTS path logs fragments as they stream and moves on.
            Role::Agent => tts.log(msg.meta(serde_json::json!({ "latency_ms": 180 + 37 * i }))),
        }
        std::thread::sleep(Duration::from_millis(15));
    }
    tts.flush_blocking()?;
    if let Some(e) = session.last_error() {
        return Err(Error::InvalidInput(e));
    }
    let ended = session.end_blocking()?;
    println!("log:    {}", session.path().display());
    if let Some(export) = ended.export {
        println!("export: {}", export.display());
    }
    Ok(Exit::Ok)
}

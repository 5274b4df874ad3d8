//! The `convlog ingest` line parser on arbitrary bytes: it never panics,
//! and a line it accepts (and the session's check passes) is written as a
//! record every reader reads back with the same fields.
#![no_main]

use std::sync::OnceLock;

use convlog::line::{self, Kind};
use convlog::record::Record;
use convlog::{Message, Options, Session};
use libfuzzer_sys::fuzz_target;

/// One session per process, only for its `check` (nothing is appended).
fn session() -> &'static Session {
    static S: OnceLock<Session> = OnceLock::new();
    S.get_or_init(|| {
        let dir = convlog_fuzz::scratch_dir();
        Session::create_with(&dir, Options::default().echo(false).export_on_end(false))
            .expect("create the session")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::from_json(data) else {
        return;
    };
    if session().check(&msg).is_err() || msg.is_blank() {
        return;
    }
    let ts = msg
        .timestamp
        .clone()
        .unwrap_or_else(|| "2025-08-18T14:30:22.123456+05:30".to_string());
    let fields = line::message_fields(&msg, &ts);
    let mut l = Vec::new();
    line::frame(Kind::Message, 1, &fields, &mut l);
    let back = match line::decode(&l[..l.len() - 1]) {
        Ok(Record::Message(m)) => m.to_message().expect("meta reads back"),
        other => panic!("an accepted ingest line is written as a line readers refuse: {other:?}"),
    };
    assert_eq!(
        (back.role, &back.content, &back.source, &back.turn),
        (msg.role, &msg.content, &msg.source, &msg.turn)
    );
    assert_eq!(
        (
            back.interrupted,
            &back.speaker,
            &back.lang,
            back.timestamp.as_deref()
        ),
        (msg.interrupted, &msg.speaker, &msg.lang, Some(ts.as_str()))
    );
    // meta is stored normalised: encoding it again is a fixed point.
    assert_eq!(line::message_fields(&back, &ts), fields);
});

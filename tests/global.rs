//! The process-wide default session (its own test binary: the default is per process).

use convlog::{Message, Session, global};

// The fixtures of tests/it; this binary uses only a few of them (and none
// of the ones util re-exports).
#[allow(dead_code, unused_imports)]
#[path = "it/util.rs"]
mod util;

#[tokio::test]
async fn default_session_errors_before_init_then_logs_from_anywhere() {
    let err = global::log(Message::user("too early", "stt")).unwrap_err();
    assert!(err.to_string().contains("global::init"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), util::quiet()).unwrap();
    global::init(s.clone()).unwrap();
    assert!(global::init(s.clone()).is_err(), "a second init is refused");

    global::log(Message::user("from a plugin", "deepgram_stt")).unwrap();
    let seq = global::append(Message::agent("from another", "cartesia_tts"))
        .await
        .unwrap();
    assert_eq!(seq, Some(2));
    assert_eq!(convlog::read::inspect(s.path()).unwrap().messages, 2);
}

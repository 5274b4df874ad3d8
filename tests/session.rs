//! The library's writer and reader, end to end.

use convlog::reader::{Recovery, inspect, scan_file};
use convlog::record::Record;
use convlog::{Error, Message, Options, Session};

fn quiet() -> Options {
    Options {
        echo: false,
        ..Options::default()
    }
}

#[tokio::test]
async fn append_end_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path().join("conversations"), quiet()).unwrap();
    let name = s.path().file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("conversation_") && name.ends_with(".jsonl"),
        "{name}"
    );
    assert_eq!(
        s.append(Message::user("नमस्कार, आप कैसे हैं?", "deepgram_stt"))
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        s.append(Message::user("   ", "deepgram_stt"))
            .await
            .unwrap(),
        None
    );
    let a = s.append(Message::agent("नमस्ते!", "cartesia_tts").turn("t1"));
    let b = s.append(Message::agent("मैं ठीक हूँ।", "cartesia_tts").turn("t1"));
    assert_eq!((a.await.unwrap(), b.await.unwrap()), (Some(2), Some(3)));
    let ended = s.end().await.unwrap();
    assert_eq!(ended.seq, 4);
    let err = s
        .append(Message::user("late", "deepgram_stt"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Ended { .. }), "{err}");

    let export = std::fs::read_to_string(ended.export.unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&export).unwrap();
    let conv = v["conversation"].as_array().unwrap();
    assert_eq!(conv.len(), 2);
    assert_eq!(conv[1]["content"], "नमस्ते! मैं ठीक हूँ।");
    assert_eq!(conv[0]["source"], "deepgram_stt");
    assert!(!export.ends_with('\n'));

    let report = inspect(s.path()).unwrap();
    assert!(report.is_intact() && report.ended);
    assert_eq!(report.messages, 3);
}

#[tokio::test]
async fn concurrent_appends_get_distinct_increasing_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..50 {
                let seq = s
                    .append(Message::user(format!("task {t} msg {i}"), "stt"))
                    .await
                    .unwrap()
                    .unwrap();
                seqs.push(seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=800).collect::<Vec<_>>());
    let mut seen = Vec::new();
    scan_file(s.path(), Recovery::Absolute, |r| {
        if let Record::Message(m) = r {
            seen.push(m.seq);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (1..=800).collect::<Vec<_>>());
}

#[tokio::test]
async fn same_second_sessions_get_distinct_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = std::collections::HashSet::new();
    for _ in 0..100 {
        let s = Session::create_with(dir.path(), quiet()).unwrap();
        assert!(paths.insert(s.path().to_path_buf()));
    }
    assert_eq!(paths.len(), 100);
}

//! One test per kind of damage the reader classifies, and what each recovery
//! mode makes of it.

use std::path::Path;

use convlog::Error;
use convlog::line::{self as codec, Kind};
use convlog::read::{DamageKind, Recovery, Report, scan};
use convlog::record::{Header, Message, Record};

const TS: &str = "2025-08-18T14:30:22.123456+05:30";

fn header() -> Vec<u8> {
    let mut out = Vec::new();
    let h = Header {
        version: 1,
        session: "reader-test".into(),
        created: TS.into(),
        redact: None,
    };
    codec::frame(Kind::Header, 0, &codec::header_fields(&h), &mut out);
    out
}

fn msg(seq: u64, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    codec::frame(
        Kind::Message,
        seq,
        &codec::message_fields(&Message::user(text, "stt"), TS),
        &mut out,
    );
    out
}

fn end(seq: u64) -> Vec<u8> {
    let mut out = Vec::new();
    codec::frame(Kind::End, seq, &codec::end_fields(TS), &mut out);
    out
}

fn log(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// Scans with `mode`, returning the delivered contents and the report (or the error).
fn read(bytes: &[u8], mode: Recovery) -> (Vec<String>, Result<Report, Error>) {
    let mut seen = Vec::new();
    let r = scan(Path::new("test.jsonl"), bytes, mode, |rec| {
        if let Record::Message(m) = rec {
            seen.push(m.content.to_string());
        }
        Ok(())
    });
    (seen, r)
}

fn kinds(r: &Report) -> Vec<DamageKind> {
    r.damage.iter().map(|d| d.kind.clone()).collect()
}

fn flip(mut bytes: Vec<u8>, at: usize) -> Vec<u8> {
    bytes[at] ^= 0x04;
    bytes
}

#[test]
fn intact_log_reads_in_every_mode() {
    let bytes = log(&[header(), msg(1, "a"), msg(2, "b"), end(3)]);
    for mode in [
        Recovery::TolerateTail,
        Recovery::Absolute,
        Recovery::PointInTime,
        Recovery::SkipCorrupt,
    ] {
        let (seen, r) = read(&bytes, mode);
        let r = r.unwrap();
        assert_eq!(seen, ["a", "b"]);
        assert!(r.is_intact() && r.ended);
        assert_eq!((r.first_seq, r.last_seq), (Some(1), Some(3)));
        assert_eq!(r.valid_len, bytes.len() as u64);
    }
}

#[test]
fn incomplete_last_line_is_a_torn_tail() {
    let full = log(&[header(), msg(1, "a"), msg(2, "b")]);
    let cut = &full[..full.len() - 5];
    let (seen, r) = read(cut, Recovery::TolerateTail);
    let r = r.unwrap();
    assert_eq!(seen, ["a"]);
    assert_eq!(kinds(&r), [DamageKind::TornTail]);
    assert_eq!(
        r.torn_bytes(),
        Some((cut.len() - header().len() - msg(1, "a").len()) as u64)
    );
    assert!(r.damage[0].reason.contains("incomplete"));
    let (_, strict) = read(cut, Recovery::Absolute);
    assert!(matches!(strict, Err(Error::Damaged { line: 3, .. })));
}

#[test]
fn bad_checksum_on_the_last_line_is_a_torn_tail() {
    let good = log(&[header(), msg(1, "a")]);
    let bytes = flip(log(&[good.clone(), msg(2, "b")]), good.len() + 30);
    let (seen, r) = read(&bytes, Recovery::TolerateTail);
    assert_eq!(seen, ["a"]);
    assert_eq!(kinds(&r.unwrap()), [DamageKind::TornTail]);
}

#[test]
fn bad_line_followed_by_valid_ones_is_corrupt() {
    let before = log(&[header(), msg(1, "a")]);
    let bytes = flip(
        log(&[before.clone(), msg(2, "b"), msg(3, "c")]),
        before.len() + 30,
    );

    let (_, r) = read(&bytes, Recovery::TolerateTail);
    match r {
        Err(Error::Damaged { line, offset, .. }) => {
            assert_eq!((line, offset), (3, before.len() as u64));
        }
        other => panic!("tolerate-tail must fail on corruption: {other:?}"),
    }
    let (seen, r) = read(&bytes, Recovery::PointInTime);
    assert_eq!(seen, ["a"]);
    assert_eq!(kinds(&r.unwrap()), [DamageKind::Corrupt]);
    let (seen, r) = read(&bytes, Recovery::SkipCorrupt);
    assert_eq!(seen, ["a", "c"]);
    let r = r.unwrap();
    assert_eq!(r.damage[0].line, 3);
    assert_eq!(r.torn_bytes(), None);
}

#[test]
fn seq_gap_without_a_bad_line_is_reported() {
    let bytes = log(&[header(), msg(1, "a"), msg(3, "c")]);
    let (seen, r) = read(&bytes, Recovery::SkipCorrupt);
    assert_eq!(
        seen,
        ["a", "c"],
        "skip-corrupt keeps the record after a gap"
    );
    assert_eq!(
        kinds(&r.unwrap()),
        [DamageKind::SeqGap {
            expected: 2,
            found: 3
        }]
    );
    let (seen, r) = read(&bytes, Recovery::PointInTime);
    assert_eq!(seen, ["a"]);
    assert!(r.is_ok());
    assert!(read(&bytes, Recovery::TolerateTail).1.is_err());
}

#[test]
fn seq_regression_is_reported_and_the_record_skipped() {
    let bytes = log(&[
        header(),
        msg(1, "a"),
        msg(2, "b"),
        msg(2, "dup"),
        msg(3, "c"),
    ]);
    let (seen, r) = read(&bytes, Recovery::SkipCorrupt);
    assert_eq!(seen, ["a", "b", "c"]);
    assert_eq!(
        kinds(&r.unwrap()),
        [DamageKind::SeqRegression {
            previous: 2,
            found: 2
        }]
    );
    assert!(read(&bytes, Recovery::TolerateTail).1.is_err());
}

#[test]
fn a_gap_after_a_corrupt_line_is_not_reported_twice() {
    let before = log(&[header(), msg(1, "a")]);
    let bytes = flip(
        log(&[before.clone(), msg(2, "b"), msg(3, "c")]),
        before.len() + 30,
    );
    let (_, r) = read(&bytes, Recovery::SkipCorrupt);
    assert_eq!(kinds(&r.unwrap()), [DamageKind::Corrupt]);
}

#[test]
fn a_missing_header_is_reported() {
    let bytes = log(&[msg(1, "a"), msg(2, "b")]);
    let (seen, r) = read(&bytes, Recovery::SkipCorrupt);
    assert_eq!(seen, ["a", "b"]);
    let r = r.unwrap();
    assert_eq!(kinds(&r), [DamageKind::MissingHeader]);
    assert_eq!(r.header, None);
    let (seen, _) = read(&bytes, Recovery::PointInTime);
    assert!(seen.is_empty());
}

#[test]
fn records_after_the_end_are_reported() {
    let bytes = log(&[header(), msg(1, "a"), end(2), msg(3, "late")]);
    let (seen, r) = read(&bytes, Recovery::SkipCorrupt);
    assert_eq!(seen, ["a"]);
    assert_eq!(kinds(&r.unwrap()), [DamageKind::AfterEnd]);
}

#[test]
fn a_second_header_is_corrupt() {
    let bytes = log(&[header(), msg(1, "a"), header(), msg(2, "b")]);
    let (seen, r) = read(&bytes, Recovery::SkipCorrupt);
    assert_eq!(seen, ["a", "b"]);
    assert_eq!(kinds(&r.unwrap()), [DamageKind::Corrupt]);
}

#[test]
fn an_unknown_version_is_refused_not_repaired() {
    let text = String::from_utf8(header()).unwrap();
    let body = text[18..text.len() - 1].replace("\"version\":1", "\"version\":3");
    let line = format!(
        "{{\"crc\":\"{:08x}\",{body}\n",
        crc32fast::hash(body.as_bytes())
    );
    let (_, r) = read(line.as_bytes(), Recovery::SkipCorrupt);
    match r {
        Err(Error::NotALog { reason, .. }) => assert!(reason.contains("version 3"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_and_foreign_files_are_not_logs() {
    for bytes in [&b""[..], b"hello\nworld\n", b"{\"role\":\"user\"}\n"] {
        let (_, r) = read(bytes, Recovery::SkipCorrupt);
        assert!(matches!(r, Err(Error::NotALog { .. })), "{r:?}");
    }
}

#[test]
fn a_line_over_the_cap_is_reported_without_buffering_it() {
    let mut bytes = log(&[header(), msg(1, "a")]);
    let huge_at = bytes.len();
    bytes.extend(std::iter::repeat_n(b'x', codec::MAX_LINE_BYTES + 10));
    bytes.push(b'\n');
    bytes.extend(msg(3, "c"));
    let (seen, r) = read(&bytes, Recovery::SkipCorrupt);
    assert_eq!(seen, ["a", "c"]);
    let r = r.unwrap();
    assert_eq!(r.damage[0].offset, huge_at as u64);
    assert!(r.damage[0].reason.contains("longer than"));
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    let body = r#""kind":"message","seq":1,"ts":"2025-08-18T14:30:22.123456+05:30","role":"user","content":"a","source":"s","future_field":{"x":1}}"#;
    let line = format!(
        "{{\"crc\":\"{:08x}\",{body}\n",
        crc32fast::hash(body.as_bytes())
    );
    let bytes = log(&[header(), line.into_bytes()]);
    let (seen, r) = read(&bytes, Recovery::Absolute);
    assert_eq!(seen, ["a"]);
    assert!(r.unwrap().is_intact());
}

/// FORMAT.md's one rule for a lone surrogate escape: the same verdict in
/// `content` (which serde_json decodes) and in a `meta` value or key (which
/// the decoder keeps as raw JSON), from the reader and from `convlog verify`.
#[test]
fn a_lone_surrogate_escape_is_damage_in_meta_as_in_content() {
    let tmp = tempfile::tempdir().unwrap();
    let fields = |extra: &str, content: &str| {
        format!(r#""ts":"{TS}","role":"user","content":"{content}","source":"stt"{extra}}}"#)
    };
    for (name, body) in [
        ("content", fields("", r"a\ud800b")),
        ("meta-value", fields(r#","meta":{"k":"a\ud800b"}"#, "ab")),
        ("meta-key", fields(r#","meta":{"\udc00":1}"#, "ab")),
        (
            "pair",
            fields(r#","meta":{"k":"\ud83d\ude80"}"#, r"\ud83d\ude80"),
        ),
    ] {
        let mut bad = Vec::new();
        codec::frame(Kind::Message, 2, body.as_bytes(), &mut bad);
        let bytes = log(&[header(), msg(1, "before"), bad, msg(3, "after"), end(4)]);
        let (seen, r) = read(&bytes, Recovery::SkipCorrupt);
        let r = r.unwrap();
        let path = tmp.path().join(format!("{name}.jsonl"));
        std::fs::write(&path, &bytes).unwrap();
        let verify = crate::util::convlog()
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&verify.stdout);
        if name == "pair" {
            assert!(r.is_intact(), "{name}: {:?}", r.damage);
            assert_eq!(seen, ["before", "🚀", "after"]);
            assert_eq!(verify.status.code(), Some(0), "{name}: {said}");
            continue;
        }
        assert_eq!(seen, ["before", "after"], "{name}");
        assert_eq!(kinds(&r), [DamageKind::Corrupt], "{name}");
        assert_eq!(r.damage[0].line, 3);
        assert!(r.damage[0].reason.contains("surrogate"), "{name}: {r:?}");
        assert_eq!(verify.status.code(), Some(1), "{name}: {said}");
        assert!(said.contains("line 3"), "{name}: {said}");
    }
}

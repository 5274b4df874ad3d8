//! Damage at the byte level: a torn tail at every byte offset of the
//! last records, every single-bit flip of three whole lines, and the loss of
//! everything the page cache held after the last fdatasync.
//!
//! Each test writes a real log through [`Session`], then damages copies of
//! its bytes and checks what the reader, export, repair and a reopened
//! session make of them.

use crate::util::{broken_files, quiet, reopen_and_append};

use std::path::Path;

use convlog::export::ExportOptions;
use convlog::read::{Recovery, Report, inspect, scan_file};
use convlog::record::Record;
use convlog::repair::{Repair, repair};
use convlog::{DamageKind, Error, Message, Role, Session};

/// Hindi (and a little English) with quotes, a backslash, a raw newline and
/// `ऊ` (U+090A, bytes E0 A4 8A: flipping bit 7 of 0x8A gives a newline, so a
/// single flip can split a line in two).
const TEXTS: &[&str] = &[
    "नमस्कार, आप कैसे हैं?",
    "मैं ठीक हूँ, धन्यवाद। आप बताइए, आज मौसम कैसा है?",
    "ऊर्जा बचाने के लिए \"बत्ती\" बंद करें\nऔर पंखा भी — C:\\घर",
    "आज बारिश होगी, छाता साथ रखिए। ऊपर वाले कमरे की खिड़की बंद है?",
    "जी हाँ, सब बंद है। Thank you!",
    "ठीक है, कल सुबह नौ बजे मिलते हैं। ऊनी कपड़े पहनकर आइए।",
];

/// A log written through `Session`, with where each line starts and ends.
struct Built {
    bytes: Vec<u8>,
    /// `(start, end)` of each line, end exclusive (after the newline). Line
    /// `i` (0-based) holds seq `i`: the header is seq 0.
    lines: Vec<(usize, usize)>,
    /// `(role, content)` of message seq `i + 1`.
    messages: Vec<(Role, String)>,
}

impl Built {
    /// Messages whose seq is below `seq`.
    fn messages_before(&self, seq: usize) -> Vec<(Role, String)> {
        self.messages[..seq.saturating_sub(1).min(self.messages.len())].to_vec()
    }

    /// Which line (0-based) holds byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.lines
            .iter()
            .position(|&(s, e)| s <= offset && offset < e)
            .expect("offset inside the log")
    }
}

fn line_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            spans.push((start, i + 1));
            start = i + 1;
        }
    }
    assert_eq!(start, bytes.len(), "a closed log ends with a newline");
    spans
}

async fn build_log(dir: &Path, count: usize, end: bool) -> Built {
    let s = Session::create_with(dir, quiet()).unwrap();
    let mut messages = Vec::new();
    for i in 0..count {
        let role = if i % 2 == 0 { Role::User } else { Role::Agent };
        let content = format!("{} ({})", TEXTS[i % TEXTS.len()], i + 1);
        let seq = s
            .append(Message::new(role, content.clone(), "corruption_test"))
            .await
            .unwrap();
        assert_eq!(seq, Some(i as u64 + 1));
        messages.push((role, content));
    }
    if end {
        assert_eq!(s.end().await.unwrap().seq, count as u64 + 1);
    }
    let path = s.path().to_path_buf();
    drop(s);
    let bytes = std::fs::read(&path).unwrap();
    let lines = line_spans(&bytes);
    assert_eq!(lines.len(), count + 1 + usize::from(end));
    Built {
        bytes,
        lines,
        messages,
    }
}

/// Messages as `(seq, role, content)`.
type Msgs = Vec<(u64, Role, String)>;

/// Every message record `scan_file` delivers under `mode`, as `(seq, role, content)`.
fn read_messages(path: &Path, mode: Recovery) -> convlog::Result<(Msgs, Report)> {
    let mut out = Vec::new();
    let report = scan_file(path, mode, |r| {
        if let Record::Message(m) = r {
            out.push((m.seq, m.role, m.content.to_string()));
        }
        Ok(())
    })?;
    Ok((out, report))
}

fn numbered(msgs: &[(Role, String)], first_seq: u64) -> Msgs {
    msgs.iter()
        .enumerate()
        .map(|(i, (r, c))| (first_seq + i as u64, *r, c.clone()))
        .collect()
}

/// The documented export, parsed, as `(role, content)`.
fn export_messages(path: &Path) -> convlog::Result<Vec<(Role, String)>> {
    let mut out = Vec::new();
    convlog::export::render(
        path,
        convlog::Format::Json,
        &mut out,
        std::path::Path::new("<stdout>"),
        &ExportOptions::default(),
    )?;
    let v: serde_json::Value = serde_json::from_slice(&out).expect("export is JSON");
    Ok(v["conversation"]
        .as_array()
        .expect("conversation array")
        .iter()
        .map(|m| {
            let role = m["role"].as_str().unwrap().parse::<Role>().unwrap();
            (role, m["content"].as_str().unwrap().to_string())
        })
        .collect())
}

#[tokio::test]
async fn torn_tail_at_every_byte_offset_of_the_last_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = build_log(&dir.path().join("src"), 5, true).await;
    let n = log.lines.len();
    // The last message (Hindi) and the end record after it.
    let (first, _) = log.lines[n - 2];
    let mut classified = 0u64;
    for cut in first + 1..log.bytes.len() {
        let line = log.line_of(cut);
        let (start, _) = log.lines[line];
        if cut == start {
            // A line boundary: that is a clean, shorter log, not a torn one.
            continue;
        }
        let torn = &log.bytes[start..cut];
        let case = dir.path().join(format!("cut{cut}"));
        std::fs::create_dir(&case).unwrap();
        let a = case.join("a.jsonl");
        let b = case.join("b.jsonl");
        std::fs::write(&a, &log.bytes[..cut]).unwrap();
        std::fs::write(&b, &log.bytes[..cut]).unwrap();
        // Line `line` holds seq `line`; everything before it survives.
        let kept = log.messages_before(line);

        let report = inspect(&a).unwrap();
        assert_eq!(report.damage.len(), 1, "cut {cut}: {:?}", report.damage);
        let d = &report.damage[0];
        assert_eq!(d.kind, DamageKind::TornTail, "cut {cut}");
        assert_eq!(
            (d.line, d.offset, d.len),
            (line as u64 + 1, start as u64, torn.len() as u64)
        );
        assert_eq!(report.mid_file_damage().count(), 0);
        assert_eq!(report.torn_bytes(), Some(torn.len() as u64));
        assert_eq!(report.valid_len, start as u64);
        assert_eq!(report.last_seq, Some(line as u64 - 1));
        assert!(!report.ended, "cut {cut}: the end record is gone");
        classified += 1;

        // The default recovery mode reads every earlier record.
        let (msgs, _) = read_messages(&a, Recovery::TolerateTail).unwrap();
        assert_eq!(msgs, numbered(&kept, 1), "cut {cut}");
        assert_eq!(export_messages(&a).unwrap(), kept, "cut {cut}");
        // Absolute refuses, naming the torn line.
        match read_messages(&a, Recovery::Absolute) {
            Err(Error::Damaged {
                line: l, offset, ..
            }) => {
                assert_eq!((l, offset), (line as u64 + 1, start as u64))
            }
            other => panic!("cut {cut}: absolute gave {other:?}"),
        }

        // Repair cuts exactly the torn bytes and keeps them.
        let (done, before) = repair(&a, None).unwrap();
        assert_eq!(before, report);
        let backup = match done {
            Repair::Truncated { bytes, backup } => {
                assert_eq!(bytes, torn.len() as u64);
                backup
            }
            other => panic!("cut {cut}: repair gave {other:?}"),
        };
        assert_eq!(backup, case.join("a.jsonl.broken"));
        assert_eq!(std::fs::read(&backup).unwrap(), torn, "cut {cut}");
        assert_eq!(std::fs::read(&a).unwrap(), &log.bytes[..start]);
        // Idempotent.
        assert_eq!(repair(&a, None).unwrap().0, Repair::Clean);
        assert_eq!(broken_files(&a), vec![backup.clone()]);
        assert_eq!(std::fs::read(&a).unwrap(), &log.bytes[..start]);
        reopen_and_append(&a, line as u64).await;

        // Without a repair, the reopened session's first append cuts it.
        reopen_and_append(&b, line as u64).await;
        assert_eq!(broken_files(&b), vec![case.join("b.jsonl.broken")]);
        assert_eq!(std::fs::read(case.join("b.jsonl.broken")).unwrap(), torn);
        let now = std::fs::read(&b).unwrap();
        assert_eq!(&now[..start], &log.bytes[..start]);
        std::fs::remove_dir_all(&case).unwrap();
    }
    let expected = (log.bytes.len() - first - 1 - 1) as u64;
    assert_eq!(classified, expected);
    println!(
        "torn-tail offsets classified: {classified} (every cut inside the last message and the end record)"
    );
}

/// Replaces `path` with `bytes`. Unlinking first matters: ext4 flushes a
/// file that is truncated and rewritten in place (`auto_da_alloc`), which
/// made thousands of small cases slow.
fn put(path: &Path, bytes: &[u8]) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{}: {e}", path.display()),
    }
    std::fs::write(path, bytes).unwrap();
}

/// What one flip did to the log, as the reader saw it.
fn flip_case(path: &Path, good: &[u8], at: usize, bit: u8) -> Report {
    let mut bad = good.to_vec();
    bad[at] ^= 1 << bit;
    put(path, &bad);
    inspect(path).unwrap_or_else(|e| panic!("byte {at} bit {bit}: {e}"))
}

/// A six-message log, open, and the bytes every flip starts from; the flip
/// tests each take one line of it and flip every bit of that line in turn.
struct Flips {
    dir: tempfile::TempDir,
    log: Built,
    all: Msgs,
    path: std::path::PathBuf,
}

async fn flips() -> Flips {
    let dir = tempfile::tempdir().unwrap();
    let log = build_log(&dir.path().join("src"), 6, false).await;
    let all = numbered(&log.messages, 1);
    let path = dir.path().join("flipped.jsonl");
    Flips {
        dir,
        log,
        all,
        path,
    }
}

impl Flips {
    /// Flips every bit of line `line` (1-based) in turn, checks that each
    /// flip is found where it happened (the first damage names the line and
    /// its offset), and hands each case to `check`.
    fn each_flip_of_line(&self, line: usize, mut check: impl FnMut(usize, u8, &Report)) {
        let (start, end) = self.log.lines[line - 1];
        let mut flips = 0u64;
        for at in start..end {
            for bit in 0..8 {
                let report = flip_case(&self.path, &self.log.bytes, at, bit);
                let d = report
                    .damage
                    .first()
                    .unwrap_or_else(|| panic!("byte {at} bit {bit} undetected"));
                assert_eq!(
                    (d.line, d.offset),
                    (line as u64, start as u64),
                    "byte {at} bit {bit}"
                );
                check(at, bit, &report);
                flips += 1;
            }
        }
        assert_eq!(flips, 8 * (end - start) as u64);
        println!("line {line}: {flips} bit flips detected");
    }
}

#[tokio::test]
async fn every_bit_flip_in_the_header_line_is_detected_and_located() {
    let flips = flips().await;
    let (log, all, path) = (&flips.log, &flips.all, &flips.path);

    // Line 1, the header: with valid records after it, a flip is line-1
    // corruption (the records stay readable), never "not a log".
    let (_, e0) = log.lines[0];
    flips.each_flip_of_line(1, |at, bit, report| {
        assert!(
            report.damage.iter().all(|d| d.kind == DamageKind::Corrupt),
            "{:?}",
            report.damage
        );
        assert!(report.header.is_none());
        // The header's newline joins it with line 2, which is lost with it.
        let lost = usize::from(at == e0 - 1);
        assert_eq!(report.messages as usize, log.messages.len() - lost);
        match read_messages(path, Recovery::TolerateTail) {
            Err(Error::Damaged {
                line: 1, offset: 0, ..
            }) => {}
            other => panic!("byte {at} bit {bit}: tolerate-tail gave {other:?}"),
        }
        let (msgs, _) = read_messages(path, Recovery::SkipCorrupt).unwrap();
        assert_eq!(msgs, all[lost..].to_vec());
    });

    // A log that is nothing but a flipped header is not a log at all.
    let header_only = flips.dir.path().join("header-only.jsonl");
    let mut h = log.bytes[..e0].to_vec();
    h[20] ^= 4;
    std::fs::write(&header_only, &h).unwrap();
    assert!(matches!(inspect(&header_only), Err(Error::NotALog { .. })));
}

#[tokio::test]
async fn every_bit_flip_in_a_middle_line_is_detected_and_located() {
    let flips = flips().await;
    let (log, all, path) = (&flips.log, &flips.all, &flips.path);

    // A middle line: corrupt, named by line and offset; each mode behaves.
    let mid = log.lines.len() / 2;
    let (sm, em) = log.lines[mid];
    flips.each_flip_of_line(mid + 1, |at, bit, report| {
        assert_eq!(
            report.damage[0].kind,
            DamageKind::Corrupt,
            "byte {at} bit {bit}"
        );
        // A flip can split the line in two (a byte became a newline);
        // both halves are bad. Nothing else is reported.
        for d in &report.damage {
            assert_eq!(d.kind, DamageKind::Corrupt);
            assert!(
                d.line == mid as u64 + 1 || d.line == mid as u64 + 2,
                "{d:?}"
            );
        }
        assert!(report.header.is_some());
        match read_messages(path, Recovery::TolerateTail) {
            Err(Error::Damaged {
                line,
                offset,
                reason,
                ..
            }) => {
                assert_eq!((line, offset), (mid as u64 + 1, sm as u64));
                assert!(reason.contains("corrupt record"), "{reason}");
            }
            other => panic!("byte {at} bit {bit}: tolerate-tail gave {other:?}"),
        }
        // Point in time: exactly the records before the damage.
        let (msgs, _) = read_messages(path, Recovery::PointInTime).unwrap();
        assert_eq!(msgs, all[..mid - 1].to_vec(), "byte {at} bit {bit}");
        // Skip corrupt: every other record (a flipped newline joins the
        // next line to this one, so that record goes too).
        let (msgs, rep) = read_messages(path, Recovery::SkipCorrupt).unwrap();
        let skip = if at == em - 1 {
            mid..mid + 2
        } else {
            mid..mid + 1
        };
        let want: Vec<_> = all
            .iter()
            .filter(|(seq, _, _)| !skip.contains(&(*seq as usize)))
            .cloned()
            .collect();
        assert_eq!(msgs, want, "byte {at} bit {bit}");
        assert_eq!(rep.damage, report.damage);
    });
}

#[tokio::test]
async fn every_bit_flip_in_the_last_line_is_a_torn_tail() {
    let flips = flips().await;
    let (log, all, path) = (&flips.log, &flips.all, &flips.path);

    // The last line: nothing valid follows, so it is a torn tail by definition.
    let n = log.lines.len();
    let (sl, el) = log.lines[n - 1];
    flips.each_flip_of_line(n, |_, _, report| {
        assert!(
            report.damage.iter().all(|d| d.kind == DamageKind::TornTail),
            "{:?}",
            report.damage
        );
        assert_eq!(report.torn_bytes(), Some((el - sl) as u64));
        let (msgs, _) = read_messages(path, Recovery::TolerateTail).unwrap();
        assert_eq!(msgs, all[..all.len() - 1].to_vec());
        assert!(matches!(
            read_messages(path, Recovery::Absolute),
            Err(Error::Damaged { line, .. }) if line == n as u64
        ));
    });
}

#[tokio::test]
async fn a_repair_refuses_a_flipped_middle_line_and_leaves_the_file_alone() {
    let Flips {
        dir: _dir,
        log,
        path,
        ..
    } = flips().await;
    let mid = log.lines.len() / 2;
    let (sm, _) = log.lines[mid];

    let report = flip_case(&path, &log.bytes, sm + 30, 3);
    let before = std::fs::read(&path).unwrap();
    let (done, rep) = repair(&path, None).unwrap();
    assert_eq!(
        done,
        Repair::Refused {
            lines: vec![mid as u64 + 1]
        }
    );
    assert_eq!(rep, report);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(broken_files(&path).is_empty());
}

/// The page cache loses everything written after the last fdatasync: the
/// file is cut back to the last acknowledged boundary, or to any point in
/// the un-acknowledged suffix, or keeps its length with zeros past that
/// point. Every acknowledged record survives each case.
#[tokio::test]
async fn losing_unsynced_data_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let acked = build_log(&dir.path().join("src"), 8, false).await;
    let boundary = acked.bytes.len();

    // What was written after that but not yet synced: more complete records
    // (a whole batch) in the page cache. A copy of the log is extended by a
    // real session to get exactly the bytes a writer would have produced.
    let copy = dir.path().join("full.jsonl");
    std::fs::write(&copy, &acked.bytes).unwrap();
    let s = Session::open_with(&copy, quiet()).unwrap();
    let extra: Vec<_> = (0..6)
        .map(|i| s.append(Message::user(format!("अभी डिस्क पर नहीं {i}"), "unsynced")))
        .collect();
    for f in extra {
        f.await.unwrap();
    }
    drop(s);
    let full = std::fs::read(&copy).unwrap();
    assert!(full.len() > boundary && full.starts_with(&acked.bytes));
    let boundaries: Vec<usize> = line_spans(&full).into_iter().map(|(_, e)| e).collect();
    let want = numbered(&acked.messages, 1);

    let case = dir.path().join("case.jsonl");
    let check = |bytes: &[u8], what: &str| -> Report {
        put(&case, bytes);
        let report = inspect(&case).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            report.mid_file_damage().count(),
            0,
            "{what}: {:?}",
            report.damage
        );
        assert!(report.damage.len() <= 1, "{what}: {:?}", report.damage);
        let (msgs, _) = read_messages(&case, Recovery::TolerateTail).unwrap();
        assert!(msgs.len() >= want.len(), "{what}");
        assert_eq!(msgs[..want.len()], want[..], "{what}");
        // Seqs strictly increase (and, with no mid-file damage, without gaps).
        assert!(msgs.windows(2).all(|w| w[1].0 == w[0].0 + 1), "{what}");
        let exported = export_messages(&case).unwrap();
        assert_eq!(
            exported[..acked.messages.len()],
            acked.messages[..],
            "{what}"
        );
        report
    };

    let mut cases = 0u64;
    let mut reopened = 0u64;
    for cut in boundary..=full.len() {
        let at_line_end = boundaries.contains(&cut);
        // Truncated: the size went back too.
        let report = check(&full[..cut], &format!("truncated at {cut}"));
        assert_eq!(
            report.torn_bytes().is_some(),
            !at_line_end,
            "truncated at {cut}"
        );
        cases += 1;
        // Same size, zeros from `cut` on (data lost, size kept).
        if cut < full.len() {
            let mut z = full.clone();
            z[cut..].fill(0);
            let report = check(&z, &format!("zeroed from {cut}"));
            assert_eq!(report.damage[0].kind, DamageKind::TornTail);
            assert_eq!(
                report.valid_len as usize,
                *boundaries.iter().rfind(|&&b| b <= cut).unwrap()
            );
            cases += 1;
            // A writer reopening the log after the power cut continues
            // from the last surviving record (sampled: it fsyncs).
            if at_line_end || cut % 41 == 0 {
                let p = dir.path().join(format!("reopen{cut}.jsonl"));
                std::fs::write(&p, &z).unwrap();
                let last = report.last_seq.unwrap();
                reopen_and_append(&p, last + 1).await;
                assert_eq!(broken_files(&p).len(), 1);
                assert_eq!(
                    std::fs::read(&broken_files(&p)[0]).unwrap(),
                    &z[report.valid_len as usize..]
                );
                reopened += 1;
            }
        }
    }

    // The limit of what a checksum can know: if writeback lost an earlier
    // page of the un-acknowledged suffix but kept a later one, the hole has
    // valid records after it, which is indistinguishable from corruption.
    // It is reported as such (never silently skipped), and every
    // acknowledged record is still there for skip-corrupt and point-in-time.
    let k = boundaries.iter().position(|&b| b == boundary).unwrap();
    let (hs, he) = (boundaries[k], boundaries[k + 1]);
    let mut z = full.clone();
    z[hs..he - 1].fill(0);
    put(&case, &z);
    let report = inspect(&case).unwrap();
    assert_eq!(report.mid_file_damage().count(), 1);
    assert_eq!(
        (
            report.damage[0].offset as usize,
            report.damage[0].kind.clone()
        ),
        (hs, DamageKind::Corrupt)
    );
    assert!(
        matches!(read_messages(&case, Recovery::TolerateTail), Err(Error::Damaged { offset, .. }) if offset as usize == hs)
    );
    let (msgs, _) = read_messages(&case, Recovery::PointInTime).unwrap();
    assert_eq!(msgs, want);
    let (msgs, _) = read_messages(&case, Recovery::SkipCorrupt).unwrap();
    assert_eq!(msgs[..want.len()], want[..]);
    assert_eq!(
        msgs.len(),
        boundaries.len() - 2,
        "all but the header and the zeroed record"
    );

    println!(
        "unsynced-loss cases: {cases} (truncations and zero-filled tails), {reopened} reopened and appended to, 0 acknowledged records lost"
    );
}

//! Redaction's detectors, measured: precision and recall per kind on the
//! labelled corpus (`tests/redact/corpus.rs`), and the behaviours each
//! kind promises.

use convlog::redact::{Kind, Policy};

#[path = "../redact/corpus.rs"]
mod corpus;
#[path = "../redact/heldout.rs"]
mod heldout;
#[path = "../redact/oracle.rs"]
mod oracle;
#[path = "../redact/variants.rs"]
mod variants;

#[test]
fn corpus_precision_and_recall_meet_the_goals() {
    let corpus = corpus::corpus();
    let (scores, wrong) = corpus::score(&Policy::all(), &corpus);
    let overall = corpus::print_table(&scores, "");
    println!("overall precision {overall:.4}");
    for w in &wrong {
        println!("  {w}");
    }
    for (kind, s) in &scores {
        assert!(s.positives >= 300 && s.negatives >= 300, "{kind}: {s:?}");
        let goal = match kind {
            Kind::Card | Kind::Iban | Kind::Aadhaar | Kind::Email => 0.99,
            _ => 0.95,
        };
        assert!(
            s.recall() >= goal,
            "{kind}: recall {:.4} < {goal}",
            s.recall()
        );
    }
    assert!(overall >= 0.98, "overall precision {overall:.4} < 0.98");
}

/// The detectors' check digits against the oracle's (`tests/redact/oracle.rs`,
/// written apart from the library's): on numbers of random digits, a card,
/// an Aadhaar number or an IBAN is found exactly when the oracle says its
/// check holds.
#[test]
fn the_detectors_checksums_agree_with_the_oracle() {
    let mut rng = corpus::Rng::new(0x0AC1E);
    let found = |kind: Kind, text: &str| !Policy::of([kind]).find(text).is_empty();
    let mut passed = [0; 3];
    for i in 0..4000 {
        let card = format!("4{}", rng.digits(15));
        let ok = oracle::luhn_ok(&card);
        assert_eq!(
            found(Kind::Card, &format!("card {card} please")),
            ok,
            "{card}"
        );
        passed[0] += usize::from(ok);

        let aadhaar = format!("{}{}", 2 + rng.below(8), rng.digits(11));
        let ok = oracle::verhoeff_ok(&aadhaar);
        assert_eq!(
            found(Kind::Aadhaar, &format!("aadhaar {aadhaar}")),
            ok,
            "{aadhaar}"
        );
        passed[1] += usize::from(ok);

        let bank: String = (0..4)
            .map(|_| char::from(b'A' + rng.below(26) as u8))
            .collect();
        let bban = format!("{bank}{}", rng.digits(14));
        let iban = if i % 2 == 0 {
            oracle::iban_with_check("GB", &bban)
        } else {
            format!("GB{}{bban}", rng.digits(2))
        };
        let ok = oracle::iban_ok(&iban);
        assert_eq!(
            found(Kind::Iban, &format!("iban {iban} thanks")),
            ok,
            "{iban}"
        );
        passed[2] += usize::from(ok);
    }
    // Both answers were asked for many times, so neither side is constant.
    assert!(
        passed.iter().all(|&p| (300..3700).contains(&p)),
        "{passed:?}"
    );
}

/// The held-out set (`tests/redact/heldout.rs`): written apart from the
/// detectors and, until its first scores, never used to tune them.
#[test]
fn heldout_precision_and_recall() {
    let set = heldout::heldout();
    let (scores, wrong) = corpus::score(&Policy::all(), &set);
    println!("held-out set:");
    let overall = corpus::print_table(&scores, "");
    for (kind, s) in &scores {
        assert!(s.positives >= 300 && s.negatives >= 300, "{kind}: {s:?}");
    }
    println!("overall precision {overall:.4}");
    for w in &wrong {
        println!("  {w}");
    }
    // Its first scores (see the privacy notes) were card recall 0.92
    // (cards grouped with two spaces), phone precision 0.90 (labelled
    // consignment numbers, a failed Aadhaar number read as `91…`, dotted
    // non-addresses) and spoken_digits precision 0.91 (a count across a
    // comma). The detectors were then fixed for those classes, so this set
    // no longer measures them blind: `variants_of_the_heldout_errors_…`
    // does, on generated families of each class.
    for (kind, s) in &scores {
        if matches!(kind, Kind::Card | Kind::Email | Kind::Iban | Kind::Aadhaar) {
            assert!(s.recall() >= 0.99, "{kind}: recall {:.4}", s.recall());
        }
    }
    assert!(overall >= 0.98, "overall precision {overall:.4} < 0.98");
}

/// Pieces of text the scanners look at: digits and digit words, the
/// separators numbers are grouped with, addresses' punctuation, Devanagari
/// digits, words and dandas, and other multi-byte characters.
const PIECES: [&str; 40] = [
    "4111",
    "1",
    "98765",
    "0",
    "12",
    " ",
    "  ",
    "\t",
    "-",
    ".",
    ",",
    ":",
    "::",
    "+",
    "(",
    ")",
    "@",
    "/",
    "#",
    "four",
    "oh",
    "double",
    "triple",
    "nine",
    "at",
    "dot",
    "com",
    "DE89",
    "GB",
    "ABCPE",
    "f",
    "x",
    "९८७",
    "नौ",
    "ट्रिपल",
    "।",
    "है",
    "₹",
    "é",
    "\u{1F600}",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]
    /// Whatever the text, the scan never panics and its findings are whole
    /// characters, in order, not overlapping; the redacted text keeps every
    /// byte between them.
    #[test]
    fn redaction_never_panics_and_finds_whole_characters(
        picks in proptest::collection::vec(0..PIECES.len(), 0..60)
    ) {
        let text: String = picks.iter().map(|&i| PIECES[i]).collect();
        for policy in [Policy::all(), Policy::all().key(b"0123456789abcdef".to_vec()).unwrap()] {
            let spans = policy.find(&text);
            let mut end = 0;
            for s in &spans {
                proptest::prop_assert!(s.start >= end && s.start < s.end && s.end <= text.len());
                proptest::prop_assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
                end = s.end;
            }
            match policy.redact(&text) {
                None => proptest::prop_assert!(spans.is_empty()),
                Some(r) => {
                    proptest::prop_assert_eq!(r.audit.total() as usize, spans.len());
                    let mut at = 0;
                    for s in &spans {
                        let kept = &text[at..s.start];
                        proptest::prop_assert!(r.text.contains(kept));
                        at = s.end;
                    }
                }
            }
        }
    }
}

/// The blind checks (`tests/redact/variants.rs`): one generated family
/// per class of error the held-out set exposed, scored apart from it. Each
/// class is held to the bars the corpus test uses: precision >= 0.98 on
/// what is found; recall >= 0.99 where it plants a card or an IBAN (the
/// issue's checksummed kinds), else >= 0.95. (`prefixes` loses 2% to twelve
/// unbroken digits that are both `91` and a mobile and a valid Aadhaar
/// number: redacted either way, under the other label.)
#[test]
fn variants_of_the_heldout_errors_are_handled_as_a_class() {
    let mut failed = Vec::new();
    for class in variants::variants() {
        let (scores, wrong) = corpus::score(&Policy::all(), &class.examples);
        let (tp, fp, fn_) = scores.iter().fold((0, 0, 0), |(a, b, c), (_, s)| {
            (a + s.tp, b + s.fp, c + s.fn_)
        });
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        let recall = tp as f64 / (tp + fn_).max(1) as f64;
        println!(
            "{:<9} {:>4} texts  precision {precision:.4}  recall {recall:.4}",
            class.name,
            class.examples.len()
        );
        for w in wrong.iter().take(12) {
            println!("    {w}");
        }
        let checksummed = class.examples.iter().any(|e| {
            e.value.is_some()
                && matches!(e.set, Kind::Card | Kind::Iban | Kind::Aadhaar | Kind::Email)
        });
        let goal = if checksummed { 0.99 } else { 0.95 };
        if precision < 0.98 || recall < goal {
            failed.push(format!("{}: p {precision:.4} r {recall:.4}", class.name));
        }
    }
    assert!(failed.is_empty(), "below the bars: {failed:?}");
}

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use convlog::{Message, Session};

use crate::util::{convlog, convlog_command, quiet, run, stderr, stdout};

/// Personal data as a caller says it, and the forms it must never be
/// found in afterwards (spaced, bare digits, lowercase).
const SAID: &str = "card 4111 1111 1111 1111, call nine eight seven six five four three two \
                    one zero or +91 98765 43210, mail Priya.Sharma@example.com, aadhaar 2345 6789 0124";
const RAW: [&str; 8] = [
    "4111 1111 1111 1111",
    "4111111111111111",
    "nine eight seven six five four three two one zero",
    "98765 43210",
    "9876543210",
    "Priya.Sharma@example.com",
    "priya.sharma@example.com",
    "6789 0124",
];

/// Every byte of every file under `dir`, hidden ones included.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

fn assert_no_raw(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    for raw in RAW {
        assert!(
            !text.contains(&raw.to_lowercase()),
            "{what} holds {raw:?}: {}",
            text.chars().take(2000).collect::<String>()
        );
    }
}

#[test]
fn the_aadhaar_in_the_fixture_is_valid() {
    // The fixture's numbers must be the real thing, or the test proves little.
    let found = Policy::all().find(SAID);
    let kinds: Vec<Kind> = found.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::Card,
            Kind::Phone,
            Kind::Phone,
            Kind::Email,
            Kind::Aadhaar
        ]
    );
}

#[test]
fn a_session_redacts_before_the_disk_and_audits_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet().redact(Policy::all())).unwrap();
    s.append_blocking(Message::user(SAID, "deepgram_stt"))
        .unwrap();
    s.log(Message::agent(format!("Noted: {SAID}"), "cartesia_tts"));
    s.append_many_blocking([
        Message::user("nothing to hide here", "stt"),
        Message::user("my email is priya.sharma@example.com", "stt"),
    ])
    .unwrap();
    let log = s.path().to_path_buf();
    drop(s);
    assert_no_raw("the log", &all_bytes(dir.path()));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("card [CARD], call [PHONE] or [PHONE], mail [EMAIL], aadhaar [AADHAAR]"));
    // Per record, kind → count; none on a record with nothing redacted.
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[1]["redacted"],
        serde_json::json!({"email": 1, "phone": 2, "card": 1, "aadhaar": 1})
    );
    assert!(lines[3].get("redacted").is_none());
    assert_eq!(lines[4]["redacted"], serde_json::json!({"email": 1}));
    let stats = convlog::stats::session_stats(&log).unwrap();
    assert_eq!(
        (
            stats.redacted.get(Kind::Phone),
            stats.redacted.get(Kind::Email),
            stats.redacted.total()
        ),
        (4, 3, 11)
    );
    // Every reader takes the field: the log verifies intact.
    assert!(convlog::read::inspect(&log).unwrap().is_intact());
}

#[test]
fn keyed_tokens_name_a_value_not_its_spelling() {
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), "a deployment's secret key\n").unwrap();
    let policy = Policy::parse("card,phone")
        .unwrap()
        .key_file(key.path())
        .unwrap();
    let a = policy.redact("card 4111 1111 1111 1111").unwrap().text;
    let b = policy
        .redact("card four one one one one one one one one one one one one one one one")
        .unwrap()
        .text;
    assert!(
        a.starts_with("card [CARD:") && a.len() == "card [CARD:000000]".len(),
        "{a}"
    );
    assert_eq!(a, b);
    let other = Policy::parse("card")
        .unwrap()
        .key(b"another key, 16+ bytes".to_vec())
        .unwrap();
    assert_ne!(other.redact("card 4111 1111 1111 1111").unwrap().text, a);
    // A short key is refused, and the key never shows in Debug.
    assert!(Policy::all().key(b"short".to_vec()).is_err());
    assert!(!format!("{policy:?}").contains("secret"));
}

/// `append --role user --source stt ARGS…`: the words before a log.
fn append<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["append", "--role", "user", "--source", "stt"][..], args].concat()
}

#[test]
fn unknown_kinds_and_missing_keys_fail_up_front() {
    let e = Policy::parse("email,credit_card").unwrap_err().to_string();
    assert!(
        e.contains("\"credit_card\"") && e.contains("spoken_digits") && e.contains("all"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let log = crate::util::new_log(dir.path());
    let before = std::fs::read(&log).unwrap();
    let out = run(&append(&["--redact", "email,credit_card"]), &[&log]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("email, phone, card, iban, ssn, aadhaar, pan, upi, ip, spoken_digits")
    );
    let out = convlog()
        .args(append(&["--redact", "card", "--redact-key"]))
        .arg(dir.path().join("no-such-key"))
        .arg(&log)
        .arg("card 4111 1111 1111 1111")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-key"), "{}", stderr(&out));
    assert_no_raw("stderr", &out.stderr);
    assert_eq!(std::fs::read(&log).unwrap(), before, "nothing was written");
}

#[test]
fn the_cli_redacts_on_the_way_in_and_on_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::util::new_log(dir.path());
    let out = run(&append(&["--redact", "all"]), &[&log, Path::new(SAID)]);
    assert!(out.status.success(), "{}", stderr(&out));
    // ingest --echo prints the redacted text; a rejected line's error is redacted too.
    let input = format!(
        "{}\n{{\"role\":\"user\",\"content\":\"x\",\"source\":\"stt\",\"interrupted\":\"{}\"}}\n",
        serde_json::json!({"role": "agent", "content": SAID, "source": "tts"}),
        "4111 1111 1111 1111"
    );
    let out = convlog()
        .env("CONVLOG_LOG", "info")
        .args(["ingest", "--echo", "--redact", "all", "--end"])
        .arg(&log)
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[AGENT] card [CARD]"),
        "{}",
        stderr(&out)
    );
    assert_no_raw(
        "ingest's output",
        &[out.stdout.clone(), out.stderr.clone()].concat(),
    );
    assert_no_raw("the directory", &all_bytes(dir.path()));
    let stats = run(&["stats", "--json"], &[&log]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(v["total"]["redacted"]["card"], 2);
    assert!(stdout(&run(&["stats"], &[&log])).contains("redacted"));

    // A log written without redaction: export --redact and refresh --redact.
    let plain = tempfile::tempdir().unwrap();
    let log = crate::util::new_log(plain.path());
    run(&append(&[]), &[&log, Path::new(SAID)]);
    let exported = crate::util::export(&log, &["--redact", "card,phone,email,aadhaar"]);
    assert_no_raw("export --redact", &exported);
    assert!(String::from_utf8_lossy(&exported).contains("[CARD]"));
    let md = crate::util::export(&log, &["--format", "markdown", "--redact", "all"]);
    assert_no_raw("export --format markdown --redact", &md);
    let out = run(&["refresh", "--redact"], &[plain.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_raw(
        "refresh --redact",
        &std::fs::read(log.with_extension("json")).unwrap(),
    );
}

#[test]
fn demo_with_redact_shows_the_booking_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let out = convlog()
        .env("CONVLOG_LOG", "info")
        .args(["demo", "--redact", "all", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let console = [out.stdout.clone(), out.stderr.clone()].concat();
    assert!(
        String::from_utf8_lossy(&console)
            .contains("My number is [PHONE], card [CARD], email [EMAIL].")
    );
    assert_no_raw("demo's console", &console);
    assert_no_raw("demo's files", &all_bytes(dir.path()));
}

/// Reads `r` to its end on a thread of its own, so that a child's output
/// never blocks the child.
fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// After the kills: `verify --repair` (its output joins the console), and
/// how many messages survived and torn tails went into `.broken` files.
fn after_the_kills(log: &Path, console: &mut Vec<u8>) -> convlog::read::Report {
    let out = run(&["verify", "--repair"], &[log]);
    console.extend(out.stdout);
    console.extend(out.stderr);
    let report = convlog::read::inspect(log).unwrap();
    let torn = crate::util::broken_files(log).len();
    println!(
        "{} messages survived 6 kills; {torn} torn tail(s) cut into .broken files",
        report.messages
    );
    report
}

/// kill -9 while `ingest --redact all` writes big batches full of personal
/// data, several times over, then recover: no file under the directory (the
/// log, a `.broken` file, a temporary file, the export) and no console
/// output holds a raw value.
#[test]
fn a_crash_mid_write_leaves_no_raw_value_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::util::new_log(dir.path());
    let mut console = Vec::new();
    let filler = "and then some more words about the booking ".repeat(300);
    for cycle in 0..6u64 {
        let mut child = convlog_command()
            .env("CONVLOG_LOG", "info")
            .args(["ingest", "--ack", "--echo", "--redact", "all"])
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let filler = filler.clone();
        let feeder = std::thread::spawn(move || {
            for i in 0..100_000u64 {
                let line = serde_json::json!({
                    "role": if i % 2 == 0 { "user" } else { "agent" },
                    "content": format!("{i}: {SAID} {filler}"),
                    "source": "stt",
                });
                if writeln!(stdin, "{line}").is_err() {
                    break;
                }
            }
        });
        // Drained as it comes, so the echo never blocks the writer.
        let drain = drain(child.stderr.take().unwrap());
        // Wait for the first acknowledged record, then kill while the
        // batches behind it are being written.
        let mut acks = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        std::io::BufRead::read_line(&mut acks, &mut first).unwrap();
        assert!(!first.is_empty(), "ingest acknowledged nothing");
        console.extend(first.as_bytes());
        std::thread::sleep(Duration::from_millis(10 + 25 * cycle));
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        std::io::Read::read_to_end(&mut acks, &mut console).unwrap();
        assert!(out.stderr.is_empty());
        console.extend(drain.join().unwrap());
    }
    // Reopening cuts any torn tail into LOG.broken; verify and export read it all.
    let report = after_the_kills(&log, &mut console);
    assert!(report.messages > 0);
    let out = run(&["export", "-o", "-"], &[&log]);
    console.extend(out.stdout);
    console.extend(out.stderr);
    assert_no_raw("the console", &console);
    assert_no_raw("the directory", &all_bytes(dir.path()));
}

const CHILD_ENV: &str = "CONVLOG_REDACT_CRASH_CHILD";

/// Not a test by itself: the child of the test below. It appends messages
/// full of personal data with every kind redacted, from four tasks, each
/// batch written a byte per `write` (crash.rs's `ChunkedIo`), so that a
/// SIGKILL often tears a batch and leaves a real torn tail. Ignored, so
/// that a normal run does not count it as a passing test; the parent runs
/// it with `--ignored`.
#[test]
#[ignore = "the body of a child process, run by a_torn_write_with_redaction_leaves_no_raw_value with --ignored"]
fn redact_crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    crate::util::rt().block_on(async move {
        let mut opts = quiet().echo(true).redact(Policy::all());
        opts.io = std::sync::Arc::new(crate::crash::ChunkedIo(1));
        let s = Session::open_with(&path, opts).expect("child: open the log");
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let s = s.clone();
                tokio::spawn(async move {
                    let filler = "so that was the booking and the rest of it ".repeat(40);
                    for i in 0..20_000u64 {
                        let msg = Message::user(format!("{t}/{i}: {SAID} {filler} {SAID}"), "stt");
                        let seq = s.append(msg).await.expect("child: append").unwrap();
                        println!("ACK {seq}");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// kill -9 of a writer with redaction on, mid-batch (the batches are
/// written in pieces, so kills tear them), six times; each restart cuts the
/// torn tail into a `.broken` file. No file and no console output holds a
/// raw value.
#[test]
fn a_torn_write_with_redaction_leaves_no_raw_value() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::util::new_log(dir.path());
    let mut console = Vec::new();
    for cycle in 0..6u64 {
        let mut child = crate::util::child_test("redact::redact_crash_child")
            .env(CHILD_ENV, &log)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let drain = drain(child.stderr.take().unwrap());
        let mut acks = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ACK") {
            line.clear();
            if std::io::BufRead::read_line(&mut acks, &mut line).unwrap() == 0 {
                break;
            }
            console.extend(line.as_bytes());
        }
        std::thread::sleep(Duration::from_millis(5 + 13 * cycle));
        child.kill().unwrap();
        child.wait().unwrap();
        std::io::Read::read_to_end(&mut acks, &mut console).unwrap();
        console.extend(drain.join().unwrap());
        if let Some(bytes) = convlog::read::inspect(&log).unwrap().torn_bytes() {
            println!("cycle {cycle}: the kill tore {bytes} bytes");
        }
    }
    let report = after_the_kills(&log, &mut console);
    assert!(report.messages > 0 && report.is_intact());
    assert_no_raw("the console", &console);
    assert_no_raw("the directory", &all_bytes(dir.path()));
}

/// `convlog new --redact` with the arguments given, and the log's path.
fn new_redacting(dir: &Path, args: &[&str]) -> std::path::PathBuf {
    let out = convlog()
        .args(["new", "--dir"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    std::path::PathBuf::from(stdout(&out).trim())
}

fn header_of(log: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(log).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

fn contents(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "message")
        .map(|v| v["content"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_policy_given_to_new_is_kept_in_the_header_and_applied_by_every_later_writer() {
    let dir = tempfile::tempdir().unwrap();
    // A plain log is version 1 with no policy: what older builds write.
    let plain = crate::util::new_log(dir.path());
    let h = header_of(&plain);
    assert_eq!(h["version"], 1);
    assert!(h.get("redact").is_none(), "{h}");

    let log = new_redacting(dir.path(), &["--redact", "card,email"]);
    let h = header_of(&log);
    assert_eq!(h["version"], 2, "{h}");
    assert_eq!(
        h["redact"],
        serde_json::json!({"kinds": ["email", "card"]}),
        "{h}"
    );
    // `append` and `ingest` without --redact still redact the log's kinds.
    let out = run(
        &["append", "--role", "user", "--source", "stt"],
        &[&log, Path::new(SAID)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = convlog()
        .args(["ingest"])
        .arg(&log)
        .write_stdin(format!(
            "{}\n",
            serde_json::json!({"role": "agent", "content": SAID, "source": "tts"})
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A rejected line's error is redacted by the log's policy too.
    let out = convlog()
        .args(["ingest"])
        .arg(&log)
        .write_stdin(format!(
            "{}\n",
            serde_json::json!({"role": "card 4111 1111 1111 1111", "content": "hi", "source": "tts"})
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("rejected: invalid role \"card [CARD]\""),
        "{err}"
    );
    assert!(!err.contains("4111"), "{err}");
    // The library too: Session::open with default options.
    let s = Session::open_with(&log, quiet()).unwrap();
    s.append_blocking(Message::user(SAID, "stt")).unwrap();
    drop(s);
    // A writer that asks for more gets both: the log's kinds are a floor.
    let out = run(
        &[
            "append", "--role", "user", "--source", "stt", "--redact", "phone",
        ],
        &[&log, Path::new(SAID)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let said = contents(&log);
    assert_eq!(said.len(), 4, "{said:?}");
    for c in &said[..3] {
        assert!(c.contains("[CARD]") && c.contains("[EMAIL]"), "{c}");
        assert!(
            c.contains("98765 43210"),
            "phone is not the log's kind: {c}"
        );
        assert!(
            !c.contains("4111") && !c.to_lowercase().contains("priya"),
            "{c}"
        );
    }
    assert!(
        said[3].contains("[CARD]") && said[3].contains("[EMAIL]") && said[3].contains("[PHONE]")
    );
    let stats = run(&["stats", "--json"], &[&log]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(v["total"]["redacted"]["card"], 4, "{v}");

    // The reader, verify and export take a version 2 log like any other.
    let out = run(&["verify"], &[&log]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(String::from_utf8_lossy(&crate::util::export(&log, &[])).contains("[CARD]"));
}

/// A damaged header cannot be trusted for its policy: if its line still
/// parses, the policy in it is applied; if it names one that cannot be
/// read, a writer must bring its own, and without one nothing is written.
#[test]
fn a_damaged_header_never_lets_raw_values_in() {
    let dir = tempfile::tempdir().unwrap();
    // A log with one message in it (a header alone is no log), then the
    // header changed.
    let edit_header = |log: &Path, from: &str, to: &str, extra: &[&str]| {
        let out = run(
            &[&["append", "--role", "agent", "--source", "tts"][..], extra].concat(),
            &[log, Path::new("hello")],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read_to_string(log).unwrap();
        let (head, rest) = text.split_once('\n').unwrap();
        assert!(head.contains(from), "{head}");
        std::fs::write(log, format!("{}\n{rest}", head.replacen(from, to, 1))).unwrap();
    };
    let say = |log: &Path, extra: &[&str]| {
        run(
            &[&["append", "--role", "user", "--source", "stt"][..], extra].concat(),
            &[log, Path::new(SAID)],
        )
    };

    // Its checksum fails, but it still parses: its kinds are applied.
    let log = new_redacting(dir.path(), &["--redact", "card,email"]);
    let crc = header_of(&log)["crc"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if crc.starts_with('0') { '1' } else { '0' },
        &crc[1..]
    );
    edit_header(&log, &crc, &flipped, &[]);
    let out = say(&log, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = contents(&log);
    assert!(
        said[1].contains("[CARD]") && said[1].contains("[EMAIL]"),
        "{said:?}"
    );

    // It no longer parses: refused without a policy, nothing written.
    let log = new_redacting(dir.path(), &["--redact", "card"]);
    edit_header(&log, "\"kinds\":[", "\"kinds\":[[", &[]);
    let before = std::fs::read(&log).unwrap();
    let out = say(&log, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("header is damaged"),
        "{}",
        stderr(&out)
    );
    assert_no_raw("the error", &out.stderr);
    assert_eq!(std::fs::read(&log).unwrap(), before);
    // With one, it is written, redacted.
    let out = say(&log, &["--redact", "all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_raw("the log", &std::fs::read(&log).unwrap());

    // A keyed one also needs a key.
    let key = dir.path().join("key");
    std::fs::write(&key, "a deployment's secret key\n").unwrap();
    let log = new_redacting(
        dir.path(),
        &["--redact", "card", "--redact-key", key.to_str().unwrap()],
    );
    let keyed = ["--redact", "card", "--redact-key", key.to_str().unwrap()];
    edit_header(&log, "\"kinds\":[", "\"kinds\":[[", &keyed);
    let out = say(&log, &["--redact", "all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("keyed"), "{}", stderr(&out));

    // A plain log with a damaged header is written to as before.
    let out = convlog()
        .args(["new", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let plain = std::path::PathBuf::from(stdout(&out).trim());
    let crc = header_of(&plain)["crc"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if crc.starts_with('0') { '1' } else { '0' },
        &crc[1..]
    );
    edit_header(&plain, &crc, &flipped, &[]);
    let out = run(
        &["append", "--role", "user", "--source", "stt"],
        &[&plain, Path::new("hello")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_keyed_policy_needs_its_key_for_every_later_write() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "a deployment's secret key\n").unwrap();
    let log = new_redacting(
        dir.path(),
        &["--redact", "card", "--redact-key", key.to_str().unwrap()],
    );
    let h = header_of(&log);
    assert_eq!(
        h["redact"],
        serde_json::json!({"kinds": ["card"], "keyed": true})
    );
    assert!(!std::fs::read_to_string(&log).unwrap().contains("secret"));
    let before = std::fs::read(&log).unwrap();
    // Without the key: refused before anything is written, saying why.
    let out = run(
        &["append", "--role", "user", "--source", "stt"],
        &[&log, Path::new(SAID)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--redact-key"), "{}", stderr(&out));
    assert_no_raw("the refusal", &out.stderr);
    assert_eq!(std::fs::read(&log).unwrap(), before, "nothing was written");
    let e = Session::open_with(&log, quiet()).unwrap_err().to_string();
    assert!(e.contains("key"), "{e}");
    // With it: the same token a keyed policy gives.
    let out = convlog()
        .args([
            "append",
            "--role",
            "user",
            "--source",
            "stt",
            "--redact-key",
        ])
        .arg(&key)
        .args(["--redact", "card"])
        .arg(&log)
        .arg("card 4111 1111 1111 1111")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let want = Policy::parse("card")
        .unwrap()
        .key_file(&key)
        .unwrap()
        .redact("card 4111 1111 1111 1111")
        .unwrap()
        .text;
    assert_eq!(contents(&log), [want]);
}

#[test]
fn a_redacted_export_stays_redacted_and_refresh_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::util::new_log(dir.path());
    let say = |text: &str| {
        let out = run(
            &["append", "--role", "user", "--source", "stt"],
            &[&log, Path::new(text)],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    };
    let export = log.with_extension("json");
    let raw_in_export = || {
        let text = std::fs::read_to_string(&export).unwrap();
        text.contains("4111 1111 1111 1111") || text.contains("Priya.Sharma@example.com")
    };
    say(SAID);
    let out = run(&["refresh"], &[dir.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(raw_in_export(), "a plain refresh of a plain log");
    // The plain export is up to date, but not redacted: --redact renders it again.
    let out = run(&["refresh", "--redact"], &[dir.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("wrote") && stdout(&out).contains("redacted: email,phone,card"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("stays redacted"), "{}", stdout(&out));
    assert!(!raw_in_export());
    // Asking for less than it has is up to date.
    let out = run(&["refresh", "--redact=card"], &[dir.path()]);
    assert!(stdout(&out).contains("up to date"), "{}", stdout(&out));
    // A new record, then a plain refresh: rendered again, still redacted, and said.
    say(&format!("again: {SAID}"));
    let out = run(&["refresh"], &[dir.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("stays redacted"), "{}", stdout(&out));
    assert!(!raw_in_export());
    assert!(
        std::fs::read_to_string(&export)
            .unwrap()
            .contains("again: card [CARD]")
    );
    // The end-of-session export keeps it too.
    let s = Session::open_with(&log, quiet().export_on_end(true)).unwrap();
    s.append_blocking(Message::agent(format!("bye {SAID}"), "tts"))
        .unwrap();
    s.end_blocking().unwrap();
    assert!(
        std::fs::read_to_string(&export)
            .unwrap()
            .contains("bye card [CARD]")
    );
    assert!(!raw_in_export());
    // The explicit way back: remove the export and its stamp.
    let name = export.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::remove_file(&export).unwrap();
    std::fs::remove_file(dir.path().join(format!(".{name}.stamp"))).unwrap();
    let out = run(&["refresh"], &[dir.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(raw_in_export());
}

/// A big chunk of `append_many` is redacted and encoded in two halves on
/// two threads: each message comes out as it would alone, with its own
/// audit and seq, in its place, blank ones skipped on either side of the
/// split, and one timestamp shared by those that bring none.
#[test]
fn a_big_chunk_comes_out_as_each_message_alone() {
    let texts = [
        "card 4111 1111 1111 1111 please",
        "nothing here, just 3 items at 10:30",
        "mail priya.sharma@example.com or call +91 98765 43210",
        "the otp is four five six one two three",
    ];
    let given = "2026-12-03T10:00:00+05:30";
    let msgs: Vec<Message> = (0..1001)
        .map(|i| {
            let m = match i % 97 {
                5 => Message::user("   ", "stt"),
                _ => Message::user(format!("{i}: {}", texts[i % texts.len()]), "stt"),
            };
            if i % 3 == 0 { m.timestamp(given) } else { m }
        })
        .collect();
    let policy = Policy::all();
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet().redact(policy.clone())).unwrap();
    let seqs = s.append_many_blocking(msgs.clone()).unwrap();
    let log = s.path().to_path_buf();
    drop(s);

    assert_eq!(seqs.len(), msgs.len());
    let written: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut next = 0;
    let mut now = None;
    for (i, (m, seq)) in msgs.iter().zip(&seqs).enumerate() {
        if m.is_blank() {
            assert_eq!(*seq, None, "message {i}");
            continue;
        }
        let r = &written[next];
        next += 1;
        assert_eq!(*seq, Some(next as u64), "message {i}");
        assert_eq!(r["seq"], next as u64, "message {i}");
        let mut alone = m.clone();
        let audit = policy.apply(&mut alone);
        assert_eq!(r["content"], alone.content.as_str(), "message {i}");
        let counts: serde_json::Map<String, serde_json::Value> = audit
            .iter()
            .map(|(k, n)| (k.name().to_string(), n.into()))
            .collect();
        match counts.is_empty() {
            true => assert!(r.get("redacted").is_none(), "message {i}: {r}"),
            false => assert_eq!(
                r["redacted"],
                serde_json::Value::Object(counts),
                "message {i}"
            ),
        }
        match &m.timestamp {
            Some(ts) => assert_eq!(r["ts"], ts.as_str(), "message {i}"),
            None => assert_eq!(
                r["ts"],
                *now.get_or_insert_with(|| r["ts"].clone()),
                "message {i}"
            ),
        }
    }
    assert_eq!(next, written.len(), "no record beyond the messages");
    assert!(
        written
            .iter()
            .filter(|r| r.get("redacted").is_some())
            .count()
            >= 700
    );
}

/// One bad message fails the whole chunk and writes nothing, whichever
/// half of the split it is in; with one in each, the first in input order
/// is the one reported. Redaction comes first, so a message that only
/// outgrows the limit once redacted (a keyed token longer than the value)
/// fails too.
#[test]
fn a_bad_message_in_either_half_fails_the_chunk_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keyed = Policy::all().key(*b"0123456789abcdef0123").unwrap();
    let grows = "server 1.2.3.4 down";
    let opts = quiet().redact(keyed).max_content_bytes(grows.len());
    let s = Session::create_with(dir.path(), opts).unwrap();
    let chunk = |bad: &[(usize, Message)]| {
        let mut msgs: Vec<Message> = (0..1000)
            .map(|i| Message::user(format!("ok {i}"), "stt"))
            .collect();
        for (i, m) in bad {
            msgs[*i] = m.clone();
        }
        msgs
    };
    let bad_ts = Message::user("late", "stt").timestamp("yesterday");
    let bad_meta = Message::user("odd", "stt").meta(serde_json::json!([1]));
    let big = Message::user(grows, "stt");
    assert!(s.check(&big).is_ok(), "fits before it is redacted");
    for (bad, says) in [
        (vec![(100, bad_meta.clone()), (600, bad_ts.clone())], "meta"),
        (
            vec![(600, bad_ts.clone()), (900, bad_meta.clone())],
            "yesterday",
        ),
        (vec![(999, big.clone())], "limit"),
        (vec![(3, big.clone()), (700, bad_meta.clone())], "limit"),
    ] {
        let err = s.append_many_blocking(chunk(&bad)).unwrap_err().to_string();
        assert!(err.contains(says), "{bad:?}: {err}");
    }
    // Nothing was written, and the log still takes the next chunk.
    assert_eq!(s.append_many_blocking(chunk(&[])).unwrap()[0], Some(1));
}

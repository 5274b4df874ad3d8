//! Memory: the shipper's peak RSS does not grow with the log it ships (the
//! issue's goal is 64 MiB for any log; the bench report measures a
//! 1M-message log at the default batch size, this test a 40 MB one at a
//! small batch, where holding the log would show at once).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::harness::*;

/// VmHWM of a live process: the high-water mark of its own memory image
/// since exec (unlike wait4's `ru_maxrss`, which folds in the image exec
/// replaced, here the test binary's).
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    Some(
        kb.trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()?
            * 1024,
    )
}

#[test]
fn shipping_a_large_log_keeps_peak_memory_bounded() {
    let Some(url) = pg_url("ship_memory") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "memory"));
    let dir = tempfile::tempdir().unwrap();
    let ts = "2025-08-18T14:30:22.123456+05:30";
    let n = 160_000u64;
    let log = dir.path().join("large.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
        f.write_all(header_line("0000000000000000000000000000aaaa", ts).as_bytes())
            .unwrap();
        let words = "the quick brown fox jumps over the lazy dog ".repeat(4);
        for seq in 1..=n {
            let content = format!("\"{seq} {words}\"");
            f.write_all(message_line(seq, ts, &content, "").as_bytes())
                .unwrap();
        }
        f.flush().unwrap();
    }
    let bytes = std::fs::metadata(&log).unwrap().len();
    assert!(bytes > 40 << 20, "{bytes}");
    let mut child = Command::new(BIN)
        .args(["ship", "--quiet", "--batch", "2000", "--to", &url])
        .arg(&log)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(h) = vm_hwm(pid) {
            peak = peak.max(h);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    let rows: i64 = query(&url, "SELECT count(*) FROM convlog.messages")[0].get(0);
    assert_eq!(rows, n as i64);
    eprintln!(
        "convlog ship (debug build) over a {} MiB log, --batch 2000: peak RSS {:.1} MiB",
        bytes >> 20,
        peak as f64 / f64::from(1 << 20)
    );
    // Holding the log's rows until the scan ends (as the shipper once did)
    // needs more than the log's size.
    assert!(
        peak > 0 && peak < 32 << 20,
        "peak RSS {:.1} MiB for a {} MiB log",
        peak as f64 / f64::from(1 << 20),
        bytes >> 20
    );
}

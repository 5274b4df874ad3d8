//! Export and verify: speed against Python, peak memory.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use convlog::export::{self, ExportOptions};

use crate::harness::*;

pub(crate) const PY_EXPORT: &str = r#"
import json, sys
conv = []
last = None
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        if r.get("kind") != "message":
            continue
        key = (r["role"], r.get("turn"))
        if conv and key[1] is not None and key == last:
            conv[-1]["content"] += " " + r["content"]
            continue
        conv.append({"role": r["role"], "content": r["content"],
                     "timestamp": r["ts"][:26], "source": r["source"]})
        last = key
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump({"conversation": conv}, f, ensure_ascii=False, indent=2)
"#;

pub(crate) fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    let mut x = io::BufReader::with_capacity(1 << 20, File::open(a)?);
    let mut y = io::BufReader::with_capacity(1 << 20, File::open(b)?);
    if fs::metadata(a)?.len() != fs::metadata(b)?.len() {
        return Ok(false);
    }
    let mut bx = vec![0u8; 1 << 16];
    let mut by = vec![0u8; 1 << 16];
    loop {
        let k = x.read(&mut bx)?;
        if k == 0 {
            return Ok(true);
        }
        y.read_exact(&mut by[..k])?;
        if bx[..k] != by[..k] {
            return Ok(false);
        }
    }
}

/// Runs a child and returns (wall seconds, peak RSS bytes) from `wait4`.
pub(crate) fn run_measured(cmd: &mut Command) -> io::Result<(f64, u64, bool)> {
    let t = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills in; the pid is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = t.elapsed().as_secs_f64();
    if r != pid {
        return Err(io::Error::last_os_error());
    }
    // Reaped by wait4: `child` must not be waited on again.
    std::mem::forget(child);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((secs, usage.ru_maxrss as u64 * 1024, ok))
}

pub(crate) fn export_and_memory(cfg: &Config, rows: &mut Vec<Row>, spawner: &mut Spawner) {
    let n = cfg.size("CONVLOG_REPORT_EXPORT_N", 1_000_000, 1000);
    let dir = cfg.dir("export");
    println!("[export] generating a {n}-message log with Session::log");
    let (gen_run, log) = convlog_bulk(&dir, n, true);
    let log_len = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    println!(
        "  generated {} in {} syncs at {}",
        mib(log_len),
        gen_run.syncs,
        fmt_rate(gen_run.rate, "msg")
    );
    let py_out = dir.join("python.json");
    let conv_out = dir.join("convlog.json");

    if cfg.wants("export") {
        let t = Instant::now();
        let py = Command::new("python3")
            .args(["-c", PY_EXPORT])
            .arg(&log)
            .arg(&py_out)
            .stdin(Stdio::null())
            .status();
        let py_secs = match py {
            Ok(st) if st.success() => Some(t.elapsed().as_secs_f64()),
            _ => None,
        };
        let conv_secs = (0..cfg.reps)
            .map(|_| {
                let t = Instant::now();
                let w = BufWriter::with_capacity(1 << 16, File::create(&conv_out).expect("create"));
                export::render(
                    &log,
                    convlog::Format::Json,
                    w,
                    std::path::Path::new("<stdout>"),
                    &ExportOptions::default(),
                )
                .expect("export");
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        let scenario = format!("export of a {n}-message log (library export::render)");
        match py_secs {
            Some(py_secs) => {
                let same = same_bytes(&py_out, &conv_out).unwrap_or(false);
                println!(
                    "  python {py_secs:.2} s, convlog {conv_secs:.3} s; outputs byte-identical: {same}"
                );
                rows.push(Row {
                    scenario,
                    convlog: format!("{} ({conv_secs:.2} s)", fmt_rate(rate(n, conv_secs), "msg")),
                    baseline: format!(
                        "{} python json.loads+json.dump ({py_secs:.1} s)",
                        fmt_rate(rate(n, py_secs), "msg")
                    ),
                    value: Some(py_secs / conv_secs),
                    goal: Goal::Ratio(10.0),
                    note: (!same).then(|| "OUTPUTS DIFFER from Python's".to_string()),
                });
            }
            None => rows.push(skipped(&scenario, Goal::Ratio(10.0), "python3 failed")),
        }
        let _ = fs::remove_file(&py_out);
    }

    if cfg.wants("memory") {
        let exe = std::env::current_exe().expect("current exe");
        let exe = exe.to_string_lossy().into_owned();
        let log_s = log.to_string_lossy().into_owned();
        let out_s = conv_out.to_string_lossy().into_owned();
        let floor = spawner.measure(&["true".into()], &[]);
        let floor = floor.map_or(0, |r| r.1);
        println!(
            "  peak RSS floor (a process spawned the same way running `true`): {}",
            mib(floor)
        );
        for what in ["export", "verify"] {
            let res = spawner.measure(
                std::slice::from_ref(&exe),
                &[
                    ("CONVLOG_REPORT_CHILD".into(), what.into()),
                    ("CONVLOG_CHILD_LOG".into(), log_s.clone()),
                    ("CONVLOG_CHILD_OUT".into(), out_s.clone()),
                ],
            );
            rows.push(memory_row(
                format!(
                    "library {what} peak RSS, {n}-message log ({})",
                    mib(log_len)
                ),
                res,
            ));
        }
        match convlog_bin() {
            Some(bin) => {
                let bin = bin.to_string_lossy().into_owned();
                // `-o -` with stdout on /dev/null: `-o /dev/null` would make the
                // CLI replace /dev/null atomically (tmp + rename) when run as root.
                let res = spawner.measure(
                    &[
                        bin.clone(),
                        "export".into(),
                        log_s.clone(),
                        "-o".into(),
                        "-".into(),
                    ],
                    &[],
                );
                if let Ok((secs, _, true)) = &res {
                    println!("  convlog export (CLI, stdout to /dev/null): {secs:.2} s");
                }
                rows.push(memory_row(
                    format!("`convlog export LOG -o -` peak RSS, {n} msgs"),
                    res,
                ));
                let res = spawner.measure(&[bin, "verify".into(), log_s.clone()], &[]);
                if let Ok((secs, _, true)) = &res {
                    println!("  convlog verify (CLI): {secs:.2} s");
                }
                rows.push(memory_row(
                    format!("`convlog verify LOG` peak RSS, {n} msgs"),
                    res,
                ));
            }
            None => {
                for what in ["export", "verify"] {
                    rows.push(skipped(
                        &format!("`convlog {what}` peak RSS"),
                        Goal::MaxBytes(MEM_GOAL),
                        "CLI not built",
                    ));
                }
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Runs the peak-memory children from a small helper process started before
/// the report grew. `ru_maxrss` is not reset by exec: the kernel folds in the
/// high-water mark of the memory image exec replaces, which for a child the
/// report spawned directly (vfork) would be the report's own peak. The helper
/// stays a few MiB, and the report prints that floor beside the figures.
pub(crate) struct Spawner {
    pub(crate) child: std::process::Child,
    pub(crate) out: io::BufReader<std::process::ChildStdout>,
}

impl Spawner {
    pub(crate) fn start() -> Option<Spawner> {
        let exe = std::env::current_exe().ok()?;
        let mut child = Command::new(exe)
            .env("CONVLOG_REPORT_CHILD", "spawner")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let out = io::BufReader::new(child.stdout.take()?);
        Some(Spawner { child, out })
    }

    /// Runs `argv` with `env` (stdout to /dev/null). Returns (seconds, peak RSS bytes, success).
    pub(crate) fn measure(
        &mut self,
        argv: &[String],
        env: &[(String, String)],
    ) -> io::Result<(f64, u64, bool)> {
        use io::BufRead;
        let req = serde_json::json!({ "argv": argv, "env": env });
        let stdin = self
            .child
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("spawner has no stdin"))?;
        writeln!(stdin, "{req}")?;
        stdin.flush()?;
        let mut line = String::new();
        self.out.read_line(&mut line)?;
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [secs, rss, ok] => Ok((
                secs.parse().map_err(io::Error::other)?,
                rss.parse().map_err(io::Error::other)?,
                *ok == "1",
            )),
            _ => Err(io::Error::other(format!("spawner said {line:?}"))),
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The helper's loop: one JSON request per line, one `secs rss ok` answer per line.
pub(crate) fn spawner_loop() -> i32 {
    use io::BufRead;
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let req: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => break,
        };
        let argv: Vec<String> = serde_json::from_value(req["argv"].clone()).unwrap_or_default();
        let env: Vec<(String, String)> =
            serde_json::from_value(req["env"].clone()).unwrap_or_default();
        let answer = match argv.split_first() {
            Some((prog, args)) => {
                let mut cmd = Command::new(prog);
                cmd.args(args)
                    .envs(env)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null());
                match run_measured(&mut cmd) {
                    Ok((secs, rss, ok)) => format!("{secs} {rss} {}", u8::from(ok)),
                    Err(e) => format!("error {e}"),
                }
            }
            None => "error empty argv".into(),
        };
        println!("{answer}");
        let _ = io::stdout().flush();
    }
    0
}

pub(crate) fn memory_row(scenario: String, res: io::Result<(f64, u64, bool)>) -> Row {
    match res {
        Ok((secs, rss, true)) => Row {
            scenario,
            convlog: format!("{} ({secs:.2} s)", mib(rss)),
            baseline: "-".into(),
            value: Some(rss as f64),
            goal: Goal::MaxBytes(MEM_GOAL),
            note: None,
        },
        Ok((_, _, false)) => skipped(&scenario, Goal::MaxBytes(MEM_GOAL), "the child failed"),
        Err(e) => skipped(&scenario, Goal::MaxBytes(MEM_GOAL), &e.to_string()),
    }
}

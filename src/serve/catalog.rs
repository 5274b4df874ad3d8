//! What the server may show: the logs under the paths it was given, each
//! summarised once and kept until its file changes.
//!
//! A session is addressed by the index of the served path it is under and
//! its plain file name, never by a path from the request: a name with a
//! `/`, a `..`, a leading dot, or one that is not a regular `*.jsonl` file
//! directly in that directory (a symlink, say) names nothing. So no request
//! can reach a file outside the served paths, however it is encoded.
//!
//! Reading takes no lock at all: a viewer never makes a writer wait. A
//! batch caught in the middle of its `write` looks like a torn tail for a
//! moment, so a torn tail in a log that grew while it was read is read again.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::export::ExportState;
use crate::read::{Recovery, Report, scan_file};
use crate::record::{Record, Role};
use crate::redact::Audit;
use crate::stats::State;

/// Files the list leaves out, as (name, why).
type Failed = Vec<(String, String)>;

/// One path given to `convlog serve`.
#[derive(Debug, Clone)]
pub enum Root {
    /// A directory: its `*.jsonl` logs.
    Dir(PathBuf),
    /// One log file.
    File(PathBuf),
}

/// A session's row in the list.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Index of the root it is under.
    pub root: usize,
    /// Its file name.
    pub name: String,
    /// The reader's report.
    pub report: Report,
    /// Start as stored, and as microseconds since the epoch for sorting.
    pub start: Option<(String, i64)>,
    /// End of its span, microseconds since the epoch.
    pub stop_us: Option<i64>,
    /// Seconds from the first message to the last.
    pub duration_secs: Option<f64>,
    /// The export beside it.
    pub export: Option<ExportState>,
    /// What the writer redacted, summed over the records' `redacted`
    /// fields (as `convlog stats` sums them).
    pub redacted: Audit,
}

impl Summary {
    /// Ended, open or damaged.
    pub fn state(&self) -> State {
        State::of(&self.report)
    }

    /// Messages of `role`.
    pub fn count(&self, role: Role) -> u64 {
        match role {
            Role::User => self.report.user_messages,
            Role::Agent => self.report.agent_messages,
        }
    }
}

/// What identifies one version of a file: a change to any of these means
/// the summary must be made again.
type Version = (u64, u64, i64, i64);

/// A summary and the versions of the log and its export it was made from.
type Cached = (Version, Option<Version>, Summary);

fn version(m: &std::fs::Metadata) -> Version {
    (m.ino(), m.len(), m.mtime(), m.mtime_nsec())
}

/// The served roots and the summaries made so far.
pub struct Catalog {
    roots: Vec<Root>,
    cache: Mutex<HashMap<PathBuf, Cached>>,
}

impl Catalog {
    /// Serves `paths`: each must exist, as a directory or a file.
    pub fn new(paths: &[PathBuf]) -> Result<Catalog> {
        let mut roots = Vec::new();
        for p in paths {
            let meta = std::fs::metadata(p).map_err(|e| Error::io(p, "stat", e))?;
            roots.push(if meta.is_dir() {
                Root::Dir(p.clone())
            } else {
                Root::File(p.clone())
            });
        }
        Ok(Catalog {
            roots,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The served paths.
    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// The log that `root` and `name` address, if it is one this server
    /// shows: see the module documentation.
    pub fn resolve(&self, root: usize, name: &str) -> Option<PathBuf> {
        if name.is_empty()
            || name.starts_with('.')
            || name.contains(['/', '\\', '\0'])
            || !name.ends_with(".jsonl")
        {
            return None;
        }
        let path = match self.roots.get(root)? {
            Root::Dir(dir) => dir.join(name),
            Root::File(file) => (file.file_name()?.to_str()? == name).then(|| file.clone())?,
        };
        let meta = std::fs::symlink_metadata(&path).ok()?;
        meta.file_type().is_file().then_some(path)
    }

    /// Every log under the roots, as (root, name, path), in the order the
    /// roots were given and by name within one.
    pub fn logs(&self) -> Vec<(usize, String, PathBuf)> {
        self.listed().0
    }

    /// [`logs`](Self::logs), and the logs it leaves out because their file
    /// name is not UTF-8 (a request names a session by its name as text, so
    /// the viewer cannot address them), each with why.
    fn listed(&self) -> (Vec<(usize, String, PathBuf)>, Failed) {
        let mut out = Vec::new();
        let mut unnamed = Vec::new();
        for (i, root) in self.roots.iter().enumerate() {
            let found = match root {
                Root::Dir(d) => crate::read::find_logs(std::slice::from_ref(d)).unwrap_or_default(),
                Root::File(f) => vec![f.clone()],
            };
            for path in found {
                match path.file_name().and_then(|n| n.to_str()) {
                    Some(name) => out.push((i, name.to_string(), path.clone())),
                    None => unnamed.push((
                        crate::fs::layout::file_name(&path),
                        format!(
                            "the file name is not UTF-8 (exactly {}), so the viewer cannot address it; rename it to show it here",
                            crate::fs::non_utf8_name(&path).unwrap_or_default()
                        ),
                    )),
                }
            }
        }
        (out, unnamed)
    }

    /// Every log's summary (a log that cannot be read, or whose name the
    /// viewer cannot address, is left out and reported in the second list,
    /// with why).
    pub fn summaries(&self) -> (Vec<Summary>, Vec<(String, String)>) {
        let mut rows = Vec::new();
        let (logs, mut failed) = self.listed();
        for (root, name, path) in logs {
            match self.summary(root, &name, &path) {
                Ok(s) => rows.push(s),
                Err(e) => failed.push((name, e.to_string())),
            }
        }
        (rows, failed)
    }

    /// The summary of one log, from the cache while its file (and its
    /// export's) is unchanged.
    pub fn summary(&self, root: usize, name: &str, path: &Path) -> Result<Summary> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, "stat", e))?;
        let v = version(&meta);
        let export = crate::export_path(path);
        let ev = std::fs::metadata(&export).ok().map(|m| version(&m));
        if let Some((cv, cev, s)) = lock(&self.cache).get(path)
            && *cv == v
            && *cev == ev
        {
            return Ok(s.clone());
        }
        let s = summarize(root, name, path)?;
        lock(&self.cache).insert(path.to_path_buf(), (v, ev, s.clone()));
        Ok(s)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads `path` without a lock, again if a torn tail turns out to be a
/// batch that was being written.
fn summarize(root: usize, name: &str, path: &Path) -> Result<Summary> {
    let mut redacted = Audit::default();
    let read = |redacted: &mut Audit| {
        *redacted = Audit::default();
        scan_file(path, Recovery::SkipCorrupt, |rec: &Record<'_>| {
            if let Record::Message(m) = rec
                && let Some(audit) = m.redacted.and_then(|r| Audit::from_json(r.get()).ok())
            {
                redacted.merge(&audit);
            }
            Ok(())
        })
    };
    let mut report = read(&mut redacted)?;
    for _ in 0..3 {
        let grew = std::fs::symlink_metadata(path).is_ok_and(|m| m.len() != report.file_len);
        if report.torn_bytes().is_none() || !grew {
            break;
        }
        report = read(&mut redacted)?;
    }
    let (start, stop) = crate::stats::span(&report);
    let micros = |ts: &str| crate::time::parse_ts(ts).ok().map(|t| t.timestamp_micros());
    Ok(Summary {
        root,
        name: name.to_string(),
        start: start.and_then(|s| Some((s.to_string(), micros(s)?))),
        stop_us: stop.and_then(micros),
        duration_secs: crate::stats::duration_secs(&report),
        export: crate::export::export_state(path).ok(),
        report,
        redacted,
    })
}

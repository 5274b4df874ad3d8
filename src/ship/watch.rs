//! Wakes the following reader when a log may have changed: inotify on the
//! directories that hold the logs, so that an idle `--follow` over thousands
//! of logs costs nothing between writes and a new record is read within
//! moments of its write; polling where inotify cannot see every write (not
//! Linux, no inotify instance or watch left, a network filesystem or FUSE,
//! where another machine's writes raise no event), said once.
//!
//! Raw inotify through `libc` rather than the `notify` crate: the reader
//! needs one blocking wait with a timeout on a handful of directory watches,
//! which is what inotify is; `notify` adds a thread, a channel and a
//! recursive-watch layer on top of the same kernel calls.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Stop;

/// However quiet the directories are, every log is looked at this often
/// (a safety net: a pass over 5,000 idle logs costs about a tenth of a
/// second of CPU, see SHIP.md).
const FULL_PASS: Duration = Duration::from_secs(30);

/// The longest a wait goes without looking at the stop token.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// What the reader should look at after a wait.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The run is asked to stop.
    Stop,
    /// Every log, and the directories for new ones.
    All,
    /// These files changed; with `names`, files were also created, renamed
    /// or removed, so the directories are listed again.
    Some {
        files: HashSet<PathBuf>,
        names: bool,
    },
}

/// Waits for changes under the paths a run follows.
pub(crate) struct Watcher {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    inotify: Option<inotify::Inotify>,
    poll: Duration,
    last_full: Instant,
}

impl Watcher {
    /// Watches the directories of `paths` (a directory, or the directory of a
    /// file). The sentences say where it polls instead, and why.
    pub fn new(
        paths: &[PathBuf],
        poll: Duration,
        notify: bool,
    ) -> (Watcher, Vec<(PathBuf, String)>) {
        let mut notes = Vec::new();
        let poll_ms = poll.as_millis();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let inotify = if notify {
            match inotify::Inotify::new(paths) {
                Ok((i, lost)) => {
                    notes.extend(lost.into_iter().map(|(dir, why)| {
                        let s = format!(
                            "{}: {why}; following it by polling every {poll_ms} ms",
                            dir.display()
                        );
                        (dir, s)
                    }));
                    Some(i)
                }
                Err(why) => {
                    let dir = paths.first().cloned().unwrap_or_default();
                    notes.push((
                        dir,
                        format!("{why}; following by polling every {poll_ms} ms"),
                    ));
                    None
                }
            }
        } else {
            None
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = (paths, notify, poll_ms);
        let w = Watcher {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            inotify,
            poll,
            last_full: Instant::now(),
        };
        (w, notes)
    }

    /// True when some change would be seen only by polling.
    pub fn polls(&self) -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(i) = &self.inotify {
            return i.partial();
        }
        true
    }

    /// Blocks until something may have changed, the stop token, or the
    /// next poll (every `poll` while any directory is unwatched, else the
    /// safety pass every [`FULL_PASS`]).
    pub fn wait(&mut self, stop: &Stop) -> Wake {
        let every = if self.polls() { self.poll } else { FULL_PASS };
        let until = self.last_full + every;
        loop {
            if stop.is_stopped() {
                return Wake::Stop;
            }
            let now = Instant::now();
            if now >= until {
                self.last_full = now;
                return Wake::All;
            }
            let slice = (until - now).min(STOP_CHECK);
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(i) = &mut self.inotify {
                match i.wait(slice) {
                    Some(inotify::Seen::Overflow) => {
                        self.last_full = Instant::now();
                        return Wake::All;
                    }
                    Some(inotify::Seen::Files { files, names }) => {
                        return Wake::Some { files, names };
                    }
                    None => continue,
                }
            }
            if stop.sleep_blocking(slice) {
                return Wake::Stop;
            }
        }
    }
}

/// The directory to watch for `path` (itself, or the directory holding a
/// file), and the prefix under which find_logs names its files.
fn dir_of(path: &Path) -> (PathBuf, PathBuf) {
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return (path.to_path_buf(), path.to_path_buf());
    }
    let prefix = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if prefix.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        prefix.clone()
    };
    (dir, prefix)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod inotify {
    use std::collections::{HashMap, HashSet};
    use std::ffi::{CString, OsStr};
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    /// Filesystems where a write made elsewhere raises no inotify event:
    /// NFS, SMB, CIFS, SMB2, 9p, Ceph, FUSE (sshfs and object stores).
    const REMOTE: [(u32, &str); 7] = [
        (0x0000_6969, "NFS"),
        (0x0000_517b, "SMB"),
        (0xff53_4d42, "CIFS"),
        (0xfe53_4d42, "SMB2"),
        (0x0102_1997, "9p"),
        (0x00c3_6400, "Ceph"),
        (0x6573_5546, "FUSE"),
    ];

    const DIR_EVENTS: u32 = libc::IN_MODIFY
        | libc::IN_ATTRIB
        | libc::IN_CREATE
        | libc::IN_MOVED_FROM
        | libc::IN_MOVED_TO
        | libc::IN_DELETE
        | libc::IN_DELETE_SELF
        | libc::IN_MOVE_SELF
        | libc::IN_ONLYDIR;
    const NAME_EVENTS: u32 =
        libc::IN_CREATE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO | libc::IN_DELETE;

    pub(super) enum Seen {
        /// Events were lost: look at everything.
        Overflow,
        Files {
            files: HashSet<PathBuf>,
            names: bool,
        },
    }

    pub(super) struct Inotify {
        fd: OwnedFd,
        /// Watch descriptor → the prefix find_logs puts before a file name.
        dirs: HashMap<i32, PathBuf>,
        /// Directories not (or no longer) watched: (directory, prefix), retried.
        lost: Vec<(PathBuf, PathBuf)>,
        /// Directories polled for good (a network filesystem).
        remote: bool,
        buf: Vec<u8>,
    }

    fn remote_fs(dir: &Path) -> Option<&'static str> {
        let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: `c` is a valid NUL-terminated path and `st` a valid out
        // parameter for the duration of the call.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        let t = (st.f_type as u64 & 0xffff_ffff) as u32;
        REMOTE.iter().find(|(m, _)| *m == t).map(|(_, n)| *n)
    }

    impl Inotify {
        /// An instance watching the directories of `paths`, and the
        /// directories it could not watch, with why.
        pub(super) fn new(paths: &[PathBuf]) -> Result<(Inotify, Vec<(PathBuf, String)>), String> {
            // SAFETY: plain syscall; the result is checked.
            let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
            if fd < 0 {
                let e = io::Error::last_os_error();
                let hint = if e.raw_os_error() == Some(libc::EMFILE) {
                    " (the user's inotify instances are used up: sysctl fs.inotify.max_user_instances)"
                } else {
                    ""
                };
                return Err(format!("inotify is unavailable: {e}{hint}"));
            }
            // SAFETY: `fd` is a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let mut me = Inotify {
                fd,
                dirs: HashMap::new(),
                lost: Vec::new(),
                remote: false,
                buf: vec![0; 64 * 1024],
            };
            let mut notes = Vec::new();
            let mut seen = HashSet::new();
            for p in paths {
                let (dir, prefix) = super::dir_of(p);
                if !seen.insert(prefix.clone()) {
                    continue;
                }
                if let Some(fs) = remote_fs(&dir) {
                    me.remote = true;
                    notes.push((
                        dir,
                        format!(
                            "on {fs}, where inotify does not see writes made by other machines"
                        ),
                    ));
                    continue;
                }
                if let Err(why) = me.add(&dir, &prefix) {
                    me.lost.push((dir.clone(), prefix));
                    notes.push((dir, why));
                }
            }
            Ok((me, notes))
        }

        fn add(&mut self, dir: &Path, prefix: &Path) -> Result<(), String> {
            let c = CString::new(dir.as_os_str().as_bytes())
                .map_err(|_| "the path holds a NUL byte".to_string())?;
            // SAFETY: `c` is a valid NUL-terminated path; the result is checked.
            let wd =
                unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), DIR_EVENTS) };
            if wd < 0 {
                let e = io::Error::last_os_error();
                let hint = if e.raw_os_error() == Some(libc::ENOSPC) {
                    " (the user's inotify watches are used up: sysctl fs.inotify.max_user_watches)"
                } else {
                    ""
                };
                return Err(format!("cannot watch it with inotify: {e}{hint}"));
            }
            self.dirs.insert(wd, prefix.to_path_buf());
            Ok(())
        }

        /// True when some directory is polled rather than watched.
        pub(super) fn partial(&self) -> bool {
            self.remote || !self.lost.is_empty()
        }

        /// Waits up to `d` for events; None when there were none.
        pub(super) fn wait(&mut self, d: Duration) -> Option<Seen> {
            // A directory that went away and came back is watched again.
            if !self.lost.is_empty() {
                let lost = std::mem::take(&mut self.lost);
                let mut back = false;
                for (dir, prefix) in lost {
                    if self.add(&dir, &prefix).is_ok() {
                        back = true;
                    } else {
                        self.lost.push((dir, prefix));
                    }
                }
                if back {
                    return Some(Seen::Overflow);
                }
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = d.as_millis().clamp(1, 60_000) as libc::c_int;
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n <= 0 {
                return None;
            }
            let mut files = HashSet::new();
            let mut names = false;
            let mut overflow = false;
            loop {
                // SAFETY: reads into our buffer, at most its length.
                let got = unsafe {
                    libc::read(
                        self.fd.as_raw_fd(),
                        self.buf.as_mut_ptr().cast(),
                        self.buf.len(),
                    )
                };
                if got <= 0 {
                    break;
                }
                let mut at = 0usize;
                let got = got as usize;
                while at + 16 <= got {
                    let word = |i: usize| {
                        let b = &self.buf[at + i..at + i + 4];
                        [b[0], b[1], b[2], b[3]]
                    };
                    let wd = i32::from_ne_bytes(word(0));
                    let mask = u32::from_ne_bytes(word(4));
                    let len = u32::from_ne_bytes(word(12)) as usize;
                    let name = &self.buf[(at + 16).min(got)..(at + 16 + len).min(got)];
                    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                    at += 16 + len;
                    if mask & libc::IN_Q_OVERFLOW != 0 {
                        overflow = true;
                        continue;
                    }
                    if mask & (libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 {
                        // The directory itself went: poll until it is back.
                        if let Some(prefix) = self.dirs.remove(&wd) {
                            let dir = if prefix.as_os_str().is_empty() {
                                PathBuf::from(".")
                            } else {
                                prefix.clone()
                            };
                            // SAFETY: removing a watch of our own descriptor; failure is harmless.
                            unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
                            self.lost.push((dir, prefix));
                        }
                        overflow = true;
                        continue;
                    }
                    let Some(prefix) = self.dirs.get(&wd) else {
                        continue;
                    };
                    if mask & NAME_EVENTS != 0 {
                        names = true;
                    }
                    if !name.is_empty() {
                        files.insert(prefix.join(OsStr::from_bytes(name)));
                    }
                }
            }
            if overflow {
                return Some(Seen::Overflow);
            }
            if files.is_empty() && !names {
                return None;
            }
            Some(Seen::Files { files, names })
        }
    }
}

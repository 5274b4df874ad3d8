//! Keeps the commit pool's threads off the CPU of the thread that queues
//! records without waiting for them (a detached append or a
//! [`Request::Later`]): an agent's event loop, calling `Session::log`.
//!
//! `SCHED_BATCH` (see the pool) stops a woken commit thread from preempting
//! the loop at once, but not at the next scheduler tick: measured with
//! `python/bench/loop_cost.py`, the loop's rare 1–2 ms stalls were the
//! commit thread run on the loop's CPU. With more than one CPU allowed, a
//! pool thread, each time it takes a group and before it writes it, keeps
//! its affinity to every allowed CPU but the one the last such caller ran
//! on, and follows when that caller moves; a thread allowed one CPU stays
//! there. A
//! hint, not a contract: a failed call leaves the thread where it was, and
//! nothing else depends on it.
//!
//! [`Request::Later`]: super::Request::Later

use std::sync::atomic::{AtomicI32, Ordering};

/// The CPU the last caller that does not wait ran on, or -1 for none yet.
static CALLER_CPU: AtomicI32 = AtomicI32::new(-1);

/// Notes the CPU the calling thread is on: one read of the kernel's
/// per-thread `rseq` area in glibc 2.35 and later, a vDSO call before.
pub(super) fn note_caller() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sched_getcpu takes no arguments and touches no memory of ours.
        let cpu = unsafe { libc::sched_getcpu() };
        if cpu >= 0 && CALLER_CPU.load(Ordering::Relaxed) != cpu {
            CALLER_CPU.store(cpu, Ordering::Relaxed);
        }
    }
}

/// Called by a pool thread once it has taken a group, before it writes
/// it: moves it off the last such caller's CPU if that has changed since
/// it last looked.
pub(super) fn keep_off_caller() {
    #[cfg(target_os = "linux")]
    {
        let cpu = CALLER_CPU.load(Ordering::Relaxed);
        if cpu >= 0 {
            linux::keep_off(cpu);
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::Cell;
    use std::mem::{size_of, zeroed};

    /// The CPUs this thread was allowed before it first narrowed them, and
    /// the CPU it keeps off now (-1: none).
    #[derive(Clone, Copy)]
    struct Placement {
        allowed: Option<libc::cpu_set_t>,
        avoiding: i32,
    }

    thread_local! {
        static PLACEMENT: Cell<Placement> = const {
            Cell::new(Placement { allowed: None, avoiding: -1 })
        };
    }

    /// Moves the calling thread onto the CPUs it was first allowed less
    /// `cpu` (all of them if `cpu` was the only one), unless it did so
    /// already.
    pub(super) fn keep_off(cpu: i32) {
        PLACEMENT.with(|cell| {
            let mut p = cell.get();
            if p.avoiding == cpu {
                return;
            }
            let Some(allowed) = p.allowed.or_else(current) else {
                return;
            };
            let mut set = allowed;
            let index = cpu as usize;
            if index < libc::CPU_SETSIZE as usize {
                // SAFETY: `index` is within the set's bits (checked above).
                unsafe { libc::CPU_CLR(index, &mut set) };
            }
            // SAFETY: counts the bits of a valid, initialised set.
            if unsafe { libc::CPU_COUNT(&set) } == 0 {
                set = allowed;
            }
            // SAFETY: pid 0 names the calling thread; `set` is a valid,
            // initialised cpu_set_t of the size passed, only read.
            let _ = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
            p.allowed = Some(allowed);
            p.avoiding = cpu;
            cell.set(p);
        });
    }

    /// This thread's allowed CPUs, from the kernel.
    fn current() -> Option<libc::cpu_set_t> {
        // SAFETY: cpu_set_t is a plain bit array, and all zeros is the
        // empty set.
        let mut set: libc::cpu_set_t = unsafe { zeroed() };
        // SAFETY: pid 0 names the calling thread; `set` is a valid,
        // writable cpu_set_t of the size passed.
        let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
        (rc == 0).then_some(set)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::mem::{size_of, zeroed};

    /// The calling thread's allowed CPUs, as indexes.
    fn allowed() -> Vec<usize> {
        // SAFETY: as in `linux::current`.
        let mut set: libc::cpu_set_t = unsafe { zeroed() };
        // SAFETY: as in `linux::current`.
        let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
        assert_eq!(
            rc,
            0,
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: every index is below CPU_SETSIZE.
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
            .collect()
    }

    /// A pool thread keeps off the caller's CPU, follows it when it moves,
    /// and never narrows itself to nothing.
    #[test]
    fn a_commit_thread_keeps_off_the_callers_cpu_and_follows_it() {
        std::thread::spawn(|| {
            let all = allowed();
            let (first, last) = (all[0], *all.last().unwrap());
            super::linux::keep_off(first as i32);
            let now = allowed();
            if all.len() > 1 {
                assert!(!now.contains(&first), "{now:?} still holds {first}");
                assert_eq!(now.len(), all.len() - 1);
            } else {
                assert_eq!(now, all, "a lone CPU is kept");
            }
            super::linux::keep_off(last as i32);
            let now = allowed();
            if all.len() > 1 {
                assert!(now.contains(&first) && !now.contains(&last), "{now:?}");
            }
            // A CPU the thread may not use anyway: all of them again.
            super::linux::keep_off(libc::CPU_SETSIZE + 7);
            assert_eq!(allowed(), all);
        })
        .join()
        .unwrap();
    }
}

//! The durable append path allocates nothing per record once warm: field
//! buffers and answer slots are recycled, the timestamp is formatted on the
//! stack, and the group's bookkeeping reuses its vectors. Counted with a
//! global allocator (its own test binary, one test, so nothing else runs).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use convlog::{Message, Session};

// The fixtures of tests/it; this binary uses only a few of them (and none
// of the ones util re-exports).
#[allow(dead_code, unused_imports)]
#[path = "it/util.rs"]
mod util;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_warm_append_allocates_nothing_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), util::quiet()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let n = 500;
    let batch = |k: usize| -> Vec<Message> {
        (0..n)
            .map(|i| Message::user(format!("message {k} {i}"), "stt"))
            .collect()
    };
    // Warm up: pool thread, spare buffers and slots, runtime.
    let warm = batch(0);
    rt.block_on(async {
        for m in warm {
            s.append(m).await.unwrap();
        }
    });
    for m in batch(1) {
        s.append_blocking(m).unwrap();
    }

    let msgs = batch(2);
    let before = ALLOCS.load(Ordering::Relaxed);
    rt.block_on(async {
        for m in msgs {
            s.append(m).await.unwrap();
        }
    });
    let awaited = ALLOCS.load(Ordering::Relaxed) - before;

    let msgs = batch(3);
    let before = ALLOCS.load(Ordering::Relaxed);
    for m in msgs {
        s.append_blocking(m).unwrap();
    }
    let blocking = ALLOCS.load(Ordering::Relaxed) - before;
    println!("allocations for {n} appends: awaited {awaited}, blocking {blocking}");
    assert!(
        awaited < n as u64 / 10,
        "awaited: {awaited} allocations for {n} appends"
    );
    assert!(
        blocking < n as u64 / 10,
        "blocking: {blocking} allocations for {n} appends"
    );
}

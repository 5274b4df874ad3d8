//! The reply slot: how an answer gets from whoever committed a request back
//! to the caller waiting for it, as a future for async callers and a poll
//! for blocking ones, without allocating on the hot path.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use std::path::PathBuf;

use super::lock;
use crate::error::{Error, Result};

/// Where the committer puts a waiting caller's answer: the record's seq
/// (0 for a flush). One per awaited request, recycled through
/// [`Slots`], so the hot path allocates none.
pub(crate) struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    result: Option<Result<u64>>,
    /// The committer dropped the request without answering (cannot happen
    /// short of a panic in the commit path).
    gone: bool,
    waker: Option<Waker>,
}

/// The committer's end of a [`Slot`].
pub(crate) struct Reply {
    slot: Option<Arc<Slot>>,
    slots: Arc<Slots>,
}

impl Reply {
    pub(super) fn send(mut self, result: Result<u64>) {
        if let Some(slot) = self.slot.take() {
            let waker = {
                let mut st = lock(&slot.state);
                st.result = Some(result);
                st.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            self.slots.recycle(slot);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let waker = {
                let mut st = lock(&slot.state);
                st.gone = true;
                st.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            self.slots.recycle(slot);
        }
    }
}

/// The caller's end of a [`Slot`]: a future of the answer, which also
/// serves blocking callers through [`Answer::try_take`].
pub(crate) struct Answer {
    slot: Option<Arc<Slot>>,
    slots: Arc<Slots>,
}

impl Answer {
    /// The answer if it has come.
    pub(super) fn try_take(&mut self) -> Option<Result<u64>> {
        let slot = self.slot.as_ref()?;
        let taken = {
            let mut st = lock(&slot.state);
            match st.result.take() {
                Some(r) => Some(r),
                None if st.gone => Some(Err(Error::WriterGone {
                    path: self.slots.path.clone(),
                })),
                None => None,
            }
        };
        if taken.is_some()
            && let Some(slot) = self.slot.take()
        {
            self.slots.recycle(slot);
        }
        taken
    }
}

impl Future for Answer {
    type Output = Result<u64>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<u64>> {
        if let Some(r) = self.try_take() {
            return Poll::Ready(r);
        }
        let Some(slot) = self.slot.as_ref() else {
            return Poll::Ready(Err(Error::WriterGone {
                path: self.slots.path.clone(),
            }));
        };
        let mut st = lock(&slot.state);
        // Checked again under the lock the committer takes to answer, so a
        // wake-up cannot fall between the check and storing the waker.
        if st.result.is_some() || st.gone {
            drop(st);
            return match self.try_take() {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            };
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.slots.recycle(slot);
        }
    }
}

/// Spare slots kept per log; beyond these, they are freed.
const SPARE_SLOTS: usize = 64;

/// A log's answer slots whose two ends are both gone, for the next
/// requests, and the log's path for the answer of a request nobody answered.
pub(crate) struct Slots {
    path: PathBuf,
    spare: Mutex<Vec<Arc<Slot>>>,
}

impl Slots {
    pub(crate) fn new(path: PathBuf) -> Slots {
        Slots {
            path,
            spare: Mutex::default(),
        }
    }

    /// Keeps `slot` for reuse once neither end holds it. Of two ends
    /// dropping at once, at most one sees itself as the last (both may see
    /// the other, and then the slot is simply freed).
    fn recycle(&self, slot: Arc<Slot>) {
        if Arc::strong_count(&slot) != 1 {
            return;
        }
        *lock(&slot.state) = SlotState::default();
        let mut spare = lock(&self.spare);
        if spare.len() < SPARE_SLOTS {
            spare.push(slot);
        }
    }
}

/// A fresh pair of ends for one awaited request.
pub(crate) fn reply_pair(slots: &Arc<Slots>) -> (Reply, Answer) {
    let slot = lock(&slots.spare).pop().unwrap_or_else(|| {
        Arc::new(Slot {
            state: Mutex::new(SlotState::default()),
        })
    });
    (
        Reply {
            slot: Some(slot.clone()),
            slots: slots.clone(),
        },
        Answer {
            slot: Some(slot),
            slots: slots.clone(),
        },
    )
}

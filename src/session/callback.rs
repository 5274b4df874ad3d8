//! The future-to-callback bridge behind `append_with`, `flush_with` and
//! `end_with`: for a caller that can neither block nor poll a Rust future
//! (another language's event loop), the answer is handed to a callback on
//! whichever thread produced it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::error::Result;
use crate::log::commit::{Answer, lock};

/// Calls `done` with `rx`'s answer from whichever thread answers it: the
/// answer's waker polls it right there, so nothing else has to run for the
/// callback to fire, and the task holds no [`Session`](super::Session) (a last handle
/// dropped on the committing thread would wait on itself).
pub(super) fn when_answered(rx: Answer, done: impl FnOnce(Result<u64>) + Send + 'static) {
    Arc::new(Pending {
        state: Mutex::new(Some((rx, Box::new(done)))),
    })
    .poll();
}

type Done = Box<dyn FnOnce(Result<u64>) + Send>;

struct Pending {
    state: Mutex<Option<(Answer, Done)>>,
}

impl Pending {
    // An answer never wakes its waker from inside its own poll, so the
    // waker's poll never finds this lock held by its own thread.
    fn poll(self: &Arc<Self>) {
        let waker = Waker::from(Arc::clone(self));
        let mut cx = Context::from_waker(&waker);
        let mut state = lock(&self.state);
        let Some((rx, _)) = state.as_mut() else {
            return;
        };
        let Poll::Ready(result) = Pin::new(rx).poll(&mut cx) else {
            return;
        };
        let taken = state.take();
        drop(state);
        if let Some((rx, done)) = taken {
            drop(rx);
            done(result);
        }
    }
}

impl Wake for Pending {
    fn wake(self: Arc<Self>) {
        self.poll();
    }
}

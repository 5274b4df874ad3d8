//! The Pipecat recorder's handlers, in Rust: Pipecat runs them on the
//! pipeline's event loop for every finished turn and, for the speaker, for
//! every frame the user aggregator gets (audio included), so they run no
//! Python frame and build no keyword arguments.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString, PyTuple, PyType};

use convlog::Message;
use convlog::record::Role;

use crate::livekit::log_error;
use crate::message::{mark_repaired, recorder_text, recorder_timestamp};
use crate::session::Session;

/// What one recorder's handlers share.
struct Turns {
    log: Py<Session>,
    user_source: String,
    agent_source: String,
    /// Turns recorded so far: each message's turn is `pipecat_<n>`.
    count: AtomicU64,
    /// The `user_id` of the user's last `TranscriptionFrame` (the transport's
    /// participant or client id): Pipecat leaves the turn's own empty.
    speaker: Mutex<Option<String>>,
    transcription: Py<PyType>,
}

/// Which event a [`PipecatHandler`] handles.
#[derive(Clone, Copy)]
enum Event {
    UserTurn,
    AgentTurn,
    Frame,
}

/// One of the recorder's Pipecat event handlers, made by
/// `PipecatHandler.make`: `on_user_turn_stopped`,
/// `on_assistant_turn_stopped` and `on_before_process_frame` (the speaker),
/// in that order. Each catches everything: nothing reaches Pipecat.
#[pyclass(frozen, module = "convlog._convlog", name = "PipecatHandler")]
pub struct PipecatHandler {
    turns: Arc<Turns>,
    event: Event,
}

#[pymethods]
impl PipecatHandler {
    /// The three handlers of one recorder writing into `log`, with the
    /// sources of user and agent messages; `transcription` is Pipecat's
    /// `TranscriptionFrame` class.
    #[staticmethod]
    fn make(
        log: Py<Session>,
        user_source: String,
        agent_source: String,
        transcription: Py<PyType>,
    ) -> (PipecatHandler, PipecatHandler, PipecatHandler) {
        let turns = Arc::new(Turns {
            log,
            user_source,
            agent_source,
            count: AtomicU64::new(0),
            speaker: Mutex::new(None),
            transcription,
        });
        let handler = |event| PipecatHandler {
            turns: Arc::clone(&turns),
            event,
        };
        (
            handler(Event::UserTurn),
            handler(Event::AgentTurn),
            handler(Event::Frame),
        )
    }

    /// Turns recorded so far.
    #[getter]
    fn turns(&self) -> u64 {
        self.turns.count.load(Ordering::Relaxed)
    }

    #[pyo3(signature = (*args))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) {
        let done = match self.event {
            Event::Frame => self.frame(py, args),
            Event::UserTurn => self.turn(py, true, args),
            Event::AgentTurn => self.turn(py, false, args),
        };
        if let Err(e) = done {
            log_error(py, "convlog: could not record a Pipecat turn", e);
        }
    }
}

impl PipecatHandler {
    /// `(processor, frame)`: remembers a transcription's `user_id`.
    fn frame(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        let Ok(frame) = args.get_item(args.len().saturating_sub(1)) else {
            return Ok(());
        };
        if !frame.is_instance(self.turns.transcription.bind(py))? {
            return Ok(());
        }
        let id = frame.getattr(intern!(py, "user_id"))?;
        if let Ok(id) = id.cast::<PyString>()
            && let Ok(id) = id.to_str()
            && !id.is_empty()
        {
            let mut speaker = crate::lock(&self.turns.speaker);
            if speaker.as_deref() != Some(id) {
                *speaker = Some(id.to_owned());
            }
        }
        Ok(())
    }

    /// `(aggregator, [strategy,] message)`: records a finished turn whose
    /// content is not blank.
    fn turn(&self, py: Python<'_>, user: bool, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        let t = &*self.turns;
        let log = t.log.get();
        let Ok(message) = args.get_item(args.len().saturating_sub(1)) else {
            return Ok(());
        };
        let Ok(content) = message.getattr(intern!(py, "content")) else {
            return Ok(());
        };
        if !content.is_instance_of::<PyString>() || log.ended() {
            return Ok(());
        }
        let mut repaired = Vec::new();
        let content = recorder_text(&content, "content", &mut repaired)?;
        if content.trim().is_empty() {
            return Ok(());
        }
        let n = t.count.fetch_add(1, Ordering::Relaxed) + 1;
        let speaker = if user {
            match message.getattr(intern!(py, "user_id")) {
                Ok(id)
                    if id
                        .cast::<PyString>()
                        .is_ok_and(|s| !s.is_empty().unwrap_or(true)) =>
                {
                    Some(recorder_text(&id, "speaker", &mut repaired)?)
                }
                _ => crate::lock(&t.speaker).clone(),
            }
        } else {
            None
        };
        let interrupted = message
            .getattr(intern!(py, "interrupted"))
            .is_ok_and(|v| v.cast::<PyBool>().is_ok_and(|b| b.is_true()));
        // Pipecat's ISO 8601 text, stored as local time.
        let timestamp = match message.getattr(intern!(py, "timestamp")) {
            Ok(ts) if ts.is_truthy().unwrap_or(false) => {
                recorder_timestamp(py, &ts, &mut repaired)?
            }
            _ => None,
        };
        let mut msg = Message {
            role: if user { Role::User } else { Role::Agent },
            content,
            source: if user {
                &t.user_source
            } else {
                &t.agent_source
            }
            .clone(),
            turn: Some(format!("pipecat_{n}")),
            interrupted,
            speaker,
            lang: None,
            meta: None,
            timestamp,
        };
        mark_repaired(&mut msg, repaired);
        log.record(py, msg).map(drop)
    }
}

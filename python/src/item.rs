//! A LiveKit `ChatMessage`'s record in two halves. On the agent's event
//! loop, [`ItemView::read`] takes what the record needs from the item
//! (numbers, and the item's own strings, borrowed) and [`ItemView::write`]
//! copies it into one of the log's recycled buffers: no `meta` map, no
//! timestamp, no allocation. On the log's committing thread, [`build`]
//! makes the message from those bytes: the `meta` map, the timestamp in
//! local time. Any attribute missing or of an odd type is left out rather
//! than refused: a recorder never drops a message.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};
use serde_json::{Map, Value};

use convlog::Message;
use convlog::record::Role;

use crate::engine;
use crate::livekit::Fields;

/// `ChatMessage.metrics` keys kept in `meta`: the latencies `convlog stats`
/// reports.
const METRIC_KEYS: [&str; 8] = [
    "e2e_latency",
    "llm_node_ttft",
    "tts_node_ttfb",
    "transcription_delay",
    "end_of_turn_delay",
    "on_user_turn_completed_delay",
    "started_speaking_at",
    "stopped_speaking_at",
];

/// The `MetricsMetadata` dicts whose model and provider names are kept, as
/// `<kind>_model` and `<kind>_provider`.
const METADATA: [(&str, &str, &str); 3] = [
    ("stt_metadata", "stt_model", "stt_provider"),
    ("llm_metadata", "llm_model", "llm_provider"),
    ("tts_metadata", "tts_model", "tts_provider"),
];

/// What a record takes from a `ChatMessage` besides its text, role and
/// source, as read on the event loop.
pub struct ItemView<'py> {
    turn: Option<Bound<'py, PyString>>,
    interrupted: bool,
    /// `created_at`, epoch seconds.
    created: Option<f64>,
    confidence: Option<f64>,
    /// [`METRIC_KEYS`]' values, in that order.
    metrics: [Option<f64>; METRIC_KEYS.len()],
    /// Each [`METADATA`] dict's model and provider names, in that order.
    models: [[Option<Bound<'py, PyString>>; 2]; METADATA.len()],
    /// The streamed fragments' turn this record replaces.
    replaces: Option<String>,
}

impl<'py> ItemView<'py> {
    /// Reads `item`; `metrics` is its `metrics` dict, if the caller has it.
    pub fn read(
        py: Python<'py>,
        item: &Fields<'py>,
        metrics: Option<&Bound<'py, PyDict>>,
        replaces: Option<String>,
    ) -> PyResult<ItemView<'py>> {
        // Interned names: no Python string is made per item for an attribute
        // or key name.
        let got;
        let metrics = match metrics {
            Some(m) => Some(m),
            None => {
                got = item.get(intern!(py, "metrics"))?;
                got.cast::<PyDict>().ok()
            }
        };
        let mut view = ItemView {
            turn: text(item.get(intern!(py, "id"))?),
            interrupted: item
                .get(intern!(py, "interrupted"))?
                .cast::<PyBool>()
                .is_ok_and(|b| b.is_true()),
            created: item
                .get(intern!(py, "created_at"))?
                .cast::<PyFloat>()
                .ok()
                .map(|f| f.value()),
            confidence: number(&item.get(intern!(py, "transcript_confidence"))?),
            metrics: Default::default(),
            models: Default::default(),
            replaces,
        };
        let Some(metrics) = metrics else {
            return Ok(view);
        };
        for (slot, name) in view.metrics.iter_mut().zip(metric_keys(py)) {
            *slot = metrics.get_item(name)?.and_then(|v| number(&v));
        }
        for (names, key) in view.models.iter_mut().zip(metadata_keys(py)) {
            let Some(md) = metrics.get_item(key)? else {
                continue;
            };
            let Ok(md) = md.cast::<PyDict>() else {
                continue;
            };
            let fields = [intern!(py, "model_name"), intern!(py, "model_provider")];
            for (slot, field) in names.iter_mut().zip(fields) {
                *slot = md.get_item(field)?.and_then(text);
            }
        }
        Ok(view)
    }

    /// The record's makings, with its `role`, `content` and `source`, as
    /// [`build`] reads them: a role byte, a flag byte, a mask of the
    /// numbers present, those numbers, then each string (content, source,
    /// turn, the six model names, replaces) as its length (`u32::MAX` for
    /// none) and its UTF-8.
    pub fn write(&self, role: Role, content: &str, source: &str, out: &mut Vec<u8>) {
        // One allocation at most, for a buffer that was not recycled: the
        // numbers, the lengths and the text, with room for the short names.
        out.reserve(4 + 8 * 10 + 4 * 11 + content.len() + source.len() + 192);
        out.push(match role {
            Role::User => 0,
            Role::Agent => 1,
        });
        out.push(u8::from(self.interrupted));
        let numbers = [self.created, self.confidence]
            .into_iter()
            .chain(self.metrics);
        let mut mask = 0u16;
        for (i, n) in numbers.clone().enumerate() {
            mask |= u16::from(n.is_some()) << i;
        }
        out.extend_from_slice(&mask.to_le_bytes());
        for n in numbers.flatten() {
            out.extend_from_slice(&n.to_le_bytes());
        }
        put(out, Some(content));
        put(out, Some(source));
        put(out, self.turn.as_ref().and_then(|t| t.to_str().ok()));
        for s in self.models.iter().flatten() {
            put(out, s.as_ref().and_then(|s| s.to_str().ok()));
        }
        put(out, self.replaces.as_deref());
    }

    /// The message, made here, whole: what [`build`] makes on the
    /// committing thread from what [`ItemView::write`] writes.
    pub fn message(&self, role: Role, content: &str, source: &str) -> PyResult<Message> {
        let mut bytes = Vec::new();
        self.write(role, content, source, &mut bytes);
        build(&bytes).ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("convlog: a LiveKit item did not read back")
        })
    }
}

fn put(out: &mut Vec<u8>, s: Option<&str>) {
    match s.and_then(|s| Some((s, u32::try_from(s.len()).ok()?))) {
        Some((s, len)) if len != u32::MAX => {
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        _ => out.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
}

/// The message [`ItemView::write`] wrote the makings of, with its `meta`
/// map (the confidence, the metrics, the model names, `replaces`) and its
/// timestamp (`created_at` in local time); `None` if `bytes` hold none.
pub fn build(bytes: &[u8]) -> Option<Message> {
    let mut r = Reader(bytes);
    let role = match r.take(1)?[0] {
        0 => Role::User,
        1 => Role::Agent,
        _ => return None,
    };
    let interrupted = r.take(1)?[0] != 0;
    let mask = u16::from_le_bytes(r.take(2)?.try_into().ok()?);
    let mut numbers = [None; 2 + METRIC_KEYS.len()];
    for (i, n) in numbers.iter_mut().enumerate() {
        if mask & (1 << i) != 0 {
            *n = Some(f64::from_le_bytes(r.take(8)?.try_into().ok()?));
        }
    }
    let content = r.text()??.to_owned();
    let source = r.text()??.to_owned();
    let turn = r.text()?.map(str::to_owned);
    let mut meta = Map::new();
    let num = |v: f64| serde_json::Number::from_f64(v).map(Value::Number);
    if let Some(c) = numbers[1].and_then(num) {
        meta.insert("transcript_confidence".into(), c);
    }
    for (key, v) in METRIC_KEYS.iter().zip(&numbers[2..]) {
        if let Some(v) = v.and_then(num) {
            meta.insert((*key).into(), v);
        }
    }
    for (_, model, provider) in METADATA {
        for name in [model, provider] {
            if let Some(s) = r.text()? {
                meta.insert(name.into(), Value::String(s.to_owned()));
            }
        }
    }
    if let Some(turn) = r.text()? {
        meta.insert(engine::REPLACES.into(), Value::String(turn.to_owned()));
    }
    Some(Message {
        role,
        content,
        source,
        turn,
        interrupted,
        speaker: None,
        lang: None,
        meta: (!meta.is_empty()).then_some(Value::Object(meta)),
        timestamp: numbers[0].and_then(engine::epoch_to_rfc3339),
    })
}

/// Reads what [`ItemView::write`] wrote; `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    /// `Some(None)` for a string written as none.
    fn text(&mut self) -> Option<Option<&'a str>> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        if len == u32::MAX {
            return Some(None);
        }
        std::str::from_utf8(self.take(len as usize)?).ok().map(Some)
    }
}

/// Makes the interned keys now rather than at the first item.
pub fn warm(py: Python<'_>) {
    metric_keys(py);
    metadata_keys(py);
}

/// [`METRIC_KEYS`] as Python strings, made once.
fn metric_keys(py: Python<'_>) -> &[Py<PyString>] {
    static KEYS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();
    KEYS.get_or_init(py, || {
        METRIC_KEYS
            .iter()
            .map(|k| PyString::intern(py, k).unbind())
            .collect()
    })
}

/// The [`METADATA`] dicts' keys as Python strings, made once.
fn metadata_keys(py: Python<'_>) -> &[Py<PyString>] {
    static KEYS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();
    KEYS.get_or_init(py, || {
        METADATA
            .iter()
            .map(|(k, _, _)| PyString::intern(py, k).unbind())
            .collect()
    })
}

/// A float or an int, not a bool. Anything else (mostly `None`) is turned
/// down by type, without making a Python exception to throw away; a value
/// JSON cannot hold (NaN) is left out when the `meta` map is made.
fn number(v: &Bound<'_, PyAny>) -> Option<f64> {
    if let Ok(f) = v.cast::<PyFloat>() {
        return Some(f.value());
    }
    if !v.is_instance_of::<PyInt>() || v.is_instance_of::<PyBool>() {
        return None;
    }
    v.extract::<i64>().ok().map(|i| i as f64)
}

/// A non-empty string that UTF-8 can hold.
fn text(v: Bound<'_, PyAny>) -> Option<Bound<'_, PyString>> {
    v.cast_into::<PyString>()
        .ok()
        .filter(|s| s.to_str().is_ok_and(|s| !s.is_empty()))
}

//! A LiveKit `ChatMessage` into a message in one call: the fields the
//! recorder keeps are read here, in Rust, so that the handler on the
//! agent's event loop builds no `meta` dict and no keyword arguments.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyString};
use serde_json::{Map, Value};

use crate::engine::{self, Msg};

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

/// The message for `item` (a `ChatMessage`), whose `role`, text and
/// `source` the recorder has worked out; `replaces` names the streamed
/// fragments it takes the place of. Any attribute missing or of an odd type
/// is left out rather than refused: a recorder never drops a message.
pub fn item_message(
    py: Python<'_>,
    role: String,
    content: String,
    source: String,
    item: &Bound<'_, PyAny>,
    replaces: Option<String>,
) -> PyResult<Msg> {
    let mut meta = Map::new();
    // Interned names: no Python string is made per item for an attribute
    // or key name.
    if let Some(c) = number(&item.getattr(intern!(py, "transcript_confidence"))?) {
        meta.insert("transcript_confidence".into(), c);
    }
    if let Ok(metrics) = item.getattr(intern!(py, "metrics"))?.cast::<PyDict>() {
        for (key, name) in metric_keys(py) {
            if let Some(v) = metrics.get_item(name)?.and_then(|v| number(&v)) {
                meta.insert((*key).into(), v);
            }
        }
        for (i, (_, model, provider)) in METADATA.iter().enumerate() {
            let Some(md) = metrics.get_item(&metadata_keys(py)[i])? else {
                continue;
            };
            let Ok(md) = md.cast::<PyDict>() else {
                continue;
            };
            let fields = [
                (intern!(py, "model_name"), model),
                (intern!(py, "model_provider"), provider),
            ];
            for (field, name) in fields {
                if let Some(s) = md.get_item(field)?.and_then(|v| text(&v)) {
                    meta.insert((*name).into(), Value::String(s));
                }
            }
        }
    }
    if let Some(turn) = replaces {
        meta.insert(crate::engine::REPLACES.into(), Value::String(turn));
    }
    let turn = item.getattr(intern!(py, "id"))?;
    let interrupted = item.getattr(intern!(py, "interrupted"))?;
    let created = item.getattr(intern!(py, "created_at"))?;
    let timestamp = match created.cast::<PyFloat>() {
        Ok(f) => engine::epoch_to_rfc3339(f.value()),
        Err(_) => None,
    };
    Ok(Msg {
        role,
        content,
        source,
        turn: text(&turn).filter(|t| !t.is_empty()),
        interrupted: interrupted.cast::<PyBool>().is_ok_and(|b| b.is_true()),
        speaker: None,
        lang: None,
        meta: (!meta.is_empty()).then_some(Value::Object(meta)),
        timestamp,
    })
}

/// Makes the interned keys now rather than at the first item.
pub fn warm(py: Python<'_>) {
    metric_keys(py);
    metadata_keys(py);
}

/// [`METRIC_KEYS`] with their Python strings, made once.
fn metric_keys(py: Python<'_>) -> &[(&'static str, Py<PyString>)] {
    static KEYS: PyOnceLock<Vec<(&'static str, Py<PyString>)>> = PyOnceLock::new();
    KEYS.get_or_init(py, || {
        METRIC_KEYS
            .iter()
            .map(|k| (*k, PyString::intern(py, k).unbind()))
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

/// A finite float or an int, not a bool.
fn number(v: &Bound<'_, PyAny>) -> Option<Value> {
    if let Ok(f) = v.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value()).map(Value::Number);
    }
    if v.is_instance_of::<PyBool>() {
        return None;
    }
    v.extract::<i64>()
        .ok()
        .and_then(|i| serde_json::Number::from_f64(i as f64))
        .map(Value::Number)
}

/// A non-empty string that UTF-8 can hold.
fn text(v: &Bound<'_, PyAny>) -> Option<String> {
    v.cast::<PyString>()
        .ok()
        .and_then(|s| s.to_str().ok())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

//! A message's Python arguments, read once into [`MsgArgs`] and converted
//! into the library's message in one pass.
//!
//! Every write (`log`, `append`, `append_async` and the recorders' `_record`)
//! takes the same arguments, `(role, content, source="python", *, turn,
//! interrupted, speaker, lang, meta, timestamp)`, parsed here and nowhere
//! else. Two modes convert them: [`Mode::Strict`] (the public calls) refuses
//! what it cannot store exactly, naming the argument; [`Mode::Lenient`] (the
//! recorders, which must never drop a message) stores what it can and lists
//! what it changed in the record's `meta` under [`REPAIRED`].

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

use convlog::Message;
use convlog::record::Role;

use crate::engine;

/// The `meta` key listing the arguments a recorder had to change to store
/// a message (an unpaired surrogate became U+FFFD, a value that is not JSON
/// became its `str()`…).
pub const REPAIRED: &str = "convlog.repaired";

/// How to treat what cannot be stored exactly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse it, naming the argument.
    Strict,
    /// Store the nearest thing and mark the record.
    Lenient,
}

/// The arguments' names, in their order.
const NAMES: [&str; 9] = [
    "role",
    "content",
    "source",
    "turn",
    "interrupted",
    "speaker",
    "lang",
    "meta",
    "timestamp",
];

/// The arguments of one write, as Python passed them, by their place in
/// [`NAMES`]; `role` and `content` are always there.
pub struct MsgArgs<'py> {
    slots: [Option<Bound<'py, PyAny>>; 9],
}

/// Places in [`NAMES`].
const ROLE: usize = 0;
const CONTENT: usize = 1;
const SOURCE: usize = 2;
const TURN: usize = 3;
const INTERRUPTED: usize = 4;
const SPEAKER: usize = 5;
const LANG: usize = 6;
const META: usize = 7;
const TIMESTAMP: usize = 8;

impl<'py> MsgArgs<'py> {
    /// Reads `(role, content, source="python", *, turn=None,
    /// interrupted=False, speaker=None, lang=None, meta=None,
    /// timestamp=None)`, raising `TypeError` as Python would for a call
    /// that does not fit; `func` names the method in those errors.
    pub fn parse(
        func: &str,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<MsgArgs<'py>> {
        let n = args.len();
        if n > 3 {
            return Err(PyTypeError::new_err(format!(
                "{func}() takes at most 3 positional arguments ({n} given)"
            )));
        }
        let mut slots: [Option<Bound<'py, PyAny>>; 9] = Default::default();
        for (i, slot) in slots.iter_mut().enumerate().take(n) {
            *slot = Some(args.get_item(i)?);
        }
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                let key = k.cast::<PyString>()?.to_string_lossy();
                let Some(i) = NAMES.iter().position(|n| *n == key) else {
                    return Err(PyTypeError::new_err(format!(
                        "{func}() got an unexpected keyword argument '{key}'"
                    )));
                };
                if slots[i].is_some() {
                    return Err(PyTypeError::new_err(format!(
                        "{func}() got multiple values for argument '{key}'"
                    )));
                }
                slots[i] = Some(v);
            }
        }
        for (i, pos) in [(ROLE, 1), (CONTENT, 2)] {
            if slots[i].is_none() {
                return Err(PyTypeError::new_err(format!(
                    "{func}() missing required argument '{}' (pos {pos})",
                    NAMES[i]
                )));
            }
        }
        Ok(MsgArgs { slots })
    }

    /// The argument at `i` in [`NAMES`], if given.
    fn get(&self, i: usize) -> Option<&Bound<'py, PyAny>> {
        self.slots[i].as_ref()
    }

    /// A required argument (`role`, `content`), checked by [`MsgArgs::parse`].
    fn required(&self, i: usize) -> PyResult<&Bound<'py, PyAny>> {
        self.get(i).ok_or_else(|| {
            PyTypeError::new_err(format!("missing required argument '{}'", NAMES[i]))
        })
    }

    /// The message, or why it cannot be one (`Err(reason)`; a Python
    /// exception only for a failure of Python itself).
    pub fn convert(self, py: Python<'py>, mode: Mode) -> PyResult<Result<Message, String>> {
        let mut c = Converter {
            mode,
            repaired: Vec::new(),
        };
        match c.message(py, self) {
            Ok(mut msg) => {
                mark_repaired(&mut msg, c.repaired);
                Ok(Ok(msg))
            }
            Err(Failure::Invalid(why)) => Ok(Err(why)),
            Err(Failure::Python(e)) => Err(e),
        }
    }
}

/// `v` as a recorder stores text: an unpaired surrogate becomes U+FFFD and
/// anything but a `str` its `str()`, and `what` is added to `repaired`.
pub fn recorder_text(
    v: &Bound<'_, PyAny>,
    what: &'static str,
    repaired: &mut Vec<&'static str>,
) -> PyResult<String> {
    lenient(repaired, |c| c.text(v, what))
}

/// `v` as a recorder stores a timestamp (see `Converter::timestamp`): one
/// that cannot be read is left out and `timestamp` added to `repaired`.
pub fn recorder_timestamp(
    py: Python<'_>,
    v: &Bound<'_, PyAny>,
    repaired: &mut Vec<&'static str>,
) -> PyResult<Option<String>> {
    lenient(repaired, |c| c.timestamp(py, Some(v)))
}

/// `convert` run in lenient mode, adding to `repaired` what it changed.
fn lenient<T>(
    repaired: &mut Vec<&'static str>,
    convert: impl FnOnce(&mut Converter) -> Conv<T>,
) -> PyResult<T> {
    let mut c = Converter {
        mode: Mode::Lenient,
        repaired: std::mem::take(repaired),
    };
    let out = convert(&mut c);
    *repaired = c.repaired;
    match out {
        Ok(v) => Ok(v),
        Err(Failure::Python(e)) => Err(e),
        // Lenient conversion refuses nothing; were it to, say so.
        Err(Failure::Invalid(why)) => Err(pyo3::exceptions::PyValueError::new_err(why)),
    }
}

/// Lists in `msg`'s `meta`, under [`REPAIRED`], what had to change to store it.
pub fn mark_repaired(msg: &mut Message, repaired: Vec<&'static str>) {
    if repaired.is_empty() {
        return;
    }
    let list = repaired.into_iter().map(Value::from).collect();
    let meta = msg
        .meta
        .get_or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Some(obj) = meta.as_object_mut() {
        obj.insert(REPAIRED.into(), Value::Array(list));
    }
}

/// `meta` and `timestamp` as :meth:`Session.log` takes them, for the other
/// records' writes: the value, or why it cannot be stored.
#[allow(clippy::type_complexity)]
pub fn meta_and_timestamp(
    py: Python<'_>,
    meta: Option<&Bound<'_, PyAny>>,
    timestamp: Option<&Bound<'_, PyAny>>,
) -> PyResult<Result<(Option<Value>, Option<String>), String>> {
    let mut c = Converter {
        mode: Mode::Strict,
        repaired: Vec::new(),
    };
    let both = c
        .meta(meta)
        .and_then(|m| c.timestamp(py, timestamp).map(|t| (m, t)));
    match both {
        Ok(v) => Ok(Ok(v)),
        Err(Failure::Invalid(why)) => Ok(Err(why)),
        Err(Failure::Python(e)) => Err(e),
    }
}

enum Failure {
    Invalid(String),
    Python(PyErr),
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Failure {
        Failure::Python(e)
    }
}

type Conv<T> = Result<T, Failure>;

struct Converter {
    mode: Mode,
    /// The arguments changed to store the message (lenient mode).
    repaired: Vec<&'static str>,
}

impl Converter {
    fn message<'py>(&mut self, py: Python<'py>, a: MsgArgs<'py>) -> Conv<Message> {
        let role = self.text(a.required(ROLE)?, "role")?;
        let role: Role = role
            .parse()
            .map_err(|e: convlog::Error| Failure::Invalid(e.to_string()))?;
        let content = self.text(a.required(CONTENT)?, "content")?;
        let source = match a.get(SOURCE) {
            Some(s) if !s.is_none() => self.text(s, "source")?,
            _ => "python".to_owned(),
        };
        let interrupted = match a.get(INTERRUPTED) {
            None => false,
            Some(v) => match v.cast::<PyBool>() {
                Ok(b) => b.is_true(),
                Err(_) => {
                    let ty = type_name(v);
                    self.repair("interrupted", || {
                        format!("`interrupted` must be a bool, not {ty}")
                    })?;
                    v.is_truthy()?
                }
            },
        };
        Ok(Message {
            role,
            content,
            source,
            turn: self.opt_text(a.get(TURN), "turn")?,
            interrupted,
            speaker: self.opt_text(a.get(SPEAKER), "speaker")?,
            lang: self.opt_text(a.get(LANG), "lang")?,
            meta: self.meta(a.get(META))?,
            timestamp: self.timestamp(py, a.get(TIMESTAMP))?,
        })
    }

    /// A refusal in strict mode; in lenient mode, notes `what` and goes on.
    fn repair(&mut self, what: &'static str, why: impl FnOnce() -> String) -> Conv<()> {
        match self.mode {
            Mode::Strict => Err(Failure::Invalid(why())),
            Mode::Lenient => {
                if !self.repaired.contains(&what) {
                    self.repaired.push(what);
                }
                Ok(())
            }
        }
    }

    /// A `str` as UTF-8; an unpaired surrogate, which UTF-8 cannot hold,
    /// is refused or becomes U+FFFD.
    fn string(&mut self, s: &Bound<'_, PyString>, what: &'static str) -> Conv<String> {
        match s.to_str() {
            Ok(t) => Ok(t.to_owned()),
            Err(_) => {
                self.repair(what, || {
                    format!("`{what}` holds an unpaired surrogate, which UTF-8 cannot store")
                })?;
                Ok(lossy(s)?)
            }
        }
    }

    fn text(&mut self, v: &Bound<'_, PyAny>, what: &'static str) -> Conv<String> {
        match v.cast::<PyString>() {
            Ok(s) => self.string(s, what),
            Err(_) => {
                let ty = type_name(v);
                self.repair(what, || format!("`{what}` must be a string, not {ty}"))?;
                Ok(lossy(&v.str()?)?)
            }
        }
    }

    /// An optional string; an int is taken as its digits (a turn number).
    fn opt_text(
        &mut self,
        v: Option<&Bound<'_, PyAny>>,
        what: &'static str,
    ) -> Conv<Option<String>> {
        match v {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() => {
                Ok(Some(v.str()?.to_str()?.to_owned()))
            }
            Some(v) => self.text(v, what).map(Some),
        }
    }

    fn meta(&mut self, v: Option<&Bound<'_, PyAny>>) -> Conv<Option<Value>> {
        let Some(m) = v.filter(|m| !m.is_none()) else {
            return Ok(None);
        };
        if !m.is_instance_of::<PyDict>() {
            let ty = type_name(m);
            self.repair("meta", || format!("`meta` must be a dict, not {ty}"))?;
            let mut wrapped = serde_json::Map::new();
            wrapped.insert("value".into(), self.json(m, 0)?);
            return Ok(Some(Value::Object(wrapped)));
        }
        self.json(m, 0).map(Some)
    }

    /// `meta`'s values as JSON: dicts with string keys, lists, tuples,
    /// strings, booleans, None, floats and integers of any size (kept
    /// digit for digit, as the command line keeps them).
    fn json(&mut self, obj: &Bound<'_, PyAny>, depth: usize) -> Conv<Value> {
        if depth > 64 {
            self.repair("meta", || "`meta` is nested too deeply".into())?;
            return Ok(Value::String(lossy(&obj.str()?)?));
        }
        if obj.is_none() {
            Ok(Value::Null)
        } else if let Ok(b) = obj.cast::<PyBool>() {
            Ok(Value::Bool(b.is_true()))
        } else if obj.is_instance_of::<PyInt>() {
            if let Ok(i) = obj.extract::<i64>() {
                return Ok(Value::from(i));
            }
            let digits = obj.str()?;
            match serde_json::from_str::<serde_json::Number>(digits.to_str()?) {
                Ok(n) => Ok(Value::Number(n)),
                Err(e) => Err(Failure::Invalid(format!(
                    "the integer {digits} in `meta` is not a JSON number: {e}"
                ))),
            }
        } else if let Ok(f) = obj.cast::<PyFloat>() {
            match serde_json::Number::from_f64(f.value()) {
                Some(n) => Ok(Value::Number(n)),
                None => {
                    let x = f.value();
                    self.repair("meta", || {
                        format!("`meta` holds {x}, which JSON cannot represent")
                    })?;
                    Ok(Value::String(x.to_string()))
                }
            }
        } else if let Ok(s) = obj.cast::<PyString>() {
            self.string(s, "meta").map(Value::String)
        } else if let Ok(d) = obj.cast::<PyDict>() {
            let mut m = serde_json::Map::with_capacity(d.len());
            for (k, v) in d.iter() {
                let key = match k.cast::<PyString>() {
                    Ok(k) => self.string(k, "meta")?,
                    Err(_) => {
                        self.repair("meta", || "`meta` keys must be strings".into())?;
                        lossy(&k.str()?)?
                    }
                };
                m.insert(key, self.json(&v, depth + 1)?);
            }
            Ok(Value::Object(m))
        } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
            let mut v = Vec::new();
            for item in obj.try_iter()? {
                v.push(self.json(&item?, depth + 1)?);
            }
            Ok(Value::Array(v))
        } else {
            let ty = type_name(obj);
            self.repair("meta", || format!("`meta` holds {ty}, which is not JSON"))?;
            Ok(Value::String(lossy(&obj.str()?)?))
        }
    }

    /// A timestamp as RFC 3339 in local time: a `datetime` (naive means
    /// local), epoch seconds (as LiveKit's `created_at`), or RFC 3339 text
    /// as is. In lenient mode one that cannot be read becomes "now".
    fn timestamp(&mut self, py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> Conv<Option<String>> {
        let Some(ts) = v.filter(|t| !t.is_none()) else {
            return Ok(None);
        };
        match rfc3339(py, ts)? {
            // A recorder writes every time as local time, as the format
            // says writers do; the public calls keep RFC 3339 text as given.
            Ok(s) if self.mode == Mode::Lenient => match engine::local_rfc3339(&s) {
                Ok(local) => Ok(Some(local)),
                Err(why) => {
                    self.repair("timestamp", || why)?;
                    Ok(None)
                }
            },
            Ok(s) => Ok(Some(s)),
            Err(why) => {
                self.repair("timestamp", || why)?;
                Ok(None)
            }
        }
    }
}

fn rfc3339(py: Python<'_>, ts: &Bound<'_, PyAny>) -> PyResult<Result<String, String>> {
    if let Ok(s) = ts.cast::<PyString>() {
        return Ok(match s.to_str() {
            Ok(s) => match engine::check_timestamp(s) {
                Ok(()) => Ok(s.to_owned()),
                Err(e) => Err(e),
            },
            Err(_) => Err("`timestamp` holds an unpaired surrogate".into()),
        });
    }
    if ts.is_instance_of::<PyBool>() {
        return Ok(Err("`timestamp` must be a datetime, not a bool".into()));
    }
    if ts.is_instance_of::<PyInt>() || ts.is_instance_of::<PyFloat>() {
        let secs: f64 = ts.extract()?;
        return Ok(engine::epoch_to_rfc3339(secs)
            .ok_or_else(|| format!("`timestamp` {secs} is out of range")));
    }
    if !(ts.hasattr("astimezone")? && ts.hasattr("timestamp")?) {
        let ty = type_name(ts);
        return Ok(Err(format!(
            "`timestamp` must be a datetime, epoch seconds or an RFC 3339 string, not {ty}"
        )));
    }
    // One call into Python: the instant (a naive datetime is local time, as
    // `astimezone` takes it), formatted in local time here.
    let secs: f64 = match ts.call_method0(pyo3::intern!(py, "timestamp")) {
        Ok(s) => s.extract()?,
        Err(e) => return Ok(Err(format!("`timestamp` {ts} has no local time: {e}"))),
    };
    Ok(engine::epoch_to_rfc3339(secs).ok_or_else(|| format!("`timestamp` {ts} is out of range")))
}

/// `s` as UTF-8, with each unpaired surrogate (which UTF-8 cannot hold)
/// as one U+FFFD.
pub fn text_lossy(s: &Bound<'_, PyString>) -> PyResult<String> {
    match s.to_str() {
        Ok(t) => Ok(t.to_owned()),
        Err(_) => lossy(s),
    }
}

/// `s` with each unpaired surrogate as one U+FFFD (PyO3's own lossy
/// conversion gives one per byte of its UTF-8-like encoding).
fn lossy(s: &Bound<'_, PyString>) -> PyResult<String> {
    let bytes = s.call_method1("encode", ("utf-16-le", "surrogatepass"))?;
    let bytes = bytes.cast::<pyo3::types::PyBytes>()?.as_bytes();
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(String::from_utf16_lossy(&units))
}

/// The value's type name with its article, for messages: `a list`, `an object`.
fn type_name(v: &Bound<'_, PyAny>) -> String {
    let name = v
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    let vowel = name.starts_with(|c: char| "aeiouAEIOU".contains(c));
    format!("{} {name}", if vowel { "an" } else { "a" })
}

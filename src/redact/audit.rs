//! What a redaction removed, by kind and count, never the values: the
//! `redacted` field of a message record and the totals `convlog stats` shows.

use std::collections::BTreeMap;
use std::fmt;

use super::Kind;
use crate::error::{Error, Result};

/// Counts of redacted values per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audit {
    counts: [u64; Kind::ALL.len()],
}

impl Audit {
    /// Counts one more `kind`.
    pub fn add(&mut self, kind: Kind, n: u64) {
        self.counts[kind as usize] += n;
    }

    /// How many values of `kind` were redacted.
    pub fn get(&self, kind: Kind) -> u64 {
        self.counts[kind as usize]
    }

    /// All kinds together.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// True when nothing was redacted.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// The kinds with a count, in [`Kind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, u64)> + '_ {
        Kind::ALL
            .iter()
            .map(|&k| (k, self.get(k)))
            .filter(|&(_, n)| n > 0)
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Audit) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
    }

    /// The record field's value: a JSON object of kind name → count, in
    /// [`Kind::ALL`] order, e.g. `{"phone":1,"card":2}`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (kind, n)) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(kind.name().as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(n.to_string().as_bytes());
        }
        out.push(b'}');
    }

    /// Adds the `redacted` field to a message's encoded fields (which end
    /// in `}`), unless nothing was redacted.
    pub(crate) fn append_field(&self, fields: &mut Vec<u8>) {
        if self.is_empty() || fields.last() != Some(&b'}') {
            return;
        }
        fields.pop();
        fields.extend_from_slice(b",\"redacted\":");
        self.write_json(fields);
        fields.push(b'}');
    }

    /// Reads a record's `redacted` field back. Kinds this build does not
    /// know (a later version's) are skipped, as readers skip unknown fields.
    pub fn from_json(raw: &str) -> Result<Audit> {
        let map: BTreeMap<String, u64> = serde_json::from_str(raw).map_err(|e| {
            Error::InvalidInput(format!(
                "`redacted` must be an object of kind names to counts: {e}"
            ))
        })?;
        let mut audit = Audit::default();
        for (name, n) in map {
            if let Some(kind) = Kind::from_name(&name) {
                audit.add(kind, n);
            }
        }
        Ok(audit)
    }
}

/// As the record field: `{"card":2,"email":1}`.
impl serde::Serialize for Audit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (kind, n) in self.iter() {
            map.serialize_entry(kind.name(), &n)?;
        }
        map.end()
    }
}

/// `card 2, email 1`, or `none`.
impl fmt::Display for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, (kind, n)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {n}", kind.name())?;
        }
        Ok(())
    }
}

//! The same-turn merger: the fragments of one streamed turn become one
//! message in every format (unless `no_merge` is set), with memory bounded
//! by the longest turn, not the log. The markers of [`parts`] put a
//! message split into parts, and a streamed reply's final record, back
//! together.
//!
//! A tool call or handoff never splits a turn: it is held back until the
//! message that started before it is written, so the messages come out the
//! same whether the export shows actions or not, and everything stays in
//! the order it started.

use std::borrow::Cow;

use super::{Action, ExportMessage, Render};
use crate::error::Result;
use crate::parts;
use crate::read::LoggedMessage;
use crate::record::{Header, MessageRecord};
use crate::redact::Policy;

/// Joins consecutive records of the same role and the same `turn`, and
/// redacts each message on its way out when asked: after merging, so that
/// a number read out across two fragments is still found.
pub struct Merger<R> {
    out: R,
    merge: bool,
    redact: Policy,
    /// The message being merged, when `has_pending`; kept after it is
    /// written so that the next one reuses its buffers.
    pending: Option<ExportMessage>,
    has_pending: bool,
    /// Actions logged after `pending` started, written after it.
    held: Vec<Action>,
}

impl<R: Render> Merger<R> {
    /// Wraps a renderer; `merge: false` passes every record through.
    pub fn new(out: R, merge: bool, redact: Policy) -> Merger<R> {
        Merger {
            out,
            merge,
            redact,
            pending: None,
            has_pending: false,
            held: Vec::new(),
        }
    }

    /// Hands the log's header to the renderer (it comes before any message).
    pub fn header(&mut self, h: &Header) -> Result<()> {
        self.out.header(h)
    }

    /// Feeds one record.
    pub fn push(&mut self, m: &MessageRecord<'_>) -> Result<()> {
        let merge = self.merge;
        if let Some(p) = self
            .pending
            .as_mut()
            .filter(|p| self.has_pending && p.role == m.role)
        {
            let marks = parts::marks(m.meta);
            // A part of a message too large for one record continues it with
            // no separator, merged or not: it is one message.
            if marks.continues() && p.turn.as_deref() == m.turn.as_deref() {
                p.message.content.push_str(&m.content);
                p.message.interrupted |= m.interrupted;
                return Ok(());
            }
            // A streamed reply's final record takes its fragments' place.
            if merge && marks.replaces.is_some() && p.turn.as_deref() == marks.replaces.as_deref() {
                p.set_from(m);
                return Ok(());
            }
            if merge && m.turn.is_some() && p.turn.as_deref() == m.turn.as_deref() {
                p.message.content.push(' ');
                p.message.content.push_str(&m.content);
                p.message.interrupted |= m.interrupted;
                p.fragments += 1;
                return Ok(());
            }
        }
        self.flush()?;
        match &mut self.pending {
            Some(p) => p.set_from(m),
            None => self.pending = Some(ExportMessage::single(LoggedMessage::from_record(m))),
        }
        self.has_pending = true;
        Ok(())
    }

    /// Feeds one tool call or handoff.
    pub fn action(&mut self, a: Action) -> Result<()> {
        if self.has_pending {
            self.held.push(a);
            Ok(())
        } else {
            self.out.action(&a)
        }
    }

    /// Writes the pending message and the actions held behind it.
    fn flush(&mut self) -> Result<()> {
        if let Some(p) = self.pending.as_mut().filter(|_| self.has_pending) {
            if let Some(r) = self.redact.redact(&p.content) {
                p.message.content = r.text;
            }
            self.out.message(p)?;
            self.has_pending = false;
        }
        for a in self.held.drain(..) {
            self.out.action(&a)?;
        }
        Ok(())
    }

    /// Flushes the last message and returns the renderer.
    pub fn finish(mut self) -> Result<R> {
        self.flush()?;
        Ok(self.out)
    }
}

impl ExportMessage {
    /// Makes this message a copy of `m`, reusing its buffers.
    fn set_from(&mut self, m: &MessageRecord<'_>) {
        fn copy(dst: &mut Option<String>, src: &Option<Cow<'_, str>>) {
            match src {
                Some(s) => {
                    let d = dst.get_or_insert_with(String::new);
                    d.clear();
                    d.push_str(s);
                }
                None => *dst = None,
            }
        }
        let msg = &mut self.message;
        msg.role = m.role;
        msg.content.clear();
        msg.content.push_str(&m.content);
        msg.ts.clear();
        msg.ts.push_str(&m.ts);
        msg.source.clear();
        msg.source.push_str(&m.source);
        copy(&mut msg.turn, &m.turn);
        copy(&mut msg.speaker, &m.speaker);
        copy(&mut msg.lang, &m.lang);
        match (&mut msg.meta, m.meta) {
            (Some(dst), Some(raw)) => {
                dst.clear();
                dst.push_str(raw.get());
            }
            (dst, raw) => *dst = raw.map(|r| r.get().to_string()),
        }
        msg.interrupted = m.interrupted;
        msg.seq = m.seq;
        self.fragments = 1;
    }
}

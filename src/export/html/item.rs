//! One message of the page as an `<li>`: the same markup whether the page
//! is rendered whole or a live update adds it.

use chrono::{DateTime, FixedOffset};

use super::escape::push_escaped;
use super::outline::Latency;
use super::{SHOWN_CONTENT_MAX, clock, offset_ms};
use crate::export::{Action, ExportMessage, role_name};
use crate::record::Role;

/// Writes messages as list items, carrying what one message tells the
/// next: the end-of-turn delay a user message recorded belongs to the
/// agent turn that answers it.
#[derive(Debug, Clone)]
pub struct ItemWriter {
    origin: Option<DateTime<FixedOffset>>,
    latency_max: f64,
    slow_from: Option<f64>,
    end_of_turn: Option<f64>,
}

impl ItemWriter {
    /// Offsets count from `origin` (the first message's time; `None`: from
    /// the first message written). Latency bars are drawn to the scale of
    /// `latency_max` seconds, and a turn whose end-to-end latency reaches
    /// `slow_from` is marked slow.
    pub fn new(
        origin: Option<DateTime<FixedOffset>>,
        latency_max: f64,
        slow_from: Option<f64>,
    ) -> ItemWriter {
        ItemWriter {
            origin,
            latency_max,
            slow_from,
            end_of_turn: None,
        }
    }

    /// Appends `m` as an `<li>` to `b`.
    pub fn write(&mut self, b: &mut String, m: &ExportMessage) {
        if self.origin.is_none() {
            self.origin = crate::time::parse_ts(&m.ts).ok();
        }
        let role = m.role();
        let mut lat = Latency::of(m.meta.as_deref());
        match role {
            Role::User => {
                self.end_of_turn = lat.end_of_turn;
                lat = Latency::default();
            }
            Role::Agent => {
                lat.end_of_turn = self.end_of_turn.take().or(lat.end_of_turn);
            }
        }
        // Live updates may bring a figure larger than the page's scale.
        self.latency_max = self.latency_max.max(lat.max());
        let slow = lat
            .total()
            .is_some_and(|t| self.slow_from.is_some_and(|s| t >= s));
        b.push_str(&format!(
            "<li id=\"seq-{}\" class=\"msg {}{}{}\" data-seq=\"{}\" data-role=\"{}\" data-turn=\"",
            m.seq,
            role.as_str(),
            if m.interrupted { " interrupted" } else { "" },
            if slow { " slow" } else { "" },
            m.seq,
            role.as_str(),
        ));
        push_escaped(b, m.turn.as_deref().unwrap_or(""));
        b.push_str("\">\n<div class=\"head\">");
        let offset = offset_ms(self.origin.as_ref(), &m.ts);
        b.push_str(&format!(
            "<a class=\"offset\" href=\"#seq-{}\">+{}</a> <span class=\"role\">{}</span>",
            m.seq,
            offset.map(clock).unwrap_or_else(|| "?".into()),
            role_name(role)
        ));
        let mut tag = |class: &str, text: &str| {
            b.push_str(" <span class=\"");
            b.push_str(class);
            b.push_str("\">");
            push_field(b, text);
            b.push_str("</span>");
        };
        if let Some(s) = &m.speaker {
            tag("speaker", s);
        }
        tag("source", &m.source);
        if let Some(l) = &m.lang {
            tag("lang", l);
        }
        if m.fragments > 1 {
            tag("frags", &format!("{} fragments merged", m.fragments));
        }
        if m.interrupted {
            tag("flag interrupted", "interrupted");
        }
        if slow {
            tag("flag slow", "slow");
        }
        b.push_str(" <time>");
        push_escaped(b, &m.ts);
        b.push_str("</time></div>\n<p class=\"content\">");
        content(b, &m.content);
        b.push_str("</p>\n");
        self.bars(b, &lat);
        if let Some(meta) = &m.meta {
            meta_details(b, meta);
        }
        b.push_str("</li>\n");
    }

    /// Appends a tool call or handoff, folded into the conversation where
    /// it happened, as its one-line summary.
    pub fn write_action(&mut self, b: &mut String, a: &Action) {
        if self.origin.is_none() {
            self.origin = crate::time::parse_ts(a.ts()).ok();
        }
        let role = a.role();
        b.push_str(&format!(
            "<li id=\"seq-{}\" class=\"act {role}\" data-seq=\"{}\" data-role=\"{role}\" data-turn=\"",
            a.seq(),
            a.seq()
        ));
        push_escaped(b, a.turn().unwrap_or(""));
        let offset = offset_ms(self.origin.as_ref(), a.ts());
        b.push_str(&format!(
            "\">\n<div class=\"head\"><a class=\"offset\" href=\"#seq-{}\">+{}</a> <span class=\"role\">{}</span> <span class=\"source\">",
            a.seq(),
            offset.map(clock).unwrap_or_else(|| "?".into()),
            if role == "tool" { "Tool call" } else { "Handoff" },
        ));
        push_field(b, a.source());
        b.push_str("</span> <time>");
        push_escaped(b, a.ts());
        b.push_str("</time></div>\n<p class=\"content\">");
        content(b, &a.summary());
        b.push_str("</p>\n</li>\n");
    }

    /// Latency bars, one per figure the turn has, on the session's scale.
    fn bars(&self, b: &mut String, lat: &Latency) {
        let rows = [
            ("eot", "end of turn", lat.end_of_turn),
            ("llm", "LLM TTFT", lat.llm_ttft),
            ("tts", "TTS TTFB", lat.tts_ttfb),
            ("e2e", "end to end", lat.e2e),
            ("host", "host latency", lat.host),
        ];
        if rows.iter().all(|r| r.2.is_none()) {
            return;
        }
        let scale = self.latency_max.max(0.001);
        b.push_str("<div class=\"latency\">\n");
        for (class, name, v) in rows {
            let Some(v) = v else { continue };
            // A width class per whole percent (`w0`…`w100`, in the
            // stylesheet): plain boxes, cheaper for a browser to lay out by
            // the thousand than an SVG each, and no `style` attribute for
            // the Content-Security-Policy to allow.
            b.push_str(&format!(
                "<div class=\"bar\"><span class=\"name\">{name}</span><span class=\"track\"><i class=\"{class} w{}\"></i></span><span class=\"val\">{:.3} s</span></div>\n",
                (v / scale * 100.0).round().clamp(1.0, 100.0) as u32,
                v
            ));
        }
        b.push_str("</div>\n");
    }
}

/// The content, escaped, cut at [`SHOWN_CONTENT_MAX`] with a note.
fn content(b: &mut String, text: &str) {
    let shown = cut(text);
    push_escaped(b, shown);
    if shown.len() < text.len() {
        b.push_str(&format!(
            "</p>\n<p class=\"cut\">Shown cut at {} KiB of {} bytes: the log and every other export hold the whole message.",
            SHOWN_CONTENT_MAX >> 10,
            text.len()
        ));
    }
}

/// Any other field from the log (speaker, source, a `meta` value), escaped
/// and cut as the content is, with a short note inline: a tab stays usable
/// whichever field is 50 MB long.
fn push_field(b: &mut String, text: &str) {
    let shown = cut(text);
    push_escaped(b, shown);
    if shown.len() < text.len() {
        b.push_str(&format!(
            "<span class=\"cut\"> … cut at {} KiB of {} bytes</span>",
            SHOWN_CONTENT_MAX >> 10,
            text.len()
        ));
    }
}

/// The first [`SHOWN_CONTENT_MAX`] bytes of `text`, on a character boundary.
fn cut(text: &str) -> &str {
    if text.len() <= SHOWN_CONTENT_MAX {
        return text;
    }
    let mut at = SHOWN_CONTENT_MAX;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    &text[..at]
}

/// `meta` as a list of keys and values (JSON text), folded away.
fn meta_details(b: &mut String, raw: &str) {
    b.push_str("<details class=\"meta\"><summary>meta</summary><dl>");
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw) {
        Ok(map) => {
            for (k, v) in &map {
                b.push_str("<dt>");
                push_field(b, k);
                b.push_str("</dt><dd>");
                match v {
                    serde_json::Value::String(s) => push_field(b, s),
                    other => push_field(b, &other.to_string()),
                }
                b.push_str("</dd>");
            }
        }
        Err(_) => {
            b.push_str("<dt>raw</dt><dd>");
            push_field(b, raw);
            b.push_str("</dd>");
        }
    }
    b.push_str("</dl></details>\n");
}

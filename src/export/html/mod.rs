//! `html`: a session as a page to look at: facts, a timeline of who spoke
//! when, the conversation with per-turn latency bars, and the damage a scan
//! found, where it is.
//!
//! The same page serves two uses. `convlog export --format html` writes it
//! as one self-contained file (the stylesheet inline, no script, no
//! external reference) to attach to a ticket; it is a function of the log's
//! bytes alone (no clock, no host name), so the same log always gives the
//! same file. `convlog serve` sends it with the stylesheet and a small
//! script linked instead, and the links it adds ([`PageOptions`]).
//!
//! Everything from the log is escaped (see `escape`); nothing from the log
//! goes into a URL. The layout (bars, timeline) is SVG geometry and CSS
//! classes, never a `style` attribute, so a strict Content-Security-Policy
//! needs no `unsafe-inline`.

use std::io::Write;
use std::path::Path;

use super::{Action, ExportMessage, ExportOptions, Render, Sink, role_name};
use crate::error::Result;
use crate::read::{Damage, Report};
use crate::record::Role;
use crate::time::parse_ts;

mod escape;
mod item;
mod outline;

pub use escape::{escaped, push_escaped, url_segment};
pub use item::ItemWriter;
pub use outline::{Latency, Outline, Segment, millis, outline};

/// The page's stylesheet, inline in an export and served as a file by `convlog serve`.
pub const STYLESHEET: &str = include_str!("page.css");

/// The self-contained page's own Content-Security-Policy: no script at
/// all, nothing from anywhere, only its inline stylesheet.
const EXPORT_CSP: &str = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
     style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n";

/// A message longer than this (in bytes) shows cut, with a note saying how
/// long it is: a browser tab stays usable with a 50 MB message in the log,
/// whose full text every other export and the log itself keep.
pub const SHOWN_CONTENT_MAX: usize = 256 << 10;

/// What a served page adds to the self-contained one. The default is the
/// export's page: stylesheet inline, no script, no links.
#[derive(Debug, Clone, Default)]
pub struct PageOptions {
    /// Link this stylesheet instead of inlining [`STYLESHEET`].
    pub stylesheet: Option<String>,
    /// Load this script (deferred).
    pub script: Option<String>,
    /// A link back to the list of sessions.
    pub home: Option<String>,
    /// Where the page's script subscribes to live updates (server-sent
    /// events), for a session that has not ended.
    pub live: Option<String>,
    /// Download links: (label, href).
    pub downloads: Vec<(String, String)>,
}

/// Renders the page for `log` into `out`, checked first as every export is.
pub fn render_page<W: Write>(
    log: &Path,
    out: W,
    dest: &Path,
    opts: &ExportOptions,
    page: PageOptions,
) -> Result<Report> {
    let render = HtmlRender::new(out, dest, log, opts, page)?;
    Ok(super::render_with(log, render, opts)?.1)
}

/// The page, written as the messages stream through.
pub struct HtmlRender<W> {
    sink: Sink<W>,
    title: String,
    page: PageOptions,
    outline: Outline,
    items: ItemWriter,
    /// Damaged lines not yet shown: index into the outline's damage.
    next_damage: usize,
    buf: String,
}

impl<W: Write> HtmlRender<W> {
    /// Outlines `log` (one read) and gets ready to write its page to `out`;
    /// `dest` names the destination in errors.
    pub fn new(
        out: W,
        dest: &Path,
        log: &Path,
        opts: &ExportOptions,
        page: PageOptions,
    ) -> Result<HtmlRender<W>> {
        let outline = outline(log, opts.recovery)?;
        let title = log
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "conversation".into());
        Ok(HtmlRender {
            sink: Sink::new(out, dest),
            title,
            items: ItemWriter::new(outline.origin, outline.latency_max, outline.slow_from),
            page,
            outline,
            next_damage: 0,
            buf: String::with_capacity(4096),
        })
    }

    /// Writes what `buf` holds and empties it.
    fn flush_buf(&mut self) -> Result<()> {
        let buf = &self.buf;
        self.sink.write(|w| w.write_all(buf.as_bytes()))?;
        self.buf.clear();
        Ok(())
    }

    /// Shows the damaged lines that sit before a message starting at `seq`
    /// (all that are left when `seq` is `None`).
    fn damage_before(&mut self, seq: Option<u64>) {
        let damage = &self.outline.report.damage;
        while self.next_damage < damage.len() {
            let after = self.outline.damage_after[self.next_damage];
            if seq.is_some_and(|s| after.is_some_and(|a| a >= s)) {
                break;
            }
            damage_item(&mut self.buf, &damage[self.next_damage]);
            self.next_damage += 1;
        }
    }

    fn head(&mut self) {
        let b = &mut self.buf;
        let r = &self.outline.report;
        b.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        b.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        b.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
        push_escaped(b, &self.title);
        b.push_str(" · convlog</title>\n");
        match &self.page.stylesheet {
            Some(href) => {
                b.push_str("<link rel=\"stylesheet\" href=\"");
                push_escaped(b, href);
                b.push_str("\">\n");
            }
            None => {
                // A file opened from disk gets no server's headers: the page
                // carries its own policy, so that even markup that slipped
                // through escaping could run nothing and fetch nothing.
                b.push_str(EXPORT_CSP);
                b.push_str("<style>\n");
                b.push_str(STYLESHEET);
                b.push_str("</style>\n");
            }
        }
        if let Some(src) = &self.page.script {
            b.push_str("<script src=\"");
            push_escaped(b, src);
            b.push_str("\" defer></script>\n");
        }
        b.push_str("</head>\n<body class=\"session\"");
        if let (Some(live), false) = (&self.page.live, r.ended) {
            b.push_str(" data-live=\"");
            push_escaped(b, live);
            b.push_str(&format!("\" data-last-seq=\"{}\"", r.last_seq.unwrap_or(0)));
        }
        b.push_str(">\n<header class=\"top\">\n");
        if let Some(home) = &self.page.home {
            b.push_str("<nav><a href=\"");
            push_escaped(b, home);
            b.push_str("\">← Sessions</a></nav>\n");
        }
        b.push_str("<h1>");
        push_escaped(b, &self.title);
        b.push_str("</h1>\n<dl class=\"facts\">\n");
        let fact = |b: &mut String, name: &str, value: &str| {
            b.push_str("<div><dt>");
            b.push_str(name);
            b.push_str("</dt><dd>");
            push_escaped(b, value);
            b.push_str("</dd></div>\n");
        };
        if let Some(h) = &r.header {
            fact(b, "Session", &h.session);
            fact(b, "Created", &h.created);
        }
        let (start, _) = crate::stats::span(r);
        fact(b, "Start", start.unwrap_or("-"));
        fact(b, "Duration", &clock(self.outline.span_ms));
        fact(
            b,
            "Messages",
            &format!("{} user · {} agent", r.user_messages, r.agent_messages),
        );
        if r.tool_calls + r.handoffs > 0 {
            fact(
                b,
                "Actions",
                &format!(
                    "{} tool calls ({} failed) · {} handoffs",
                    r.tool_calls, r.tool_errors, r.handoffs
                ),
            );
        }
        let state = crate::stats::State::of(r);
        b.push_str("<div><dt>State</dt><dd><span id=\"state\" class=\"state ");
        b.push_str(state.as_str());
        b.push_str("\">");
        b.push_str(state.as_str());
        b.push_str("</span>");
        if let Some(d) = crate::stats::damage_summary(r) {
            b.push_str(" <a href=\"#damage\">");
            push_escaped(b, &d);
            b.push_str("</a>");
        }
        b.push_str("</dd></div>\n</dl>\n");
        if !self.page.downloads.is_empty() {
            b.push_str("<p class=\"downloads\">Download:");
            for (label, href) in &self.page.downloads {
                b.push_str(" <a download href=\"");
                push_escaped(b, href);
                b.push_str("\">");
                push_escaped(b, label);
                b.push_str("</a>");
            }
            b.push_str("</p>\n");
        }
        b.push_str("</header>\n");
        // A live page gets the timeline even before anyone spoke: it grows.
        let live = self.page.live.is_some() && !r.ended;
        timeline(b, &self.outline, live);
        if !r.damage.is_empty() {
            b.push_str("<section id=\"damage\" class=\"damage-list\">\n<h2>Damage</h2>\n<ul>\n");
            for d in &r.damage {
                b.push_str(&format!("<li><a href=\"#line-{}\">", d.line));
                damage_text(b, d);
                b.push_str("</a></li>\n");
            }
            b.push_str("</ul>\n</section>\n");
        }
        b.push_str(
            "<main>\n<h2>Conversation</h2>\n<ol id=\"conversation\" class=\"conversation\">\n",
        );
    }
}

impl<W: Write> Render for HtmlRender<W> {
    fn begin(&mut self) -> Result<()> {
        self.head();
        self.flush_buf()
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        self.damage_before(Some(m.seq));
        self.items.write(&mut self.buf, m);
        if self.buf.len() >= 1 << 16 {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn action(&mut self, a: &Action) -> Result<()> {
        self.damage_before(Some(a.seq()));
        self.items.write_action(&mut self.buf, a);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.damage_before(None);
        let r = &self.outline.report;
        let b = &mut self.buf;
        b.push_str("</ol>\n");
        if !r.ended {
            b.push_str("<p id=\"live\" class=\"live\">");
            b.push_str(if self.page.live.is_some() {
                "Open: new messages appear here as they are written."
            } else {
                "Open: the session had not ended when this page was made."
            });
            b.push_str("</p>\n");
        }
        b.push_str("</main>\n<footer>From ");
        push_escaped(b, &self.title);
        b.push_str(&format!(
            ": {} lines, {} bytes{}. Rendered by convlog {}.</footer>\n</body>\n</html>\n",
            r.lines,
            r.file_len,
            r.last_seq
                .map(|s| format!(", last seq {s}"))
                .unwrap_or_default(),
            env!("CARGO_PKG_VERSION"),
        ));
        self.flush_buf()?;
        self.sink.flush()
    }
}

/// A damaged line, as an item of the conversation where it sits.
fn damage_item(b: &mut String, d: &Damage) {
    b.push_str(&format!("<li class=\"damage\" id=\"line-{}\">", d.line));
    damage_text(b, d);
    b.push_str("</li>\n");
}

fn damage_text(b: &mut String, d: &Damage) {
    b.push_str(&format!(
        "Line {} (byte {}, {} bytes): <strong>{}</strong> — ",
        d.line,
        d.offset,
        d.len,
        d.kind.name()
    ));
    push_escaped(b, &d.reason);
}

/// Who spoke when: one lane per role, one bar per run of one role's
/// messages, each linking to its first message. Each bar carries its span
/// in milliseconds (`data-start`, `data-end`), and the chart the session's
/// (`data-span`), so a live page's script can extend and rescale it.
fn timeline(b: &mut String, o: &Outline, live: bool) {
    if o.segments.is_empty() && !live {
        return;
    }
    const W: f64 = 1000.0;
    let span = o.span_ms.max(1.0);
    b.push_str("<section class=\"timeline\">\n<h2>Timeline</h2>\n");
    b.push_str("<div class=\"lanes\"><span class=\"lane-name user\">User</span><span class=\"lane-name agent\">Agent</span></div>\n");
    b.push_str(&format!(
        "<svg id=\"tl\" class=\"tl\" data-span=\"{:.0}\" viewBox=\"0 0 1000 40\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"Timeline of who spoke when\">\n",
        o.span_ms
    ));
    for (s, turns) in bars(o) {
        let w = ((s.end_ms - s.start_ms) / span * W).clamp(2.0, W);
        let x = (s.start_ms / span * W).min(W - w);
        let (y, class) = match s.role {
            Role::User => (2, "user"),
            Role::Agent => (22, "agent"),
        };
        let title = match turns {
            1 => format!("{} at {}", role_name(s.role), clock(s.start_ms)),
            n => format!(
                "{}: {n} turns from {} to {}",
                role_name(s.role),
                clock(s.start_ms),
                clock(s.end_ms)
            ),
        };
        b.push_str(&format!(
            "<a href=\"#seq-{}\"><rect class=\"{class}\" data-start=\"{:.0}\" data-end=\"{:.0}\" x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\"><title>{title}</title></rect></a>\n",
            s.seq, s.start_ms, s.end_ms,
        ));
    }
    b.push_str("</svg>\n");
    b.push_str(&format!(
        "<div class=\"axis\"><span>0:00</span><span id=\"tl-span\">{}</span></div>\n</section>\n",
        clock(o.span_ms)
    ));
}

/// Turns drawn one bar each up to this many. Beyond, a lane's turns that
/// fall within one unit of the 1000-unit chart of each other share a bar:
/// a 10,000-message session draws a few hundred bars, not 10,000 SVG
/// elements the browser must lay out before it shows the conversation.
const BARS_MAX: usize = 500;

/// The timeline's bars, each with the number of turns it stands for.
fn bars(o: &Outline) -> Vec<(Segment, usize)> {
    if o.segments.len() <= BARS_MAX {
        return o.segments.iter().map(|s| (*s, 1)).collect();
    }
    let unit = o.span_ms.max(1.0) / 1000.0;
    let mut out: Vec<(Segment, usize)> = Vec::new();
    // The last bar of each lane (user, agent), as an index into `out`.
    let mut last: [Option<usize>; 2] = [None, None];
    for s in &o.segments {
        let lane = usize::from(s.role == Role::Agent);
        match last[lane] {
            Some(i) if s.start_ms - out[i].0.end_ms <= unit => {
                out[i].0.end_ms = out[i].0.end_ms.max(s.end_ms);
                out[i].1 += 1;
            }
            _ => {
                last[lane] = Some(out.len());
                out.push((*s, 1));
            }
        }
    }
    out
}

/// `m:ss.mmm` (or `h:mm:ss.mmm`) for a number of milliseconds.
pub fn clock(ms: f64) -> String {
    let total = ms.max(0.0).round() as u64;
    let (h, m, s, milli) = (
        total / 3_600_000,
        total / 60_000 % 60,
        total / 1000 % 60,
        total % 1000,
    );
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{milli:03}")
    } else {
        format!("{m}:{s:02}.{milli:03}")
    }
}

/// The time offset of a stored timestamp from `origin`, in milliseconds.
fn offset_ms(origin: Option<&chrono::DateTime<chrono::FixedOffset>>, ts: &str) -> Option<f64> {
    let t = parse_ts(ts).ok()?;
    Some(outline::millis(origin?, &t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(n: u64) -> Outline {
        let segments: Vec<Segment> = (0..n)
            .map(|i| Segment {
                role: if i % 2 == 0 { Role::User } else { Role::Agent },
                start_ms: i as f64 * 1000.0,
                end_ms: (i + 1).min(n - 1) as f64 * 1000.0,
                seq: i + 1,
            })
            .collect();
        Outline {
            span_ms: (n - 1) as f64 * 1000.0,
            segments,
            ..Outline::default()
        }
    }

    #[test]
    fn a_long_session_draws_a_bar_per_pixel_not_per_turn() {
        // Few turns: one bar each, as said.
        let few = bars(&turns(BARS_MAX as u64));
        assert_eq!(few.len(), BARS_MAX);
        assert!(few.iter().all(|(_, n)| *n == 1));
        // 10,000 turns a second apart on a 1000-unit chart: each lane's
        // turns touch, so each lane is one bar standing for all of them.
        let many = bars(&turns(10_000));
        assert_eq!(many.len(), 2);
        assert_eq!(many.iter().map(|(_, n)| n).sum::<usize>(), 10_000);
        assert_eq!((many[0].0.role, many[0].0.seq), (Role::User, 1));
        assert_eq!((many[1].0.role, many[1].0.seq), (Role::Agent, 2));
        assert_eq!(many[1].0.end_ms, 9_999_000.0);
        // A silence longer than a unit splits the user's lane; the agent,
        // who spoke last before it, holds the floor through it.
        let mut gap = turns(1000);
        for s in &mut gap.segments[600..] {
            s.start_ms += 200_000.0;
            s.end_ms += 200_000.0;
        }
        gap.segments[599].end_ms = gap.segments[600].start_ms;
        gap.span_ms += 200_000.0;
        let split = bars(&gap);
        let roles: Vec<Role> = split.iter().map(|(s, _)| s.role).collect();
        assert_eq!(roles, [Role::User, Role::Agent, Role::User]);
        assert_eq!((split[2].0.seq, split[2].1), (601, 200));
    }

    #[test]
    fn clocks_read_as_minutes_and_hours() {
        assert_eq!(clock(0.0), "0:00.000");
        assert_eq!(clock(61_234.4), "1:01.234");
        assert_eq!(clock(3_723_004.0), "1:02:03.004");
        assert_eq!(clock(-5.0), "0:00.000");
    }
}

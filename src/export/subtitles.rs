//! `srt` and `vtt`: one subtitle cue per message.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, FixedOffset};

use super::{ExportMessage, Render, Sink, role_name, time_of};
use crate::error::Result;
use crate::record::Header;
use crate::time::parse_ts;

/// Which subtitle format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subtitles {
    /// SubRip: numbered cues, `00:00:01,234`.
    Srt,
    /// WebVTT: a `WEBVTT` header, `00:00:01.234`, voice tags.
    Vtt,
}

/// SRT or WebVTT cues, one per message.
///
/// Subtitle cues start at the message's time relative to the session start
/// (the header's `created`; the first message's time when the header is
/// damaged or the first message is older, as ingested messages can be).
/// A cue ends at `meta.duration_ms` after its start when the message is a
/// single record carrying that number, otherwise where the next message
/// starts; the last cue lasts 70 ms per character, at least 1 s and at most
/// 10 s. These are times text reached the logger, not audio times.
pub struct SubtitleRender<W> {
    sink: Sink<W>,
    kind: Subtitles,
    origin: Option<DateTime<FixedOffset>>,
    /// The previous message waits until the next one tells where it ends.
    pending: Option<(ExportMessage, DateTime<FixedOffset>)>,
    cues: u64,
}

/// How long the last cue stays up per character of text.
const LAST_CUE_MS_PER_CHAR: i64 = 70;
/// Bounds on the last cue's length.
const LAST_CUE_MS: (i64, i64) = (1_000, 10_000);

impl<W: Write> SubtitleRender<W> {
    /// Writes to `out`; cue times count from `origin` (the session start),
    /// or from the header's, handed to [`Render::header`] as the log is
    /// read, or else from the first message.
    pub fn new(
        out: W,
        path: &Path,
        kind: Subtitles,
        origin: Option<DateTime<FixedOffset>>,
    ) -> SubtitleRender<W> {
        SubtitleRender {
            sink: Sink::new(out, path),
            kind,
            origin,
            pending: None,
            cues: 0,
        }
    }

    fn offset_ms(&self, t: &DateTime<FixedOffset>) -> i64 {
        self.origin
            .map(|o| (*t - o).num_milliseconds().max(0))
            .unwrap_or(0)
    }

    fn emit(
        &mut self,
        m: &ExportMessage,
        start: &DateTime<FixedOffset>,
        next: Option<&DateTime<FixedOffset>>,
    ) -> Result<()> {
        let from = self.offset_ms(start);
        let duration = (m.fragments == 1)
            .then(|| meta_duration_ms(m.meta.as_deref()))
            .flatten();
        let to = match (duration, next) {
            (Some(d), _) => from + d,
            (None, Some(n)) => self.offset_ms(n),
            (None, None) => {
                let chars = m.content.chars().count() as i64;
                from + (chars * LAST_CUE_MS_PER_CHAR).clamp(LAST_CUE_MS.0, LAST_CUE_MS.1)
            }
        };
        // A cue must end after it starts (messages logged in the same millisecond).
        let to = to.max(from + 1);
        self.cues += 1;
        let n = self.cues;
        let kind = self.kind;
        let text = cue_text(kind, m);
        self.sink.write(|w| match kind {
            Subtitles::Srt => write!(
                w,
                "{n}\n{} --> {}\n{text}\n\n",
                cue_time(from, ','),
                cue_time(to, ',')
            ),
            Subtitles::Vtt => write!(
                w,
                "{} --> {}\n{text}\n\n",
                cue_time(from, '.'),
                cue_time(to, '.')
            ),
        })
    }
}

/// `meta.duration_ms` when it is a non-negative number.
fn meta_duration_ms(meta: Option<&str>) -> Option<i64> {
    let meta = meta.filter(|m| m.contains("\"duration_ms\""))?;
    let v: serde_json::Value = serde_json::from_str(meta).ok()?;
    let ms = v.get("duration_ms")?.as_f64()?;
    (0.0..1e12).contains(&ms).then_some(ms.round() as i64)
}

/// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT).
fn cue_time(ms: i64, sep: char) -> String {
    let ms = ms.max(0);
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The cue's text: no blank lines (they would end the cue), `-->` never
/// appears, and WebVTT's `&`, `<`, `>` are escaped.
fn cue_text(kind: Subtitles, m: &ExportMessage) -> String {
    let lines: Vec<&str> = m
        .content
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut text = lines.join("\n");
    if m.interrupted {
        text.push_str(" [interrupted]");
    }
    match kind {
        Subtitles::Srt => format!("[{}] {}", m.role().tag(), text.replace("-->", "->")),
        Subtitles::Vtt => format!(
            "<v {}>{}",
            role_name(m.role()),
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        ),
    }
}

impl<W: Write> Render for SubtitleRender<W> {
    fn begin(&mut self) -> Result<()> {
        match self.kind {
            Subtitles::Vtt => self.sink.write(|w| w.write_all(b"WEBVTT\n\n")),
            Subtitles::Srt => Ok(()),
        }
    }

    fn header(&mut self, h: &Header) -> Result<()> {
        self.origin = parse_ts(&h.created).ok();
        Ok(())
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        let start = time_of(m)?;
        if self.pending.is_none() && self.cues == 0 && self.origin.is_none_or(|o| start < o) {
            // No session start, or messages from before it (ingested with
            // their own times): count from the first message instead.
            self.origin = Some(start);
        }
        if let Some((prev, prev_start)) = self.pending.take() {
            self.emit(&prev, &prev_start, Some(&start))?;
        }
        self.pending = Some((m.clone(), start));
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some((prev, prev_start)) = self.pending.take() {
            self.emit(&prev, &prev_start, None)?;
        }
        self.sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::LoggedMessage;
    use crate::record::Role;
    use crate::time::parse_ts;

    fn msg(role: Role, content: &str, ts: &str) -> ExportMessage {
        ExportMessage::single(LoggedMessage {
            seq: 0,
            ts: ts.into(),
            role,
            content: content.into(),
            source: "s".into(),
            turn: None,
            interrupted: false,
            speaker: None,
            lang: None,
            meta: None,
        })
    }

    fn render(r: &mut impl Render, msgs: &[ExportMessage]) {
        r.begin().unwrap();
        for m in msgs {
            r.message(m).unwrap();
        }
        r.finish().unwrap();
    }

    #[test]
    fn cue_times_and_ends() {
        assert_eq!(cue_time(3_723_004, ','), "01:02:03,004");
        assert_eq!(cue_time(-5, '.'), "00:00:00.000");
        let mut m1 = msg(Role::User, "hi", "2025-08-18T14:30:01.000000+05:30");
        m1.message.meta = Some(r#"{"duration_ms":1500}"#.into());
        let m2 = msg(
            Role::Agent,
            "a <b> & c --> d",
            "2025-08-18T14:30:05.250000+05:30",
        );
        let origin = parse_ts("2025-08-18T14:30:00.000000+05:30").ok();
        let mut r = SubtitleRender::new(Vec::new(), Path::new("x"), Subtitles::Vtt, origin);
        render(&mut r, &[m1.clone(), m2.clone()]);
        assert_eq!(
            String::from_utf8(r.sink.out).unwrap(),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n<v User>hi\n\n\
             00:00:05.250 --> 00:00:06.300\n<v Agent>a &lt;b&gt; &amp; c --&gt; d\n\n"
        );
        let mut r = SubtitleRender::new(Vec::new(), Path::new("x"), Subtitles::Srt, None);
        m1.message.meta = None;
        render(&mut r, &[m1, m2]);
        assert_eq!(
            String::from_utf8(r.sink.out).unwrap(),
            "1\n00:00:00,000 --> 00:00:04,250\n[USER] hi\n\n\
             2\n00:00:04,250 --> 00:00:05,300\n[AGENT] a <b> & c -> d\n\n"
        );
    }
}

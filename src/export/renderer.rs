//! Every renderer behind one type: the format is picked once, when the
//! export starts, and the record loop stays generic over the writer.

use std::io::Write;
use std::path::Path;

use super::{
    Action, CsvRender, ExportMessage, ExportOptions, Format, HtmlRender, JsonRender, JsonlRender,
    MarkdownRender, Render, SubtitleRender, Subtitles, TextRender,
};
use crate::error::Result;
use crate::record::Header;

/// Every renderer behind one type, so that [`render`](super::render) and [`export_file`](super::export_file)
/// pick the format once and stay generic over the writer.
pub(super) enum Renderer<W> {
    Json(JsonRender<W>),
    Jsonl(JsonlRender<W>),
    Markdown(MarkdownRender<W>),
    Text(TextRender<W>),
    Csv(CsvRender<W>),
    Subtitles(SubtitleRender<W>),
    Html(Box<HtmlRender<W>>),
}

impl<W: Write> Renderer<W> {
    /// The renderer for `format`. `dest` names the destination in errors;
    /// the Markdown title is the log's file stem, and subtitle cues count
    /// from the session start in the log's header, which they are handed
    /// as the log is read.
    pub(super) fn new(
        log: &Path,
        format: Format,
        out: W,
        dest: &Path,
        opts: &ExportOptions,
    ) -> Result<Self> {
        let ts = opts.timestamps;
        Ok(match format {
            Format::Json => Renderer::Json(JsonRender::new(out, dest, ts)),
            Format::Jsonl => Renderer::Jsonl(JsonlRender::new(out, dest, ts)),
            Format::Markdown => {
                let title = log
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "conversation".into());
                Renderer::Markdown(MarkdownRender::new(out, dest, &title))
            }
            Format::Text => Renderer::Text(TextRender::new(out, dest)),
            Format::Csv => Renderer::Csv(CsvRender::new(out, dest, ts)),
            Format::Srt | Format::Vtt => {
                let kind = if format == Format::Srt {
                    Subtitles::Srt
                } else {
                    Subtitles::Vtt
                };
                Renderer::Subtitles(SubtitleRender::new(out, dest, kind, None))
            }
            Format::Html => Renderer::Html(Box::new(HtmlRender::new(
                out,
                dest,
                log,
                opts,
                super::html::PageOptions::default(),
            )?)),
        })
    }
}

impl<W: Write> Render for Renderer<W> {
    fn begin(&mut self) -> Result<()> {
        match self {
            Renderer::Json(r) => r.begin(),
            Renderer::Jsonl(r) => r.begin(),
            Renderer::Markdown(r) => r.begin(),
            Renderer::Text(r) => r.begin(),
            Renderer::Csv(r) => r.begin(),
            Renderer::Subtitles(r) => r.begin(),
            Renderer::Html(r) => r.begin(),
        }
    }

    fn header(&mut self, h: &Header) -> Result<()> {
        match self {
            Renderer::Json(r) => r.header(h),
            Renderer::Jsonl(r) => r.header(h),
            Renderer::Markdown(r) => r.header(h),
            Renderer::Text(r) => r.header(h),
            Renderer::Csv(r) => r.header(h),
            Renderer::Subtitles(r) => r.header(h),
            Renderer::Html(r) => r.header(h),
        }
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        match self {
            Renderer::Json(r) => r.message(m),
            Renderer::Jsonl(r) => r.message(m),
            Renderer::Markdown(r) => r.message(m),
            Renderer::Text(r) => r.message(m),
            Renderer::Csv(r) => r.message(m),
            Renderer::Subtitles(r) => r.message(m),
            Renderer::Html(r) => r.message(m),
        }
    }

    fn action(&mut self, a: &Action) -> Result<()> {
        match self {
            Renderer::Json(r) => r.action(a),
            Renderer::Jsonl(r) => r.action(a),
            Renderer::Markdown(r) => r.action(a),
            Renderer::Text(r) => r.action(a),
            Renderer::Csv(r) => r.action(a),
            Renderer::Subtitles(r) => r.action(a),
            Renderer::Html(r) => r.action(a),
        }
    }

    fn finish(&mut self) -> Result<()> {
        match self {
            Renderer::Json(r) => r.finish(),
            Renderer::Jsonl(r) => r.finish(),
            Renderer::Markdown(r) => r.finish(),
            Renderer::Text(r) => r.finish(),
            Renderer::Csv(r) => r.finish(),
            Renderer::Subtitles(r) => r.finish(),
            Renderer::Html(r) => r.finish(),
        }
    }
}

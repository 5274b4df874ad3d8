//! Console output: colour choice, the original design's log-line format,
//! and stdout that tolerates a closed pipe.

use std::fmt;
use std::io::IsTerminal;

use convlog::Role;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::ColorChoice;

/// Decides once whether to colour: `--color`, then NO_COLOR (any non-empty value), then a terminal check.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// Formats events as the original design's Python logging did:
/// `2025-08-18 14:30:22,123 - INFO convlog - [USER] …`.
struct PyLogFormat;

impl<S, N> FormatEvent<S, N> for PyLogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(
            w,
            "{} - {} {} - ",
            chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f"),
            meta.level(),
            meta.target()
        )?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Sends the library's `tracing` output (the `[USER]`/`[AGENT]` echo and
/// warnings) to stderr. `CONVLOG_LOG` overrides the filter (default `info`).
pub fn init_tracing(color: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONVLOG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .event_format(PyLogFormat)
        .try_init();
}

/// ANSI styling that disappears when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    /// Bold.
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    /// Green: good news.
    pub fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    /// Yellow: recoverable damage.
    pub fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    /// Red: damage that needs a decision.
    pub fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
    /// Dim: secondary detail.
    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
    /// The role tag, coloured per role: `[USER]` cyan, `[AGENT]` magenta.
    pub fn role_tag(self, role: Role) -> String {
        let tag = format!("[{}]", role.tag());
        match role {
            Role::User => self.wrap("36", &tag),
            Role::Agent => self.wrap("35", &tag),
        }
    }
    /// `[TOOL]` or `[HANDOFF]`, blue: what the agent did rather than said.
    pub fn action_tag(self, tag: &str) -> String {
        self.wrap("34", &format!("[{tag}]"))
    }
}

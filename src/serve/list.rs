//! The sessions page: one row per log under the served paths, sortable,
//! filtered by time and by text (the `search` engine), a page at a time.

use std::fmt::Write as _;

use serde::Deserialize;

use super::catalog::{Catalog, Summary};
use crate::export::ExportOptions;
use crate::export::html::{clock, escaped, push_escaped, url_segment};
use crate::read::Recovery;
use crate::record::Role;
use crate::search::Query;

/// Rows per page: a list of 10,000 sessions is a hundred pages, each quick
/// to send and to draw.
pub const PER_PAGE: usize = 100;

/// The list's query string.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Column to sort by: `start` (default), `duration`, `user`, `agent`, `state`, `name`.
    pub sort: Option<String>,
    /// `asc` or `desc` (default: newest first for times, largest first for counts).
    pub order: Option<String>,
    /// Text the messages must contain (plain text unless `regex` is on).
    pub q: Option<String>,
    /// Take `q` as a regular expression.
    pub regex: Option<String>,
    /// Only sessions that ran at or after this time (`convlog search --since` forms).
    pub since: Option<String>,
    /// Only sessions that started before this time.
    pub until: Option<String>,
    /// 1-based page number.
    pub page: Option<usize>,
}

const COLUMNS: [(&str, &str); 10] = [
    ("name", "Log"),
    ("start", "Start"),
    ("duration", "Duration"),
    ("user", "User"),
    ("agent", "Agent"),
    ("tools", "Tools"),
    ("redacted", "Redacted"),
    ("state", "State"),
    ("export", "Export"),
    ("", "Matches"),
];

/// The list page for `q`, or a usage problem to show as 400.
pub fn render(catalog: &Catalog, q: &ListQuery) -> std::result::Result<String, String> {
    let since = parse_time("since", q.since.as_deref())?;
    let until = parse_time("until", q.until.as_deref())?;
    let text = q.q.as_deref().filter(|s| !s.is_empty());
    let regex = q
        .regex
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "0");
    let search = match text {
        Some(t) => Some(Query::new(t, !regex, true).map_err(|e| e.to_string())?),
        None => None,
    };
    let (mut rows, failed) = catalog.summaries();
    rows.retain(|s| {
        since.is_none_or(|t| {
            s.stop_us
                .or(s.start.as_ref().map(|x| x.1))
                .is_some_and(|u| u >= t)
        }) && until.is_none_or(|t| s.start.as_ref().is_some_and(|x| x.1 < t))
    });
    let mut matches: Vec<u64> = Vec::new();
    if let Some(search) = &search {
        let opts = ExportOptions {
            recovery: Recovery::SkipCorrupt,
            ..ExportOptions::default()
        };
        let mut kept = Vec::new();
        for s in rows {
            let Some(path) = catalog.resolve(s.root, &s.name) else {
                continue;
            };
            let mut n = 0u64;
            let found = crate::search::search_log(&path, search, &opts, |_, _| {
                n += 1;
                Ok(())
            });
            if found.is_ok() && n > 0 {
                kept.push(s);
                matches.push(n);
            }
        }
        rows = kept;
    }
    let sort = q.sort.as_deref().unwrap_or("start");
    let desc = match q.order.as_deref() {
        Some("asc") => false,
        Some("desc") => true,
        _ => sort != "name",
    };
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&rows[a], &rows[b]);
        let o = match sort {
            "name" => x.name.cmp(&y.name),
            "duration" => x
                .duration_secs
                .unwrap_or(-1.0)
                .total_cmp(&y.duration_secs.unwrap_or(-1.0)),
            "user" => x.count(Role::User).cmp(&y.count(Role::User)),
            "agent" => x.count(Role::Agent).cmp(&y.count(Role::Agent)),
            "tools" => x.report.tool_calls.cmp(&y.report.tool_calls),
            "redacted" => x.redacted.total().cmp(&y.redacted.total()),
            "state" => x.state().as_str().cmp(y.state().as_str()),
            "export" => export_name(x).cmp(export_name(y)),
            _ => x
                .start
                .as_ref()
                .map(|s| s.1)
                .cmp(&y.start.as_ref().map(|s| s.1)),
        };
        let o = o.then_with(|| x.name.cmp(&y.name));
        if desc { o.reverse() } else { o }
    });
    let total = order.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown = &order[(page - 1) * PER_PAGE..(page * PER_PAGE).min(total)];

    let mut b = String::with_capacity(64 * 1024 + shown.len() * 600);
    b.push_str(HEAD);
    b.push_str("<div class=\"page\">\n<h1>Sessions</h1>\n<p class=\"note\">");
    let dirs: Vec<String> = catalog
        .roots()
        .iter()
        .map(|r| match r {
            super::catalog::Root::Dir(p) | super::catalog::Root::File(p) => p.display().to_string(),
        })
        .collect();
    push_escaped(
        &mut b,
        &format!("{total} session(s) in {}. Read-only.", dirs.join(", ")),
    );
    b.push_str("</p>\n");
    filter_form(&mut b, q, regex);
    if !failed.is_empty() {
        b.push_str("<details class=\"error\"><summary>");
        push_escaped(
            &mut b,
            &format!("{} file(s) could not be read", failed.len()),
        );
        b.push_str("</summary><ul>");
        for (name, why) in &failed {
            b.push_str("<li>");
            push_escaped(&mut b, &format!("{name}: {why}"));
            b.push_str("</li>");
        }
        b.push_str("</ul></details>\n");
    }
    pager(&mut b, q, page, pages, total, shown.len());
    b.push_str("<table class=\"sessions\" id=\"sessions\">\n<thead><tr>");
    for (key, label) in COLUMNS {
        if key.is_empty() {
            if search.is_some() {
                b.push_str("<th>Matches</th>");
            }
            continue;
        }
        let next = if key == sort && desc == (key != "name") {
            flip(key)
        } else {
            ""
        };
        let mark = if key == sort {
            if desc { " ▼" } else { " ▲" }
        } else {
            ""
        };
        b.push_str("<th><a href=\"");
        push_escaped(&mut b, &link(q, Some(key), Some(next), None));
        let _ = write!(b, "\">{label}{mark}</a></th>");
    }
    b.push_str("</tr></thead>\n<tbody>\n");
    for &i in shown {
        row(&mut b, &rows[i], search.as_ref().map(|_| matches[i]));
    }
    b.push_str("</tbody>\n</table>\n");
    pager(&mut b, q, page, pages, total, shown.len());
    b.push_str("</div>\n</body>\n</html>\n");
    Ok(b)
}

const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<title>Sessions · convlog</title>\n<link rel=\"stylesheet\" href=\"/assets/viewer.css\">\n</head>\n<body class=\"list\">\n";

/// The other direction's order for a column, as the header link asks.
fn flip(key: &str) -> &'static str {
    if key == "name" { "desc" } else { "asc" }
}

fn export_name(s: &Summary) -> &'static str {
    s.export.map_or("unreadable", |e| e.as_str())
}

fn row(b: &mut String, s: &Summary, matches: Option<u64>) {
    let href = format!("/s/{}/{}", s.root, url_segment(&s.name));
    b.push_str("<tr><td class=\"name\"><a href=\"");
    b.push_str(&href);
    b.push_str("\">");
    push_escaped(b, &s.name);
    b.push_str("</a></td><td title=\"");
    let start = s.start.as_ref().map_or("-", |x| x.0.as_str());
    push_escaped(b, start);
    b.push_str("\">");
    // The wall clock it was written in, to the second; the title has it all.
    let shown = match start.get(..19) {
        Some(day_time) if start.as_bytes().get(10) == Some(&b'T') => day_time.replacen('T', " ", 1),
        _ => start.to_string(),
    };
    push_escaped(b, &shown);
    let _ = write!(
        b,
        "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
        s.duration_secs
            .map(|d| clock(d * 1000.0))
            .unwrap_or_else(|| "-".into()),
        s.count(Role::User),
        s.count(Role::Agent),
        tools(&s.report),
    );
    redacted(b, s);
    let state = s.state().as_str();
    let _ = write!(b, "<td><span class=\"state {state}\">{state}</span>");
    if let Some(d) = crate::stats::damage_summary(&s.report) {
        b.push_str("<div class=\"damage\">");
        push_escaped(b, &d);
        b.push_str("</div>");
    }
    let export = export_name(s);
    let _ = write!(
        b,
        "</td><td class=\"export {}\">{export}</td>",
        export.replace(' ', "-")
    );
    if let Some(n) = matches {
        let _ = write!(b, "<td class=\"num\">{n}</td>");
    }
    b.push_str("</tr>\n");
}

/// What the writer redacted, by kind (`card 2, phone 1`), and in the
/// title the policy the log's header carries, if any.
fn redacted(b: &mut String, s: &Summary) {
    b.push_str("<td class=\"redacted\"");
    if let Some(policy) = s.report.header.as_ref().and_then(|h| h.redact.as_ref()) {
        b.push_str(" title=\"policy: ");
        push_escaped(b, &policy.kinds.join(","));
        if policy.keyed {
            b.push_str(", keyed");
        }
        b.push('"');
    }
    b.push('>');
    if s.redacted.is_empty() {
        b.push('-');
    } else {
        push_escaped(b, &s.redacted.to_string());
    }
    b.push_str("</td>");
}

/// Tool calls, with how many failed, and handoffs.
fn tools(r: &crate::read::Report) -> String {
    let mut t = r.tool_calls.to_string();
    if r.tool_errors > 0 {
        t.push_str(&format!(" ({} failed)", r.tool_errors));
    }
    if r.handoffs > 0 {
        t.push_str(&format!(" + {} handoff(s)", r.handoffs));
    }
    t
}

fn filter_form(b: &mut String, q: &ListQuery, regex: bool) {
    b.push_str("<form class=\"filter\" method=\"get\" action=\"/\">\n");
    let field = |b: &mut String, name: &str, label: &str, value: Option<&str>, hint: &str| {
        let _ = write!(
            b,
            "<label>{label}<input name=\"{name}\" placeholder=\"{hint}\" value=\""
        );
        push_escaped(b, value.unwrap_or(""));
        b.push_str("\"></label>\n");
    };
    field(b, "q", "Text", q.q.as_deref(), "words said");
    field(b, "since", "Since", q.since.as_deref(), "2025-08-18 14:00");
    field(b, "until", "Until", q.until.as_deref(), "2025-08-19");
    let _ = writeln!(
        b,
        "<label><span>Regex</span><input type=\"checkbox\" name=\"regex\" value=\"1\"{}></label>",
        if regex { " checked" } else { "" }
    );
    if let Some(sort) = &q.sort {
        b.push_str("<input type=\"hidden\" name=\"sort\" value=\"");
        push_escaped(b, sort);
        b.push_str("\">");
    }
    b.push_str("<button type=\"submit\">Filter</button> <a href=\"/\">Clear</a>\n</form>\n");
}

fn pager(b: &mut String, q: &ListQuery, page: usize, pages: usize, total: usize, shown: usize) {
    let first = if shown == 0 {
        0
    } else {
        (page - 1) * PER_PAGE + 1
    };
    let _ = write!(
        b,
        "<div class=\"pager\"><span>{first}–{} of {total}</span><span>page {page} of {pages}</span>",
        first + shown.saturating_sub(1).min(shown)
    );
    if page > 1 {
        b.push_str("<a rel=\"prev\" href=\"");
        push_escaped(b, &link(q, None, None, Some(page - 1)));
        b.push_str("\">← previous</a>");
    }
    if page < pages {
        b.push_str("<a rel=\"next\" href=\"");
        push_escaped(b, &link(q, None, None, Some(page + 1)));
        b.push_str("\">next →</a>");
    }
    b.push_str("</div>\n");
}

/// The list's URL with some parameters changed (the filters kept).
fn link(q: &ListQuery, sort: Option<&str>, order: Option<&str>, page: Option<usize>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", url_segment(v)));
        }
    };
    add("sort", sort.or(q.sort.as_deref()));
    add(
        "order",
        if sort.is_some() {
            order
        } else {
            q.order.as_deref()
        },
    );
    add("q", q.q.as_deref());
    add("regex", q.regex.as_deref());
    add("since", q.since.as_deref());
    add("until", q.until.as_deref());
    let page = page.map(|p| p.to_string());
    add("page", page.as_deref());
    if parts.is_empty() {
        "/".into()
    } else {
        format!("/?{}", parts.join("&"))
    }
}

fn parse_time(name: &str, v: Option<&str>) -> std::result::Result<Option<i64>, String> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => crate::time::parse_time(v)
            .map(|t| Some(t.timestamp_micros()))
            .map_err(|e| format!("{name}: {e}")),
    }
}

/// Escapes for a message that a problem with the query string shows.
pub fn problem(why: &str) -> String {
    format!(
        "{HEAD}<div class=\"page\"><h1>Sessions</h1><p class=\"error\">{}</p><p><a href=\"/\">All sessions</a></p></div></body></html>\n",
        escaped(why)
    )
}

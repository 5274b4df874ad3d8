//! HTML escaping for everything a log holds: content, speaker, source,
//! meta keys and values, file names. Nothing from a log reaches a page
//! unescaped, and nothing from a log is ever put into a URL attribute, so
//! text such as `javascript:` or `"><img onerror=…>` can only show as text.

use crate::export::text::push_escaped_control;

/// Appends `s` to `out` as HTML text or a quoted attribute value: `&`, `<`,
/// `>`, `"` and `'` become references, and control characters other than
/// tab and newline show as `\x1b`-style escapes (as the text export shows
/// them), so a transcript cannot hide text or break the page's layout.
pub fn push_escaped(out: &mut String, s: &str) {
    let special = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || is_hidden_control(c);
    if !s.chars().any(special) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_hidden_control(c) => push_escaped_control(out, c),
            c => out.push(c),
        }
    }
}

/// `s` escaped by [`push_escaped`].
pub fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_escaped(&mut out, s);
    out
}

/// Controls that HTML would drop or that would reorder or hide text: C0 and
/// C1 controls (tab and newline excepted, which `white-space: pre-wrap`
/// shows as they were meant), and the bidirectional overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069) that can make a page show text in an
/// order other than the one stored.
fn is_hidden_control(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Percent-encodes a path segment for an `href`: everything but unreserved
/// characters, so a file name can never close the attribute or change the
/// URL's scheme, host or path.
pub fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_controls_never_pass_raw() {
        assert_eq!(escaped("plain नमस्ते"), "plain नमस्ते");
        assert_eq!(
            escaped(r#""><img src=x onerror=alert(1)>"#),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escaped("<script>'x'</script>"),
            "&lt;script&gt;&#39;x&#39;&lt;/script&gt;"
        );
        assert_eq!(escaped("a\u{1b}[31mb\r\n\tc"), "a\\x1b[31mb\\r\n\tc");
        assert_eq!(escaped("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(escaped("\u{9b}"), "\\u{9b}");
    }

    #[test]
    fn url_segments_keep_only_unreserved_bytes() {
        assert_eq!(url_segment("conversation_1.jsonl"), "conversation_1.jsonl");
        assert_eq!(url_segment("../a b/\"x"), "..%2Fa%20b%2F%22x");
        assert_eq!(url_segment("javascript:x"), "javascript%3Ax");
    }
}

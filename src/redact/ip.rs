//! IP addresses: dotted IPv4 and IPv6 in any form the standard library
//! parses (`::1`, `2001:db8::8a2e:370:7334`, `::ffff:192.0.2.1`).

use std::net::{Ipv4Addr, Ipv6Addr};

use memchr::memchr2_iter;

use super::{Hit, Kind};

pub(super) fn find(text: &str, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let addr = |c: u8| c.is_ascii_hexdigit() || matches!(c, b':' | b'.');
    // Every address has a `.` or a `:` in it: look only around those, at
    // the stretch of hex digits, dots and colons each one is in.
    let mut done = 0;
    for at in memchr2_iter(b':', b'.', b) {
        if at < done {
            continue;
        }
        let mut i = at;
        while i > 0 && addr(b[i - 1]) {
            i -= 1;
        }
        let mut e = at;
        while e < b.len() && addr(b[e]) {
            e += 1;
        }
        done = e;
        // It starts a word, with a hex digit or a colon.
        if b[i] == b'.' || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let colons = b[i..e].iter().filter(|&&c| c == b':').count();
        let dots = b[i..e].iter().filter(|&&c| c == b'.').count();
        if (colons < 2 && dots < 3) || (e < b.len() && b[e].is_ascii_alphanumeric()) {
            continue;
        }
        // A sentence may end right after the address: "at 10.0.0.1."
        let mut end = e;
        let found = loop {
            if end <= i {
                break None;
            }
            let cand = &text[i..end];
            let ok = if colons >= 2 {
                cand.parse::<Ipv6Addr>().is_ok()
            } else {
                cand.parse::<Ipv4Addr>().is_ok()
            };
            if ok {
                break Some(end);
            }
            if matches!(b[end - 1], b'.' | b':') && !cand.ends_with("::") {
                end -= 1;
            } else {
                break None;
            }
        };
        if let Some(end) = found {
            hits.push(Hit {
                start: i,
                end,
                kind: Some(Kind::Ip),
                digits: None,
            });
        }
    }
}

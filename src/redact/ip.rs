//! IP addresses: dotted IPv4 and IPv6 in any form the standard library
//! parses (`::1`, `2001:db8::8a2e:370:7334`, `::ffff:192.0.2.1`).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Hit, Kind};

pub(super) fn find(text: &str, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let starts = c.is_ascii_hexdigit() || c == b':';
        if !starts
            || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'.' | b':')))
        {
            i += 1;
            continue;
        }
        let mut e = i;
        let mut colons = 0;
        let mut dots = 0;
        while e < b.len() && (b[e].is_ascii_hexdigit() || matches!(b[e], b':' | b'.')) {
            colons += usize::from(b[e] == b':');
            dots += usize::from(b[e] == b'.');
            e += 1;
        }
        if colons < 2 && dots < 3 {
            i = skip_word(b, e.max(i + 1));
            continue;
        }
        if e < b.len() && b[e].is_ascii_alphanumeric() {
            i = skip_word(b, e);
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
        match found {
            Some(end) => {
                hits.push(Hit {
                    start: i,
                    end,
                    kind: Some(Kind::Ip),
                    digits: None,
                });
                i = end;
            }
            None => i = e.max(i + 1),
        }
    }
}

fn skip_word(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_alphanumeric() {
        i += 1;
    }
    i
}

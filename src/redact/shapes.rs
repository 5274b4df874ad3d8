//! The shapes of written numbers: how cards, phones and SSNs are grouped
//! and which digits their numbering plans allow. Pure functions of the
//! digits and the group lengths, for the number scanner (`numbers`).

/// Groups as cards are printed: all in one, fours, or Amex/Diners 4-6-5 and 4-6-4.
pub(super) fn card_groups(g: &[u8]) -> bool {
    match g {
        [_] | [4, 6, 5] | [4, 6, 4] => true,
        [body @ .., last] => body.iter().all(|&x| x == 4) && (1..=4).contains(last),
        [] => false,
    }
}

/// Phone numbers are grouped many ways; only single digits between the
/// first group and the rest would be odd.
pub(super) fn phone_groups(g: &[u8]) -> bool {
    g.len() <= 5 && g.iter().skip(1).all(|&x| x >= 2)
}

/// A country prefix is written apart or not split at all: twelve digits
/// as `9172 0603 5300` are grouped as an Aadhaar number is (one that
/// failed its check), not as `91 98765 43210`.
pub(super) fn prefix_apart(d: &[u8], g: &[u8]) -> bool {
    d.len() != 12 || g.len() == 1 || g[0] == 2
}

/// Phone numbers written with dots: NANP's `415.555.0132` (maybe after
/// `1.`), or two or three groups ending in four or more digits; never four
/// groups of at most three digits, which are versions and addresses.
pub(super) fn dotted_phone(g: &[u8]) -> bool {
    match g {
        [1, 3, 3, 4] => true,
        [.., last] => g.len() <= 3 && *last >= 4,
        [] => false,
    }
}

/// North American (NPA-NXX-XXXX, optionally after a 1), or an Indian
/// mobile (ten digits from 6–9, optionally after 0 or 91).
pub(super) fn is_phone(d: &[u8]) -> bool {
    let nanp = |x: &[u8]| x[0] >= b'2' && x[3] >= b'2';
    let india = |x: &[u8]| x[0] >= b'6';
    match d.len() {
        10 => nanp(d) || india(d),
        11 => (d[0] == b'1' && nanp(&d[1..])) || (d[0] == b'0' && india(&d[1..])),
        12 => d.starts_with(b"91") && india(&d[2..]),
        _ => false,
    }
}

/// The Social Security Administration never issues area 000, 666 or
/// 900–999, group 00 or serial 0000.
pub(super) fn ssn_valid(d: &[u8]) -> bool {
    let area = &d[..3];
    area != b"000" && area != b"666" && d[0] != b'9' && &d[3..5] != b"00" && &d[5..] != b"0000"
}

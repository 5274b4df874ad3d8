//! The check digits, computed a second way: the oracle the labelled sets
//! (`corpus.rs`, `heldout.rs`, and any later set) build their values with,
//! and that the detectors are tested against.
//!
//! It is written apart from `src/redact/checksum.rs` on purpose, so a bug
//! in one is not repeated in the other and cannot make both agree:
//! - Luhn reads left to right with a table of doubled digits (the library
//!   reads right to left and subtracts 9);
//! - Verhoeff multiplies in the dihedral group D5 by its formula and takes
//!   the permutations from the published table as text (the library keeps
//!   the multiplication table and derives the permutations);
//! - mod-97 expands the IBAN to decimal text and divides it seven digits
//!   at a time, as ISO 13616 describes (the library folds each character).
//!
//! Each is checked against published examples below. It works on `&str`
//! and allocates freely: it is for tests, not for speed.

/// True when `number` (ASCII digits) passes Luhn: from the right, every
/// second digit is doubled and its digits summed; the total ends in 0.
pub fn luhn_ok(number: &str) -> bool {
    // 2d with its digits summed, for d = 0..9.
    const DOUBLED: [u32; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    let n = number.len();
    let total: u32 = number
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).expect("luhn_ok takes digits");
            // Place from the right, 1-based: the even places are doubled.
            if (n - i).is_multiple_of(2) {
                DOUBLED[d as usize]
            } else {
                d
            }
        })
        .sum();
    total.is_multiple_of(10)
}

/// `body` and the digit that makes it pass Luhn.
pub fn luhn_complete(body: &str) -> String {
    complete(body, luhn_ok)
}

/// Multiplication in D5: 0–4 are the rotations, 5–9 the reflections.
fn d5(j: usize, k: usize) -> usize {
    match (j < 5, k < 5) {
        (true, true) => (j + k) % 5,
        (true, false) => 5 + (j + k - 5) % 5,
        (false, true) => 5 + (j - k) % 5,
        (false, false) => (j + 5 - k) % 5,
    }
}

/// Verhoeff's permutation table as published: row `i` is applied to the
/// digit `i` places from the right (mod 8).
const PERMUTE: [&str; 8] = [
    "0123456789",
    "1576283094",
    "5803796142",
    "8916043527",
    "9453126870",
    "4286573901",
    "2793806415",
    "7046913258",
];

/// True when `number` (ASCII digits) passes Verhoeff, as Aadhaar numbers do.
pub fn verhoeff_ok(number: &str) -> bool {
    let check = number.chars().rev().enumerate().fold(0, |c, (i, ch)| {
        let d = ch.to_digit(10).expect("verhoeff_ok takes digits") as usize;
        let p = PERMUTE[i % 8].as_bytes()[d] - b'0';
        d5(c, usize::from(p))
    });
    check == 0
}

/// `body` and the digit that makes it pass Verhoeff.
pub fn verhoeff_complete(body: &str) -> String {
    complete(body, verhoeff_ok)
}

/// True when `iban` (spaces allowed, any case) passes ISO 13616: moved
/// four characters, with letters as 10–35, the number is 1 mod 97.
pub fn iban_ok(iban: &str) -> bool {
    let s: String = iban
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if s.len() < 5 || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let moved = format!("{}{}", &s[4..], &s[..4]);
    let decimal: String = moved
        .chars()
        .map(|c| c.to_digit(36).expect("alphanumeric").to_string())
        .collect();
    // ISO 13616's piecewise division: the remainder so far, then the next
    // seven digits, stay well inside a u64.
    let mut rest = String::new();
    for piece in decimal.as_bytes().chunks(7) {
        rest.push_str(std::str::from_utf8(piece).expect("ASCII"));
        rest = (rest.parse::<u64>().expect("digits") % 97).to_string();
    }
    rest == "1"
}

/// The IBAN of `country` (two capitals) and `bban`, with its check digits.
pub fn iban_with_check(country: &str, bban: &str) -> String {
    (2..=98)
        .map(|c| format!("{country}{c:02}{bban}"))
        .find(|i| iban_ok(i))
        .expect("one check pair in 02..=98 holds")
}

fn complete(body: &str, ok: fn(&str) -> bool) -> String {
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|n| ok(n))
        .expect("one last digit passes")
}

#[test]
fn the_oracle_agrees_with_published_examples() {
    // Luhn: the Wikipedia example and test card numbers.
    assert!(luhn_ok("79927398713") && !luhn_ok("79927398714"));
    assert!(luhn_ok("4111111111111111") && luhn_ok("378282246310005"));
    assert_eq!(luhn_complete("7992739871"), "79927398713");
    // Verhoeff: Wikipedia's worked examples (236 -> 3, 12345 -> 1) and the
    // published D5 table's corners.
    assert_eq!(verhoeff_complete("236"), "2363");
    assert_eq!(verhoeff_complete("12345"), "123451");
    assert!(verhoeff_ok("2363") && !verhoeff_ok("2364") && !verhoeff_ok("3263"));
    assert_eq!(
        (d5(1, 5), d5(5, 1), d5(4, 9), d5(9, 4), d5(6, 5)),
        (6, 9, 8, 5, 1)
    );
    // IBAN: the registry's examples.
    assert!(iban_ok("GB82 WEST 1234 5698 7654 32") && iban_ok("DE89370400440532013000"));
    assert!(iban_ok("fr1420041010050500013m02606"));
    assert!(!iban_ok("GB83WEST12345698765432") && !iban_ok("GB82WEST12345698765433"));
    assert_eq!(
        iban_with_check("GB", "WEST12345698765432"),
        "GB82WEST12345698765432"
    );
}

//! The check digits that tell a real identifier from a number that only
//! looks like one: Luhn (cards), Verhoeff (Aadhaar), ISO 7064 mod-97 (IBAN).
//!
//! Each takes ASCII digits (or, for mod-97, ASCII alphanumerics) and never
//! allocates: they run on every candidate the scanners find.

/// Luhn: doubling every second digit from the right, the sum is a multiple of 10.
pub(super) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Verhoeff's permutations: row `i` is row 1's permutation applied `i`
/// times (it has order 8, hence eight rows), which is how the published
/// table is made.
const VERHOEFF_P: [[u8; 10]; 8] = {
    const STEP: [u8; 10] = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4];
    let mut p = [[0u8; 10]; 8];
    let mut i = 0;
    while i < 8 {
        let mut d = 0;
        while d < 10 {
            p[i][d] = if i == 0 {
                d as u8
            } else {
                STEP[p[i - 1][d] as usize]
            };
            d += 1;
        }
        i += 1;
    }
    p
};

/// Verhoeff, which Aadhaar numbers carry as their last digit: it catches
/// every single-digit error and every swap of neighbours, which Luhn does not.
pub(super) fn verhoeff(digits: &[u8]) -> bool {
    let mut c = 0usize;
    for (i, &d) in digits.iter().rev().enumerate() {
        c = VERHOEFF_D[c][VERHOEFF_P[i % 8][usize::from(d - b'0')] as usize] as usize;
    }
    c == 0
}

/// ISO 7064 mod 97-10 over an IBAN (ASCII alphanumerics, any case): move
/// the first four characters to the end, letters count as 10–35, and the
/// number must leave 1. Computed digit by digit, so no big integers.
pub(super) fn iban_mod97(chars: &[u8]) -> bool {
    if chars.len() < 5 {
        return false;
    }
    let mut r = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        match c {
            b'0'..=b'9' => r = (r * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' | b'a'..=b'z' => {
                let v = u32::from(c.to_ascii_uppercase() - b'A') + 10;
                r = (r * 100 + v) % 97;
            }
            _ => return false,
        }
    }
    r == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert!(luhn(b"378282246310005"));
        assert!(verhoeff(b"2363"));
        assert!(!verhoeff(b"2364"));
        assert!(verhoeff(b"123451") && !verhoeff(b"123415"));
        assert_eq!(VERHOEFF_P[7], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]);
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(!iban_mod97(b"GB82WEST12345698765433"));
    }
}

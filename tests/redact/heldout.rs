//! A held-out redaction set, written apart from the detectors and from the
//! tuning corpus (`corpus.rs`): its own seed, its own templates (support
//! chats, IVR read-backs, lowercase unpunctuated STT, Hinglish), its own
//! value formats (card brands and their groupings, E.164 for a dozen
//! countries, IBANs of a dozen countries, spelled emails, Devanagari
//! digits, IPv6 forms) and its own negatives (PNRs, booking references,
//! ZIP+4, EINs, SSNs in ranges never issued, IFSC codes, MAC addresses,
//! package versions). Its check digits come from the test oracle
//! (`oracle.rs`), written apart from the library's, so a bug shared with
//! the detectors' cannot make both agree. Nothing here was changed after
//! scoring the detectors on it. Its first scores exposed five classes of
//! error, and the detectors were fixed for those classes (not these
//! texts); since then it is no longer blind to them, and `variants.rs`
//! measures each class on generated texts of its own.

use convlog::redact::Kind;

use super::corpus::{DEVANAGARI_DIGITS as DEV, ENGLISH as EN, Example, HINDI as HI, Rng, ipv4};
use super::oracle::{
    iban_ok, iban_with_check, luhn_complete, luhn_ok, verhoeff_complete, verhoeff_ok,
};

/// The generator of a generated set (this one, and `variants`): a seeded
/// random source and the examples made so far.
pub struct Set {
    pub rng: Rng,
    pub out: Vec<Example>,
}

impl Set {
    /// An empty set drawing from `seed`.
    pub fn new(seed: u64) -> Set {
        Set {
            rng: Rng::new(seed),
            out: Vec::new(),
        }
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.rng.below(xs.len())]
    }

    pub fn n(&mut self, n: usize) -> usize {
        self.rng.below(n)
    }

    pub fn digits(&mut self, n: usize) -> String {
        self.rng.digits(n)
    }

    /// A positive: `template`'s `{}` replaced by `value`.
    pub fn pos(&mut self, set: Kind, template: &str, value: &str) {
        let at = template.find("{}").expect("template has {}");
        self.pos_at(set, &template[..at], value, &template[at + 2..]);
    }

    /// A positive: `value` between `before` and `after`.
    pub fn pos_at(&mut self, set: Kind, before: &str, value: &str, after: &str) {
        let at = before.len();
        self.out.push(Example {
            text: format!("{before}{value}{after}"),
            set,
            value: Some((at, at + value.len())),
        });
    }

    pub fn neg(&mut self, set: Kind, text: String) {
        self.out.push(Example {
            text,
            set,
            value: None,
        });
    }
}

/// Digits as STT writes them read aloud: English (sometimes "oh" for
/// zero), or Hindi.
fn say(s: &mut Set, digits: &str) -> String {
    let hindi = s.n(4) == 0;
    let oh = !hindi && s.n(3) == 0;
    let words: Vec<&str> = digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| {
            let d = usize::from(b - b'0');
            if hindi {
                HI[d]
            } else if oh && d == 0 {
                "oh"
            } else {
                EN[d]
            }
        })
        .collect();
    words.join(" ")
}

fn devanagari(digits: &str) -> String {
    digits
        .chars()
        .map(|c| c.to_digit(10).map_or(c, |d| DEV[d as usize]))
        .collect()
}

/// `digits` cut into groups of `sizes` (which cover it exactly), joined
/// by `sep`.
pub fn groups(digits: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut at = 0;
    for &n in sizes {
        out.push(&digits[at..at + n]);
        at += n;
    }
    assert_eq!(at, digits.len(), "groups cover {digits}");
    out.join(sep)
}

/// The same number, valid under `ok`, with its last digit changed so it
/// fails.
pub fn spoil_last(n: &str, ok: impl Fn(&str) -> bool) -> String {
    let body = &n[..n.len() - 1];
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|m| m != n && !ok(m))
        .expect("some digit fails the check")
}

// ---------------------------------------------------------------- cards

fn card(s: &mut Set) -> (String, Vec<usize>) {
    // (prefixes, length, grouping)
    let brands: [(&[&str], usize, &[usize]); 8] = [
        (&["4"], 16, &[4, 4, 4, 4]),
        (
            &["51", "52", "53", "54", "55", "2221", "2720"],
            16,
            &[4, 4, 4, 4],
        ),
        (&["34", "37"], 15, &[4, 6, 5]),
        (&["6011", "65"], 16, &[4, 4, 4, 4]),
        (&["36"], 14, &[4, 6, 4]),
        (&["35"], 16, &[4, 4, 4, 4]),
        (&["60", "81", "82", "508"], 16, &[4, 4, 4, 4]),
        (&["6759", "5018"], 19, &[4, 4, 4, 4, 3]),
    ];
    let (prefixes, len, grouping) = brands[s.n(brands.len())];
    let p = s.pick(prefixes).to_string();
    let body = format!("{p}{}", s.digits(len - 1 - p.len()));
    (luhn_complete(&body), grouping.to_vec())
}

fn card_text(s: &mut Set, n: &str, grouping: &[usize]) -> String {
    match s.n(9) {
        0 => n.to_string(),
        1 | 2 => groups(n, grouping, " "),
        3 => groups(n, grouping, "-"),
        4 => say(s, n),
        5 => {
            // STT mixes: the first groups typed, the rest read out.
            let g = groups(n, grouping, " ");
            let cut = g.find(' ').unwrap();
            format!("{} {}", &g[..cut], say(s, &n[cut..]))
        }
        6 => n.chars().map(String::from).collect::<Vec<_>>().join(" "),
        7 => devanagari(&groups(n, grouping, " ")),
        _ => groups(n, grouping, "  "),
    }
}

const CARD_SAYS: [&str; 10] = [
    "ok the card number is {} expiry oh eight twenty seven",
    "Customer: sure, it's {}. CVV I'd rather not say on a call",
    "i want to pay with my visa {} please",
    "कार्ड नंबर {} है, एक्सपायरी 09/28",
    "yeah so the number on the front reads {} and the name is as on the card",
    "card ending... no wait, the full number: {}",
    "agent: Could you repeat the card number? user: {}",
    "mera card number {} hai",
    "Please charge {} for the two tickets.",
    "the debit card {} was declined yesterday at the mall",
];

fn cards(s: &mut Set) {
    for _ in 0..340 {
        let (n, g) = card(s);
        let v = card_text(s, &n, &g);
        let t = s.pick(&CARD_SAYS);
        s.pos(Kind::Card, t, &v);
    }
    for i in 0..340 {
        let text = match i % 10 {
            0..=3 => {
                // Written forms only: a spoken run of six or more digits
                // that is no card is, by definition, `spoken_digits`.
                let (n, g) = card(s);
                let bad = spoil_last(&n, luhn_ok);
                let v = match s.n(4) {
                    0 => bad.clone(),
                    1 => groups(&bad, &g, "-"),
                    2 => devanagari(&groups(&bad, &g, " ")),
                    _ => groups(&bad, &g, " "),
                };
                let t = s.pick(&CARD_SAYS);
                t.replace("{}", &v)
            }
            4 => format!(
                "your tracking number is {} and it ships tomorrow",
                groups(&format!("9400{}", s.digits(18)), &[4, 4, 4, 4, 4, 2], " ")
            ),
            5 => format!(
                "invoice total ₹{},{:03}.{:02} including GST",
                1 + s.n(99),
                s.n(1000),
                s.n(100)
            ),
            6 => format!(
                "the meeting is on 2024-{:02}-{:02} from {:02}:30 to {:02}:45",
                1 + s.n(12),
                1 + s.n(28),
                9 + s.n(4),
                13 + s.n(4)
            ),
            7 => format!(
                "ISBN 978-{}-{}-{}-{}",
                s.n(10),
                s.digits(3),
                s.digits(5),
                s.n(10)
            ),
            8 => format!(
                "we have {} rooms and {} guests across {} nights, {} adults",
                2 + s.n(8),
                3 + s.n(20),
                1 + s.n(9),
                2 + s.n(6)
            ),
            _ => {
                let n = spoil_last(&luhn_complete(&format!("7{}", s.digits(14))), luhn_ok);
                format!("loyalty member id {n}, tier gold")
            }
        };
        s.neg(Kind::Card, text);
    }
}

// --------------------------------------------------------------- phones

fn phone(s: &mut Set) -> String {
    let area = || 0;
    let _ = area;
    let nanp = |s: &mut Set| format!("{}{}{}{}", 2 + s.n(8), s.digits(2), 2 + s.n(8), s.digits(6));
    match s.n(16) {
        0 => {
            let n = nanp(s);
            format!("({}) {}-{}", &n[..3], &n[3..6], &n[6..])
        }
        1 => {
            let n = nanp(s);
            format!("{}-{}-{}", &n[..3], &n[3..6], &n[6..])
        }
        2 => {
            let n = nanp(s);
            format!("{}.{}.{}", &n[..3], &n[3..6], &n[6..])
        }
        3 => {
            let n = nanp(s);
            format!("+1 {} {} {}", &n[..3], &n[3..6], &n[6..])
        }
        4 => {
            let n = nanp(s);
            format!("1-{}-{}-{}", &n[..3], &n[3..6], &n[6..])
        }
        5 => format!("+44 20 {} {}", s.digits(4), s.digits(4)),
        6 => format!("+44 7{} {}", s.digits(3), s.digits(6)),
        7 => format!("+61 {} {} {}", 2 + s.n(7), s.digits(4), s.digits(4)),
        8 => format!("+49 30 {}", s.digits(8)),
        9 => format!(
            "+33 {} {} {} {} {}",
            1 + s.n(9),
            s.digits(2),
            s.digits(2),
            s.digits(2),
            s.digits(2)
        ),
        10 => format!("+971 5{} {} {}", s.n(9), s.digits(3), s.digits(4)),
        11 | 12 => {
            let m = format!("{}{}", 6 + s.n(4), s.digits(9));
            match s.n(5) {
                0 => format!("{} {}", &m[..5], &m[5..]),
                1 => format!("+91-{m}"),
                2 => format!("0{m}"),
                3 => format!("+91 {} {}", &m[..5], &m[5..]),
                _ => m,
            }
        }
        13 | 14 => {
            let m = format!("{}{}", 6 + s.n(4), s.digits(9));
            say(s, &m)
        }
        _ => format!("+65 {}{} {}", 6 + s.n(3), s.digits(3), s.digits(4)),
    }
}

const PHONE_SAYS: [&str; 10] = [
    "you can reach me at {} after six",
    "call back number {} please",
    "my mobile is {}",
    "मेरा नंबर {} है, शाम को कॉल करना",
    "whatsapp pe {} pe message kar do",
    "Agent: and the best number to reach you? Caller: {}.",
    "text {} when the driver arrives",
    "his office line {}, ask for reception",
    "ok noting down {} as the alternate contact",
    "is {} still your number on file",
];

fn phones(s: &mut Set) {
    for _ in 0..340 {
        let v = phone(s);
        let t = s.pick(&PHONE_SAYS);
        s.pos(Kind::Phone, t, &v);
    }
    for i in 0..340 {
        let text = match i % 12 {
            0 => format!("your PNR is {}{}", 2 + s.n(7), s.digits(9)),
            1 => format!("booking reference {}{} confirmed", 6 + s.n(4), s.digits(9)),
            2 => format!(
                "consignment no. {}{} is out for delivery",
                7 + s.n(3),
                s.digits(9)
            ),
            3 => format!("the price is Rs {},{:03} per month", 1 + s.n(99), s.n(1000)),
            4 => format!(
                "delivery between {}:00 and {}:30 on {}/{}/2025",
                8 + s.n(4),
                13 + s.n(6),
                1 + s.n(28),
                1 + s.n(12)
            ),
            5 => format!("pin code {}{}", 1 + s.n(8), s.digits(5)),
            6 => format!(
                "flight 6E {} departs from gate {}",
                100 + s.n(9000),
                1 + s.n(40)
            ),
            7 => format!(
                "years {} to {} at the same address",
                1980 + s.n(20),
                2001 + s.n(23)
            ),
            8 => format!(
                "room {} on floor {}, extension {}",
                100 + s.n(900),
                1 + s.n(20),
                s.digits(4)
            ),
            9 => format!(
                "{} of {} items were returned, {}%",
                1 + s.n(9),
                10 + s.n(90),
                s.n(100)
            ),
            10 => format!("ticket id {}{} was closed", 1 + s.n(8), s.digits(9)),
            _ => format!(
                "version {}.{}.{} fixes the crash",
                s.n(20),
                s.n(40),
                s.n(100)
            ),
        };
        s.neg(Kind::Phone, text);
    }
}

// --------------------------------------------------------------- emails

const FIRST: [&str; 12] = [
    "priya", "rahul", "anjali", "john", "maria", "wei", "fatima", "arjun", "emma", "li", "sanjay",
    "olu",
];
const LAST: [&str; 10] = [
    "sharma", "iyer", "smith", "garcia", "chen", "khan", "nair", "okafor", "brown", "patel",
];
const DOMAINS: [&str; 12] = [
    "gmail.com",
    "yahoo.co.in",
    "outlook.com",
    "acme.io",
    "mail.example.org",
    "cs.uni.ac.uk",
    "rediffmail.com",
    "proton.me",
    "company.co",
    "hotmail.fr",
    "startup.ai",
    "school.edu",
];

fn email(s: &mut Set) -> String {
    let (f, l) = (s.pick(&FIRST), s.pick(&LAST));
    let local = match s.n(6) {
        0 => format!("{f}.{l}"),
        1 => format!("{f}_{l}{}", s.n(100)),
        2 => format!("{}{l}", &f[..1]),
        3 => format!("{f}+orders"),
        4 => format!("{f}-{l}"),
        _ => format!("{f}{}", 1970 + s.n(40)),
    };
    let d = s.pick(&DOMAINS);
    let e = format!("{local}@{d}");
    if s.n(6) == 0 { e.to_uppercase() } else { e }
}

const EMAIL_SAYS: [&str; 9] = [
    "send the invoice to {} please",
    "my email is {}",
    "ईमेल {} पर भेज दीजिए",
    "cc {}, she handles billing",
    "Contact: <{}>",
    "it bounced from {}.",
    "login id {} but I forgot the password",
    "mail kar dena {} pe",
    "reply to {} and to the team",
];

fn emails(s: &mut Set) {
    for _ in 0..340 {
        let v = email(s);
        let t = s.pick(&EMAIL_SAYS);
        s.pos(Kind::Email, t, &v);
    }
    for i in 0..340 {
        let text = match i % 8 {
            0 => format!("follow us @{}{} on instagram", s.pick(&FIRST), s.n(100)),
            1 => format!(
                "install react@{}.{}.{} first",
                16 + s.n(3),
                s.n(10),
                s.n(10)
            ),
            2 => format!("see you @ {} pm at the lobby", 1 + s.n(11)),
            3 => format!("visit {} for the menu", s.pick(&DOMAINS)),
            4 => format!("the file is {}.{}.pdf", s.pick(&FIRST), s.pick(&LAST)),
            5 => format!("3 for $10 @ the counter, {} left", s.n(50)),
            6 => format!("{} at {} is my usual time", s.pick(&FIRST), 1 + s.n(11)),
            _ => format!("rate is {}% p.a. @ {} branches", 5 + s.n(10), 2 + s.n(30)),
        };
        s.neg(Kind::Email, text);
    }
}

// ---------------------------------------------------------------- IBANs

fn iban(s: &mut Set) -> String {
    let letters = |s: &mut Set, n: usize| -> String {
        (0..n).map(|_| char::from(b'A' + s.n(26) as u8)).collect()
    };
    let (cc, bban) = match s.n(12) {
        0 => ("DE", s.digits(18)),
        1 => ("GB", format!("{}{}", letters(s, 4), s.digits(14))),
        2 => ("FR", s.digits(23)),
        3 => ("ES", s.digits(20)),
        4 => ("IT", format!("{}{}", letters(s, 1), s.digits(22))),
        5 => ("NL", format!("{}{}", letters(s, 4), s.digits(10))),
        6 => ("BE", s.digits(12)),
        7 => ("CH", s.digits(17)),
        8 => ("AT", s.digits(16)),
        9 => ("PL", s.digits(24)),
        10 => ("AE", s.digits(19)),
        _ => ("SA", s.digits(20)),
    };
    iban_with_check(cc, &bban)
}

fn iban_text(s: &mut Set, i: &str) -> String {
    let spaced = i
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    match s.n(4) {
        0 => i.to_string(),
        1 => spaced.to_lowercase(),
        _ => spaced,
    }
}

const IBAN_SAYS: [&str; 8] = [
    "please wire it to IBAN {} by friday",
    "my account: {}",
    "Bankverbindung {} bitte",
    "the refund goes to {}, name on account as before",
    "iban is {} ok",
    "transfer to {} reference invoice 2231",
    "could you confirm {} is correct",
    "यह IBAN {} है",
];

fn ibans(s: &mut Set) {
    for _ in 0..340 {
        let i = iban(s);
        let v = iban_text(s, &i);
        let t = s.pick(&IBAN_SAYS);
        s.pos(Kind::Iban, t, &v);
    }
    for k in 0..340 {
        let text = match k % 5 {
            0..=2 => {
                let i = iban(s);
                // The same shape with a check pair that fails.
                let check: u32 = i[2..4].parse().unwrap();
                let bad = format!(
                    "{}{:02}{}",
                    &i[..2],
                    (check + 1 + s.n(90) as u32) % 97 + 2,
                    &i[4..]
                );
                let bad = if iban_ok(&bad) {
                    format!("{}{:02}{}", &i[..2], (check % 97) + 1, &i[4..])
                } else {
                    bad
                };
                if iban_ok(&bad) {
                    continue;
                }
                let v = iban_text(s, &bad);
                let t = s.pick(&IBAN_SAYS);
                t.replace("{}", &v)
            }
            3 => format!("SWIFT code DEUTDEFF{}", s.digits(3)),
            _ => format!("reference GB{} on the letter", s.digits(6)),
        };
        s.neg(Kind::Iban, text);
    }
}

// ----------------------------------------------------------------- SSNs

fn ssn(s: &mut Set) -> String {
    let area = loop {
        let a = 1 + s.n(899);
        if a != 666 {
            break a;
        }
    };
    format!("{area:03}{:02}{:04}", 1 + s.n(99), 1 + s.n(9999))
}

fn ssns(s: &mut Set) {
    for _ in 0..340 {
        let n = ssn(s);
        let (t, v) = match s.n(6) {
            0 | 1 => (
                "my SSN is {} thanks",
                format!("{}-{}-{}", &n[..3], &n[3..5], &n[5..]),
            ),
            2 => (
                "social security number {}",
                format!("{} {} {}", &n[..3], &n[3..5], &n[5..]),
            ),
            3 => ("ssn {}", n.clone()),
            4 => (
                "for verification, {} is my social",
                format!("{}-{}-{}", &n[..3], &n[3..5], &n[5..]),
            ),
            _ => (
                "Applicant SSN: {}.",
                format!("{}-{}-{}", &n[..3], &n[3..5], &n[5..]),
            ),
        };
        s.pos(Kind::Ssn, t, &v);
    }
    for i in 0..340 {
        let text = match i % 7 {
            0 => format!("ship to ZIP {}-{}", s.digits(5), s.digits(4)),
            1 => format!("our EIN is {}-{}", s.digits(2), s.digits(7)),
            2 => format!("the claim {}{} was filed", 1 + s.n(8), s.digits(8)),
            3 => format!(
                "SSN {}-{}-{} is not valid, numbers never start that way",
                s.pick(&["000", "666", "900", "912", "987"]),
                s.digits(2),
                s.digits(4)
            ),
            4 => format!(
                "dated {}-{:02}-{:02}",
                2000 + s.n(25),
                1 + s.n(12),
                1 + s.n(28)
            ),
            5 => format!(
                "part {}-{}-{} in stock",
                s.digits(3),
                s.digits(3),
                s.digits(3)
            ),
            _ => format!(
                "{} of {} forms were signed",
                100 + s.n(900),
                1000 + s.n(9000)
            ),
        };
        s.neg(Kind::Ssn, text);
    }
}

// ------------------------------------------------------------- Aadhaar

fn aadhaar(s: &mut Set) -> String {
    verhoeff_complete(&format!("{}{}", 2 + s.n(8), s.digits(10)))
}

fn aadhaars(s: &mut Set) {
    const SAYS: [&str; 8] = [
        "aadhaar number {} hai",
        "मेरा आधार नंबर {} है",
        "UID {} for the KYC",
        "please link aadhaar {} to the account",
        "aadhar card no {}",
        "the twelve digits are {}",
        "आधार {} पर OTP आएगा",
        "kyc done with {}",
    ];
    for _ in 0..340 {
        let n = aadhaar(s);
        let v = match s.n(6) {
            0 => n.clone(),
            1 | 2 => groups(&n, &[4, 4, 4], " "),
            3 => groups(&n, &[4, 4, 4], "-"),
            4 => say(s, &n),
            _ => devanagari(&groups(&n, &[4, 4, 4], " ")),
        };
        let t = s.pick(&SAYS);
        s.pos(Kind::Aadhaar, t, &v);
    }
    for i in 0..340 {
        let text = match i % 5 {
            0..=2 => {
                let bad = spoil_last(&aadhaar(s), verhoeff_ok);
                format!("aadhaar number {} hai", groups(&bad, &[4, 4, 4], " "))
            }
            3 => {
                let n = verhoeff_complete(&format!("{}{}", s.n(2), s.digits(10)));
                format!(
                    "reference {} (starts with {})",
                    groups(&n, &[4, 4, 4], " "),
                    &n[..1]
                )
            }
            _ => format!("IFSC SBIN0{} branch code", s.digits(6)),
        };
        s.neg(Kind::Aadhaar, text);
    }
}

// ----------------------------------------------------------------- PANs

fn pans(s: &mut Set) {
    let letters = |s: &mut Set, n: usize| -> String {
        (0..n).map(|_| char::from(b'A' + s.n(26) as u8)).collect()
    };
    const SAYS: [&str; 7] = [
        "PAN {} for the invoice",
        "my pan card number is {}",
        "पैन नंबर {} है",
        "TDS against PAN {}.",
        "pan: {}",
        "Please update {} in my profile",
        "the form has {} as PAN",
    ];
    for _ in 0..340 {
        let holder = s.pick(&["P", "C", "H", "F", "A", "T", "B", "L", "J", "G"]);
        let v = format!(
            "{}{holder}{}{}{}",
            letters(s, 3),
            letters(s, 1),
            s.digits(4),
            letters(s, 1)
        );
        let t = s.pick(&SAYS);
        s.pos(Kind::Pan, t, &v);
    }
    for i in 0..340 {
        let text = match i % 6 {
            0 => {
                let bad = s.pick(&["D", "E", "I", "K", "M", "N", "O", "Q", "R", "S"]);
                format!(
                    "code {}{bad}{}{}{} on the box",
                    letters(s, 3),
                    letters(s, 1),
                    s.digits(4),
                    letters(s, 1)
                )
            }
            1 => format!("IFSC {}0{}", letters(s, 4), s.digits(6)),
            2 => format!(
                "vehicle MH{:02}{}{}",
                1 + s.n(50),
                letters(s, 2),
                s.digits(4)
            ),
            3 => format!("model {}{}", letters(s, 5), s.digits(4)),
            4 => format!(
                "flight AI{} and seat {}{}",
                s.digits(3),
                1 + s.n(40),
                letters(s, 1)
            ),
            _ => format!("HSN code {} applies, GST {}%", s.digits(8), 5 + s.n(20)),
        };
        s.neg(Kind::Pan, text);
    }
}

// ----------------------------------------------------------------- UPIs

fn upis(s: &mut Set) {
    const PSP: [&str; 11] = [
        "okaxis",
        "oksbi",
        "okhdfcbank",
        "okicici",
        "ybl",
        "ibl",
        "axl",
        "paytm",
        "upi",
        "apl",
        "waicici",
    ];
    const SAYS: [&str; 7] = [
        "pay to {} please",
        "my upi id is {}",
        "यूपीआई {} पर भेज दो",
        "gpay kar do {} pe",
        "send the refund to {}",
        "UPI: {}",
        "collect request from {} failed",
    ];
    for _ in 0..340 {
        let handle = match s.n(4) {
            0 => format!("{}{}{}", 6 + s.n(4), s.digits(9), ""),
            1 => format!("{}.{}", s.pick(&FIRST), s.pick(&LAST)),
            2 => format!("{}{}", s.pick(&FIRST), s.n(1000)),
            _ => s.pick(&FIRST).to_string(),
        };
        let v = format!("{handle}@{}", s.pick(&PSP));
        let t = s.pick(&SAYS);
        s.pos(Kind::Upi, t, &v);
    }
    for i in 0..340 {
        let text = match i % 5 {
            0 => format!("mention @{}care on twitter", s.pick(&PSP)),
            1 => format!("pay on {} or cash", s.pick(&["paytm", "phonepe", "gpay"])),
            2 => format!("scan the QR at counter {}", 1 + s.n(9)),
            3 => format!(
                "the {} app shows @{} as the bank",
                s.pick(&["bhim", "gpay"]),
                s.pick(&PSP)
            ),
            _ => format!("upi limit is ₹{} per day", 1 + s.n(100)),
        };
        s.neg(Kind::Upi, text);
    }
}

// ------------------------------------------------------------------ IPs

fn ips(s: &mut Set) {
    const SAYS: [&str; 7] = [
        "the server at {} is down",
        "whitelist {} in the firewall",
        "my ip shows {}",
        "ping {} and tell me the latency",
        "logs from {}: 502 errors",
        "router admin page {}",
        "connect to {} on port 22",
    ];
    for _ in 0..340 {
        let v = match s.n(7) {
            0..=2 => ipv4(&mut s.rng, 223),
            3 => format!(
                "2001:db8:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
                s.n(65536),
                s.n(65536),
                s.n(65536),
                s.n(65536),
                s.n(65536),
                1 + s.n(65535)
            ),
            4 => format!("2001:db8::{:x}:{:x}", s.n(65536), 1 + s.n(65535)),
            5 => format!(
                "fe80::{:x}:{:x}ff:fe{:x}:{:x}",
                s.n(65536),
                s.n(256),
                s.n(256),
                1 + s.n(65535)
            ),
            _ => format!("::ffff:192.0.2.{}", 1 + s.n(254)),
        };
        let t = s.pick(&SAYS);
        s.pos(Kind::Ip, t, &v);
    }
    for i in 0..340 {
        let text = match i % 7 {
            0 => format!("upgrade to {}.{}.{}", s.n(20), s.n(20), s.n(100)),
            1 => format!(
                "build {}.0.{}.{}",
                10 + s.n(5),
                19000 + s.n(9000),
                s.n(5000)
            ),
            2 => format!("on {:02}.{:02}.{}", 1 + s.n(28), 1 + s.n(12), 2020 + s.n(6)),
            3 => format!("at {:02}:{:02}:{:02} sharp", s.n(24), s.n(60), s.n(60)),
            4 => format!(
                "mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                s.n(256),
                s.n(256),
                s.n(256),
                s.n(256),
                s.n(256),
                s.n(256)
            ),
            5 => format!(
                "{}.{}.{}.{} is not an address",
                256 + s.n(700),
                s.n(256),
                s.n(256),
                s.n(256)
            ),
            _ => format!(
                "aspect ratio {}:{} at {} fps",
                16 + s.n(6),
                9 + s.n(3),
                24 + s.n(100)
            ),
        };
        s.neg(Kind::Ip, text);
    }
}

// ------------------------------------------------------- spoken digits

fn spoken(s: &mut Set) {
    const SAYS: [&str; 8] = [
        "the otp is {}",
        "my pin is {} okay",
        "ओटीपी {} है",
        "code {} did you get that",
        "account ending {} please check",
        "booking code {}",
        "verification code is {}, it expires soon",
        "mera otp {} hai",
    ];
    for _ in 0..340 {
        let n = 6 + s.n(3);
        let d = format!("{}{}", 1 + s.n(9), s.digits(n - 1));
        let v = say(s, &d);
        let t = s.pick(&SAYS);
        s.pos(Kind::SpokenDigits, t, &v);
    }
    for i in 0..340 {
        let text = match i % 10 {
            0 => "one or two days should be fine".to_string(),
            1 => {
                format!(
                    "we are {} {} people",
                    s.pick(&EN[2..]),
                    s.pick(&["or", "to"])
                )
                .to_string()
                    + &format!(" {}", s.pick(&EN[3..]))
            }
            2 => "i work nine to five, call after six".to_string(),
            3 => format!(
                "one two three four five, {} is the count",
                s.pick(&["five", "six"])
            ),
            4 => "दो तीन दिन में आ जाएगा".to_string(),
            5 => format!("twenty {} minutes, maybe thirty", s.pick(&EN[1..])),
            6 => "seven eleven on the corner, then two blocks".to_string(),
            7 => format!(
                "i have {} kids and {} dogs",
                s.pick(&EN[1..]),
                s.pick(&EN[1..])
            ),
            8 => "first second and third place".to_string(),
            _ => format!(
                "{} hundred {} thousand rupees",
                s.pick(&EN[1..]),
                s.pick(&EN[1..])
            ),
        };
        s.neg(Kind::SpokenDigits, text);
    }
}

/// The held-out set: about 340 positives and 340 negatives per kind.
pub fn heldout() -> Vec<Example> {
    let mut s = Set::new(0x0004_E1D0_u64 ^ 0x5EED_F00D);
    cards(&mut s);
    phones(&mut s);
    emails(&mut s);
    ibans(&mut s);
    ssns(&mut s);
    aadhaars(&mut s);
    pans(&mut s);
    upis(&mut s);
    ips(&mut s);
    spoken(&mut s);
    s.out
}

//! The labelled redaction corpus: for every kind, positives (a real value,
//! with a valid checksum where the kind has one, in realistic speech,
//! English and Hindi, written and spoken) and negatives (what looks alike:
//! numbers failing Luhn, Verhoeff or mod-97, times, prices, dates, order
//! numbers, versions, counts). Generated from a fixed seed, so every run
//! scores the same texts; shared by the test (`redact::corpus_*`) and the
//! bench report (`redact` scenario).

use convlog::redact::{Kind, Policy};

use super::oracle::{iban_with_check, luhn_complete, verhoeff_complete};

/// One text, and the value planted in it if it is a positive.
pub struct Example {
    pub text: String,
    /// The kind whose set this example belongs to.
    pub set: Kind,
    /// For a positive: the byte range of the planted value.
    pub value: Option<(usize, usize)>,
}

/// SplitMix64: small, fixed, and good enough to vary the examples.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T: ?Sized>(&mut self, xs: &[&'a T]) -> &'a T {
        xs[self.below(xs.len())]
    }
    pub fn digit(&mut self) -> u8 {
        b'0' + self.below(10) as u8
    }
    pub fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(self.digit())).collect()
    }
    fn digit_from(&mut self, lo: u8) -> char {
        char::from(b'0' + lo + self.below(usize::from(10 - lo)) as u8)
    }
    fn letters(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'A' + self.below(26) as u8))
            .collect()
    }
}

pub const ENGLISH: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
pub const HINDI: [&str; 10] = [
    "शून्य",
    "एक",
    "दो",
    "तीन",
    "चार",
    "पांच",
    "छह",
    "सात",
    "आठ",
    "नौ",
];
pub const DEVANAGARI_DIGITS: [char; 10] = ['०', '१', '२', '३', '४', '५', '६', '७', '८', '९'];

/// Digits read out as words: English, Hindi, "oh" for zero, "double".
pub fn spoken(rng: &mut Rng, digits: &str) -> String {
    let hindi = rng.below(3) == 0;
    let d: Vec<usize> = digits.bytes().map(|b| usize::from(b - b'0')).collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < d.len() {
        if !hindi && i + 1 < d.len() && d[i] == d[i + 1] && rng.below(2) == 0 {
            words.push(format!("double {}", ENGLISH[d[i]]));
            i += 2;
            continue;
        }
        let w = if hindi {
            HINDI[d[i]]
        } else if d[i] == 0 && rng.below(3) == 0 {
            "oh"
        } else {
            ENGLISH[d[i]]
        };
        words.push(w.to_string());
        i += 1;
    }
    let sep = if rng.below(4) == 0 { ", " } else { " " };
    words.join(sep)
}

/// Digits in groups of the given sizes, joined by `sep`.
fn grouped(digits: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut at = 0;
    for &n in sizes {
        if at >= digits.len() {
            break;
        }
        let end = (at + n).min(digits.len());
        out.push(&digits[at..end]);
        at = end;
    }
    if at < digits.len() {
        out.push(&digits[at..]);
    }
    out.join(sep)
}

/// Changes the last digit so a checksum fails: the look-alike negative.
fn break_last(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let last = b.len() - 1;
    b[last] = b'0' + (b[last] - b'0' + 1) % 10;
    String::from_utf8(b).unwrap()
}

/// `value` placed in a sentence: the example and where the value is.
fn place(template: &str, value: &str) -> (String, (usize, usize)) {
    let at = template.find("{}").expect("template has {}");
    let text = format!("{}{value}{}", &template[..at], &template[at + 2..]);
    (text, (at, at + value.len()))
}

fn positive(set: Kind, templates: &[&str], rng: &mut Rng, value: &str) -> Example {
    let (text, span) = place(rng.pick(templates), value);
    Example {
        text,
        set,
        value: Some(span),
    }
}

fn negative(set: Kind, text: String) -> Example {
    Example {
        text,
        set,
        value: None,
    }
}

/// Everyday numbers that are nobody's personal data, for every negative set.
fn everyday(rng: &mut Rng) -> String {
    let h = 1 + rng.below(12);
    let m = rng.below(60);
    let price = 10 + rng.below(99_000);
    let len = 5 + rng.below(3);
    let order = rng.digits(len);
    let n = rng.below(20);
    match rng.below(14) {
        0 => format!("Your appointment is at {h}:{m:02} tomorrow."),
        1 => format!(
            "The total comes to ₹{},{:03}.",
            price / 1000 + 1,
            price % 1000
        ),
        2 => format!("That will be ${}.{:02} including tax.", price % 500, m),
        3 => format!("Your order number is {order}, it ships in {n} days."),
        4 => format!("आपका ऑर्डर नंबर {order} है और डिलीवरी {h} बजे होगी।"),
        5 => format!("मैं {h} बजकर {m} मिनट पर कॉल करूँगा।"),
        6 => format!(
            "The meeting moved to {:02}/{:02}/2025 at {h} pm.",
            1 + n,
            1 + m % 12
        ),
        7 => format!("I bought {n} tickets for Rs {price}."),
        8 => format!(
            "Flight AI {} leaves from gate {}.",
            100 + price % 900,
            1 + n
        ),
        9 => format!("Order ORD-2025-{order} was refunded."),
        10 => format!("कीमत {price} रुपये है, {n} प्रतिशत छूट के साथ।"),
        11 => format!(
            "Room {} on floor {n}, checkout at {h} am.",
            100 + price % 900
        ),
        12 => format!(
            "Invoice INV{order} is due on 2025-{:02}-{:02}.",
            1 + m % 12,
            1 + n
        ),
        _ => format!("We have {n} agents and {} customers waiting.", price % 300),
    }
}

const CARD_T: &[&str] = &[
    "my card number is {} and the expiry is 09/27",
    "sure, it's {}",
    "charge it to {} please",
    "मेरा कार्ड नंबर {} है",
    "कार्ड नंबर है {}, एक्सपायरी बारह सत्ताईस",
    "the number on the card is {}, cvv later",
    "ok so {} that's my visa",
];

fn card_number(rng: &mut Rng) -> String {
    let (prefix, len): (String, usize) = match rng.below(9) {
        0 | 1 => ("4".into(), 16),
        2 => ("4".into(), 13),
        3 => (format!("5{}", 1 + rng.below(5)), 16),
        4 => (format!("{}", 2221 + rng.below(500)), 16),
        5 => (rng.pick(&["34", "37"]).to_string(), 15),
        6 => ("6011".into(), 16),
        7 => (rng.pick(&["60", "65", "81", "82", "3528"]).to_string(), 16),
        _ => ("36".into(), 14),
    };
    luhn_complete(&format!("{prefix}{}", rng.digits(len - 1 - prefix.len())))
}

/// A card as a caller says it or an STT writes it.
fn card_form(rng: &mut Rng, n: &str, spoken_ok: bool) -> String {
    let amex = n.len() == 15;
    match rng.below(if spoken_ok { 7 } else { 4 }) {
        0 => n.to_string(),
        1 if amex => grouped(n, &[4, 6, 5], " "),
        1 | 2 => grouped(
            n,
            &[4, 4, 4, 4, 4],
            if rng.below(2) == 0 { " " } else { "-" },
        ),
        3 => n
            .chars()
            .map(|c| DEVANAGARI_DIGITS[(c as u8 - b'0') as usize])
            .collect(),
        4 => grouped(n, &[1; 19], " "),
        _ => spoken(rng, n),
    }
}

fn cards(rng: &mut Rng, out: &mut Vec<Example>) {
    for _ in 0..350 {
        let n = card_number(rng);
        let v = card_form(rng, &n, true);
        out.push(positive(Kind::Card, CARD_T, rng, &v));
    }
    for i in 0..350 {
        let text = if i % 3 == 0 {
            everyday(rng)
        } else {
            let n = break_last(&card_number(rng));
            let v = card_form(rng, &n, false);
            place(rng.pick(CARD_T), &v).0
        };
        out.push(negative(Kind::Card, text));
    }
}

const PHONE_T: &[&str] = &[
    "you can reach me on {}",
    "my number is {}, call after six",
    "मेरा नंबर {} है",
    "please call back at {} tomorrow",
    "phone: {}",
    "मुझे {} पर कॉल कीजिए",
    "it's {} that's my mobile",
];

fn phone(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => {
            let (a, e, l) = (rng.digits(2), rng.digits(2), rng.digits(4));
            format!("({}{a}) {}{e}-{l}", rng.digit_from(2), rng.digit_from(2))
        }
        1 => format!(
            "{}{}-{}{}-{}",
            rng.digit_from(2),
            rng.digits(2),
            rng.digit_from(2),
            rng.digits(2),
            rng.digits(4)
        ),
        2 => format!(
            "+1 {}{} {}{} {}",
            rng.digit_from(2),
            rng.digits(2),
            rng.digit_from(2),
            rng.digits(2),
            rng.digits(4)
        ),
        3 => format!(
            "{}{}.{}{}.{}",
            rng.digit_from(2),
            rng.digits(2),
            rng.digit_from(2),
            rng.digits(2),
            rng.digits(4)
        ),
        4 => format!("{}{}", rng.digit_from(6), rng.digits(9)),
        5 => {
            let m = format!("{}{}", rng.digit_from(6), rng.digits(9));
            format!("{} {}", &m[..5], &m[5..])
        }
        6 => format!("+91 {}{}", rng.digit_from(6), rng.digits(9)),
        7 => format!(
            "+91-{}{}-{}",
            rng.digit_from(6),
            rng.digits(4),
            rng.digits(5)
        ),
        8 => format!("+44 20 {} {}", rng.digits(4), rng.digits(4)),
        9 => format!(
            "+49 {}{} {}",
            rng.digit_from(1),
            rng.digits(2),
            rng.digits(7)
        ),
        10 => format!("0{}{}", rng.digit_from(6), rng.digits(9)),
        _ => {
            let m = format!("{}{}", rng.digit_from(6), rng.digits(9));
            spoken(rng, &m)
        }
    }
}

fn phones(rng: &mut Rng, out: &mut Vec<Example>) {
    for _ in 0..350 {
        let v = phone(rng);
        out.push(positive(Kind::Phone, PHONE_T, rng, &v));
    }
    for i in 0..350 {
        let text = match i % 5 {
            0 | 1 => everyday(rng),
            2 => format!(
                "your order number is {}{}",
                rng.digit_from(2),
                rng.digits(9)
            ),
            3 => format!(
                "the tracking number {}{} will update tonight",
                rng.digit_from(2),
                rng.digits(9)
            ),
            _ => format!(
                "call between {} and {} pm, extension {}",
                1 + rng.below(5),
                6 + rng.below(4),
                rng.digits(4)
            ),
        };
        out.push(negative(Kind::Phone, text));
    }
}

const EMAIL_T: &[&str] = &[
    "my email is {}",
    "send it to {} please",
    "मेरा ईमेल {} है",
    "email: {}. Thanks!",
    "you can write to {} anytime",
    "it's {}, all lowercase",
];
const NAMES: &[&str] = &[
    "john",
    "priya",
    "rahul.sharma",
    "anna_lee",
    "m.garcia",
    "wei",
    "fatima.khan",
    "raj123",
    "support",
    "o.brien",
    "nikhil+orders",
    "sara-j",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.co.in",
    "example.org",
    "outlook.com",
    "company.io",
    "mail.example.co.uk",
    "hotmail.com",
    "iitb.ac.in",
];

fn emails(rng: &mut Rng, out: &mut Vec<Example>) {
    for i in 0..350 {
        let name = rng.pick(NAMES);
        let domain = rng.pick(DOMAINS);
        let v = if i % 6 == 5 {
            let d = domain.replace('.', " dot ");
            format!("{} at {d}", name.replace('.', " dot "))
        } else if i % 6 == 4 {
            format!("{}{}@{domain}", name.to_uppercase(), rng.below(100))
        } else {
            format!("{name}@{domain}")
        };
        out.push(positive(Kind::Email, EMAIL_T, rng, &v));
    }
    for i in 0..350 {
        let name = rng.pick(NAMES);
        let text = match i % 7 {
            0 => everyday(rng),
            1 => format!("follow us @{name} on twitter"),
            2 => format!(
                "I'll meet you at the {} at {} pm",
                rng.pick(&["mall", "office", "station"]),
                1 + rng.below(11)
            ),
            3 => format!("the report is in {name}.pdf on {}", rng.pick(DOMAINS)),
            4 => format!("visit {} for details", rng.pick(DOMAINS)),
            5 => format!("5 @ ₹{} each, total {}", 10 + rng.below(90), rng.below(900)),
            _ => format!("मैं {} बजे ऑफिस dot में रहूँगा, {name} at home", 1 + rng.below(11)),
        };
        out.push(negative(Kind::Email, text));
    }
}

const IBAN_T: &[&str] = &[
    "my IBAN is {}",
    "please transfer to {} by Friday",
    "account {} at Deutsche Bank",
    "मेरा IBAN {} है",
    "the IBAN, {}, is on the invoice",
];

fn iban(rng: &mut Rng) -> String {
    let (cc, bban) = match rng.below(6) {
        0 => ("GB", format!("{}{}", rng.letters(4), rng.digits(14))),
        1 => ("DE", rng.digits(18)),
        2 => (
            "FR",
            format!("{}{}{}", rng.digits(10), rng.letters(1), rng.digits(12)),
        ),
        3 => ("NL", format!("{}{}", rng.letters(4), rng.digits(10))),
        4 => ("ES", rng.digits(20)),
        _ => ("AE", rng.digits(19)),
    };
    iban_with_check(cc, &bban)
}

fn ibans(rng: &mut Rng, out: &mut Vec<Example>) {
    let form = |rng: &mut Rng, s: &str| {
        if rng.below(2) == 0 {
            s.to_string()
        } else {
            let chars: Vec<char> = s.chars().collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    for _ in 0..350 {
        let s = iban(rng);
        let v = form(rng, &s);
        out.push(positive(Kind::Iban, IBAN_T, rng, &v));
    }
    for i in 0..350 {
        let text = match i % 4 {
            0 => everyday(rng),
            1 | 2 => {
                let s = break_last(&iban(rng));
                let v = form(rng, &s);
                place(rng.pick(IBAN_T), &v).0
            }
            _ => format!(
                "product code {}{} {}",
                rng.letters(2),
                rng.digits(2),
                rng.letters(4)
            ),
        };
        out.push(negative(Kind::Iban, text));
    }
}

const SSN_T: &[&str] = &[
    "my social security number is {}",
    "SSN {} for the application",
    "it's {}, the SSN",
    "the ssn on file is {}",
];

fn ssn(rng: &mut Rng) -> String {
    let area = loop {
        let a = 1 + rng.below(899);
        if a != 666 {
            break a;
        }
    };
    format!(
        "{area:03}-{:02}-{:04}",
        1 + rng.below(99),
        1 + rng.below(9999)
    )
}

fn ssns(rng: &mut Rng, out: &mut Vec<Example>) {
    for i in 0..350 {
        let s = ssn(rng);
        let v = match i % 5 {
            0 => s.replace('-', " "),
            1 => s.replace('-', ""),
            2 => spoken(rng, &s.replace('-', "")),
            _ => s,
        };
        out.push(positive(Kind::Ssn, SSN_T, rng, &v));
    }
    for i in 0..350 {
        let text = match i % 5 {
            0 | 1 => everyday(rng),
            2 => format!("the zip is {}-{}", rng.digits(5), rng.digits(4)),
            3 => format!(
                "part number {}-{}-{}",
                rng.digits(3),
                rng.digits(2),
                rng.digits(3)
            ),
            _ => format!(
                "SSN 666-{}-{} is not a valid number",
                rng.digits(2),
                rng.digits(4)
            ),
        };
        out.push(negative(Kind::Ssn, text));
    }
}

const AADHAAR_T: &[&str] = &[
    "मेरा आधार नंबर {} है",
    "my aadhaar is {}",
    "aadhaar number {} please verify",
    "आधार: {}",
    "the aadhaar card says {}",
];

fn aadhaar(rng: &mut Rng) -> String {
    verhoeff_complete(&format!("{}{}", rng.digit_from(2), rng.digits(10)))
}

fn aadhaars(rng: &mut Rng, out: &mut Vec<Example>) {
    for i in 0..350 {
        let a = aadhaar(rng);
        let v = match i % 5 {
            0 => a.clone(),
            1 | 2 => grouped(&a, &[4, 4, 4], " "),
            3 => a
                .chars()
                .map(|c| DEVANAGARI_DIGITS[(c as u8 - b'0') as usize])
                .collect(),
            _ => spoken(rng, &a),
        };
        out.push(positive(Kind::Aadhaar, AADHAAR_T, rng, &v));
    }
    for i in 0..350 {
        let text = match i % 3 {
            0 => everyday(rng),
            _ => {
                // Verhoeff fails; first digits 2–5 so it is not a +91 phone either.
                let body = format!("{}{}", (b'2' + rng.below(4) as u8) as char, rng.digits(10));
                let bad = break_last(&verhoeff_complete(&body));
                let v = if i % 2 == 0 {
                    grouped(&bad, &[4, 4, 4], " ")
                } else {
                    bad
                };
                place(rng.pick(AADHAAR_T), &v).0
            }
        };
        out.push(negative(Kind::Aadhaar, text));
    }
}

const PAN_T: &[&str] = &[
    "my PAN is {}",
    "PAN card number {}",
    "मेरा पैन {} है",
    "pan: {}, name as on card",
];

fn pans(rng: &mut Rng, out: &mut Vec<Example>) {
    for _ in 0..350 {
        let t = rng.pick(&["P", "C", "H", "F", "A", "T"]);
        let v = format!(
            "{}{t}{}{}{}",
            rng.letters(3),
            rng.letters(1),
            rng.digits(4),
            rng.letters(1)
        );
        out.push(positive(Kind::Pan, PAN_T, rng, &v));
    }
    for i in 0..350 {
        let text = match i % 5 {
            0 => everyday(rng),
            1 => format!("IFSC code {}0{}", rng.letters(4), rng.digits(6)),
            2 => format!(
                "vehicle MH{:02}{}{}",
                rng.below(50),
                rng.letters(2),
                rng.digits(4)
            ),
            3 => format!(
                "ref {}{}{}{}",
                rng.letters(3),
                rng.pick(&["D", "E", "K", "M"]),
                rng.letters(1),
                rng.digits(4)
            ),
            _ => format!(
                "GSTIN 27{}P{}{}{}1Z5",
                rng.letters(3),
                rng.letters(1),
                rng.digits(4),
                rng.letters(1)
            ),
        };
        out.push(negative(Kind::Pan, text));
    }
}

const UPI_T: &[&str] = &[
    "pay me on {}",
    "my UPI id is {}",
    "मेरी UPI आईडी {} है",
    "send it to {} on GPay",
];

fn upis(rng: &mut Rng, out: &mut Vec<Example>) {
    for i in 0..350 {
        let handle = rng.pick(&[
            "okicici",
            "oksbi",
            "okhdfcbank",
            "ybl",
            "paytm",
            "upi",
            "axl",
            "ibl",
        ]);
        let v = if i % 3 == 0 {
            format!("{}{}@{handle}", rng.digit_from(6), rng.digits(9))
        } else {
            format!("{}@{handle}", rng.pick(NAMES))
        };
        out.push(positive(Kind::Upi, UPI_T, rng, &v));
    }
    for i in 0..350 {
        let text = match i % 4 {
            0 => everyday(rng),
            1 => format!("tag @{} in the post", rng.pick(NAMES)),
            2 => format!("{} @ {} pm works", rng.below(9), 1 + rng.below(11)),
            _ => format!("rate is {}@{}% a year", rng.below(9), 1 + rng.below(20)),
        };
        out.push(negative(Kind::Upi, text));
    }
}

const IP_T: &[&str] = &[
    "the server at {} is down",
    "my IP address is {}.",
    "connect to {} on port 22",
    "सर्वर {} पर है",
];

/// A host address: first octet 1..=`first`, last never 0 or 255.
pub fn ipv4(rng: &mut Rng, first: usize) -> String {
    format!(
        "{}.{}.{}.{}",
        1 + rng.below(first),
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    )
}

fn ips(rng: &mut Rng, out: &mut Vec<Example>) {
    for i in 0..350 {
        let v = match i % 4 {
            0 | 1 => ipv4(rng, 254),
            2 => format!(
                "2001:db8:{:x}::{:x}",
                rng.below(65536),
                1 + rng.below(65535)
            ),
            _ => format!(
                "fe80::{:x}:{:x}:{:x}:{:x}",
                rng.below(65536),
                rng.below(65536),
                rng.below(65536),
                rng.below(65536)
            ),
        };
        out.push(positive(Kind::Ip, IP_T, rng, &v));
    }
    for i in 0..350 {
        let text = match i % 5 {
            0 => everyday(rng),
            1 => format!(
                "update to version {}.{}.{}",
                rng.below(10),
                rng.below(20),
                rng.below(50)
            ),
            2 => format!(
                "the call lasted {:02}:{:02}:{:02}",
                rng.below(3),
                rng.below(60),
                rng.below(60)
            ),
            3 => format!(
                "MAC {:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
                rng.below(256),
                rng.below(256),
                rng.below(256),
                rng.below(256),
                rng.below(256),
                rng.below(256)
            ),
            _ => format!(
                "born on {:02}.{:02}.19{:02}",
                1 + rng.below(28),
                1 + rng.below(12),
                rng.below(100)
            ),
        };
        out.push(negative(Kind::Ip, text));
    }
}

const SPOKEN_T: &[&str] = &[
    "my OTP is {}",
    "the code is {}, it expires soon",
    "ओटीपी है {}",
    "account number {} at the branch",
    "customer id {} please",
];

fn spoken_runs(rng: &mut Rng, out: &mut Vec<Example>) {
    for i in 0..350 {
        let len = 6 + rng.below(3);
        let n = rng.digits(len);
        let v = if i % 5 == 4 {
            grouped(&n, &[1; 9], " ")
        } else {
            spoken(rng, &n)
        };
        out.push(positive(Kind::SpokenDigits, SPOKEN_T, rng, &v));
    }
    for i in 0..350 {
        let (a, b) = (ENGLISH[rng.below(10)], ENGLISH[rng.below(10)]);
        let text = match i % 7 {
            0 => everyday(rng),
            1 => format!("I have {a} kids and {b} dogs"),
            2 => format!("give me {a} or {b} minutes"),
            3 => format!(
                "{} {} {} {} {} liftoff",
                ENGLISH[5], ENGLISH[4], ENGLISH[3], ENGLISH[2], ENGLISH[1]
            ),
            4 => format!(
                "मुझे {} {} दिन लगेंगे",
                HINDI[rng.below(10)],
                HINDI[rng.below(10)]
            ),
            5 => format!("it was {a} thirty, maybe {b} forty five"),
            _ => format!("नौ बजे मिलते हैं, {} लोग आएँगे", HINDI[rng.below(10)]),
        };
        out.push(negative(Kind::SpokenDigits, text));
    }
}

/// The whole corpus, the same every run.
pub fn corpus() -> Vec<Example> {
    let mut rng = Rng::new(0xC0_7E_57);
    let mut out = Vec::new();
    cards(&mut rng, &mut out);
    phones(&mut rng, &mut out);
    emails(&mut rng, &mut out);
    ibans(&mut rng, &mut out);
    ssns(&mut rng, &mut out);
    aadhaars(&mut rng, &mut out);
    pans(&mut rng, &mut out);
    upis(&mut rng, &mut out);
    ips(&mut rng, &mut out);
    spoken_runs(&mut rng, &mut out);
    out
}

/// Per kind: true positives, false positives, false negatives.
#[derive(Debug, Default, Clone, Copy)]
pub struct Score {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub positives: u64,
    pub negatives: u64,
}

impl Score {
    pub fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    pub fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
}

/// Scores `policy` (normally every kind) on the corpus: a find of kind K
/// over a planted K is a true positive; every other find is a false
/// positive of its kind; a planted K with no such find is a miss.
/// Returns the scores in `Kind::ALL` order and the misclassified texts.
pub fn score(policy: &Policy, corpus: &[Example]) -> (Vec<(Kind, Score)>, Vec<String>) {
    let mut scores: Vec<(Kind, Score)> = Kind::ALL.iter().map(|&k| (k, Score::default())).collect();
    let idx = |k: Kind| Kind::ALL.iter().position(|&x| x == k).unwrap();
    let mut wrong = Vec::new();
    for ex in corpus {
        let found = policy.find(&ex.text);
        let set = idx(ex.set);
        let mut hit = false;
        for s in &found {
            let on_value = ex.value.is_some_and(|(a, b)| s.start < b && a < s.end);
            if on_value && s.kind == ex.set {
                hit = true;
            } else {
                scores[idx(s.kind)].1.fp += 1;
                wrong.push(format!(
                    "false {}: {:?} in {:?}",
                    s.kind,
                    &ex.text[s.start..s.end],
                    ex.text
                ));
            }
        }
        match ex.value {
            Some(_) => {
                scores[set].1.positives += 1;
                if hit {
                    scores[set].1.tp += 1;
                } else {
                    scores[set].1.fn_ += 1;
                    wrong.push(format!("missed {}: {:?}", ex.set, ex.text));
                }
            }
            None => scores[set].1.negatives += 1,
        }
    }
    (scores, wrong)
}

/// Prints the scores as a table, a row per kind, each line after `indent`
/// (the test and the bench report print the same one); returns the
/// precision over every kind together.
pub fn print_table(scores: &[(Kind, Score)], indent: &str) -> f64 {
    let (mut tp, mut fp) = (0, 0);
    println!("{indent}kind           positives negatives  precision  recall");
    for (kind, s) in scores {
        println!(
            "{indent}{:<14} {:>9} {:>9}  {:>9.4}  {:.4}",
            kind.name(),
            s.positives,
            s.negatives,
            s.precision(),
            s.recall()
        );
        tp += s.tp;
        fp += s.fp;
    }
    tp as f64 / (tp + fp).max(1) as f64
}

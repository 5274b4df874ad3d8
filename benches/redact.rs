//! Redaction's cost per message, every kind on: `cargo bench --bench redact`.
//!
//! The goal is at most 5 µs for a 200-byte message. Three messages of about
//! 200 bytes each: plain English with numbers that are no one's data (the
//! common case), Hindi, and one carrying a card, a phone and an email.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use convlog::redact::Policy;

pub const MESSAGES: [(&str, &str); 3] = [
    (
        "plain",
        "Sure, I can help with that. Your order of 3 items ships on 12/05 and the total \
         is $45.99 including tax. Is there anything else, maybe the 10:30 slot tomorrow \
         or a call back at 4 pm?",
    ),
    (
        "hindi",
        "जी हाँ, आपका ऑर्डर नंबर 48213 है और डिलीवरी कल 10 बजे तक हो जाएगी। \
         कुल कीमत 1299 रुपये है।",
    ),
    (
        "pii",
        "my card is 4111 1111 1111 1111, call me on +91 98765 43210 or mail \
         priya.sharma@example.com, and the otp is four five six one two three ok",
    ),
];

fn redact(c: &mut Criterion) {
    let policy = Policy::all();
    let mut g = c.benchmark_group("redact_all_kinds");
    for (name, text) in MESSAGES {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(format!("{name}_{}B", text.len()), |b| {
            b.iter(|| policy.redact(black_box(text)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = redact
}
criterion_main!(benches);

//! The line codec: encoding a message into a checksummed line and decoding it back.
//!
//! `cargo bench --bench codec`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use convlog::line::write_json_str as write_py_str;
use convlog::line::{self as codec, Kind};
use convlog::{Message, Role};

const TS: &str = "2025-08-18T14:30:22.123456+05:30";

fn messages() -> Vec<(&'static str, Message)> {
    vec![
        (
            "hindi",
            Message::user("नमस्कार, आप कैसे हैं? message 0001234", "deepgram_stt"),
        ),
        (
            "ascii",
            Message::agent(
                "Of course! When are you planning to travel to Jaipur this year?",
                "cartesia_tts",
            ),
        ),
        (
            "escapes+optional",
            Message::new(
                Role::Agent,
                "He said \"stop\"\nthen left.\t(sigh)",
                "cartesia_tts",
            )
            .turn("t42")
            .interrupted(true)
            .lang("en")
            .meta(serde_json::json!({"latency_ms": 412, "confidence": 0.93})),
        ),
    ]
}

fn line_of(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    codec::frame(
        Kind::Message,
        123_456,
        &codec::message_fields(m, TS),
        &mut out,
    );
    out.pop(); // the newline
    out
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for (name, m) in messages() {
        g.throughput(Throughput::Bytes(line_of(&m).len() as u64 + 1));
        g.bench_function(format!("message_fields+frame/{name}"), |b| {
            let mut out = Vec::with_capacity(512);
            b.iter(|| {
                out.clear();
                let fields = codec::message_fields(black_box(&m), TS);
                codec::frame(Kind::Message, black_box(123_456), &fields, &mut out);
                black_box(&out);
            })
        });
        let fields = codec::message_fields(&m, TS);
        g.bench_function(format!("frame/{name}"), |b| {
            let mut out = Vec::with_capacity(512);
            b.iter(|| {
                out.clear();
                codec::frame(
                    Kind::Message,
                    black_box(123_456),
                    black_box(&fields),
                    &mut out,
                );
                black_box(&out);
            })
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, m) in messages() {
        let line = line_of(&m);
        g.throughput(Throughput::Bytes(line.len() as u64 + 1));
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| black_box(codec::decode(black_box(&line)).expect("valid")))
        });
        g.bench_function(format!("check/{name}"), |b| {
            b.iter(|| black_box(codec::check(black_box(&line)).expect("valid")))
        });
    }
    g.finish();
}

fn python_string(c: &mut Criterion) {
    let mut g = c.benchmark_group("write_py_str");
    for (name, m) in messages() {
        g.throughput(Throughput::Bytes(m.content.len() as u64));
        g.bench_function(name, |b| {
            let mut out = Vec::with_capacity(512);
            b.iter(|| {
                out.clear();
                write_py_str(&mut out, black_box(&m.content)).expect("vec");
                black_box(&out);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, encode, decode, python_string);
criterion_main!(benches);

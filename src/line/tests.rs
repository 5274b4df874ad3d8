//! The line format's tests that span encode, frame and decode: round trips,
//! the fast path against the general one, and property tests.

use super::decode::decode_general;
use super::encode::reference_fields;
use super::fast;
use super::frame::{PREFIX_HEAD, PREFIX_LEN, read_hex, write_hex};
use super::*;
use crate::record::{Header, Message, Record, Role};
use crate::time::parse_ts;

fn line(kind: Kind, seq: u64, fields: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame(kind, seq, fields, &mut out);
    out
}

#[test]
fn message_round_trips_and_is_plain_json() {
    let msg = Message::agent("नमस्ते \"quoted\"\nnew line", "cartesia_tts")
        .turn("t1")
        .interrupted(true)
        .meta(serde_json::json!({"latency_ms": 412}));
    let ts = "2025-08-18T14:30:23.456789+05:30";
    let l = line(Kind::Message, 7, &message_fields(&msg, ts));
    assert_eq!(l.iter().filter(|&&b| b == b'\n').count(), 1);
    let v: serde_json::Value = serde_json::from_slice(&l).unwrap();
    assert_eq!(v["kind"], "message");
    assert_eq!(v["seq"], 7);
    match decode(&l[..l.len() - 1]).unwrap() {
        Record::Message(m) => {
            assert_eq!(m.to_message().unwrap(), msg.clone().timestamp(ts));
            assert_eq!(m.seq, 7);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn prefix_has_fixed_shape() {
    let l = line(Kind::End, 3, &end_fields("2025-08-18T14:30:23.456789Z"));
    assert_eq!(&l[..8], PREFIX_HEAD);
    assert_eq!(&l[16..18], b"\",");
    assert_eq!(
        read_hex(&l[8..16]).unwrap(),
        crc32fast::hash(&l[18..l.len() - 1])
    );
}

#[test]
fn every_single_bit_flip_is_detected() {
    let msg = Message::user("hi there", "deepgram_stt");
    let l = line(
        Kind::Message,
        1,
        &message_fields(&msg, "2025-08-18T14:30:22.123456+00:00"),
    );
    let body = &l[..l.len() - 1];
    for byte in 0..body.len() {
        for bit in 0..8 {
            let mut bad = body.to_vec();
            bad[byte] ^= 1 << bit;
            assert!(
                decode(&bad).is_err(),
                "flip at byte {byte} bit {bit} undetected"
            );
        }
    }
}

#[test]
fn uppercase_checksum_is_rejected() {
    let mut l = line(Kind::End, 1, &end_fields("2025-08-18T14:30:23.456789Z"));
    l.pop();
    l[8..16].make_ascii_uppercase();
    if l[8..16].iter().any(u8::is_ascii_alphabetic) {
        assert_eq!(decode(&l), Err(LineError::BadPrefix));
    }
}

#[test]
fn checksum_valid_but_unknown_role_is_invalid() {
    let l = line(
        Kind::Message,
        1,
        br#""ts":"2025-08-18T14:30:22.123456Z","role":"bot","content":"x","source":"s"}"#,
    );
    let err = decode(&l[..l.len() - 1]).unwrap_err();
    assert!(err.to_string().contains("user, agent"), "{err}");
}

#[test]
fn header_round_trips() {
    let mut h = Header {
        version: 1,
        session: "abc".into(),
        created: "2025-08-18T14:30:22.000000+05:30".into(),
        redact: None,
    };
    let l = line(Kind::Header, 0, &header_fields(&h));
    assert!(!String::from_utf8_lossy(&l).contains("redact"));
    assert_eq!(
        decode(&l[..l.len() - 1]).unwrap(),
        Record::Header(h.clone())
    );
    h.version = 2;
    h.redact = Some(crate::record::StoredPolicy {
        kinds: vec!["card".into(), "email".into()],
        keyed: true,
    });
    let l = line(Kind::Header, 0, &header_fields(&h));
    assert!(
        String::from_utf8_lossy(&l)
            .ends_with("\"redact\":{\"kinds\":[\"card\",\"email\"],\"keyed\":true}}\n"),
        "{}",
        String::from_utf8_lossy(&l)
    );
    assert_eq!(decode(&l[..l.len() - 1]).unwrap(), Record::Header(h));
    // A policy that is not one is a damaged header, not a silently plain log.
    let l = line(
        Kind::Header,
        0,
        br#""format":"convlog","version":2,"session":"abc","created":"2025-08-18T14:30:22.000000+05:30","redact":"card"}"#,
    );
    let err = decode(&l[..l.len() - 1]).unwrap_err();
    assert!(err.to_string().contains("redact"), "{err}");
}

/// One rule for a `\u` escape of half a surrogate pair, wherever it is in
/// the line: in `content`, in a `meta` value or key (which the decoder
/// keeps as raw JSON), or in a field a reader ignores, it makes the line
/// invalid; a whole pair is a character like any other.
#[test]
fn an_unpaired_surrogate_escape_is_invalid_anywhere_in_the_line() {
    let base = r#""ts":"2025-08-18T14:30:22.123456Z","role":"user","content":"x","source":"s"}"#;
    let decoded = |body: &str| {
        let l = line(Kind::Message, 1, body.as_bytes());
        let l = &l[..l.len() - 1];
        if let Some(fast) = fast::decode_message(l) {
            assert_eq!(Ok(fast), decode_general(l), "the fast path agrees: {body}");
        }
        decode(l).map(|_| ()).map_err(|e| e.to_string())
    };
    let lone = [
        base.replace(r#""content":"x""#, r#""content":"a\ud800b""#),
        base.replace('}', r#","meta":{"k":"a\ud800b"}}"#),
        base.replace('}', r#","meta":{"k\ud800":1}}"#),
        base.replace('}', r#","meta":{"k":["x",{"deep":"\udc00"}]}}"#),
        base.replace('}', r#","meta":{"k":"\ud800\ud800"}}"#),
        base.replace('}', r#","meta":{"k":"\ud800\u0041"}}"#),
        base.replace('}', r#","meta":{"k":"\ud83d"}}"#),
        base.replace('}', r#","redacted":{"e\udfff":1}}"#),
        base.replace('}', r#","unknown_field":"\ud800"}"#),
    ];
    for body in &lone {
        let e = decoded(body).unwrap_err();
        assert!(e.contains("surrogate"), "{body}: {e}");
    }
    let fine = [
        base.replace(r#""content":"x""#, r#""content":"\ud83d\ude80""#),
        base.replace('}', r#","meta":{"k":"\ud83d\ude80","\uD83D\uDE80":1}}"#),
        base.replace('}', r#","meta":{"k":"\\ud800 is text here"}}"#),
        base.replace('}', r#","meta":{"k":"\u0000\uffff"}}"#),
        base.replace('}', r#","unknown_field":"\\\\ud800"}"#),
    ];
    for body in &fine {
        assert_eq!(decoded(body), Ok(()), "{body}");
    }
    // Cut short where a pair or an escape would go on: no panic, no pair.
    use crate::json_escape::unpaired_surrogate;
    assert_eq!(unpaired_surrogate(br#""\ud800\"#), Some(0xd800));
    assert_eq!(unpaired_surrogate(br#""\ud800\udc0"#), Some(0xd800));
    assert_eq!(unpaired_surrogate(br#""\ud8"#), None);
    assert_eq!(unpaired_surrogate(br#"\"#), None);
}

/// Lines the fast path must decline, all still decoded (or refused) by the general path.
#[test]
fn fast_path_declines_what_it_cannot_vouch_for() {
    let base = r#""ts":"2025-08-18T14:30:22.123456Z","role":"user","content":"x","source":"s"}"#;
    let cases = [
        base.replace(r#""content":"x""#, r#""content":"a\u0022b""#),
        base.replace(r#""content":"x""#, r#""content":"a\qb""#),
        base.replace(r#""content""#, r#""con\u0074ent""#),
        base.replace(r#""role":"user""#, r#""role" : "user""#),
        base.replace('}', r#","extra":1}"#),
        base.replace('}', r#","turn":null}"#),
        base.replace('}', r#","meta":[1]}"#),
        base.replace('}', r#","interrupted":1}"#),
        base.replace('}', "} "),
        base.replace(r#""source":"s""#, r#""source":"s","source":"t""#),
        base.replace("14:30:22.123456Z", "14:30:22.123456+24:00"),
    ];
    for (i, body) in cases.iter().enumerate() {
        let l = line(Kind::Message, 1, body.as_bytes());
        let l = &l[..l.len() - 1];
        assert!(fast::decode_message(l).is_none(), "case {i}: {body}");
        assert_eq!(decode(l), decode_general(l), "case {i}");
    }
    // Unusual timestamps are left to chrono, with the same outcome either way.
    for ts in [
        "14:30:22.5Z",
        "14:30:60.123456Z",
        "14:30:22Z",
        "14:30:22.123456+0530",
    ] {
        let body = base.replace("14:30:22.123456Z", ts);
        let l = line(Kind::Message, 1, body.as_bytes());
        let l = &l[..l.len() - 1];
        assert_eq!(
            fast::decode_message(l).ok_or(()),
            decode_general(l).map_err(|_| ()),
            "{ts}"
        );
    }
    let seq0 = line(Kind::Message, 7, base.as_bytes());
    let leading_zero = String::from_utf8(seq0)
        .unwrap()
        .replace("\"seq\":7", "\"seq\":07");
    assert!(fast::decode_message(leading_zero.trim_end().as_bytes()).is_none());
}

#[test]
fn fast_timestamps() {
    for ts in [
        "2025-08-18T14:30:22.123456+05:30",
        "2025-08-18T14:30:22.123456Z",
        "2024-02-29T23:59:59.999999-07:00",
        "2000-02-29T00:00:00.000000+23:59",
    ] {
        assert!(fast::valid_ts(ts), "{ts}");
        assert!(parse_ts(ts).is_ok());
    }
    for ts in [
        "2023-02-29T14:30:22.123456Z",
        "1900-02-29T14:30:22.123456Z",
        "2025-04-31T14:30:22.123456Z",
        "2025-13-01T14:30:22.123456Z",
        "2025-08-18T24:00:00.000000Z",
        "2025-08-18T14:30:22.123456z",
        "2025-08-18t14:30:22.123456Z",
        "2025-08-18T14:30:22.123456-00:00",
        "2025-08-18T14:30:22.123456+0530",
        "2025-08-18T14:30:22Z",
    ] {
        assert!(!fast::valid_ts(ts), "{ts}");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z \"\\\\/\n\t\u{0}\u{1f}\u{7f}नमस्ते😀]{0,40}",
        ]
    }

    fn message() -> impl Strategy<Value = Message> {
        (
            any::<bool>(),
            text(),
            text(),
            proptest::option::of(text()),
            any::<bool>(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(prop_oneof![
                Just(serde_json::json!({})),
                Just(serde_json::json!({"latency_ms": 412, "nested": {"a": [1, "}{\"]"]}})),
                text().prop_map(|t| serde_json::json!({ "note": t })),
            ]),
        )
            .prop_map(
                |(user, content, source, turn, interrupted, speaker, lang, meta)| {
                    let role = if user { Role::User } else { Role::Agent };
                    Message {
                        turn,
                        interrupted,
                        speaker,
                        lang,
                        meta,
                        ..Message::new(role, content, source)
                    }
                },
            )
    }

    fn timestamp() -> impl Strategy<Value = String> {
        (
            0u32..10000,
            0u32..14,
            0u32..33,
            0u32..25,
            0u32..61,
            0u32..61,
            0u32..1_000_000,
            prop_oneof![
                Just("Z".to_string()),
                Just("z".to_string()),
                (prop_oneof![Just('+'), Just('-')], 0u32..26, 0u32..61)
                    .prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}")),
            ],
        )
            .prop_map(|(y, mo, d, h, mi, s, f, off)| {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:06}{off}")
            })
    }

    /// A byte that tends to matter to a JSON parser.
    fn interesting() -> impl Strategy<Value = u8> {
        prop_oneof![
            prop::sample::select(b"\"\\{}[],: 0123456789-.eEtrufalsn\x00\x1f\x7f\xff".to_vec()),
            any::<u8>(),
        ]
    }

    proptest! {
        #[test]
        fn hand_encoder_matches_serde(msg in message(), ts in timestamp()) {
            prop_assert_eq!(message_fields(&msg, &ts), reference_fields(&msg, &ts));
        }

        #[test]
        fn fast_path_decodes_what_convlog_writes(msg in message(), seq in any::<u64>()) {
            let ts = "2025-08-18T14:30:22.123456+05:30";
            let l = line(Kind::Message, seq, &message_fields(&msg, ts));
            let l = &l[..l.len() - 1];
            let general = decode_general(l);
            prop_assert!(general.is_ok());
            // Only \u escapes (control characters without a short name) are declined.
            let unicode_escapes = [&msg.content, &msg.source]
                .into_iter()
                .chain(&msg.turn)
                .chain(&msg.speaker)
                .chain(&msg.lang)
                .any(|s| s.bytes().any(|c| c < 0x20 && !b"\x08\x0c\n\r\t".contains(&c)));
            match fast::decode_message(l) {
                Some(rec) => prop_assert_eq!(Ok(rec), general),
                None => prop_assert!(unicode_escapes, "declined a line without \\u escapes"),
            }
        }

        /// Soundness: whatever the fast path accepts, the general path
        /// accepts with the same record, for damaged lines with a valid CRC.
        #[test]
        fn fast_path_never_disagrees(
            msg in message(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, interesting()), 1..4),
        ) {
            let mut body = message_fields(&msg, "2025-08-18T14:30:22.123456+05:30");
            let mut full = b"\"kind\":\"message\",\"seq\":42,".to_vec();
            full.append(&mut body);
            for (at, op, byte) in edits {
                let i = at.index(full.len() + 1);
                match op {
                    0 if i < full.len() => full[i] = byte,
                    1 => full.insert(i, byte),
                    _ if i < full.len() => { full.remove(i); }
                    _ => {}
                }
            }
            let mut l = Vec::new();
            l.extend_from_slice(PREFIX_HEAD);
            l.extend_from_slice(b"00000000\",");
            l.extend_from_slice(&full);
            let crc = crc32fast::hash(&l[PREFIX_LEN..]);
            write_hex(crc, &mut l[8..16]);
            if let Some(rec) = fast::decode_message(&l) {
                prop_assert_eq!(Ok(rec), decode_general(&l));
            }
        }

        #[test]
        fn fast_timestamps_are_a_subset_of_chrono(ts in timestamp()) {
            if fast::valid_ts(&ts) {
                prop_assert!(parse_ts(&ts).is_ok(), "{} accepted but chrono refuses it", ts);
            }
        }
    }
}

/// Tool calls and handoffs: round trips, truncation, damage, and the fast
/// path leaving them to the general one.
mod tools {
    use super::*;
    use crate::record::{Handoff, HandoffRecord, MAX_TOOL_TEXT_BYTES, ToolCall, ToolRecord};

    const TS: &str = "2025-08-18T14:30:25.500000+05:30";

    fn tool_line(call: &ToolCall, seq: u64) -> Vec<u8> {
        let mut l = line(Kind::Tool, seq, &tool_fields(call, TS));
        l.pop();
        l
    }

    fn decoded_tool(l: &[u8]) -> ToolRecord<'_> {
        match decode(l).unwrap() {
            Record::Tool(t) => t,
            other => panic!("not a tool record: {other:?}"),
        }
    }

    #[test]
    fn a_tool_call_round_trips_with_its_arguments_as_given() {
        // Key order, spacing and number spelling of the model's arguments
        // are kept: they are stored as the string the model produced.
        let args = r#"{ "time": "19:00", "people": 2.50, "note": "नमस्ते \"x\"" }"#;
        let call = ToolCall::new("book_table", args, "livekit")
            .call_id("call_7")
            .output("booked:\ntable 12")
            .error(false)
            .duration_ms(84.25)
            .turn("speech_3")
            .meta(serde_json::json!({"b": 1, "a": [true]}));
        let l = tool_line(&call, 4);
        let v: serde_json::Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["kind"], "tool");
        assert_eq!(v["arguments"], args);
        let t = decoded_tool(&l);
        assert_eq!(
            t,
            ToolRecord {
                seq: 4,
                ts: TS.into(),
                name: "book_table".into(),
                call_id: Some("call_7".into()),
                arguments: args.into(),
                arguments_truncated: None,
                output: Some("booked:\ntable 12".into()),
                output_truncated: None,
                error: false,
                duration_ms: Some(84.25),
                turn: Some("speech_3".into()),
                source: "livekit".into(),
                meta: Some(r#"{"a":[true],"b":1}"#.into()),
            }
        );
        // The body's field order is the documented one.
        let body = std::str::from_utf8(&l[PREFIX_LEN..]).unwrap();
        assert!(
            body.starts_with(
                r#""kind":"tool","seq":4,"ts":"2025-08-18T14:30:25.500000+05:30","name":"book_table","call_id":"call_7","arguments":"#
            ),
            "{body}"
        );
        assert!(
            !body.contains("\"error\""),
            "error is written only when true"
        );
    }

    #[test]
    fn long_arguments_and_output_are_cut_and_marked() {
        // 'é' is two bytes, so the cut falls inside one and backs off.
        let output = "é".repeat(MAX_TOOL_TEXT_BYTES);
        let args = format!("\"{}\"", "a".repeat(MAX_TOOL_TEXT_BYTES + 10));
        let call = ToolCall::new("search", args.clone(), "pipecat")
            .output(output.clone())
            .error(true);
        let l = tool_line(&call, 1);
        let t = decoded_tool(&l);
        assert_eq!(t.output_truncated, Some(output.len() as u64));
        let kept = t.output.as_deref().unwrap();
        assert_eq!(kept.len(), MAX_TOOL_TEXT_BYTES);
        assert!(output.starts_with(kept));
        assert_eq!(t.arguments_truncated, Some(args.len() as u64));
        assert_eq!(t.arguments, &args[..MAX_TOOL_TEXT_BYTES]);
        assert!(t.error);
        assert!(
            t.summary()
                .contains(&format!("[output cut from {} bytes]", output.len()))
        );
    }

    #[test]
    fn a_handoff_round_trips() {
        let h = Handoff::new("booking", "livekit")
            .from("greeter")
            .turn("t9");
        let mut l = line(Kind::Handoff, 2, &handoff_fields(&h, TS));
        l.pop();
        assert_eq!(
            decode(&l).unwrap(),
            Record::Handoff(HandoffRecord {
                seq: 2,
                ts: TS.into(),
                from: Some("greeter".into()),
                to: "booking".into(),
                turn: Some("t9".into()),
                source: "livekit".into(),
                meta: None,
            })
        );
        let h = Handoff::new("first", "livekit");
        let mut l = line(Kind::Handoff, 2, &handoff_fields(&h, TS));
        l.pop();
        match decode(&l).unwrap() {
            Record::Handoff(r) => assert_eq!(r.summary(), "? -> first"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_single_bit_flip_in_a_tool_line_is_detected() {
        let call = ToolCall::new("f", r#"{"x":1}"#, "lk")
            .output("ok")
            .duration_ms(3.0);
        let body = tool_line(&call, 1);
        for byte in 0..body.len() {
            for bit in 0..8 {
                let mut bad = body.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    decode(&bad).is_err(),
                    "flip at byte {byte} bit {bit} undetected"
                );
            }
        }
    }

    /// Lines framed correctly whose body breaks a tool record's rules.
    #[test]
    fn checksum_valid_but_invalid_tool_records_are_refused() {
        for (fields, why) in [
            (
                r#""ts":"2025-08-18T14:30:25.500000Z","arguments":"{}","source":"x"}"#,
                "`name`",
            ),
            (
                r#""ts":"2025-08-18T14:30:25.500000Z","name":"f","source":"x"}"#,
                "`arguments`",
            ),
            (
                r#""ts":"2025-08-18T14:30:25.500000Z","name":"f","arguments":"{}"}"#,
                "`source`",
            ),
            (r#""name":"f","arguments":"{}","source":"x"}"#, "`ts`"),
            (
                r#""ts":"2025-08-18T14:30:25.500000Z","name":"f","arguments":{},"source":"x"}"#,
                "string",
            ),
            (
                r#""ts":"2025-08-18T14:30:25.500000Z","name":"f","arguments":"","source":"x","duration_ms":-1}"#,
                "negative",
            ),
            (
                r#""ts":"2025-08-18T14:30:25.500000Z","name":"f","arguments":"","source":"x","meta":[1]}"#,
                "object",
            ),
        ] {
            let mut l = line(Kind::Tool, 1, fields.as_bytes());
            l.pop();
            let err = decode(&l).unwrap_err().to_string();
            assert!(err.contains(why), "{fields}: {err}");
        }
        let mut l = line(
            Kind::Handoff,
            1,
            br#""ts":"2025-08-18T14:30:25.500000Z","source":"x"}"#,
        );
        l.pop();
        assert!(decode(&l).unwrap_err().to_string().contains("`to`"));
    }

    /// The fast path declines tool lines (it vouches for message lines
    /// only), and a message line with a field a tool call uses is still a
    /// message: unknown fields are ignored, whatever their type.
    #[test]
    fn the_fast_path_leaves_tool_lines_to_the_general_one() {
        let call = ToolCall::new("f", "{}", "lk");
        let l = tool_line(&call, 1);
        assert!(fast::decode_message(&l).is_none());
        assert_eq!(decode(&l).unwrap(), decode_general(&l).unwrap());
        let fields = br#""ts":"2025-08-18T14:30:25.500000Z","role":"user","content":"hi","source":"s","error":"not a bool","name":5}"#;
        let mut l = line(Kind::Message, 1, fields);
        l.pop();
        assert!(matches!(decode(&l).unwrap(), Record::Message(m) if m.content == "hi"));
    }
}

//! The line decoder on arbitrary bytes: it never panics; whenever its fast
//! path answers, the general serde_json decoder gives the same record; and
//! a decoded message encodes back to a line that decodes to the same
//! fields (the encoder and the decoder agree on every escape), and
//! encoding that again changes nothing.
#![no_main]

use convlog::line::{self, Kind};
use convlog::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = convlog_fuzz::file_bytes(data);
    let line = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let decoded = line::decode(line);
    if line::check(line).is_ok() {
        let (fast, general) = convlog::fuzz::decode_both(line);
        if let Some(fast) = fast {
            match &general {
                Ok(g) => assert_eq!(&fast, g, "fast and general decoders disagree"),
                Err(e) => panic!("the fast path accepted a line the general decoder refuses: {e}"),
            }
        }
    }
    let Ok(Record::Message(m)) = decoded else {
        return;
    };
    let msg = m.to_message().expect("a decoded message's meta is JSON");
    let fields = line::message_fields(&msg, &m.ts);
    let mut again = Vec::new();
    line::frame(Kind::Message, m.seq, &fields, &mut again);
    let back = match line::decode(&again[..again.len() - 1]) {
        Ok(Record::Message(b)) => b,
        other => panic!("a re-encoded message does not decode: {other:?}"),
    };
    assert_eq!(
        (&back.ts, back.role, &back.content, &back.source),
        (&m.ts, m.role, &m.content, &m.source)
    );
    assert_eq!(
        (&back.turn, back.interrupted, &back.speaker, &back.lang),
        (&m.turn, m.interrupted, &m.speaker, &m.lang)
    );
    // `meta` is stored normalised (keys sorted, exponents spelled `e+N`):
    // encoding what was read back is a fixed point.
    let back_msg = back.to_message().expect("a re-encoded meta is JSON");
    assert_eq!(line::message_fields(&back_msg, &back.ts), fields);
});

//! Property tests: the codec round-trips anything a caller can send, and the
//! reader never panics, whatever bytes it is given.

use convlog::line::write_json_str;
use convlog::line::{self as codec, Kind};
use convlog::read::{Recovery, scan};
use convlog::record::{Message, Record};
use proptest::prelude::*;

use crate::util::{LogBuilder, any_message, any_text};

fn log_bytes(msgs: &[Message]) -> Vec<u8> {
    msgs.iter()
        .fold(
            LogBuilder::new("prop", "2025-08-18T14:30:21.000000+05:30"),
            |b, m| b.message(m, "2025-08-18T14:30:22.123456+05:30"),
        )
        .bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_round_trips(msg in any_message(), seq in 1u64..u64::MAX) {
        let ts = "2025-08-18T14:30:22.123456-07:00";
        let mut line = Vec::new();
        codec::frame(Kind::Message, seq, &codec::message_fields(&msg, ts), &mut line);
        prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(*line.last().unwrap(), b'\n');
        match codec::decode(&line[..line.len() - 1]) {
            Ok(Record::Message(m)) => {
                prop_assert_eq!(m.seq, seq);
                prop_assert_eq!(m.to_message().unwrap(), msg.clone().timestamp(ts));
            }
            other => prop_assert!(false, "decoded to {:?}", other),
        }
    }

    #[test]
    fn whole_logs_read_back_in_order(msgs in proptest::collection::vec(any_message(), 0..20)) {
        let bytes = log_bytes(&msgs);
        let mut seen = Vec::new();
        let report = scan(std::path::Path::new("prop"), &bytes[..], Recovery::Absolute, |r| {
            if let Record::Message(m) = r {
                seen.push(m.to_message()?);
            }
            Ok(())
        }).unwrap();
        prop_assert!(report.is_intact());
        prop_assert_eq!(seen.len(), msgs.len());
        for (a, b) in seen.iter().zip(&msgs) {
            prop_assert_eq!(&a.content, &b.content);
        }
    }

    #[test]
    fn reader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for mode in [Recovery::TolerateTail, Recovery::Absolute, Recovery::PointInTime, Recovery::SkipCorrupt] {
            let _ = scan(std::path::Path::new("fuzz"), &bytes[..], mode, |_| Ok(()));
        }
    }

    #[test]
    fn reader_never_panics_on_mangled_logs(
        msgs in proptest::collection::vec(any_message(), 1..8),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = log_bytes(&msgs);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        for mode in [Recovery::TolerateTail, Recovery::Absolute, Recovery::PointInTime, Recovery::SkipCorrupt] {
            if let Ok(report) = scan(std::path::Path::new("fuzz"), &bytes[..], mode, |_| Ok(())) {
                prop_assert!(report.valid_len <= report.file_len);
            }
        }
    }

    #[test]
    fn python_style_strings_are_valid_json_for_the_same_text(s in any_text()) {
        let mut out = Vec::new();
        write_json_str(&mut out, &s).unwrap();
        let back: String = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(back, s);
    }
}

//! Every timestamp parser on arbitrary text: none panics; what `ingest` and
//! `import` store always parses as RFC 3339 again; a parsed time written
//! back parses to the same instant; and the export's fast wall-clock path
//! agrees with a full parse.
#![no_main]

use convlog::time::{parse_time, parse_ts, to_rfc3339};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = parse_ts(s) {
        let again = parse_ts(&to_rfc3339(&t)).expect("a written time parses");
        // Written with microseconds: the same instant to the microsecond.
        assert_eq!(
            again.timestamp_micros(),
            t.timestamp_micros(),
            "{s:?} -> {}",
            to_rfc3339(&t)
        );
    }
    if let Ok(stored) = convlog::fuzz::input_timestamp(s) {
        parse_ts(&stored).expect("what ingest stores is RFC 3339");
    }
    if let Some((t, _naive)) = convlog::fuzz::rfc3339_or_local(s) {
        parse_ts(&to_rfc3339(&t)).expect("what import stores is RFC 3339");
    }
    let _ = parse_time(s);
    let (fast, full) = convlog::fuzz::wall_clock_both(s);
    if let (Ok(fast), Some(full)) = (fast, full) {
        assert_eq!(fast, full, "wall clock of {s:?}");
    }
});

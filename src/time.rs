//! Every timestamp convlog parses or writes, in one place.
//!
//! A log stores RFC 3339 with microseconds and the writer's UTC offset
//! ([`now_rfc3339`], [`to_rfc3339`]), and reads back only that ([`parse_ts`]).
//! Input is more forgiving, each in its own documented way:
//! - an imported file or an ingest line may carry RFC 3339 or a naive
//!   date-time (what Python's `isoformat()` writes), read as local time
//!   (`parse_rfc3339_or_local`, `localize`, `parse_input_ts`, behind
//!   [`import`](crate::import) and a message's JSON input);
//! - `--since`/`--until` also take a time to the minute or a bare date
//!   ([`parse_time`]).
//!
//! The JSON export writes the wall clock without an offset
//! (`wall_clock`), the form the Python exporter wrote.
//!
//! All of them agree on an instant: the same text read by two of these
//! parsers gives the same time (the tests below check it).

use std::borrow::Cow;

use chrono::{
    DateTime, Datelike, FixedOffset, Local, LocalResult, NaiveDate, NaiveDateTime, Offset,
    SecondsFormat, TimeZone,
};

use crate::error::{Error, Result};

/// The naive date-time forms Python's `isoformat()` (and `str()`) write.
const NAIVE_FORMS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];

/// The current local time in the log's form: RFC 3339, microseconds, the writer's UTC offset.
pub fn now_rfc3339() -> String {
    to_rfc3339(&Local::now().fixed_offset())
}

/// `t` in the log's form: RFC 3339 with microseconds and its own offset.
pub fn to_rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// Parses an RFC 3339 timestamp, naming the offending text on failure.
pub fn parse_ts(ts: &str) -> Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(ts).map_err(|e| {
        // chrono's "premature end of input" does not tell a user that the
        // one thing missing from a date-time like Python's isoformat() is
        // the UTC offset.
        let naive = NAIVE_FORMS
            .iter()
            .any(|f| NaiveDateTime::parse_from_str(ts, f).is_ok());
        Error::InvalidInput(if naive {
            format!(
                "timestamp {ts:?} is not RFC 3339: the offset is missing \
                 (add one, e.g. {ts}+05:30 or {ts}Z)"
            )
        } else {
            format!("timestamp {ts:?} is not RFC 3339: {e}")
        })
    })
}

/// Parses RFC 3339 or a naive date-time read as local time (see
/// [`localize`]). The flag is true for a naive one, whose stored form the
/// caller has to write out itself ([`to_rfc3339`]).
///
/// A naive year must have four digits, as RFC 3339's does: chrono also
/// reads `-2025-…` and `+12025-…`, which would be stored as a line every
/// reader refuses (the fuzz target `time` found it).
pub(crate) fn parse_rfc3339_or_local(s: &str) -> Option<(DateTime<FixedOffset>, bool)> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some((t, false));
    }
    NAIVE_FORMS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .filter(|n| (0..=9999).contains(&n.year()))
        .map(|n| (localize(&n), true))
}

/// A producer's timestamp as the log stores it: RFC 3339 as given, or a
/// naive date-time (what the original design wrote) read as local time
/// exactly as an import reads it, so both paths store the same instant for
/// the same text.
pub(crate) fn parse_input_ts(ts: String) -> Result<String> {
    match parse_rfc3339_or_local(&ts) {
        Some((_, false)) => Ok(ts),
        Some((time, true)) => Ok(to_rfc3339(&time)),
        None => Err(Error::InvalidInput(format!(
            "timestamp {ts:?} is neither RFC 3339 (2025-08-18T14:30:22.123456+05:30) \
             nor a local date-time (2025-08-18T14:30:22.123456)"
        ))),
    }
}

/// A naive local date-time with the local UTC offset in force then. Its
/// wall-clock part is always `naive` itself: in a DST overlap the earlier
/// offset is taken, and in a DST gap (a time that never existed locally) the
/// offset from just before it, so the export still shows the original text.
pub(crate) fn localize(naive: &NaiveDateTime) -> DateTime<FixedOffset> {
    match Local.from_local_datetime(naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.fixed_offset(),
        LocalResult::None => {
            let offset = Local.offset_from_utc_datetime(naive).fix();
            offset
                .from_local_datetime(naive)
                .single()
                .unwrap_or_else(|| naive.and_utc().fixed_offset())
        }
    }
}

/// Parses a time bound such as `--since`/`--until`: RFC 3339 (the seconds
/// may be left out when an offset is given), or a local date-time or date.
///
/// Unlike `localize` (an imported naive time), a local time inside a DST gap is refused: a bound
/// that never existed is a typo, not a record to keep.
pub fn parse_time(s: &str) -> Result<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    // RFC 3339 wants seconds; with an offset, a time to the minute (or a
    // space for the T) is just as unambiguous.
    let zoned = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => format!("{rest}+00:00"),
        None => s.to_string(),
    };
    if let Some(t) = [
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%d %H:%M%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
    ]
    .iter()
    .find_map(|f| DateTime::parse_from_str(&zoned, f).ok())
    {
        return Ok(t);
    }
    let naive = [
        NAIVE_FORMS[0],
        NAIVE_FORMS[1],
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .ok_or_else(|| {
        Error::InvalidInput(format!(
            "{s:?} is not a time: use RFC 3339 (2025-08-18T14:30:00+05:30, 2025-08-18T14:30Z) or local time \
             (2025-08-18T14:30, \"2025-08-18 14:30:00\", 2025-08-18)"
        ))
    })?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.fixed_offset())
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "{s:?} does not exist in the local time zone (a DST gap)"
            ))
        })
}

/// The wall clock of `ts` in the export's form: local date-time with exactly
/// six fractional digits and no offset, e.g. `2025-08-18T14:30:22.123456`.
pub(crate) fn wall_clock(ts: &DateTime<FixedOffset>) -> String {
    ts.naive_local().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// [`wall_clock`] of a stored timestamp. The writer stores local time with
/// its offset, so the wall-clock part is simply the text before the offset;
/// that fast path avoids a full date parse per record on million-line exports.
pub(crate) fn wall_clock_of(ts: &str) -> Result<Cow<'_, str>> {
    let b = ts.as_bytes();
    if b.len() > 26
        && b[19] == b'.'
        && b[20..26].iter().all(u8::is_ascii_digit)
        && matches!(b[26], b'+' | b'-' | b'Z' | b'z')
        && b[10] == b'T'
    {
        return Ok(Cow::Borrowed(&ts[..26]));
    }
    Ok(Cow::Owned(wall_clock(&parse_ts(ts)?)))
}

/// The current local time in [`now_rfc3339`]'s format, written into `buf`
/// instead of a new `String`: one allocation fewer on every append that
/// carries no timestamp of its own.
pub(crate) fn now_into(buf: &mut [u8; 40]) -> &str {
    use chrono::Timelike;
    use std::io::Write;
    let now = chrono::Local::now().fixed_offset();
    let off = now.offset().local_minus_utc();
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    let len = {
        let mut w = std::io::Cursor::new(&mut buf[..]);
        let ok = (0..=9999).contains(&now.year())
            && now.nanosecond() < 1_000_000_000
            && write!(
                w,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}",
                now.year(),
                now.month(),
                now.day(),
                now.hour(),
                now.minute(),
                now.second(),
                now.nanosecond() / 1000,
                off / 3600,
                off % 3600 / 60,
            )
            .is_ok();
        if ok { w.position() as usize } else { 0 }
    };
    let len = if len > 0 {
        len
    } else {
        // A leap second or a year chrono's own formatter handles specially.
        let s = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        let n = s.len().min(buf.len());
        buf[..n].copy_from_slice(&s.as_bytes()[..n]);
        n
    };
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_timestamp_matches_now_rfc3339() {
        let mut buf = [0u8; 40];
        let ours = now_into(&mut buf).to_string();
        let theirs = now_rfc3339();
        assert_eq!(ours.len(), theirs.len(), "{ours} vs {theirs}");
        // Same shape and offset; the clock moved between the two calls.
        assert_eq!(ours[ours.len() - 6..], theirs[theirs.len() - 6..]);
        let (a, b) = (parse_ts(&ours).unwrap(), parse_ts(&theirs).unwrap());
        assert!(
            (b - a).num_milliseconds().abs() < 1000,
            "{ours} vs {theirs}"
        );
        assert_eq!(
            a.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            ours
        );
    }

    #[test]
    fn wall_clock_fast_path_matches_chrono() {
        for ts in [
            "2025-08-18T14:30:22.123456+05:30",
            "2025-08-18T14:30:22.123456Z",
            "2025-08-18T14:30:22.123456-07:00",
        ] {
            let fast = wall_clock_of(ts).unwrap();
            assert_eq!(fast, wall_clock(&parse_ts(ts).unwrap()));
        }
        assert_eq!(
            wall_clock_of("2025-08-18T14:30:22+05:30").unwrap(),
            "2025-08-18T14:30:22.000000"
        );
        assert_eq!(
            wall_clock_of("2025-08-18T14:30:22.5Z").unwrap(),
            "2025-08-18T14:30:22.500000"
        );
    }

    #[test]
    fn python_timestamps_keep_their_wall_clock() {
        for s in [
            "2025-08-18T14:30:22.123456",
            "2025-08-18T14:30:22",
            "2025-03-30T02:30:00.000001",
        ] {
            let (t, naive) = parse_rfc3339_or_local(s).unwrap();
            assert!(naive);
            assert_eq!(
                t.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string(),
                s[..19]
            );
        }
        let (t, naive) = parse_rfc3339_or_local("2025-08-18T14:30:22.5+05:30").unwrap();
        assert!(!naive);
        assert_eq!(t.offset().local_minus_utc(), 19800);
        assert!(parse_rfc3339_or_local("yesterday").is_none());
    }

    /// One instant, written with an offset, reads the same through every
    /// parser that takes RFC 3339, and its stored form reads back to it.
    #[test]
    fn rfc3339_means_one_instant_to_every_parser() {
        for s in [
            "2025-08-18T14:30:22.123456+05:30",
            "2025-08-18T09:00:22.123456Z",
            "2024-02-29T23:59:59.999999-07:00",
            "2025-08-18T14:30:22+05:30",
        ] {
            let stored = parse_ts(s).unwrap();
            let (input, naive) = parse_rfc3339_or_local(s).unwrap();
            assert!(!naive, "{s}");
            assert_eq!(input, stored, "{s}");
            assert_eq!(parse_time(s).unwrap(), stored, "{s}");
            assert_eq!(parse_ts(&to_rfc3339(&stored)).unwrap(), stored, "{s}");
            // The offset is kept, not just the instant.
            assert_eq!(input.offset(), stored.offset(), "{s}");
        }
    }

    /// A naive local date-time is the same instant for import, ingest and
    /// `--since`, and its stored form keeps the wall clock it was given.
    #[test]
    fn naive_local_means_one_instant_to_every_parser() {
        for s in [
            "2025-08-18T14:30:22.123456",
            "2025-08-18 14:30:22.123456",
            "2025-01-05T08:00:00",
        ] {
            let (input, naive) = parse_rfc3339_or_local(s).unwrap();
            assert!(naive, "{s}");
            assert_eq!(parse_time(s).unwrap(), input, "{s}");
            let stored = to_rfc3339(&input);
            assert_eq!(parse_ts(&stored).unwrap(), input, "{s}");
            assert_eq!(
                wall_clock_of(&stored).unwrap(),
                wall_clock(&input),
                "{stored}"
            );
            assert_eq!(
                wall_clock(&input)[..19].replace('T', " "),
                s[..19].replace('T', " ")
            );
        }
    }

    /// An ingest line's timestamp is stored as the same instant that import
    /// and `--since` read from the same text: RFC 3339 kept byte for byte,
    /// a naive one written out with the local offset.
    #[test]
    fn input_timestamps_mean_one_instant_to_every_parser() {
        for s in [
            "2025-08-18T14:30:22.123456+05:30",
            "2025-08-18T14:30:22+05:30",
            "2025-08-18T09:00:22.5Z",
        ] {
            assert_eq!(parse_input_ts(s.to_string()).unwrap(), s);
        }
        for s in [
            "2025-08-18T14:30:22.123456",
            "2025-08-18 14:30:22.123456",
            "2025-01-05T08:00:00",
        ] {
            let stored = parse_input_ts(s.to_string()).unwrap();
            let t = parse_ts(&stored).unwrap();
            assert_eq!(t, parse_rfc3339_or_local(s).unwrap().0, "{s}");
            assert_eq!(t, parse_time(s).unwrap(), "{s}");
            assert_eq!(stored, to_rfc3339(&t), "{s}");
        }
        let err = parse_input_ts("later".into()).unwrap_err().to_string();
        assert!(
            err.contains("\"later\" is neither RFC 3339 (2025-08-18T14:30:22.123456+05:30)"),
            "{err}"
        );
    }

    #[test]
    fn time_bounds_take_minutes_and_dates() {
        assert_eq!(
            parse_time("2025-08-18T14:30+05:30").unwrap(),
            parse_ts("2025-08-18T14:30:00+05:30").unwrap()
        );
        assert_eq!(
            parse_time("2025-08-18 14:30Z").unwrap(),
            parse_ts("2025-08-18T14:30:00Z").unwrap()
        );
        assert_eq!(
            parse_time("2025-08-18").unwrap(),
            parse_time("2025-08-18T00:00").unwrap()
        );
        let err = parse_time("yesterday").unwrap_err().to_string();
        assert!(
            err.starts_with("\"yesterday\" is not a time: use RFC 3339"),
            "{err}"
        );
    }

    #[test]
    fn stored_timestamps_must_carry_an_offset() {
        let err = parse_ts("2025-08-18T14:30:22.123456").unwrap_err();
        assert!(err.to_string().contains("the offset is missing"), "{err}");
        let err = parse_ts("later").unwrap_err();
        assert!(err.to_string().contains("is not RFC 3339"), "{err}");
    }
}

//! The shipper's reader (src/ship/read.rs) on arbitrary files, in every
//! recovery mode, without a database: it never panics, and the message rows
//! it hands the database are exactly what the library's scanner delivers in
//! the same mode (a prefix of it when the reader gave up on the file), so a
//! log ships neither a record the readers refuse nor a gap they fill.
#![no_main]

use convlog::Recovery;
use convlog::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Bit 1 of the first byte: ship with every redaction kind on.
    let redact = data.first().is_some_and(|f| f & 2 != 0);
    let bytes = convlog_fuzz::file_bytes(data);
    let log = convlog_fuzz::scratch_log(&bytes);
    for mode in [
        Recovery::TolerateTail,
        Recovery::Absolute,
        Recovery::PointInTime,
        Recovery::SkipCorrupt,
    ] {
        let mut scanned = Vec::new();
        let scan = convlog::read::scan_file(&log, mode, |r| {
            if let Record::Message(m) = r {
                scanned.push(m.seq);
            }
            Ok(())
        });
        let (shipped, notes, unreadable) = convlog::fuzz::ship_read_once(&log, mode, redact);
        assert!(
            notes.iter().all(|n| !n.is_empty()),
            "{mode:?}: an empty note"
        );
        if scan.is_err() || unreadable {
            // The readers refuse the file (or, for the shipper, what
            // follows some point of it): nothing past what they accept.
            assert!(
                scanned.starts_with(&shipped),
                "{mode:?}: shipped {shipped:?}, scanned {scanned:?} ({scan:?}, {notes:?})"
            );
        } else {
            assert_eq!(shipped, scanned, "{mode:?}: {notes:?}");
        }
    }
});

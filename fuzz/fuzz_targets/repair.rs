//! Repair on arbitrary files: it never panics; it only ever cuts a torn
//! tail, keeping exactly the bytes it cut; a repaired log always verifies
//! intact; a refusal or an error leaves the file untouched; and a second
//! repair finds nothing to do.
#![no_main]

use convlog::repair::{Repair, repair};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = convlog_fuzz::file_bytes(data);
    let log = convlog_fuzz::scratch_log(&bytes);
    match repair(&log, None) {
        Err(_) | Ok((Repair::Refused { .. }, _)) | Ok((Repair::Clean, _)) => {
            assert_eq!(std::fs::read(&log).unwrap(), bytes, "left untouched");
        }
        Ok((Repair::Truncated { bytes: cut, backup }, found)) => {
            let now = std::fs::read(&log).unwrap();
            assert_eq!(now.len() as u64 + cut, bytes.len() as u64);
            assert_eq!(now, bytes[..now.len()]);
            assert_eq!(std::fs::read(&backup).unwrap(), bytes[now.len()..]);
            assert_eq!(found.torn_bytes(), Some(cut));
            let report = convlog::read::inspect(&log).expect("a repaired log reads");
            assert!(report.is_intact(), "a repaired log verifies: {report:?}");
            let (again, _) = repair(&log, None).expect("a repaired log repairs");
            assert_eq!(again, Repair::Clean);
        }
    }
    if let Ok((Repair::Clean, found)) = repair(&log, None) {
        assert!(found.is_intact(), "{found:?}");
    }
});

//! The recovery scanner on arbitrary files, in every recovery mode: it never
//! panics, its report is consistent with the file, the modes deliver what
//! they promise relative to one another, and the record-at-a-time iterator
//! (`read::messages`) yields exactly what the scan delivers.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use convlog::record::Record;
use convlog::{Error, Recovery};
use libfuzzer_sys::fuzz_target;

const MODES: [Recovery; 4] = [
    Recovery::TolerateTail,
    Recovery::Absolute,
    Recovery::PointInTime,
    Recovery::SkipCorrupt,
];

/// The seqs of the message records a scan in `mode` delivers, or its error.
fn delivered(bytes: &[u8], mode: Recovery) -> Result<(Vec<u64>, convlog::Report), Error> {
    let mut seqs = Vec::new();
    let report = convlog::read::scan(Path::new("fuzz.jsonl"), Cursor::new(bytes), mode, |r| {
        if let Record::Message(m) = r {
            seqs.push(m.seq);
        }
        Ok(())
    })?;
    Ok((seqs, report))
}

fuzz_target!(|data: &[u8]| {
    let bytes = convlog_fuzz::file_bytes(data);
    let results: Vec<_> = MODES.iter().map(|&m| delivered(&bytes, m)).collect();
    for (mode, r) in MODES.iter().zip(&results) {
        match r {
            Ok((seqs, report)) => {
                assert!(report.valid_len <= report.file_len, "{mode:?}: {report:?}");
                assert_eq!(report.file_len, bytes.len() as u64, "{mode:?}");
                assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{mode:?}: {seqs:?}");
                if *mode != Recovery::SkipCorrupt {
                    // Every mode but skip-corrupt stops at the first damage.
                    assert!(seqs.len() as u64 <= report.messages, "{mode:?}");
                }
            }
            Err(Error::Damaged { .. } | Error::NotALog { .. }) => {}
            Err(e) => panic!("{mode:?}: unexpected error kind: {e}"),
        }
    }
    // Not a log for one mode is not a log for all.
    let not_a_log = |r: &Result<_, Error>| matches!(r, Err(Error::NotALog { .. }));
    assert!(results.iter().all(not_a_log) || !results.iter().any(not_a_log));
    let Ok((all, report)) = &results[3] else {
        return;
    };
    // point-in-time delivers a prefix of what skip-corrupt delivers.
    if let Ok((prefix, _)) = &results[2] {
        assert!(
            all.starts_with(prefix),
            "{prefix:?} is not a prefix of {all:?}"
        );
    }
    // A log without damage reads the same in every mode.
    if report.is_intact() {
        for r in &results {
            assert_eq!(
                &r.as_ref().expect("an intact log reads in every mode").0,
                all
            );
        }
    }
    // tolerate-tail succeeds exactly when nothing but a torn tail is damaged.
    assert_eq!(
        results[0].is_ok(),
        report.mid_file_damage().next().is_none(),
        "{report:?}"
    );
    // The iterator over a file yields what the scan delivers.
    let log = convlog_fuzz::scratch_log(&bytes);
    for (mode, r) in MODES.iter().zip(&results) {
        let Ok((seqs, _)) = r else { continue };
        let got: Vec<u64> = convlog::read::messages(&log, *mode)
            .expect("the file scanned")
            .map(|m| m.expect("the scan accepted it").seq)
            .collect();
        assert_eq!(&got, seqs, "{mode:?}");
    }
});

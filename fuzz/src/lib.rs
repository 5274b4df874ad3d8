//! What the fuzz targets share: turning fuzz bytes into logs whose lines
//! pass the checksum (random bytes almost never do, and a target that only
//! ever meets checksum failures tests one branch), and a private scratch
//! file per process for the targets that need a real file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The fixed start of every line (`{"crc":"`), as the library exports it.
const HEAD: &[u8] = convlog::line::PREFIX_HEAD;
/// Bytes before a line's body: `{"crc":"XXXXXXXX",`.
const PREFIX: usize = 18;

/// The first input byte chooses how the rest becomes a file: its low bit
/// set means "give every line that is shaped like a convlog line a correct
/// checksum", so the scanner's own rules (seqs, headers, end records) are
/// reached; clear means the bytes as they are.
pub fn file_bytes(data: &[u8]) -> Vec<u8> {
    match data.split_first() {
        Some((flags, rest)) if flags & 1 == 1 => fix_crcs(rest),
        Some((_, rest)) => rest.to_vec(),
        None => Vec::new(),
    }
}

/// Every line starting with `{"crc":"` and long enough to hold the prefix
/// gets the checksum of its body in its eight hex digits (and the `",`
/// after them).
pub fn fix_crcs(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let start = out.len();
        out.extend_from_slice(line);
        let body_end = out.len() - usize::from(line.ends_with(b"\n"));
        let l = &mut out[start..body_end];
        if l.len() >= PREFIX && l.starts_with(HEAD) {
            l[16] = b'"';
            l[17] = b',';
            let crc = crc32fast::hash(&l[PREFIX..]);
            l[8..16].copy_from_slice(format!("{crc:08x}").as_bytes());
        }
    }
    out
}

/// A directory of this process's own under the temporary directory
/// (`fuzz/run` points `TMPDIR` at a tmpfs when there is one), made once.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("convlog-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        dir
    })
}

/// Writes `bytes` as the only file of a scratch directory (what the last
/// input left there, a repair's backup say, is removed first) and returns
/// its path, named as a log is.
pub fn scratch_log(bytes: &[u8]) -> PathBuf {
    let dir = scratch_dir().join("log");
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for e in entries {
                let path = e.expect("list the scratch directory").path();
                std::fs::remove_file(&path).expect("empty the scratch directory");
            }
        }
        Err(_) => std::fs::create_dir(&dir).expect("create the scratch directory"),
    }
    let path = dir.join("conversation_20250818_143022.jsonl");
    std::fs::write(&path, bytes).expect("write the scratch log");
    path
}

//! The seam through which the writer touches the disk.
//!
//! Public only with the hidden `__test_hooks` feature, which convlog's own
//! tests and benches turn on: a seam for injected faults is not an API.

use std::fs::File;
use std::io;

/// The seam through which the writer touches the disk, so tests can inject a
/// failed or short write or a failed fdatasync without faking the whole file.
///
/// The default methods are the real calls. An implementation that fails must
/// return the error; the writer then poisons itself and never calls `sync` again.
pub trait IoHooks: Send + Sync + 'static {
    /// Writes the whole batch at the end of the file.
    fn write_all(&self, file: &mut File, buf: &[u8]) -> io::Result<()> {
        io::Write::write_all(file, buf)
    }
    /// Makes the written batch durable (`fdatasync` on Linux).
    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }
}

/// The real disk.
#[derive(Debug, Default)]
pub struct RealIo;
impl IoHooks for RealIo {}

//! The keyed replacement style: `[CARD:8c1f2a]`, the first six hex digits
//! of HMAC-SHA256(key, kind, value). The same value gives the same token
//! within a deployment (one key), so analytics can still count repeat
//! callers; without the key the token cannot be reversed or even guessed
//! by trying every card number, which a plain hash would allow.

use std::fmt;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// Shorter keys make the tokens guessable by anyone who can try values.
pub(super) const MIN_KEY_BYTES: usize = 16;

/// A redaction key. Its bytes never appear in `Debug` output or errors.
#[derive(Clone)]
pub(super) struct Key(Vec<u8>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// Reads the key file. A trailing newline is not part of the key, so
    /// `echo secret > key` and `printf secret > key` name the same key.
    pub(super) fn read(path: &Path) -> Result<Key> {
        let mut bytes =
            std::fs::read(path).map_err(|e| Error::io(path, "read the redaction key file", e))?;
        while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
            bytes.pop();
        }
        Key::new(bytes).map_err(|why| {
            Error::InvalidInput(format!("{}: redaction key file {why}", path.display()))
        })
    }

    pub(super) fn new(bytes: Vec<u8>) -> std::result::Result<Key, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "holds {} bytes; a key needs at least {MIN_KEY_BYTES} (for example 32 random bytes: \
                 `head -c 32 /dev/urandom > KEYFILE`)",
                bytes.len()
            ));
        }
        Ok(Key(bytes))
    }

    /// Six lowercase hex digits naming `value` of `kind` under this key.
    pub(super) fn token(&self, kind: &str, value: &str) -> [u8; 6] {
        // `new_from_slice` accepts keys of any length for HMAC.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return *b"000000",
        };
        mac.update(kind.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        let sum = mac.finalize().into_bytes();
        let mut out = [0u8; 6];
        for (i, b) in sum.iter().take(3).enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

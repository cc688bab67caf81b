//! Binding an upload's resume to the content it already sent.
//!
//! Resuming re-encrypts from the server's offset under the upload's key and
//! nonces; with different plaintext at a position already sent, that would
//! reuse a nonce with another message (and a server that lies about its
//! offset would see both). A file's size and modification time do not
//! prove it unchanged (`cp -p` keeps both). So every upload hashes the
//! plaintext it reads (SHA-256, as it encrypts it); when it stops, the key
//! store records how much it read and the digest, and a resume first reads
//! that prefix again and compares. A different prefix, or no record (the
//! client stopped without recording: a crash), means the upload cannot go
//! on: the caller starts a new one with a new key.
//!
//! What was read is a superset of what was sent, so the recorded prefix
//! covers every byte the server (or anyone on the path) may have seen.
//!
//! Left out: the upload itself ([`crate::transfer`]).

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::crypto::CryptoError;

/// Bytes read at a time while re-hashing a prefix.
const REHASH_BUFFER: usize = 1 << 20;

/// The plaintext an upload has read: `[0, len)` and its running hash.
#[derive(Clone, Default)]
pub(crate) struct ReadPrefix {
    /// Bytes read from the start of the file.
    pub len: u64,
    hasher: Sha256,
}

impl ReadPrefix {
    /// The digest of the prefix read so far.
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// What to record and compare: `(len, digest)`.
    pub fn record(&self) -> (u64, [u8; 32]) {
        (self.len, self.digest())
    }
}

/// Reads `reader` from its start: checks that its first `expected.0` bytes
/// have the digest `expected.1`, and hashes on to at least `upto`. Returns
/// the prefix read.
///
/// # Errors
/// [`CryptoError::FileChanged`] if the prefix differs or the file is shorter;
/// [`CryptoError::Io`].
pub(crate) fn verify<R: Read + Seek>(
    reader: &mut R,
    expected: (u64, [u8; 32]),
    upto: u64,
) -> Result<ReadPrefix, CryptoError> {
    reader.seek(SeekFrom::Start(0))?;
    let mut prefix = ReadPrefix::default();
    let mut buf = vec![0u8; REHASH_BUFFER];
    let target = expected.0.max(upto);
    while prefix.len < target {
        if prefix.len == expected.0 && prefix.digest() != expected.1 {
            return Err(CryptoError::FileChanged);
        }
        let stop = if prefix.len < expected.0 {
            expected.0
        } else {
            target
        };
        // At most REHASH_BUFFER, so the cast cannot truncate.
        let want = (stop - prefix.len).min(REHASH_BUFFER as u64) as usize;
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => return Err(CryptoError::FileChanged),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        prefix.hasher.update(&buf[..n]);
        prefix.len += n as u64;
    }
    if prefix.len == expected.0 && prefix.digest() != expected.1 {
        return Err(CryptoError::FileChanged);
    }
    Ok(prefix)
}

/// A reader that adds to a shared [`ReadPrefix`] every byte it reads past
/// the prefix's end (bytes before it were hashed already). Reading never
/// jumps past the prefix's end: seek only to positions within it.
pub(crate) struct HashingReader<R> {
    inner: R,
    pos: u64,
    prefix: Arc<Mutex<ReadPrefix>>,
}

impl<R> HashingReader<R> {
    /// Wraps `inner`, positioned at 0, adding to `prefix`.
    pub fn new(inner: R, prefix: Arc<Mutex<ReadPrefix>>) -> Self {
        Self {
            inner,
            pos: 0,
            prefix,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut prefix = self.prefix.lock().unwrap_or_else(|e| e.into_inner());
        let end = self.pos + n as u64;
        if self.pos > prefix.len {
            return Err(io::Error::other("read past the hashed prefix"));
        }
        if end > prefix.len {
            // Below n, so the cast cannot truncate.
            let skip = (prefix.len - self.pos) as usize;
            prefix.hasher.update(&buf[skip..n]);
            prefix.len = end;
        }
        self.pos = end;
        Ok(n)
    }
}

impl<R: Seek> Seek for HashingReader<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn a_changed_prefix_is_refused_and_an_unchanged_one_extends() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let shared = Arc::new(Mutex::new(ReadPrefix::default()));
        let mut r = HashingReader::new(Cursor::new(&data), shared.clone());
        let mut first = vec![0u8; 1_000_000];
        r.read_exact(&mut first).unwrap();
        // Going back and reading again adds nothing twice.
        r.seek(SeekFrom::Start(500_000)).unwrap();
        r.read_exact(&mut first).unwrap();
        let recorded = shared.lock().unwrap().record();
        assert_eq!(recorded.0, 1_500_000);
        assert_eq!(
            recorded.1,
            <[u8; 32]>::from(Sha256::digest(&data[..1_500_000]))
        );
        let again = verify(&mut Cursor::new(&data), recorded, 0).unwrap();
        assert_eq!(again.record(), recorded);
        let further = verify(&mut Cursor::new(&data), recorded, 2_000_000).unwrap();
        assert_eq!(further.len, 2_000_000);
        let mut changed = data.clone();
        changed[1_499_999] ^= 1;
        assert!(matches!(
            verify(&mut Cursor::new(&changed), recorded, 0),
            Err(CryptoError::FileChanged)
        ));
        assert!(matches!(
            verify(&mut Cursor::new(&data[..1_000]), recorded, 0),
            Err(CryptoError::FileChanged)
        ));
        // A change past the prefix was never read, so it is no concern here.
        changed[1_499_999] ^= 1;
        changed[2_500_000] ^= 1;
        assert!(verify(&mut Cursor::new(&changed), recorded, 0).is_ok());
    }
}

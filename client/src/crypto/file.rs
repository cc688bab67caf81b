//! Files: chunked encryption of the body with the STREAM construction. The
//! sealed metadata that travels in the file offer (name, size, and this
//! body's key) is in [`file_meta`](super::file_meta); the tests are in
//! `file/tests.rs`.
//!
//! **Body.** Every file gets a fresh random 32-byte key and 19-byte nonce
//! prefix. The plaintext is cut into chunks of 64 KiB (the last one shorter,
//! possibly empty; an empty file is one empty chunk), and chunk `i` is sealed
//! with XChaCha20-Poly1305 (empty associated data) under the nonce
//!
//! ```text
//!  nonce (24) = nonce prefix [19] | i as u32 big-endian [4] | last flag u8 (1 on the final chunk, else 0)
//!  ciphertext = chunk 0 + tag | chunk 1 + tag | ... | last chunk + tag      (each tag 16 bytes)
//! ```
//!
//! which is `aead::stream`'s `StreamBE32` (what `EncryptorBE32` and
//! `DecryptorBE32` use). Since position and "last" are in every nonce,
//! dropping, reordering, repeating, truncating or extending chunks makes a
//! tag fail. The ciphertext is exactly the plaintext plus 16 bytes per chunk.
//!
//! **Resuming an upload** re-encrypts from the chunk that contains the
//! server's offset and skips the bytes the server already has. That is safe
//! only because the plaintext is the same: the same key, prefix, position
//! and plaintext give the same ciphertext. Encrypting *different* plaintext
//! at a position already sent would reuse a nonce with another message,
//! which breaks the cipher; a file that changed must be sent again from the
//! start with a new key (the client compares a hash of the plaintext already
//! read: see `upload_prefix`).
//!
//! **Resuming a download** decrypts from a chunk boundary on
//! ([`FileDecryptor::resume`]): each chunk's nonce holds its position, so
//! the chunks before it (kept, already authenticated) are not needed.
//!
//! Memory is constant at any size: one chunk buffer per encryptor or
//! decryptor.

use std::cmp::min;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};

use chacha20poly1305::KeyInit;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::generic_array::GenericArray;
use chacha20poly1305::aead::stream::{NewStream, StreamBE32, StreamPrimitive};
use rand::rngs::OsRng;
use rand::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{CryptoError, KEY_LEN, TAG_LEN, fill_random};

/// Plaintext bytes per chunk (the last chunk may be shorter).
pub const CHUNK_LEN: usize = 64 * 1024;
/// Ciphertext bytes of a full chunk.
pub const SEALED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;
/// Size of the STREAM nonce prefix (24-byte nonce minus 5 bytes of position
/// and flag).
pub const NONCE_PREFIX_LEN: usize = 19;
/// Most chunks in one file (the position is a u32 and the last value is
/// kept free).
pub const MAX_CHUNKS: u64 = u32::MAX as u64;
/// Largest plaintext one file can have (just under 256 TiB).
pub const MAX_PLAINTEXT_LEN: u64 = MAX_CHUNKS * CHUNK_LEN as u64;
/// Longest file name in the metadata, in bytes.
pub const MAX_FILE_NAME_LEN: usize = 255;

/// Number of chunks of a plaintext: at least one (an empty file is one empty
/// chunk).
pub fn chunk_count(plaintext_len: u64) -> u64 {
    plaintext_len.div_ceil(CHUNK_LEN as u64).max(1)
}

/// Exact ciphertext size of a plaintext: the plaintext plus 16 bytes per
/// chunk. Saturates at `u64::MAX` for sizes over [`MAX_PLAINTEXT_LEN`],
/// which no encryptor or decryptor accepts.
pub fn ciphertext_len(plaintext_len: u64) -> u64 {
    chunk_count(plaintext_len)
        .saturating_mul(TAG_LEN as u64)
        .saturating_add(plaintext_len)
}

pub(super) fn check_size(plaintext_len: u64) -> Result<u64, CryptoError> {
    if plaintext_len > MAX_PLAINTEXT_LEN {
        return Err(CryptoError::TooLarge {
            what: "file",
            len: plaintext_len,
            max: MAX_PLAINTEXT_LEN,
        });
    }
    Ok(chunk_count(plaintext_len))
}

/// A file's key and nonce prefix. Wiped on drop; `Debug` shows nothing.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct FileSecret {
    key: [u8; KEY_LEN],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl FileSecret {
    /// A fresh key and prefix from the operating system's generator.
    ///
    /// # Errors
    /// [`CryptoError::Randomness`].
    pub fn generate() -> Result<Self, CryptoError> {
        Self::generate_with_rng(&mut OsRng)
    }

    /// A key (32 bytes) then a prefix (19 bytes) drawn from `rng`.
    ///
    /// # Errors
    /// [`CryptoError::Randomness`].
    pub fn generate_with_rng<R: RngCore + CryptoRng>(rng: &mut R) -> Result<Self, CryptoError> {
        let mut secret = Self {
            key: [0; KEY_LEN],
            nonce_prefix: [0; NONCE_PREFIX_LEN],
        };
        fill_random(rng, &mut secret.key)?;
        fill_random(rng, &mut secret.nonce_prefix)?;
        Ok(secret)
    }

    /// Rebuilds a stored secret.
    pub(crate) fn from_parts(key: &[u8; KEY_LEN], nonce_prefix: &[u8; NONCE_PREFIX_LEN]) -> Self {
        Self {
            key: *key,
            nonce_prefix: *nonce_prefix,
        }
    }

    pub(crate) fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    pub(crate) fn nonce_prefix(&self) -> &[u8; NONCE_PREFIX_LEN] {
        &self.nonce_prefix
    }

    fn stream(&self) -> StreamBE32<XChaCha20Poly1305> {
        StreamBE32::from_aead(
            XChaCha20Poly1305::new((&self.key).into()),
            GenericArray::from_slice(&self.nonce_prefix),
        )
    }
}

impl fmt::Debug for FileSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileSecret(..)")
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn into_io(err: CryptoError) -> io::Error {
    match err {
        CryptoError::Io(e) => e,
        other => io::Error::other(other),
    }
}

/// Encrypts a file as it is read, one chunk at a time, yielding ciphertext
/// in pieces (see [`FileEncryptor::next_piece`], or use it as a
/// [`Read`]). The reader must give exactly the declared number of bytes;
/// more or fewer is [`CryptoError::FileChanged`].
pub struct FileEncryptor<R> {
    stream: StreamBE32<XChaCha20Poly1305>,
    reader: R,
    plaintext_len: u64,
    chunks: u64,
    next_chunk: u64,
    /// The current chunk's ciphertext; its capacity is one sealed chunk, so
    /// it never reallocates (which would leave plaintext behind).
    buf: Zeroizing<Vec<u8>>,
    /// Bytes of `buf` already handed out.
    pos: usize,
    /// Bytes to skip at the start of the next chunk (resume).
    skip: usize,
    done: bool,
}

impl<R: Read> FileEncryptor<R> {
    /// Encrypts `plaintext_len` bytes from `reader`, from the start.
    ///
    /// # Errors
    /// [`CryptoError::TooLarge`] over [`MAX_PLAINTEXT_LEN`].
    pub fn new(secret: &FileSecret, reader: R, plaintext_len: u64) -> Result<Self, CryptoError> {
        let chunks = check_size(plaintext_len)?;
        Ok(Self {
            stream: secret.stream(),
            reader,
            plaintext_len,
            chunks,
            next_chunk: 0,
            buf: Zeroizing::new(Vec::with_capacity(SEALED_CHUNK_LEN)),
            pos: 0,
            skip: 0,
            done: false,
        })
    }

    /// Exact size of the whole ciphertext.
    pub fn ciphertext_len(&self) -> u64 {
        ciphertext_len(self.plaintext_len)
    }

    /// The next piece of ciphertext: normally one sealed chunk (the first
    /// after a resume may be the end of one), `None` once all is out.
    ///
    /// # Errors
    /// [`CryptoError::Io`] from the reader; [`CryptoError::FileChanged`] if
    /// the reader ends early or has bytes beyond the declared size.
    pub fn next_piece(&mut self) -> Result<Option<&[u8]>, CryptoError> {
        if self.pos >= self.buf.len() && !self.fill()? {
            return Ok(None);
        }
        let start = self.pos;
        self.pos = self.buf.len();
        Ok(Some(&self.buf[start..]))
    }

    /// Reads and seals the next chunk into `buf`; false at the end.
    fn fill(&mut self) -> Result<bool, CryptoError> {
        if self.done || self.next_chunk >= self.chunks {
            self.done = true;
            return Ok(false);
        }
        let start = self.next_chunk * CHUNK_LEN as u64;
        // At most CHUNK_LEN, so the cast cannot truncate.
        let len = min(CHUNK_LEN as u64, self.plaintext_len - start) as usize;
        let last = self.next_chunk + 1 == self.chunks;
        self.buf.clear();
        self.buf.resize(len, 0);
        if read_full(&mut self.reader, &mut self.buf)? != len {
            return Err(CryptoError::FileChanged);
        }
        if last {
            // The declared size is reached: a file with more bytes changed
            // since its size was taken (and sealed into the metadata).
            let mut probe = [0u8; 1];
            if read_full(&mut self.reader, &mut probe)? != 0 {
                return Err(CryptoError::FileChanged);
            }
        }
        // check_size keeps chunks <= MAX_CHUNKS = u32::MAX, so every position
        // below it fits a u32.
        let position = u32::try_from(self.next_chunk).map_err(|_| CryptoError::TooLarge {
            what: "file",
            len: self.plaintext_len,
            max: MAX_PLAINTEXT_LEN,
        })?;
        self.stream
            .encrypt_in_place(position, last, b"", &mut *self.buf)
            // Fails only if the buffer cannot grow by the tag; a Vec can.
            .map_err(|_| CryptoError::Io(io::Error::other("chunk encryption failed")))?;
        self.next_chunk += 1;
        self.pos = std::mem::take(&mut self.skip);
        if last {
            self.done = true;
        }
        Ok(true)
    }
}

impl<R: Read + Seek> FileEncryptor<R> {
    /// Encrypts from ciphertext offset `offset` on (resuming an upload the
    /// server has up to there): seeks `reader` to the start of the chunk that
    /// contains `offset`, re-encrypts it and skips what the server has. The
    /// output equals the ciphertext of [`FileEncryptor::new`] from `offset`
    /// on, provided the plaintext is unchanged (see the module docs).
    ///
    /// # Errors
    /// [`CryptoError::BadOffset`] past the end of the ciphertext,
    /// [`CryptoError::TooLarge`], [`CryptoError::Io`] from seeking.
    pub fn resume(
        secret: &FileSecret,
        mut reader: R,
        plaintext_len: u64,
        offset: u64,
    ) -> Result<Self, CryptoError> {
        check_size(plaintext_len)?;
        let total = ciphertext_len(plaintext_len);
        if offset > total {
            return Err(CryptoError::BadOffset { offset, len: total });
        }
        if offset == total {
            let mut done = Self::new(secret, reader, plaintext_len)?;
            done.done = true;
            return Ok(done);
        }
        let chunk = offset / SEALED_CHUNK_LEN as u64;
        // A remainder of a division by SEALED_CHUNK_LEN fits a usize.
        let skip = (offset % SEALED_CHUNK_LEN as u64) as usize;
        reader.seek(SeekFrom::Start(chunk * CHUNK_LEN as u64))?;
        let mut out = Self::new(secret, reader, plaintext_len)?;
        out.next_chunk = chunk;
        out.skip = skip;
        Ok(out)
    }
}

impl<R: Read> Read for FileEncryptor<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.buf.len() && !self.fill().map_err(into_io)? {
            return Ok(0);
        }
        let n = min(out.len(), self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Decrypts a file's ciphertext given in pieces of any size (as a download
/// arrives) and writes the plaintext to `writer`, one chunk at a time.
///
/// Each chunk is authentic when written, but only [`FileDecryptor::finish`]
/// proves that the file is complete: write to a temporary file and move it
/// into place only after `finish` succeeds.
pub struct FileDecryptor<W> {
    /// Chunks are opened by explicit position (what `DecryptorBE32` does
    /// with its own counter), so that a download can resume at a chunk.
    stream: StreamBE32<XChaCha20Poly1305>,
    writer: W,
    plaintext_len: u64,
    chunks: u64,
    next_chunk: u64,
    /// The current chunk's ciphertext, then its plaintext; capacity one
    /// sealed chunk.
    buf: Zeroizing<Vec<u8>>,
    failed: bool,
}

impl<W: Write> FileDecryptor<W> {
    /// Decrypts a file of `plaintext_len` bytes (from its authenticated
    /// metadata) sealed under `secret`.
    ///
    /// # Errors
    /// [`CryptoError::TooLarge`] over [`MAX_PLAINTEXT_LEN`].
    pub fn new(secret: &FileSecret, plaintext_len: u64, writer: W) -> Result<Self, CryptoError> {
        let chunks = check_size(plaintext_len)?;
        Ok(Self {
            stream: secret.stream(),
            writer,
            plaintext_len,
            chunks,
            next_chunk: 0,
            buf: Zeroizing::new(Vec::with_capacity(SEALED_CHUNK_LEN)),
            failed: false,
        })
    }

    /// Decrypts from chunk `first_chunk` on (resuming a download whose
    /// first chunks are already decrypted and kept): the ciphertext given
    /// to [`FileDecryptor::update`] starts at that chunk's first byte,
    /// `first_chunk * SEALED_CHUNK_LEN`. Every chunk's nonce holds
    /// its position, so nothing else of the earlier chunks is needed.
    ///
    /// # Errors
    /// [`CryptoError::TooLarge`]; [`CryptoError::BadOffset`] if
    /// `first_chunk` is not below the file's chunk count.
    pub fn resume(
        secret: &FileSecret,
        plaintext_len: u64,
        writer: W,
        first_chunk: u64,
    ) -> Result<Self, CryptoError> {
        let mut out = Self::new(secret, plaintext_len, writer)?;
        if first_chunk >= out.chunks {
            return Err(CryptoError::BadOffset {
                offset: first_chunk,
                len: out.chunks,
            });
        }
        out.next_chunk = first_chunk;
        Ok(out)
    }

    /// Chunks decrypted and written so far (all of them full-sized until
    /// the last).
    pub fn chunks_done(&self) -> u64 {
        self.next_chunk
    }

    /// The writer, without the checks of [`FileDecryptor::finish`] (to keep
    /// what was decrypted so far, for a resume).
    pub fn into_writer(self) -> W {
        self.writer
    }

    /// Exact size of the whole ciphertext.
    pub fn ciphertext_len(&self) -> u64 {
        ciphertext_len(self.plaintext_len)
    }

    /// Takes the next piece of ciphertext, of any size, and writes the
    /// plaintext of every chunk it completes.
    ///
    /// # Errors
    /// [`CryptoError::DecryptFailed`] if a chunk does not verify or bytes
    /// come after the last chunk (and on every call after a failure);
    /// [`CryptoError::Io`] from the writer.
    pub fn update(&mut self, mut piece: &[u8]) -> Result<(), CryptoError> {
        if self.failed {
            return Err(CryptoError::DecryptFailed);
        }
        while !piece.is_empty() {
            if self.next_chunk >= self.chunks {
                self.failed = true;
                return Err(CryptoError::DecryptFailed);
            }
            let expected = self.sealed_len_of_current();
            let take = min(expected - self.buf.len(), piece.len());
            self.buf.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if self.buf.len() == expected {
                self.open_current()?;
            }
        }
        Ok(())
    }

    /// Ends the file: succeeds only if every chunk, the last one included,
    /// arrived and verified. Flushes and returns the writer.
    ///
    /// # Errors
    /// [`CryptoError::DecryptFailed`] if the ciphertext is incomplete or
    /// failed earlier; [`CryptoError::Io`] from flushing.
    pub fn finish(mut self) -> Result<W, CryptoError> {
        if self.failed || self.next_chunk != self.chunks {
            return Err(CryptoError::DecryptFailed);
        }
        self.writer.flush()?;
        Ok(self.writer)
    }

    fn sealed_len_of_current(&self) -> usize {
        let start = self.next_chunk * CHUNK_LEN as u64;
        // At most CHUNK_LEN, so the cast cannot truncate.
        min(CHUNK_LEN as u64, self.plaintext_len - start) as usize + TAG_LEN
    }

    fn open_current(&mut self) -> Result<(), CryptoError> {
        let last = self.next_chunk + 1 == self.chunks;
        // check_size keeps chunks <= u32::MAX, so every position fits.
        let result = match u32::try_from(self.next_chunk) {
            Ok(position) => self
                .stream
                .decrypt_in_place(position, last, b"", &mut *self.buf),
            Err(_) => Err(chacha20poly1305::aead::Error),
        };
        if result.is_err() {
            self.failed = true;
            return Err(CryptoError::DecryptFailed);
        }
        self.next_chunk += 1;
        let written = self.writer.write_all(&self.buf);
        // Wipes the plaintext and empties the buffer for the next chunk.
        self.buf.zeroize();
        if let Err(e) = written {
            self.failed = true;
            return Err(e.into());
        }
        Ok(())
    }
}

impl<W: Write> Write for FileDecryptor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf).map_err(into_io)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests;

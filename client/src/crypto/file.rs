//! Files: chunked encryption of the body with the STREAM construction, and
//! the sealed metadata that travels in the file offer.
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
//! **Metadata** (type 4): the file offer's meta is an envelope (see
//! [`envelope`](super::envelope)) of type 4 whose plaintext is
//!
//! ```text
//!  name len u16 | name [name len] (UTF-8, 1..255 bytes) | plaintext size u64 | file key [32] | nonce prefix [19]
//! ```
//!
//! at most 49 + 2 + 255 + 8 + 32 + 19 + 16 = 381 bytes, well under
//! `protocol::MAX_FILE_META_LEN`. The name is the sender's choice: a receiver
//! must make it safe before using it as a path or printing it.
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

use super::envelope::{Opened, SealedKind};
use super::window::ReplayWindow;
use super::{CryptoError, KEY_LEN, Session, TAG_LEN, fill_random};

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

fn check_size(plaintext_len: u64) -> Result<u64, CryptoError> {
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

/// What the sender tells the recipient about a file, sealed into the offer's
/// meta: its name, plaintext size, and the key to its body.
pub struct FileMeta {
    /// The file's name as the sender gave it (1 to 255 bytes of UTF-8,
    /// not yet safe to use as a path).
    pub name: String,
    /// The plaintext size.
    pub size: u64,
    /// The body's key and nonce prefix.
    pub secret: FileSecret,
}

impl FileMeta {
    /// Metadata for a new file, with a fresh secret.
    ///
    /// # Errors
    /// [`CryptoError::EmptyFileName`], [`CryptoError::TooLarge`] for a name
    /// over 255 bytes or a file over [`MAX_PLAINTEXT_LEN`],
    /// [`CryptoError::Randomness`].
    pub fn new(name: impl Into<String>, size: u64) -> Result<Self, CryptoError> {
        Self::with_secret(name, size, FileSecret::generate()?)
    }

    /// Metadata with a given secret.
    ///
    /// # Errors
    /// As [`FileMeta::new`], except randomness.
    pub fn with_secret(
        name: impl Into<String>,
        size: u64,
        secret: FileSecret,
    ) -> Result<Self, CryptoError> {
        let name = name.into();
        check_name(&name)?;
        check_size(size)?;
        Ok(Self { name, size, secret })
    }

    /// Exact size of the body's ciphertext: what the file offer's size must
    /// be.
    pub fn ciphertext_len(&self) -> u64 {
        ciphertext_len(self.size)
    }

    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let name = self.name.as_bytes();
        let mut out = Zeroizing::new(Vec::with_capacity(
            2 + name.len() + 8 + KEY_LEN + NONCE_PREFIX_LEN,
        ));
        // check_name keeps the name at most 255 bytes, so it fits a u16.
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(self.secret.key());
        out.extend_from_slice(self.secret.nonce_prefix());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, CryptoError> {
        let bad = || CryptoError::BadPlaintext;
        let (len, rest) = bytes.split_at_checked(2).ok_or_else(bad)?;
        let name_len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        let (name, rest) = rest.split_at_checked(name_len).ok_or_else(bad)?;
        if rest.len() != 8 + KEY_LEN + NONCE_PREFIX_LEN {
            return Err(bad());
        }
        let (size, rest) = rest.split_at(8);
        let (key, prefix) = rest.split_at(KEY_LEN);
        let name = std::str::from_utf8(name).map_err(|_| bad())?.to_owned();
        let mut size_bytes = [0u8; 8];
        size_bytes.copy_from_slice(size);
        let mut key_bytes = Zeroizing::new([0u8; KEY_LEN]);
        key_bytes.copy_from_slice(key);
        let mut prefix_bytes = [0u8; NONCE_PREFIX_LEN];
        prefix_bytes.copy_from_slice(prefix);
        let secret = FileSecret::from_parts(&key_bytes, &prefix_bytes);
        prefix_bytes.zeroize();
        Self::with_secret(name, u64::from_le_bytes(size_bytes), secret).map_err(|_| bad())
    }
}

fn check_name(name: &str) -> Result<(), CryptoError> {
    if name.is_empty() {
        return Err(CryptoError::EmptyFileName);
    }
    if name.len() > MAX_FILE_NAME_LEN {
        return Err(CryptoError::TooLarge {
            what: "file name",
            len: name.len() as u64,
            max: MAX_FILE_NAME_LEN as u64,
        });
    }
    Ok(())
}

impl fmt::Debug for FileMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileMeta")
            .field("name", &self.name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Seals file metadata for the file offer's meta (type 4), with send
    /// counter `counter`.
    ///
    /// # Errors
    /// As [`Session::seal`].
    pub fn seal_file_meta(&self, counter: u64, meta: &FileMeta) -> Result<Vec<u8>, CryptoError> {
        self.seal_file_meta_with_rng(counter, meta, super::envelope::now_ms(), &mut OsRng)
    }

    /// [`Session::seal_file_meta`] with the sender's time given and the
    /// nonce drawn from `rng`.
    ///
    /// # Errors
    /// As [`Session::seal`].
    pub fn seal_file_meta_with_rng<R: RngCore + CryptoRng>(
        &self,
        counter: u64,
        meta: &FileMeta,
        sent_at_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal_with_rng(
            SealedKind::FileMeta,
            counter,
            sent_at_ms,
            &meta.encode(),
            rng,
        )
    }

    /// Opens a file offer's meta.
    ///
    /// # Errors
    /// As [`Session::open`]; [`CryptoError::BadPlaintext`] if the authentic
    /// plaintext does not follow the metadata layout.
    pub fn open_file_meta(
        &self,
        meta: &[u8],
        window: &ReplayWindow,
    ) -> Result<Opened<FileMeta>, CryptoError> {
        let opened = self.open(SealedKind::FileMeta, meta, window)?;
        Ok(Opened {
            counter: opened.counter,
            sent_at_ms: opened.sent_at_ms,
            plaintext: FileMeta::decode(&opened.plaintext)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use aead_stream_check::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::crypto::test_support::{kat_file_secret, kat_handshake, kat_meta};

    /// Cross-checks against `aead::stream`'s own encryptor, so the format
    /// really is `EncryptorBE32` output.
    mod aead_stream_check {
        use chacha20poly1305::aead::stream::EncryptorBE32;

        use super::*;

        pub fn reference_ciphertext(secret: &FileSecret, plaintext: &[u8]) -> Vec<u8> {
            let mut enc = EncryptorBE32::<XChaCha20Poly1305>::from_aead(
                XChaCha20Poly1305::new(secret.key().into()),
                GenericArray::from_slice(secret.nonce_prefix()),
            );
            let chunks: Vec<&[u8]> = if plaintext.is_empty() {
                vec![&[]]
            } else {
                plaintext.chunks(CHUNK_LEN).collect()
            };
            let mut out = Vec::new();
            let (last, init) = chunks.split_last().unwrap();
            for chunk in init {
                out.extend(enc.encrypt_next(*chunk).unwrap());
            }
            out.extend(enc.encrypt_last(*last).unwrap());
            out
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn encrypt_all(secret: &FileSecret, plaintext: &[u8]) -> Vec<u8> {
        let mut enc =
            FileEncryptor::new(secret, Cursor::new(plaintext), plaintext.len() as u64).unwrap();
        let mut out = Vec::new();
        while let Some(piece) = enc.next_piece().unwrap() {
            out.extend_from_slice(piece);
        }
        out
    }

    fn decrypt_pieces(
        secret: &FileSecret,
        len: u64,
        ciphertext: &[u8],
        sizes: &[usize],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut dec = FileDecryptor::new(secret, len, Vec::new())?;
        let mut rest = ciphertext;
        let mut i = 0;
        while !rest.is_empty() {
            let n = min(
                rest.len(),
                sizes
                    .get(i % sizes.len().max(1))
                    .copied()
                    .unwrap_or(rest.len())
                    .max(1),
            );
            dec.update(&rest[..n])?;
            rest = &rest[n..];
            i += 1;
        }
        dec.finish()
    }

    const SIZES: [usize; 8] = [
        0,
        1,
        CHUNK_LEN - 1,
        CHUNK_LEN,
        CHUNK_LEN + 1,
        2 * CHUNK_LEN,
        3 * 1024 * 1024 + 17,
        5 * 1024 * 1024,
    ];

    #[test]
    fn ciphertext_len_is_plaintext_plus_a_tag_per_chunk() {
        assert_eq!(ciphertext_len(0), 16);
        assert_eq!(ciphertext_len(1), 17);
        assert_eq!(ciphertext_len(CHUNK_LEN as u64), CHUNK_LEN as u64 + 16);
        assert_eq!(
            ciphertext_len(CHUNK_LEN as u64 + 1),
            CHUNK_LEN as u64 + 1 + 32
        );
        assert_eq!(ciphertext_len(u64::MAX), u64::MAX);
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(2 * CHUNK_LEN as u64), 2);
    }

    #[test]
    fn round_trips_every_boundary_size() {
        let secret = FileSecret::generate().unwrap();
        for len in SIZES {
            let plaintext = pattern(len);
            let c = encrypt_all(&secret, &plaintext);
            assert_eq!(c.len() as u64, ciphertext_len(len as u64), "size {len}");
            assert_eq!(c, reference_ciphertext(&secret, &plaintext), "size {len}");
            for sizes in [&[usize::MAX][..], &[1, 7, 65551, 3], &[65536], &[1_000_000]] {
                let out = decrypt_pieces(&secret, len as u64, &c, sizes).unwrap();
                assert!(out == plaintext, "size {len}, pieces {sizes:?}");
            }
        }
    }

    #[test]
    fn read_impls_stream_the_same_bytes() {
        let secret = FileSecret::generate().unwrap();
        let plaintext = pattern(3 * CHUNK_LEN + 5);
        let len = plaintext.len() as u64;
        let mut enc = FileEncryptor::new(&secret, Cursor::new(&plaintext), len).unwrap();
        let mut dec = FileDecryptor::new(&secret, len, Vec::new()).unwrap();
        io::copy(&mut enc, &mut dec).unwrap();
        assert_eq!(dec.finish().unwrap(), plaintext);
    }

    #[test]
    fn rejects_truncation_reordering_extension_and_tampering() {
        let secret = FileSecret::generate().unwrap();
        let plaintext = pattern(3 * CHUNK_LEN + 100);
        let len = plaintext.len() as u64;
        let c = encrypt_all(&secret, &plaintext);
        let all = [usize::MAX];

        // Last chunk dropped, told the true size: incomplete.
        let without_last = &c[..3 * SEALED_CHUNK_LEN];
        assert!(matches!(
            decrypt_pieces(&secret, len, without_last, &all),
            Err(CryptoError::DecryptFailed)
        ));
        // Last chunk dropped and the size lied about to match: the new last
        // chunk was not sealed as last.
        assert!(decrypt_pieces(&secret, 3 * CHUNK_LEN as u64, without_last, &all).is_err());
        // One byte short.
        assert!(decrypt_pieces(&secret, len, &c[..c.len() - 1], &all).is_err());
        // Two chunks swapped.
        let mut swapped = c.clone();
        swapped[..SEALED_CHUNK_LEN].copy_from_slice(&c[SEALED_CHUNK_LEN..2 * SEALED_CHUNK_LEN]);
        swapped[SEALED_CHUNK_LEN..2 * SEALED_CHUNK_LEN].copy_from_slice(&c[..SEALED_CHUNK_LEN]);
        assert!(decrypt_pieces(&secret, len, &swapped, &all).is_err());
        // A chunk repeated in place of another.
        let mut repeated = c.clone();
        repeated[SEALED_CHUNK_LEN..2 * SEALED_CHUNK_LEN].copy_from_slice(&c[..SEALED_CHUNK_LEN]);
        assert!(decrypt_pieces(&secret, len, &repeated, &all).is_err());
        // Extra trailing bytes, however they arrive.
        let mut longer = c.clone();
        longer.push(0);
        assert!(decrypt_pieces(&secret, len, &longer, &all).is_err());
        assert!(decrypt_pieces(&secret, len, &longer, &[7]).is_err());
        let mut dec = FileDecryptor::new(&secret, len, Vec::new()).unwrap();
        dec.update(&c).unwrap();
        assert!(dec.update(&[0]).is_err());
        assert!(dec.update(&[]).is_err(), "stays failed");
        // Flipped bits in the first, a middle and the last chunk, and tags.
        for i in [
            0,
            100,
            SEALED_CHUNK_LEN - 1,
            SEALED_CHUNK_LEN + 5,
            c.len() - 17,
            c.len() - 1,
        ] {
            let mut bad = c.clone();
            bad[i] ^= 0x20;
            assert!(
                decrypt_pieces(&secret, len, &bad, &all).is_err(),
                "byte {i}"
            );
        }
        // The wrong key.
        let other = FileSecret::generate().unwrap();
        assert!(decrypt_pieces(&other, len, &c, &all).is_err());
        // The untouched ciphertext still decrypts.
        assert_eq!(decrypt_pieces(&secret, len, &c, &all).unwrap(), plaintext);
    }

    #[test]
    fn an_empty_file_needs_its_one_sealed_chunk() {
        let secret = FileSecret::generate().unwrap();
        let c = encrypt_all(&secret, b"");
        assert_eq!(c.len(), 16);
        assert!(decrypt_pieces(&secret, 0, &c, &[1]).unwrap().is_empty());
        let dec = FileDecryptor::new(&secret, 0, Vec::new()).unwrap();
        assert!(matches!(dec.finish(), Err(CryptoError::DecryptFailed)));
    }

    #[test]
    fn a_file_that_is_not_its_declared_size_is_refused() {
        let secret = FileSecret::generate().unwrap();
        let plaintext = pattern(CHUNK_LEN + 10);
        for declared in [CHUNK_LEN as u64 + 11, CHUNK_LEN as u64 + 9, 10] {
            let mut enc = FileEncryptor::new(&secret, Cursor::new(&plaintext), declared).unwrap();
            let result = loop {
                match enc.next_piece() {
                    Ok(Some(_)) => continue,
                    other => break other.map(|_| ()),
                }
            };
            assert!(
                matches!(result, Err(CryptoError::FileChanged)),
                "declared {declared}"
            );
        }
    }

    #[test]
    fn resume_at_every_interesting_offset_gives_the_suffix() {
        let secret = FileSecret::generate().unwrap();
        let plaintext = pattern(2 * CHUNK_LEN + 3);
        let full = encrypt_all(&secret, &plaintext);
        let len = plaintext.len() as u64;
        let offsets = [
            0,
            1,
            SEALED_CHUNK_LEN - 1,
            SEALED_CHUNK_LEN,
            SEALED_CHUNK_LEN + 1,
            2 * SEALED_CHUNK_LEN,
            full.len() - 1,
            full.len(),
        ];
        for offset in offsets {
            let mut enc =
                FileEncryptor::resume(&secret, Cursor::new(&plaintext), len, offset as u64)
                    .unwrap();
            let mut out = Vec::new();
            enc.read_to_end(&mut out).unwrap();
            assert!(out == full[offset..], "offset {offset}");
        }
        assert!(matches!(
            FileEncryptor::resume(&secret, Cursor::new(&plaintext), len, full.len() as u64 + 1),
            Err(CryptoError::BadOffset { .. })
        ));
    }

    #[test]
    fn decryption_resumed_at_a_chunk_gives_the_rest_and_checks_positions() {
        let secret = FileSecret::generate().unwrap();
        let plaintext = pattern(3 * CHUNK_LEN + 77);
        let len = plaintext.len() as u64;
        let c = encrypt_all(&secret, &plaintext);
        for first in 0..4u64 {
            let at = first as usize * SEALED_CHUNK_LEN;
            let mut dec = FileDecryptor::resume(&secret, len, Vec::new(), first).unwrap();
            dec.update(&c[at..]).unwrap();
            assert_eq!(dec.chunks_done(), 4);
            let out = dec.finish().unwrap();
            assert!(
                out == plaintext[first as usize * CHUNK_LEN..],
                "chunk {first}"
            );
        }
        // Ciphertext from another position does not open there.
        let mut dec = FileDecryptor::resume(&secret, len, Vec::new(), 1).unwrap();
        assert!(dec.update(&c[..SEALED_CHUNK_LEN]).is_err());
        // Stopping part-way keeps what was decrypted, whole chunks only.
        let mut dec = FileDecryptor::new(&secret, len, Vec::new()).unwrap();
        dec.update(&c[..2 * SEALED_CHUNK_LEN + 10]).unwrap();
        assert_eq!(dec.chunks_done(), 2);
        assert!(dec.into_writer() == plaintext[..2 * CHUNK_LEN]);
        assert!(matches!(
            FileDecryptor::resume(&secret, len, Vec::new(), 4),
            Err(CryptoError::BadOffset { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn decrypts_from_pieces_split_anywhere(
            len in 0usize..(3 * CHUNK_LEN + 50),
            sizes in proptest::collection::vec(1usize..200_000, 1..20),
        ) {
            let secret = FileSecret::generate().unwrap();
            let plaintext = pattern(len);
            let c = encrypt_all(&secret, &plaintext);
            let out = decrypt_pieces(&secret, len as u64, &c, &sizes).unwrap();
            prop_assert!(out == plaintext);
        }

        #[test]
        fn resume_from_any_offset_is_the_suffix(
            len in 0usize..(3 * CHUNK_LEN + 50),
            at in 0.0f64..=1.0,
        ) {
            let secret = FileSecret::generate().unwrap();
            let plaintext = pattern(len);
            let full = encrypt_all(&secret, &plaintext);
            let offset = ((full.len() as f64) * at) as usize;
            let mut enc = FileEncryptor::resume(&secret, Cursor::new(&plaintext), len as u64, offset as u64).unwrap();
            let mut out = Vec::new();
            while let Some(piece) = enc.next_piece().unwrap() {
                out.extend_from_slice(piece);
            }
            prop_assert!(out == full[offset..]);
        }
    }

    #[test]
    fn known_answer_file_chunks() {
        let secret = kat_file_secret();
        assert_eq!(
            hex::encode(encrypt_all(&secret, b"hello file")),
            KAT_SMALL_FILE
        );
        // A two-chunk file: the first chunk's tag and the digest of it all.
        let c = encrypt_all(&secret, &pattern(CHUNK_LEN + 1));
        assert_eq!(
            hex::encode(&c[CHUNK_LEN..SEALED_CHUNK_LEN]),
            KAT_FIRST_CHUNK_TAG
        );
        assert_eq!(hex::encode(Sha256::digest(&c)), KAT_TWO_CHUNKS_SHA256);
    }

    const KAT_SMALL_FILE: &str = "6418abda7c63cf5859d8ef6fe1b66da54126ccffe26366ddc7ca";
    const KAT_FIRST_CHUNK_TAG: &str = "a2636a37644acffa84e94f2bf3a369ab";
    const KAT_TWO_CHUNKS_SHA256: &str =
        "24a310f967495ca3930f8f0728baf8f8ef10bf8864e31f51e6e0193c9306c63b";

    fn window_after(counter: u64) -> ReplayWindow {
        let mut w = ReplayWindow::default();
        w.record(counter);
        w
    }

    #[test]
    fn meta_round_trips_and_fits_the_offer() {
        let (sa, sb, _, _) = kat_handshake();
        let name = "ä".repeat(127) + "x"; // 255 bytes
        let meta = FileMeta::new(name.clone(), 12345).unwrap();
        let sealed = sa.seal_file_meta(7, &meta).unwrap();
        assert!(sealed.len() <= protocol::MAX_FILE_META_LEN);
        assert_eq!(sealed.len(), 389);
        let opened = sb.open_file_meta(&sealed, &window_after(6)).unwrap();
        assert_eq!(opened.counter, 7);
        assert_eq!(opened.plaintext.name, name);
        assert_eq!(opened.plaintext.size, 12345);
        assert_eq!(opened.plaintext.secret.key(), meta.secret.key());
        assert_eq!(
            opened.plaintext.secret.nonce_prefix(),
            meta.secret.nonce_prefix()
        );
        assert!(matches!(
            sb.open_file_meta(&sealed, &window_after(7)),
            Err(CryptoError::Replayed)
        ));
        // A meta sealed as a text does not open as a meta.
        let as_text = sa.seal(SealedKind::Text, 8, &meta.encode()).unwrap();
        assert!(matches!(
            sb.open_file_meta(&as_text, &ReplayWindow::default()),
            Err(CryptoError::DecryptFailed)
        ));
        let debug = format!("{meta:?}");
        assert!(!debug.contains(&hex::encode(meta.secret.key())[..8]));
    }

    #[test]
    fn meta_refuses_bad_names_and_layouts() {
        assert!(matches!(
            FileMeta::new("", 1),
            Err(CryptoError::EmptyFileName)
        ));
        assert!(matches!(
            FileMeta::new("x".repeat(256), 1),
            Err(CryptoError::TooLarge { .. })
        ));
        assert!(FileMeta::new("x", MAX_PLAINTEXT_LEN + 1).is_err());
        let (sa, sb, _, _) = kat_handshake();
        let good = FileMeta::new("a.txt", 3).unwrap().encode();
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
        ];
        let mut bad_utf8 = good.to_vec();
        bad_utf8[2] = 0xff;
        cases.push(bad_utf8);
        let mut empty_name = vec![0, 0];
        empty_name.extend_from_slice(&good[2 + 5..]);
        cases.push(empty_name);
        for (i, plaintext) in cases.iter().enumerate() {
            let sealed = sa.seal(SealedKind::FileMeta, 1, plaintext).unwrap();
            assert!(
                matches!(
                    sb.open_file_meta(&sealed, &ReplayWindow::default()),
                    Err(CryptoError::BadPlaintext)
                ),
                "case {i}"
            );
        }
    }

    #[test]
    fn known_answer_file_meta() {
        assert_eq!(hex::encode(kat_meta()), KAT_META);
    }

    const KAT_META: &str = "015a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a02000000000000007b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b78ec6eb3cb04cc4b8ffb0df1869d0859a061bc097c54356e202e907f18d24f3276694c37aae4a6cbcdbbf3472a57d9b148e9185cba2d6e42453d798cf830e119e1efe99cbdcd2f0dbfad1f42cfd600f35fadde53e1ed19ac66dc8107f9fd";
}

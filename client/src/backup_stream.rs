//! The sealed framing of a backup file ([`crate::backup`] has the format
//! and what goes in it): [`Sealer`] writes `SEALPOST-BACKUP-1\n`, the salt
//! and nonce prefix, then 64 KiB STREAM chunks, each a 4-byte big-endian
//! length and the ciphertext; [`Opener`] reads them back, and says what is
//! wrong with a file that does not open as a [`BackupFault`]
//! (`crate::backup_fault`).
//!
//! The framing is what tells a bad file apart before any decryption: no
//! magic is no backup, and a header or chunk shorter than its length says
//! is a cut file. Only a chunk that fails its tag is left ambiguous: for
//! the first one a wrong passphrase and a damaged file fail alike, while a
//! later one failing after the first opened is damage.

use std::io::{Read, Write};

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};
use rand::RngCore;

use crate::backup_fault::BackupFault;
use crate::keystore::KeyStoreError;
use crate::keystore::atrest;

const MAGIC: &[u8] = b"SEALPOST-BACKUP-1\n";
const SALT_LEN: usize = 16;
const PREFIX_LEN: usize = 19;
const HEADER_LEN: usize = MAGIC.len() + SALT_LEN + PREFIX_LEN;
const CHUNK: usize = 64 * 1024;
/// STREAM adds a 16-byte tag per chunk.
const SEALED_MAX: usize = CHUNK + 16;

/// `fault` as [`std::io::Error`], for what reads through [`Opener`] (see
/// [`BackupFault::of`]).
fn io(fault: BackupFault) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, fault)
}

impl From<BackupFault> for KeyStoreError {
    fn from(fault: BackupFault) -> Self {
        KeyStoreError::Backup(fault)
    }
}

fn cipher(pass: &str, salt: &[u8; SALT_LEN]) -> Result<XChaCha20Poly1305, KeyStoreError> {
    let key = atrest::derive(pass, salt)?;
    Ok(XChaCha20Poly1305::new(key.bytes().into()))
}

/// Seals what is written into 64 KiB STREAM chunks.
pub(crate) struct Sealer<W: Write> {
    out: W,
    header: Vec<u8>,
    stream: Option<EncryptorBE32<XChaCha20Poly1305>>,
    buf: Vec<u8>,
}

impl<W: Write> Sealer<W> {
    pub(crate) fn new(mut out: W, pass: &str) -> Result<Self, KeyStoreError> {
        let mut salt = [0u8; SALT_LEN];
        let mut prefix = [0u8; PREFIX_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&salt);
        header.extend_from_slice(&prefix);
        out.write_all(&header)?;
        let stream = EncryptorBE32::from_aead(cipher(pass, &salt)?, (&prefix).into());
        Ok(Self {
            out,
            header,
            stream: Some(stream),
            buf: Vec::with_capacity(CHUNK),
        })
    }

    fn emit(&mut self, sealed: Vec<u8>) -> std::io::Result<()> {
        let len = u32::try_from(sealed.len()).map_err(std::io::Error::other)?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(&sealed)
    }

    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        let stream = self
            .stream
            .take()
            .ok_or_else(|| std::io::Error::other("sealed twice"))?;
        let payload = Payload {
            msg: &self.buf,
            aad: &self.header,
        };
        let sealed = stream
            .encrypt_last(payload)
            .map_err(|_| std::io::Error::other("sealing the backup failed"))?;
        self.emit(sealed)?;
        self.out.flush()?;
        let mut out = self.out;
        out.flush()
    }
}

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            let stream = self
                .stream
                .as_mut()
                .ok_or_else(|| std::io::Error::other("sealed"))?;
            let sealed = stream
                .encrypt_next(Payload {
                    msg: &self.buf,
                    aad: &self.header,
                })
                .map_err(|_| std::io::Error::other("sealing the backup failed"))?;
            self.buf.clear();
            self.emit(sealed)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads into `buf` until it is full or the input ends; how much it read.
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Fills `buf`, or says the backup is cut short (or could not be read).
fn read_whole(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<()> {
    if read_up_to(input, buf)? < buf.len() {
        return Err(io(BackupFault::CutShort));
    }
    Ok(())
}

/// Opens STREAM chunks as they are read.
pub(crate) struct Opener<R: Read> {
    input: R,
    header: Vec<u8>,
    stream: Option<DecryptorBE32<XChaCha20Poly1305>>,
    plain: Vec<u8>,
    at: usize,
}

impl<R: Read> Opener<R> {
    /// Reads the header and opens the first chunk.
    ///
    /// # Errors
    /// [`BackupFault`]s as [`KeyStoreError::Backup`];
    /// [`KeyStoreError::WrongBackupPassphrase`] when the first chunk does
    /// not open (which a damaged first chunk cannot be told apart from).
    pub(crate) fn new(mut input: R, pass: &str) -> Result<Self, KeyStoreError> {
        let mut header = vec![0u8; HEADER_LEN];
        let got = read_up_to(&mut input, &mut header).map_err(BackupFault::of)?;
        let magic = got.min(MAGIC.len());
        // A file that starts as a backup and stops is a cut one; any other
        // start is no backup at all (an empty file included).
        if got == 0 || header[..magic] != MAGIC[..magic] {
            return Err(BackupFault::NotABackup.into());
        }
        if got < HEADER_LEN {
            return Err(BackupFault::CutShort.into());
        }
        let salt: [u8; SALT_LEN] = header[MAGIC.len()..MAGIC.len() + SALT_LEN]
            .try_into()
            .map_err(|_| BackupFault::NotABackup)?;
        let prefix: [u8; PREFIX_LEN] = header[MAGIC.len() + SALT_LEN..]
            .try_into()
            .map_err(|_| BackupFault::NotABackup)?;
        let stream = DecryptorBE32::from_aead(cipher(pass, &salt)?, (&prefix).into());
        let mut opener = Self {
            input,
            header,
            stream: Some(stream),
            plain: Vec::new(),
            at: 0,
        };
        opener.next_chunk().map_err(|e| match BackupFault::of(e) {
            // The first chunk's tag fails alike for a wrong passphrase and
            // a damaged file: the error names both.
            BackupFault::Damaged => KeyStoreError::WrongBackupPassphrase,
            fault => fault.into(),
        })?;
        Ok(opener)
    }

    fn next_chunk(&mut self) -> std::io::Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            self.plain.clear();
            self.at = 0;
            return Ok(());
        };
        let mut len = [0u8; 4];
        read_whole(&mut self.input, &mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > SEALED_MAX {
            return Err(io(BackupFault::Damaged));
        }
        let mut sealed = vec![0u8; len];
        read_whole(&mut self.input, &mut sealed)?;
        // A chunk shorter than a full one is the last (as written).
        let payload = Payload {
            msg: &sealed,
            aad: &self.header,
        };
        self.plain = if len == SEALED_MAX {
            stream.decrypt_next(payload)
        } else {
            let stream = self.stream.take().ok_or_else(|| io(BackupFault::Damaged))?;
            stream.decrypt_last(payload)
        }
        .map_err(|_| io(BackupFault::Damaged))?;
        self.at = 0;
        Ok(())
    }
}

impl<R: Read> Read for Opener<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.plain.len() {
            if self.stream.is_none() {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: &str = "the backup's passphrase";

    /// A sealed backup of `plain`.
    fn sealed(plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut sealer = Sealer::new(&mut out, PASS).unwrap();
        sealer.write_all(plain).unwrap();
        sealer.finish().unwrap();
        out
    }

    /// What opening and reading `file` through comes to.
    fn open(file: &[u8], pass: &str) -> Result<Vec<u8>, KeyStoreError> {
        let mut opener = Opener::new(file, pass)?;
        let mut plain = Vec::new();
        opener
            .read_to_end(&mut plain)
            .map_err(|e| KeyStoreError::Backup(BackupFault::of(e)))?;
        Ok(plain)
    }

    fn fault(r: Result<Vec<u8>, KeyStoreError>) -> BackupFault {
        match r {
            Err(KeyStoreError::Backup(f)) => f,
            other => panic!("expected a backup fault, got {other:?}"),
        }
    }

    #[test]
    fn a_cut_file_is_told_from_a_wrong_passphrase_and_from_no_backup() {
        // Two full chunks and a short last one.
        let plain: Vec<u8> = (0..(2 * CHUNK + 5000)).map(|i| (i % 251) as u8).collect();
        let file = sealed(&plain);
        assert_eq!(open(&file, PASS).unwrap(), plain);
        assert!(matches!(
            open(&file, "another passphrase"),
            Err(KeyStoreError::WrongBackupPassphrase)
        ));
        // Cut anywhere: in the magic, the header, a length, the first
        // chunk, at a chunk's end, in the last chunk.
        let first_end = HEADER_LEN + 4 + SEALED_MAX;
        for cut in [
            5,
            HEADER_LEN - 1,
            HEADER_LEN + 2,
            3000,
            first_end,
            first_end + 4 + SEALED_MAX,
            file.len() - 1,
        ] {
            assert_eq!(
                fault(open(&file[..cut], PASS)),
                BackupFault::CutShort,
                "{cut}"
            );
        }
        // A small backup is one short chunk: cut, it is still cut.
        let small = sealed(&[b'x'; 4000]);
        assert_eq!(fault(open(&small[..3000], PASS)), BackupFault::CutShort);
        for other in [
            &b""[..],
            b"my-laptop\n",
            b"SEALPOST-BACKUP-2\nmore than a header........",
        ] {
            assert_eq!(fault(open(other, PASS)), BackupFault::NotABackup);
        }
        // A changed byte after the first chunk is damage (the passphrase
        // opened the first); in the first, it reads as either.
        let mut damaged = file.clone();
        damaged[first_end + 100] ^= 1;
        assert_eq!(fault(open(&damaged, PASS)), BackupFault::Damaged);
        let mut damaged = file;
        damaged[HEADER_LEN + 100] ^= 1;
        assert!(matches!(
            open(&damaged, PASS),
            Err(KeyStoreError::WrongBackupPassphrase)
        ));
    }
}

//! Receiving a file in constant memory.
//!
//! The async side keeps a few ranges in flight and hands them, in order, to
//! a blocking thread that decrypts into a hidden temporary file in the
//! downloads folder (written by [`crate::disk::OverlappedWriter`]). Only a
//! file whose every chunk authenticated and whose end was seen is renamed
//! into place under a safe, unused name; a download that stops keeps its
//! authenticated chunks to resume from ([`crate::partial`]), and one that
//! fails to authenticate is deleted.
//!
//! Left out: deciding whether a file is downloaded at all (the inbox and
//! [`crate::downloads`]), and sending ([`super::upload`]).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use protocol::MAX_CHUNK_LEN;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{ATTEMPTS, WINDOW, blocking, copy_secret, file_error};
use crate::client::{Client, ClientError};
use crate::connection::ConnectionError;
use crate::crypto::file::{CHUNK_LEN, SEALED_CHUNK_LEN, chunk_count};
use crate::crypto::{CryptoError, FileDecryptor, FileMeta};
use crate::disk::{OverlappedWriter, create_private_new};
use crate::display::{numbered_name, safe_file_name};
use crate::keystore::PartialDownload;
use crate::partial;

/// Why receiving a file failed.
pub(crate) enum ReceiveError {
    /// The ciphertext failed to authenticate, was truncated or had extra
    /// bytes: the file is rejected (and its partial copy deleted).
    Rejected(CryptoError),
    /// Another client of this home folder is receiving this very file (its
    /// part is locked): that one finishes it; the message is left to it.
    Busy(ClientError),
    /// Anything else; the message is left for a later attempt.
    Failed(ClientError),
}

impl From<ClientError> for ReceiveError {
    fn from(e: ClientError) -> Self {
        Self::Failed(e)
    }
}

enum Piece {
    Data(Bytes),
    End,
}

/// How the decrypting side of a download ended.
enum Decrypted {
    /// Every chunk authenticated and the end was seen: the part is whole.
    Whole,
    /// The download stopped: the part holds this many plaintext bytes,
    /// whole chunks only, flushed and synced.
    Stopped(u64),
}

impl Client {
    /// Downloads, decrypts and saves a file message; returns where it was saved.
    /// A download that stops (`cancel`, or a lost connection) keeps its part
    /// (see [`crate::partial`]) and the message stays on the server; the next
    /// attempt resumes from the part's last whole chunk.
    pub(crate) async fn receive_file(
        &self,
        message_id: u64,
        offer_size: u64,
        meta: &FileMeta,
        label: &str,
        cancel: &CancellationToken,
    ) -> Result<PathBuf, ReceiveError> {
        if offer_size != meta.ciphertext_len() {
            return Err(ReceiveError::Rejected(CryptoError::DecryptFailed));
        }
        let dir = self.downloads();
        let temp = partial::path(&dir, message_id);
        {
            let dir = dir.clone();
            blocking(move || {
                crate::disk::create_private_dir(&dir).map_err(|e| file_error(&dir, e))
            })
            .await??;
        }
        // Resume only a part recorded for this very file key, at a chunk that
        // is not past the end.
        let digest = partial::key_digest(&meta.secret);
        let chunks = chunk_count(meta.size);
        let keep = self
            .store(move |s| s.partial(message_id))
            .await?
            .filter(|p| {
                p.key_digest == digest
                    && p.verified_len.is_multiple_of(CHUNK_LEN as u64)
                    && p.verified_len / (CHUNK_LEN as u64) < chunks
            })
            .map_or(0, |p| p.verified_len);
        let opened = {
            let temp = temp.clone();
            blocking(move || partial::open(&temp, keep).map_err(|e| file_error(&temp, e))).await?
        };
        let (file, direct, start) = match opened {
            Ok(o) => o,
            Err(e) if is_busy(&e) => return Err(ReceiveError::Busy(e)),
            Err(e) => return Err(ReceiveError::Failed(e)),
        };
        let first_chunk = start / CHUNK_LEN as u64;
        let from = first_chunk * SEALED_CHUNK_LEN as u64;
        let (tx, mut rx) = mpsc::channel::<Piece>(WINDOW);
        let secret = copy_secret(&meta.secret);
        let plaintext_size = meta.size;
        let temp_path = temp.clone();
        let consumer = tokio::task::spawn_blocking(move || -> Result<Decrypted, ReceiveError> {
            let io_failed = |e| ReceiveError::Failed(file_error(&temp_path, e));
            let writer = OverlappedWriter::new(file, direct, start).map_err(io_failed)?;
            let mut decryptor = FileDecryptor::resume(&secret, plaintext_size, writer, first_chunk)
                .map_err(ReceiveError::Rejected)?;
            while let Some(piece) = rx.blocking_recv() {
                match piece {
                    Piece::Data(data) => match decryptor.update(&data) {
                        Ok(()) => {}
                        Err(CryptoError::Io(e)) => return Err(io_failed(e)),
                        Err(e) => return Err(ReceiveError::Rejected(e)),
                    },
                    Piece::End => {
                        let writer = match decryptor.finish() {
                            Ok(w) => w,
                            Err(CryptoError::Io(e)) => return Err(io_failed(e)),
                            Err(e) => return Err(ReceiveError::Rejected(e)),
                        };
                        let file = writer.finish().map_err(io_failed)?;
                        file.sync_all().map_err(io_failed)?;
                        return Ok(Decrypted::Whole);
                    }
                }
            }
            // Stopped: keep the whole chunks written so far for a resume.
            let kept = decryptor.chunks_done() * CHUNK_LEN as u64;
            let file = decryptor.into_writer().finish().map_err(io_failed)?;
            file.set_len(kept).map_err(io_failed)?;
            file.sync_all().map_err(io_failed)?;
            Ok(Decrypted::Stopped(kept))
        });
        let fed = self
            .feed_download(message_id, offer_size, from, label, &tx, cancel)
            .await;
        if fed.is_ok() {
            let _ = tx.send(Piece::End).await;
        }
        drop(tx);
        let decrypted = consumer.await.map_err(|e| {
            ReceiveError::Failed(ClientError::Io(std::io::Error::other(e.to_string())))
        })?;
        let result = match (fed, decrypted) {
            (Ok(()), Ok(Decrypted::Whole)) => Ok(()),
            // A decryption failure says more than the feeding error it caused.
            (_, Err(ReceiveError::Rejected(e))) => Err(ReceiveError::Rejected(e)),
            (Err(e), Ok(Decrypted::Stopped(kept))) if kept > 0 => {
                let part = PartialDownload {
                    message_id,
                    key_digest: digest,
                    verified_len: kept,
                };
                self.store(move |s| s.save_partial(&part)).await?;
                return Err(ReceiveError::Failed(e));
            }
            (Err(e), _) => Err(ReceiveError::Failed(e)),
            (Ok(()), Ok(Decrypted::Stopped(_))) => Err(ReceiveError::Failed(
                ConnectionError::Unexpected("the download ended early".into()).into(),
            )),
            (Ok(()), Err(e)) => Err(e),
        };
        if let Err(e) = result {
            let t = temp.clone();
            let _ = blocking(move || fs::remove_file(t)).await;
            self.store(move |s| s.delete_partial(message_id)).await?;
            return Err(e);
        }
        let name = safe_file_name(&meta.name);
        let placed = blocking(move || place(&temp, &dir, &name)).await?;
        let placed = placed.map_err(|e| ReceiveError::Failed(ClientError::Io(e)))?;
        self.store(move |s| s.delete_partial(message_id)).await?;
        Ok(placed)
    }

    /// Downloads the ciphertext from `from` on, in order, into `tx`, continuing
    /// after lost connections from the last byte handed over.
    async fn feed_download(
        &self,
        message_id: u64,
        size: u64,
        from: u64,
        label: &str,
        tx: &mpsc::Sender<Piece>,
        cancel: &CancellationToken,
    ) -> Result<(), ClientError> {
        let progress = self.progress();
        progress.start(label, size, from);
        let mut fed = from;
        let mut attempt = 0;
        let result = loop {
            let fed_now = tokio::select! {
                r = self.feed_from(message_id, size, &mut fed, tx) => r,
                // Dropping the requests in flight is safe: nothing was written
                // for them, and the partial file is deleted by the caller.
                () = cancel.cancelled() => Err(ClientError::Cancelled),
            };
            match fed_now {
                Err(ClientError::Connection(e)) if e.is_disconnect() && attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    tracing::info!(error = %e, attempt, "download interrupted; continuing");
                    tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
                }
                other => break other,
            }
        };
        progress.finish();
        result
    }

    async fn feed_from(
        &self,
        message_id: u64,
        size: u64,
        fed: &mut u64,
        tx: &mpsc::Sender<Piece>,
    ) -> Result<(), ClientError> {
        let conn = self.connection().await?;
        let chunk = u64::from(conn.limits().max_chunk_len).clamp(1, MAX_CHUNK_LEN as u64);
        let progress = self.progress();
        let mut in_flight = FuturesOrdered::new();
        let mut next = *fed;
        while *fed < size {
            while next < size && in_flight.len() < WINDOW {
                let len = chunk.min(size - next) as u32;
                in_flight.push_back(conn.download(message_id, next, len));
                next += u64::from(len);
            }
            let Some(data) = in_flight.next().await else {
                break;
            };
            let data = data?;
            if data.is_empty() {
                return Err(ConnectionError::Unexpected(
                    "the server's copy of the file is shorter than offered".into(),
                )
                .into());
            }
            *fed += data.len() as u64;
            progress.advance(data.len() as u64);
            if tx.send(Piece::Data(data)).await.is_err() {
                // The decryptor stopped (it rejected the file); it says why.
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Moves the finished temporary file to `dir/name`, or a numbered variant
/// when that name is taken; never overwrites.
pub(crate) fn place(temp: &Path, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    for n in 1..10_000 {
        let candidate = dir.join(numbered_name(name, n));
        // Reserve the name atomically, then replace the empty placeholder.
        match create_private_new(&candidate) {
            Ok(_) => {
                fs::rename(temp, &candidate)?;
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "no free name for {name} in the downloads folder"
    )))
}

/// The part is locked by another client of this home folder.
fn is_busy(e: &ClientError) -> bool {
    matches!(e, ClientError::File { source, .. } if source.kind() == std::io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placing_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), b"old").unwrap();
        let t1 = dir.path().join(".t1");
        fs::write(&t1, b"new").unwrap();
        let placed = place(&t1, dir.path(), "a.txt").unwrap();
        assert_eq!(placed, dir.path().join("a (2).txt"));
        assert_eq!(fs::read(dir.path().join("a.txt")).unwrap(), b"old");
        assert_eq!(fs::read(&placed).unwrap(), b"new");
    }
}

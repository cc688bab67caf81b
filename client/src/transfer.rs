//! File transfers in constant memory.
//!
//! Upload: a blocking thread reads the file and encrypts it chunk by chunk
//! (STREAM), handing upload-sized pieces through a small bounded channel; the
//! async side keeps a few chunks in flight (pipelined) and, after a lost
//! connection, asks the server where the upload stands and resumes from
//! there, re-encrypting from that offset. The upload's key is kept in the key
//! store, so an upload also resumes after the client restarts, provided the
//! file is unchanged: the plaintext read so far is hashed as it is read and
//! checked again before any resume ([`crate::upload_prefix`]); a changed
//! file is sent again from the start with a new key.
//!
//! Download: the async side keeps a few ranges in flight and hands them, in
//! order, to a blocking thread that decrypts into a hidden temporary file in
//! the downloads folder. Only a file whose every chunk authenticated and whose
//! end was seen is renamed into place under a safe, unused name; a download
//! that stops keeps its authenticated chunks to resume from
//! ([`crate::partial`]), and one that fails to authenticate is deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use protocol::{ErrorReason, MAX_CHUNK_LEN, UploadId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientError};
use crate::connection::ConnectionError;
use crate::crypto::file::{CHUNK_LEN, SEALED_CHUNK_LEN, chunk_count};
use crate::crypto::{
    CryptoError, FileDecryptor, FileEncryptor, FileMeta, FileSecret, ciphertext_len,
};
use crate::display::{numbered_name, safe_file_name};
use crate::keystore::{FileStamp, PartialDownload, UploadRecord};
use crate::partial;
use crate::upload_prefix::{self, HashingReader, ReadPrefix};

/// Chunks (uploads) or ranges (downloads) in flight at once.
const WINDOW: usize = 4;
/// Attempts to continue a transfer after lost connections.
const ATTEMPTS: u32 = 6;

fn copy_secret(s: &FileSecret) -> FileSecret {
    FileSecret::from_parts(s.key(), s.nonce_prefix())
}

fn file_error(path: &Path, source: std::io::Error) -> ClientError {
    ClientError::File {
        path: crate::display::escape_path(path),
        source,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))
}

/// The name a file goes by in its metadata: its last path component, cut to
/// 255 bytes at a character boundary.
fn announced_name(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "file".into());
    if name.len() > 255 {
        let mut end = 255;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

pub(crate) async fn send_file(
    client: &Client,
    who: &str,
    path: &Path,
    cancel: CancellationToken,
) -> Result<u64, ClientError> {
    let peer = client.peer_for_sending(who).await?;
    let path = {
        let p = path.to_path_buf();
        blocking(move || fs::canonicalize(&p).map_err(|e| file_error(&p, e))).await??
    };
    let stamp = {
        let p = path.clone();
        blocking(move || FileStamp::of_path(&p).map_err(|e| file_error(&p, e))).await??
    };
    if !stamp_is_file(&path).await {
        return Err(file_error(
            &path,
            std::io::Error::other("not a regular file"),
        ));
    }
    let meta = FileMeta::new(announced_name(&path), stamp.size)?;
    let secret = copy_secret(&meta.secret);
    let sealed_meta = client
        .seal_for(&peer, move |session, counter| {
            session.seal_file_meta(counter, &meta)
        })
        .await?;
    let size = ciphertext_len(stamp.size);
    let destination = peer.client_id;
    let meta_bytes = Bytes::from(sealed_meta.clone());
    let status = client
        .retrying(|c| {
            let meta = meta_bytes.clone();
            async move { c.upload_begin(destination, size, meta).await }
        })
        .await?;
    let record = UploadRecord {
        upload_id: status.upload_id,
        destination,
        path: path.clone(),
        stamp,
        secret,
        meta: sealed_meta,
        created_at: SystemTime::now(),
    };
    let secret = copy_secret(&record.secret);
    client.store(move |s| s.save_upload(&record)).await?;
    let label = format!("to {}", crate::display::escape_line(&peer.name));
    let id = run_upload(
        client,
        status.upload_id,
        &path,
        secret,
        stamp.size,
        &label,
        0,
        ReadPrefix::default().record(),
        &cancel,
    )
    .await?;
    client
        .store(move |s| s.delete_upload(status.upload_id))
        .await?;
    Ok(id)
}

async fn stamp_is_file(path: &Path) -> bool {
    let p = path.to_path_buf();
    blocking(move || fs::metadata(p).is_ok_and(|m| m.is_file()))
        .await
        .unwrap_or(false)
}

pub(crate) async fn resume_all(
    client: &Client,
    cancel: CancellationToken,
) -> Result<Vec<u64>, ClientError> {
    let uploads = client.store(|s| s.uploads()).await?;
    let mut done = Vec::new();
    for record in uploads {
        let id = record.upload_id;
        let unchanged = {
            let p = record.path.clone();
            let stamp = record.stamp;
            blocking(move || FileStamp::of_path(&p).is_ok_and(|now| now == stamp)).await?
        };
        let prefix = client.store(move |s| s.upload_prefix(id)).await?;
        let prefix = match prefix {
            Some(p) if unchanged => p,
            _ => {
                // Changed, or stopped without recording what it read (a
                // crash): going on could re-encrypt other content under
                // nonces already used.
                if let Some(message) = send_again(client, &record, &cancel).await? {
                    done.push(message);
                }
                continue;
            }
        };
        let status = match client
            .retrying(|c| async move { c.upload_resume(id).await })
            .await
        {
            Ok(s) => s,
            Err(e) if e.reason() == Some(ErrorReason::UnknownUpload) => {
                tracing::warn!(path = %record.path.display(), "an interrupted upload expired on the server; send the file again");
                client.store(move |s| s.delete_upload(id)).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let label = format!("resuming {}", crate::display::escape_path(&record.path));
        let sent = run_upload(
            client,
            id,
            &record.path,
            copy_secret(&record.secret),
            record.stamp.size,
            &label,
            status.offset,
            prefix,
            &cancel,
        )
        .await;
        match sent {
            Ok(message) => {
                client.store(move |s| s.delete_upload(id)).await?;
                done.push(message);
            }
            // The content already sent differs from the file now.
            Err(ClientError::Crypto(CryptoError::FileChanged)) => {
                if let Some(message) = send_again(client, &record, &cancel).await? {
                    done.push(message);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Abandons an interrupted upload that cannot resume safely and sends its
/// file again from the start, with a new key; `None` if the file is gone.
async fn send_again(
    client: &Client,
    record: &UploadRecord,
    cancel: &CancellationToken,
) -> Result<Option<u64>, ClientError> {
    let id = record.upload_id;
    let _ = client
        .retrying(|c| async move { c.upload_cancel(id).await })
        .await;
    client.store(move |s| s.delete_upload(id)).await?;
    if !stamp_is_file(&record.path).await {
        tracing::warn!(path = %record.path.display(), "an interrupted upload's file is gone; it is abandoned");
        return Ok(None);
    }
    tracing::warn!(path = %record.path.display(), "an interrupted upload's file changed (or the client stopped without recording its progress); sending it again from the start");
    let to = record.destination.to_string();
    send_file(client, &to, &record.path, cancel.clone())
        .await
        .map(Some)
}

#[allow(clippy::too_many_arguments)]
async fn run_upload(
    client: &Client,
    upload_id: UploadId,
    path: &Path,
    secret: FileSecret,
    plaintext_size: u64,
    label: &str,
    mut offset: u64,
    mut read: (u64, [u8; 32]),
    cancel: &CancellationToken,
) -> Result<u64, ClientError> {
    let total = ciphertext_len(plaintext_size);
    let progress = client.progress();
    progress.start(label, total, offset);
    let mut attempt = 0;
    let result = loop {
        // While sending, how far it gets is unknown until it stops: a crash
        // now leaves no record, and the upload is then sent again.
        client
            .store(move |s| s.clear_upload_prefix(upload_id))
            .await?;
        let (outcome, now_read) = upload_from(
            client,
            upload_id,
            path,
            copy_secret(&secret),
            plaintext_size,
            offset,
            read,
            cancel,
        )
        .await;
        if let Some(r) = now_read {
            read = r;
        }
        if outcome.is_err() {
            let (len, digest) = read;
            client
                .store(move |s| s.save_upload_prefix(upload_id, len, &digest))
                .await?;
        }
        match outcome {
            Err(ClientError::Connection(e)) if e.is_disconnect() && attempt + 1 < ATTEMPTS => {
                attempt += 1;
                tracing::info!(error = %e, attempt, "upload interrupted; resuming");
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
                let status = client
                    .retrying(|c| async move { c.upload_resume(upload_id).await })
                    .await?;
                offset = status.offset;
                progress.start(label, total, offset);
            }
            Err(ClientError::Connection(e))
                if e.reason() == Some(ErrorReason::BadOffset) && attempt + 1 < ATTEMPTS =>
            {
                // A chunk was stored although its answer was lost: ask where
                // the server stands and go on from there.
                attempt += 1;
                let status = client
                    .retrying(|c| async move { c.upload_resume(upload_id).await })
                    .await?;
                offset = status.offset;
            }
            other => break other,
        }
    };
    progress.finish();
    result
}

/// Uploads from `offset` to the end on the current connection. The file
/// must begin with the prefix `read` (see [`crate::upload_prefix`]); returns
/// the outcome and what has been read of the file by then (`None` if the
/// prefix did not match or the file was not read).
#[allow(clippy::too_many_arguments)]
async fn upload_from(
    client: &Client,
    upload_id: UploadId,
    path: &Path,
    secret: FileSecret,
    plaintext_size: u64,
    offset: u64,
    read: (u64, [u8; 32]),
    cancel: &CancellationToken,
) -> (Result<u64, ClientError>, Option<(u64, [u8; 32])>) {
    let conn = match client.connection().await {
        Ok(c) => c,
        Err(e) => return (Err(e), None),
    };
    let chunk_len = (conn.limits().max_chunk_len as usize).clamp(1, MAX_CHUNK_LEN);
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, ClientError>>(2);
    let path_owned = path.to_path_buf();
    let shared = Arc::new(Mutex::new(ReadPrefix::default()));
    let verified = Arc::new(AtomicBool::new(false));
    let producer_prefix = shared.clone();
    let producer_verified = verified.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let produce = || -> Result<(), ClientError> {
            let mut file = File::open(&path_owned).map_err(|e| file_error(&path_owned, e))?;
            // The resume re-encrypts from the chunk holding `offset`: the
            // prefix must be the one read before, and hashed up to there.
            let restart_at = offset / SEALED_CHUNK_LEN as u64 * CHUNK_LEN as u64;
            if read.0 > 0 || restart_at > 0 {
                let prefix = upload_prefix::verify(&mut file, read, restart_at)?;
                *producer_prefix.lock().unwrap_or_else(|e| e.into_inner()) = prefix;
            }
            producer_verified.store(true, Ordering::Release);
            let reader = HashingReader::new(
                BufReader::with_capacity(1 << 20, file),
                producer_prefix.clone(),
            );
            let mut encryptor = FileEncryptor::resume(&secret, reader, plaintext_size, offset)?;
            let mut buf = BytesMut::with_capacity(chunk_len);
            while let Some(piece) = encryptor.next_piece()? {
                let mut piece = piece;
                while !piece.is_empty() {
                    let take = (chunk_len - buf.len()).min(piece.len());
                    buf.extend_from_slice(&piece[..take]);
                    piece = &piece[take..];
                    if buf.len() == chunk_len {
                        let chunk = std::mem::replace(&mut buf, BytesMut::with_capacity(chunk_len))
                            .freeze();
                        if tx.blocking_send(Ok(chunk)).is_err() {
                            return Ok(());
                        }
                    }
                }
            }
            if !buf.is_empty() {
                let _ = tx.blocking_send(Ok(buf.freeze()));
            }
            Ok(())
        };
        if let Err(e) = produce() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let progress = client.progress();
    let mut in_flight = FuturesOrdered::new();
    let mut next = offset;
    let mut source_done = false;
    let mut failure = None;
    let outcome = loop {
        while !source_done && in_flight.len() < WINDOW {
            let chunk = tokio::select! {
                chunk = rx.recv() => chunk,
                () = cancel.cancelled() => None,
            };
            if cancel.is_cancelled() {
                break;
            }
            match chunk {
                Some(Ok(chunk)) => {
                    let len = chunk.len() as u64;
                    in_flight.push_back(
                        conn.upload_chunk(upload_id, next, chunk)
                            .map(move |r| (r, len)),
                    );
                    next += len;
                }
                Some(Err(e)) => {
                    source_done = true;
                    failure = Some(e);
                    break;
                }
                None => source_done = true,
            }
        }
        if cancel.is_cancelled() {
            break Err(ClientError::Cancelled);
        }
        if let Some(e) = failure.take() {
            break Err(e);
        }
        match in_flight.next().await {
            Some((Ok(Some(message_id)), len)) => {
                progress.advance(len);
                break Ok(message_id);
            }
            Some((Ok(None), len)) => progress.advance(len),
            Some((Err(e), _)) => break Err(e.into()),
            None if source_done => {
                break Err(ConnectionError::Unexpected(
                    "the file ended but the server did not complete the upload".into(),
                )
                .into());
            }
            None => {}
        }
    };
    drop(rx);
    let _ = producer.await;
    let now_read = verified
        .load(Ordering::Acquire)
        .then(|| shared.lock().unwrap_or_else(|e| e.into_inner()).record());
    (outcome, now_read)
}

/// Why receiving a file failed.
pub(crate) enum ReceiveError {
    /// The ciphertext failed to authenticate, was truncated or had extra
    /// bytes: the file is rejected (and its partial copy deleted).
    Rejected(CryptoError),
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

/// Downloads, decrypts and saves a file message; returns where it was saved.
/// A download that stops (`cancel`, or a lost connection) keeps its part
/// (see [`crate::partial`]) and the message stays on the server; the next
/// attempt resumes from the part's last whole chunk.
pub(crate) async fn receive_file(
    client: &Client,
    message_id: u64,
    offer_size: u64,
    meta: &FileMeta,
    label: &str,
    cancel: &CancellationToken,
) -> Result<PathBuf, ReceiveError> {
    if offer_size != meta.ciphertext_len() {
        return Err(ReceiveError::Rejected(CryptoError::DecryptFailed));
    }
    let dir = client.downloads();
    let temp = partial::path(&dir, message_id);
    {
        let dir = dir.clone();
        blocking(move || fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))).await??;
    }
    // Resume only a part recorded for this very file key, at a chunk that
    // is not past the end.
    let digest = partial::key_digest(&meta.secret);
    let chunks = chunk_count(meta.size);
    let keep = client
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
    let fed = feed_download(client, message_id, offer_size, from, label, &tx, cancel).await;
    if fed.is_ok() {
        let _ = tx.send(Piece::End).await;
    }
    drop(tx);
    let decrypted = consumer
        .await
        .map_err(|e| ReceiveError::Failed(ClientError::Io(std::io::Error::other(e.to_string()))))?;
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
            client.store(move |s| s.save_partial(&part)).await?;
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
        client.store(move |s| s.delete_partial(message_id)).await?;
        return Err(e);
    }
    let name = safe_file_name(&meta.name);
    let placed = blocking(move || place(&temp, &dir, &name)).await?;
    let placed = placed.map_err(|e| ReceiveError::Failed(ClientError::Io(e)))?;
    client.store(move |s| s.delete_partial(message_id)).await?;
    Ok(placed)
}

/// Downloads the ciphertext from `from` on, in order, into `tx`, continuing
/// after lost connections from the last byte handed over.
async fn feed_download(
    client: &Client,
    message_id: u64,
    size: u64,
    from: u64,
    label: &str,
    tx: &mpsc::Sender<Piece>,
    cancel: &CancellationToken,
) -> Result<(), ClientError> {
    let progress = client.progress();
    progress.start(label, size, from);
    let mut fed = from;
    let mut attempt = 0;
    let result = loop {
        let fed_now = tokio::select! {
            r = feed_from(client, message_id, size, &mut fed, tx) => r,
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
    client: &Client,
    message_id: u64,
    size: u64,
    fed: &mut u64,
    tx: &mpsc::Sender<Piece>,
) -> Result<(), ClientError> {
    let conn = client.connection().await?;
    let chunk = u64::from(conn.limits().max_chunk_len).clamp(1, MAX_CHUNK_LEN as u64);
    let progress = client.progress();
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

/// A writer whose writes happen on a thread of their own, so that the
/// file's writes overlap the decryption feeding them (each is about as slow
/// as the other: one after the other they halve the download rate). At most
/// [`OVERLAP_DEPTH`] buffers of [`OVERLAP_BUFFER`] bytes wait at once, and
/// the same few buffers are used over and over.
///
/// Where the file system allows it the file is written with `O_DIRECT`:
/// straight from these buffers to the disk, without filling the page cache
/// with a copy of a file the reader is not going to read back. (On this
/// project's VM, filling fresh page-cache pages also costs the hypervisor's
/// first touch of each page, about 0.4 GB/s; see BENCHMARKS.md.)
struct OverlappedWriter {
    buffer: AlignedBuf,
    /// The total written so far (for the final length).
    written: u64,
    queue: Option<std::sync::mpsc::SyncSender<(AlignedBuf, bool)>>,
    free: std::sync::mpsc::Receiver<AlignedBuf>,
    thread: Option<std::thread::JoinHandle<std::io::Result<File>>>,
}

/// Bytes handed to the writing thread at a time (a multiple of [`ALIGN`]).
const OVERLAP_BUFFER: usize = 1 << 20;
/// Buffers waiting for the writing thread at most.
const OVERLAP_DEPTH: usize = 2;
/// Alignment of buffers, offsets and lengths for direct writes.
const ALIGN: usize = 4096;

/// A buffer whose usable part starts on an [`ALIGN`] boundary.
struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new() -> Self {
        let storage = vec![0u8; OVERLAP_BUFFER + ALIGN];
        // `align_offset` on a byte pointer always succeeds (it is < ALIGN).
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Self {
            storage,
            start,
            len: 0,
        }
    }

    fn room(&self) -> usize {
        OVERLAP_BUFFER - self.len
    }

    fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.room());
        let at = self.start + self.len;
        self.storage[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    /// The filled part; for a direct write, zero-padded to a whole block.
    fn padded_bytes(&mut self, direct: bool) -> &[u8] {
        let len = if direct {
            self.len.div_ceil(ALIGN) * ALIGN
        } else {
            self.len
        };
        let (from, to) = (self.start + self.len, self.start + len);
        self.storage[from..to].fill(0);
        &self.storage[self.start..self.start + len]
    }
}

impl OverlappedWriter {
    /// Writes `file` from its current position, `base` (which must be a
    /// multiple of [`ALIGN`] for direct writes).
    fn new(file: File, direct: bool, base: u64) -> std::io::Result<Self> {
        if direct && !base.is_multiple_of(ALIGN as u64) {
            return Err(std::io::Error::other(
                "a direct write must start on a block",
            ));
        }
        let (queue, buffers) = std::sync::mpsc::sync_channel::<(AlignedBuf, bool)>(OVERLAP_DEPTH);
        let (give_back, free) = std::sync::mpsc::channel::<AlignedBuf>();
        for _ in 0..OVERLAP_DEPTH {
            let _ = give_back.send(AlignedBuf::new());
        }
        let thread = std::thread::Builder::new()
            .name("download-writer".into())
            .spawn(move || {
                let mut file = file;
                let mut total = 0u64;
                let mut padded = false;
                for (mut buffer, last) in buffers {
                    total += buffer.len as u64;
                    padded |= direct && buffer.len % ALIGN != 0;
                    if direct && !last && buffer.len % ALIGN != 0 {
                        return Err(std::io::Error::other("a direct write was not block-sized"));
                    }
                    file.write_all(buffer.padded_bytes(direct))?;
                    buffer.len = 0;
                    let _ = give_back.send(buffer);
                }
                if padded {
                    // The last block was padded to a whole block: cut it back.
                    file.set_len(base + total)?;
                }
                Ok(file)
            })?;
        Ok(Self {
            buffer: AlignedBuf::new(),
            written: 0,
            queue: Some(queue),
            free,
            thread: Some(thread),
        })
    }

    /// Hands the buffer over (`last`: the final, possibly partial one); a
    /// failed writing thread reports its error.
    fn hand_over(&mut self, last: bool) -> std::io::Result<()> {
        let next = if last {
            AlignedBuf {
                storage: Vec::new(),
                start: 0,
                len: 0,
            }
        } else {
            match self.free.recv() {
                Ok(b) => b,
                Err(_) => return Err(self.stopped()),
            }
        };
        let full = std::mem::replace(&mut self.buffer, next);
        self.written += full.len as u64;
        let sent = self
            .queue
            .as_ref()
            .is_some_and(|q| q.send((full, last)).is_ok());
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    /// The writing thread stopped: its result says why.
    fn stopped(&mut self) -> std::io::Error {
        match self.join() {
            Err(e) => e,
            Ok(_) => std::io::Error::other("the download writer stopped"),
        }
    }

    fn join(&mut self) -> std::io::Result<File> {
        self.queue.take();
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| std::io::Error::other("the download writer panicked"))?,
            None => Err(std::io::Error::other("the download writer is gone")),
        }
    }

    /// Writes what is left and returns the file once every write is done.
    fn finish(mut self) -> std::io::Result<File> {
        if self.buffer.len > 0 {
            self.hand_over(true)?;
        }
        self.join()
    }
}

impl Write for OverlappedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.buffer.push(data);
        if self.buffer.room() == 0 {
            self.hand_over(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Durability is `finish` and then a sync; nothing to force here.
        Ok(())
    }
}

/// Creates a file only its owner can read.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Moves the finished temporary file to `dir/name`, or a numbered variant
/// when that name is taken; never overwrites.
fn place(temp: &Path, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    for n in 1..10_000 {
        let candidate = dir.join(numbered_name(name, n));
        // Reserve the name atomically, then replace the empty placeholder.
        match create_private(&candidate) {
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

/// Writes `data` to a new file (for tests and the self-test).
pub fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlapped_writer_writes_every_byte_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for (len, direct) in [
            (0usize, true),
            (1, true),
            (4096, true),
            (3 << 20 | 123, true),
            (5 << 20 | 7, false),
        ] {
            let path = dir.path().join(format!("out-{len}-{direct}"));
            let (file, direct) = if direct {
                let (file, direct, _) = partial::open(&path, 0).unwrap();
                (file, direct)
            } else {
                (create_private(&path).unwrap(), false)
            };
            let mut w = OverlappedWriter::new(file, direct, 0).unwrap();
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            for piece in data.chunks(65_536 + 13) {
                w.write_all(piece).unwrap();
            }
            w.finish().unwrap().sync_all().unwrap();
            assert_eq!(
                fs::read(&path).unwrap(),
                data,
                "{len} bytes, direct {direct}"
            );
        }
    }

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

    #[test]
    fn announced_names_are_the_last_component_and_bounded() {
        assert_eq!(announced_name(Path::new("/tmp/x/report.pdf")), "report.pdf");
        assert_eq!(announced_name(Path::new("/")), "file");
        let long = "é".repeat(200);
        assert!(announced_name(Path::new(&long)).len() <= 255);
    }
}

//! File transfers in constant memory.
//!
//! Upload: a blocking thread reads the file and encrypts it chunk by chunk
//! (STREAM), handing upload-sized pieces through a small bounded channel; the
//! async side keeps a few chunks in flight (pipelined) and, after a lost
//! connection, asks the server where the upload stands and resumes from
//! there, re-encrypting from that offset. The upload's key is kept in the key
//! store, so an upload also resumes after the client restarts, provided the
//! file is unchanged.
//!
//! Download: the async side keeps a few ranges in flight and hands them, in
//! order, to a blocking thread that decrypts into a hidden temporary file in
//! the downloads folder. Only a file whose every chunk authenticated and whose
//! end was seen is renamed into place under a safe, unused name; anything else
//! is deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use protocol::{ErrorReason, MAX_CHUNK_LEN, UploadId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientError};
use crate::connection::ConnectionError;
use crate::crypto::{
    CryptoError, FileDecryptor, FileEncryptor, FileMeta, FileSecret, ciphertext_len,
};
use crate::display::{numbered_name, safe_file_name};
use crate::keystore::{FileStamp, UploadRecord};

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
        if !unchanged {
            tracing::warn!(path = %record.path.display(), "an interrupted upload's file changed; it is abandoned (send it again)");
            let _ = client
                .retrying(|c| async move { c.upload_cancel(id).await })
                .await;
            client.store(move |s| s.delete_upload(id)).await?;
            continue;
        }
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
        let message = run_upload(
            client,
            id,
            &record.path,
            copy_secret(&record.secret),
            record.stamp.size,
            &label,
            status.offset,
            &cancel,
        )
        .await?;
        client.store(move |s| s.delete_upload(id)).await?;
        done.push(message);
    }
    Ok(done)
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
    cancel: &CancellationToken,
) -> Result<u64, ClientError> {
    let total = ciphertext_len(plaintext_size);
    let progress = client.progress();
    progress.start(label, total, offset);
    let mut attempt = 0;
    let result = loop {
        let outcome = upload_from(
            client,
            upload_id,
            path,
            copy_secret(&secret),
            plaintext_size,
            offset,
            cancel,
        )
        .await;
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

/// Uploads from `offset` to the end on the current connection.
async fn upload_from(
    client: &Client,
    upload_id: UploadId,
    path: &Path,
    secret: FileSecret,
    plaintext_size: u64,
    offset: u64,
    cancel: &CancellationToken,
) -> Result<u64, ClientError> {
    let conn = client.connection().await?;
    let chunk_len = (conn.limits().max_chunk_len as usize).clamp(1, MAX_CHUNK_LEN);
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, ClientError>>(2);
    let path_owned = path.to_path_buf();
    let producer = tokio::task::spawn_blocking(move || {
        let produce = || -> Result<(), ClientError> {
            let file = File::open(&path_owned).map_err(|e| file_error(&path_owned, e))?;
            let mut encryptor = FileEncryptor::resume(
                &secret,
                BufReader::with_capacity(1 << 20, file),
                plaintext_size,
                offset,
            )?;
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
    outcome
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

/// Downloads, decrypts and saves a file message; returns where it was saved.
/// `cancel` stops the download: the partial file is deleted and the message
/// stays on the server (it is received again later).
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
    let temp = dir.join(format!(
        ".partial-{message_id}-{:016x}",
        rand::random::<u64>()
    ));
    {
        let dir = dir.clone();
        blocking(move || fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))).await??;
    }
    let (tx, mut rx) = mpsc::channel::<Piece>(WINDOW);
    let secret = copy_secret(&meta.secret);
    let plaintext_size = meta.size;
    let temp_path = temp.clone();
    let consumer = tokio::task::spawn_blocking(move || -> Result<(), ReceiveError> {
        let (file, direct) = create_private_direct(&temp_path)
            .map_err(|e| ReceiveError::Failed(file_error(&temp_path, e)))?;
        let writer = OverlappedWriter::new(file, direct)
            .map_err(|e| ReceiveError::Failed(file_error(&temp_path, e)))?;
        let mut decryptor =
            FileDecryptor::new(&secret, plaintext_size, writer).map_err(ReceiveError::Rejected)?;
        while let Some(piece) = rx.blocking_recv() {
            match piece {
                Piece::Data(data) => match decryptor.update(&data) {
                    Ok(()) => {}
                    Err(CryptoError::Io(e)) => {
                        return Err(ReceiveError::Failed(file_error(&temp_path, e)));
                    }
                    Err(e) => return Err(ReceiveError::Rejected(e)),
                },
                Piece::End => {
                    let writer = match decryptor.finish() {
                        Ok(w) => w,
                        Err(CryptoError::Io(e)) => {
                            return Err(ReceiveError::Failed(file_error(&temp_path, e)));
                        }
                        Err(e) => return Err(ReceiveError::Rejected(e)),
                    };
                    let file = writer
                        .finish()
                        .map_err(|e| ReceiveError::Failed(file_error(&temp_path, e)))?;
                    file.sync_all()
                        .map_err(|e| ReceiveError::Failed(file_error(&temp_path, e)))?;
                    return Ok(());
                }
            }
        }
        Err(ReceiveError::Failed(ClientError::Cancelled))
    });
    let fed = feed_download(client, message_id, offer_size, label, &tx, cancel).await;
    if fed.is_ok() {
        let _ = tx.send(Piece::End).await;
    }
    drop(tx);
    let decrypted = consumer
        .await
        .map_err(|e| ReceiveError::Failed(ClientError::Io(std::io::Error::other(e.to_string()))))?;
    let result = match (fed, decrypted) {
        (Ok(()), Ok(())) => Ok(()),
        // A decryption failure says more than the feeding error it caused.
        (_, Err(ReceiveError::Rejected(e))) => Err(ReceiveError::Rejected(e)),
        (Err(e), _) => Err(ReceiveError::Failed(e)),
        (Ok(()), Err(e)) => Err(e),
    };
    if let Err(e) = result {
        let t = temp.clone();
        let _ = blocking(move || fs::remove_file(t)).await;
        return Err(e);
    }
    let name = safe_file_name(&meta.name);
    let placed = blocking(move || place(&temp, &dir, &name)).await?;
    placed.map_err(|e| ReceiveError::Failed(ClientError::Io(e)))
}

/// Downloads the ciphertext in order into `tx`, continuing after lost
/// connections from the last byte handed over.
async fn feed_download(
    client: &Client,
    message_id: u64,
    size: u64,
    label: &str,
    tx: &mpsc::Sender<Piece>,
    cancel: &CancellationToken,
) -> Result<(), ClientError> {
    let progress = client.progress();
    progress.start(label, size, 0);
    let mut fed = 0u64;
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
    fn new(file: File, direct: bool) -> std::io::Result<Self> {
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
                    file.set_len(total)?;
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

/// Creates a file only its owner can read, for direct writes where the file
/// system supports them; says whether it did.
fn create_private_direct(path: &Path) -> std::io::Result<(File, bool)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_DIRECT);
        match options.open(path) {
            Ok(f) => return Ok((f, true)),
            // Not supported here (tmpfs, some network file systems).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    create_private(path).map(|f| (f, false))
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
                create_private_direct(&path).unwrap()
            } else {
                (create_private(&path).unwrap(), false)
            };
            let mut w = OverlappedWriter::new(file, direct).unwrap();
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

//! Files to a room (PROTOCOL.md "Files to a room" and "Room content"): the
//! sender encrypts the file once, with the chunked stream of one-to-one
//! files under a fresh key, uploads it once (139, then the chunks of any
//! upload, resumable), and announces it with one MLS application message
//! carrying key, stream header, name, size and hash; every member then
//! downloads the one blob (140) into a part file, resumable, and keeps it
//! only if the hash matches.
//!
//! Memory stays constant at any size: the upload is
//! [`crate::transfer::upload`]'s stream, and the download hands ranges to a
//! blocking thread that decrypts chunk by chunk into the part file.
//!
//! Left out: when to download (before acknowledging the entry: the blob goes
//! with it), the command line, and pulling the room's log.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use protocol::{MAX_CHUNK_LEN, RoomId, UploadId};
use sealpost_rooms::RoomsError;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::content::{ContentError, RoomContent, RoomFile};
use super::{RoomWorker, engine_room_id};
use crate::client::Progress;
use crate::connection::{Connection, ConnectionError};
use crate::crypto::file::{CHUNK_LEN, SEALED_CHUNK_LEN, chunk_count};
use crate::crypto::{CryptoError, FileDecryptor, FileSecret, ciphertext_len};
use crate::disk::{lock_if_free, open_private};
use crate::display::{escape_line, safe_file_name};
use crate::error::ClientError;
use crate::keystore::{FileStamp, RoomUploadRecord};
use crate::transfer::download::place;
use crate::transfer::upload::{UploadPart, announced_name, upload_from};
use crate::transfer::{blocking, file_error};

/// Ranges in flight at once while downloading.
const WINDOW: usize = 4;

/// Why sending or receiving a room file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoomFileError {
    /// The connection, the file system, or the stream's crypto failed
    /// (a changed file, a body that does not authenticate).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The upload stopped part-way (a lost connection, or cancelled): give
    /// it to [`resume_room_upload`] on a new connection.
    #[error("the upload to the room stopped: {source}")]
    Interrupted {
        /// Where it stands.
        upload: Box<RoomUpload>,
        /// Why it stopped.
        source: Box<ClientError>,
    },
    /// The file is on the server but no room message names it yet (a stale
    /// epoch: read the room's log, then [`announce_room_file`] again).
    #[error("the file is uploaded but not announced to the room: {source}")]
    NotAnnounced {
        /// The finished upload to announce.
        finished: Box<FinishedUpload>,
        /// Why the announcement failed.
        source: Box<RoomFileError>,
    },
    /// The rooms engine refused (not a member, no such room).
    #[error("rooms engine: {0}")]
    Rooms(#[from] RoomsError),
    /// The announcement could not be encoded.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The decrypted file is not the one its sender announced.
    #[error("the file's contents do not match the hash its sender announced")]
    HashMismatch,
}

impl From<ConnectionError> for RoomFileError {
    fn from(e: ConnectionError) -> Self {
        Self::Client(e.into())
    }
}

impl From<CryptoError> for RoomFileError {
    fn from(e: CryptoError) -> Self {
        Self::Client(e.into())
    }
}

/// An upload to a room that has begun: what a resume needs. The key is
/// wiped on drop and not shown by `Debug`.
#[derive(Debug)]
pub struct RoomUpload {
    /// The room.
    pub room: RoomId,
    /// The server's upload (the file id once finished).
    pub upload_id: UploadId,
    /// The file being sent.
    pub path: PathBuf,
    /// The name it is announced under.
    pub name: String,
    /// Its plaintext size.
    pub size: u64,
    /// Its size and modification time when the upload began.
    pub stamp: FileStamp,
    secret: FileSecret,
    /// The plaintext read so far: `(len, SHA-256)`, checked before a resume.
    read: (u64, [u8; 32]),
}

impl RoomUpload {
    /// What the key store keeps of it, with what was read so far (`None`
    /// while it is being sent).
    pub(crate) fn record(&self, read: bool, created_at: SystemTime) -> RoomUploadRecord {
        RoomUploadRecord {
            upload_id: self.upload_id,
            room: self.room,
            path: self.path.clone(),
            name: self.name.clone(),
            stamp: self.stamp,
            secret: FileSecret::from_parts(self.secret.key(), self.secret.nonce_prefix()),
            read: read.then_some(self.read),
            created_at,
        }
    }

    /// The plaintext read when it stopped.
    pub(crate) fn read(&self) -> (u64, [u8; 32]) {
        self.read
    }

    /// An upload kept in the key store, if it recorded what it had read
    /// (one stopped while sending cannot resume safely).
    pub(crate) fn from_record(record: RoomUploadRecord) -> Option<Self> {
        let read = record.read?;
        Some(Self {
            room: record.room,
            upload_id: record.upload_id,
            path: record.path,
            name: record.name,
            size: record.stamp.size,
            stamp: record.stamp,
            secret: record.secret,
            read,
        })
    }
}

/// A finished upload to a room, not yet or already announced.
#[derive(Debug, Clone)]
pub struct FinishedUpload {
    /// The room.
    pub room: RoomId,
    /// The file id a room message names.
    pub upload_id: UploadId,
    /// What the announcement carries.
    pub file: RoomFile,
}

/// A file sent to a room.
#[derive(Debug, Clone)]
pub struct RoomFileSent {
    /// The entry that announces it.
    pub seq: u64,
    /// The file.
    pub finished: FinishedUpload,
}

/// Encrypts the file at `path`, uploads it to `room` and announces it with
/// one room message; returns the announcing entry.
///
/// # Errors
/// [`RoomFileError::Interrupted`] (resume with [`resume_room_upload`], then
/// [`announce_room_file`]), [`RoomFileError::NotAnnounced`] (announce again
/// after reading the room's log), or the failure that ended it.
pub async fn send_room_file(
    conn: &Connection,
    worker: &RoomWorker,
    room: RoomId,
    path: &Path,
    progress: &dyn Progress,
) -> Result<RoomFileSent, RoomFileError> {
    let finished = upload_room_file(conn, room, path, progress, &CancellationToken::new()).await?;
    match announce_room_file(conn, worker, &finished).await {
        Ok(seq) => Ok(RoomFileSent { seq, finished }),
        Err(e) => Err(RoomFileError::NotAnnounced {
            finished: Box::new(finished),
            source: Box::new(e),
        }),
    }
}

/// Encrypts the file at `path` under a fresh key and uploads it to `room`
/// (139, then 122 chunks); returns what its announcement will carry.
///
/// `cancel` stops it between chunks, as a lost connection does: the
/// server keeps what it received and [`RoomFileError::Interrupted`] (with
/// [`ClientError::Cancelled`]) carries what [`resume_room_upload`] needs.
///
/// # Errors
/// [`RoomFileError::Interrupted`] once the upload has begun; otherwise the
/// file cannot be read or the server refused (not a member, a quota).
pub async fn upload_room_file(
    conn: &Connection,
    room: RoomId,
    path: &Path,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> Result<FinishedUpload, RoomFileError> {
    let upload = begin_room_upload(conn, room, path).await?;
    send_room_upload(conn, upload, progress, cancel).await
}

/// Opens the file at `path`, draws its fresh key and begins its upload to
/// `room` (139); nothing is sent yet ([`send_room_upload`]).
///
/// # Errors
/// The file cannot be read or is no regular file, or the server refused
/// (not a member, a quota).
pub async fn begin_room_upload(
    conn: &Connection,
    room: RoomId,
    path: &Path,
) -> Result<RoomUpload, RoomFileError> {
    let path = {
        let p = path.to_path_buf();
        blocking(move || {
            let path = crate::transfer::regular_file(&p)?;
            let meta = fs::metadata(&path).map_err(|e| file_error(&path, e))?;
            if !meta.is_file() {
                return Err(file_error(
                    &path,
                    std::io::Error::other("not a regular file"),
                ));
            }
            let stamp = FileStamp::of(&meta).map_err(|e| file_error(&path, e))?;
            Ok((path, stamp))
        })
        .await?
    };
    let (path, stamp) = path?;
    let size = stamp.size;
    crate::transfer::within_server_limit(conn, &path, size)?;
    let secret = FileSecret::generate()?;
    let status = conn
        .room_upload_begin(room, ciphertext_len(size), Bytes::new())
        .await?;
    let upload = RoomUpload {
        room,
        upload_id: status.upload_id,
        name: announced_name(&path),
        path,
        size,
        stamp,
        secret,
        read: (0, Sha256::digest([]).into()),
    };
    Ok(upload)
}

/// Sends a begun upload from its start (see [`upload_room_file`]).
///
/// # Errors
/// As [`upload_room_file`].
pub async fn send_room_upload(
    conn: &Connection,
    upload: RoomUpload,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> Result<FinishedUpload, RoomFileError> {
    continue_upload(conn, upload, 0, progress, cancel).await
}

/// Continues an interrupted upload to a room from where the server stands
/// (121), provided the file still begins with what was read before.
///
/// # Errors
/// As [`upload_room_file`] (`cancel` too); `UNKNOWN_UPLOAD` if it expired
/// meanwhile, and a changed file (it must be sent again, with a new key).
pub async fn resume_room_upload(
    conn: &Connection,
    upload: RoomUpload,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> Result<FinishedUpload, RoomFileError> {
    let status = match conn.upload_resume(upload.upload_id).await {
        Ok(s) => s,
        Err(e) if e.is_disconnect() => {
            return Err(RoomFileError::Interrupted {
                upload: Box::new(upload),
                source: Box::new(e.into()),
            });
        }
        Err(e) => return Err(e.into()),
    };
    continue_upload(conn, upload, status.offset, progress, cancel).await
}

async fn continue_upload(
    conn: &Connection,
    mut upload: RoomUpload,
    offset: u64,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> Result<FinishedUpload, RoomFileError> {
    let label = format!("to the room: {}", escape_line(&upload.name));
    progress.start_sending(&label, ciphertext_len(upload.size), offset);
    let part = UploadPart {
        upload_id: upload.upload_id,
        path: &upload.path,
        plaintext_size: upload.size,
        offset,
        read: upload.read,
    };
    let secret = FileSecret::from_parts(upload.secret.key(), upload.secret.nonce_prefix());
    let (outcome, read) = upload_from(conn, progress, part, secret, cancel).await;
    progress.finish();
    if let Some(read) = read {
        upload.read = read;
    }
    match outcome {
        // Complete: everything was read, and hashed as it was encrypted.
        Ok(_) if upload.read.0 == upload.size => Ok(FinishedUpload {
            room: upload.room,
            upload_id: upload.upload_id,
            file: RoomFile {
                secret: upload.secret,
                name: upload.name,
                size: upload.size,
                sha256: upload.read.1,
            },
        }),
        Ok(_) => Err(ClientError::Crypto(CryptoError::FileChanged).into()),
        Err(e @ ClientError::Crypto(CryptoError::FileChanged)) => {
            // Going on would encrypt other content under nonces already
            // used: this upload is abandoned.
            let _ = conn.upload_cancel(upload.upload_id).await;
            Err(e.into())
        }
        Err(source) => Err(RoomFileError::Interrupted {
            upload: Box::new(upload),
            source: Box::new(source),
        }),
    }
}

/// Sends the room message that names a finished upload: its content
/// encrypted once by MLS at the room's current epoch (134 with the file id).
/// Returns the entry's seq.
///
/// # Errors
/// `STALE_EPOCH` (read the room's log, then call again), the engine's
/// refusal, or the connection's.
pub async fn announce_room_file(
    conn: &Connection,
    worker: &RoomWorker,
    finished: &FinishedUpload,
) -> Result<u64, RoomFileError> {
    let plaintext = RoomContent::File(finished.file.clone()).encode()?;
    let room = engine_room_id(finished.room);
    let (epoch, message) = worker
        .run(move |engine| {
            let epoch = engine.epoch(room)?;
            Ok((epoch, engine.send(room, &plaintext)?))
        })
        .await?;
    Ok(conn
        .room_send_file(finished.room, epoch, finished.upload_id, message.into())
        .await?)
}

/// Downloads the file room entry `seq` names, decrypts it into `dir` and
/// returns where it was saved (under a safe, unused name). A download that
/// stops keeps the whole chunks it decrypted in a part file in `dir`, and
/// the next call for the same file resumes after them; the file is kept
/// only if its SHA-256 is the announced one.
///
/// # Errors
/// The connection's (the part is kept), `UNKNOWN_MESSAGE` once the entry is
/// deleted, a body that does not authenticate or a wrong hash (the part is
/// deleted), or the file system's; [`ClientError::Cancelled`] when
/// `cancel` stopped it (the part is kept, as for a lost connection).
pub async fn download_room_file(
    conn: &Connection,
    room: RoomId,
    seq: u64,
    file: &RoomFile,
    dir: &Path,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> Result<PathBuf, RoomFileError> {
    let part = part_path(dir, room, seq, file);
    let chunks = chunk_count(file.size);
    let opened = {
        let (dir, part) = (dir.to_path_buf(), part.clone());
        blocking(move || {
            crate::disk::create_private_dir(&dir).map_err(|e| file_error(&dir, e))?;
            open_part(&part, chunks).map_err(|e| file_error(&part, e))
        })
        .await??
    };
    let (file_handle, hasher, kept) = opened;
    let first_chunk = kept / CHUNK_LEN as u64;
    let total = ciphertext_len(file.size);
    let from = first_chunk * SEALED_CHUNK_LEN as u64;
    let (tx, mut rx) = mpsc::channel::<Bytes>(WINDOW);
    let secret = FileSecret::from_parts(file.secret.key(), file.secret.nonce_prefix());
    let size = file.size;
    let part_for_thread = part.clone();
    // Decrypts and writes off the async workers; ends with the digest of
    // the whole plaintext, or None when the ranges stopped coming.
    let consumer = tokio::task::spawn_blocking(move || -> Result<Option<[u8; 32]>, ClientError> {
        let writer = HashingWriter {
            inner: BufWriter::with_capacity(CHUNK_LEN, file_handle),
            hasher,
        };
        let mut decryptor = FileDecryptor::resume(&secret, size, writer, first_chunk)?;
        let mut received = from;
        while let Some(data) = rx.blocking_recv() {
            decryptor.update(&data)?;
            received += data.len() as u64;
        }
        if received == total {
            let writer = decryptor.finish()?;
            let digest = writer.hasher.finalize().into();
            let file = writer
                .inner
                .into_inner()
                .map_err(|e| file_error(&part_for_thread, e.into_error()))?;
            file.sync_all()
                .map_err(|e| file_error(&part_for_thread, e))?;
            return Ok(Some(digest));
        }
        // Stopped: only whole chunks' plaintext was written; keep it.
        let file = decryptor
            .into_writer()
            .inner
            .into_inner()
            .map_err(|e| file_error(&part_for_thread, e.into_error()))?;
        file.sync_all()
            .map_err(|e| file_error(&part_for_thread, e))?;
        Ok(None)
    });
    let label = format!("from the room: {}", escape_line(&file.name));
    progress.start(&label, total, from);
    let fed = tokio::select! {
        r = feed(conn, room, seq, from, total, &tx, progress) => r,
        // Dropping the ranges in flight is safe: the decryptor keeps the
        // whole chunks it wrote once `tx` closes.
        () = cancel.cancelled() => Err(ClientError::Cancelled),
    };
    progress.finish();
    drop(tx);
    let decrypted = consumer
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))?;
    let digest = match (fed, decrypted) {
        (Ok(()), Ok(Some(digest))) => digest,
        (_, Err(ClientError::Crypto(e))) => {
            remove_part(&part).await;
            return Err(ClientError::Crypto(e).into());
        }
        (Err(e), _) | (Ok(()), Err(e)) => return Err(e.into()),
        (Ok(()), Ok(None)) => {
            return Err(ClientError::from(ConnectionError::Unexpected(
                "the download ended early".into(),
            ))
            .into());
        }
    };
    if digest != file.sha256 {
        remove_part(&part).await;
        return Err(RoomFileError::HashMismatch);
    }
    let (dir, name) = (dir.to_path_buf(), safe_file_name(&file.name));
    let placed = blocking(move || place(&part, &dir, &name)).await?;
    Ok(placed.map_err(ClientError::Io)?)
}

/// The part file of entry `seq`'s file in `dir`: bound to the file's key
/// (by a digest, never the key), so a part is resumed only for its file.
pub fn part_path(dir: &Path, room: RoomId, seq: u64, file: &RoomFile) -> PathBuf {
    let digest = crate::partial::key_digest(&file.secret);
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!(".room-{room}-{seq}-{tag}.part"))
}

/// Hands the ciphertext from `from` to `total` to `tx` in order, keeping a
/// few ranges in flight.
async fn feed(
    conn: &Connection,
    room: RoomId,
    seq: u64,
    from: u64,
    total: u64,
    tx: &mpsc::Sender<Bytes>,
    progress: &dyn Progress,
) -> Result<(), ClientError> {
    let chunk = u64::from(conn.limits().max_chunk_len).clamp(1, MAX_CHUNK_LEN as u64);
    let mut in_flight = FuturesOrdered::new();
    let (mut next, mut fed) = (from, from);
    while fed < total {
        while next < total && in_flight.len() < WINDOW {
            // At most MAX_CHUNK_LEN, so the cast cannot truncate.
            let len = chunk.min(total - next) as u32;
            in_flight.push_back(conn.room_download(room, seq, next, len));
            next += u64::from(len);
        }
        let Some(data) = in_flight.next().await else {
            break;
        };
        let data = data?;
        if data.is_empty() {
            return Err(ConnectionError::Unexpected(
                "the server's copy of the room file is shorter than announced".into(),
            )
            .into());
        }
        fed += data.len() as u64;
        progress.advance(data.len() as u64);
        if tx.send(data).await.is_err() {
            // The decryptor stopped (it refused the body); it says why.
            return Ok(());
        }
    }
    Ok(())
}

/// Opens (creating, owner-only) the part at `path`, keeps its whole chunks
/// (below the last, which only a finished download writes) and returns it
/// positioned after them, with the hash of what it kept.
fn open_part(path: &Path, chunks: u64) -> std::io::Result<(File, Sha256, u64)> {
    let mut file = open_private(path, false)?;
    if !lock_if_free(&file)? {
        return Err(std::io::Error::other(
            "another client of this folder is receiving this file",
        ));
    }
    let whole = file.metadata()?.len() / CHUNK_LEN as u64;
    let kept = whole.min(chunks - 1) * CHUNK_LEN as u64;
    file.set_len(kept)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK_LEN];
    file.seek(SeekFrom::Start(0))?;
    let mut left = kept;
    while left > 0 {
        // At most CHUNK_LEN, so the cast cannot truncate.
        let want = left.min(CHUNK_LEN as u64) as usize;
        file.read_exact(&mut buf[..want])?;
        hasher.update(&buf[..want]);
        left -= want as u64;
    }
    Ok((file, hasher, kept))
}

/// Writes plaintext through and hashes it.
struct HashingWriter {
    inner: BufWriter<File>,
    hasher: Sha256,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Deletes a room file's part (a download given up).
pub(crate) async fn remove_part(part: &Path) {
    let part = part.to_path_buf();
    let _ = blocking(move || fs::remove_file(part)).await;
}

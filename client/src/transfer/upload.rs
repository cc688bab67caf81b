//! Sending a file in constant memory.
//!
//! A blocking thread reads the file and encrypts it chunk by chunk
//! (STREAM), handing upload-sized pieces through a small bounded channel; the
//! async side keeps a few chunks in flight (pipelined) and, after a lost
//! connection, asks the server where the upload stands and resumes from
//! there, re-encrypting from that offset. The upload's key is kept in the key
//! store, so an upload also resumes after the client restarts, provided the
//! file is unchanged: the plaintext read so far is hashed as it is read and
//! checked again before any resume ([`crate::upload_prefix`]); a changed
//! file is sent again from the start with a new key.
//!
//! Left out: receiving ([`super::download`]).

use std::fs::{self, File};
use std::io::BufReader;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use protocol::{ErrorReason, MAX_CHUNK_LEN, UploadId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{ATTEMPTS, WINDOW, blocking, copy_secret, file_error, within_server_limit};
use crate::client::{Client, ClientError, Progress};
use crate::connection::{Connection, ConnectionError};
use crate::crypto::file::{CHUNK_LEN, SEALED_CHUNK_LEN};
use crate::crypto::{CryptoError, FileEncryptor, FileMeta, FileSecret, ciphertext_len};
use crate::keystore::{Body, Conversation, Direction, FileStamp, NewEntry, Status, UploadRecord};
use crate::rooms::ResumeNotes;
use crate::upload_prefix::{self, HashingReader, ReadPrefix};

impl Client {
    /// Sends the file at `path` to `who`: encrypted as it is read, uploaded
    /// in chunks, resumed after a broken connection. `cancel` stops it
    /// cleanly (it can be resumed later with [`Client::resume_uploads`]).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn send_file(
        &self,
        who: &str,
        path: &Path,
        cancel: CancellationToken,
    ) -> Result<u64, ClientError> {
        let peer = self.peer_for_sending(who).await?;
        let path = {
            let p = path.to_path_buf();
            blocking(move || super::regular_file(&p)).await??
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
        within_server_limit(&*self.connection().await?, &path, stamp.size)?;
        let name = announced_name(&path);
        let meta = FileMeta::new(name.clone(), stamp.size)?;
        let secret = copy_secret(&meta.secret);
        let sealed_meta = self
            .seal_for(&peer, move |session, counter| {
                session.seal_file_meta(counter, &meta)
            })
            .await;
        let sealed_meta = self.unless_recipient_gone(who, sealed_meta).await?;
        let size = ciphertext_len(stamp.size);
        let destination = peer.client_id;
        let meta_bytes = Bytes::from(sealed_meta.clone());
        let status = self
            .retrying(|c| {
                let meta = meta_bytes.clone();
                async move { c.upload_begin(destination, size, meta).await }
            })
            .await;
        let status = self.unless_recipient_gone(who, status).await?;
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
        let entry = NewEntry {
            conversation: Conversation::Person { id: destination },
            direction: Direction::Out,
            sender: self.require_me()?.id,
            body: Body::File {
                name,
                size: stamp.size,
                path: path.clone(),
            },
            sender_time_ms: Some(crate::crypto::envelope::now_ms()),
            server_time_ms: None,
            message_id: None,
            status: Status::Sent,
        };
        let upload_id = status.upload_id.0;
        let entry = self
            .store(move |s| {
                s.save_upload(&record)?;
                let entry = s.add_history(&entry)?;
                s.link_upload(entry, upload_id)?;
                Ok(entry)
            })
            .await?;
        let label = format!("to {}", crate::display::escape_line(&peer.name));
        let id = self
            .run_upload(
                status.upload_id,
                &path,
                secret,
                stamp.size,
                &label,
                0,
                ReadPrefix::default().record(),
                &cancel,
            )
            .await
            .map_err(ClientError::upload_kept)?;
        self.store(move |s| {
            s.mark_stored(entry, id)?;
            s.delete_upload(status.upload_id)
        })
        .await?;
        Ok(id)
    }

    /// Finishes uploads interrupted earlier (also across restarts); returns
    /// the ids of the file messages that completed.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn resume_uploads(&self, cancel: CancellationToken) -> Result<Vec<u64>, ClientError> {
        self.resume_uploads_noting(cancel, &mut ResumeNotes::default())
            .await
    }

    /// [`Client::resume_uploads`], noting in `notes` the files of
    /// interrupted uploads that are gone (not sent; their history entries
    /// say so) and those sent again from the start.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub(crate) async fn resume_uploads_noting(
        &self,
        cancel: CancellationToken,
        notes: &mut ResumeNotes,
    ) -> Result<Vec<u64>, ClientError> {
        let uploads = self.store(|s| s.uploads()).await?;
        let mut done = Vec::new();
        for record in uploads {
            let id = record.upload_id;
            let unchanged = {
                let p = record.path.clone();
                let stamp = record.stamp;
                blocking(move || FileStamp::of_path(&p).is_ok_and(|now| now == stamp)).await?
            };
            let prefix = self.store(move |s| s.upload_prefix(id)).await?;
            let prefix = match prefix {
                Some(p) if unchanged => p,
                _ => {
                    // Changed, or stopped without recording what it read (a
                    // crash): going on could re-encrypt other content under
                    // nonces already used.
                    let message = self.send_again(&record, Restart::Changed, &cancel).await?;
                    note_again(&mut done, notes, &record, message);
                    continue;
                }
            };
            let status = match self
                .retrying(|c| async move { c.upload_resume(id).await })
                .await
            {
                Ok(s) => s,
                Err(e) if e.reason() == Some(ErrorReason::UnknownUpload) => {
                    let message = self.send_again(&record, Restart::Lost, &cancel).await?;
                    note_again(&mut done, notes, &record, message);
                    continue;
                }
                Err(e) => return Err(e),
            };
            // The file's name and who it goes to, as `send-file` names
            // its own, not a whole path the bar would cut.
            let to = record.destination;
            let peer = self.store(move |s| s.peer(to)).await?;
            let label = format!(
                "resuming {} to {}",
                crate::display::escape_line(&announced_name(&record.path)),
                crate::display::escape_line(&peer.map_or_else(|| to.to_string(), |p| p.name))
            );
            let sent = self
                .run_upload(
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
                    self.store(move |s| {
                        if let Some(entry) = s.upload_entry(id.0)? {
                            s.mark_stored(entry, message)?;
                        }
                        s.delete_upload(id)
                    })
                    .await?;
                    done.push(message);
                }
                // The content already sent differs from the file now.
                Err(ClientError::Crypto(CryptoError::FileChanged)) => {
                    let message = self.send_again(&record, Restart::Changed, &cancel).await?;
                    note_again(&mut done, notes, &record, message);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Abandons an interrupted upload that cannot resume safely and sends its
    /// file again from the start, with a new key; `None` if the file is gone.
    async fn send_again(
        &self,
        record: &UploadRecord,
        why: Restart,
        cancel: &CancellationToken,
    ) -> Result<Option<u64>, ClientError> {
        let id = record.upload_id;
        if why == Restart::Changed {
            let _ = self
                .retrying(|c| async move { c.upload_cancel(id).await })
                .await;
        }
        let gone = !stamp_is_file(&record.path).await;
        let reason = match (gone, why) {
            (true, _) => "interrupted, and the file is gone: not sent",
            (false, Restart::Changed) => {
                "interrupted, and what was sent no longer matches the file (it changed, or the \
                 client stopped before recording its progress): sent again from the start as a \
                 new message"
            }
            (false, Restart::Lost) => {
                "interrupted, and the server no longer had what was sent (it expired): sent again \
                 from the start as a new message"
            }
        };
        self.store(move |s| {
            if let Some(entry) = s.upload_entry(id.0)? {
                s.mark_unsent(entry, reason)?;
            }
            s.delete_upload(id)
        })
        .await?;
        if gone {
            tracing::warn!(path = %record.path.display(), "an interrupted upload's file is gone; it is abandoned");
            return Ok(None);
        }
        tracing::warn!(path = %record.path.display(), "an interrupted upload's file changed (or the client stopped without recording its progress); sending it again from the start");
        let to = record.destination.to_string();
        self.send_file(&to, &record.path, cancel.clone())
            .await
            .map(Some)
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_upload(
        &self,
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
        let progress = self.progress();
        progress.start_sending(label, total, offset);
        let mut attempt = 0;
        let result = loop {
            // While sending, how far it gets is unknown until it stops: a crash
            // now leaves no record, and the upload is then sent again.
            self.store(move |s| s.clear_upload_prefix(upload_id))
                .await?;
            let (outcome, now_read) = self
                .upload_from(
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
                self.store(move |s| s.save_upload_prefix(upload_id, len, &digest))
                    .await?;
            }
            match outcome {
                Err(ClientError::Connection(e)) if e.is_disconnect() && attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    tracing::info!(error = %e, attempt, "upload interrupted; resuming");
                    tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
                    match self
                        .retrying(|c| async move { c.upload_resume(upload_id).await })
                        .await
                    {
                        Ok(status) => {
                            offset = status.offset;
                            progress.start_sending(label, total, offset);
                        }
                        // The server is still away (restarting): the next
                        // attempt tries again from where it was; where the
                        // server stands is asked once it answers
                        // (`BAD_OFFSET` below).
                        Err(ClientError::Connection(e)) if e.is_disconnect() => {}
                        Err(e) => break Err(e),
                    }
                }
                Err(ClientError::Connection(e))
                    if e.reason() == Some(ErrorReason::BadOffset) && attempt + 1 < ATTEMPTS =>
                {
                    // A chunk was stored although its answer was lost: ask where
                    // the server stands and go on from there.
                    attempt += 1;
                    let status = self
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

    /// Uploads from `offset` to the end on the current connection (see
    /// [`upload_from`]).
    #[allow(clippy::too_many_arguments)]
    async fn upload_from(
        &self,
        upload_id: UploadId,
        path: &Path,
        secret: FileSecret,
        plaintext_size: u64,
        offset: u64,
        read: (u64, [u8; 32]),
        cancel: &CancellationToken,
    ) -> (Result<u64, ClientError>, Option<(u64, [u8; 32])>) {
        let conn = match self.connection().await {
            Ok(c) => c,
            Err(e) => return (Err(e), None),
        };
        let progress = self.progress();
        let part = UploadPart {
            upload_id,
            path,
            plaintext_size,
            offset,
            read,
        };
        upload_from(&conn, &*progress, part, secret, cancel).await
    }
}

/// Where an upload stands: what [`upload_from`] continues.
pub(crate) struct UploadPart<'a> {
    /// The server's upload.
    pub(crate) upload_id: UploadId,
    /// The file being sent.
    pub(crate) path: &'a Path,
    /// Its size.
    pub(crate) plaintext_size: u64,
    /// The ciphertext offset the server stands at.
    pub(crate) offset: u64,
    /// The plaintext read before, `(len, SHA-256)` (see [`crate::upload_prefix`]).
    pub(crate) read: (u64, [u8; 32]),
}

/// Uploads from `part.offset` to the end on `conn`, encrypting under
/// `secret` as it reads. The file must begin with the prefix `part.read`;
/// returns the outcome (the id 1202 answered with) and what has been read of
/// the file by then (`None` if the prefix did not match or the file was not
/// read): once the upload completes, the whole file and its SHA-256.
pub(crate) async fn upload_from(
    conn: &Connection,
    progress: &dyn Progress,
    part: UploadPart<'_>,
    secret: FileSecret,
    cancel: &CancellationToken,
) -> (Result<u64, ClientError>, Option<(u64, [u8; 32])>) {
    let UploadPart {
        upload_id,
        path,
        plaintext_size,
        offset,
        read,
    } = part;
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

/// Why an interrupted upload is sent again from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// The file changed (or what was read was not recorded).
    Changed,
    /// The server no longer has the upload.
    Lost,
}

/// Notes what [`Client::send_again`] did with `record`: a new message
/// (completed, sent from the start) or nothing (the file is gone).
fn note_again(
    done: &mut Vec<u64>,
    notes: &mut ResumeNotes,
    record: &UploadRecord,
    sent: Option<u64>,
) {
    match sent {
        Some(message) => {
            done.push(message);
            notes.restarted.push(record.path.clone());
        }
        None => notes.abandoned.push(record.path.clone()),
    }
}

/// The name a file goes by in its metadata: its last path component, cut to
/// 255 bytes at a character boundary.
pub(crate) fn announced_name(path: &Path) -> String {
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

async fn stamp_is_file(path: &Path) -> bool {
    let p = path.to_path_buf();
    blocking(move || fs::metadata(p).is_ok_and(|m| m.is_file()))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_names_are_the_last_component_and_bounded() {
        assert_eq!(announced_name(Path::new("/tmp/x/report.pdf")), "report.pdf");
        assert_eq!(announced_name(Path::new("/")), "file");
        let long = "é".repeat(200);
        assert!(announced_name(Path::new(&long)).len() <= 255);
    }
}

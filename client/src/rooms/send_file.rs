//! `room send-file`: a file to a room, encrypted once under a fresh key,
//! uploaded once ([`super::files`]: resumed on a new connection when the
//! old one drops) and announced with one room message on the room's
//! current epoch (read the log and announce again when commits moved it).
//!
//! An upload that stops part-way (cancelled, or a connection that stayed
//! lost) is kept in the key store with what it had read, and
//! [`Client::resume_room_uploads`] finishes and announces it later, also
//! after a restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use protocol::ErrorReason;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::content::RoomContent;
use super::files::{
    FinishedUpload, RoomFileError, RoomUpload, begin_room_upload, resume_room_upload,
    send_room_upload,
};
use crate::client::{Client, RECONNECT_ATTEMPTS};
use crate::error::ClientError;
use crate::keystore::{Body, Conversation, Direction, FileStamp, NewEntry, Status};
use crate::transfer::blocking;

/// A file sent to a room, as `room send-file` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomFileReport {
    /// The room's name.
    pub room: String,
    /// The entry that announces it.
    pub seq: u64,
    /// The name it was announced under.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// The file sent.
    pub path: PathBuf,
}

/// What [`Client::resume_all_uploads`] finished.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResumedUploads {
    /// The file messages to people that completed.
    pub completed: Vec<u64>,
    /// The files to rooms that completed and were announced.
    pub rooms: Vec<RoomFileReport>,
    /// Interrupted uploads whose file is gone: not sent (a person's
    /// history entry says so).
    pub abandoned: Vec<PathBuf>,
    /// Interrupted uploads sent again from the start, as new messages
    /// (among those completed): the file changed, or the server no longer
    /// had what was sent.
    pub restarted: Vec<PathBuf>,
}

/// What [`Client::resume_all_uploads`] notes besides what completed.
#[derive(Debug, Default)]
pub(crate) struct ResumeNotes {
    /// See [`ResumedUploads::abandoned`].
    pub(crate) abandoned: Vec<PathBuf>,
    /// See [`ResumedUploads::restarted`].
    pub(crate) restarted: Vec<PathBuf>,
}

impl ResumedUploads {
    /// How many finished.
    #[must_use]
    pub fn len(&self) -> usize {
        self.completed.len() + self.rooms.len()
    }

    /// Whether none did.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `completed N interrupted upload(s)`, as every front end says it.
    #[must_use]
    pub fn completed_line(&self) -> String {
        format!(
            "completed {}",
            crate::output::count(self.len(), "interrupted upload", "interrupted uploads")
        )
    }

    /// What was given up, in one line for a person, if anything was.
    #[must_use]
    pub fn abandoned_line(&self) -> Option<String> {
        paths_line(
            &self.abandoned,
            "interrupted upload",
            "whose file is gone, not sent",
            "gave up",
        )
    }

    /// What was sent again from the start, in one line for a person, if
    /// anything was.
    #[must_use]
    pub fn restarted_line(&self) -> Option<String> {
        paths_line(
            &self.restarted,
            "interrupted upload",
            "again from the start, as new messages (the file changed, the client stopped \
             before recording its progress, or the server no longer had what was sent)",
            "sent",
        )
    }
}

/// "`verb` N `noun`(s) `what`: path, path", or nothing for no paths.
fn paths_line(paths: &[PathBuf], noun: &str, what: &str, verb: &str) -> Option<String> {
    if paths.is_empty() {
        return None;
    }
    let shown: Vec<String> = paths
        .iter()
        .map(|p| crate::display::escape_path(p))
        .collect();
    Some(format!(
        "{verb} {} {what}: {}",
        crate::output::count(paths.len(), noun, &format!("{noun}s")),
        shown.join(", ")
    ))
}

impl Client {
    /// Finishes every interrupted upload, to people
    /// ([`Client::resume_uploads`]) and then to rooms
    /// ([`Client::resume_room_uploads`]).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn resume_all_uploads(
        &self,
        cancel: CancellationToken,
    ) -> Result<ResumedUploads, ClientError> {
        let mut notes = ResumeNotes::default();
        let completed = self
            .resume_uploads_noting(cancel.clone(), &mut notes)
            .await?;
        let rooms = self.resume_room_uploads(cancel, &mut notes).await?;
        Ok(ResumedUploads {
            completed,
            rooms,
            abandoned: notes.abandoned,
            restarted: notes.restarted,
        })
    }

    /// Sends the file at `path` to the room `name`; see the module docs.
    ///
    /// `cancel` stops the upload: nothing is announced, and the upload is
    /// kept (on the server and in the key store) for
    /// [`Client::resume_room_uploads`].
    ///
    /// # Errors
    /// Unknown room, an unreadable or changed file, a lost connection that
    /// stayed lost, [`ClientError::Cancelled`], or the server refused (a
    /// quota, not a member).
    pub async fn room_send_file(
        &self,
        name: &str,
        path: &Path,
        cancel: CancellationToken,
    ) -> Result<RoomFileReport, ClientError> {
        let room = self.in_rooms(async || self.find_room(name).await).await?;
        // The upload runs outside the rooms lock, so that the rooms' logs
        // are read meanwhile; only the announcement needs it.
        let conn = self.connection().await?;
        let upload = begin_room_upload(&conn, protocol::RoomId(room.id.0), path).await?;
        let record = upload.record(false, SystemTime::now());
        self.store(move |s| s.save_room_upload(&record)).await?;
        let finished = self
            .carry_room_upload(upload, true, &cancel)
            .await
            .map_err(ClientError::upload_kept)?;
        // By its id: another room of ours may share its name.
        self.announce_room_upload(&super::hex(&room.id), finished, path)
            .await
            .map_err(ClientError::upload_kept)
    }

    /// Finishes the uploads to rooms that stopped part-way (cancelled, or a
    /// connection that stayed lost; also across restarts) and announces
    /// each; a file changed meanwhile, or one whose upload the server no
    /// longer has (expired), is sent again from the start with a new key
    /// (noted in `notes`).
    ///
    /// # Errors
    /// See [`ClientError`]; a room we are no longer in is not one (its
    /// upload is dropped).
    pub(crate) async fn resume_room_uploads(
        &self,
        cancel: CancellationToken,
        notes: &mut ResumeNotes,
    ) -> Result<Vec<RoomFileReport>, ClientError> {
        let mut done = Vec::new();
        for record in self.store(|s| s.room_uploads()).await? {
            let id = record.upload_id;
            let path = record.path.clone();
            let hex_id = super::state::hex(&sealpost_rooms::RoomId(record.room.0));
            // Still ours? (Then it is reached by its id from here on.)
            match self.in_rooms(async || self.find_room(&hex_id).await).await {
                Ok(_) => {}
                Err(
                    ClientError::NoSuchRoom(_)
                    | ClientError::NoLongerInRoom { .. }
                    | ClientError::RemovedFromRoom { .. }
                    | ClientError::RoomLostInRestore { .. },
                ) => {
                    tracing::warn!(path = %path.display(), "an upload to a room we are no longer in is dropped");
                    self.drop_room_upload(id).await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            let unchanged = {
                let (p, stamp) = (path.clone(), record.stamp);
                blocking(move || FileStamp::of_path(&p).is_ok_and(|now| now == stamp)).await?
            };
            let Some(upload) = RoomUpload::from_record(record).filter(|_| unchanged) else {
                // Changed, or stopped without recording what it read (a
                // crash): going on could re-encrypt other content under
                // nonces already used.
                self.drop_room_upload(id).await?;
                let p = path.clone();
                if !blocking(move || p.is_file()).await.unwrap_or(false) {
                    tracing::warn!("an interrupted upload's file is gone; it is abandoned");
                    notes.abandoned.push(path);
                    continue;
                }
                tracing::warn!(path = %path.display(), "an interrupted upload to a room changed (or the client stopped while sending); sending it again from the start");
                done.push(self.room_send_file(&hex_id, &path, cancel.clone()).await?);
                notes.restarted.push(path);
                continue;
            };
            match self.carry_room_upload(upload, false, &cancel).await {
                Ok(finished) => {
                    done.push(self.announce_room_upload(&hex_id, finished, &path).await?)
                }
                Err(ClientError::Connection(e))
                    if e.reason() == Some(ErrorReason::UnknownUpload) =>
                {
                    tracing::warn!(path = %path.display(), "an upload to a room expired on the server; sending it again from the start");
                    self.store(move |s| s.delete_room_upload(id)).await?;
                    let p = path.clone();
                    if !blocking(move || p.is_file()).await.unwrap_or(false) {
                        notes.abandoned.push(path);
                        continue;
                    }
                    done.push(self.room_send_file(&hex_id, &path, cancel.clone()).await?);
                    notes.restarted.push(path);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Sends a begun upload (`fresh`) or resumes a stopped one, again on a
    /// new connection when one drops; the key store keeps what it read
    /// whenever it stops, and forgets it once finished or abandoned.
    async fn carry_room_upload(
        &self,
        upload: RoomUpload,
        fresh: bool,
        cancel: &CancellationToken,
    ) -> Result<FinishedUpload, ClientError> {
        let progress = self.progress();
        let id = upload.upload_id;
        // While sending, how far it gets is unknown until it stops.
        self.store(move |s| s.set_room_upload_read(id, None))
            .await?;
        let conn = self.connection().await?;
        let mut outcome = if fresh {
            send_room_upload(&conn, upload, &*progress, cancel).await
        } else {
            resume_room_upload(&conn, upload, &*progress, cancel).await
        };
        let mut attempt = 0;
        loop {
            match outcome {
                Ok(finished) => {
                    self.store(move |s| s.delete_room_upload(id)).await?;
                    return Ok(finished);
                }
                Err(RoomFileError::Interrupted { upload, source })
                    if !matches!(*source, ClientError::Cancelled)
                        && attempt + 1 < RECONNECT_ATTEMPTS =>
                {
                    attempt += 1;
                    tracing::debug!(error = %source, attempt, "room upload interrupted; resuming");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    let conn = self.connection().await?;
                    outcome = resume_room_upload(&conn, *upload, &*progress, cancel).await;
                }
                Err(RoomFileError::Interrupted { upload, source }) => {
                    let read = upload.read();
                    self.store(move |s| s.set_room_upload_read(id, Some(read)))
                        .await?;
                    return Err(*source);
                }
                Err(e) => {
                    // Refused, or abandoned (a changed file): it cannot
                    // resume.
                    self.store(move |s| s.delete_room_upload(id)).await?;
                    return Err(e.into());
                }
            }
        }
    }

    /// Cancels an upload on the server (best effort) and forgets it.
    async fn drop_room_upload(&self, id: protocol::UploadId) -> Result<(), ClientError> {
        let _ = self
            .retrying(|c| async move { c.upload_cancel(id).await })
            .await;
        self.store(move |s| s.delete_room_upload(id)).await
    }

    /// Announces a finished upload to the room `name` (its id, 32 hex
    /// digits) and records it in the room's history.
    async fn announce_room_upload(
        &self,
        name: &str,
        finished: FinishedUpload,
        path: &Path,
    ) -> Result<RoomFileReport, ClientError> {
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let plaintext = RoomContent::File(finished.file.clone())
                .encode()
                .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))?;
            let room_id = room.id;
            let seq = self
                .send_to_room(room.id, Some(finished.upload_id), move |e| {
                    e.send(room_id, &plaintext)
                })
                .await?;
            let report = RoomFileReport {
                room: room.name.clone(),
                seq,
                name: finished.file.name.clone(),
                size: finished.file.size,
                path: path.to_path_buf(),
            };
            let entry = NewEntry {
                conversation: Conversation::room(room.id, room.name),
                direction: Direction::Out,
                sender: self.require_me()?.id,
                body: Body::File {
                    name: report.name.clone(),
                    size: report.size,
                    path: report.path.clone(),
                },
                sender_time_ms: None,
                server_time_ms: None,
                message_id: Some(seq),
                status: Status::Stored,
            };
            self.keep_sent_room_entry(room_id, entry).await?;
            Ok(report)
        })
        .await
    }
}

impl From<RoomFileError> for ClientError {
    fn from(e: RoomFileError) -> Self {
        match e {
            RoomFileError::Client(e) => e,
            RoomFileError::Interrupted { source, .. } => *source,
            RoomFileError::NotAnnounced { source, .. } => (*source).into(),
            RoomFileError::Rooms(e) => Self::Room(e),
            other => Self::Io(std::io::Error::other(other.to_string())),
        }
    }
}

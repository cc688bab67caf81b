//! `room send-file`: a file to a room, encrypted once under a fresh key,
//! uploaded once ([`super::files`]: resumed on a new connection when the
//! old one drops) and announced with one room message on the room's
//! current epoch (read the log and announce again when commits moved it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::content::RoomContent;
use super::files::{FinishedUpload, RoomFileError, resume_room_upload, upload_room_file};
use crate::client::{Client, RECONNECT_ATTEMPTS};
use crate::error::ClientError;
use crate::keystore::{Body, Conversation, Direction, NewEntry, Status};

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

impl Client {
    /// Sends the file at `path` to the room `name`; see the module docs.
    ///
    /// `cancel` stops the upload (nothing is announced; the server deletes
    /// what it received).
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
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let finished = self
                .upload_to_room(protocol::RoomId(room.id.0), path, &cancel)
                .await?;
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
                conversation: Conversation::Room { name: room.name },
                direction: Direction::Out,
                sender: self.require_me()?.id,
                body: Body::File {
                    name: report.name.clone(),
                    size: report.size,
                    path: report.path.clone(),
                },
                sender_time_ms: None,
                message_id: Some(seq),
                status: Status::Stored,
            };
            self.store(move |s| s.add_history(&entry).map(|_| ()))
                .await?;
            Ok(report)
        })
        .await
    }

    /// Uploads the file, resuming on a new connection when one drops.
    async fn upload_to_room(
        &self,
        room: protocol::RoomId,
        path: &Path,
        cancel: &CancellationToken,
    ) -> Result<FinishedUpload, ClientError> {
        let progress = self.progress();
        let conn = self.connection().await?;
        let mut outcome = upload_room_file(&conn, room, path, &*progress, cancel).await;
        let mut attempt = 0;
        loop {
            match outcome {
                Ok(finished) => return Ok(finished),
                Err(RoomFileError::Interrupted { upload, source })
                    if attempt + 1 < RECONNECT_ATTEMPTS =>
                {
                    attempt += 1;
                    tracing::debug!(error = %source, attempt, "room upload interrupted; resuming");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    let conn = self.connection().await?;
                    outcome = resume_room_upload(&conn, *upload, &*progress, cancel).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
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

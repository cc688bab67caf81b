//! Receiving the files announced in a room: each announcement read from a
//! room's log waits in the key store (`keystore::room_downloads`) and is
//! downloaded here before its entry is acknowledged, since the server
//! deletes the one blob once every member has acknowledged the entry.
//!
//! A room's members are people an admin chose, so their files download
//! without asking, up to the automatic download limit ([`DownloadPolicy`]);
//! the server holds a larger one (150) for the user to accept or decline
//! (`crate::rooms::offers`), or, if it will not, it is passed over and the
//! event says why. A download cut short by the connection stays waiting and
//! resumes from its part file on the next read; one that does not
//! authenticate or match its hash is deleted and reported, and so is one
//! the user stopped ([`Client::cancel_downloads`]).
//!
//! [`DownloadPolicy`]: crate::downloads::DownloadPolicy

use std::time::Duration;

use protocol::{ErrorReason, RoomId};
use zeroize::Zeroizing;

use super::content::RoomContent;
use super::event::RoomChange;
use super::files::{RoomFileError, download_room_file, part_path, remove_part};
use crate::client::{Client, RECONNECT_ATTEMPTS};
use crate::connection::ConnectionError;
use crate::error::ClientError;
use crate::keystore::{Body, Conversation, Direction, NewEntry, RoomDownload, RoomOffer, Status};
use crate::output::size;

impl Client {
    /// Downloads every announced room file still waiting, in order, and
    /// queues each one's outcome. The caller holds the rooms lock.
    ///
    /// # Errors
    /// The connection stayed lost (the file waits for the next read), the
    /// downloads folder cannot be written, or the key store failed.
    pub(crate) async fn download_room_files(&self) -> Result<(), ClientError> {
        for waiting in self.store(|s| s.room_downloads()).await? {
            let RoomDownload {
                room, seq, event, ..
            } = &waiting;
            let (room, seq) = (*room, *seq);
            let mut event = event.clone();
            let RoomChange::File { name, size, .. } = event.change else {
                return Err(ClientError::Store(crate::keystore::KeyStoreError::Corrupt(
                    "room download's event is not a file",
                )));
            };
            let (path, not_saved) = match self.fetch_room_file(&waiting).await? {
                Fetched::Saved(path) => (Some(path), None),
                Fetched::NotSaved(why) => (None, Some(why)),
                Fetched::Held { limit } => {
                    let offer = RoomOffer {
                        room,
                        room_name: event.room.clone(),
                        seq,
                        sender: event.from.parse().unwrap_or(protocol::ClientId::NIL),
                        name: name.clone(),
                        size,
                        sent_at_ms: event.sent_at_ms,
                        file: Zeroizing::new(waiting.file.clone()),
                    };
                    event.change = RoomChange::FileHeld { name, size, limit };
                    // In history from now on, as a one-to-one held offer is.
                    let held = super::offers::held_entry(&offer);
                    self.store(move |s| {
                        s.finish_room_download(room, seq, &event, Some(&held), Some(&offer))
                    })
                    .await?;
                    continue;
                }
            };
            let history = path.clone().map(|path| NewEntry {
                conversation: Conversation::room(super::engine_room_id(room), event.room.clone()),
                direction: Direction::In,
                sender: event.from.parse().unwrap_or(protocol::ClientId::NIL),
                body: Body::File {
                    name: name.clone(),
                    size,
                    path,
                },
                sender_time_ms: None,
                server_time_ms: Some(event.sent_at_ms),
                message_id: Some(seq),
                status: Status::Received,
            });
            event.change = RoomChange::File {
                name,
                size,
                path,
                not_saved,
            };
            self.store(move |s| s.finish_room_download(room, seq, &event, history.as_ref(), None))
                .await?;
        }
        Ok(())
    }

    /// Downloads one announced file: where it was saved, or why it was not;
    /// or has the server hold one over the limit for the user.
    async fn fetch_room_file(&self, waiting: &RoomDownload) -> Result<Fetched, ClientError> {
        let file = match RoomContent::decode(&waiting.file) {
            Ok(RoomContent::File(file)) => file,
            Ok(
                RoomContent::Text(_)
                | RoomContent::Deleted
                | RoomContent::PasswordChanged
                | RoomContent::Receipt { .. },
            )
            | Err(_) => {
                return Ok(Fetched::NotSaved("its announcement is not readable".into()));
            }
        };
        let policy = self.download_policy();
        if !policy.accept_all && file.size > policy.max_auto_download {
            let limit = policy.max_auto_download;
            return match self.hold_room_file(waiting.room, waiting.seq).await {
                Ok(()) => Ok(Fetched::Held { limit }),
                Err(ClientError::Connection(e)) if e.reason().is_some() => {
                    Ok(Fetched::NotSaved(format!(
                        "it is larger than your automatic download limit ({}), and the server \
                         would not keep it for you to decide ({e}); `--max-auto-download SIZE` \
                         or `--accept-files` take larger room files",
                        size(limit)
                    )))
                }
                Err(e) => Err(e),
            };
        }
        let dir = self.downloads();
        let progress = self.progress();
        let cancel = self.download_token();
        let mut attempt = 0;
        loop {
            let conn = self.connection().await?;
            let (room, seq) = (waiting.room, waiting.seq);
            let outcome =
                download_room_file(&conn, room, seq, &file, &dir, &*progress, &cancel).await;
            return match outcome {
                Ok(path) => Ok(Fetched::Saved(path)),
                // The user stopped it (`Client::cancel_downloads`): passed
                // over like a file over the limit, since waiting for it
                // would hold up the room's log.
                Err(RoomFileError::Client(ClientError::Cancelled)) => {
                    remove_part(&part_path(&dir, room, seq, &file)).await;
                    Ok(Fetched::NotSaved(
                        "you stopped its download; what had arrived was deleted \
                         (ask its sender to send it again)"
                            .into(),
                    ))
                }
                Err(RoomFileError::Client(ClientError::Connection(e)))
                    if e.is_disconnect() && attempt + 1 < RECONNECT_ATTEMPTS =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    continue;
                }
                Err(RoomFileError::Client(ClientError::Connection(e)))
                    if e.reason() == Some(ErrorReason::UnknownMessage) =>
                {
                    Ok(Fetched::NotSaved(
                        "the server no longer has it (its retention deleted it)".into(),
                    ))
                }
                Err(RoomFileError::HashMismatch) => Ok(Fetched::NotSaved(
                    "its contents do not match what its sender announced; it was deleted".into(),
                )),
                Err(RoomFileError::Client(ClientError::Crypto(e))) => Ok(Fetched::NotSaved(
                    format!("it does not decrypt ({e}); it was deleted"),
                )),
                Err(RoomFileError::Client(e)) => Err(e),
                Err(other) => Err(ClientError::Io(std::io::Error::other(other.to_string()))),
            };
        }
    }

    /// Has the server hold file entry `seq` of `room` past our cursor
    /// (150), trying again over a lost connection.
    ///
    /// # Errors
    /// The server refused (`TOO_MANY_HOLDS`, ...), or the connection stayed
    /// lost.
    pub(crate) async fn hold_room_file(&self, room: RoomId, seq: u64) -> Result<(), ClientError> {
        let mut attempt = 0;
        loop {
            let conn = self.connection().await?;
            match conn.room_file_hold(room, seq, true).await {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    return Err(ClientError::Connection(ConnectionError::Unexpected(
                        "the server did not hold the room file".into(),
                    )));
                }
                Err(e) if e.is_disconnect() && attempt + 1 < RECONNECT_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => return Err(ClientError::Connection(e)),
            }
        }
    }
}

/// What became of an announced room file.
enum Fetched {
    /// Downloaded, its hash checked.
    Saved(std::path::PathBuf),
    /// Not downloaded, for this reason (in words a person acts on).
    NotSaved(String),
    /// Over the automatic download limit: the server holds it for the user.
    Held {
        /// The limit.
        limit: u64,
    },
}

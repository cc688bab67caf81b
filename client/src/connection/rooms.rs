//! The room and key package requests (PROTOCOL.md "Rooms", 130 to 140 and
//! joining, 142 to 144, deleting, 145, holding a file, 150) on an
//! authenticated [`Connection`], one typed method each, and the queue of
//! room pushes (1310, 1311) the reader routes apart from message deliveries.

use bytes::Bytes;
use protocol::v3::{
    ClaimedKeyPackage, CommitAccepted, KeyPackageKind, KeyPackageStock, KeyPackagesUpload,
    RoomBatch, RoomCommit, RoomCreate, RoomCursor, RoomDelete, RoomDownload, RoomFileHold,
    RoomSend, RoomStatus, RoomSummary, RoomUploadBegin,
};
use protocol::{ClientId, RoomId, UploadId, v3};

use super::Connection;
use super::error::ConnectionError;
use super::push::RoomPush;
use super::queue::PushQueue;

fn unexpected(response: &v3::Response) -> ConnectionError {
    ConnectionError::Unexpected(format!("{:?}", response.code()))
}

impl Connection {
    /// The room pushes of this connection (only the first call gets them).
    pub fn take_room_pushes(&self) -> Option<PushQueue<RoomPush>> {
        self.room_pushes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Stores key packages (none: only asks for the stock).
    ///
    /// # Errors
    /// Refused (`BAD_KEY_PACKAGE`, `KEY_PACKAGES_FULL`), or see [`Connection::call`].
    pub async fn upload_key_packages(
        &self,
        kind: KeyPackageKind,
        packages: Vec<Bytes>,
    ) -> Result<KeyPackageStock, ConnectionError> {
        let request = v3::Request::KeyPackagesUpload(KeyPackagesUpload { kind, packages });
        match self.call(request).await? {
            v3::Response::KeyPackageStock(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// Claims one key package of each client, in request order.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn claim_key_packages(
        &self,
        clients: Vec<ClientId>,
    ) -> Result<Vec<ClaimedKeyPackage>, ConnectionError> {
        match self.call(v3::Request::KeyPackagesClaim(clients)).await? {
            v3::Response::KeyPackages(k) => Ok(k),
            other => Err(unexpected(&other)),
        }
    }

    /// Creates a room at epoch 0.
    ///
    /// # Errors
    /// `ROOM_EXISTS`, `ROOM_REFUSED`, or see [`Connection::call`].
    pub async fn room_create(
        &self,
        room: RoomId,
        group_info: Bytes,
        ratchet_tree: Bytes,
    ) -> Result<(), ConnectionError> {
        let request = v3::Request::RoomCreate(RoomCreate {
            room,
            group_info,
            ratchet_tree,
        });
        match self.call(request).await? {
            v3::Response::RoomCreated(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Re-founds a room the server (restored from a backup) holds at an
    /// older epoch than ours, from the group info and tree of our epoch;
    /// returns the epoch the server holds it at now.
    ///
    /// # Errors
    /// `ROOM_REFUSED` (not restored, or changed since), `STALE_EPOCH` (the
    /// server is not behind), or see [`Connection::call`].
    pub async fn room_refound(
        &self,
        room: RoomId,
        group_info: Bytes,
        ratchet_tree: Bytes,
    ) -> Result<u64, ConnectionError> {
        let request = v3::Request::RoomRefound(RoomCreate {
            room,
            group_info,
            ratchet_tree,
        });
        match self.call(request).await? {
            v3::Response::RoomRefounded(r) => Ok(r.epoch),
            other => Err(unexpected(&other)),
        }
    }

    /// Commits to a room at `epoch`, with the welcome of the members it adds.
    ///
    /// # Errors
    /// `STALE_EPOCH` (another commit won), `ROOM_REFUSED`, or see [`Connection::call`].
    pub async fn room_commit(
        &self,
        room: RoomId,
        epoch: u64,
        commit: Bytes,
        welcome: Bytes,
    ) -> Result<CommitAccepted, ConnectionError> {
        let request = v3::Request::RoomCommit(RoomCommit {
            room,
            epoch,
            commit,
            welcome,
        });
        match self.call(request).await? {
            v3::Response::CommitAccepted(c) => Ok(c),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends a room message made at `epoch`; returns its place in the log.
    ///
    /// # Errors
    /// `STALE_EPOCH`, `UNKNOWN_ROOM`, or see [`Connection::call`].
    pub async fn room_send(
        &self,
        room: RoomId,
        epoch: u64,
        message: Bytes,
    ) -> Result<u64, ConnectionError> {
        let request = v3::Request::RoomSend(RoomSend {
            room,
            epoch,
            file: None,
            message,
        });
        match self.call(request).await? {
            v3::Response::RoomMessageStored(m) => Ok(m.seq),
            other => Err(unexpected(&other)),
        }
    }

    /// Deletes the room (its owner only) with `notice`, the owner's
    /// deletion notice encrypted in the room at `epoch` (PROTOCOL.md
    /// "Deleting (145)").
    ///
    /// # Errors
    /// `STALE_EPOCH`, `ROOM_REFUSED` (not the owner), `UNKNOWN_ROOM`, or see
    /// [`Connection::call`].
    pub async fn room_delete(
        &self,
        room: RoomId,
        epoch: u64,
        notice: Bytes,
    ) -> Result<(), ConnectionError> {
        let request = v3::Request::RoomDelete(RoomDelete {
            room,
            epoch,
            notice,
        });
        match self.call(request).await? {
            v3::Response::RoomDeleted(r) if r == room => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends a room message made at `epoch` that names the finished room
    /// upload `file` (PROTOCOL.md "Files to a room"); returns its seq.
    ///
    /// # Errors
    /// `STALE_EPOCH`, `UNKNOWN_UPLOAD`, or see [`Connection::call`].
    pub async fn room_send_file(
        &self,
        room: RoomId,
        epoch: u64,
        file: UploadId,
        message: Bytes,
    ) -> Result<u64, ConnectionError> {
        let request = v3::Request::RoomSend(RoomSend {
            room,
            epoch,
            file: Some(file),
            message,
        });
        match self.call(request).await? {
            v3::Response::RoomMessageStored(m) => Ok(m.seq),
            other => Err(unexpected(&other)),
        }
    }

    /// Begins an upload of `file_size` encrypted bytes to `room` (139); the
    /// chunks, resume and cancel are those of any upload.
    ///
    /// # Errors
    /// `UNKNOWN_ROOM` (not a member), a quota, or see [`Connection::call`].
    pub async fn room_upload_begin(
        &self,
        room: RoomId,
        file_size: u64,
        meta: Bytes,
    ) -> Result<v3::UploadStatus, ConnectionError> {
        let request = v3::Request::RoomUploadBegin(RoomUploadBegin {
            room,
            file_size,
            meta,
        });
        match self.call(request).await? {
            v3::Response::UploadStatus(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// Queues a read of up to `max_len` bytes from `offset` of the file room
    /// entry `seq` names (140), as a future (several may be in flight).
    pub fn room_download(
        &self,
        room: RoomId,
        seq: u64,
        offset: u64,
        max_len: u32,
    ) -> impl std::future::Future<Output = Result<Bytes, ConnectionError>> + Send + 'static {
        let answer = self.submit(v3::Request::RoomDownload(RoomDownload {
            room,
            seq,
            offset,
            max_len,
        }));
        async move {
            match answer.await? {
                v3::Response::FileChunk(c) if c.message_id == seq && c.offset == offset => {
                    Ok(c.data)
                }
                other => Err(unexpected(&other)),
            }
        }
    }

    /// Holds (`hold`) or releases the file room entry `seq` names past our
    /// cursor (150); whether we hold it now.
    ///
    /// # Errors
    /// `UNKNOWN_ROOM`, `UNKNOWN_MESSAGE` (the entry is gone: a release is
    /// done), `BAD_MESSAGE_TYPE`, `TOO_MANY_HOLDS`, or see [`Connection::call`].
    pub async fn room_file_hold(
        &self,
        room: RoomId,
        seq: u64,
        hold: bool,
    ) -> Result<bool, ConnectionError> {
        let request = v3::Request::RoomFileHold(RoomFileHold { room, seq, hold });
        match self.call(request).await? {
            v3::Response::RoomFileHeld(h) if h.room == room && h.seq == seq => Ok(h.hold),
            other => Err(unexpected(&other)),
        }
    }

    /// Room entries after our cursors, oldest first.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn room_pull(&self, max_entries: u16) -> Result<RoomBatch, ConnectionError> {
        let request = v3::Request::RoomPull(v3::Pull {
            max_messages: max_entries,
            max_bytes: 0,
        });
        match self.call(request).await? {
            v3::Response::RoomEntries(b) => Ok(b),
            other => Err(unexpected(&other)),
        }
    }

    /// Moves our cursors.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn room_ack(
        &self,
        cursors: Vec<RoomCursor>,
    ) -> Result<Vec<v3::RoomAckStatus>, ConnectionError> {
        let mut statuses = Vec::with_capacity(cursors.len());
        for chunk in cursors.chunks(protocol::MAX_ACK_IDS) {
            match self.call(v3::Request::RoomAck(chunk.to_vec())).await? {
                v3::Response::RoomAcked(s) => statuses.extend(s),
                other => return Err(unexpected(&other)),
            }
        }
        Ok(statuses)
    }

    /// A room as the server follows it.
    ///
    /// # Errors
    /// `UNKNOWN_ROOM`, or see [`Connection::call`].
    pub async fn room_state(&self, room: RoomId) -> Result<RoomStatus, ConnectionError> {
        match self.call(v3::Request::RoomState(room)).await? {
            v3::Response::RoomStatus(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// Our rooms as the server knows them.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn room_list(&self) -> Result<Vec<RoomSummary>, ConnectionError> {
        match self.call(v3::Request::RoomList).await? {
            v3::Response::RoomList(l) => Ok(l),
            other => Err(unexpected(&other)),
        }
    }

    /// Stores the room's group info of `epoch` for joiners (142).
    ///
    /// # Errors
    /// `UNKNOWN_ROOM`, `STALE_EPOCH`, `ROOM_REFUSED`, or see [`Connection::call`].
    pub async fn room_group_info(
        &self,
        room: RoomId,
        epoch: u64,
        group_info: Bytes,
    ) -> Result<(), ConnectionError> {
        let request = v3::Request::RoomGroupInfo(v3::RoomGroupInfo {
            room,
            epoch,
            group_info,
        });
        match self.call(request).await? {
            v3::Response::GroupInfoStored(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// The public rooms (143).
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn listed_rooms(&self) -> Result<Vec<v3::ListedRoom>, ConnectionError> {
        match self.call(v3::Request::ListedRooms).await? {
            v3::Response::ListedRooms(l) => Ok(l),
            other => Err(unexpected(&other)),
        }
    }

    /// The public or hidden room named exactly `name`, with its group info
    /// (144).
    ///
    /// # Errors
    /// `UNKNOWN_ROOM` ("no such room"), or see [`Connection::call`].
    pub async fn find_room(
        &self,
        name: v3::RoomLabel,
    ) -> Result<v3::RoomGroupInfo, ConnectionError> {
        match self.call(v3::Request::FindRoom(name)).await? {
            v3::Response::RoomFound(g) => Ok(g),
            other => Err(unexpected(&other)),
        }
    }
}

//! Version-3 responses: the [`Response`] enum and its layouts (the largest
//! payload per code, decode, encode). The payload structs of the answers
//! are in `answers.rs`, rooms' in `rooms/`.

use bytes::{BufMut, Bytes, BytesMut};

use super::answers::*;
use super::delivery::{Delivery, MessageBatch};
use super::layout::*;
use super::presence::PresenceChanges;
use super::rooms::{
    COMMIT_ACCEPTED_LEN, ClaimedKeyPackage, CommitAccepted, GROUP_INFO_STORED_LEN, GroupInfoStored,
    KEY_PACKAGE_STOCK_LEN, KEY_PACKAGES_LOW_LEN, KeyPackageStock, ListedRoom,
    ROOM_ENTRY_HEADER_LEN, ROOM_EPOCH_LEN, ROOM_FILE_HOLD_LEN, ROOM_ID_LEN,
    ROOM_MESSAGE_STORED_LEN, RoomAckStatus, RoomBatch, RoomCreated, RoomEntry, RoomFileHold,
    RoomGroupInfo, RoomMessageStored, RoomPake, RoomStatus, RoomSummary,
};
use crate::error::{PayloadError, ProtocolError};
use crate::header::ResponseCode;
use crate::types::{ClientId, Name, PublicKey, RoomId, UploadId};
use crate::wire::{Reader, check_range, put_u16, put_u32, put_u64};
use crate::{
    CLIENT_ID_LEN, MAX_ACK_IDS, MAX_CHUNK_LEN, MAX_ERROR_TEXT_LEN, MAX_LIST_PAGE, MAX_MESSAGE_LEN,
    MAX_NAME_LEN, PUBLIC_KEY_LEN,
};
/// A version-3 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// 1000: the new client's id.
    Registered(ClientId),
    /// 1001: a page of clients.
    ClientList(ClientPage),
    /// 1002: a key bundle (answers 102 and 106).
    PublicKey(PeerKey),
    /// 1003: the message is durable.
    MessageStored(MessageStored),
    /// 1004: a batch of waiting messages.
    Messages(MessageBatch),
    /// 1005: one status per acknowledged id, in request order.
    Acked(Vec<AckStatus>),
    /// 1100: challenge and server proof.
    Challenge(Challenge),
    /// 1101: authenticated.
    Authenticated(ServerLimits),
    /// 1102: subscribed; `waiting` messages are queued and follow as 1104.
    Subscribed {
        /// Messages waiting when the subscription began.
        waiting: u32,
    },
    /// 1103: the ping's token.
    Pong(u64),
    /// 1104: a pushed message (unsolicited).
    Delivery(Delivery),
    /// 1105: the server is closing this connection (unsolicited).
    Closing(ServerError),
    /// 1106: the caller's account is deleted; the connection closes.
    AccountDeleted(AccountDeleted),
    /// 1200: where an upload stands.
    UploadStatus(UploadStatus),
    /// 1201: a chunk is stored.
    ChunkStored(ChunkStored),
    /// 1202: the upload became a file message.
    FileSent(FileSent),
    /// 1203: the upload is gone.
    UploadCancelled(UploadId),
    /// 1204: part of a file.
    FileChunk(FileChunk),
    /// 1300: the caller's key package stock.
    KeyPackageStock(KeyPackageStock),
    /// 1301: one answer per claimed client, in request order.
    KeyPackages(Vec<ClaimedKeyPackage>),
    /// 1302: the room is created.
    RoomCreated(RoomCreated),
    /// 1303: the commit is in the log.
    CommitAccepted(CommitAccepted),
    /// 1304: the room message is in the log.
    RoomMessageStored(RoomMessageStored),
    /// 1305: room entries.
    RoomEntries(RoomBatch),
    /// 1306: one status per cursor, in request order.
    RoomAcked(Vec<RoomAckStatus>),
    /// 1307: a room's state.
    RoomStatus(RoomStatus),
    /// 1308: the caller's rooms.
    RoomList(Vec<RoomSummary>),
    /// 1310: a pushed room entry (unsolicited).
    RoomDelivery(RoomEntry),
    /// 1311: the caller's one-time key package stock is low (unsolicited).
    KeyPackagesLow(u32),
    /// 1312: a page of the clients online now (the layout of 1001).
    Online(ClientPage),
    /// 1313: presence changes (unsolicited).
    PresenceChanges(PresenceChanges),
    /// 1314: the room's group info is stored.
    GroupInfoStored(GroupInfoStored),
    /// 1315: the public rooms.
    ListedRooms(Vec<ListedRoom>),
    /// 1316: the room found by name, with its group info.
    RoomFound(RoomGroupInfo),
    /// 1317: the room is deleted.
    RoomDeleted(RoomId),
    /// 1318: the server's OPAQUE registration response.
    RoomPasswordChallenge(RoomPake),
    /// 1319: the room's password record is stored.
    RoomPasswordStored(RoomId),
    /// 1320: the server's OPAQUE credential response.
    RoomLoginChallenge(RoomPake),
    /// 1321: the password is proven; this connection may join the room.
    RoomLoginAccepted(RoomId),
    /// 1322: whether the caller holds the room file now.
    RoomFileHeld(RoomFileHold),
    /// 1323: the re-founded room and the epoch the server holds it at now
    /// (the layout of 1302).
    RoomRefounded(RoomCreated),
    /// 9000: the request failed.
    Error(ServerError),
}

impl Response {
    /// The response code.
    pub fn code(&self) -> ResponseCode {
        match self {
            Self::Registered(_) => ResponseCode::Registered,
            Self::ClientList(_) => ResponseCode::ClientList,
            Self::PublicKey(_) => ResponseCode::PublicKey,
            Self::MessageStored(_) => ResponseCode::MessageStored,
            Self::Messages(_) => ResponseCode::Messages,
            Self::Acked(_) => ResponseCode::Acked,
            Self::Challenge(_) => ResponseCode::Challenge,
            Self::Authenticated(_) => ResponseCode::Authenticated,
            Self::Subscribed { .. } => ResponseCode::Subscribed,
            Self::Pong(_) => ResponseCode::Pong,
            Self::Delivery(_) => ResponseCode::Delivery,
            Self::Closing(_) => ResponseCode::Closing,
            Self::AccountDeleted(_) => ResponseCode::AccountDeleted,
            Self::UploadStatus(_) => ResponseCode::UploadStatus,
            Self::ChunkStored(_) => ResponseCode::ChunkStored,
            Self::FileSent(_) => ResponseCode::FileSent,
            Self::UploadCancelled(_) => ResponseCode::UploadCancelled,
            Self::FileChunk(_) => ResponseCode::FileChunk,
            Self::KeyPackageStock(_) => ResponseCode::KeyPackageStock,
            Self::KeyPackages(_) => ResponseCode::KeyPackages,
            Self::RoomCreated(_) => ResponseCode::RoomCreated,
            Self::CommitAccepted(_) => ResponseCode::CommitAccepted,
            Self::RoomMessageStored(_) => ResponseCode::RoomMessageStored,
            Self::RoomEntries(_) => ResponseCode::RoomEntries,
            Self::RoomAcked(_) => ResponseCode::RoomAcked,
            Self::RoomStatus(_) => ResponseCode::RoomStatus,
            Self::RoomList(_) => ResponseCode::RoomList,
            Self::RoomDelivery(_) => ResponseCode::RoomDelivery,
            Self::KeyPackagesLow(_) => ResponseCode::KeyPackagesLow,
            Self::Online(_) => ResponseCode::Online,
            Self::PresenceChanges(_) => ResponseCode::PresenceChanges,
            Self::GroupInfoStored(_) => ResponseCode::GroupInfoStored,
            Self::ListedRooms(_) => ResponseCode::ListedRooms,
            Self::RoomFound(_) => ResponseCode::RoomFound,
            Self::RoomDeleted(_) => ResponseCode::RoomDeleted,
            Self::RoomPasswordChallenge(_) => ResponseCode::RoomPasswordChallenge,
            Self::RoomPasswordStored(_) => ResponseCode::RoomPasswordStored,
            Self::RoomLoginChallenge(_) => ResponseCode::RoomLoginChallenge,
            Self::RoomLoginAccepted(_) => ResponseCode::RoomLoginAccepted,
            Self::RoomFileHeld(_) => ResponseCode::RoomFileHeld,
            Self::RoomRefounded(_) => ResponseCode::RoomRefounded,
            Self::Error(_) => ResponseCode::Error,
        }
    }

    /// The largest payload this code may carry.
    pub fn max_payload_len(code: ResponseCode) -> usize {
        match code {
            ResponseCode::Registered => CLIENT_ID_LEN,
            ResponseCode::UploadCancelled => UPLOAD_ID_LEN,
            ResponseCode::ClientList | ResponseCode::Online => {
                PAGE_HEADER_LEN + MAX_LIST_PAGE * (LIST_ENTRY_HEADER_LEN + MAX_NAME_LEN)
            }
            ResponseCode::PresenceChanges => PresenceChanges::MAX_LEN,
            ResponseCode::PublicKey => CLIENT_ID_LEN + PUBLIC_KEY_LEN + 1 + MAX_NAME_LEN,
            ResponseCode::MessageStored => MESSAGE_STORED_LEN,
            ResponseCode::Messages => crate::MAX_FRAME_LEN,
            ResponseCode::Acked => COUNT_LEN + ACK_STATUS_LEN * MAX_ACK_IDS,
            ResponseCode::Challenge => SIGNING_KEY_LEN + NONCE_LEN + SIGNATURE_LEN,
            ResponseCode::Authenticated => SERVER_LIMITS_LEN,
            ResponseCode::Subscribed => SUBSCRIBED_LEN,
            ResponseCode::Pong => TOKEN_LEN,
            ResponseCode::AccountDeleted => ACCOUNT_DELETED_LEN,
            ResponseCode::Delivery => {
                DELIVERY_HEADER_LEN + MAX_MESSAGE_LEN.max(super::rooms::MAX_ROOM_WELCOME_LEN)
            }
            ResponseCode::Closing | ResponseCode::Error => ERROR_HEADER_LEN + MAX_ERROR_TEXT_LEN,
            ResponseCode::UploadStatus => UPLOAD_STATUS_LEN,
            ResponseCode::ChunkStored => CHUNK_STORED_LEN,
            ResponseCode::FileSent => FILE_SENT_LEN,
            ResponseCode::FileChunk => FILE_CHUNK_HEADER_LEN + MAX_CHUNK_LEN,
            ResponseCode::KeyPackageStock => KEY_PACKAGE_STOCK_LEN,
            ResponseCode::KeyPackages => ClaimedKeyPackage::MAX_ANSWER_LEN,
            ResponseCode::RoomCreated | ResponseCode::RoomRefounded => ROOM_EPOCH_LEN,
            ResponseCode::CommitAccepted => COMMIT_ACCEPTED_LEN,
            ResponseCode::RoomMessageStored => ROOM_MESSAGE_STORED_LEN,
            ResponseCode::RoomEntries => crate::MAX_FRAME_LEN,
            ResponseCode::RoomAcked => RoomAckStatus::MAX_ANSWER_LEN,
            ResponseCode::RoomStatus => RoomStatus::MAX_LEN,
            ResponseCode::RoomList => RoomSummary::MAX_LIST_LEN,
            ResponseCode::RoomDelivery => ROOM_ENTRY_HEADER_LEN + crate::MAX_ROOM_MESSAGE_LEN,
            ResponseCode::KeyPackagesLow => KEY_PACKAGES_LOW_LEN,
            ResponseCode::GroupInfoStored => GROUP_INFO_STORED_LEN,
            ResponseCode::ListedRooms => ListedRoom::MAX_LIST_LEN,
            ResponseCode::RoomFound => RoomGroupInfo::MAX_LEN,
            ResponseCode::RoomDeleted
            | ResponseCode::RoomPasswordStored
            | ResponseCode::RoomLoginAccepted => ROOM_ID_LEN,
            ResponseCode::RoomFileHeld => ROOM_FILE_HOLD_LEN,
            ResponseCode::RoomPasswordChallenge | ResponseCode::RoomLoginChallenge => {
                RoomPake::MAX_LEN
            }
        }
    }

    /// Parses a complete payload.
    ///
    /// # Errors
    /// The payload does not follow the layout of `code`.
    pub fn decode(code: ResponseCode, payload: Bytes) -> Result<Self, PayloadError> {
        let len = payload.len();
        let mut r = Reader::new(payload);
        let response = match code {
            ResponseCode::Registered => {
                exact(len, CLIENT_ID_LEN)?;
                Self::Registered(ClientId::read(&mut r, "client id")?)
            }
            ResponseCode::ClientList => Self::ClientList(read_page(&mut r)?),
            ResponseCode::Online => Self::Online(read_page(&mut r)?),
            ResponseCode::PresenceChanges => Self::PresenceChanges(PresenceChanges::read(&mut r)?),
            ResponseCode::PublicKey => Self::PublicKey(PeerKey {
                client_id: ClientId::read(&mut r, "client id")?,
                public_key: PublicKey::read(&mut r)?,
                name: Name::read_short(&mut r)?,
            }),
            ResponseCode::MessageStored => {
                exact(len, MESSAGE_STORED_LEN)?;
                Self::MessageStored(MessageStored {
                    destination: ClientId::read(&mut r, "destination")?,
                    message_id: r.u64("message id")?,
                })
            }
            ResponseCode::Messages => {
                let more = r.flag("more")?;
                let count = r.u16("count")? as usize;
                let mut messages =
                    Vec::with_capacity(count.min(r.remaining() / DELIVERY_HEADER_LEN));
                for _ in 0..count {
                    messages.push(Delivery::read(&mut r)?);
                }
                Self::Messages(MessageBatch { more, messages })
            }
            ResponseCode::Acked => {
                let count = r.u16("count")? as usize;
                check_range("count", count as u64, 1, MAX_ACK_IDS as u64)?;
                exact(len, COUNT_LEN + ACK_STATUS_LEN * count)?;
                let mut statuses = Vec::with_capacity(count);
                for _ in 0..count {
                    statuses.push(match r.u8("status")? {
                        0 => AckStatus::Removed,
                        1 => AckStatus::NotWaiting,
                        value => {
                            return Err(PayloadError::BadFlag {
                                field: "ack status",
                                value,
                            });
                        }
                    });
                }
                Self::Acked(statuses)
            }
            ResponseCode::Challenge => {
                exact(len, SIGNING_KEY_LEN + NONCE_LEN + SIGNATURE_LEN)?;
                Self::Challenge(Challenge {
                    server_key: r.array("server key")?,
                    server_nonce: r.array("server nonce")?,
                    signature: r.array("signature")?,
                })
            }
            ResponseCode::Authenticated => {
                exact(len, SERVER_LIMITS_LEN)?;
                Self::Authenticated(ServerLimits {
                    max_message_len: r.u32("max message length")?,
                    max_chunk_len: r.u32("max chunk length")?,
                    max_file_size: r.u64("max file size")?,
                    max_pull_messages: r.u16("max pull messages")?,
                    max_ack_ids: r.u16("max ack ids")?,
                    max_pull_bytes: r.u32("max pull bytes")?,
                    requests_per_second: r.u32("requests per second")?,
                    idle_timeout_secs: r.u32("idle timeout")?,
                })
            }
            ResponseCode::Subscribed => {
                exact(len, SUBSCRIBED_LEN)?;
                Self::Subscribed {
                    waiting: r.u32("waiting")?,
                }
            }
            ResponseCode::Pong => {
                exact(len, TOKEN_LEN)?;
                Self::Pong(r.u64("token")?)
            }
            ResponseCode::Delivery => Self::Delivery(Delivery::read(&mut r)?),
            ResponseCode::Closing => Self::Closing(ServerError::read(&mut r)?),
            ResponseCode::AccountDeleted => {
                exact(len, ACCOUNT_DELETED_LEN)?;
                Self::AccountDeleted(AccountDeleted {
                    messages: r.u64("messages")?,
                    bytes: r.u64("bytes")?,
                    uploads: r.u32("uploads")?,
                })
            }
            ResponseCode::UploadStatus => {
                exact(len, UPLOAD_STATUS_LEN)?;
                Self::UploadStatus(UploadStatus {
                    upload_id: UploadId::read(&mut r)?,
                    destination: ClientId::read(&mut r, "destination")?,
                    file_size: r.u64("file size")?,
                    offset: r.u64("offset")?,
                })
            }
            ResponseCode::ChunkStored => {
                exact(len, CHUNK_STORED_LEN)?;
                Self::ChunkStored(ChunkStored {
                    upload_id: UploadId::read(&mut r)?,
                    next_offset: r.u64("next offset")?,
                })
            }
            ResponseCode::FileSent => {
                exact(len, FILE_SENT_LEN)?;
                Self::FileSent(FileSent {
                    upload_id: UploadId::read(&mut r)?,
                    destination: ClientId::read(&mut r, "destination")?,
                    message_id: r.u64("message id")?,
                })
            }
            ResponseCode::UploadCancelled => {
                exact(len, UPLOAD_ID_LEN)?;
                Self::UploadCancelled(UploadId::read(&mut r)?)
            }
            ResponseCode::FileChunk => {
                let message_id = r.u64("message id")?;
                let offset = r.u64("offset")?;
                let data = r.rest();
                check_range("chunk size", data.len() as u64, 0, MAX_CHUNK_LEN as u64)?;
                Self::FileChunk(FileChunk {
                    message_id,
                    offset,
                    data,
                })
            }
            ResponseCode::Error => Self::Error(ServerError::read(&mut r)?),
            ResponseCode::KeyPackageStock => {
                exact(len, KEY_PACKAGE_STOCK_LEN)?;
                Self::KeyPackageStock(KeyPackageStock::read(&mut r)?)
            }
            ResponseCode::KeyPackages => Self::KeyPackages(ClaimedKeyPackage::read_all(&mut r)?),
            ResponseCode::RoomCreated => {
                exact(len, ROOM_EPOCH_LEN)?;
                Self::RoomCreated(RoomCreated::read(&mut r)?)
            }
            ResponseCode::RoomRefounded => {
                exact(len, ROOM_EPOCH_LEN)?;
                Self::RoomRefounded(RoomCreated::read(&mut r)?)
            }
            ResponseCode::CommitAccepted => {
                exact(len, COMMIT_ACCEPTED_LEN)?;
                Self::CommitAccepted(CommitAccepted::read(&mut r)?)
            }
            ResponseCode::RoomMessageStored => {
                exact(len, ROOM_MESSAGE_STORED_LEN)?;
                Self::RoomMessageStored(RoomMessageStored::read(&mut r)?)
            }
            ResponseCode::RoomEntries => Self::RoomEntries(RoomBatch::read(&mut r)?),
            ResponseCode::RoomAcked => Self::RoomAcked(RoomAckStatus::read_all(&mut r)?),
            ResponseCode::RoomStatus => Self::RoomStatus(RoomStatus::read(&mut r)?),
            ResponseCode::RoomList => Self::RoomList(RoomSummary::read_all(&mut r)?),
            ResponseCode::GroupInfoStored => {
                exact(len, GROUP_INFO_STORED_LEN)?;
                Self::GroupInfoStored(GroupInfoStored::read(&mut r)?)
            }
            ResponseCode::ListedRooms => Self::ListedRooms(ListedRoom::read_all(&mut r)?),
            ResponseCode::RoomFound => Self::RoomFound(RoomGroupInfo::read(&mut r)?),
            ResponseCode::RoomDeleted => {
                exact(len, ROOM_ID_LEN)?;
                Self::RoomDeleted(RoomId::read(&mut r)?)
            }
            ResponseCode::RoomPasswordStored => {
                exact(len, ROOM_ID_LEN)?;
                Self::RoomPasswordStored(RoomId::read(&mut r)?)
            }
            ResponseCode::RoomLoginAccepted => {
                exact(len, ROOM_ID_LEN)?;
                Self::RoomLoginAccepted(RoomId::read(&mut r)?)
            }
            ResponseCode::RoomFileHeld => {
                exact(len, ROOM_FILE_HOLD_LEN)?;
                Self::RoomFileHeld(RoomFileHold::read(&mut r, "held")?)
            }
            ResponseCode::RoomPasswordChallenge => {
                Self::RoomPasswordChallenge(RoomPake::read(&mut r)?)
            }
            ResponseCode::RoomLoginChallenge => Self::RoomLoginChallenge(RoomPake::read(&mut r)?),
            ResponseCode::RoomDelivery => Self::RoomDelivery(RoomEntry::read(&mut r)?),
            ResponseCode::KeyPackagesLow => {
                exact(len, KEY_PACKAGES_LOW_LEN)?;
                Self::KeyPackagesLow(r.u32("one-time stock")?)
            }
        };
        r.finish()?;
        Ok(response)
    }

    /// Appends the payload.
    ///
    /// # Errors
    /// A value outside the limits of its field.
    pub fn encode_payload(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match self {
            Self::Registered(id) => id.write(dst),
            Self::ClientList(page) | Self::Online(page) => write_page(page, dst)?,
            Self::PresenceChanges(p) => p.write(dst)?,
            Self::PublicKey(k) => {
                k.client_id.write(dst);
                k.public_key.write(dst);
                k.name.write_short(dst);
            }
            Self::MessageStored(m) => {
                m.destination.write(dst);
                put_u64(dst, m.message_id);
            }
            Self::Messages(batch) => {
                limit("message batch", batch.messages.len(), u16::MAX as usize)?;
                dst.put_u8(batch.more.into());
                put_u16(dst, batch.messages.len() as u16);
                for m in &batch.messages {
                    m.write(dst)?;
                }
            }
            Self::Acked(statuses) => {
                limit("ack statuses", statuses.len(), MAX_ACK_IDS)?;
                put_u16(dst, statuses.len() as u16);
                for s in statuses {
                    dst.put_u8(match s {
                        AckStatus::Removed => 0,
                        AckStatus::NotWaiting => 1,
                    });
                }
            }
            Self::Challenge(c) => {
                dst.put_slice(&c.server_key);
                dst.put_slice(&c.server_nonce);
                dst.put_slice(&c.signature);
            }
            Self::Authenticated(l) => {
                put_u32(dst, l.max_message_len);
                put_u32(dst, l.max_chunk_len);
                put_u64(dst, l.max_file_size);
                put_u16(dst, l.max_pull_messages);
                put_u16(dst, l.max_ack_ids);
                put_u32(dst, l.max_pull_bytes);
                put_u32(dst, l.requests_per_second);
                put_u32(dst, l.idle_timeout_secs);
            }
            Self::Subscribed { waiting } => put_u32(dst, *waiting),
            Self::Pong(token) => put_u64(dst, *token),
            Self::Delivery(d) => d.write(dst)?,
            Self::Closing(e) | Self::Error(e) => e.write(dst)?,
            Self::AccountDeleted(d) => {
                put_u64(dst, d.messages);
                put_u64(dst, d.bytes);
                put_u32(dst, d.uploads);
            }
            Self::UploadStatus(s) => {
                s.upload_id.write(dst);
                s.destination.write(dst);
                put_u64(dst, s.file_size);
                put_u64(dst, s.offset);
            }
            Self::ChunkStored(c) => {
                c.upload_id.write(dst);
                put_u64(dst, c.next_offset);
            }
            Self::FileSent(f) => {
                f.upload_id.write(dst);
                f.destination.write(dst);
                put_u64(dst, f.message_id);
            }
            Self::UploadCancelled(id) => id.write(dst),
            Self::FileChunk(c) => {
                limit("file chunk", c.data.len(), MAX_CHUNK_LEN)?;
                put_u64(dst, c.message_id);
                put_u64(dst, c.offset);
                dst.put_slice(&c.data);
            }
            Self::KeyPackageStock(s) => s.write(dst),
            Self::KeyPackages(all) => ClaimedKeyPackage::write_all(all, dst)?,
            Self::RoomCreated(c) | Self::RoomRefounded(c) => c.write(dst),
            Self::CommitAccepted(c) => c.write(dst),
            Self::RoomMessageStored(m) => m.write(dst),
            Self::RoomEntries(batch) => batch.write(dst)?,
            Self::RoomAcked(all) => RoomAckStatus::write_all(all, dst)?,
            Self::RoomStatus(s) => s.write(dst)?,
            Self::RoomList(all) => RoomSummary::write_all(all, dst)?,
            Self::RoomDelivery(e) => e.write(dst)?,
            Self::KeyPackagesLow(stock) => put_u32(dst, *stock),
            Self::GroupInfoStored(g) => g.write(dst),
            Self::ListedRooms(all) => ListedRoom::write_all(all, dst)?,
            Self::RoomFound(g) => g.write(dst)?,
            Self::RoomDeleted(room)
            | Self::RoomPasswordStored(room)
            | Self::RoomLoginAccepted(room) => room.write(dst),
            Self::RoomFileHeld(h) => h.write(dst),
            Self::RoomPasswordChallenge(p) | Self::RoomLoginChallenge(p) => p.write(dst)?,
        }
        Ok(())
    }
}

/// A page of clients (1001, 1312): more u8 | count u16 | count × ( id | name ).
fn read_page(r: &mut Reader) -> Result<ClientPage, PayloadError> {
    let more = r.flag("more")?;
    let count = r.u16("count")? as usize;
    check_range("count", count as u64, 0, MAX_LIST_PAGE as u64)?;
    let mut clients = Vec::with_capacity(count.min(r.remaining() / SHORTEST_LIST_ENTRY_LEN));
    for _ in 0..count {
        clients.push(ClientEntry {
            id: ClientId::read(r, "client id")?,
            name: Name::read_short(r)?,
        });
    }
    Ok(ClientPage { more, clients })
}

fn write_page(page: &ClientPage, dst: &mut BytesMut) -> Result<(), ProtocolError> {
    limit("client list page", page.clients.len(), MAX_LIST_PAGE)?;
    dst.put_u8(page.more.into());
    put_u16(dst, page.clients.len() as u16);
    for c in &page.clients {
        c.id.write(dst);
        c.name.write_short(dst);
    }
    Ok(())
}

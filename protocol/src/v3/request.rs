//! Version-3 requests: one payload struct per operation that has fields, the
//! [`Request`] enum, and its layouts (the largest payload per code, decode,
//! encode).

use bytes::{BufMut, Bytes, BytesMut};

use super::layout::*;
use super::presence::{PRESENCE_LEN, Presence};
use super::rooms::{
    FIND_ROOM_MAX_LEN, KeyPackagesUpload, ROOM_DOWNLOAD_LEN, ROOM_FILE_HOLD_LEN, ROOM_ID_LEN,
    RoomCommit, RoomCreate, RoomCursor, RoomDelete, RoomDownload, RoomFileHold, RoomGroupInfo,
    RoomLabel, RoomPake, RoomSend, RoomUploadBegin, claim, read_find, write_find,
};
use crate::error::{PayloadError, ProtocolError};
use crate::header::RequestCode;
use crate::payload::{Register, SendMessage};
use crate::types::{ClientId, MessageKind, Name, RoomId, UploadId};
use crate::wire::{Reader, check_range, put_u16, put_u32, put_u64};
use crate::{
    CLIENT_ID_LEN, MAX_ACK_IDS, MAX_CHUNK_LEN, MAX_FILE_META_LEN, MAX_MESSAGE_LEN, MAX_NAME_LEN,
};

/// Request 104: how much one pull may return. Zero means "the server's maximum".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pull {
    /// At most this many messages.
    pub max_messages: u16,
    /// At most about this many payload bytes (one message is always returned
    /// if any is waiting, whatever its size).
    pub max_bytes: u32,
}

/// Bit 15 of a 104 pull's `max messages`: the caller reads type-7 messages
/// (PROTOCOL.md "104 pull"). A server that predates it caps the count.
pub const PULL_READS_NOT_DELIVERED: u16 = 0x8000;

impl Pull {
    /// The count and bytes to serve: what was asked, within the most a
    /// server hands out ([`crate::MAX_PULL_MESSAGES`],
    /// [`crate::MAX_PULL_BYTES`]); 0 asks for the most. Bit 15 of
    /// `max_messages` is a flag, not part of the count.
    pub fn bounds(&self) -> (u16, u32) {
        let count = match self.max_messages & !PULL_READS_NOT_DELIVERED {
            0 => crate::MAX_PULL_MESSAGES,
            n => n.min(crate::MAX_PULL_MESSAGES),
        };
        let bytes = match self.max_bytes {
            0 => crate::MAX_PULL_BYTES,
            n => n.min(crate::MAX_PULL_BYTES),
        };
        (count, bytes)
    }

    /// Whether the caller reads type-7 messages (bit 15 of `max_messages`).
    pub fn reads_not_delivered(&self) -> bool {
        self.max_messages & PULL_READS_NOT_DELIVERED != 0
    }
}

/// Request 110: start authenticating as the header's client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Fresh random bytes the server must sign.
    pub client_nonce: [u8; NONCE_LEN],
}

/// Request 120: begin uploading a file for a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadBegin {
    /// The recipient.
    pub destination: ClientId,
    /// Exact size of the file as it will be uploaded (at least 1).
    pub file_size: u64,
    /// Opaque metadata delivered with the file message (the client puts its
    /// sealed file name and stream header here), at most [`MAX_FILE_META_LEN`].
    pub meta: Bytes,
}

/// Request 122: one chunk of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadChunk {
    /// The upload.
    pub upload_id: UploadId,
    /// Where the chunk goes; must equal the upload's current size.
    pub offset: u64,
    /// 1 to [`MAX_CHUNK_LEN`] bytes.
    pub data: Bytes,
}

/// Request 124: read part of a file message that is waiting for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    /// The file message.
    pub message_id: u64,
    /// First byte wanted.
    pub offset: u64,
    /// At most this many bytes, 1 to [`MAX_CHUNK_LEN`].
    pub max_len: u32,
}

/// A version-3 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// 100: register a name with a signed key bundle.
    Register(Register),
    /// 101: one page of the other clients, by id, after `after` (all zero: from the start).
    ListClients {
        /// The last id of the previous page.
        after: ClientId,
    },
    /// 102: a client's key bundle and name by id.
    GetPublicKey(ClientId),
    /// 103: send a message of type 1, 2 or 3 (files go through uploads).
    SendMessage(SendMessage),
    /// 104: a batch of waiting messages, oldest first; nothing is removed.
    Pull(Pull),
    /// 105: remove delivered messages, 1 to [`MAX_ACK_IDS`] ids.
    Ack(Vec<u64>),
    /// 106: a client's id, key bundle and name by name.
    LookupName(Name),
    /// 110: start authentication.
    Hello(Hello),
    /// 111: the signed answer to the challenge.
    Authenticate([u8; SIGNATURE_LEN]),
    /// 112: push deliveries on this connection from now on.
    Subscribe,
    /// 113: keep-alive; the token is echoed.
    Ping(u64),
    /// 114: delete the caller's account, named again as a confirmation.
    DeleteAccount(Name),
    /// 120: begin an upload.
    UploadBegin(UploadBegin),
    /// 121: where does this upload stand.
    UploadResume(UploadId),
    /// 122: one chunk.
    UploadChunk(UploadChunk),
    /// 123: abandon an upload.
    UploadCancel(UploadId),
    /// 124: read part of a waiting file.
    Download(Download),
    /// 130: store key packages (none: report the stock).
    KeyPackagesUpload(KeyPackagesUpload),
    /// 131: claim one key package of each client, 1 to 100.
    KeyPackagesClaim(Vec<ClientId>),
    /// 132: create a room.
    RoomCreate(RoomCreate),
    /// 133: commit to a room.
    RoomCommit(RoomCommit),
    /// 134: send a room message.
    RoomSend(RoomSend),
    /// 135: room entries after the caller's cursors (the layout of 104).
    RoomPull(Pull),
    /// 136: move cursors, 1 to [`MAX_ACK_IDS`].
    RoomAck(Vec<RoomCursor>),
    /// 137: a room's state.
    RoomState(RoomId),
    /// 138: the caller's rooms.
    RoomList,
    /// 139: begin a room upload.
    RoomUploadBegin(RoomUploadBegin),
    /// 140: read part of a room's file.
    RoomDownload(RoomDownload),
    /// 141: show this connection or not, watch changes or not, and a page
    /// of who is online.
    Presence(Presence),
    /// 142: store the room's group info of its current epoch.
    RoomGroupInfo(RoomGroupInfo),
    /// 143: the public rooms.
    ListedRooms,
    /// 144: the public or hidden room of this exact name.
    FindRoom(RoomLabel),
    /// 145: the owner deletes the room, with its notice to the members.
    RoomDelete(RoomDelete),
    /// 146: an admin's OPAQUE registration request for the room's password.
    RoomPasswordRegister(RoomPake),
    /// 147: an admin's OPAQUE registration upload (the room's new record).
    RoomPasswordSet(RoomPake),
    /// 148: a joiner's OPAQUE credential request.
    RoomLogin(RoomPake),
    /// 149: a joiner's OPAQUE credential finalization.
    RoomLoginFinish(RoomPake),
    /// 150: hold a room file past the caller's cursor, or release it.
    RoomFileHold(RoomFileHold),
    /// 151: re-found a room a restored server holds at an older epoch, from
    /// the caller's group info and tree (the layout of 132).
    RoomRefound(RoomCreate),
}

impl Request {
    /// The request code.
    pub fn code(&self) -> RequestCode {
        match self {
            Self::Register(_) => RequestCode::Register,
            Self::ListClients { .. } => RequestCode::ListClients,
            Self::GetPublicKey(_) => RequestCode::GetPublicKey,
            Self::SendMessage(_) => RequestCode::SendMessage,
            Self::Pull(_) => RequestCode::Pull,
            Self::Ack(_) => RequestCode::Ack,
            Self::LookupName(_) => RequestCode::LookupName,
            Self::Hello(_) => RequestCode::Hello,
            Self::Authenticate(_) => RequestCode::Authenticate,
            Self::Subscribe => RequestCode::Subscribe,
            Self::Ping(_) => RequestCode::Ping,
            Self::DeleteAccount(_) => RequestCode::DeleteAccount,
            Self::UploadBegin(_) => RequestCode::UploadBegin,
            Self::UploadResume(_) => RequestCode::UploadResume,
            Self::UploadChunk(_) => RequestCode::UploadChunk,
            Self::UploadCancel(_) => RequestCode::UploadCancel,
            Self::Download(_) => RequestCode::Download,
            Self::KeyPackagesUpload(_) => RequestCode::KeyPackagesUpload,
            Self::KeyPackagesClaim(_) => RequestCode::KeyPackagesClaim,
            Self::RoomCreate(_) => RequestCode::RoomCreate,
            Self::RoomCommit(_) => RequestCode::RoomCommit,
            Self::RoomSend(_) => RequestCode::RoomSend,
            Self::RoomPull(_) => RequestCode::RoomPull,
            Self::RoomAck(_) => RequestCode::RoomAck,
            Self::RoomState(_) => RequestCode::RoomState,
            Self::RoomList => RequestCode::RoomList,
            Self::RoomUploadBegin(_) => RequestCode::RoomUploadBegin,
            Self::RoomDownload(_) => RequestCode::RoomDownload,
            Self::Presence(_) => RequestCode::Presence,
            Self::RoomGroupInfo(_) => RequestCode::RoomGroupInfo,
            Self::ListedRooms => RequestCode::ListedRooms,
            Self::FindRoom(_) => RequestCode::FindRoom,
            Self::RoomDelete(_) => RequestCode::RoomDelete,
            Self::RoomPasswordRegister(_) => RequestCode::RoomPasswordRegister,
            Self::RoomPasswordSet(_) => RequestCode::RoomPasswordSet,
            Self::RoomLogin(_) => RequestCode::RoomLogin,
            Self::RoomLoginFinish(_) => RequestCode::RoomLoginFinish,
            Self::RoomFileHold(_) => RequestCode::RoomFileHold,
            Self::RoomRefound(_) => RequestCode::RoomRefound,
        }
    }

    /// The largest payload this code may carry; larger frames are refused
    /// before they are read.
    pub fn max_payload_len(code: RequestCode) -> usize {
        match code {
            RequestCode::Register => crate::payload::REGISTER_LEN,
            RequestCode::ListClients | RequestCode::GetPublicKey => CLIENT_ID_LEN,
            RequestCode::UploadResume | RequestCode::UploadCancel => UPLOAD_ID_LEN,
            RequestCode::SendMessage => crate::payload::SEND_HEADER_LEN + MAX_MESSAGE_LEN,
            RequestCode::Pull => PULL_LEN,
            RequestCode::Ack => COUNT_LEN + MESSAGE_ID_LEN * MAX_ACK_IDS,
            RequestCode::LookupName | RequestCode::DeleteAccount => 1 + MAX_NAME_LEN,
            RequestCode::Hello => NONCE_LEN,
            RequestCode::Authenticate => SIGNATURE_LEN,
            RequestCode::Subscribe => 0,
            RequestCode::Ping => TOKEN_LEN,
            RequestCode::UploadBegin => UPLOAD_BEGIN_HEADER_LEN + MAX_FILE_META_LEN,
            RequestCode::UploadChunk => UPLOAD_CHUNK_HEADER_LEN + MAX_CHUNK_LEN,
            RequestCode::Download => DOWNLOAD_LEN,
            RequestCode::KeyPackagesUpload => KeyPackagesUpload::MAX_LEN,
            RequestCode::KeyPackagesClaim => claim::MAX_LEN,
            RequestCode::RoomCreate | RequestCode::RoomRefound => RoomCreate::MAX_LEN,
            RequestCode::RoomCommit => RoomCommit::MAX_LEN,
            RequestCode::RoomSend => RoomSend::MAX_LEN,
            RequestCode::RoomPull => PULL_LEN,
            RequestCode::RoomAck => RoomCursor::MAX_ACK_LEN,
            RequestCode::RoomState => ROOM_ID_LEN,
            RequestCode::RoomList => 0,
            RequestCode::RoomUploadBegin => RoomUploadBegin::MAX_LEN,
            RequestCode::RoomDownload => ROOM_DOWNLOAD_LEN,
            RequestCode::Presence => PRESENCE_LEN,
            RequestCode::RoomGroupInfo => RoomGroupInfo::MAX_LEN,
            RequestCode::ListedRooms => 0,
            RequestCode::FindRoom => FIND_ROOM_MAX_LEN,
            RequestCode::RoomDelete => RoomDelete::MAX_LEN,
            RequestCode::RoomPasswordRegister
            | RequestCode::RoomPasswordSet
            | RequestCode::RoomLogin
            | RequestCode::RoomLoginFinish => RoomPake::MAX_LEN,
            RequestCode::RoomFileHold => ROOM_FILE_HOLD_LEN,
        }
    }

    /// Parses a complete payload.
    ///
    /// # Errors
    /// The payload does not follow the layout of `code`.
    pub fn decode(code: RequestCode, payload: Bytes) -> Result<Self, PayloadError> {
        let len = payload.len();
        let mut r = Reader::new(payload);
        let request = match code {
            RequestCode::Register => return Ok(Self::Register(Register::decode(r.rest())?)),
            RequestCode::ListClients => {
                exact(len, CLIENT_ID_LEN)?;
                Self::ListClients {
                    after: ClientId::read(&mut r, "after")?,
                }
            }
            RequestCode::GetPublicKey => {
                exact(len, CLIENT_ID_LEN)?;
                Self::GetPublicKey(ClientId::read(&mut r, "client id")?)
            }
            RequestCode::SendMessage => {
                let m = SendMessage::decode(r.rest())?;
                if m.kind == MessageKind::File {
                    return Err(PayloadError::BadMessageType(m.kind.code()));
                }
                check_range(
                    "content size",
                    m.content.len() as u64,
                    0,
                    MAX_MESSAGE_LEN as u64,
                )?;
                return Ok(Self::SendMessage(m));
            }
            RequestCode::Pull => {
                exact(len, PULL_LEN)?;
                Self::Pull(Pull {
                    max_messages: r.u16("max messages")?,
                    max_bytes: r.u32("max bytes")?,
                })
            }
            RequestCode::Ack => {
                let count = r.u16("id count")? as usize;
                check_range("id count", count as u64, 1, MAX_ACK_IDS as u64)?;
                exact(len, COUNT_LEN + MESSAGE_ID_LEN * count)?;
                let mut ids = Vec::with_capacity(count);
                for _ in 0..count {
                    ids.push(r.u64("message id")?);
                }
                Self::Ack(ids)
            }
            RequestCode::LookupName => Self::LookupName(Name::read_short(&mut r)?),
            RequestCode::DeleteAccount => Self::DeleteAccount(Name::read_short(&mut r)?),
            RequestCode::Hello => {
                exact(len, NONCE_LEN)?;
                Self::Hello(Hello {
                    client_nonce: r.array("client nonce")?,
                })
            }
            RequestCode::Authenticate => {
                exact(len, SIGNATURE_LEN)?;
                Self::Authenticate(r.array("signature")?)
            }
            RequestCode::Subscribe => {
                exact(len, 0)?;
                Self::Subscribe
            }
            RequestCode::Ping => {
                exact(len, TOKEN_LEN)?;
                Self::Ping(r.u64("token")?)
            }
            RequestCode::UploadBegin => {
                let destination = ClientId::read(&mut r, "destination")?;
                let file_size = r.u64("file size")?;
                check_range("file size", file_size, 1, u64::MAX)?;
                let meta_len = r.u16("meta length")? as usize;
                check_range("meta length", meta_len as u64, 0, MAX_FILE_META_LEN as u64)?;
                let meta = r.bytes("meta", meta_len)?;
                Self::UploadBegin(UploadBegin {
                    destination,
                    file_size,
                    meta,
                })
            }
            RequestCode::UploadResume => {
                exact(len, UPLOAD_ID_LEN)?;
                Self::UploadResume(UploadId::read(&mut r)?)
            }
            RequestCode::UploadChunk => {
                let upload_id = UploadId::read(&mut r)?;
                let offset = r.u64("offset")?;
                let data = r.rest();
                check_range("chunk size", data.len() as u64, 1, MAX_CHUNK_LEN as u64)?;
                Self::UploadChunk(UploadChunk {
                    upload_id,
                    offset,
                    data,
                })
            }
            RequestCode::UploadCancel => {
                exact(len, UPLOAD_ID_LEN)?;
                Self::UploadCancel(UploadId::read(&mut r)?)
            }
            RequestCode::Download => {
                exact(len, DOWNLOAD_LEN)?;
                let message_id = r.u64("message id")?;
                let offset = r.u64("offset")?;
                let max_len = r.u32("max length")?;
                check_range("max length", max_len.into(), 1, MAX_CHUNK_LEN as u64)?;
                Self::Download(Download {
                    message_id,
                    offset,
                    max_len,
                })
            }
            RequestCode::KeyPackagesUpload => {
                Self::KeyPackagesUpload(KeyPackagesUpload::read(&mut r)?)
            }
            RequestCode::KeyPackagesClaim => Self::KeyPackagesClaim(claim::read(&mut r)?),
            RequestCode::RoomCreate => Self::RoomCreate(RoomCreate::read(&mut r)?),
            RequestCode::RoomRefound => Self::RoomRefound(RoomCreate::read(&mut r)?),
            RequestCode::RoomCommit => Self::RoomCommit(RoomCommit::read(&mut r)?),
            RequestCode::RoomSend => Self::RoomSend(RoomSend::read(&mut r)?),
            RequestCode::RoomPull => {
                exact(len, PULL_LEN)?;
                Self::RoomPull(Pull {
                    max_messages: r.u16("max entries")?,
                    max_bytes: r.u32("max bytes")?,
                })
            }
            RequestCode::RoomAck => Self::RoomAck(RoomCursor::read_all(&mut r)?),
            RequestCode::RoomState => {
                exact(len, ROOM_ID_LEN)?;
                Self::RoomState(RoomId::read(&mut r)?)
            }
            RequestCode::RoomList => {
                exact(len, 0)?;
                Self::RoomList
            }
            RequestCode::RoomUploadBegin => Self::RoomUploadBegin(RoomUploadBegin::read(&mut r)?),
            RequestCode::RoomDownload => {
                exact(len, ROOM_DOWNLOAD_LEN)?;
                Self::RoomDownload(RoomDownload::read(&mut r)?)
            }
            RequestCode::RoomFileHold => {
                exact(len, ROOM_FILE_HOLD_LEN)?;
                Self::RoomFileHold(RoomFileHold::read(&mut r, "hold")?)
            }
            RequestCode::Presence => {
                exact(len, PRESENCE_LEN)?;
                Self::Presence(Presence::read(&mut r)?)
            }
            RequestCode::RoomGroupInfo => Self::RoomGroupInfo(RoomGroupInfo::read(&mut r)?),
            RequestCode::ListedRooms => {
                exact(len, 0)?;
                Self::ListedRooms
            }
            RequestCode::FindRoom => Self::FindRoom(read_find(&mut r)?),
            RequestCode::RoomDelete => Self::RoomDelete(RoomDelete::read(&mut r)?),
            RequestCode::RoomPasswordRegister => {
                Self::RoomPasswordRegister(RoomPake::read(&mut r)?)
            }
            RequestCode::RoomPasswordSet => Self::RoomPasswordSet(RoomPake::read(&mut r)?),
            RequestCode::RoomLogin => Self::RoomLogin(RoomPake::read(&mut r)?),
            RequestCode::RoomLoginFinish => Self::RoomLoginFinish(RoomPake::read(&mut r)?),
        };
        r.finish()?;
        Ok(request)
    }

    /// Appends the payload.
    ///
    /// # Errors
    /// A value outside the limits of its field (content, ack count, meta, chunk).
    pub fn encode_payload(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match self {
            Self::Register(r) => r.encode(dst),
            Self::ListClients { after } => after.write(dst),
            Self::GetPublicKey(id) => id.write(dst),
            Self::SendMessage(m) => {
                limit("message content", m.content.len(), MAX_MESSAGE_LEN)?;
                m.encode(dst)?;
            }
            Self::Pull(p) => {
                put_u16(dst, p.max_messages);
                put_u32(dst, p.max_bytes);
            }
            Self::Ack(ids) => {
                limit("acknowledged ids", ids.len(), MAX_ACK_IDS)?;
                put_u16(dst, ids.len() as u16);
                for id in ids {
                    put_u64(dst, *id);
                }
            }
            Self::LookupName(name) | Self::DeleteAccount(name) => name.write_short(dst),
            Self::Hello(h) => dst.put_slice(&h.client_nonce),
            Self::Authenticate(sig) => dst.put_slice(sig),
            Self::Subscribe => {}
            Self::Ping(token) => put_u64(dst, *token),
            Self::UploadBegin(u) => {
                limit("file meta", u.meta.len(), MAX_FILE_META_LEN)?;
                u.destination.write(dst);
                put_u64(dst, u.file_size);
                put_u16(dst, u.meta.len() as u16);
                dst.put_slice(&u.meta);
            }
            Self::UploadResume(id) | Self::UploadCancel(id) => id.write(dst),
            Self::UploadChunk(c) => {
                limit("chunk", c.data.len(), MAX_CHUNK_LEN)?;
                c.upload_id.write(dst);
                put_u64(dst, c.offset);
                dst.put_slice(&c.data);
            }
            Self::Download(d) => {
                put_u64(dst, d.message_id);
                put_u64(dst, d.offset);
                put_u32(dst, d.max_len);
            }
            Self::KeyPackagesUpload(u) => u.write(dst)?,
            Self::KeyPackagesClaim(ids) => claim::write(ids, dst)?,
            Self::RoomCreate(c) | Self::RoomRefound(c) => c.write(dst)?,
            Self::RoomCommit(c) => c.write(dst)?,
            Self::RoomSend(m) => m.write(dst)?,
            Self::RoomPull(p) => {
                put_u16(dst, p.max_messages);
                put_u32(dst, p.max_bytes);
            }
            Self::RoomAck(cursors) => RoomCursor::write_all(cursors, dst)?,
            Self::RoomState(room) => room.write(dst),
            Self::RoomList => {}
            Self::RoomUploadBegin(u) => u.write(dst)?,
            Self::RoomDownload(d) => d.write(dst),
            Self::RoomFileHold(h) => h.write(dst),
            Self::Presence(p) => p.write(dst),
            Self::RoomGroupInfo(g) => g.write(dst)?,
            Self::ListedRooms => {}
            Self::FindRoom(name) => write_find(name, dst),
            Self::RoomDelete(d) => d.write(dst)?,
            Self::RoomPasswordRegister(p)
            | Self::RoomPasswordSet(p)
            | Self::RoomLogin(p)
            | Self::RoomLoginFinish(p) => p.write(dst)?,
        }
        Ok(())
    }
}

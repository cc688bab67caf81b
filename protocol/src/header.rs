//! Frame headers and the request and response code tables of both versions.
//!
//! ```text
//! request header (22 bytes)
//!  0               16   17   18                  22
//!  +----------------+----+----+-------------------+----------------
//!  | client id (16) | ver| code| payload size u32 | payload ...
//!  +----------------+----+----+-------------------+----------------
//!
//! response header (7 bytes)
//!  0    1         3                   7
//!  +----+---------+-------------------+----------------
//!  | ver| code u16| payload size u32  | payload ...
//!  +----+---------+-------------------+----------------
//! ```
//! All integers little-endian. The header says nothing about meaning; the
//! code tables here say which codes exist in which version.

use bytes::{Buf, BufMut, BytesMut};

use crate::types::ClientId;
use crate::{PROTOCOL_V2, PROTOCOL_V3};

/// Size of a request header.
pub const REQUEST_HEADER_LEN: usize = 22;
/// Size of a response header.
pub const RESPONSE_HEADER_LEN: usize = 7;

/// The fixed part in front of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    /// The sender's client id (all zero when it has none yet).
    pub client_id: ClientId,
    /// Protocol version, 2 or 3.
    pub version: u8,
    /// Request code.
    pub code: u8,
    /// Payload size in bytes.
    pub payload_len: u32,
}

impl RequestHeader {
    /// Reads a header from the first [`REQUEST_HEADER_LEN`] bytes of `src`.
    /// Returns `None` if fewer bytes are there. Consumes nothing.
    pub fn peek(src: &[u8]) -> Option<Self> {
        let mut b = src.get(..REQUEST_HEADER_LEN)?;
        let mut id = [0u8; 16];
        b.copy_to_slice(&mut id);
        Some(Self {
            client_id: ClientId(id),
            version: b.get_u8(),
            code: b.get_u8(),
            payload_len: b.get_u32_le(),
        })
    }

    /// Appends the header's 22 bytes.
    pub fn write(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.client_id.0);
        dst.put_u8(self.version);
        dst.put_u8(self.code);
        dst.put_u32_le(self.payload_len);
    }
}

/// The fixed part in front of every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    /// Protocol version, 2 or 3 (the version of the request answered).
    pub version: u8,
    /// Response code.
    pub code: u16,
    /// Payload size in bytes.
    pub payload_len: u32,
}

impl ResponseHeader {
    /// Reads a header from the first [`RESPONSE_HEADER_LEN`] bytes of `src`.
    /// Returns `None` if fewer bytes are there. Consumes nothing.
    pub fn peek(src: &[u8]) -> Option<Self> {
        let mut b = src.get(..RESPONSE_HEADER_LEN)?;
        Some(Self {
            version: b.get_u8(),
            code: b.get_u16_le(),
            payload_len: b.get_u32_le(),
        })
    }

    /// Appends the header's 7 bytes.
    pub fn write(&self, dst: &mut BytesMut) {
        dst.put_u8(self.version);
        dst.put_u16_le(self.code);
        dst.put_u32_le(self.payload_len);
    }
}

macro_rules! code_table {
    (
        $(#[$meta:meta])*
        $name:ident: $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, v2: $v2:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )*
        }

        impl $name {
            /// Every code, in table order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The wire value.
            pub fn value(self) -> $repr {
                self as $repr
            }

            /// The code for a wire value in a protocol version, if it exists there.
            pub fn from_wire(version: u8, value: $repr) -> Option<Self> {
                match value {
                    $( $value if version == PROTOCOL_V3 || (version == PROTOCOL_V2 && $v2) => Some(Self::$variant), )*
                    _ => None,
                }
            }

            /// Whether version 2 has this code (every code exists in version 3).
            pub fn in_v2(self) -> bool {
                match self {
                    $( Self::$variant => $v2, )*
                }
            }
        }
    };
}

code_table! {
    /// Request codes. Codes 100 to 104 exist in both versions, the rest only in version 3.
    RequestCode: u8 {
        /// 100: register a name and public key.
        Register = 100, v2: true,
        /// 101: list the other clients.
        ListClients = 101, v2: true,
        /// 102: fetch a client's public key by id.
        GetPublicKey = 102, v2: true,
        /// 103: send a message.
        SendMessage = 103, v2: true,
        /// 104: pull waiting messages.
        Pull = 104, v2: true,
        /// 105: acknowledge messages (version 3).
        Ack = 105, v2: false,
        /// 106: fetch a client's id and public key by name (version 3).
        LookupName = 106, v2: false,
        /// 110: start authentication (version 3).
        Hello = 110, v2: false,
        /// 111: answer the server's challenge (version 3).
        Authenticate = 111, v2: false,
        /// 112: subscribe to pushed deliveries (version 3).
        Subscribe = 112, v2: false,
        /// 113: keep-alive (version 3).
        Ping = 113, v2: false,
        /// 114: the caller deletes its own account (version 3).
        DeleteAccount = 114, v2: false,
        /// 120: begin a file upload (version 3).
        UploadBegin = 120, v2: false,
        /// 121: ask where an unfinished upload stands (version 3).
        UploadResume = 121, v2: false,
        /// 122: send one chunk of an upload (version 3).
        UploadChunk = 122, v2: false,
        /// 123: abandon an unfinished upload (version 3).
        UploadCancel = 123, v2: false,
        /// 124: read a range of a waiting file (version 3).
        Download = 124, v2: false,
        /// 130: upload key packages, or report the stock (version 3).
        KeyPackagesUpload = 130, v2: false,
        /// 131: claim one key package of each of some clients (version 3).
        KeyPackagesClaim = 131, v2: false,
        /// 132: create a room (version 3).
        RoomCreate = 132, v2: false,
        /// 133: commit to a room, with the welcome of the members it adds (version 3).
        RoomCommit = 133, v2: false,
        /// 134: send an application message or a leave proposal to a room (version 3).
        RoomSend = 134, v2: false,
        /// 135: pull room entries after the caller's cursors (version 3).
        RoomPull = 135, v2: false,
        /// 136: move the caller's room cursors (version 3).
        RoomAck = 136, v2: false,
        /// 137: a room's epoch, last entry and members (version 3).
        RoomState = 137, v2: false,
        /// 138: the caller's rooms (version 3).
        RoomList = 138, v2: false,
        /// 139: begin uploading a file to a room (version 3).
        RoomUploadBegin = 139, v2: false,
        /// 140: read a range of a room's file (version 3).
        RoomDownload = 140, v2: false,
        /// 141: list who is online; show this connection, watch changes (version 3).
        Presence = 141, v2: false,
        /// 142: store a room's group info for joiners (version 3).
        RoomGroupInfo = 142, v2: false,
        /// 143: the public rooms (version 3).
        ListedRooms = 143, v2: false,
        /// 144: a public or hidden room by its exact name (version 3).
        FindRoom = 144, v2: false,
        /// 145: the owner deletes a room (version 3).
        RoomDelete = 145, v2: false,
        /// 146: an admin starts registering a room's password (version 3).
        RoomPasswordRegister = 146, v2: false,
        /// 147: an admin uploads a room's password record (version 3).
        RoomPasswordSet = 147, v2: false,
        /// 148: a joiner starts proving a room's password (version 3).
        RoomLogin = 148, v2: false,
        /// 149: a joiner finishes proving a room's password (version 3).
        RoomLoginFinish = 149, v2: false,
        /// 150: a member holds a room file past its cursor, or releases it (version 3).
        RoomFileHold = 150, v2: false,
        /// 151: a member takes up a room a restored server holds behind (version 3).
        RoomRefound = 151, v2: false,
    }
}

code_table! {
    /// Response codes. 1000 to 1004 and 9000 exist in both versions, the rest only in version 3.
    ResponseCode: u16 {
        /// 1000: registered; carries the new client id.
        Registered = 1000, v2: true,
        /// 1001: the client list.
        ClientList = 1001, v2: true,
        /// 1002: a client's public key.
        PublicKey = 1002, v2: true,
        /// 1003: the message is stored.
        MessageStored = 1003, v2: true,
        /// 1004: waiting messages.
        Messages = 1004, v2: true,
        /// 1005: acknowledgement results (version 3).
        Acked = 1005, v2: false,
        /// 1100: the server's challenge and proof of identity (version 3).
        Challenge = 1100, v2: false,
        /// 1101: authenticated; carries the server's limits (version 3).
        Authenticated = 1101, v2: false,
        /// 1102: subscribed (version 3).
        Subscribed = 1102, v2: false,
        /// 1103: answer to a ping (version 3).
        Pong = 1103, v2: false,
        /// 1104: a pushed delivery; unsolicited (version 3).
        Delivery = 1104, v2: false,
        /// 1105: the server is closing the connection; unsolicited (version 3).
        Closing = 1105, v2: false,
        /// 1106: the caller's account is deleted (version 3).
        AccountDeleted = 1106, v2: false,
        /// 1200: where an upload stands (version 3).
        UploadStatus = 1200, v2: false,
        /// 1201: a chunk is stored (version 3).
        ChunkStored = 1201, v2: false,
        /// 1202: the upload is complete and became a file message (version 3).
        FileSent = 1202, v2: false,
        /// 1203: the upload is cancelled (version 3).
        UploadCancelled = 1203, v2: false,
        /// 1204: a range of a file (version 3).
        FileChunk = 1204, v2: false,
        /// 1300: the caller's key package stock (version 3).
        KeyPackageStock = 1300, v2: false,
        /// 1301: claimed key packages (version 3).
        KeyPackages = 1301, v2: false,
        /// 1302: the room is created (version 3).
        RoomCreated = 1302, v2: false,
        /// 1303: the commit is in the room's log (version 3).
        CommitAccepted = 1303, v2: false,
        /// 1304: the room message is in the room's log (version 3).
        RoomMessageStored = 1304, v2: false,
        /// 1305: room entries (version 3).
        RoomEntries = 1305, v2: false,
        /// 1306: room acknowledgement results (version 3).
        RoomAcked = 1306, v2: false,
        /// 1307: a room's state (version 3).
        RoomStatus = 1307, v2: false,
        /// 1308: the caller's rooms (version 3).
        RoomList = 1308, v2: false,
        /// 1310: a pushed room entry; unsolicited (version 3).
        RoomDelivery = 1310, v2: false,
        /// 1311: the caller's key package stock runs low; unsolicited (version 3).
        KeyPackagesLow = 1311, v2: false,
        /// 1312: a page of the clients online now (version 3).
        Online = 1312, v2: false,
        /// 1313: who came online or went offline; unsolicited (version 3).
        PresenceChanges = 1313, v2: false,
        /// 1314: the room's group info is stored (version 3).
        GroupInfoStored = 1314, v2: false,
        /// 1315: the public rooms (version 3).
        ListedRooms = 1315, v2: false,
        /// 1316: a room found by name, with its group info (version 3).
        RoomFound = 1316, v2: false,
        /// 1317: the room is deleted (version 3).
        RoomDeleted = 1317, v2: false,
        /// 1318: the server's OPAQUE registration response (version 3).
        RoomPasswordChallenge = 1318, v2: false,
        /// 1319: the room's password record is stored (version 3).
        RoomPasswordStored = 1319, v2: false,
        /// 1320: the server's OPAQUE credential response (version 3).
        RoomLoginChallenge = 1320, v2: false,
        /// 1321: the password is proven; the connection may join (version 3).
        RoomLoginAccepted = 1321, v2: false,
        /// 1322: whether the caller holds the room file now (version 3).
        RoomFileHeld = 1322, v2: false,
        /// 1323: the server holds the re-founded room at its new epoch (version 3).
        RoomRefounded = 1323, v2: false,
        /// 9000: the request failed.
        Error = 9000, v2: true,
    }
}

impl RequestCode {
    /// Whether this is a room or key package code (130 to 140 and 142 to
    /// 144, PROTOCOL.md "Rooms").
    pub fn is_room(self) -> bool {
        let code = self.value();
        (130..=140).contains(&code) || (142..=144).contains(&code)
    }
}

impl ResponseCode {
    /// Whether the server sends this frame without a request to answer.
    pub fn is_unsolicited(self) -> bool {
        matches!(
            self,
            Self::Delivery
                | Self::Closing
                | Self::RoomDelivery
                | Self::KeyPackagesLow
                | Self::PresenceChanges
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_layout() {
        let header = RequestHeader {
            client_id: ClientId([0xab; 16]),
            version: 3,
            code: 103,
            payload_len: 0x0102_0304,
        };
        let mut buf = BytesMut::new();
        header.write(&mut buf);
        assert_eq!(buf.len(), REQUEST_HEADER_LEN);
        assert_eq!(&buf[16..], &[3, 103, 0x04, 0x03, 0x02, 0x01]);
        assert_eq!(RequestHeader::peek(&buf), Some(header));
        assert_eq!(RequestHeader::peek(&buf[..21]), None);
    }

    #[test]
    fn response_header_layout() {
        let header = ResponseHeader {
            version: 2,
            code: 9000,
            payload_len: 5,
        };
        let mut buf = BytesMut::new();
        header.write(&mut buf);
        assert_eq!(&buf[..], &[2, 0x28, 0x23, 5, 0, 0, 0]);
        assert_eq!(ResponseHeader::peek(&buf), Some(header));
    }

    #[test]
    fn codes_exist_in_the_right_versions() {
        assert_eq!(RequestCode::from_wire(2, 100), Some(RequestCode::Register));
        assert_eq!(RequestCode::from_wire(2, 105), None);
        assert_eq!(RequestCode::from_wire(3, 105), Some(RequestCode::Ack));
        assert_eq!(RequestCode::from_wire(4, 100), None);
        assert_eq!(RequestCode::from_wire(3, 99), None);
        assert_eq!(
            ResponseCode::from_wire(2, 1004),
            Some(ResponseCode::Messages)
        );
        assert_eq!(ResponseCode::from_wire(2, 1104), None);
        assert_eq!(ResponseCode::from_wire(3, 9000), Some(ResponseCode::Error));
        for code in RequestCode::ALL {
            assert_eq!(RequestCode::from_wire(3, code.value()), Some(*code));
        }
        for code in ResponseCode::ALL {
            assert_eq!(ResponseCode::from_wire(3, code.value()), Some(*code));
        }
    }
}

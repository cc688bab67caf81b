//! The Sealpost wire protocol: every byte of versions 2 and 3.
//!
//! This crate turns bytes into typed values and back, and nothing else: no
//! sockets, files, runtime or cryptography. What the server must not
//! interpret (ciphertext, keys, signatures) travels as opaque bytes or
//! fixed-size arrays. PROTOCOL.md at the repository root documents the same
//! format for people, and its example frames are this crate's test vectors.
//!
//! - [`header`]: the 22-byte request and 7-byte response headers, code tables.
//! - [`v2`] and [`v3`]: typed requests and responses of each version.
//! - [`codec`]: `tokio_util` decoders and encoders for server and client, with
//!   streaming of large version-2 bodies; [`gather`] reads one whole response
//!   from the client decoder's items.
//! - [`auth`] and [`bundle`]: the exact bytes signed in the handshake and the
//!   layout of the 160-byte key bundle.
//! - [`notation`]: the hex notation of PROTOCOL.md's examples.
//!
//! ```
//! use bytes::BytesMut;
//! use protocol::{ClientId, Request, RequestFrame, codec::{Inbound, ServerCodec}, v3};
//! use tokio_util::codec::Decoder;
//!
//! let frame = RequestFrame { client_id: ClientId([7; 16]), request: Request::V3(v3::Request::Ping(42)) };
//! let mut buf = BytesMut::new();
//! frame.encode(&mut buf).unwrap();
//! let decoded = ServerCodec::default().decode(&mut buf).unwrap();
//! assert_eq!(decoded, Some(Inbound::Request(frame)));
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod auth;
pub mod bundle;
pub mod codec;
pub mod error;
pub mod frame;
pub mod gather;
pub mod header;
pub mod names;
pub mod notation;
mod payload;
pub mod types;
pub mod v2;
pub mod v3;
mod wire;

pub use error::{ErrorReason, PayloadError, ProtocolError};
pub use frame::{Request, RequestFrame, Response};
pub use header::{RequestCode, RequestHeader, ResponseCode, ResponseHeader};
pub use types::{ClientId, MessageKind, Name, PublicKey, RoomId, UploadId};

/// Version byte of the documented reference protocol.
pub const PROTOCOL_V2: u8 = 2;
/// Version byte of the extended protocol.
pub const PROTOCOL_V3: u8 = 3;

/// Size of a client id.
pub const CLIENT_ID_LEN: usize = 16;
/// Size of the name field in register and the version-2 client list.
pub const NAME_FIELD_LEN: usize = 255;
/// Longest name in bytes (the field keeps one byte for the NUL).
pub const MAX_NAME_LEN: usize = 254;
/// Size of the public key field.
pub const PUBLIC_KEY_LEN: usize = 160;

/// Largest upload chunk and download range (version 3).
pub const MAX_CHUNK_LEN: usize = 1024 * 1024;
/// Largest content of a version-3 send (types 1 to 3).
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;
/// Largest metadata attached to an upload (version 3).
pub const MAX_FILE_META_LEN: usize = 4096;
/// Largest text in an error or closing frame (version 3).
pub const MAX_ERROR_TEXT_LEN: usize = 1024;
/// Most ids in one acknowledgement (version 3).
pub const MAX_ACK_IDS: usize = 4096;
/// Most clients on one page of the version-3 client list.
pub const MAX_LIST_PAGE: usize = 1000;
/// Most messages one version-3 pull may return.
pub const MAX_PULL_MESSAGES: u16 = 1000;
/// Most payload bytes one version-3 pull may return.
pub const MAX_PULL_BYTES: u32 = 1024 * 1024;
/// Largest payload of any version-3 frame, in either direction: an upload
/// chunk or a download range with its 24- or 16-byte prefix, with room to spare.
pub const MAX_FRAME_LEN: usize = MAX_CHUNK_LEN + 64;

/// Largest MLS message a room payload carries (version 3): a commit and its
/// welcome together (133), a group info and ratchet tree together (132), a
/// room message (134), the bytes of a room entry (1305, 1310) and the welcome
/// of a type-5 message. 64 bytes under [`MAX_CHUNK_LEN`], so that each fits in
/// a frame of [`MAX_FRAME_LEN`] with its fixed fields (at most 80 bytes, a
/// room entry in a 1305 answer).
pub const MAX_ROOM_MESSAGE_LEN: usize = MAX_CHUNK_LEN - 64;
/// Largest key package (version 3); ours are about 400 bytes.
pub const MAX_KEY_PACKAGE_LEN: usize = 4096;
/// Most key packages in one upload (130) or claim (131), and the most
/// one-time key packages the server stores for one client.
pub const MAX_KEY_PACKAGES: usize = 100;
/// Most members of a room, and of a 1307 answer.
pub const MAX_ROOM_MEMBERS: usize = 1000;
/// Most rooms in a 1308 answer.
pub const MAX_ROOM_LIST: usize = 4096;
/// Most changes in one presence push (1313): 17 bytes each, so a push
/// always fits in a frame.
pub const MAX_PRESENCE_CHANGES: usize = 60_000;

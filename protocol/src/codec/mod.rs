//! `tokio_util` codecs for both ends of a connection.
//!
//! [`ServerCodec`] decodes requests and encodes responses; [`ClientCodec`]
//! does the opposite. Both check the header's payload size against the
//! limit for that code *before* reserving or reading a payload byte, so a
//! peer can never make us allocate more than [`crate::MAX_FRAME_LEN`] (or the
//! configured version-2 limits) per frame.
//!
//! Version-2 frames can be up to 4 GiB (a file in one send, or a pull that
//! carries files). Those above [`V2_STREAM_THRESHOLD`] are decoded as a header
//! item followed by body pieces of at most [`STREAM_PIECE_LEN`] bytes, so that
//! a server can stream a file to disk and a client can stream a pull, holding
//! one piece at a time. Encoding mirrors this: [`ResponsePart`] and
//! [`RequestPart`] carry whole frames or the pieces of a streamed one.

use bytes::{Bytes, BytesMut};

use crate::error::{PayloadError, ProtocolError};
use crate::header::{RequestCode, ResponseCode};
use crate::payload::{REGISTER_LEN, SEND_HEADER_LEN};
use crate::v2::{self};
use crate::{CLIENT_ID_LEN, PROTOCOL_V2, PUBLIC_KEY_LEN, v3};

mod client;
mod server;

pub use client::{
    ClientCodec, PullCollector, RequestPart, ResponseItem, V2SendStart, decode_response,
};
pub use server::{Inbound, ResponsePart, ServerCodec, V2PullStart};

/// Version-2 sends and pulls with a payload above this size are streamed.
pub const V2_STREAM_THRESHOLD: usize = 64 * 1024;
/// Largest body piece the decoders hand out at once.
pub const STREAM_PIECE_LEN: usize = 64 * 1024;
/// Default bound on a version-2 client list (1001) a client accepts: about
/// 250,000 clients.
pub const DEFAULT_V2_MAX_LIST_LEN: u32 = 64 * 1024 * 1024;

/// Limits a codec enforces beyond the fixed ones of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecLimits {
    /// Largest content of a version-2 send the server accepts.
    pub v2_max_content: u32,
    /// Largest version-2 client list a client accepts.
    pub v2_max_list_len: u32,
}

impl Default for CodecLimits {
    fn default() -> Self {
        Self {
            v2_max_content: v2::MAX_CONTENT_LEN,
            v2_max_list_len: DEFAULT_V2_MAX_LIST_LEN,
        }
    }
}

/// The smallest and largest payload a request code accepts in a version.
pub fn request_payload_bounds(version: u8, code: RequestCode, limits: &CodecLimits) -> (u64, u64) {
    if version == PROTOCOL_V2 {
        return match code {
            RequestCode::Register => (REGISTER_LEN as u64, REGISTER_LEN as u64),
            RequestCode::GetPublicKey => (CLIENT_ID_LEN as u64, CLIENT_ID_LEN as u64),
            RequestCode::SendMessage => (
                SEND_HEADER_LEN as u64,
                SEND_HEADER_LEN as u64 + u64::from(limits.v2_max_content.min(v2::MAX_CONTENT_LEN)),
            ),
            _ => (0, 0),
        };
    }
    let max = v3::Request::max_payload_len(code) as u64;
    let fixed = matches!(
        code,
        RequestCode::Register
            | RequestCode::ListClients
            | RequestCode::GetPublicKey
            | RequestCode::Pull
            | RequestCode::Hello
            | RequestCode::Authenticate
            | RequestCode::Subscribe
            | RequestCode::Ping
            | RequestCode::UploadResume
            | RequestCode::UploadCancel
            | RequestCode::Download
            | RequestCode::RoomPull
            | RequestCode::RoomState
            | RequestCode::RoomList
            | RequestCode::RoomDownload
            | RequestCode::Presence
            | RequestCode::ListedRooms
    );
    (if fixed { max } else { 0 }, max)
}

/// The largest payload a response code accepts in a version.
pub fn response_payload_max(version: u8, code: ResponseCode, limits: &CodecLimits) -> u64 {
    if version == PROTOCOL_V2 {
        return match code {
            ResponseCode::Registered => CLIENT_ID_LEN as u64,
            ResponseCode::ClientList => limits.v2_max_list_len.into(),
            ResponseCode::PublicKey => (CLIENT_ID_LEN + PUBLIC_KEY_LEN) as u64,
            ResponseCode::MessageStored => CLIENT_ID_LEN as u64 + 4,
            ResponseCode::Messages => u32::MAX.into(),
            _ => 0,
        };
    }
    v3::Response::max_payload_len(code) as u64
}

/// Raw body bytes of a streamed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(pub Bytes);

fn oversize(version: u8, code: u16, len: u64, min: u64, max: u64) -> ProtocolError {
    if min == max {
        ProtocolError::InvalidPayload {
            version,
            code,
            source: PayloadError::WrongSize {
                expected: max as usize,
                actual: len as usize,
            },
        }
    } else {
        ProtocolError::FrameTooLarge {
            version,
            code,
            len: len as u32,
            max,
        }
    }
}

/// Takes the next body piece, waiting until a full piece (or the rest of the
/// body, if shorter) is buffered so that pieces are not needlessly small.
fn take_piece(src: &mut BytesMut, remaining: u64) -> Option<Bytes> {
    let want = remaining.min(STREAM_PIECE_LEN as u64) as usize;
    if src.len() < want {
        src.reserve(want - src.len());
        return None;
    }
    Some(src.split_to(want).freeze())
}

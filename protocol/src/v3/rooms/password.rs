//! The payloads of room passwords (PROTOCOL.md "Passwords (146 to 149)"):
//! OPAQUE registration of a room's password by an admin (146 answered by
//! 1318, 147 by 1319) and a joiner's login (148 answered by 1320, 149 by
//! 1321).
//!
//! ```text
//! 146, 147, 148, 149, 1318, 1320:  room id [16] | len u16 | OPAQUE message [len]   len 1..1024
//! 1319, 1321:                      room id [16]
//! ```
//!
//! The OPAQUE messages are opaque here: the `sealpost-rooms` crate makes
//! and reads them (`opaque-ke`); this crate only bounds their length.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::layout::{COUNT_LEN, limit};
use super::ROOM_ID_LEN;
use crate::error::{PayloadError, ProtocolError};
use crate::types::RoomId;
use crate::wire::{Reader, check_range, put_u16};

/// Longest OPAQUE message a password payload carries (the largest one of
/// the cipher suite in use is 320 bytes).
pub const MAX_PAKE_MESSAGE_LEN: usize = 1024;

/// One step of OPAQUE for a room: requests 146 to 149 and answers 1318 and
/// 1320.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomPake {
    /// The room (OPAQUE's credential identifier).
    pub room: RoomId,
    /// The OPAQUE message, 1 to [`MAX_PAKE_MESSAGE_LEN`] bytes.
    pub message: Bytes,
}

impl RoomPake {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize = ROOM_ID_LEN + COUNT_LEN + MAX_PAKE_MESSAGE_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let len = r.u16("OPAQUE message length")? as usize;
        check_range(
            "OPAQUE message length",
            len as u64,
            1,
            MAX_PAKE_MESSAGE_LEN as u64,
        )?;
        Ok(Self {
            room,
            message: r.bytes("OPAQUE message", len)?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("OPAQUE message", self.message.len(), MAX_PAKE_MESSAGE_LEN)?;
        self.room.write(dst);
        // At most MAX_PAKE_MESSAGE_LEN (1024): checked above.
        put_u16(dst, self.message.len() as u16);
        dst.put_slice(&self.message);
        Ok(())
    }
}

//! The payload of holding a room file (PROTOCOL.md "Holding a room file
//! (150)"): a member asks the server to keep one room entry that names a
//! file, and its blob, after its cursor moves past it, or lets it go. The
//! request and its answer share one layout.
//!
//! ```text
//! 150:   room id [16] | seq u64 | hold u8      hold 1 hold, 0 release
//! 1322:  room id [16] | seq u64 | held u8      held 1: the caller holds the entry now
//! ```
//!
//! What the server keeps, and for how long, is its business (the limits
//! are in PROTOCOL.md); here only the bytes.

use bytes::BytesMut;

use super::{ROOM_ID_LEN, SEQ_LEN};
use crate::error::PayloadError;
use crate::types::RoomId;
use crate::wire::{Reader, put_u64};

/// Size of a 150 or 1322 payload: room id, seq, flag.
pub(in crate::v3) const ROOM_FILE_HOLD_LEN: usize = ROOM_ID_LEN + SEQ_LEN + 1;

/// Most room entries one member may hold at once, across its rooms; the
/// server refuses one more with `TOO_MANY_HOLDS`.
pub const MAX_ROOM_FILE_HOLDS: u32 = 64;

/// Request 150 (hold or release a room entry naming a file) and its answer
/// 1322 (whether the caller holds it now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomFileHold {
    /// The room.
    pub room: RoomId,
    /// The entry naming the file.
    pub seq: u64,
    /// In 150: `true` holds, `false` releases. In 1322: `true` when the
    /// caller holds the entry after the request.
    pub hold: bool,
}

impl RoomFileHold {
    pub(in crate::v3) fn read(r: &mut Reader, flag: &'static str) -> Result<Self, PayloadError> {
        Ok(Self {
            room: RoomId::read(r)?,
            seq: r.u64("seq")?,
            hold: r.flag(flag)?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) {
        self.room.write(dst);
        put_u64(dst, self.seq);
        dst.extend_from_slice(&[u8::from(self.hold)]);
    }
}

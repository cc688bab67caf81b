//! What the server sends unasked besides message deliveries: the room
//! pushes and presence changes, which the reader routes to their own queue. A leaf, so the
//! reader and the room requests both name it.

use protocol::v3::{self, RoomEntry};

/// An unsolicited room frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomPush {
    /// 1310: a new entry of one of our rooms.
    Entry(RoomEntry),
    /// 1311: our one-time key package stock is low.
    KeyPackagesLow(u32),
    /// 1313: who came online or went offline (or: list again).
    Presence(v3::PresenceChanges),
}

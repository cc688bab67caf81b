//! Version 3's presence (PROTOCOL.md "141 presence"): the request that
//! shows a connection, watches changes and lists who is online (141), and
//! the pushed changes (1313). The list itself (1312) has the layout of the
//! client list (1001), so it reuses [`super::ClientPage`].

use std::sync::Arc;

use bytes::{BufMut, BytesMut};

use super::layout::{COUNT_LEN, limit};
use crate::error::{PayloadError, ProtocolError};
use crate::types::ClientId;
use crate::wire::{Reader, check_range, put_u16};
use crate::{CLIENT_ID_LEN, MAX_PRESENCE_CHANGES};

/// Size of a 141 payload: flags, after.
pub(super) const PRESENCE_LEN: usize = 1 + CLIENT_ID_LEN;
/// Size of one change of a 1313 payload: client id, online.
const CHANGE_LEN: usize = CLIENT_ID_LEN + 1;

const SHOW: u8 = 1;
const WATCH: u8 = 2;

/// Request 141: how this connection takes part in presence, and one page of
/// who is online.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    /// Count this connection as online (bit 0).
    pub show: bool,
    /// Push presence changes (1313) to this connection (bit 1).
    pub watch: bool,
    /// The last id of the previous page (all zero: from the start).
    pub after: ClientId,
}

impl Presence {
    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let flags = r.u8("presence flags")?;
        check_range("presence flags", flags.into(), 0, u64::from(SHOW | WATCH))?;
        Ok(Self {
            show: flags & SHOW != 0,
            watch: flags & WATCH != 0,
            after: ClientId::read(r, "after")?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) {
        let mut flags = 0;
        if self.show {
            flags |= SHOW;
        }
        if self.watch {
            flags |= WATCH;
        }
        dst.put_u8(flags);
        self.after.write(dst);
    }
}

/// One client's change in a 1313 push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PresenceChange {
    /// The client.
    pub client: ClientId,
    /// It came online (`true`) or went offline.
    pub online: bool,
}

/// Notice 1313: the net presence changes since the last push, or word that
/// some were lost (`resync`: list again with 141).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresenceChanges {
    /// Changes were dropped for this connection: its view is stale.
    pub resync: bool,
    /// Up to [`MAX_PRESENCE_CHANGES`] changes; shared by every watcher's
    /// frame, so the server builds them once per push.
    pub changes: Arc<[PresenceChange]>,
}

impl PresenceChanges {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize = 1 + COUNT_LEN + MAX_PRESENCE_CHANGES * CHANGE_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let resync = r.flag("resync")?;
        let count = r.u16("change count")? as usize;
        check_range("change count", count as u64, 0, MAX_PRESENCE_CHANGES as u64)?;
        let mut changes = Vec::with_capacity(count.min(r.remaining() / CHANGE_LEN));
        for _ in 0..count {
            changes.push(PresenceChange {
                client: ClientId::read(r, "client id")?,
                online: r.flag("online")?,
            });
        }
        Ok(Self {
            resync,
            changes: changes.into(),
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("presence changes", self.changes.len(), MAX_PRESENCE_CHANGES)?;
        dst.put_u8(self.resync.into());
        put_u16(dst, self.changes.len() as u16);
        for c in self.changes.iter() {
            c.client.write(dst);
            dst.put_u8(c.online.into());
        }
        Ok(())
    }
}

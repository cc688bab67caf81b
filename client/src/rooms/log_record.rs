//! Recording what a read of the rooms' logs came to, so that a kill -9 at
//! any point loses nothing and shows nothing twice.
//!
//! Each entry goes through four commits, in this order:
//! 1. the engine processes it, marks it read and keeps what it came to
//!    (`rooms.db`, one transaction per entry); an entry that cannot be
//!    read (refused) is marked read with the words of its notice kept;
//! 2. the key store records its events and moves the room's log mark
//!    (`store.db`, one transaction per batch, or up to a file);
//! 3. the engine lets go of what it kept;
//! 4. the server is told (the cursors' acknowledgement).
//!
//! Killed before 1: nothing happened; the entry comes again. Between 1
//! and 2: the entry comes again (not acknowledged) and the engine hands out
//! what it kept, marked as a replay (a refusal, in the same words); the
//! key store records it now. Between 2 and 3: the same, and the key
//! store's mark passes it over. Between 3 and 4: the entry comes again,
//! the engine has it read and nothing kept: it is skipped, as before.
//! Receipts and room names applied again on a replay move nothing. Our
//! own messages, skipped unread, keep nothing: they have no notice to
//! lose.

use std::collections::BTreeMap;

use protocol::v3::RoomCursor;

use super::engine_room_id;
use super::event::{RoomChange, RoomEvent};
use crate::client::Client;
use crate::error::ClientError;
use crate::keystore::{LogRead, RoomDownload, parse_room_id};

/// Debug builds only: when this variable names a point of a read of the
/// rooms' logs, the client aborts there (as a kill -9 would stop it) once
/// it has read some entry, so that a test can see nothing lost or shown
/// twice: `processed` (the engine processed the batch, the key store has
/// only what came before a file), `recorded` (the key store has it, the
/// engine still keeps it) or `released` (not acknowledged yet).
pub const READ_TEST_CRASH: &str = "SEALPOST_ROOM_READ_TEST_CRASH";

pub(super) fn crash_point(at: &str) {
    super::test_crash(READ_TEST_CRASH, at);
}

impl Client {
    /// Records the events of the entries `read` in their rooms' history and
    /// queues those not quiet for showing; then keeps `download` (the file
    /// announced after them), all in one transaction, passing over entries
    /// recorded before (`keystore::room_log`).
    pub(super) async fn keep_room_events(
        &self,
        read: Vec<LogRead>,
        download: Option<RoomDownload>,
    ) -> Result<(), ClientError> {
        if read.is_empty() && download.is_none() {
            return Ok(());
        }
        let opened = opened_marks(&read, download.as_ref());
        self.store(move |s| s.keep_room_log(&read, &opened, download.as_ref()))
            .await
    }

    /// Lets the engine drop what it kept of the entries `read` (the key
    /// store has recorded them).
    pub(super) async fn release_room_entries(
        &self,
        read: &[RoomCursor],
    ) -> Result<(), ClientError> {
        let mut last: BTreeMap<[u8; 16], u64> = BTreeMap::new();
        for c in read {
            let seq = last.entry(c.room.0).or_default();
            *seq = (*seq).max(c.seq);
        }
        if last.is_empty() {
            return Ok(());
        }
        let engine = self.room_engine().await?;
        engine
            .run(move |en| {
                for (room, seq) in &last {
                    en.release_entries(sealpost_rooms::RoomId(*room), *seq)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// How far `read` (and `download`, a file announced after it) open each
/// room's log: its texts and files, for the room's receipt.
fn opened_marks(
    read: &[LogRead],
    download: Option<&RoomDownload>,
) -> Vec<(sealpost_rooms::RoomId, u64)> {
    let texts = read
        .iter()
        .flat_map(|r| &r.events)
        .filter(|e| matches!(e.change, RoomChange::Text { .. }))
        .filter_map(|e: &RoomEvent| Some((parse_room_id(&e.room_id)?, e.seq)));
    let file = download.map(|d| (engine_room_id(d.room), d.seq));
    super::receipts::furthest(texts.chain(file))
}

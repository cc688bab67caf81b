//! Room receipts (PROTOCOL.md "Room receipts"): telling a room how far we
//! read it, and recording whom our own messages went to.
//!
//! How far we read is kept as two watermarks per room in the key store
//! (`keystore::room_receipts`): opened, raised as the log is read; shown,
//! raised when the user was shown it (unless read receipts are off). One
//! receipt carries both, and only when one rose past what the room was
//! told. A live reader (`watch`, the full-screen client) sends it a moment
//! after reading, so that a text shown at once goes out as one receipt, not
//! two, and at once when it stops; a receipt not sent stays due for a
//! later run.
//!
//! Best effort, as a person's receipts are: one that cannot be sent is
//! logged, never an error of the read.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::{ClientId, ErrorReason};

use super::content::RoomContent;
use super::wire_client_id;
use crate::client::Client;
use crate::error::{ClientError, RoomRefusal};
use crate::keystore::{NewEntry, RoomMarks};

/// Receipts are sent in rooms of at most this many members: each one
/// reaches every member, so their number grows with the square of the
/// room's size.
pub const MAX_RECEIPT_MEMBERS: usize = 32;

/// How long a live reader waits before telling the room what it opened, so
/// that the user's being shown it joins the same receipt.
const LIVE_RECEIPT_DELAY: Duration = Duration::from_secs(1);

/// How long a live reader that is stopping waits for the receipts it had
/// left for later.
const LEAVING_RECEIPT_WAIT: Duration = Duration::from_secs(3);

/// The furthest entry of each room among `entries` (room, `seq`): how far
/// they take each room's mark.
pub(crate) fn furthest(
    entries: impl IntoIterator<Item = (sealpost_rooms::RoomId, u64)>,
) -> Vec<(sealpost_rooms::RoomId, u64)> {
    let mut marks: BTreeMap<sealpost_rooms::RoomId, u64> = BTreeMap::new();
    for (room, seq) in entries {
        let through = marks.entry(room).or_default();
        *through = (*through).max(seq);
    }
    marks.into_iter().collect()
}

impl Client {
    /// The other members of `room` to record as the recipients of a message
    /// we send there now; none in a room too large for receipts.
    async fn receipt_recipients(
        &self,
        room: sealpost_rooms::RoomId,
    ) -> Result<Vec<ClientId>, ClientError> {
        let me = self.require_me()?.id;
        let engine = self.room_engine().await?;
        let members = engine.run(move |en| en.members(room)).await?;
        if members.len() > MAX_RECEIPT_MEMBERS {
            return Ok(Vec::new());
        }
        Ok(members
            .into_iter()
            .map(|m| wire_client_id(m.client_id))
            .filter(|id| *id != me)
            .collect())
    }

    /// Records `entry`, our message the server just took into `room`'s log,
    /// with its recipients: the other members now, at the epoch it was
    /// sent on (the caller holds the rooms lock, so nothing was read since).
    pub(crate) async fn keep_sent_room_entry(
        &self,
        room: sealpost_rooms::RoomId,
        entry: NewEntry,
    ) -> Result<(), ClientError> {
        let recipients = self.receipt_recipients(room).await?;
        self.store(move |s| {
            let number = s.add_history(&entry)?;
            s.add_room_recipients(number, &recipients)
        })
        .await
    }

    /// Sends every room receipt due, taking the rooms lock.
    pub(crate) async fn send_room_receipts(&self) {
        let _reading = self.inner.rooms.lock.lock().await;
        let due = match self.store(|s| s.room_marks_due()).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the room receipts due");
                return;
            }
        };
        for marks in due {
            if let Err(e) = self.send_room_marks(marks).await {
                tracing::warn!(error = %e, "could not send a room receipt");
            }
        }
    }

    /// Has the receipts due sent in a moment (once, however often asked
    /// meanwhile), for a reader that keeps running.
    pub(crate) fn send_room_receipts_soon(&self) {
        if self
            .inner
            .rooms
            .receipts_scheduled
            .swap(true, Ordering::AcqRel)
        {
            return;
        }
        let client = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LIVE_RECEIPT_DELAY).await;
            client
                .inner
                .rooms
                .receipts_scheduled
                .store(false, Ordering::Release);
            client.send_room_receipts().await;
        });
    }

    /// For a front end that keeps running (`watch`, the menu, the TUI), as
    /// it stops: the room receipts it left for a moment later go now, so
    /// that leaving right after reading still tells the rooms. Bounded: a
    /// server that does not answer in time leaves them due for a later run.
    pub async fn send_receipts_before_leaving(&self) {
        if tokio::time::timeout(LEAVING_RECEIPT_WAIT, self.send_room_receipts())
            .await
            .is_err()
        {
            tracing::warn!("the last room receipts did not go out in time; they stay due");
        }
    }

    /// Tells `marks.room` its marks; the caller holds the rooms lock. A
    /// room we left, are alone in, or that is too large is given up on.
    async fn send_room_marks(&self, marks: RoomMarks) -> Result<(), ClientError> {
        let room = marks.room;
        let engine = self.room_engine().await?;
        let members = engine
            .run(move |en| match en.is_member(room) {
                Ok(true) => Ok(en.members(room)?.len()),
                Ok(false) | Err(sealpost_rooms::RoomsError::UnknownRoom) => Ok(0),
                Err(e) => Err(e),
            })
            .await?;
        if (2..=MAX_RECEIPT_MEMBERS).contains(&members) {
            let plaintext = RoomContent::Receipt {
                delivered: marks.delivered,
                read: marks.read.min(marks.delivered),
            }
            .encode()
            .map_err(|e| ClientError::room(RoomRefusal::Failed, format!("a room receipt: {e}")))?;
            match self
                .send_to_room(room, None, move |e| e.send(room, &plaintext))
                .await
            {
                Ok(_) => {}
                // Deleted, or we were removed, and not yet told: nobody
                // is left to tell, and the notice reaches us on its own.
                Err(e) if e.reason() == Some(ErrorReason::UnknownRoom) => {
                    tracing::debug!(
                        ?room,
                        "a receipt for a room the server no longer has for us"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        self.store(move |s| s.room_marks_sent(marks)).await
    }
}

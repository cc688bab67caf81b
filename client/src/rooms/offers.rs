//! Room files the server holds for the user's decision (PROTOCOL.md
//! "Holding a room file (150)"; kept in `keystore::room_offers` when
//! [`Client::download_room_files`] found them over the automatic download
//! limit): listed with the held file offers, accepted (downloaded,
//! resumable and hash-checked, then released) or declined (released).
//! The hold ends with the decision, so the server deletes the file once
//! every member is past it.
//!
//! Left out: the listing and the commands themselves ([`Client::held_files`],
//! [`Client::accept_file`], [`Client::decline_file`] hand room offers here).

use std::time::Duration;

use protocol::ErrorReason;
use tokio_util::sync::CancellationToken;

use super::content::RoomContent;
use super::event::RoomChange;
use super::files::{RoomFileError, download_room_file, part_path, remove_part};
use crate::client::{Client, RECONNECT_ATTEMPTS};
use crate::connection::ConnectionError;
use crate::downloads::HeldOffer;
use crate::error::ClientError;
use crate::event::{Event, What};
use crate::keystore::{
    Body, Conversation, Direction, HeldEnd, HoldReason, NewEntry, PeerRecord, RoomOffer, Status,
};

/// Whether a request about a room entry failed because the entry (or the
/// room, or our membership) is gone.
fn gone(e: &ConnectionError) -> bool {
    matches!(
        e.reason(),
        Some(ErrorReason::UnknownMessage | ErrorReason::UnknownRoom)
    )
}

impl Client {
    /// The held room offers, as [`Client::held_files`] lists offers.
    pub(crate) async fn held_room_offers(&self) -> Result<Vec<HeldOffer>, ClientError> {
        self.store(|s| {
            let offers = s.room_offers()?;
            let mut out = Vec::with_capacity(offers.len());
            for o in offers {
                let from_name = s.peer(o.sender)?.and_then(PeerRecord::pinned_name);
                out.push(held_offer(o, from_name));
            }
            Ok(out)
        })
        .await
    }

    /// Held room offer `seq`, if there is one.
    pub(crate) async fn room_offer(&self, seq: u64) -> Result<Option<RoomOffer>, ClientError> {
        self.store(move |s| s.room_offer(seq)).await
    }

    /// Downloads held room offer `offer` into the downloads folder, records
    /// it in the room's conversation, releases the hold and forgets the
    /// offer. An entry that is gone, or a file that does not match its
    /// announcement, is forgotten and the event says so. `cancel` stops
    /// the download; what arrived is kept for the next attempt.
    ///
    /// # Errors
    /// Cancelled, the connection stayed lost, or the store failed.
    pub(crate) async fn accept_room_offer(
        &self,
        offer: RoomOffer,
        cancel: &CancellationToken,
    ) -> Result<Event, ClientError> {
        let (room, seq) = (offer.room, offer.seq);
        let sender = offer.sender;
        let peer = self.store(move |s| s.peer(sender)).await?;
        let (from_name, server_name) = crate::event::names_of(peer.as_ref());
        let mut change = RoomChange::File {
            name: offer.name.clone(),
            size: offer.size,
            path: None,
            not_saved: None,
        };
        let not_saved = |why: &str| RoomChange::File {
            name: offer.name.clone(),
            size: offer.size,
            path: None,
            not_saved: Some(why.into()),
        };
        let entry = held_entry(&offer);
        let mut end = None;
        match RoomContent::decode(&offer.file) {
            Ok(RoomContent::File(file)) => {
                let dir = self.downloads();
                let progress = self.progress();
                let mut attempt = 0;
                let outcome = loop {
                    let conn = self.connection().await?;
                    match download_room_file(&conn, room, seq, &file, &dir, &*progress, cancel)
                        .await
                    {
                        Err(RoomFileError::Client(ClientError::Connection(e)))
                            if e.is_disconnect() && attempt + 1 < RECONNECT_ATTEMPTS =>
                        {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                        }
                        other => break other,
                    }
                };
                change = match outcome {
                    Ok(path) => {
                        end = Some(HeldEnd::Saved(path.clone()));
                        let RoomChange::File { path: p, .. } = &mut change else {
                            unreachable!("built as a file above")
                        };
                        *p = Some(path);
                        change
                    }
                    Err(RoomFileError::Client(ClientError::Connection(e))) if gone(&e) => {
                        not_saved(
                            "the server no longer has it (its retention or the room's \
                             deletion ended it); the offer is forgotten",
                        )
                    }
                    Err(RoomFileError::HashMismatch) => not_saved(
                        "its contents do not match what its sender announced; it was deleted",
                    ),
                    Err(RoomFileError::Client(ClientError::Crypto(e))) => {
                        not_saved(&format!("it does not decrypt ({e}); it was deleted"))
                    }
                    Err(RoomFileError::Client(e)) => return Err(e),
                    Err(other) => {
                        return Err(ClientError::Io(std::io::Error::other(other.to_string())));
                    }
                };
            }
            _ => change = not_saved("its announcement is not readable; the offer is forgotten"),
        }
        self.release_room_offer(&offer).await?;
        // Not saved: the held entry says why, as a one-to-one offer's does.
        let end = match (end, &change) {
            (Some(end), _) => end,
            (
                None,
                RoomChange::File {
                    not_saved: Some(why),
                    ..
                },
            ) => HeldEnd::Rejected(why.clone()),
            (None, _) => HeldEnd::Rejected("not saved".into()),
        };
        self.store(move |s| s.end_room_offer(seq, &entry, &end))
            .await?;
        Ok(Event {
            message_id: seq,
            from: sender,
            from_name,
            from_you: false,
            server_name,
            sent_at_ms: offer.sent_at_ms,
            sender_time_ms: None,
            what: What::Room {
                room: offer.room_name.clone(),
                room_id: super::hex(&super::engine_room_id(offer.room)),
                change,
            },
        })
    }

    /// Declines held room offer `offer`: releases the hold and forgets it
    /// (and any part of it downloaded). Returns it as listed.
    ///
    /// # Errors
    /// The connection stayed lost (the offer stays), or the store failed.
    pub(crate) async fn decline_room_offer(
        &self,
        offer: RoomOffer,
    ) -> Result<HeldOffer, ClientError> {
        self.release_room_offer(&offer).await?;
        if let Ok(RoomContent::File(file)) = RoomContent::decode(&offer.file) {
            remove_part(&part_path(&self.downloads(), offer.room, offer.seq, &file)).await;
        }
        let seq = offer.seq;
        let sender = offer.sender;
        let entry = held_entry(&offer);
        let from_name = self
            .store(move |s| {
                s.end_room_offer(seq, &entry, &HeldEnd::Declined)?;
                Ok(s.peer(sender)?.and_then(PeerRecord::pinned_name))
            })
            .await?;
        Ok(held_offer(offer, from_name))
    }

    /// Ends our hold on the offer's entry (150 hold 0); an entry already
    /// gone ended it.
    async fn release_room_offer(&self, offer: &RoomOffer) -> Result<(), ClientError> {
        let mut attempt = 0;
        loop {
            let conn = self.connection().await?;
            match conn.room_file_hold(offer.room, offer.seq, false).await {
                Ok(_) => return Ok(()),
                Err(e) if gone(&e) => return Ok(()),
                Err(e) if e.is_disconnect() && attempt + 1 < RECONNECT_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => return Err(ClientError::Connection(e)),
            }
        }
    }
}

/// The history entry of held offer `o` (status held, nothing saved): kept
/// from the moment it is held, and turned into the received file, or
/// declined, when the user answers.
pub(super) fn held_entry(o: &RoomOffer) -> NewEntry {
    NewEntry {
        conversation: Conversation::room(super::engine_room_id(o.room), o.room_name.clone()),
        direction: Direction::In,
        sender: o.sender,
        body: Body::File {
            name: o.name.clone(),
            size: o.size,
            path: std::path::PathBuf::new(),
        },
        sender_time_ms: None,
        server_time_ms: Some(o.sent_at_ms),
        message_id: Some(o.seq),
        status: Status::Held,
    }
}

fn held_offer(o: RoomOffer, from_name: Option<String>) -> HeldOffer {
    HeldOffer {
        message_id: o.seq,
        from: o.sender,
        from_name,
        name: o.name,
        size: o.size,
        reason: HoldReason::TooLarge,
        sent_at_ms: o.sent_at_ms,
        sender_time_ms: None,
        room: Some(o.room_name),
    }
}

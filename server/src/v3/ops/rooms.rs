//! Rooms (132 to 138, 142 to 145, 151): create, commit, send, pull, acknowledge,
//! a room's state and the caller's rooms; a room's group info for joiners,
//! the public rooms, a room by name; the owner's delete; a member's
//! re-founding of a restored room. The MLS checks (the observer's rules, the
//! epoch compare-and-set) happen in the store's writer, inside the
//! transaction that appends to the room's log; this file turns requests into
//! store calls and answers.

use protocol::v3::{self, RoomCommit, RoomCreate, RoomCursor, RoomSend};
use protocol::{ClientId, ErrorReason, RoomId};

use crate::shared::Shared;
use crate::v3::reply::{error, store_error};

/// Answers 132.
pub(crate) async fn create(shared: &Shared, me: ClientId, c: RoomCreate) -> v3::Response {
    match shared
        .store
        .create_room(me, c.room, c.group_info, c.ratchet_tree)
        .await
    {
        Ok(room) => v3::Response::RoomCreated(v3::RoomCreated { room, epoch: 0 }),
        Err(e) => store_error(&e),
    }
}

/// Answers 151: a member takes up a room a restored server holds behind it.
pub(crate) async fn refound(shared: &Shared, me: ClientId, c: RoomCreate) -> v3::Response {
    match shared
        .store
        .refound_room(me, c.room, c.group_info, c.ratchet_tree)
        .await
    {
        Ok(epoch) => v3::Response::RoomRefounded(v3::RoomCreated {
            room: c.room,
            epoch,
        }),
        Err(e) => store_error(&e),
    }
}

/// Answers 133.
/// `proven`: this connection proved the room's password a moment ago.
pub(crate) async fn commit(
    shared: &Shared,
    me: ClientId,
    c: RoomCommit,
    proven: bool,
) -> v3::Response {
    let welcome = (!c.welcome.is_empty()).then_some(c.welcome);
    match shared
        .store
        .commit_room(me, c.room, c.epoch, c.commit, welcome, proven)
        .await
    {
        Ok(accepted) => v3::Response::CommitAccepted(accepted),
        Err(e) => store_error(&e),
    }
}

/// Answers 134.
pub(crate) async fn send(shared: &Shared, me: ClientId, s: RoomSend) -> v3::Response {
    let room = s.room;
    // The operator's limit on a message, as for 103 (PROTOCOL.md, Rooms).
    let max = shared.config.max_message_len as usize;
    if s.message.len() > max {
        return error(
            ErrorReason::MessageTooLarge,
            format!(
                "room message is {} bytes; this server takes at most {max}",
                s.message.len()
            ),
        );
    }
    match shared
        .store
        .send_room(me, s.room, s.epoch, s.file, s.message)
        .await
    {
        Ok(seq) => v3::Response::RoomMessageStored(v3::RoomMessageStored { room, seq }),
        Err(e) => store_error(&e),
    }
}

/// Answers 135: entries after the caller's cursors, bounded like 104.
pub(crate) async fn pull(shared: &Shared, me: ClientId, p: v3::Pull) -> v3::Response {
    let (count, bytes) = p.bounds();
    match shared
        .store
        .room_entries(me, 0, count.into(), bytes as usize)
        .await
    {
        Ok((entries, more)) => v3::Response::RoomEntries(v3::RoomBatch { more, entries }),
        Err(e) => store_error(&e),
    }
}

/// Answers 136; deletes the files of the entries every member has now read
/// (their rows are gone with the commit).
pub(crate) async fn ack(shared: &Shared, me: ClientId, cursors: Vec<RoomCursor>) -> v3::Response {
    match shared.store.ack_rooms(me, cursors).await {
        Ok((moved, files)) => {
            if !files.is_empty() {
                let blobs = shared.blobs.clone();
                tokio::spawn(async move { blobs.delete(files).await });
            }
            v3::Response::RoomAcked(
                moved
                    .into_iter()
                    .map(|m| {
                        if m {
                            v3::RoomAckStatus::Moved
                        } else {
                            v3::RoomAckStatus::NotMoved
                        }
                    })
                    .collect(),
            )
        }
        Err(e) => store_error(&e),
    }
}

/// Answers 137.
pub(crate) async fn state(shared: &Shared, me: ClientId, room: RoomId) -> v3::Response {
    match shared.store.room_status(me, room).await {
        Ok(status) => v3::Response::RoomStatus(status),
        Err(e) => store_error(&e),
    }
}

/// Answers 138.
pub(crate) async fn list(shared: &Shared, me: ClientId) -> v3::Response {
    match shared.store.rooms_of(me).await {
        Ok(rooms) => v3::Response::RoomList(rooms),
        Err(e) => store_error(&e),
    }
}

/// Answers 142.
pub(crate) async fn group_info(
    shared: &Shared,
    me: ClientId,
    g: v3::RoomGroupInfo,
) -> v3::Response {
    let room = g.room;
    match shared
        .store
        .store_group_info(me, g.room, g.epoch, g.group_info)
        .await
    {
        Ok(epoch) => v3::Response::GroupInfoStored(v3::GroupInfoStored { room, epoch }),
        Err(e) => store_error(&e),
    }
}

/// Answers 143: the public rooms, with how many members each has online
/// (shown ones only, as 141 counts them).
pub(crate) async fn listed(shared: &Shared) -> v3::Response {
    match shared.store.listed_rooms().await {
        Ok(rows) => v3::Response::ListedRooms(
            rows.into_iter()
                .filter_map(|row| {
                    let online = shared.presence.count_online(&row.members);
                    Some(v3::ListedRoom {
                        room: row.room,
                        // At most MAX_ROOM_MEMBERS (1,000) of each.
                        members: u16::try_from(row.members.len()).unwrap_or(u16::MAX),
                        online: u16::try_from(online).unwrap_or(u16::MAX),
                        locked: row.locked,
                        // The observer checked the name when it came in.
                        name: v3::RoomLabel::new(&row.name).ok()?,
                    })
                })
                .collect(),
        ),
        Err(e) => store_error(&e),
    }
}

/// Answers 144: one query decides, and every refusal is the same
/// `UNKNOWN_ROOM` "no such room" (PROTOCOL.md "Find (144)").
pub(crate) async fn find(shared: &Shared, me: ClientId, name: v3::RoomLabel) -> v3::Response {
    match shared.store.find_room(me, name.as_str().to_string()).await {
        Ok(found) => v3::Response::RoomFound(found),
        Err(e) => store_error(&e),
    }
}

/// Answers 145: the room and its files go, its notice reaches the members.
pub(crate) async fn delete(shared: &Shared, me: ClientId, d: v3::RoomDelete) -> v3::Response {
    let room = d.room;
    match shared
        .store
        .delete_room(me, d.room, d.epoch, d.notice)
        .await
    {
        Ok(deleted) => {
            // Its unfinished uploads were cancelled with it: their part
            // files go now, and an uploader's next chunk is told so.
            shared.uploads.discard(&deleted.uploads).await;
            if !deleted.blobs.is_empty() {
                let blobs = shared.blobs.clone();
                tokio::spawn(async move { blobs.delete(deleted.blobs).await });
            }
            v3::Response::RoomDeleted(room)
        }
        Err(e) => store_error(&e),
    }
}

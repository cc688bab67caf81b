//! Reading a room on PostgreSQL: a member's acknowledgement moves its
//! cursor, and what every member has read and nobody holds (`room_holds.rs`)
//! is deleted with the files it names; retention deletes what is too old,
//! read or not, held or not. The same answers
//! as the SQLite writer's (`writer/room_acks.rs`).
//!
//! Lock order, as every room write keeps it: the rooms' rows (in id
//! order), then member rows, then the `usage` rows of those whose bytes
//! come back (one sorted statement), then one storage stripe.

use std::collections::HashMap;

use protocol::v3::RoomCursor;
use protocol::{ClientId, RoomId};
use tokio_postgres::Transaction;

use super::Pg;
use super::channels::{ROOM_ACKS_CHANNEL, client_id};
use super::quota::{self, Usage};
use crate::error::StoreError;
use crate::store::values::StoreEvent;

/// Bytes given back per client (room entries and room files).
pub(super) type Freed = HashMap<ClientId, i64>;

impl Pg {
    /// See `Store::ack_rooms`.
    pub(crate) async fn ack_rooms(
        &self,
        client: ClientId,
        acks: Vec<RoomCursor>,
    ) -> Result<(Vec<bool>, Vec<String>), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let mut rooms: Vec<&[u8]> = acks.iter().map(|a| &a.room.0[..]).collect();
        rooms.sort_unstable();
        rooms.dedup();
        tx.execute(
            "SELECT 1 FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&rooms],
        )
        .await?;
        // No entry has a number past the last one handed out: a cursor never
        // runs ahead of the log into entries that do not exist yet.
        let last: i64 = tx
            .query_one(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM message_ids",
                &[],
            )
            .await?
            .get(0);
        let mut moved = Vec::with_capacity(acks.len());
        let mut freed = Freed::new();
        let mut blobs = Vec::new();
        for &RoomCursor { room, seq } in &acks {
            let row = tx
                .query_opt(
                    "SELECT cursor, until_seq FROM room_members WHERE room = $1 AND client = $2",
                    &[&&room.0[..], &&client.0[..]],
                )
                .await?;
            let Some(row) = row else {
                moved.push(false);
                continue;
            };
            let (cursor, until): (i64, Option<i64>) = (row.get(0), row.get(1));
            let target = (seq.min(last as u64) as i64).min(until.unwrap_or(i64::MAX));
            // Entries the member held, now free, may sit behind others'
            // cursors: they are collected whoever else is behind.
            let mut released = false;
            if until.is_some_and(|u| target >= u) {
                // The removed member read its removal: it is gone for good,
                // and its holds with it.
                tx.execute(
                    "DELETE FROM room_members WHERE room = $1 AND client = $2",
                    &[&&room.0[..], &&client.0[..]],
                )
                .await?;
                released = tx
                    .execute(
                        "DELETE FROM room_holds WHERE room = $1 AND client = $2",
                        &[&&room.0[..], &&client.0[..]],
                    )
                    .await?
                    > 0;
            } else if target > cursor {
                tx.execute(
                    "UPDATE room_members SET cursor = GREATEST(cursor, $1)
                     WHERE room = $2 AND client = $3",
                    &[&target, &&room.0[..], &&client.0[..]],
                )
                .await?;
            } else {
                moved.push(true);
                continue;
            }
            moved.push(true);
            if released || held_back(&tx, room, client, cursor).await? {
                collect(&tx, room, &mut freed, &mut blobs).await?;
            }
        }
        self.give_back_room_bytes(&tx, client, freed).await?;
        // The client's sessions on other nodes free their push windows.
        for (&RoomCursor { room, seq }, _) in acks.iter().zip(&moved).filter(|(_, ok)| **ok) {
            let payload = format!("{}:{}:{seq}", self.payload(&client), hex::encode(room.0));
            tx.execute("SELECT pg_notify($1, $2)", &[&ROOM_ACKS_CHANNEL, &payload])
                .await?;
        }
        tx.commit().await?;
        let events: Vec<StoreEvent> = acks
            .iter()
            .zip(&moved)
            .filter(|(_, ok)| **ok)
            .map(|(&RoomCursor { room, seq }, _)| StoreEvent::RoomAcked { client, room, seq })
            .collect();
        if !events.is_empty() {
            (self.notify)(events);
        }
        Ok((moved, blobs))
    }

    /// See `Store::expire_room_entries`; every node runs it, and each entry
    /// is counted by the one whose statement deleted it.
    pub(crate) async fn expire_room_entries(
        &self,
        before_ms: u64,
    ) -> Result<(usize, Vec<String>), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute("SELECT 1 FROM rooms ORDER BY id FOR UPDATE", &[])
            .await?;
        let rows = tx
            .query(
                "DELETE FROM room_log WHERE sent_at < $1
                 RETURNING sender, octet_length(body)::BIGINT",
                &[&(before_ms as i64)],
            )
            .await?;
        let mut freed = Freed::new();
        for r in &rows {
            *freed.entry(client_id(r.get(0))?).or_default() += r.get::<_, i64>(1);
        }
        tx.execute(
            "DELETE FROM room_members m WHERE m.until_seq IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM room_log l WHERE l.room = m.room
                     AND l.seq > m.cursor AND l.seq <= m.until_seq)",
            &[],
        )
        .await?;
        // Holds end with their entry, and with their member's cursor.
        tx.execute(
            "DELETE FROM room_holds h WHERE
                 NOT EXISTS (SELECT 1 FROM room_log l WHERE l.room = h.room AND l.seq = h.seq)
                 OR NOT EXISTS (SELECT 1 FROM room_members m
                                WHERE m.room = h.room AND m.client = h.client)",
            &[],
        )
        .await?;
        let mut blobs = Vec::new();
        let files = tx
            .query(
                "DELETE FROM room_files f WHERE f.seq IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM room_log l WHERE l.seq = f.seq)
                 RETURNING owner, size, blob",
                &[],
            )
            .await?;
        freed_files(&files, &mut freed, &mut blobs)?;
        let count = rows.len();
        // Retention has no caller: the bytes go back through the stripe of
        // the first client's.
        let through = freed.keys().min().copied();
        if let Some(through) = through {
            self.give_back_room_bytes(&tx, through, freed).await?;
        }
        tx.commit().await?;
        Ok((count, blobs))
    }

    /// Gives back the bytes of deleted room entries and files to their
    /// senders, and to the storage total through `through`'s stripe.
    pub(super) async fn give_back_room_bytes(
        &self,
        tx: &Transaction<'_>,
        through: ClientId,
        freed: Freed,
    ) -> Result<(), StoreError> {
        if freed.is_empty() {
            return Ok(());
        }
        let clients: Vec<ClientId> = freed.keys().copied().collect();
        quota::lock(tx, &clients).await?;
        let mut senders: Vec<(ClientId, i64)> = freed.into_iter().collect();
        senders.sort_unstable_by_key(|(c, _)| *c);
        let mut total = 0;
        for (sender, bytes) in senders {
            let back = Usage {
                sent_bytes: -bytes,
                ..Usage::default()
            };
            quota::add(tx, &sender, back).await?;
            total += bytes;
        }
        quota::add_storage(tx, &self.limits, &through, -total).await
    }
}

/// Whether `client`, whose cursor was `was`, may have been the one holding
/// back the room's deletions: no other member is at or behind `was`.
async fn held_back(
    tx: &Transaction<'_>,
    room: RoomId,
    client: ClientId,
    was: i64,
) -> Result<bool, StoreError> {
    let other_behind = tx
        .query_opt(
            "SELECT 1 FROM room_members WHERE room = $1 AND cursor <= $2 AND client <> $3
             LIMIT 1",
            &[&&room.0[..], &was, &&client.0[..]],
        )
        .await?;
    Ok(other_behind.is_none())
}

/// Deletes the entries of `room` that every member has acknowledged and
/// nobody holds, and the files they name.
async fn collect(
    tx: &Transaction<'_>,
    room: RoomId,
    freed: &mut Freed,
    blobs: &mut Vec<String>,
) -> Result<(), StoreError> {
    let upto: Option<i64> = tx
        .query_one(
            "SELECT MIN(cursor) FROM room_members WHERE room = $1",
            &[&&room.0[..]],
        )
        .await?
        .get(0);
    let Some(upto) = upto else {
        return Ok(());
    };
    let rows = tx
        .query(
            "DELETE FROM room_log l WHERE l.room = $1 AND l.seq <= $2
                 AND NOT EXISTS (SELECT 1 FROM room_holds h
                                 WHERE h.room = $1 AND h.seq = l.seq)
             RETURNING sender, octet_length(body)::BIGINT",
            &[&&room.0[..], &upto],
        )
        .await?;
    for r in &rows {
        *freed.entry(client_id(r.get(0))?).or_default() += r.get::<_, i64>(1);
    }
    let files = tx
        .query(
            "DELETE FROM room_files f WHERE f.room = $1 AND f.seq IS NOT NULL AND f.seq <= $2
                 AND NOT EXISTS (SELECT 1 FROM room_holds h
                                 WHERE h.room = $1 AND h.seq = f.seq)
             RETURNING owner, size, blob",
            &[&&room.0[..], &upto],
        )
        .await?;
    freed_files(&files, freed, blobs)
}

/// Counts deleted room files (owner, size, blob rows).
pub(super) fn freed_files(
    rows: &[tokio_postgres::Row],
    freed: &mut Freed,
    blobs: &mut Vec<String>,
) -> Result<(), StoreError> {
    for r in rows {
        *freed.entry(client_id(r.get(0))?).or_default() += r.get::<_, i64>(1);
        blobs.push(r.get(2));
    }
    Ok(())
}

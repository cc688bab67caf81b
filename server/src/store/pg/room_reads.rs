//! Every read of rooms on PostgreSQL: a member's entries after its cursors,
//! a room's status, the caller's rooms, the public rooms, finding a room by
//! name, and the file an entry names. The same answers as the SQLite side
//! (`store/rooms.rs`, `store/room_access.rs`).

use bytes::Bytes;
use protocol::v3::RoomSummary;
use protocol::v3::{MAX_LISTED_ROOMS, RoomEntry, RoomGroupInfo, RoomMemberRole, RoomStatus};
use protocol::{ClientId, RoomId};

use super::Pg;
use super::channels::client_id;
use super::room_log::{ENTRY_COLUMNS, role_of, row_to_entry};
use crate::error::StoreError;
use crate::store::room_access::ListedRoomRow;
use crate::store::rooms::RoomFileRefusal;
use crate::store::rows::fixed;

impl Pg {
    /// See `Store::room_entries`.
    pub(crate) async fn room_entries(
        &self,
        caller: ClientId,
        after: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<(Vec<RoomEntry>, bool), StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!(
                    "SELECT {ENTRY_COLUMNS}
                     FROM room_members m JOIN room_log l ON l.room = m.room
                     WHERE m.client = $1 AND l.seq > m.cursor AND l.seq > $2
                         AND (m.until_seq IS NULL OR l.seq <= m.until_seq)
                     ORDER BY l.seq LIMIT $3"
                ),
                &[&&caller.0[..], &(after as i64), &(max_count as i64 + 1)],
            )
            .await?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for row in &rows {
            let entry = row_to_entry(row)?;
            let size = entry.encoded_len();
            if out.len() == max_count || (!out.is_empty() && bytes + size > max_bytes) {
                return Ok((out, true));
            }
            bytes += size;
            out.push(entry);
        }
        Ok((out, false))
    }

    /// See `Store::room_status`.
    pub(crate) async fn room_status(
        &self,
        caller: ClientId,
        room: RoomId,
    ) -> Result<RoomStatus, StoreError> {
        let mut conn = self.conn().await?;
        // One snapshot for the three reads.
        let tx = conn
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let epoch: i64 = tx
            .query_opt(
                "SELECT r.epoch FROM rooms r JOIN room_members m ON m.room = r.id
                 WHERE r.id = $1 AND m.client = $2 AND m.until_seq IS NULL",
                &[&&room.0[..], &&caller.0[..]],
            )
            .await?
            .ok_or(StoreError::UnknownRoom)?
            .get(0);
        let last_seq: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(seq), 0)::BIGINT FROM room_log WHERE room = $1",
                &[&&room.0[..]],
            )
            .await?
            .get(0);
        let rows = tx
            .query(
                "SELECT client, role FROM room_members
                 WHERE room = $1 AND until_seq IS NULL ORDER BY client",
                &[&&room.0[..]],
            )
            .await?;
        tx.commit().await?;
        let mut members = Vec::with_capacity(rows.len());
        for r in &rows {
            members.push(RoomMemberRole {
                client: client_id(r.get(0))?,
                role: role_of(r.get(1))?,
            });
        }
        Ok(RoomStatus {
            room,
            epoch: epoch as u64,
            last_seq: last_seq as u64,
            members,
        })
    }

    /// See `Store::rooms_of`.
    pub(crate) async fn rooms_of(&self, caller: ClientId) -> Result<Vec<RoomSummary>, StoreError> {
        // The list answer holds at most this many (PROTOCOL.md).
        let max = protocol::MAX_ROOM_LIST as i64;
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT r.id, r.epoch, m.role,
                        (SELECT COUNT(*) FROM room_members o
                         WHERE o.room = r.id AND o.until_seq IS NULL)
                 FROM room_members m JOIN rooms r ON r.id = m.room
                 WHERE m.client = $1 AND m.until_seq IS NULL ORDER BY r.id LIMIT $2",
                &[&&caller.0[..], &max],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(RoomSummary {
                room: RoomId(fixed(r.get(0), "room id")?),
                epoch: r.get::<_, i64>(1) as u64,
                members: r.get::<_, i64>(3).try_into().unwrap_or(u16::MAX),
                role: role_of(r.get(2))?,
            });
        }
        Ok(out)
    }

    /// See `Store::listed_rooms`.
    pub(crate) async fn listed_rooms(&self) -> Result<Vec<ListedRoomRow>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT r.id, r.name,
                        ARRAY(SELECT m.client FROM room_members m
                              WHERE m.room = r.id AND m.until_seq IS NULL ORDER BY m.client),
                        r.rule
                 FROM rooms r WHERE r.rule IN (1, 3) AND r.name IS NOT NULL
                 ORDER BY r.name COLLATE \"C\" LIMIT $1",
                &[&(MAX_LISTED_ROOMS as i64)],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let members: Vec<Vec<u8>> = r.get(2);
            out.push(ListedRoomRow {
                room: RoomId(fixed(r.get(0), "room id")?),
                name: r.get(1),
                members: members
                    .iter()
                    .map(|m| client_id(m))
                    .collect::<Result<_, _>>()?,
                locked: r.get::<_, i16>(3) == 3,
            });
        }
        Ok(out)
    }

    /// See `Store::find_room`.
    pub(crate) async fn find_room(
        &self,
        caller: ClientId,
        name: String,
    ) -> Result<RoomGroupInfo, StoreError> {
        let id = crate::store::room_access::member_room_id(&name);
        let row = self
            .conn()
            .await?
            .query_opt(
                "SELECT r.id, r.group_epoch, r.group_info FROM rooms r
                 WHERE r.group_info IS NOT NULL
                     AND ((r.name = $1 AND r.rule != 0
                           AND NOT EXISTS (SELECT 1 FROM room_bans b
                                           WHERE b.room = r.id AND b.client = $2))
                       OR (r.id = $3
                           AND EXISTS (SELECT 1 FROM room_members m
                                       WHERE m.room = r.id AND m.client = $2
                                           AND m.until_seq IS NULL)))
                 ORDER BY r.id = $3 DESC NULLS LAST LIMIT 1",
                &[&name, &&caller.0[..], &id.as_ref().map(|i| &i[..])],
            )
            .await?
            .ok_or(StoreError::UnknownRoom)?;
        Ok(RoomGroupInfo {
            room: RoomId(fixed(row.get(0), "room id")?),
            epoch: row.get::<_, i64>(1) as u64,
            group_info: Bytes::from(row.get::<_, Vec<u8>>(2)),
        })
    }

    /// See `Store::room_file`.
    pub(crate) async fn room_file(
        &self,
        caller: ClientId,
        room: RoomId,
        seq: u64,
    ) -> Result<Result<(String, u64), RoomFileRefusal>, StoreError> {
        let conn = self.conn().await?;
        let member = conn
            .query_opt(
                "SELECT until_seq, joined_seq FROM room_members WHERE room = $1 AND client = $2",
                &[&&room.0[..], &&caller.0[..]],
            )
            .await?;
        let Some(member) = member else {
            return Ok(Err(RoomFileRefusal::NotMember));
        };
        let (until, joined): (Option<i64>, i64) = (member.get(0), member.get(1));
        let seq_i = seq as i64;
        if seq_i <= joined || until.is_some_and(|u| seq_i > u) {
            return Ok(Err(RoomFileRefusal::NoEntry));
        }
        let entry = conn
            .query_opt(
                "SELECT l.file_id IS NOT NULL, f.blob, f.size
                 FROM room_log l LEFT JOIN room_files f ON f.room = l.room AND f.seq = l.seq
                 WHERE l.room = $1 AND l.seq = $2",
                &[&&room.0[..], &seq_i],
            )
            .await?;
        let Some(entry) = entry else {
            return Ok(Err(RoomFileRefusal::NoEntry));
        };
        if !entry.get::<_, bool>(0) {
            return Ok(Err(RoomFileRefusal::NoFile));
        }
        let blob: Option<String> = entry.get(1);
        let size: Option<i64> = entry.get(2);
        Ok(match (blob, size) {
            (Some(blob), Some(size)) => Ok((blob, size as u64)),
            _ => Err(RoomFileRefusal::NoFile),
        })
    }
}

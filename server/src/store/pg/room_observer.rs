//! The rooms' MLS observer on PostgreSQL: each room's openmls public state
//! is its rows of `room_mls` (openmls's key/value entries), read and written
//! in the transaction that appends to the room's log.
//!
//! Why this shape: openmls's storage is synchronous and this engine is
//! async, so the observer does not run over the database itself. A room
//! write first locks the room's row (`SELECT ... FOR UPDATE`, [`lock_room`]),
//! which serializes every write of one room across all nodes; it then loads
//! the room's entries ([`load`]), runs the observer over them in memory
//! (`sealpost_rooms::RoomSnapshot`, the same checks as on SQLite) off the
//! async workers ([`Pg::observe`]: signature checks of a large room are
//! milliseconds of CPU), and writes back what changed ([`save`]) before the
//! log append, in the same transaction. A refused commit or a failed
//! transaction leaves the stored state as it was; after a crash the log and
//! the observer agree, as on SQLite.

use protocol::bundle::KeyBundle;
use protocol::{ClientId, RoomId};
use sealpost_rooms::{Changes, Pins, RoomSnapshot, RoomsError};
use tokio_postgres::Transaction;

use super::Pg;
use crate::error::StoreError;
use crate::store::directory::{Directory, Protocol};

/// The identity keys clients registered, as the observer checks leaves.
struct Registered(Directory);

impl Pins for Registered {
    fn pinned_identity_key(&self, client: &sealpost_rooms::ClientId) -> Option<[u8; 32]> {
        self.0
            .get(Protocol::V3, &ClientId(client.0))
            .map(|r| KeyBundle::from_public_key(&r.public_key).identity_key)
    }
}

/// Locks the room's row until the transaction ends and returns its epoch
/// ([`StoreError::UnknownRoom`] if there is no such room).
pub(super) async fn lock_room(tx: &Transaction<'_>, room: RoomId) -> Result<u64, StoreError> {
    tx.query_opt(
        "SELECT epoch FROM rooms WHERE id = $1 FOR UPDATE",
        &[&&room.0[..]],
    )
    .await?
    .map(|r| r.get::<_, i64>(0) as u64)
    .ok_or(StoreError::UnknownRoom)
}

/// The room's openmls entries.
pub(super) async fn load(tx: &Transaction<'_>, room: RoomId) -> Result<RoomSnapshot, StoreError> {
    let rows = tx
        .query(
            "SELECT key, value FROM room_mls WHERE room = $1",
            &[&&room.0[..]],
        )
        .await?;
    Ok(RoomSnapshot::new(
        rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
    ))
}

/// Writes back what an observer run changed.
pub(super) async fn save(
    tx: &Transaction<'_>,
    room: RoomId,
    changes: &Changes,
) -> Result<(), StoreError> {
    if !changes.deleted.is_empty() {
        let keys: Vec<&[u8]> = changes.deleted.iter().map(Vec::as_slice).collect();
        tx.execute(
            "DELETE FROM room_mls WHERE room = $1 AND key = ANY($2)",
            &[&&room.0[..], &keys],
        )
        .await?;
    }
    if !changes.written.is_empty() {
        let upsert = tx
            .prepare(
                "INSERT INTO room_mls (room, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (room, key) DO UPDATE SET value = excluded.value",
            )
            .await?;
        for (key, value) in &changes.written {
            tx.execute(&upsert, &[&&room.0[..], key, value]).await?;
        }
    }
    Ok(())
}

impl Pg {
    /// Runs `f` over `snapshot` off the async workers; returns its outcome
    /// with the snapshot (for [`RoomSnapshot::changes`]).
    pub(super) async fn observe<T: Send + 'static>(
        &self,
        snapshot: RoomSnapshot,
        f: impl FnOnce(&RoomSnapshot, &dyn Pins) -> Result<T, RoomsError> + Send + 'static,
    ) -> Result<(T, RoomSnapshot), StoreError> {
        let pins = Registered(self.directory.clone());
        let (out, snapshot) = tokio::task::spawn_blocking(move || {
            let out = f(&snapshot, &pins);
            (out, snapshot)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("the room observer failed: {e}")))?;
        Ok((out.map_err(room_error)?, snapshot))
    }
}

/// What the observer's refusal means for the peer (as on SQLite).
pub(super) fn room_error(e: RoomsError) -> StoreError {
    match e {
        RoomsError::StaleEpoch { room, .. } => StoreError::StaleEpoch(room),
        RoomsError::UnknownRoom => StoreError::UnknownRoom,
        RoomsError::RoomExists => StoreError::RoomExists,
        RoomsError::Identity(e) => StoreError::RoomIdentity(e.to_string()),
        other => StoreError::RoomRefused(other.to_string()),
    }
}

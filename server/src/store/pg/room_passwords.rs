//! Room passwords on PostgreSQL (PROTOCOL.md "Passwords (146 to 149)"): the
//! one OPAQUE setup every node shares and each room's OPAQUE record, with
//! the SQLite writer's rules (`writer/room_password.rs`).

use protocol::{ClientId, RoomId};

use super::Pg;
use crate::error::StoreError;

impl Pg {
    /// See `Store::password_server`: keeps `fresh` unless a setup is kept.
    pub(crate) async fn password_setup(&self, fresh: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO opaque_setup (id, setup) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&fresh],
        )
        .await?;
        Ok(conn
            .query_one("SELECT setup FROM opaque_setup WHERE id = 1", &[])
            .await?
            .get(0))
    }

    /// See `Store::set_room_password`.
    pub(crate) async fn set_room_password(
        &self,
        caller: ClientId,
        room: RoomId,
        record: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let role: i16 = tx
            .query_opt(
                "SELECT role FROM room_members
                 WHERE room = $1 AND client = $2 AND until_seq IS NULL",
                &[&&room.0[..], &&caller.0[..]],
            )
            .await?
            .ok_or(StoreError::UnknownRoom)?
            .get(0);
        if role < 1 {
            return Err(StoreError::RoomRefused(
                "only an admin or the owner sets the room's password".into(),
            ));
        }
        tx.execute(
            "INSERT INTO room_passwords (room, record) VALUES ($1, $2)
             ON CONFLICT (room) DO UPDATE SET record = excluded.record",
            &[&&room.0[..], &record],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// See `Store::room_password`.
    pub(crate) async fn room_password(&self, room: RoomId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()
            .await?
            .query_opt(
                "SELECT record FROM room_passwords WHERE room = $1",
                &[&&room.0[..]],
            )
            .await?
            .map(|r| r.get(0)))
    }
}

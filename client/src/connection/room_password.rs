//! The room password requests (PROTOCOL.md "Passwords (146 to 149)") on an
//! authenticated [`Connection`]: the OPAQUE messages of a registration and a
//! login go to the server and back as bytes; `sealpost_rooms::password`
//! makes and reads them.

use bytes::Bytes;
use protocol::RoomId;
use protocol::v3::{self, RoomPake};

use super::Connection;
use super::error::ConnectionError;

fn unexpected(response: &v3::Response) -> ConnectionError {
    ConnectionError::Unexpected(format!("{:?}", response.code()))
}

impl Connection {
    /// Sends an admin's OPAQUE registration request (146); returns the
    /// server's registration response (1318).
    ///
    /// # Errors
    /// `UNKNOWN_ROOM`, `ROOM_REFUSED` (not an admin), or see [`Connection::call`].
    pub async fn room_password_register(
        &self,
        room: RoomId,
        request: Bytes,
    ) -> Result<Bytes, ConnectionError> {
        let message = RoomPake {
            room,
            message: request,
        };
        match self
            .call(v3::Request::RoomPasswordRegister(message))
            .await?
        {
            v3::Response::RoomPasswordChallenge(p) if p.room == room => Ok(p.message),
            other => Err(unexpected(&other)),
        }
    }

    /// Uploads the room's new OPAQUE record (147), replacing the old one.
    ///
    /// # Errors
    /// `UNKNOWN_ROOM`, `ROOM_REFUSED` (not an admin), or see [`Connection::call`].
    pub async fn room_password_set(
        &self,
        room: RoomId,
        upload: Bytes,
    ) -> Result<(), ConnectionError> {
        let message = RoomPake {
            room,
            message: upload,
        };
        match self.call(v3::Request::RoomPasswordSet(message)).await? {
            v3::Response::RoomPasswordStored(r) if r == room => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends a joiner's OPAQUE credential request (148); returns the
    /// server's credential response (1320).
    ///
    /// # Errors
    /// `TOO_MANY_GUESSES`, or see [`Connection::call`].
    pub async fn room_login(&self, room: RoomId, request: Bytes) -> Result<Bytes, ConnectionError> {
        let message = RoomPake {
            room,
            message: request,
        };
        match self.call(v3::Request::RoomLogin(message)).await? {
            v3::Response::RoomLoginChallenge(p) if p.room == room => Ok(p.message),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends the OPAQUE credential finalization (149): on success this
    /// connection may join the room for a minute.
    ///
    /// # Errors
    /// `WRONG_PASSWORD`, or see [`Connection::call`].
    pub async fn room_login_finish(
        &self,
        room: RoomId,
        finalization: Bytes,
    ) -> Result<(), ConnectionError> {
        let message = RoomPake {
            room,
            message: finalization,
        };
        match self.call(v3::Request::RoomLoginFinish(message)).await? {
            v3::Response::RoomLoginAccepted(r) if r == room => Ok(()),
            other => Err(unexpected(&other)),
        }
    }
}

//! Room passwords on the client's side (PROTOCOL.md "Passwords (146 to
//! 149)"): an admin registers a room's password by OPAQUE, and a joiner
//! proves it on the connection that then sends its join. The password
//! stays here: only OPAQUE messages go to the server, and the Argon2id
//! stretching runs off the async workers.
//!
//! Left out: where a password comes from (the terminal or standard input:
//! `crate::passphrase::read_room_password`; never an argument).

use bytes::Bytes;
use protocol::RoomId;
use sealpost_rooms::{JoinRule, PasswordError, PasswordLogin, PasswordRegistration, Role};
use zeroize::Zeroizing;

use super::RoomInfo;
use super::content::RoomContent;
use super::state::LocalRoom;
use crate::client::Client;
use crate::connection::Connection;
use crate::error::{ClientError, RoomRefusal};

/// A room's password, as a person typed it. No `Debug` of its text.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomPassword(Zeroizing<String>);

impl RoomPassword {
    /// Wraps `text`.
    ///
    /// # Errors
    /// An empty password.
    pub fn new(text: Zeroizing<String>) -> Result<Self, ClientError> {
        if text.is_empty() {
            return Err(ClientError::room(
                RoomRefusal::EmptyPassword,
                "the room password is empty",
            ));
        }
        Ok(Self(text))
    }

    fn bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.as_bytes().to_vec())
    }
}

impl std::fmt::Debug for RoomPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomPassword(..)")
    }
}

/// Runs Argon2id-heavy OPAQUE work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
) -> Result<Result<T, PasswordError>, ClientError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ClientError::room(
            RoomRefusal::Failed,
            format!("the password task failed: {e}"),
        )
    })
}

fn malformed(_: PasswordError) -> ClientError {
    ClientError::room(
        RoomRefusal::Failed,
        "the server's OPAQUE answer is malformed",
    )
}

impl Client {
    /// Registers `password` as the password of `room` (we are an admin
    /// there), replacing the one before: only the new one works from now.
    ///
    /// # Errors
    /// Not an admin (`ROOM_REFUSED`), or the server refused or failed.
    pub(crate) async fn register_room_password(
        &self,
        room: sealpost_rooms::RoomId,
        password: &RoomPassword,
    ) -> Result<(), ClientError> {
        let (registration, request) =
            PasswordRegistration::start(&password.bytes()).map_err(malformed)?;
        let conn = self.connection().await?;
        let response = conn
            .room_password_register(RoomId(room.0), Bytes::from(request))
            .await?;
        let upload = blocking(move || registration.finish(&response))
            .await?
            .map_err(malformed)?;
        conn.room_password_set(RoomId(room.0), Bytes::from(upload))
            .await?;
        Ok(())
    }

    /// Proves `password` of room `room` (named `name`) on `conn`, which may
    /// then join it for a minute.
    ///
    /// # Errors
    /// A wrong password (said in one line), too many guesses (the server's
    /// line says when to try again), or the server failed.
    pub(crate) async fn prove_room_password(
        &self,
        conn: &Connection,
        room: sealpost_rooms::RoomId,
        name: &str,
        password: &RoomPassword,
    ) -> Result<(), ClientError> {
        let (login, request) = PasswordLogin::start(&password.bytes()).map_err(malformed)?;
        let response = conn
            .room_login(RoomId(room.0), Bytes::from(request))
            .await?;
        let finalization = match blocking(move || login.finish(&response)).await? {
            Ok(f) => f,
            Err(_) => return Err(wrong_password(name)),
        };
        conn.room_login_finish(RoomId(room.0), Bytes::from(finalization))
            .await
            .map_err(|e| match e.reason() {
                Some(protocol::ErrorReason::WrongPassword) => wrong_password(name),
                _ => e.into(),
            })
    }

    /// Creates a room named `name` with `rule`; a rule that needs a
    /// password registers `password` right after.
    ///
    /// # Errors
    /// As [`Client::room_create_with_rule`]; a rule that needs a password
    /// without one; the password's registration failed (the room then
    /// admits nobody until `room set NAME --password`).
    pub async fn room_create_locked(
        &self,
        name: &str,
        rule: JoinRule,
        password: Option<&RoomPassword>,
    ) -> Result<RoomInfo, ClientError> {
        let password = match (rule.needs_password(), password) {
            (true, Some(p)) => Some(p),
            (true, None) => return Err(needs_password(super::typed_room(name))),
            (false, _) => None,
        };
        let info = self.room_create_with_rule(name, rule).await?;
        if let Some(password) = password {
            // The name as created (`#NAME` is NAME), the room by its id.
            let name = &info.name;
            let room = self.find_room(&info.id).await?;
            self.register_room_password(room.id, password)
                .await
                .map_err(|e| {
                    ClientError::room(
                        RoomRefusal::PasswordNotSet,
                        format!(
                            "#{name} was created but its password was not set ({e}); \
                         nobody can join it until `room set {} --password` succeeds",
                            crate::advice::quote_word(name)
                        ),
                    )
                })?;
        }
        Ok(info)
    }

    /// Changes who may join the room `name`; a rule that needs a password
    /// registers `password` first, so that the old password fails from then
    /// on.
    ///
    /// # Errors
    /// As [`Client::room_set_rule`]; a rule that needs a password without
    /// one.
    pub async fn room_set_locked(
        &self,
        name: &str,
        rule: JoinRule,
        password: Option<&RoomPassword>,
    ) -> Result<(), ClientError> {
        if rule.needs_password() {
            let Some(password) = password else {
                return Err(needs_password(name));
            };
            let room: LocalRoom = self.find_room(name).await?;
            self.require_role(&room, Role::Admin, "set the room's password")
                .await?;
            let room_id = room.id;
            let engine = self.room_engine().await?;
            let before = engine.run(move |e| Ok(e.access(room_id)?.rule)).await?;
            self.register_room_password(room.id, password).await?;
            if before == rule {
                // No commit will say so: the room hears it from us.
                return self.tell_password_changed(name).await;
            }
        }
        self.room_set_rule(name, rule).await
    }

    /// The rule `--password` alone gives the room `name`: a hidden room
    /// stays unlisted (hidden+password), any other is listed with a lock
    /// (public+password). `--public` or `--hidden` beside it says which.
    ///
    /// # Errors
    /// Unknown room, or reading its log failed.
    pub async fn room_password_rule(&self, name: &str) -> Result<JoinRule, ClientError> {
        let now = self.room_rule(name).await?;
        Ok(if now.open() && !now.listed() {
            JoinRule::HiddenPassword
        } else {
            JoinRule::Password
        })
    }

    /// Who may join the room `name` now.
    ///
    /// # Errors
    /// No such room of ours; the engine's state file failed.
    pub async fn room_rule(&self, name: &str) -> Result<JoinRule, ClientError> {
        self.in_rooms(async || {
            let room_id = self.find_room(name).await?.id;
            let engine = self.room_engine().await?;
            Ok(engine.run(move |e| Ok(e.access(room_id)?.rule)).await?)
        })
        .await
    }

    /// Tells the room `name` that its password changed (a kind-4 message,
    /// PROTOCOL.md "Room content").
    async fn tell_password_changed(&self, name: &str) -> Result<(), ClientError> {
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let notice = RoomContent::PasswordChanged
                .encode()
                .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))?;
            let room_id = room.id;
            self.send_to_room(room.id, None, move |e| e.send(room_id, &notice))
                .await?;
            Ok(())
        })
        .await
    }
}

/// The one line for a wrong password.
pub(crate) fn wrong_password(name: &str) -> ClientError {
    ClientError::RoomPassword(format!("wrong password for #{name}"))
}

/// The one line for a room that needs a password none was given for.
pub(crate) fn needs_password(name: &str) -> ClientError {
    ClientError::RoomPasswordNeeded(name.to_string())
}

//! Room passwords (146 to 149, PROTOCOL.md "Passwords (146 to 149)"): an
//! admin registers the room's password by OPAQUE (the server answers the
//! registration request and stores the record it is sent), and a joiner
//! proves it by an OPAQUE login, after which its connection may join the
//! room by external commit for [`PROVEN_FOR`].
//!
//! The password never reaches the server. Guesses are limited per user and
//! room (`crate::v3::guesses`); each connection keeps at most one login
//! under way and one proven room ([`RoomLogins`]).

use std::time::{Duration, Instant};

use protocol::v3::{self, RoomPake, RoomRole};
use protocol::{ClientId, ErrorReason, RoomId};

use crate::shared::Shared;
use crate::v3::guesses::Counted;
use crate::v3::reply::{error, store_error};

/// How long a proven password lets the connection join its room.
pub(crate) const PROVEN_FOR: Duration = Duration::from_secs(60);

/// One connection's logins: the one under way (between 148 and 149) and
/// the room it last proved, until when.
#[derive(Default)]
pub(crate) struct RoomLogins {
    pending: Option<(sealpost_rooms::PendingLogin, Counted)>,
    proven: Option<(RoomId, Instant)>,
}

impl RoomLogins {
    /// Whether this connection proved `room`'s password within
    /// [`PROVEN_FOR`].
    pub(crate) fn proven(&self, room: RoomId) -> bool {
        self.proven
            .is_some_and(|(r, until)| r == room && Instant::now() < until)
    }
}

/// Refuses a caller who is not an admin or the owner of `room` (by the
/// roles the server follows), as 145 and the commits do.
async fn check_admin(shared: &Shared, me: ClientId, room: RoomId) -> Result<(), v3::Response> {
    let status = shared
        .store
        .room_status(me, room)
        .await
        .map_err(|e| store_error(&e))?;
    let admin = status
        .members
        .iter()
        .any(|m| m.client == me && matches!(m.role, RoomRole::Admin | RoomRole::Owner));
    if admin {
        Ok(())
    } else {
        Err(error(
            ErrorReason::RoomRefused,
            "only an admin or the owner sets the room's password",
        ))
    }
}

/// Answers 146: the OPAQUE registration response, for an admin only (it
/// evaluates the room's OPRF, which nobody else may do unlimited).
pub(crate) async fn register(shared: &Shared, me: ClientId, p: RoomPake) -> v3::Response {
    if let Err(refused) = check_admin(shared, me, p.room).await {
        return refused;
    }
    match shared
        .passwords
        .register(sealpost_rooms::RoomId(p.room.0), &p.message)
    {
        Ok(response) => v3::Response::RoomPasswordChallenge(RoomPake {
            room: p.room,
            message: response.into(),
        }),
        Err(_) => error(
            ErrorReason::Malformed,
            "malformed OPAQUE registration request",
        ),
    }
}

/// Answers 147: stores the record, replacing the room's previous one.
pub(crate) async fn set(shared: &Shared, me: ClientId, p: RoomPake) -> v3::Response {
    let record = match sealpost_rooms::PasswordServer::record(&p.message) {
        Ok(record) => record,
        Err(_) => {
            return error(
                ErrorReason::Malformed,
                "malformed OPAQUE registration upload",
            );
        }
    };
    match shared.store.set_room_password(me, p.room, record).await {
        Ok(()) => {
            tracing::info!(room = %hex::encode(p.room.0), "room password set");
            v3::Response::RoomPasswordStored(p.room)
        }
        Err(e) => store_error(&e),
    }
}

/// Answers 148: counts the guess, answers from the room's record (or from
/// none: the answer does not tell whether the room has one).
pub(crate) async fn login(
    shared: &Shared,
    me: ClientId,
    p: RoomPake,
    logins: &mut RoomLogins,
) -> v3::Response {
    // A new login replaces one under way, whose guess keeps counting.
    logins.pending = None;
    let guess = match shared.guesses.count(&shared.store, me, p.room).await {
        Ok(Ok(guess)) => guess,
        Err(e) => return store_error(&e),
        Ok(Err(wait)) => {
            return error(
                ErrorReason::TooManyGuesses,
                format!(
                    "too many wrong passwords; try again in {}s",
                    wait.as_secs().max(1)
                ),
            );
        }
    };
    let record = match shared.store.room_password(p.room).await {
        Ok(record) => record,
        Err(e) => return store_error(&e),
    };
    match shared.passwords.login(
        sealpost_rooms::RoomId(p.room.0),
        record.as_deref(),
        &p.message,
    ) {
        Ok((response, pending)) => {
            logins.pending = Some((pending, guess));
            v3::Response::RoomLoginChallenge(RoomPake {
                room: p.room,
                message: response.into(),
            })
        }
        Err(_) => error(
            ErrorReason::Malformed,
            "malformed OPAQUE credential request",
        ),
    }
}

/// Answers 149: the password is proven, or not.
pub(crate) async fn login_finish(
    shared: &Shared,
    p: RoomPake,
    logins: &mut RoomLogins,
) -> v3::Response {
    let Some((pending, guess)) = logins.pending.take() else {
        return error(
            ErrorReason::WrongPassword,
            "no login to this room is under way on this connection",
        );
    };
    if pending.room().0 != p.room.0 {
        return error(
            ErrorReason::WrongPassword,
            "the login under way is for another room",
        );
    }
    match pending.finish(&p.message) {
        Ok(()) => {
            shared.guesses.forgive_counted(&shared.store, guess).await;
            logins.proven = Some((p.room, Instant::now() + PROVEN_FOR));
            v3::Response::RoomLoginAccepted(p.room)
        }
        Err(_) => error(ErrorReason::WrongPassword, "wrong password"),
    }
}

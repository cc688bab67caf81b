//! The password examples of PROTOCOL.md ("Passwords (146 to 149)": 146 to
//! 149, 1318 to 1321 and the refusal of too many guesses) as typed values.
//! The OPAQUE messages are stand-ins of their real sizes.

use std::collections::BTreeMap;

use bytes::Bytes;
use protocol::ErrorReason;
use protocol::v3::{self, RoomPake, ServerError};

use super::rooms::ROOM;
use super::{ALICE, BOB, Example, req3, resp3};

fn pake(byte: u8, len: usize) -> RoomPake {
    RoomPake {
        room: ROOM,
        message: Bytes::from(vec![byte; len]),
    }
}

pub fn insert(m: &mut BTreeMap<&'static str, Example>) {
    m.insert(
        "v3-room-password-register",
        req3(ALICE, v3::Request::RoomPasswordRegister(pake(0xc1, 32))),
    );
    m.insert(
        "v3-room-password-set",
        req3(ALICE, v3::Request::RoomPasswordSet(pake(0xc3, 192))),
    );
    m.insert(
        "v3-room-login",
        req3(BOB, v3::Request::RoomLogin(pake(0xd1, 96))),
    );
    m.insert(
        "v3-room-login-finish",
        req3(BOB, v3::Request::RoomLoginFinish(pake(0xd3, 64))),
    );
    m.insert(
        "v3-room-password-challenge",
        resp3(v3::Response::RoomPasswordChallenge(pake(0xc2, 64))),
    );
    m.insert(
        "v3-room-password-stored",
        resp3(v3::Response::RoomPasswordStored(ROOM)),
    );
    m.insert(
        "v3-room-login-challenge",
        resp3(v3::Response::RoomLoginChallenge(pake(0xd2, 320))),
    );
    m.insert(
        "v3-room-login-accepted",
        resp3(v3::Response::RoomLoginAccepted(ROOM)),
    );
    m.insert(
        "v3-error-too-many-guesses",
        resp3(v3::Response::Error(ServerError::new(
            ErrorReason::TooManyGuesses,
            "too many wrong passwords; try again in 58s",
        ))),
    );
}

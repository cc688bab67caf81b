//! The holding examples of PROTOCOL.md ("Holding a room file (150)": 150 to
//! hold and to release, 1322, and the refusal of one hold too many) as
//! typed values.

use std::collections::BTreeMap;

use protocol::ErrorReason;
use protocol::v3::{self, RoomFileHold, ServerError};

use super::rooms::ROOM;
use super::{BOB, Example, req3, resp3};

fn hold(hold: bool) -> RoomFileHold {
    RoomFileHold {
        room: ROOM,
        seq: 46,
        hold,
    }
}

pub fn insert(m: &mut BTreeMap<&'static str, Example>) {
    m.insert(
        "v3-room-file-hold",
        req3(BOB, v3::Request::RoomFileHold(hold(true))),
    );
    m.insert(
        "v3-room-file-release",
        req3(BOB, v3::Request::RoomFileHold(hold(false))),
    );
    m.insert(
        "v3-room-file-held",
        resp3(v3::Response::RoomFileHeld(hold(true))),
    );
    m.insert(
        "v3-error-too-many-holds",
        resp3(v3::Response::Error(ServerError::new(
            ErrorReason::TooManyHolds,
            "you already hold the most room files (64); release one",
        ))),
    );
}

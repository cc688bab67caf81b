//! The joining examples of PROTOCOL.md ("Joining (142 to 144)": 142 to 144,
//! 1314 to 1316, and the one answer of a hidden room to a wrong name) as
//! typed values.

use std::collections::BTreeMap;

use bytes::Bytes;
use protocol::ErrorReason;
use protocol::v3::{self, GroupInfoStored, ListedRoom, RoomGroupInfo, RoomLabel, ServerError};

use super::rooms::ROOM;
use super::{ALICE, BOB, Example, req3, resp3};

fn group_info() -> RoomGroupInfo {
    RoomGroupInfo {
        room: ROOM,
        epoch: 1,
        group_info: Bytes::from(vec![0x61; 8]),
    }
}

pub fn insert(m: &mut BTreeMap<&'static str, Example>) {
    let ops = RoomLabel::new("ops").unwrap();
    m.insert(
        "v3-room-group-info",
        req3(ALICE, v3::Request::RoomGroupInfo(group_info())),
    );
    m.insert("v3-listed-rooms", req3(BOB, v3::Request::ListedRooms));
    m.insert(
        "v3-find-room",
        req3(BOB, v3::Request::FindRoom(ops.clone())),
    );
    m.insert(
        "v3-group-info-stored",
        resp3(v3::Response::GroupInfoStored(GroupInfoStored {
            room: ROOM,
            epoch: 1,
        })),
    );
    m.insert(
        "v3-listed-rooms-answer",
        resp3(v3::Response::ListedRooms(vec![ListedRoom {
            room: ROOM,
            members: 2,
            online: 1,
            locked: true,
            name: ops,
        }])),
    );
    m.insert(
        "v3-room-found",
        resp3(v3::Response::RoomFound(group_info())),
    );
    m.insert(
        "v3-error-no-such-room",
        resp3(v3::Response::Error(ServerError::new(
            ErrorReason::UnknownRoom,
            "no such room",
        ))),
    );
}

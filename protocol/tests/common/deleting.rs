//! The deleting examples of PROTOCOL.md ("Deleting (145)": 145, 1317 and the
//! type-6 notice a member receives) as typed values.

use std::collections::BTreeMap;

use bytes::Bytes;
use protocol::MessageKind;
use protocol::v3::{self, Delivery, RoomDelete, RoomNotice};

use super::rooms::ROOM;
use super::{ALICE, Example, SENT_AT, req3, resp3};

pub fn insert(m: &mut BTreeMap<&'static str, Example>) {
    let notice = Bytes::from(vec![0xa5; 8]);
    m.insert(
        "v3-room-delete",
        req3(
            ALICE,
            v3::Request::RoomDelete(RoomDelete {
                room: ROOM,
                epoch: 1,
                notice: notice.clone(),
            }),
        ),
    );
    m.insert("v3-room-deleted", resp3(v3::Response::RoomDeleted(ROOM)));
    m.insert(
        "v3-room-deleted-delivery",
        resp3(v3::Response::Delivery(Delivery {
            sender: ALICE,
            message_id: 47,
            kind: MessageKind::RoomDeleted,
            sent_at_ms: SENT_AT + 3000,
            content: RoomNotice {
                room: ROOM,
                epoch: 1,
                notice,
            }
            .encode()
            .unwrap(),
        })),
    );
}

//! The not-delivered examples of PROTOCOL.md ("Type 7: not delivered"): the
//! pull that opts in to type 7, and the type-7 message a sender receives,
//! as typed values.

use std::collections::BTreeMap;

use protocol::MessageKind;
use protocol::v3::{self, Delivery, GoneReason, NotDelivered, PULL_READS_NOT_DELIVERED, Pull};

use super::{BOB, Example, SENT_AT, req3, resp3};

pub fn insert(m: &mut BTreeMap<&'static str, Example>) {
    m.insert(
        "v3-pull-not-delivered",
        req3(
            BOB,
            v3::Request::Pull(Pull {
                max_messages: 100 | PULL_READS_NOT_DELIVERED,
                max_bytes: 65_536,
            }),
        ),
    );
    m.insert(
        "v3-not-delivered-delivery",
        resp3(v3::Response::Delivery(Delivery {
            sender: BOB,
            message_id: 48,
            kind: MessageKind::NotDelivered,
            sent_at_ms: SENT_AT + 4000,
            content: NotDelivered {
                reason: GoneReason::DeletedByOwner,
                message_ids: vec![42, 43],
            }
            .encode()
            .unwrap(),
        })),
    );
}

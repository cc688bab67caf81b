//! The presence examples of PROTOCOL.md ("141 presence": 141, 1312, 1313)
//! as typed values.

use std::collections::BTreeMap;

use protocol::v3::{self, ClientEntry, ClientPage, Presence, PresenceChange, PresenceChanges};
use protocol::{ClientId, Name};

use super::{ALICE, BOB, CAROL, Example, req3, resp3};

pub fn insert(m: &mut BTreeMap<&'static str, Example>) {
    m.insert(
        "v3-presence",
        req3(
            ALICE,
            v3::Request::Presence(Presence {
                show: true,
                watch: true,
                after: ClientId([0; 16]),
            }),
        ),
    );
    m.insert(
        "v3-online",
        resp3(v3::Response::Online(ClientPage {
            more: false,
            clients: vec![ClientEntry {
                id: BOB,
                name: Name::new("bob").unwrap(),
            }],
        })),
    );
    m.insert(
        "v3-presence-changes",
        resp3(v3::Response::PresenceChanges(PresenceChanges {
            resync: false,
            changes: vec![
                PresenceChange {
                    client: BOB,
                    online: true,
                },
                PresenceChange {
                    client: CAROL,
                    online: false,
                },
            ]
            .into(),
        })),
    );
}

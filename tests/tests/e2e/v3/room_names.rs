//! A room's name as the server checks it (PROTOCOL.md "Room name"): a
//! creation or a rename that gives a name not shown as typed (a character
//! that reorders text or is not shown, an odd space) is refused on both
//! engines, whatever client sends it; a commit that leaves the name alone
//! is not asked about it.

use e2e::{Engine, RoomUser, TestServer};
use protocol::{ErrorReason, RoomId, v3};
use sealpost_rooms::{JoinRule, RoomName};

/// Creates `name` as an invite-only room with the engine directly (no
/// client-side rule), and returns the server's refusal line, if any.
async fn create_named(user: &mut RoomUser, name: &str) -> (RoomId, Result<(), String>) {
    let room = RoomId(rand::random());
    let created = user
        .engine
        .create_room_with_rule(
            sealpost_rooms::RoomId(room.0),
            &RoomName::new(name).unwrap(),
            JoinRule::InviteOnly,
        )
        .unwrap();
    let answer = user
        .call_ok(v3::Request::RoomCreate(v3::RoomCreate {
            room,
            group_info: created.group_info.into(),
            ratchet_tree: created.ratchet_tree.into(),
        }))
        .await;
    (room, answer.map(drop).map_err(|e| e.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_given_no_name_that_is_not_shown_as_typed_on_either_engine() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let server = TestServer::start_on(engine, |_| {}).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut alice = RoomUser::new(server.addr, dir.path(), "alice")
            .await
            .unwrap();

        for (name, said) in [
            ("r\u{202E}oom", "U+202E, a character that reorders"),
            ("te\u{200B}am", "U+200B, a character that is not shown"),
            ("dev\u{00A0}ops", "U+00A0, a space other than the plain"),
            ("team ", "ends with a space"),
        ] {
            let (_, refused) = create_named(&mut alice, name).await;
            let line = refused.expect_err(name);
            assert!(line.contains("ROOM_REFUSED"), "{engine:?} {name:?}: {line}");
            assert!(
                line.contains("must be shown as typed") && line.contains(said),
                "{engine:?} {name:?}: {line}"
            );
        }

        let (room, made) = create_named(&mut alice, "dev ops").await;
        made.unwrap();
        let engine_room = sealpost_rooms::RoomId(room.0);
        let rename = |alice: &RoomUser, name: &str| {
            alice
                .engine
                .rename(engine_room, &RoomName::new(name).unwrap())
                .unwrap()
        };
        let out = rename(&alice, "dev\u{2067}ops");
        assert_eq!(
            alice.publish(out).await.unwrap(),
            Err(ErrorReason::RoomRefused),
            "{engine:?}"
        );
        // The refused rename left the room as it was: the next one is for
        // the same epoch, and a name shown as typed is taken.
        let out = rename(&alice, "Équipe tеam");
        assert_eq!(alice.publish(out).await.unwrap(), Ok(1), "{engine:?}");
        assert_eq!(
            alice.engine.name(engine_room).unwrap().unwrap().as_str(),
            "Équipe tеam"
        );
    }
}

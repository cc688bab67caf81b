//! Holding room files (PROTOCOL.md "Holding a room file (150)") through the
//! real server, on the engine `SEALPOST_TEST_ENGINE` names: a held file
//! outlives every member's cursor, downloads whole and decrypts to the
//! sent bytes; its release deletes entry and blob; a removed member's holds
//! end with its cursor, and every hold with its entry's retention; refusals for non-members, entries without a file,
//! entries that are not there, and one hold past the limit.

use std::time::Duration;

use client::client::NoProgress;
use e2e::{RoomUser, TestServer, bounded, reason_of};
use protocol::v3::{self, MAX_ROOM_FILE_HOLDS, RoomFileHold};
use protocol::{ErrorReason, RoomId};

use super::room_files::{download_answer, file_seq, hash_of, random_file, room_of};
use super::server;

async fn hold(user: &mut RoomUser, room: RoomId, seq: u64, hold: bool) -> v3::Response {
    user.conn
        .call(v3::Request::RoomFileHold(RoomFileHold { room, seq, hold }))
        .await
        .unwrap()
}

fn held(room: RoomId, seq: u64, hold: bool) -> v3::Response {
    v3::Response::RoomFileHeld(RoomFileHold { room, seq, hold })
}

/// Waits until the server's blob folder holds `n` blobs (a blob is deleted
/// once the change that let it go is committed).
async fn blobs_become(server: &TestServer, n: usize) {
    bounded("the blobs to be deleted", async {
        while server.bodies().await.unwrap() != n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_room_file_outlives_every_cursor_until_its_release() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let addr = server.addr;
    let mut alice = RoomUser::new(addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(addr, dir.path(), "bob").await.unwrap();
    let mut carol = RoomUser::new(addr, dir.path(), "carol").await.unwrap();
    let room = room_of(&mut alice, &mut [&mut bob, &mut carol]).await;
    let before = alice.say(room, "a file follows").await.unwrap();
    let (path, sha) = random_file(dir.path(), "held.bin", 2 * 1024 * 1024 + 777);
    let conn = alice.client_conn(addr).await.unwrap();
    let (seq, _) = alice.send_file(&conn, room, &path).await.unwrap();
    let after = alice.say(room, "that was the file").await.unwrap();

    // Bob holds the file (twice: the same answer), then reads past it;
    // so do carol and alice.
    assert_eq!(file_seq(&bob.peek().await.unwrap()), seq);
    assert_eq!(hold(&mut bob, room, seq, true).await, held(room, seq, true));
    assert_eq!(hold(&mut bob, room, seq, true).await, held(room, seq, true));
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    alice.sync().await.unwrap();

    // Collection went on around the held entry: the texts before and after
    // it are gone, the file is not.
    for text in [before, after] {
        let answer = download_answer(&mut carol, room, text, 0).await;
        assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownMessage);
    }
    assert_eq!(server.bodies().await.unwrap(), 1);
    let inbox = dir.path().join("bob-downloads");
    let conn = bob.client_conn(addr).await.unwrap();
    let saved = bob
        .fetch_file(&conn, room, seq, &inbox, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        hash_of(&saved),
        sha,
        "the held file decrypted to other bytes"
    );
    // Carol holds nothing but still receives the entry while it is kept.
    assert!(matches!(
        download_answer(&mut carol, room, seq, 0).await,
        v3::Response::FileChunk(_)
    ));

    // The release lets entry and blob go at once.
    assert_eq!(
        hold(&mut bob, room, seq, false).await,
        held(room, seq, false)
    );
    let answer = download_answer(&mut bob, room, seq, 0).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownMessage);
    blobs_become(&server, 0).await;
    // A second release finds nothing to release.
    let answer = hold(&mut bob, room, seq, false).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownMessage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_file_waits_for_the_cursors_behind_it_and_a_removed_members_holds_end() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let addr = server.addr;
    let mut alice = RoomUser::new(addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(addr, dir.path(), "bob").await.unwrap();
    let mut carol = RoomUser::new(addr, dir.path(), "carol").await.unwrap();
    let room = room_of(&mut alice, &mut [&mut bob, &mut carol]).await;
    let (path, _) = random_file(dir.path(), "a.bin", 1000);
    let conn = alice.client_conn(addr).await.unwrap();
    let (first, _) = alice.send_file(&conn, room, &path).await.unwrap();
    let (second, _) = alice.send_file(&conn, room, &path).await.unwrap();

    // Bob holds both and reads past them; carol has not read them yet:
    // releasing the first keeps it for her.
    bob.peek().await.unwrap();
    for seq in [first, second] {
        assert_eq!(hold(&mut bob, room, seq, true).await, held(room, seq, true));
    }
    bob.sync().await.unwrap();
    alice.sync().await.unwrap();
    assert_eq!(
        hold(&mut bob, room, first, false).await,
        held(room, first, false)
    );
    assert!(matches!(
        download_answer(&mut carol, room, first, 0).await,
        v3::Response::FileChunk(_)
    ));
    // Carol reads past both: the first goes, the held second stays.
    carol.sync().await.unwrap();
    let answer = download_answer(&mut carol, room, first, 0).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownMessage);
    assert!(matches!(
        download_answer(&mut carol, room, second, 0).await,
        v3::Response::FileChunk(_)
    ));
    blobs_become(&server, 1).await;

    // Alice removes bob; once he has read his removal, his hold ends with
    // his cursor, and the entry everybody is past goes.
    alice.remove(room, &[bob.id()]).await.unwrap();
    alice.sync().await.unwrap();
    carol.sync().await.unwrap();
    assert!(matches!(
        download_answer(&mut carol, room, second, 0).await,
        v3::Response::FileChunk(_)
    ));
    bob.sync().await.unwrap();
    let answer = download_answer(&mut carol, room, second, 0).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownMessage);
    blobs_become(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_are_refused_to_non_members_without_a_file_and_past_the_limit() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let addr = server.addr;
    let mut alice = RoomUser::new(addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(addr, dir.path(), "bob").await.unwrap();
    let mut carol = RoomUser::new(addr, dir.path(), "carol").await.unwrap();
    let room = room_of(&mut alice, &mut [&mut bob]).await;
    let text = alice.say(room, "no file here").await.unwrap();
    let (path, _) = random_file(dir.path(), "small.bin", 100);
    let conn = alice.client_conn(addr).await.unwrap();
    let mut files = Vec::new();
    for _ in 0..=MAX_ROOM_FILE_HOLDS {
        files.push(alice.send_file(&conn, room, &path).await.unwrap().0);
    }

    // Carol is no member; a text names no file; an entry that never was.
    let answer = hold(&mut carol, room, files[0], true).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownRoom);
    let answer = hold(&mut bob, room, text, true).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::BadMessageType);
    let answer = hold(&mut bob, room, files[0] + 100_000, true).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownMessage);
    let answer = hold(&mut bob, RoomId([0x5a; 16]), files[0], true).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownRoom);

    // 64 holds, then one more is refused with a text naming the limit;
    // a release makes room for it.
    let (last, first) = files.split_last().unwrap();
    for &seq in first {
        assert_eq!(hold(&mut bob, room, seq, true).await, held(room, seq, true));
    }
    match hold(&mut bob, room, *last, true).await {
        v3::Response::Error(e) => {
            assert_eq!(e.reason, ErrorReason::TooManyHolds);
            assert!(e.text.contains("64"), "{}", e.text);
        }
        other => panic!("a 65th hold: {other:?}"),
    }
    // Holding one already held is no new hold.
    let again = first[3];
    assert_eq!(
        hold(&mut bob, room, again, true).await,
        held(room, again, true)
    );
    assert_eq!(
        hold(&mut bob, room, first[0], false).await,
        held(room, first[0], false)
    );
    assert_eq!(
        hold(&mut bob, room, *last, true).await,
        held(room, *last, true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_ends_a_hold_with_its_entry() {
    let mut server = TestServer::start(|c| c.room_retention = Duration::from_millis(1))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let addr = server.addr;
    let mut alice = RoomUser::new(addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(addr, dir.path(), "bob").await.unwrap();
    let room = room_of(&mut alice, &mut [&mut bob]).await;
    let (path, _) = random_file(dir.path(), "old.bin", 1000);
    let conn = alice.client_conn(addr).await.unwrap();
    let (seq, _) = alice.send_file(&conn, room, &path).await.unwrap();
    bob.peek().await.unwrap();
    assert_eq!(hold(&mut bob, room, seq, true).await, held(room, seq, true));
    bob.sync().await.unwrap();
    alice.sync().await.unwrap();
    let sent = server::now_ms();
    bounded("the clock to pass the retention", async {
        while server::now_ms() <= sent + 1 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    // Retention runs at startup: the held entry goes, hold and blob with it.
    server.restart().await.unwrap();
    bob.reconnect(server.addr).await.unwrap();
    bounded("retention to run", async {
        loop {
            let answer = download_answer(&mut bob, room, seq, 0).await;
            if reason_of(&answer).ok() == Some(ErrorReason::UnknownMessage) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    blobs_become(&server, 0).await;
    let answer = hold(&mut bob, room, seq, false).await;
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownMessage);
}

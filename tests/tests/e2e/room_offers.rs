//! Room files over the automatic download limit (issue #17): the server
//! holds them for the member (150) while the room's cursors move on; the
//! member accepts one later (downloaded whole, its hash checked, in the
//! room's history, then released: the server deletes it) or declines it
//! (released and deleted).

use std::time::Duration;

use client::rooms::event::RoomChange;
use client::{ClientError, DownloadPolicy, What};
use e2e::{TestServer, bounded, pattern, sha};
use tokio_util::sync::CancellationToken;

/// alice and bob in `#team`, alice its owner; bob takes files up to 1 MiB
/// without asking.
async fn team(addr: &str, dir: &std::path::Path) -> (client::Client, client::Client) {
    let (alice, bob) = crate::room_uploads::team(addr, dir).await;
    bob.set_download_policy(DownloadPolicy {
        max_auto_download: 1 << 20,
        accept_all: false,
    });
    (alice, bob)
}

async fn blobs_become(server: &TestServer, n: usize) {
    let data = server.config.data_dir.clone();
    bounded("the server's blobs", async {
        while e2e::blobs_in(&data) != n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

/// alice sends a 3 MiB file to `#team`; bob reads it as a held offer and
/// both read past it. The offer's number and the file's bytes.
async fn held_offer(
    server: &TestServer,
    alice: &client::Client,
    bob: &client::Client,
) -> (u64, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    let data = pattern(71, 3 << 20);
    std::fs::write(&file, &data).unwrap();
    bounded(
        "alice's upload",
        alice.room_send_file("team", &file, CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    blobs_become(server, 1).await;
    let events = bounded("bob's read", bob.inbox()).await.unwrap().unwrap();
    let held: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.what {
            What::Room {
                change: RoomChange::FileHeld { name, size, limit },
                room,
                ..
            } => Some((e.message_id, room.clone(), name.clone(), *size, *limit)),
            _ => None,
        })
        .collect();
    assert_eq!(held.len(), 1, "{events:?}");
    let (seq, room, name, size, limit) = held[0].clone();
    assert_eq!(
        (room.as_str(), name.as_str(), size, limit),
        ("team", "big.bin", 3 << 20, 1 << 20)
    );
    let line = client::output::event(events.iter().find(|e| e.message_id == seq).unwrap());
    assert!(
        line.contains(&format!("`client accept-file {seq}`")),
        "{line}"
    );
    // Every cursor moves past the entry; the hold keeps it.
    bounded("alice's read", alice.inbox())
        .await
        .unwrap()
        .unwrap();
    bounded("bob's read", bob.inbox()).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e2e::blobs_in(&server.config.data_dir), 1);
    let offers = bob.held_files().await.unwrap();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].message_id, seq);
    assert_eq!(offers[0].room.as_deref(), Some("team"));
    assert_eq!(offers[0].size, 3 << 20);
    (seq, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_file_over_the_limit_is_held_until_accepted_and_then_deleted_on_the_server() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = team(&addr, dir.path()).await;
    let (seq, data) = held_offer(&server, &alice, &bob).await;

    let before_accept = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let event = bounded("accepting", bob.accept_file(seq, CancellationToken::new()))
        .await
        .unwrap()
        .unwrap();
    let What::Room {
        change: RoomChange::File {
            path: Some(path), ..
        },
        ..
    } = &event.what
    else {
        panic!("not saved: {event:?}");
    };
    assert_eq!(sha(&std::fs::read(path).unwrap()), sha(&data));
    // Released: the server deletes it, and nothing is left to decide.
    blobs_become(&server, 0).await;
    assert!(bob.held_files().await.unwrap().is_empty());
    let again = bob.accept_file(seq, CancellationToken::new()).await;
    assert!(
        matches!(again, Err(ClientError::NoHeldFile(n, _)) if n == seq),
        "{again:?}"
    );
    let history = bob.history("#team", Default::default()).await.unwrap().1;
    let files: Vec<_> = history
        .iter()
        .filter(
            |e| matches!(&e.body, client::keystore::Body::File { name, .. } if name == "big.bin"),
        )
        .collect();
    assert_eq!(files.len(), 1, "{history:?}");
    // Dated by the room's log, not by the acceptance (300 ms and more
    // later): the entry is the one kept when the offer was held.
    assert_eq!(files[0].server_time_ms, Some(event.sent_at_ms));
    assert_eq!(files[0].shown_time_ms(), event.sent_at_ms, "{:?}", files[0]);
    assert!(files[0].arrived_at_ms <= before_accept, "{:?}", files[0]);

    // A text read late is dated by the room's log too, not by its reading.
    let seq = alice.room_send("team", "written before").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    bounded("bob's read", bob.inbox()).await.unwrap().unwrap();
    let history = bob.history("#team", Default::default()).await.unwrap().1;
    let text = history
        .iter()
        .find(|e| e.message_id == Some(seq))
        .expect("the text is in bob's history");
    assert!(text.shown_time_ms() + 300 <= text.arrived_at_ms, "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_a_held_room_file_releases_it_and_the_server_deletes_it() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = team(&addr, dir.path()).await;
    let (seq, _) = held_offer(&server, &alice, &bob).await;

    let offer = bounded("declining", bob.decline_file(seq))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (offer.name.as_str(), offer.room.as_deref()),
        ("big.bin", Some("team"))
    );
    blobs_become(&server, 0).await;
    assert!(bob.held_files().await.unwrap().is_empty());
    let again = bob.decline_file(seq).await;
    assert!(
        matches!(again, Err(ClientError::NoHeldFile(n, _)) if n == seq),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_room_file_whose_room_was_deleted_is_forgotten_with_a_line_saying_so() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = team(&addr, dir.path()).await;
    let (seq, _) = held_offer(&server, &alice, &bob).await;
    bounded("deleting the room", alice.room_delete("team"))
        .await
        .unwrap()
        .unwrap();
    blobs_become(&server, 0).await;

    let event = bounded("accepting", bob.accept_file(seq, CancellationToken::new()))
        .await
        .unwrap()
        .unwrap();
    let What::Room {
        change:
            RoomChange::File {
                path: None,
                not_saved: Some(why),
                ..
            },
        ..
    } = &event.what
    else {
        panic!("saved? {event:?}");
    };
    assert!(why.contains("no longer has it"), "{why}");
    assert!(bob.held_files().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_file_the_server_will_not_hold_is_passed_over_with_the_reason() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = team(&addr, dir.path()).await;
    bob.set_download_policy(DownloadPolicy {
        max_auto_download: 0,
        accept_all: false,
    });
    let limit = protocol::v3::MAX_ROOM_FILE_HOLDS;
    for i in 0..=limit {
        let file = dir.path().join(format!("f{i}.bin"));
        std::fs::write(&file, [1u8]).unwrap();
        bounded(
            "alice's upload",
            alice.room_send_file("team", &file, CancellationToken::new()),
        )
        .await
        .unwrap()
        .unwrap();
    }
    let events = bounded("bob's read", bob.inbox()).await.unwrap().unwrap();
    let held = events
        .iter()
        .filter(|e| {
            matches!(
                &e.what,
                What::Room {
                    change: RoomChange::FileHeld { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(held as u64, limit as u64, "{events:?}");
    let passed: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.what {
            What::Room {
                change:
                    RoomChange::File {
                        path: None,
                        not_saved: Some(why),
                        ..
                    },
                ..
            } => Some(why.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(passed.len(), 1, "{events:?}");
    assert!(passed[0].contains("TOO_MANY_HOLDS"), "{}", passed[0]);
    assert_eq!(bob.held_files().await.unwrap().len() as u64, limit as u64);
}

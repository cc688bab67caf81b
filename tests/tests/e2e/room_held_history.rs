//! A room file held for the member's answer (over its automatic download
//! limit), through the real binaries: it is in the room's `history` from
//! the moment it is held (status held, with how to accept or decline it),
//! and the same entry becomes the received file once accepted, or
//! declined, as one-to-one offers do.

use e2e::pattern;
use serde_json::Value;

use crate::rooms_cli::{json, ok, users};

/// The file entries of `history --json #team` at `home`.
async fn files(addr: std::net::SocketAddr, home: &std::path::Path) -> Vec<Value> {
    let history = json(addr, home, &["history", "#team"]).await;
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "file")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_held_history_a_held_room_file_is_in_history_until_accepted_or_declined() {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    for (name, seed) in [("first.bin", 1), ("second.bin", 2)] {
        let path = dir.path().join(name);
        std::fs::write(&path, pattern(seed, 200_000)).unwrap();
        ok(
            addr,
            &alice,
            &["room", "send-file", "team", path.to_str().unwrap()],
        )
        .await;
    }
    ok(addr, &bob, &["--max-auto-download", "100K", "inbox"]).await;

    let held = files(addr, &bob).await;
    assert_eq!(held.len(), 2, "{held:?}");
    for (e, name) in held.iter().zip(["first.bin", "second.bin"]) {
        assert_eq!(e["name"], name, "{e}");
        assert_eq!(e["size"], 200_000, "{e}");
        assert_eq!(e["status"], "held", "{e}");
        assert_eq!(e["direction"], "in", "{e}");
        assert!(e.get("path").is_none(), "nothing saved yet: {e}");
    }
    let (first, second) = (
        held[0]["message_id"].as_u64().unwrap(),
        held[1]["message_id"].as_u64().unwrap(),
    );
    // The numbers are those `files` lists and `accept-file` takes.
    let offers = json(addr, &bob, &["files"]).await;
    let listed: Vec<u64> = offers
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["message_id"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [first, second], "{offers}");
    let shown = ok(addr, &bob, &["history", "#team"]).await;
    assert!(
        shown.contains(&format!(
            "alice sent a file: first.bin (200.00 kB); held, waiting for your answer: \
             accept-file {first} downloads it, decline-file {first} deletes it"
        )),
        "{shown}"
    );

    ok(addr, &bob, &["decline-file", &second.to_string()]).await;
    ok(addr, &bob, &["accept-file", &first.to_string()]).await;
    let after = files(addr, &bob).await;
    assert_eq!(after.len(), 2, "one entry each all along: {after:?}");
    assert_eq!(after[0]["entry"], held[0]["entry"], "{after:?}");
    assert!(
        after[0]["status"] == "received" || after[0]["status"] == "read",
        "{after:?}"
    );
    let saved = bob.join("downloads").join("first.bin");
    assert_eq!(
        after[0]["path"].as_str().map(std::path::Path::new),
        Some(saved.as_path())
    );
    assert_eq!(std::fs::read(&saved).unwrap(), pattern(1, 200_000));
    assert_eq!(after[1]["entry"], held[1]["entry"], "{after:?}");
    assert_eq!(after[1]["status"], "declined", "{after:?}");
    assert!(after[1].get("path").is_none(), "{after:?}");
    let shown = ok(addr, &bob, &["history", "#team"]).await;
    assert!(
        shown.contains("alice sent a file: second.bin (200.00 kB); you declined it"),
        "{shown}"
    );
    assert!(shown.contains("first.bin (200.00 kB), saved as"), "{shown}");
}

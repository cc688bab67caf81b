//! The server's size limits as the client says them: a text over a
//! server's `--max-message` (to a person or a room) and a file over its
//! `--max-file-size` are refused by the client before anything is sent or
//! kept, in the text's or the file's own size, naming what fits; what it
//! names does fit. The server refuses a client that did not check.

use e2e::TestServer;

use crate::rooms_cli::{json, refusal, register};

/// The most a `text_too_long` refusal of a text of `len` bytes says fits.
fn text_fits(refused: &serde_json::Value, len: usize) -> usize {
    assert_eq!(refused["code"], "text_too_long", "{refused}");
    let said = refused["error"].as_str().unwrap();
    let start = format!("the text is {len} bytes and at most ");
    let rest = said
        .strip_prefix(&start)
        .unwrap_or_else(|| panic!("{said}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_over_the_servers_message_limit_is_refused_counting_its_own_bytes() {
    let server = TestServer::start(|o| o.max_message_len = 1024)
        .await
        .unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob] = ["alice", "bob"].map(|n| dir.path().join(n));
    register(addr, &alice, "alice").await;
    register(addr, &bob, "bob").await;

    let long = "x".repeat(2000);
    let refused = refusal(addr, &alice, &["send", "bob", &long]).await;
    let max = text_fits(&refused, 2000);
    assert!(max < 1024 && max > 900, "{refused}");
    // Nothing kept as sent or failed.
    let history = json(addr, &alice, &["history", "bob"]).await;
    assert_eq!(history.as_array().unwrap().len(), 0, "{history}");

    let fits = "y".repeat(max);
    json(addr, &alice, &["send", "bob", &fits]).await;
    let over = "z".repeat(max + 1);
    let refused = refusal(addr, &alice, &["send", "bob", &over]).await;
    let expected = format!("the text is {} bytes and at most {max} fit", max + 1);
    assert!(
        refused["error"].as_str().unwrap().starts_with(&expected),
        "{refused}"
    );

    let inbox = json(addr, &bob, &["inbox"]).await;
    let texts = crate::rooms_cli::direct_texts(&inbox);
    assert_eq!(texts, [fits.as_str()], "{inbox}");
}

/// A room text is held to the same limit: the client says it in the
/// text's bytes, and the server refuses a larger room message from a
/// client that did not check (PROTOCOL.md, Rooms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_text_over_the_servers_message_limit_is_refused_by_client_and_server() {
    let server = TestServer::start(|o| o.max_message_len = 1024)
        .await
        .unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let alice = dir.path().join("alice");
    register(addr, &alice, "alice").await;
    json(addr, &alice, &["room", "create", "ops"]).await;

    let long = "x".repeat(2000);
    let refused = refusal(addr, &alice, &["room", "send", "ops", &long]).await;
    let max = text_fits(&refused, 2000);
    assert!(max < 1024 && max > 800, "{refused}");
    json(addr, &alice, &["room", "send", "ops", &"y".repeat(max)]).await;
    let history = json(addr, &alice, &["history", "#ops"]).await;
    let texts = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "text");
    assert_eq!(texts.count(), 1, "{history}");

    // A client that does not check is refused by the server.
    let mut raw = e2e::RoomUser::new(addr, dir.path(), "raw").await.unwrap();
    let room = raw.create().await.unwrap();
    assert!(raw.try_say(room, "short").await.unwrap().is_ok());
    let refused = raw.try_say(room, &long).await.unwrap();
    assert_eq!(refused, Err(protocol::ErrorReason::MessageTooLarge));
}

/// A file over the server's `--max-file-size` is refused before anything
/// is sent, in the file's own size (the server counts sealed bytes), to a
/// person and to a room; the largest size it names is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_servers_limit_is_refused_in_its_own_size_before_sending() {
    let server = TestServer::start(|o| o.max_file_size = 1 << 20)
        .await
        .unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob] = ["alice", "bob"].map(|n| dir.path().join(n));
    register(addr, &alice, "alice").await;
    register(addr, &bob, "bob").await;
    json(addr, &alice, &["room", "create", "ops"]).await;
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 1_500_000]).unwrap();
    let big = big.to_str().unwrap();

    let mut largest = String::new();
    for args in [
        &["send-file", "bob", big][..],
        &["room", "send-file", "ops", big],
    ] {
        let refused = refusal(addr, &alice, args).await;
        assert_eq!(refused["code"], "file_too_large", "{refused}");
        let said = refused["error"].as_str().unwrap();
        let expected = "big.bin is too large to send: it is 1.50 MB, and this server takes \
                        files of at most ";
        assert!(said.contains(expected), "{said}");
        largest = said.rsplit(' ').next().unwrap().to_string();
    }
    assert_eq!(largest, "MB", "a size in decimal units");
    let history = json(addr, &alice, &["history", "bob"]).await;
    assert_eq!(history.as_array().unwrap().len(), 0, "{history}");
    let status = json(addr, &alice, &["resume"]).await;
    assert!(
        !status.to_string().contains("big.bin"),
        "nothing kept: {status}"
    );

    // The largest file that fits, found by the rule the client uses (a
    // chunk of 64 KiB gains a 16-byte tag), is sent.
    let fits = (1u64 << 20) - 16 * 16;
    let edge = dir.path().join("edge.bin");
    std::fs::write(&edge, vec![8u8; fits as usize]).unwrap();
    json(addr, &alice, &["send-file", "bob", edge.to_str().unwrap()]).await;
    let over = dir.path().join("over.bin");
    std::fs::write(&over, vec![9u8; fits as usize + 1]).unwrap();
    let refused = refusal(addr, &alice, &["send-file", "bob", over.to_str().unwrap()]).await;
    assert_eq!(refused["code"], "file_too_large", "{refused}");
}

//! The client library and binary against real servers: full flows between
//! three users, a client restart mid-conversation, a peer's key changing,
//! and the binaries' subcommands and self-test (resumed uploads: `uploads.rs`).

use crate::uploads::server_connection_for;
use e2e::user;

use client::{ClientError, PinState, Rejection, What};
use e2e::{Engine, ServerProcess, TestServer, pattern};
use e2e::{files, open_client, run_client_with_stdin, texts};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_talk_and_share_a_file() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let homes: Vec<_> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    let alice = user(&addr, &homes[0], "alice").await;
    let bob = user(&addr, &homes[1], "bob").await;
    let carol = user(&addr, &homes[2], "carol").await;

    // No explicit key exchange: the first text starts a session.
    alice.send_text("bob", "hi bob, it's alice").await.unwrap();
    alice.send_text("carol", "hi carol").await.unwrap();
    bob.send_text("carol", "carol, bob here").await.unwrap();
    let at_bob = bob.inbox().await.unwrap();
    assert_eq!(texts(&at_bob), vec!["hi bob, it's alice"]);
    assert!(
        at_bob
            .iter()
            .any(|e| matches!(e.what, What::SessionStarted))
    );
    let at_carol = carol.inbox().await.unwrap();
    let mut got = texts(&at_carol);
    got.sort();
    assert_eq!(got, vec!["carol, bob here", "hi carol"]);
    // Replies go back in the sessions the others started.
    bob.send_text("alice", "hello alice").await.unwrap();
    carol.send_text("alice", "hey").await.unwrap();
    let mut at_alice = texts(&alice.inbox().await.unwrap());
    at_alice.sort();
    assert_eq!(at_alice, vec!["hello alice", "hey"]);

    // A file of several chunks, compared by hash.
    let original = dir.path().join("photo.jpg");
    let data = pattern(3, 3 * 1024 * 1024 + 7);
    std::fs::write(&original, &data).unwrap();
    carol
        .send_file("bob", &original, CancellationToken::new())
        .await
        .unwrap();
    let at_bob = bob.inbox().await.unwrap();
    let saved = files(&at_bob);
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0], homes[1].join("downloads").join("photo.jpg"));
    assert_eq!(
        Sha256::digest(std::fs::read(&saved[0]).unwrap()),
        Sha256::digest(&data)
    );
    // The same file again does not overwrite the first copy.
    carol
        .send_file("bob", &original, CancellationToken::new())
        .await
        .unwrap();
    let again = files(&bob.inbox().await.unwrap());
    assert_eq!(
        again,
        vec![homes[1].join("downloads").join("photo (2).jpg")]
    );
    for c in [&alice, &bob, &carol] {
        assert!(c.inbox().await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_client_keeps_its_sessions_and_early_messages() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    alice.send_text("bob", "before restart").await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), vec!["before restart"]);

    // Both restart; the conversation goes on in the same session.
    drop((alice, bob));
    let alice = open_client(&addr, &alice_home).await;
    let bob = open_client(&addr, &bob_home).await;
    alice.send_text("bob", "after restart").await.unwrap();
    bob.send_text("alice", "still here").await.unwrap();
    let at_bob = bob.inbox().await.unwrap();
    assert_eq!(texts(&at_bob), vec!["after restart"]);
    assert!(
        !at_bob
            .iter()
            .any(|e| matches!(e.what, What::SessionStarted)),
        "a new session was needed"
    );
    assert_eq!(texts(&alice.inbox().await.unwrap()), vec!["still here"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_that_arrives_before_its_key_is_opened_later_even_across_a_restart() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    // Deliver out of order: take alice's offer off the server before bob
    // sees it, so that her text arrives first.
    alice.send_text("bob", "early bird").await.unwrap();
    let conn = bob.connection().await.unwrap();
    let batch = conn.pull(0).await.unwrap();
    assert_eq!(batch.messages.len(), 2);
    let offer = batch.messages[0].clone();
    assert_eq!(offer.kind, protocol::MessageKind::SymmetricKeyRequest);
    conn.ack(vec![offer.message_id]).await.unwrap();
    let events = bob.inbox().await.unwrap();
    assert!(matches!(
        events[..],
        [client::Event {
            what: What::SessionLost { kind: "text" },
            ..
        }]
    ));
    // Bob restarts; then the offer comes (again): the kept text opens.
    drop(bob);
    let bob = open_client(&addr, &bob_home).await;
    let alice_id = alice.me().unwrap().id;
    let raw = server_connection_for(&alice).await;
    raw.send_message(bob.me().unwrap().id, offer.kind, offer.content.clone())
        .await
        .unwrap();
    let events = bob.inbox().await.unwrap();
    assert_eq!(texts(&events), vec!["early bird"]);
    assert!(events.iter().all(|e| e.from == alice_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_peer_key_blocks_sending_and_marking_it_compared_until_accepted() {
    // SQLite whatever the engine: the test rewrites the server's database by hand.
    let mut server = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice_home = dir.path().join("alice");
    let alice = user(&server.addr.to_string(), &alice_home, "alice").await;
    let bob = user(&server.addr.to_string(), &dir.path().join("bob"), "bob").await;
    alice.send_text("bob", "first").await.unwrap();
    alice.mark_verified("bob").await.unwrap();
    let bob_id = bob.me().unwrap().id;
    drop((alice, bob));

    // The server now hands out another (validly signed) bundle for bob.
    server
        .restart_handing_out_another_key(bob_id)
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let alice = open_client(&addr, &alice_home).await;
    // Pinning sees the change; sending is refused, loudly.
    assert_eq!(alice.fetch_key("bob").await.unwrap().pin, PinState::Changed);
    let refused = alice.send_text("bob", "second").await;
    assert!(
        matches!(refused, Err(ClientError::PeerKeyChanged { .. })),
        "{refused:?}"
    );
    // The number shown is the new key's: marking it is refused, and nothing
    // calls the new key compared.
    let marked = alice.mark_verified("bob").await;
    assert!(
        matches!(marked, Err(ClientError::VerifyChangedKey { ref name }) if name == "bob"),
        "{marked:?}"
    );
    assert!(!alice.fetch_key("bob").await.unwrap().verified);
    let accepted = alice.accept_new_key("bob").await.unwrap();
    assert_eq!(accepted.pin, PinState::Accepted);
    assert!(!accepted.verified, "the new key is not compared yet");
    alice.mark_verified("bob").await.unwrap();
    assert!(alice.fetch_key("bob").await.unwrap().verified);
    alice.send_text("bob", "second").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_text_is_reported_not_shown() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    alice.send_text("bob", "hello").await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), vec!["hello"]);
    let mut sealed = alice.seal_text("bob", "x").await.unwrap();
    let mut bytes = sealed.content.to_vec();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    sealed.content = bytes.into();
    alice.send_sealed(&sealed).await.unwrap();
    let events = bob.inbox().await.unwrap();
    assert!(matches!(
        events[..],
        [client::Event {
            what: What::Rejected {
                reason: Rejection::Tampered
            },
            ..
        }]
    ));
}

fn all_key_changed(events: &[client::Event]) -> bool {
    !events.is_empty() && events.iter().all(|e| matches!(e.what, What::KeyChanged))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_from_someone_who_changed_keys_waits_for_the_user() {
    // SQLite whatever the engine: the test rewrites the server's database by hand.
    let mut server = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice_home = dir.path().join("alice");
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    bob.send_text("alice", "from my old key").await.unwrap();
    assert_eq!(
        texts(&alice.inbox().await.unwrap()),
        vec!["from my old key"]
    );
    let bob_id = bob.me().unwrap().id;
    // Bob's new device gets a fresh identity (registered under a throwaway
    // name)...
    let fresh_home = dir.path().join("fresh");
    // Plain (no passphrase), so that its me.info holds the secret to move.
    let fresh = client::Client::open(client::ClientConfig {
        home: fresh_home.clone(),
        server: addr.clone(),
        accept_server_key: false,
        protection: client::keystore::Protection::NoPassphrase,
    })
    .await
    .unwrap();
    fresh.register("bob-new-device").await.unwrap();
    let fresh_id = fresh.me().unwrap().id;
    drop((alice, bob, fresh));

    // ...and takes over bob's account: the server holds the new key for
    // bob's id (as after an operator re-keys a lost device), and the new
    // home holds bob's id with the new secrets.
    server.stop().await.unwrap();
    let db = rusqlite::Connection::open(server.config.db_path()).unwrap();
    let new_key: Vec<u8> = db
        .query_row(
            "SELECT public_key FROM clients WHERE id = ?1",
            [&fresh_id.0[..]],
            |row| row.get(0),
        )
        .unwrap();
    db.execute("DELETE FROM clients WHERE id = ?1", [&fresh_id.0[..]])
        .unwrap();
    db.execute(
        "UPDATE clients SET public_key = ?1 WHERE id = ?2",
        rusqlite::params![new_key, &bob_id.0[..]],
    )
    .unwrap();
    drop(db);
    let me_info = std::fs::read_to_string(fresh_home.join("me.info")).unwrap();
    let secret = me_info.lines().nth(2).unwrap();
    let new_bob_home = dir.path().join("bob-new");
    std::fs::create_dir_all(&new_bob_home).unwrap();
    std::fs::write(
        new_bob_home.join("me.info"),
        format!("bob\n{bob_id}\n{secret}\n"),
    )
    .unwrap();
    server = TestServer::start_with(server.config.clone()).await.unwrap();
    let addr = server.addr.to_string();
    let new_bob = open_client(&addr, &new_bob_home).await;
    assert_eq!(new_bob.me().unwrap().id, bob_id);
    new_bob.send_text("alice", "from my new key").await.unwrap();

    // The message waits and alice is warned, on every look until she decides;
    // meanwhile nothing is sent to bob.
    let alice = open_client(&addr, &alice_home).await;
    for _ in 0..2 {
        let events = alice.inbox().await.unwrap();
        assert!(all_key_changed(&events), "{events:?}");
        assert!(events.iter().all(|e| e.from == bob_id));
    }
    let refused = alice.send_text("bob", "are you really bob?").await;
    assert!(
        matches!(refused, Err(ClientError::PeerKeyChanged { .. })),
        "{refused:?}"
    );
    // She accepts the new key; the message opens, and replies reach the
    // new device.
    assert_eq!(
        alice.accept_new_key("bob").await.unwrap().pin,
        PinState::Accepted
    );
    let events = alice.inbox().await.unwrap();
    assert_eq!(texts(&events), vec!["from my new key"]);
    assert!(alice.inbox().await.unwrap().is_empty());
    alice.send_text("bob", "welcome back").await.unwrap();
    assert_eq!(texts(&new_bob.inbox().await.unwrap()), vec!["welcome back"]);
}

// ---- the binaries ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binaries_exchange_text_and_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    std::fs::create_dir_all(&alice).unwrap();
    std::fs::create_dir_all(&bob).unwrap();
    let (ok, out, err) =
        run_client_with_stdin(server.addr, &alice, &["register", "alice"], None).await;
    assert!(ok, "{err}");
    assert!(out.contains("registered alice"), "{out}");
    // Encrypted: no clear copy of the identity's secret beside the store.
    assert!(alice.join("store.db").exists() && !alice.join("me.info").exists());
    let (ok, _, err) = run_client_with_stdin(server.addr, &bob, &["register", "bob"], None).await;
    assert!(ok, "{err}");

    let (ok, out, _) = run_client_with_stdin(server.addr, &alice, &["--json", "list"], None).await;
    assert!(ok);
    assert!(out.contains("\"name\":\"bob\""), "{out}");
    let (ok, _, err) = run_client_with_stdin(
        server.addr,
        &alice,
        &["send", "bob", "hello from a script"],
        None,
    )
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = run_client_with_stdin(
        server.addr,
        &alice,
        &["send", "bob"],
        Some("from standard\ninput\n"),
    )
    .await;
    assert!(ok, "{err}");
    let original = dir.path().join("report.pdf");
    let data = pattern(21, 2_500_000);
    std::fs::write(&original, &data).unwrap();
    let (ok, _, err) = run_client_with_stdin(
        server.addr,
        &alice,
        &["send-file", "bob", original.to_str().unwrap()],
        None,
    )
    .await;
    assert!(ok, "{err}");

    // Alice is no contact of bob's: a script takes her file only when told.
    let (ok, out, err) = run_client_with_stdin(
        server.addr,
        &bob,
        &["--accept-files", "--json", "inbox"],
        None,
    )
    .await;
    assert!(ok, "{err}");
    let events: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        crate::rooms_cli::direct_texts(&events),
        // The line break that ends standard input is not part of the text.
        vec!["hello from a script", "from standard\ninput"]
    );
    let saved = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "file")
        .map(|e| e["path"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(
        Sha256::digest(std::fs::read(&saved).unwrap()),
        Sha256::digest(&data)
    );
    let (ok, out, _) = run_client_with_stdin(server.addr, &bob, &["inbox"], None).await;
    assert!(ok);
    assert!(out.contains("no new messages"), "{out}");

    // Safety numbers agree between the two sides.
    let (_, a, _) =
        run_client_with_stdin(server.addr, &alice, &["--json", "fingerprint", "bob"], None).await;
    let (_, b, _) =
        run_client_with_stdin(server.addr, &bob, &["--json", "fingerprint", "alice"], None).await;
    let a: serde_json::Value = serde_json::from_str(&a).unwrap();
    let b: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(a["safety_number"], b["safety_number"]);
    assert_eq!(a["safety_number"].as_str().unwrap().len(), 60 + 11);
    // The line says how to record a match, and once recorded says so.
    let (_, said, _) =
        run_client_with_stdin(server.addr, &alice, &["fingerprint", "bob"], None).await;
    assert!(
        said.contains("if they match, `client fingerprint bob --verified` records it"),
        "{said}"
    );
    let (_, said, _) = run_client_with_stdin(
        server.addr,
        &alice,
        &["fingerprint", "bob", "--verified"],
        None,
    )
    .await;
    assert!(said.contains("(marked as compared)"), "{said}");
    assert!(!said.contains("records it"), "{said}");

    // Mistakes are one line and a failure exit.
    let (ok, _, err) =
        run_client_with_stdin(server.addr, &alice, &["send", "nobody", "hi"], None).await;
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no user named \"nobody\""), "{err}");
    assert!(!err.contains("did you mean"), "{err}");
    assert!(err.contains("`client list` shows who is there"), "{err}");
    // A near miss is answered with the closest name on the server, as the
    // menu does, in the one line and in the JSON error.
    let (ok, _, err) =
        run_client_with_stdin(server.addr, &alice, &["send", "bbo", "hi"], None).await;
    assert!(!ok);
    assert_eq!(
        err.trim(),
        "client: no user named \"bbo\" on this server; did you mean \"bob\"?"
    );
    let (ok, _, err) =
        run_client_with_stdin(server.addr, &alice, &["--json", "key", "BOBB"], None).await;
    assert!(!ok);
    let err: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(err["code"], "unknown_peer");
    assert_eq!(
        err["error"],
        "no user named \"BOBB\" on this server; did you mean \"bob\"?"
    );
    let (ok, _, err) = run_client_with_stdin(
        server.addr,
        &alice,
        &["send-file", "bob", "/no/such/file"],
        None,
    )
    .await;
    assert!(!ok);
    // The menu's words, once (issue 11: no repeated cause).
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no file at /no/such/file"), "{err}");
    let unregistered = dir.path().join("carol");
    std::fs::create_dir_all(&unregistered).unwrap();
    let (ok, _, err) = run_client_with_stdin(server.addr, &unregistered, &["inbox"], None).await;
    assert!(!ok);
    assert!(err.contains("run `client register NAME` first"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_test_passes_twice_against_the_server_binary_and_leaves_no_account() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let home = dir.path().join("runner");
    std::fs::create_dir_all(&home).unwrap();
    for round in 1..=2 {
        let (ok, out, err) = run_client_with_stdin(server.addr, &home, &["test"], None).await;
        assert!(ok, "round {round}:\n{out}\n{err}");
        if round == 2 {
            // Ran again with --json: one object a line, the same steps.
            let (ok, json, err) =
                run_client_with_stdin(server.addr, &home, &["--json", "test"], None).await;
            assert!(ok, "{json}\n{err}");
            let lines: Vec<serde_json::Value> = json
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
            let steps: Vec<_> = lines.iter().filter(|l| l["event"] == "step").collect();
            assert_eq!(steps.len(), 16, "{json}");
            assert!(steps.iter().all(|s| s["passed"] == true), "{json}");
            let summary = lines.last().unwrap();
            assert_eq!(summary["event"], "summary", "{json}");
            assert_eq!(
                (&summary["passed"], &summary["failed"]),
                (&16.into(), &0.into())
            );
        }
        assert!(out.contains("16 passed, 0 failed"), "round {round}:\n{out}");
        assert!(!out.contains("FAIL"), "{out}");
        // Its own tampered and replayed messages are rejected on purpose:
        // no warning says so beside the PASS lines that do.
        assert!(!err.contains("WARN"), "round {round}:\n{err}");
        // One column of times.
        let widths: std::collections::HashSet<usize> = out
            .lines()
            .filter(|l| l.starts_with("PASS"))
            .map(|l| l.chars().count())
            .collect();
        assert_eq!(widths.len(), 1, "{out}");
        // Its users deleted their accounts, and their room went first.
        let users = crate::operator::json(&data, &["user", "list"]).await;
        assert_eq!(users, serde_json::json!([]), "round {round}");
        let status = crate::operator::json(&data, &["status"]).await;
        assert_eq!(status["messages_waiting"], 0, "{status}");
    }
}

/// The server going away in the middle of `client test` (killed, then
/// started again on its folder): the run waits for it, deletes its users
/// once it is back, and ends cut short, with its summary and a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_test_cut_short_by_a_restart_deletes_its_users_once_the_server_is_back() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let home = dir.path().join("runner");
    std::fs::create_dir_all(&home).unwrap();
    let mut run = e2e::client_process(server.addr, &home, &["test"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(run.stdout.take().unwrap()).lines();
    e2e::wait_for_line("the users to be registered", &mut out, |l| {
        l.starts_with("PASS  list shows each other")
    })
    .await
    .unwrap();
    server.kill9().await.unwrap();
    e2e::wait_for_line("the run to wait for the server", &mut out, |l| {
        l.starts_with("the server went away; waiting up to 30 s")
    })
    .await
    .unwrap();
    let _back = ServerProcess::start_on(&data, server.addr.port(), &[])
        .await
        .unwrap();
    let rest = e2e::bounded("the run to end", async {
        let mut rest = Vec::new();
        while let Some(line) = out.next_line().await.unwrap() {
            rest.push(line);
        }
        (rest, run.wait().await.unwrap())
    })
    .await
    .unwrap();
    let (lines, status) = rest;
    assert!(!status.success(), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("PASS  the room and the test users are deleted")),
        "{lines:?}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.ends_with("failed (cut short)")),
        "{lines:?}"
    );
    let users = crate::operator::json(&data, &["user", "list"]).await;
    assert_eq!(users, serde_json::json!([]), "{lines:?}");
}

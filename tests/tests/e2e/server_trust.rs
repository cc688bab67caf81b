//! The server's side of issue 11: version-3 names that cannot pass for
//! another, quotas reserved when an upload begins and a quota per sender,
//! version 2 walled off from version-3 accounts, and an owner-only data
//! folder used by one server at a time.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use e2e::{
    ServerProcess, TestIdentity, TestServer, V3Conn, binary, bounded, reason_of, v2_call,
    v2_register,
};
use protocol::v3::{self, AckStatus};
use protocol::{ClientId, ErrorReason, MessageKind, Name, PublicKey, v2};

fn register(name: &str) -> v3::Request {
    v3::Request::Register(v3::Register {
        name: Name::new(name).unwrap(),
        public_key: TestIdentity::generate().bundle,
    })
}

/// The error a request got: its reason and text.
async fn refusal(conn: &mut V3Conn, request: v3::Request) -> (ErrorReason, String) {
    match conn.call(request).await.unwrap() {
        v3::Response::Error(e) => (e.reason, e.text),
        other => panic!("expected an error, got {other:?}"),
    }
}

async fn list_names(conn: &mut V3Conn) -> Vec<String> {
    match conn
        .call(v3::Request::ListClients {
            after: ClientId::NIL,
        })
        .await
        .unwrap()
    {
        v3::Response::ClientList(page) => page
            .clients
            .iter()
            .map(|c| c.name.as_str().to_string())
            .collect(),
        other => panic!("list: {other:?}"),
    }
}

// ---- names ------------------------------------------------------------------

#[tokio::test]
async fn v3_names_refuse_blank_bidi_invisible_id_or_room_shaped_and_look_alikes() {
    let server = TestServer::start(|c| c.legacy_v2 = true).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    alice
        .register("bob", &TestIdentity::generate())
        .await
        .unwrap();

    // Look-alikes of bob: Cyrillic o, digit zero, Greek capital beta.
    for look_alike in ["b\u{043E}b", "B\u{043E}b", "b0b", "\u{0392}OB"] {
        let (reason, text) = refusal(&mut alice, register(look_alike)).await;
        assert_eq!(reason, ErrorReason::NameTaken, "{look_alike:?}");
        assert!(text.contains("\"bob\""), "{look_alike:?}: {text}");
    }
    let (reason, _) = refusal(&mut alice, register("BOB")).await;
    assert_eq!(reason, ErrorReason::NameTaken);

    // Blank, stray spaces, bidi controls, invisible characters.
    for (bad, says) in [
        (" ", "blank"),
        ("\u{3000}", "blank"),
        ("a\u{3000}b", "U+3000"),
        ("bob ", "space"),
        ("eve\u{202E}gnp.exe", "U+202E"),
        ("\u{2067}mallory", "U+2067"),
        ("zero\u{200B}width", "U+200B"),
        ("carol\u{00A0}smith", "U+00A0"),
        // Clients read these as an account's id and a room's name: a name
        // of someone's id would take texts meant for them.
        ("fd61755841d24bbc9dc42da82b4a5476", "account id"),
        ("#ops", "room"),
    ] {
        let (reason, text) = refusal(&mut alice, register(bad)).await;
        assert_eq!(reason, ErrorReason::BadName, "{bad:?}");
        assert!(text.contains(says), "{bad:?}: {text}");
    }

    // Ordinary names work; a decomposed name is stored in NFC and found
    // either way.
    alice
        .register("Carol Smith", &TestIdentity::generate())
        .await
        .unwrap();
    let jose = alice
        .register("Jose\u{0301}", &TestIdentity::generate())
        .await
        .unwrap();
    let mut names = list_names(&mut alice).await;
    names.sort();
    assert_eq!(names, ["Carol Smith", "Jos\u{00E9}", "bob"]);
    for query in ["Jos\u{00E9}", "jose\u{0301}"] {
        match alice
            .call(v3::Request::LookupName(Name::new(query).unwrap()))
            .await
            .unwrap()
        {
            v3::Response::PublicKey(k) => assert_eq!(k.client_id, jose),
            other => panic!("lookup {query:?}: {other:?}"),
        }
    }
    // A look-alike never finds bob.
    let lookup = alice
        .call(v3::Request::LookupName(Name::new("b\u{043E}b").unwrap()))
        .await
        .unwrap();
    assert_eq!(reason_of(&lookup).unwrap(), ErrorReason::UnknownClient);

    // Version 2 keeps its documented rules for its own accounts.
    v2_register(server.addr, "dave ").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_look_alikes_registered_at_once_cannot_both_pass() {
    let server = TestServer::start(|_| {}).await.unwrap();
    for round in 0..10 {
        let latin = format!("eve{round}");
        let cyrillic = format!("\u{0435}ve{round}");
        let mut a = V3Conn::open(server.addr).await.unwrap();
        let mut b = V3Conn::open(server.addr).await.unwrap();
        let (ra, rb) = tokio::join!(a.call(register(&latin)), b.call(register(&cyrillic)));
        let registered = [ra.unwrap(), rb.unwrap()]
            .iter()
            .filter(|r| matches!(r, v3::Response::Registered(_)))
            .count();
        assert_eq!(registered, 1, "round {round}");
    }
}

// ---- quotas -----------------------------------------------------------------

fn begin(to: ClientId, size: u64) -> v3::Request {
    v3::Request::UploadBegin(v3::UploadBegin {
        destination: to,
        file_size: size,
        meta: Bytes::new(),
    })
}

fn upload_id(response: &v3::Response) -> Option<protocol::UploadId> {
    match response {
        v3::Response::UploadStatus(s) => Some(s.upload_id),
        _ => None,
    }
}

const MB: u64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_reserve_the_inbox_and_a_cancel_releases_it() {
    let server = TestServer::start(|c| c.inbox_max_bytes = 1 << 20)
        .await
        .unwrap();
    let addr = server.addr;
    let (mut bob, _) = V3Conn::new_user(addr, "bob").await.unwrap();
    let mut senders = Vec::new();
    for i in 0..8 {
        senders.push(
            V3Conn::new_user(addr, &format!("sender{i}"))
                .await
                .unwrap()
                .0,
        );
    }
    // Eight 1 MB uploads begun at once against bob's 1 MiB inbox.
    let to = bob.client_id;
    let answers = futures::future::join_all(
        senders
            .iter_mut()
            .map(|conn| async move { conn.call(begin(to, MB)).await.unwrap() }),
    )
    .await;
    let accepted: Vec<usize> = (0..8)
        .filter(|i| upload_id(&answers[*i]).is_some())
        .collect();
    assert_eq!(accepted.len(), 1, "only one fits: {answers:?}");
    for (i, answer) in answers.iter().enumerate() {
        if !accepted.contains(&i) {
            assert_eq!(reason_of(answer).unwrap(), ErrorReason::InboxBytesFull);
        }
    }
    let first = accepted[0];
    let other = (first + 1) % 8;

    // Cancelling gives the reservation back: another sender now fits.
    let id = upload_id(&answers[first]).unwrap();
    assert!(matches!(
        senders[first]
            .call(v3::Request::UploadCancel(id))
            .await
            .unwrap(),
        v3::Response::UploadCancelled(_)
    ));
    let answer = senders[other].call(begin(to, MB)).await.unwrap();
    let id = upload_id(&answer).expect("the cancelled reservation was given back");
    assert_eq!(
        reason_of(&senders[first].call(begin(to, MB)).await.unwrap()).unwrap(),
        ErrorReason::InboxBytesFull
    );

    // Completed, the file holds the inbox until bob acknowledges it.
    let done = senders[other]
        .call(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: id,
            offset: 0,
            data: Bytes::from(vec![7u8; MB as usize]),
        }))
        .await
        .unwrap();
    let v3::Response::FileSent(sent) = done else {
        panic!("last chunk: {done:?}");
    };
    assert_eq!(
        reason_of(&senders[first].call(begin(to, MB)).await.unwrap()).unwrap(),
        ErrorReason::InboxBytesFull
    );
    assert_eq!(
        bob.ack(vec![sent.message_id]).await.unwrap(),
        [AckStatus::Removed]
    );
    assert!(upload_id(&senders[first].call(begin(to, MB)).await.unwrap()).is_some());
}

#[tokio::test]
async fn an_expired_upload_gives_its_reservation_back() {
    let mut server = TestServer::start(|c| {
        c.inbox_max_bytes = 1000;
        c.upload_max_age = Duration::from_millis(1);
    })
    .await
    .unwrap();
    let addr = server.addr;
    let alice_keys = TestIdentity::generate();
    let mut conn = V3Conn::open(addr).await.unwrap();
    let alice = conn.register("alice", &alice_keys).await.unwrap();
    let bob = conn
        .register("bob", &TestIdentity::generate())
        .await
        .unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    assert!(upload_id(&conn.call(begin(bob, 1000)).await.unwrap()).is_some());
    assert_eq!(
        reason_of(&conn.call(begin(bob, 1)).await.unwrap()).unwrap(),
        ErrorReason::InboxBytesFull
    );
    drop(conn);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Expiry runs at startup and then periodically.
    server.restart().await.unwrap();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    bounded("the reservation to be given back", async {
        loop {
            let answer = conn.call(begin(bob, 1000)).await.unwrap();
            if upload_id(&answer).is_some() {
                break;
            }
            assert_eq!(reason_of(&answer).unwrap(), ErrorReason::InboxBytesFull);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn one_sender_is_held_to_its_quota_while_others_still_send() {
    let server = TestServer::start(|c| {
        c.sender_max_bytes = 1000;
        c.max_storage_bytes = 100_000;
    })
    .await
    .unwrap();
    let addr = server.addr;
    let (mut alice, _) = V3Conn::new_user(addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(addr, "bob").await.unwrap();
    let (carol, _) = V3Conn::new_user(addr, "carol").await.unwrap();
    let (mut dave, _) = V3Conn::new_user(addr, "dave").await.unwrap();
    let text = |to: ClientId, n: usize| {
        v3::Request::SendMessage(v3::SendMessage {
            destination: to,
            kind: MessageKind::Text,
            content: Bytes::from(vec![1u8; n]),
        })
    };
    let mut to_bob = Vec::new();
    for to in [bob.client_id, carol.client_id] {
        for _ in 0..2 {
            match alice.call(text(to, 250)).await.unwrap() {
                v3::Response::MessageStored(m) if to == bob.client_id => to_bob.push(m.message_id),
                v3::Response::MessageStored(_) => {}
                other => panic!("send: {other:?}"),
            }
        }
    }
    // Alice has 1000 bytes waiting: neither a text nor an upload fits.
    let (reason, text_said) = refusal(&mut alice, text(carol.client_id, 1)).await;
    assert_eq!(reason, ErrorReason::SenderBytesFull);
    // In the units the client shows sizes in.
    assert!(text_said.contains("1.00 kB"), "{text_said}");
    assert_eq!(
        refusal(&mut alice, begin(carol.client_id, 1)).await.0,
        ErrorReason::SenderBytesFull
    );
    // Others still send to the same recipients.
    dave.send_text(bob.client_id, &[2u8; 250]).await.unwrap();
    dave.send_text(carol.client_id, &[2u8; 250]).await.unwrap();
    // Bob reads one of alice's: she may send that much again.
    assert_eq!(
        bob.ack(vec![to_bob[0]]).await.unwrap(),
        [AckStatus::Removed]
    );
    alice.send_text(carol.client_id, &[3u8; 250]).await.unwrap();
    assert_eq!(
        refusal(&mut alice, text(bob.client_id, 1)).await.0,
        ErrorReason::SenderBytesFull
    );
}

// ---- version 2 and version 3 ------------------------------------------------------

#[tokio::test]
async fn v2_cannot_see_or_touch_v3_accounts() {
    let server = TestServer::start(|c| c.legacy_v2 = true).await.unwrap();
    let addr = server.addr;
    let (mut alice, _) = V3Conn::new_user(addr, "alice").await.unwrap();
    let bob_keys = TestIdentity::generate();
    let mut bob = V3Conn::open(addr).await.unwrap();
    let bob_id = bob.register("bob", &bob_keys).await.unwrap();
    bob.authenticate(bob_id, &bob_keys).await.unwrap();
    alice.send_text(bob_id, b"for bob only").await.unwrap();
    let mallory = v2_register(addr, "mallory").await.unwrap();

    // An unauthenticated version-2 pull with bob's id reads and deletes nothing.
    assert_eq!(
        v2_call(addr, bob_id, v2::Request::Pull).await.unwrap(),
        v2::Response::Error
    );
    // Nor can version 2 list, fetch the key of, or send to version-3 users.
    match v2_call(addr, mallory, v2::Request::ListClients)
        .await
        .unwrap()
    {
        v2::Response::ClientList(list) => assert!(list.is_empty(), "{list:?}"),
        other => panic!("list: {other:?}"),
    }
    assert_eq!(
        v2_call(addr, mallory, v2::Request::GetPublicKey(bob_id))
            .await
            .unwrap(),
        v2::Response::Error
    );
    let send = v2::Request::SendMessage(v2::SendMessage {
        destination: bob_id,
        kind: MessageKind::Text,
        content: Bytes::from_static(b"spoof"),
    });
    assert_eq!(
        v2_call(addr, mallory, send).await.unwrap(),
        v2::Response::Error
    );
    let batch = bob.pull().await.unwrap();
    assert_eq!(batch.messages.len(), 1);
    assert_eq!(&batch.messages[0].content[..], b"for bob only");

    // Version 3 does not see version-2 accounts either.
    assert_eq!(list_names(&mut alice).await, ["bob"]);
    for request in [
        v3::Request::GetPublicKey(mallory),
        v3::Request::LookupName(Name::new("mallory").unwrap()),
        v3::Request::SendMessage(v3::SendMessage {
            destination: mallory,
            kind: MessageKind::Text,
            content: Bytes::from_static(b"x"),
        }),
        begin(mallory, 1),
    ] {
        let answer = alice.call(request).await.unwrap();
        assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownClient);
    }
    let mut as_mallory = V3Conn::open(addr).await.unwrap();
    as_mallory.hello(mallory, [1; 32]).await.unwrap();
    let answer = as_mallory
        .call(v3::Request::Authenticate([0; 64]))
        .await
        .unwrap();
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownClient);
    // Names stay unique across both.
    assert!(matches!(
        v2_call(
            addr,
            ClientId::NIL,
            v2::Request::Register(v2::Register {
                name: Name::new("Bob").unwrap(),
                public_key: PublicKey([1; 160]),
            })
        )
        .await
        .unwrap(),
        v2::Response::Error
    ));
}

// ---- the data folder -------------------------------------------------------------

/// Every folder under `dir` (itself included) with its mode, and every file.
fn modes(dir: &Path) -> Vec<(String, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let name = path.strip_prefix(dir).unwrap().display().to_string();
        out.push((name, meta.is_dir(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

fn assert_owner_only(dir: &Path, must_have: &[&str]) {
    let found = modes(dir);
    for (name, is_dir, mode) in &found {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{name:?} has mode {mode:o}: {found:?}");
    }
    for name in must_have {
        assert!(
            found.iter().any(|(n, _, _)| n == name || n.ends_with(name)),
            "{name} missing: {found:?}"
        );
    }
}

#[tokio::test]
async fn data_folder_is_owner_only_after_start_and_after_a_file_is_stored() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let data = server.config.data_dir.clone();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    assert_owner_only(
        &data,
        &[
            "",
            "server.db",
            "server.db-wal",
            "server.db-shm",
            "server.key",
            "server.lock",
            "files",
        ],
    );
    // One file complete, one upload half done.
    let done = upload_id(&alice.call(begin(bob.client_id, 10)).await.unwrap()).unwrap();
    let sent = alice
        .call(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: done,
            offset: 0,
            data: Bytes::from_static(&[5; 10]),
        }))
        .await
        .unwrap();
    assert!(matches!(sent, v3::Response::FileSent(_)), "{sent:?}");
    let half = upload_id(&alice.call(begin(bob.client_id, 10)).await.unwrap()).unwrap();
    let stored = alice
        .call(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: half,
            offset: 0,
            data: Bytes::from_static(&[5; 4]),
        }))
        .await
        .unwrap();
    assert!(matches!(stored, v3::Response::ChunkStored(_)), "{stored:?}");
    assert_owner_only(&data, &[".blob", ".part"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_folder_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = ServerProcess::start(&data, &[]).await.unwrap();
    let stderr = e2e::server_refusing_to_start(&data, &[]).await;
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains(&data.display().to_string()), "{stderr}");
    assert!(lines[0].contains("in use"), "{stderr}");
    // The first one still serves.
    V3Conn::new_user(first.addr, "alice").await.unwrap();
}

async fn fingerprint(data: &Path) -> (bool, String, String) {
    let output = bounded(
        "server fingerprint",
        tokio::process::Command::new(binary("server").unwrap())
            .arg("fingerprint")
            .arg("--data-dir")
            .arg(data)
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprint_of_a_folder_without_a_key_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // No folder at all.
    let missing = dir.path().join("nothing-here");
    let (ok, out, err) = fingerprint(&missing).await;
    assert!(!ok, "{out}");
    assert!(err.contains("no server key"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!missing.exists(), "the folder was created");
    // An empty folder stays empty.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (ok, _, _) = fingerprint(&empty).await;
    assert!(!ok);
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // A folder with a key shows that key's fingerprint.
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    server.terminate().await.unwrap();
    let (ok, out, err) = fingerprint(&data).await;
    assert!(ok, "{err}");
    let expected = server::identity::ServerIdentity::load_or_create(&data.join("server.key"))
        .unwrap()
        .0
        .fingerprint();
    assert_eq!(out.trim(), expected);
}

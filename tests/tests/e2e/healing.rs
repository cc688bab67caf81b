//! Sessions that heal (issue 16, item 4; PROTOCOL.md "Sessions that heal"):
//! a copy of a home folder used in parallel with the original spends the
//! same counters, the peer refuses the copy's text as a replay, and the
//! copy starts a new session and sends it again; the original, which does
//! not know that new session, asks the peer to start yet another one and
//! receives the peer's text after all. Every healing is an event.

use std::path::Path;

use client::{RefusalReason, Rejection, What};
use e2e::{TestServer, open_client, texts, user};

/// Waits (bounded) until the home folder's databases are closed: a client
/// just dropped still closes them on its threads, and SQLite removes a
/// database's `-wal` and `-shm` files then. Copying before that could copy
/// a database halfway through its last checkpoint.
async fn closed(home: &Path) {
    for _ in 0..250 {
        let open = std::fs::read_dir(home).unwrap().any(|e| {
            let name = e.unwrap().file_name();
            let name = name.to_string_lossy();
            name.ends_with("-wal") || name.ends_with("-shm")
        });
        if !open {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the databases in {} stayed open", home.display());
}

/// Copies the folder `from` (files and folders) to `to`.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn renewed(events: &[client::Event]) -> Vec<(Option<u64>, bool)> {
    events
        .iter()
        .filter_map(|e| match e.what {
            What::SessionRenewed { resent, lost, .. } => Some((resent, lost)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_home_used_in_parallel_heals_instead_of_losing_messages() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (home, copy, bob_home) = (
        dir.path().join("alice"),
        dir.path().join("alice-copy"),
        dir.path().join("bob"),
    );
    let alice = user(&addr, &home, "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    alice.send_text("bob", "before the copy").await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), ["before the copy"]);
    alice.inbox().await.unwrap();
    drop(alice);
    closed(&home).await;
    copy_dir(&home, &copy);
    let original = open_client(&addr, &home).await;
    let twin = open_client(&addr, &copy).await;

    // Both seal in the same session with the same next counter.
    original
        .send_text("bob", "from the original")
        .await
        .unwrap();
    let refused = twin.send_text("bob", "from the copy").await.unwrap();
    let at_bob = bob.inbox().await.unwrap();
    assert_eq!(texts(&at_bob), ["from the original"]);
    assert!(
        at_bob.iter().any(|e| matches!(
            e.what,
            What::Rejected {
                reason: Rejection::Replayed
            }
        )),
        "{at_bob:?}"
    );

    // The copy reads bob's refusal: a new session, its text sent again.
    let at_twin = twin.inbox().await.unwrap();
    assert!(
        at_twin.iter().any(|e| matches!(
            e.what,
            What::Refused { refused_id, reason: RefusalReason::Duplicate, .. } if refused_id == refused
        )),
        "{at_twin:?}"
    );
    let healed = renewed(&at_twin);
    assert!(
        matches!(healed[..], [(Some(id), false)] if id != refused),
        "{at_twin:?}"
    );
    let at_bob = bob.inbox().await.unwrap();
    assert_eq!(texts(&at_bob), ["from the copy"]);
    assert!(
        at_bob
            .iter()
            .any(|e| matches!(e.what, What::SessionStarted))
    );

    // Bob answers in the copy's new session; the original, which never saw
    // it, pulls the answer: it asks bob for a new session instead of
    // waiting forever, and bob sends the answer again.
    bob.send_text("alice", "an answer").await.unwrap();
    let at_original = original.inbox().await.unwrap();
    assert!(texts(&at_original).is_empty(), "{at_original:?}");
    assert!(
        at_original
            .iter()
            .any(|e| matches!(e.what, What::SessionLost { .. })),
        "{at_original:?}"
    );
    let healed = renewed(&bob.inbox().await.unwrap());
    assert!(matches!(healed[..], [(Some(_), true)]), "{healed:?}");
    assert_eq!(texts(&original.inbox().await.unwrap()), ["an answer"]);

    // And the conversation goes on from both copies.
    original.send_text("bob", "original again").await.unwrap();
    twin.send_text("bob", "copy again").await.unwrap();
    let mut got = texts(&bob.inbox().await.unwrap());
    for _ in 0..3 {
        if got.len() >= 2 {
            break;
        }
        let at_bob = bob.inbox().await.unwrap();
        got.extend(texts(&at_bob));
        twin.inbox().await.unwrap();
        original.inbox().await.unwrap();
    }
    got.sort();
    assert_eq!(got, ["copy again", "original again"]);
}

/// A file sealed in a session the recipient's home lost (restored from a
/// copy taken before the session existed) is refused with "no such
/// session" and dropped; the sender starts a new session and sends the file
/// again from its path, and it arrives byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_in_a_session_the_recipient_lost_is_sent_again_and_arrives() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (bob_home, backup) = (dir.path().join("bob"), dir.path().join("bob-backup"));
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    drop(bob);
    closed(&bob_home).await;
    // Bob's backup: registered, but no session with alice yet.
    copy_dir(&bob_home, &backup);
    let bob = open_client(&addr, &bob_home).await;
    alice.send_text("bob", "hello").await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), ["hello"]);
    alice.inbox().await.unwrap();
    drop(bob);
    closed(&bob_home).await;

    // Bob's home is restored from the backup; alice sends a file in the
    // session the restored home does not have.
    let bob = open_client(&addr, &backup).await;
    let path = dir.path().join("report.bin");
    let content = e2e::pattern(7, 300_000);
    std::fs::write(&path, &content).unwrap();
    let refused = alice
        .send_file("bob", &path, tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    let at_bob = bob.inbox().await.unwrap();
    assert!(
        at_bob
            .iter()
            .any(|e| matches!(e.what, What::SessionLost { kind: "file" })),
        "{at_bob:?}"
    );
    assert!(
        !at_bob.iter().any(|e| matches!(e.what, What::File { .. })),
        "{at_bob:?}"
    );
    // Nothing of the refused copy waits on the server.
    assert_eq!(bob.waiting().await.unwrap().messages, 0);

    // Alice reads the refusal: a new session, and the file sent again.
    let at_alice = alice.inbox().await.unwrap();
    let healed = renewed(&at_alice);
    assert!(
        matches!(healed[..], [(Some(id), true)] if id != refused),
        "{at_alice:?}"
    );
    // The restored home does not know alice as a contact any more: her
    // file waits for bob's word, as any stranger's.
    let at_bob = bob.inbox().await.unwrap();
    let held: Vec<_> = at_bob
        .iter()
        .filter(|e| matches!(e.what, What::FileHeld { .. }))
        .map(|e| e.message_id)
        .collect();
    assert_eq!(held.len(), 1, "{at_bob:?}");
    let accepted = bob
        .accept_file(held[0], tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    let What::File { path: saved, .. } = &accepted.what else {
        panic!("{accepted:?}");
    };
    assert_eq!(std::fs::read(saved).unwrap(), content);
}

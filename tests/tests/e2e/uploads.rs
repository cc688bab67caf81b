//! Uploads through the client library cut off by a relay that drops the
//! connection: the upload resumes where the server's copy ends (not from
//! zero), within one client's life and after the client restarts, and the
//! file arrives intact; one whose file is gone is given up, said so, and
//! its history entry says it was not sent.

use std::sync::Arc;

use client::{Client, ClientError};
use e2e::{Observed, Relay, TestServer, bounded, files, open_client, pattern, user};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The client's live connection, for requests the library does not make.
pub(crate) async fn server_connection_for(c: &Client) -> Arc<client::connection::Connection> {
    c.connection().await.unwrap()
}

/// Checks, from what the relay carried, that an upload of `size` bytes was
/// resumed rather than sent again: after the last resume, the server's
/// status named an offset past 0 that is exactly what it had received
/// whole before (every byte, since only the connection broke), and the
/// chunks sent after it are the remainder, each once and in order.
fn assert_resumed(observed: &[Observed], size: u64) {
    let resume_at = observed
        .iter()
        .rposition(|o| matches!(o, Observed::Resume { .. }))
        .expect("the client never resumed the upload");
    let Some(Observed::Status {
        offset: resumed, ..
    }) = observed[resume_at..]
        .iter()
        .find(|o| matches!(o, Observed::Status { .. }))
    else {
        panic!("no answer to the resume: {observed:?}")
    };
    let received_before = observed[..resume_at]
        .iter()
        .filter_map(|o| match o {
            Observed::Chunk { offset, len, .. } => Some(offset + len),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    assert!(*resumed > 0, "the upload started over from byte 0");
    assert_eq!(
        *resumed, received_before,
        "the resume did not continue from what the server had received"
    );
    let mut next = *resumed;
    for o in &observed[resume_at..] {
        if let Observed::Chunk { offset, len, .. } = o {
            assert_eq!(*offset, next, "after resuming, a chunk went to {offset}");
            next += len;
        }
    }
    assert_eq!(next, size, "the chunks after resuming do not end the file");
}

/// The size of the upload the relay saw begin (its first status' file is
/// not visible there, so take the end of the last chunk).
fn uploaded_size(observed: &[Observed]) -> u64 {
    observed
        .iter()
        .filter_map(|o| match o {
            Observed::Chunk { offset, len, .. } => Some(offset + len),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_midway_resumes_and_arrives_intact() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let relay = Relay::start(server.addr).await.unwrap();
    relay.cut_once_after(6 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let bob = user(&server.addr.to_string(), &dir.path().join("bob"), "bob").await;
    let alice = user(&relay.addr.to_string(), &dir.path().join("alice"), "alice").await;
    // Files download without asking only from contacts.
    bob.fetch_key("alice").await.unwrap();
    let original = dir.path().join("big.bin");
    let data = pattern(11, 20 * 1024 * 1024 + 99);
    std::fs::write(&original, &data).unwrap();
    bounded(
        "the upload",
        alice.send_file("bob", &original, CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(relay.cuts(), 1, "the relay never cut the upload");
    let observed = relay.observed();
    assert_resumed(&observed, uploaded_size(&observed));
    let saved = files(&bob.inbox().await.unwrap());
    assert_eq!(saved.len(), 1);
    assert_eq!(
        Sha256::digest(std::fs::read(&saved[0]).unwrap()),
        Sha256::digest(&data)
    );
}

/// Waits until the server has stored `at` bytes of the upload `relay`
/// carries.
async fn stored_past(relay: &Relay, at: u64) {
    relay
        .wait_until("the upload to get going", |seen| {
            seen.iter()
                .any(|o| matches!(o, Observed::Stored { next_offset, .. } if *next_offset >= at))
        })
        .await
        .unwrap();
}

/// Sends the file at `path` from `alice` to bob through `relay`, cancelled
/// once the server has stored `at` bytes of it; what the send returned.
async fn send_and_cancel_at(
    alice: &Client,
    relay: &Relay,
    path: &std::path::Path,
    at: u64,
) -> Result<u64, ClientError> {
    let cancel = CancellationToken::new();
    let upload = alice.send_file("bob", path, cancel.clone());
    let stopper = async {
        stored_past(relay, at).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(upload, stopper);
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_resumes_after_the_client_restarts() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let relay = Relay::start(server.addr).await.unwrap();
    let addr = relay.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice_home = dir.path().join("alice");
    let bob = user(&server.addr.to_string(), &dir.path().join("bob"), "bob").await;
    let alice = user(&addr, &alice_home, "alice").await;
    bob.fetch_key("alice").await.unwrap();
    let original = dir.path().join("movie.bin");
    // Under bob's automatic download limit (64 MB), so that it downloads.
    let data = pattern(12, 20 * 1024 * 1024);
    std::fs::write(&original, &data).unwrap();
    // Cancel once the server has stored a few MiB.
    let result = send_and_cancel_at(&alice, &relay, &original, 4 << 20).await;
    assert!(matches!(result, Err(ClientError::Cancelled)), "{result:?}");
    // Bob has the session alice started, but no file yet.
    assert!(files(&bob.inbox().await.unwrap()).is_empty());
    drop(alice);
    let alice = open_client(&addr, &alice_home).await;
    let done = alice
        .resume_uploads(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    let observed = relay.observed();
    assert_resumed(&observed, uploaded_size(&observed));
    let saved = files(&bob.inbox().await.unwrap());
    assert_eq!(
        Sha256::digest(std::fs::read(&saved[0]).unwrap()),
        Sha256::digest(&data)
    );
    assert!(
        alice
            .resume_uploads(CancellationToken::new())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_whose_file_is_gone_is_reported_and_its_history_says_not_sent() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let relay = Relay::start(server.addr).await.unwrap();
    let addr = relay.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let bob = user(&server.addr.to_string(), &dir.path().join("bob"), "bob").await;
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    bob.fetch_key("alice").await.unwrap();
    let original = dir.path().join("draft.bin");
    std::fs::write(&original, pattern(13, 16 * 1024 * 1024)).unwrap();
    let result = send_and_cancel_at(&alice, &relay, &original, 1 << 20).await;
    assert!(matches!(result, Err(ClientError::Cancelled)), "{result:?}");
    // Stopped part-way: still `sent`, and said to be not finished.
    let query = client::keystore::HistoryQuery::default;
    let (_, history) = alice.history("bob", query()).await.unwrap();
    let entry = history.last().unwrap();
    assert_eq!(entry.status, client::keystore::Status::Sent, "{entry:?}");
    assert_eq!(entry.reason.as_deref(), Some("not finished"));
    let line = client::output::history_entry(entry, "bob", &Default::default());
    assert!(
        line.ends_with("(sent, not finished: `resume` sends the rest)"),
        "{line}"
    );
    std::fs::remove_file(&original).unwrap();

    let resumed = alice
        .resume_all_uploads(CancellationToken::new())
        .await
        .unwrap();
    assert!(resumed.is_empty(), "{resumed:?}");
    assert_eq!(resumed.abandoned, std::slice::from_ref(&original));
    assert!(
        resumed
            .abandoned_line()
            .unwrap()
            .contains("gave up 1 interrupted upload whose file is gone, not sent"),
    );
    let (_, history) = alice.history("bob", query()).await.unwrap();
    let entry = history.last().unwrap();
    assert_eq!(entry.status, client::keystore::Status::Failed, "{entry:?}");
    assert_eq!(
        entry.reason.as_deref(),
        Some("interrupted, and the file is gone: not sent")
    );
    // Nothing is left to resume, and bob receives no file.
    let again = alice
        .resume_all_uploads(CancellationToken::new())
        .await
        .unwrap();
    assert!(again.is_empty() && again.abandoned.is_empty(), "{again:?}");
    assert!(files(&bob.inbox().await.unwrap()).is_empty());
}

/// Bob on a server, alice reaching it through a relay, a 16 MiB file of
/// alice's for bob, and an address nothing listens on (for the relay to
/// send alice's connections to: refused).
struct Outage {
    server: TestServer,
    relay: Relay,
    _dir: tempfile::TempDir,
    alice: Client,
    bob: Client,
    original: std::path::PathBuf,
    data: Vec<u8>,
    nowhere: std::net::SocketAddr,
}

impl Outage {
    async fn start() -> Outage {
        let server = TestServer::start(|_| {}).await.unwrap();
        let relay = Relay::start(server.addr).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bob = user(&server.addr.to_string(), &dir.path().join("bob"), "bob").await;
        let alice = user(&relay.addr.to_string(), &dir.path().join("alice"), "alice").await;
        bob.fetch_key("alice").await.unwrap();
        let original = dir.path().join("big.bin");
        let data = pattern(14, 16 * 1024 * 1024);
        std::fs::write(&original, &data).unwrap();
        let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        Outage {
            server,
            relay,
            _dir: dir,
            alice,
            bob,
            original,
            data,
            nowhere,
        }
    }
}

/// A server that stays unreachable past the client's reconnects stops the
/// upload with an error that says it is kept for `resume` (not "try
/// again", which would send the file twice); `resume` then finishes it
/// from where the server's copy ends, and the file arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_stopped_by_an_unreachable_server_is_kept_for_resume_and_arrives_once() {
    let Outage {
        server,
        relay,
        _dir,
        alice,
        bob,
        original,
        data,
        nowhere,
    } = Outage::start().await;
    let upload = alice.send_file("bob", &original, CancellationToken::new());
    let outage = async {
        stored_past(&relay, 2 << 20).await;
        relay.set_target(nowhere);
        relay.cut_once_after(0);
    };
    let (result, ()) = tokio::join!(bounded("the upload", upload), outage);
    let err = result.unwrap().unwrap_err();
    let ClientError::UploadKept(stopped) = &err else {
        panic!("not kept for resume: {err:?}")
    };
    let line = client::repl::explain::explain(&err, &[], client::advice::Audience::Script);
    assert!(
        line.ends_with(
            "the upload is kept: once that is past, `client resume` continues it where it \
             stopped (sending the file again would send it twice)"
        ),
        "{line}"
    );
    // Scripts see what stopped it.
    assert_eq!(
        client::repl::codes::client_code(&err),
        client::repl::codes::client_code(stopped)
    );

    relay.set_target(server.addr);
    let done = bounded("resume", alice.resume_uploads(CancellationToken::new()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.len(), 1);
    let observed = relay.observed();
    assert_resumed(&observed, uploaded_size(&observed));
    let saved = files(&bob.inbox().await.unwrap());
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(
        Sha256::digest(std::fs::read(&saved[0]).unwrap()),
        Sha256::digest(&data)
    );
}

/// A server away for a few seconds (a routine restart) does not stop an
/// upload: it waits, asks where the server stands, and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_waits_out_a_server_away_for_three_seconds_and_arrives_intact() {
    let Outage {
        server,
        relay,
        _dir,
        alice,
        bob,
        original,
        data,
        nowhere,
    } = Outage::start().await;
    let upload = alice.send_file("bob", &original, CancellationToken::new());
    let outage = async {
        stored_past(&relay, 2 << 20).await;
        relay.set_target(nowhere);
        relay.cut_once_after(0);
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        relay.set_target(server.addr);
    };
    let (result, ()) = tokio::join!(bounded("the upload", upload), outage);
    result.unwrap().unwrap();
    let observed = relay.observed();
    assert_resumed(&observed, uploaded_size(&observed));
    let saved = files(&bob.inbox().await.unwrap());
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(
        Sha256::digest(std::fs::read(&saved[0]).unwrap()),
        Sha256::digest(&data)
    );
}

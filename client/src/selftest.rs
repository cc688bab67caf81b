//! `client test`: every flow against a live server, with fresh users in
//! temporary home folders (so it can run again and again against the same
//! server). One line per step with PASS or FAIL and its time (with
//! `--json`, one object per line). A server that cannot be reached ends the
//! run at the first step that meets it: every later step would only say
//! the same.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use serde_json::json;

use crate::client::{Client, ClientConfig};
use crate::connection::ConnectionError;
use crate::crypto::RefusalReason;
use crate::error::ClientError;
use crate::inbox::{Event, Rejection, What};
use crate::pin::PinState;

/// Size of the file the self-test sends.
const FILE_LEN: usize = 5 * 1024 * 1024 + 12_345;
/// How long a pushed message may take to arrive.
const PUSH_WAIT: Duration = Duration::from_secs(10);

struct Run {
    passed: usize,
    failed: usize,
    json: bool,
}

/// The connection failure in `e`'s chain, if the server is out of reach.
fn disconnect(e: &anyhow::Error) -> Option<&ConnectionError> {
    e.chain()
        .find_map(|cause| match cause.downcast_ref::<ClientError>() {
            Some(ClientError::Connection(c)) => Some(c),
            // An upload cut short by the server going away: a self-test
            // has no `resume` to offer, only that the server is gone.
            Some(ClientError::UploadKept(inner)) => match inner.as_ref() {
                ClientError::Connection(c) => Some(c),
                _ => None,
            },
            _ => cause.downcast_ref::<ConnectionError>(),
        })
        .filter(|c| c.is_disconnect())
}

impl Run {
    /// Runs one step and reports it.
    ///
    /// # Errors
    /// The step's error, when it could not reach the server.
    async fn step<F: Future<Output = anyhow::Result<()>>>(
        &mut self,
        name: &str,
        f: F,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(120), f).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) if disconnect(&e).is_some() => {
                return Err(e.context(format!("self-test step \"{name}\"")));
            }
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(_) => Some("timed out".to_string()),
        };
        match &error {
            None => self.passed += 1,
            Some(_) => self.failed += 1,
        }
        if self.json {
            let line = json!({ "event": "step", "step": name, "passed": error.is_none(), "ms": (ms * 10.0).round() / 10.0, "error": error });
            say(&line.to_string());
        } else if let Some(error) = error {
            say(&format!("FAIL  {name:<50} {ms:>9.1} ms  {error}"));
        } else {
            say(&format!("PASS  {name:<50} {ms:>9.1} ms"));
        }
        Ok(())
    }
}

/// Prints a line of the report. A closed output (`client test | head -1`)
/// does not stop the run: the steps go on, so that the last one still
/// deletes the test users from the server.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn texts(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn rejections(events: &[Event]) -> Vec<Rejection> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::Rejected { reason } => Some(*reason),
            _ => None,
        })
        .collect()
}

/// `client`'s inbox holds exactly one refusal notice: of message `id`, for
/// `reason`.
async fn expect_refusal(client: &Client, id: u64, reason: RefusalReason) -> anyhow::Result<()> {
    let events = client.inbox().await?;
    let refusals: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.what {
            What::Refused {
                refused_id, reason, ..
            } => Some((*refused_id, *reason)),
            _ => None,
        })
        .collect();
    ensure!(
        refusals == vec![(id, reason)],
        "the sender was not told: {events:?}"
    );
    Ok(())
}

async fn expect_text(client: &Client, text: &str) -> anyhow::Result<()> {
    let events = client.inbox().await?;
    let got = texts(&events);
    ensure!(
        got == vec![text],
        "expected one text, got {} texts and {} events",
        got.len(),
        events.len()
    );
    Ok(())
}

/// Runs every step against `server`; returns whether all passed. `json`:
/// one JSON object a line (`start`, one `step` each, `summary`).
///
/// # Errors
/// Temporary folders could not be made; the server could not be reached
/// (the first step that tried, with why).
pub async fn run(server: &str, json: bool) -> anyhow::Result<bool> {
    let tag: u32 = rand::random();
    let alice_name = format!("selftest-alice-{tag:08x}");
    let bob_name = format!("selftest-bob-{tag:08x}");
    let alice_home = tempfile::tempdir().context("making a temporary home")?;
    let bob_home = tempfile::tempdir().context("making a temporary home")?;
    let config = |home: &std::path::Path| ClientConfig {
        home: home.to_path_buf(),
        server: server.to_string(),
        accept_server_key: false,
        // Fresh homes, encrypted like a user's.
        protection: crate::keystore::Protection::passphrase(
            hex::encode(rand::random::<[u8; 16]>()),
        ),
    };
    let alice = Client::open(config(alice_home.path())).await?;
    let bob = Client::open(config(bob_home.path())).await?;
    if json {
        let users = [&alice_name, &bob_name];
        say(&json!({ "event": "start", "server": server, "users": users }).to_string());
    } else {
        say(&format!(
            "self-test against {server} as {alice_name} and {bob_name}"
        ));
    }
    let mut run = Run {
        passed: 0,
        failed: 0,
        json,
    };

    let carol_name = format!("selftest-carol-{tag:08x}");
    let mut carol_slot = None;
    // Interrupted (Ctrl-C) or cut short by an error, the run still deletes
    // what it made on the server.
    let steps = async {
        run.step("register two users", async {
            alice.register(&alice_name).await?;
            bob.register(&bob_name).await?;
            Ok(())
        })
        .await?;

        run.step("list shows each other", async {
            let seen_by_alice = alice.list().await?;
            let seen_by_bob = bob.list().await?;
            ensure!(
                seen_by_alice.iter().any(|(_, n)| n.as_str() == bob_name),
                "alice does not see bob"
            );
            ensure!(
                seen_by_bob.iter().any(|(_, n)| n.as_str() == alice_name),
                "bob does not see alice"
            );
            ensure!(
                !seen_by_alice.iter().any(|(_, n)| n.as_str() == alice_name),
                "the list includes the requester"
            );
            Ok(())
        })
        .await?;

        run.step("fetch, check and pin keys", async {
            let first = alice.fetch_key(&bob_name).await?;
            ensure!(
                first.pin == PinState::New,
                "first fetch pinned {:?}",
                first.pin.as_str()
            );
            let again = alice.fetch_key(&bob_name).await?;
            ensure!(
                again.pin == PinState::Same,
                "second fetch found {:?}",
                again.pin.as_str()
            );
            ensure!(
                first.fingerprint == again.fingerprint,
                "fingerprint changed"
            );
            bob.fetch_key(&alice_name).await?;
            Ok(())
        })
        .await?;

        run.step("safety numbers match on both sides", async {
            let (_, a) = alice.safety_number(&bob_name).await?;
            let (_, b) = bob.safety_number(&alice_name).await?;
            ensure!(a == b, "alice sees {a}, bob sees {b}");
            Ok(())
        })
        .await?;

        run.step("key agreement (offer and answer)", async {
            alice.start_session(&bob_name).await?;
            let at_bob = bob.inbox().await?;
            ensure!(
                at_bob
                    .iter()
                    .any(|e| matches!(e.what, What::SessionStarted)),
                "bob did not accept the offer: {at_bob:?}"
            );
            let at_alice = alice.inbox().await?;
            ensure!(
                at_alice
                    .iter()
                    .any(|e| matches!(e.what, What::SessionConfirmed)),
                "alice got no answer"
            );
            Ok(())
        })
        .await?;

        run.step("text from alice to bob", async {
            alice.send_text(&bob_name, "hello bob").await?;
            expect_text(&bob, "hello bob").await
        })
        .await?;

        run.step("text from bob to alice", async {
            bob.send_text(&alice_name, "hello alice").await?;
            expect_text(&alice, "hello alice").await
        })
        .await?;

        run.step("a 5,000-byte text", async {
            let long: String = (0..5000)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            alice.send_text(&bob_name, &long).await?;
            expect_text(&bob, &long).await
        })
        .await?;

        run.step("a multi-MiB file, compared by hash", async {
            let path = alice_home.path().join("selftest.bin");
            let data: Vec<u8> = (0..FILE_LEN).map(|_| rand::random::<u8>()).collect();
            crate::transfer::write_file(&path, &data)?;
            alice
                .send_file(&bob_name, &path, CancellationToken::new())
                .await?;
            let events = bob.inbox().await?;
            let saved = events.iter().find_map(|e| match &e.what {
                What::File { path, name, .. } if name == "selftest.bin" => Some(path.clone()),
                _ => None,
            });
            let Some(saved) = saved else {
                bail!("bob received no file: {events:?}");
            };
            let got = tokio::fs::read(&saved).await?;
            ensure!(
                Sha256::digest(&got) == Sha256::digest(&data),
                "the received file differs"
            );
            Ok(())
        })
        .await?;

        run.step(
            "a tampered ciphertext is rejected, the sender told",
            async {
                let mut sealed = alice.seal_text(&bob_name, "tamper with me").await?;
                let mut bytes = sealed.content.to_vec();
                let last = bytes.len() - 20;
                bytes[last] ^= 0x40;
                sealed.content = bytes.into();
                let id = alice.send_sealed(&sealed).await?;
                let events = bob.inbox().await?;
                ensure!(texts(&events).is_empty(), "a tampered text was shown");
                ensure!(
                    rejections(&events) == vec![Rejection::Tampered],
                    "no rejection: {events:?}"
                );
                expect_refusal(&alice, id, RefusalReason::Undecryptable).await
            },
        )
        .await?;

        run.step("a replayed message is rejected, the sender told", async {
            let sealed = alice.seal_text(&bob_name, "only once").await?;
            alice.send_sealed(&sealed).await?;
            let again = alice.send_sealed(&sealed).await?;
            let events = bob.inbox().await?;
            ensure!(
                texts(&events) == vec!["only once"],
                "texts: {:?}",
                texts(&events)
            );
            ensure!(
                rejections(&events) == vec![Rejection::Replayed],
                "no replay rejection: {events:?}"
            );
            expect_refusal(&alice, again, RefusalReason::Duplicate).await
        })
        .await?;

        run.step("texts out of order are both shown", async {
            let first = alice.seal_text(&bob_name, "sealed first").await?;
            let second = alice.seal_text(&bob_name, "sealed second").await?;
            alice.send_sealed(&second).await?;
            alice.send_sealed(&first).await?;
            let events = bob.inbox().await?;
            ensure!(
                texts(&events) == vec!["sealed second", "sealed first"],
                "got {events:?}"
            );
            Ok(())
        })
        .await?;

        run.step("a watching user receives a push", async {
            let stop = CancellationToken::new();
            let (tx, mut rx) = mpsc::unbounded_channel();
            let watcher = {
                let bob = bob.clone();
                let stop = stop.clone();
                tokio::spawn(async move { bob.watch(tx, stop).await })
            };
            alice.send_text(&bob_name, "are you there?").await?;
            let pushed = tokio::time::timeout(PUSH_WAIT, async {
                while let Some(e) = rx.recv().await {
                    if matches!(&e.what, What::Text { text } if text == "are you there?") {
                        return true;
                    }
                }
                false
            })
            .await;
            stop.cancel();
            let _ = watcher.await;
            ensure!(pushed == Ok(true), "no push within {PUSH_WAIT:?}");
            Ok(())
        })
        .await?;

        run.step("both inboxes are empty afterwards", async {
            let a = alice.inbox().await?;
            let b = bob.inbox().await?;
            ensure!(a.is_empty() && b.is_empty(), "left: alice {a:?}, bob {b:?}");
            Ok(())
        })
        .await?;

        let (home, third) = crate::selftest_room::third_user(&alice).await?;
        let carol = &carol_slot.insert((home, third)).1;
        run.step(
            "a room of three: add, send, receipts, remove",
            crate::selftest_room::room_of_three(&alice, &bob, &bob_name, carol, &carol_name, tag),
        )
        .await?;

        anyhow::Ok(())
    };
    let mut ended = tokio::select! {
        ended = steps => ended,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    // Whatever failed before, the server keeps no test user. Out of reach,
    // it gets a while to come back (a restart) before the users made are
    // named as left on it.
    let unreachable = matches!(&ended, Err(e) if disconnect(e).is_some());
    // The test users made on the server, whichever steps ran.
    let made: Vec<(&Client, &str)> = [(&alice, &alice_name), (&bob, &bob_name)]
        .into_iter()
        .chain(carol_slot.as_ref().map(|(_, carol)| (carol, &carol_name)))
        .filter(|(c, _)| c.me().is_some())
        .map(|(c, name)| (c, name.as_str()))
        .collect();
    let names_made = || made.iter().map(|(_, name)| *name).collect::<Vec<&str>>();
    let back = match made.first() {
        Some((client, _)) if unreachable => {
            if !json {
                say(&format!(
                    "the server went away; waiting up to {} s for it to delete the test users",
                    COME_BACK_WAIT.as_secs()
                ));
            }
            came_back(client).await
        }
        Some(_) => true,
        None => false,
    };
    let mut left = if !made.is_empty() && !back {
        names_made()
    } else {
        Vec::new()
    };
    if back {
        let cleaned = run
            .step("the room and the test users are deleted", async {
                let room = crate::selftest_room::room_name(tag);
                if alice.me().is_some() && alice.room_names().await?.contains(&room) {
                    alice.room_delete(&room).await.context("room delete")?;
                }
                if let Some((_, carol)) = &carol_slot
                    && carol.me().is_some()
                {
                    carol
                        .delete_account(&carol_name)
                        .await
                        .context("deleting carol")?;
                    let seen_by_bob = bob.list().await?;
                    ensure!(
                        !seen_by_bob.iter().any(|(_, n)| n.as_str() == carol_name),
                        "bob still sees carol after she deleted her account"
                    );
                }
                if bob.me().is_some() {
                    bob.delete_account(&bob_name)
                        .await
                        .context("deleting bob")?;
                }
                if alice.me().is_some() {
                    alice
                        .delete_account(&alice_name)
                        .await
                        .context("deleting alice")?;
                }
                Ok(())
            })
            .await;
        // The server going away while it deleted: the run ends as cut short.
        if let Err(e) = cleaned {
            left = names_made();
            if ended.is_ok() {
                ended = Err(e);
            }
        }
    }

    if json {
        let summary = json!({
            "event": "summary",
            "passed": run.passed,
            "failed": run.failed,
            "completed": ended.is_ok(),
            "left_on_server": left,
        });
        say(&summary.to_string());
    } else {
        let cut = if ended.is_ok() { "" } else { " (cut short)" };
        say(&format!(
            "{} passed, {} failed{cut}",
            run.passed, run.failed
        ));
        if !left.is_empty() {
            say(&format!(
                "not deleted from the server, which could not be reached: {}; its operator \
                 removes each with `server user remove NAME`",
                left.join(", ")
            ));
        }
    }
    ended?;
    Ok(run.failed == 0)
}

/// How long a server that went away mid-run gets to come back.
const COME_BACK_WAIT: Duration = Duration::from_secs(30);

/// Whether the server answers `client` again within [`COME_BACK_WAIT`].
async fn came_back(client: &Client) -> bool {
    let deadline = Instant::now() + COME_BACK_WAIT;
    while Instant::now() < deadline {
        if client.connection().await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

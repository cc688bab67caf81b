//! The self-test's room of three: alice creates a room, adds bob and a
//! third user, sends; both read it, and alice's history says both read it
//! (their receipts); alice removes the third, sends again; bob reads it
//! and the removed member reads only its removal.

use anyhow::{Context, ensure};

use crate::client::{Client, ClientConfig};
use crate::event::{Event, RoomChange, What};
use crate::keystore::HistoryQuery;

fn room_texts(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::Room {
                change: RoomChange::Text { text },
                ..
            } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// A third user's client, in a home of its own beside alice's, for the
/// room steps (registered there as `carol_name`).
///
/// # Errors
/// The home could not be made or opened.
pub(crate) async fn third_user(alice: &Client) -> anyhow::Result<(tempfile::TempDir, Client)> {
    let home = tempfile::tempdir().context("making a temporary home")?;
    let carol = Client::open(ClientConfig {
        home: home.path().to_path_buf(),
        ..alice.config().clone()
    })
    .await?;
    Ok((home, carol))
}

/// The room the steps use.
pub(crate) fn room_name(tag: u32) -> String {
    format!("selftest-{tag:08x}")
}

/// Runs the room steps with two registered users and `carol`, registered
/// here as `carol_name`.
///
/// # Errors
/// The first step that did not go as it should.
pub(crate) async fn room_of_three(
    alice: &Client,
    bob: &Client,
    bob_name: &str,
    carol: &Client,
    carol_name: &str,
    tag: u32,
) -> anyhow::Result<()> {
    let carol_name = carol_name.to_string();
    carol.register(&carol_name).await?;
    let room = room_name(tag);
    alice.room_create(&room).await.context("create")?;
    alice
        .room_add(&room, &[bob_name.to_string(), carol_name.clone()])
        .await
        .context("add")?;
    alice.room_send(&room, "hello room").await.context("send")?;
    for (who, c) in [("bob", bob), ("carol", carol)] {
        let got = c.inbox().await?;
        ensure!(
            room_texts(&got) == ["hello room"],
            "{who} read {:?}",
            room_texts(&got)
        );
        // As a front end does once it showed them: a read receipt.
        c.shown(&got).await;
    }
    alice.inbox().await?;
    let (_, sent) = alice
        .history(&format!("#{room}"), HistoryQuery::default())
        .await?;
    let receipts = sent.iter().rev().find_map(|e| e.receipts);
    ensure!(
        receipts.is_some_and(|r| (r.members, r.read) == (2, 2)),
        "the room's receipts: {receipts:?}"
    );
    alice
        .room_remove(&room, &carol_name)
        .await
        .context("remove")?;
    alice.room_send(&room, "after carol").await?;
    let at_bob = bob.inbox().await?;
    ensure!(
        room_texts(&at_bob) == ["after carol"],
        "bob read {:?}",
        room_texts(&at_bob)
    );
    // Shown, as above: its receipt goes now, not a moment later beside
    // the room's deletion that ends the run.
    bob.shown(&at_bob).await;
    let at_carol = carol.inbox().await?;
    ensure!(
        room_texts(&at_carol).is_empty(),
        "the removed member read {:?}",
        room_texts(&at_carol)
    );
    ensure!(
        at_carol.iter().any(|e| matches!(
            e.what,
            What::Room {
                change: RoomChange::RemovedYou,
                ..
            }
        )),
        "the removed member was not told"
    );
    Ok(())
}

//! The self-test's room of three: alice creates a room, adds bob and a
//! third user, sends; both read it; alice removes the third, sends again;
//! bob reads it and the removed member reads only its removal.

use anyhow::{Context, ensure};

use crate::client::{Client, ClientConfig};
use crate::event::{Event, RoomChange, What};

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

/// Runs the room steps with two registered users and a third made here.
///
/// # Errors
/// The first step that did not go as it should.
pub(crate) async fn room_of_three(
    alice: &Client,
    bob: &Client,
    bob_name: &str,
    tag: u32,
) -> anyhow::Result<()> {
    let carol_home = tempfile::tempdir().context("making a temporary home")?;
    let carol = Client::open(ClientConfig {
        home: carol_home.path().to_path_buf(),
        ..alice.config().clone()
    })
    .await?;
    let carol_name = format!("selftest-carol-{tag:08x}");
    carol.register(&carol_name).await?;
    let room = format!("selftest-{tag:08x}");
    alice.room_create(&room).await.context("create")?;
    alice
        .room_add(&room, &[bob_name.to_string(), carol_name.clone()])
        .await
        .context("add")?;
    alice.room_send(&room, "hello room").await.context("send")?;
    for (who, c) in [("bob", bob), ("carol", &carol)] {
        let got = c.inbox().await?;
        ensure!(
            room_texts(&got) == ["hello room"],
            "{who} read {:?}",
            room_texts(&got)
        );
    }
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

//! Whether the client is connected to its server, for whoever shows it
//! (`watch`, the menu): a connection lost and a connection back are each
//! said once, not left to be guessed from silence.
//!
//! The state lives in a `tokio::sync::watch` channel inside the client,
//! which sets it where connections are made and lost;
//! [`crate::Client::link`] hands out receivers. A leaf: the client core
//! holds a [`Link`], and nothing here needs the client. Left out:
//! reconnecting itself (done where requests are made, and by
//! [`crate::Client::watch`]).

use tokio::sync::watch;

/// The state of the connection to the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Link {
    /// Not tried yet.
    #[default]
    Unknown,
    /// Connected and authenticated.
    Up,
    /// Lost, or could not be made; why, in one line (escape before
    /// printing: it may quote the server).
    Down(String),
}

/// A change worth telling the user about, if `before` -> `now` is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The connection went away (or could not be made at all).
    Lost(String),
    /// It is back after being lost.
    Back,
}

impl Change {
    /// What changed, between two states.
    pub fn between(before: &Link, now: &Link) -> Option<Change> {
        match (before, now) {
            (Link::Down(_), Link::Up) => Some(Change::Back),
            (Link::Down(_), Link::Down(_)) => None,
            (_, Link::Down(why)) => Some(Change::Lost(why.clone())),
            _ => None,
        }
    }

    /// One line for a person.
    pub fn line(&self) -> String {
        match self {
            Change::Lost(why) => format!(
                "connection to the server lost ({}); trying again",
                crate::display::escape_line(why)
            ),
            Change::Back => "connected to the server again".into(),
        }
    }

    /// One JSON object for scripts (`watch --json`).
    pub fn json(&self) -> serde_json::Value {
        match self {
            Change::Lost(why) => {
                serde_json::json!({ "event": "connection_lost", "reason": why })
            }
            Change::Back => serde_json::json!({ "event": "connection_back" }),
        }
    }
}

/// Sends each [`Change`] of `link` to `show` until the client is dropped
/// or `stop` fires.
///
/// The state to compare with is taken now, not when the returned future is
/// first polled: a spawned follower that starts late (a busy machine) would
/// otherwise take a loss that happened meanwhile for its starting point and
/// never report it.
pub fn follow(
    mut link: watch::Receiver<Link>,
    stop: tokio_util::sync::CancellationToken,
    show: impl Fn(Change),
) -> impl std::future::Future<Output = ()> {
    let mut before = link.borrow_and_update().clone();
    async move {
        loop {
            tokio::select! {
                changed = link.changed() => if changed.is_err() { return },
                () = stop.cancelled() => return,
            }
            let now = link.borrow_and_update().clone();
            if let Some(change) = Change::between(&before, &now) {
                show(change);
            }
            before = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_losing_and_regaining_the_connection_is_news() {
        let down = Link::Down("refused".into());
        assert_eq!(Change::between(&Link::Unknown, &Link::Up), None);
        assert_eq!(
            Change::between(&Link::Up, &down),
            Some(Change::Lost("refused".into()))
        );
        assert_eq!(Change::between(&down, &Link::Down("other".into())), None);
        assert_eq!(Change::between(&down, &Link::Up), Some(Change::Back));
        assert_eq!(Change::between(&Link::Up, &Link::Up), None);
    }

    #[tokio::test]
    async fn a_loss_before_the_follower_first_runs_is_still_reported() {
        let (tx, rx) = watch::channel(Link::Up);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = tokio_util::sync::CancellationToken::new();
        let follower = {
            let seen = seen.clone();
            follow(rx, stop.clone(), move |c| seen.lock().unwrap().push(c))
        };
        // The connection drops before the follower is first polled.
        tx.send(Link::Down("reset".into())).unwrap();
        let task = tokio::spawn(follower);
        tokio::task::yield_now().await;
        tx.send(Link::Up).unwrap();
        tokio::task::yield_now().await;
        stop.cancel();
        task.await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![Change::Lost("reset".into()), Change::Back]
        );
    }
}

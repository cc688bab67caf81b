//! A person's key changing, kept in the conversation's history (kind 4,
//! its JSON in `body`): the server presenting another key than the pinned
//! one, and the user accepting it. Recorded
//! (`history_change::record_key_event`) in the transaction that pins the
//! change (`keystore::pins`), once per key presented, so that the history
//! says when the conversation's safety number changed.

use protocol::{PUBLIC_KEY_LEN, PublicKey};
use serde::{Deserialize, Serialize};

use crate::crypto::{Fingerprint, VerifiedBundle};

/// What happened to a person's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "key_event", rename_all = "snake_case")]
pub enum KeyEvent {
    /// The server presented another key for them: not used until the user
    /// accepts it.
    Changed {
        /// The new key's fingerprint.
        fingerprint: String,
        /// The pinned key's.
        pinned: String,
    },
    /// The user accepted the changed key.
    Accepted {
        /// The accepted key's fingerprint.
        fingerprint: String,
        /// The one it replaced.
        replaced: String,
    },
}

impl KeyEvent {
    /// The event in words, `who` being the peer's name as shown.
    pub fn words(&self, who: &str) -> String {
        match self {
            Self::Changed {
                fingerprint,
                pinned,
            } => format!(
                "{who}'s key changed (new fingerprint {fingerprint}, pinned {pinned}): \
                 nothing is sent to {who} until you accept it"
            ),
            Self::Accepted {
                fingerprint,
                replaced,
            } => format!(
                "you accepted {who}'s new key (fingerprint {fingerprint}, replacing {replaced}); \
                 not verified until you compare safety numbers"
            ),
        }
    }

    /// The fingerprints it names, for a search of history.
    pub fn fingerprints(&self) -> [&str; 2] {
        match self {
            Self::Changed {
                fingerprint,
                pinned,
            } => [fingerprint, pinned],
            Self::Accepted {
                fingerprint,
                replaced,
            } => [fingerprint, replaced],
        }
    }
}

/// The fingerprint of a stored bundle; one that no longer verifies is
/// shown as such rather than failing the pin that records it.
pub(super) fn fingerprint_of(bundle: [u8; PUBLIC_KEY_LEN]) -> String {
    match VerifiedBundle::verify(&PublicKey(bundle)) {
        Ok(b) => Fingerprint::of_bundle(&b).to_string(),
        Err(_) => "(unreadable)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Identity;
    use crate::keystore::fixtures::{BOB, bundle_of, home, with_session};
    use crate::keystore::{Body, Conversation, Direction, Status};
    use crate::keystore::{HistoryQuery, KeyStore};

    fn key_events(store: &KeyStore) -> Vec<KeyEvent> {
        store
            .history(&Conversation::Person { id: BOB }, &HistoryQuery::default())
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.body {
                Body::Key { change } => {
                    assert_eq!((e.direction, e.status), (Direction::In, Status::Read));
                    Some(change)
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_key_change_and_its_acceptance_are_recorded_once_each_with_both_fingerprints() {
        let (_dir, home) = home();
        let (mut store, _, bob, _) = with_session(&home);
        let old = Fingerprint::of_bundle(&bundle_of(&bob)).to_string();
        assert!(key_events(&store).is_empty(), "first contact is no change");

        let new_bob = Identity::generate().unwrap();
        let new = Fingerprint::of_bundle(&bundle_of(&new_bob)).to_string();
        for _ in 0..3 {
            // Looked up again and again (every send, every `key bob`).
            store.pin_peer(BOB, "bob", &bundle_of(&new_bob)).unwrap();
        }
        store.pin_peer(BOB, "bob", &bundle_of(&bob)).unwrap();
        let changed = KeyEvent::Changed {
            fingerprint: new.clone(),
            pinned: old.clone(),
        };
        assert_eq!(key_events(&store), vec![changed.clone()]);

        store.accept_new_key(BOB).unwrap();
        let accepted = KeyEvent::Accepted {
            fingerprint: new.clone(),
            replaced: old.clone(),
        };
        drop(store);
        let store = KeyStore::open(&home).unwrap();
        assert_eq!(key_events(&store), vec![changed, accepted.clone()]);
        let words = accepted.words("bob");
        assert!(words.contains(&new) && words.contains(&old), "{words}");

        // A search finds them by either fingerprint.
        let query = HistoryQuery {
            search: Some(old),
            ..HistoryQuery::default()
        };
        let found = store
            .history(&Conversation::Person { id: BOB }, &query)
            .unwrap();
        assert_eq!(found.len(), 2);
    }
}

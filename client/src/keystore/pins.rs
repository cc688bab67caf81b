//! Trust on first use: the key pinned for each server address, and each
//! peer's pinned key bundle with its verified mark and any changed bundle
//! waiting for the user.
//!
//! A server presenting another key is [`PinError::ServerKeyChanged`]; a peer
//! presenting another bundle is kept as pending and blocks sending to that
//! peer until [`KeyStore::accept_new_key`], which also drops every session
//! made with the old key.
//!
//! Left out: what to tell the user (the front ends word it), and the peer
//! names' lookups (`crate::contacts`).

use std::time::SystemTime;

use protocol::{ClientId, PUBLIC_KEY_LEN, PublicKey};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use subtle::ConstantTimeEq;

use super::history_change::record_key_event;
use super::key_events::{KeyEvent, fingerprint_of};
use super::schema::{blob_array, ms_to_system_time, now_ms};
use super::{KeyStore, KeyStoreError, PinError};
use crate::crypto::{Fingerprint, VerifiedBundle};

/// Result of pinning a server key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPin {
    /// The home's first contact with a server: the key is now pinned.
    FirstUse,
    /// The key is the pinned one.
    Known,
}

/// Result of [`KeyStore::pin_peer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// First time this peer is seen: the bundle is now pinned.
    New,
    /// The bundle is the pinned one.
    Same,
    /// The bundle differs from the pinned one: it is kept as pending and
    /// sending to this peer is blocked until the user accepts it.
    Changed,
}

/// A pinned peer.
#[derive(Debug, Clone)]
pub struct PeerRecord {
    /// The peer's client id.
    pub client_id: ClientId,
    /// The name the user knows the peer by: the server's name when the peer
    /// was first pinned, or one the user accepted later. Empty when the
    /// peer has no local name (its server name was pinned for someone else
    /// already). Not yet safe to print.
    pub name: String,
    /// The name the server gave the peer last time it was asked, if known
    /// (not yet safe to print).
    pub server_name: Option<String>,
    /// The pinned bundle.
    pub bundle: VerifiedBundle,
    /// When the bundle was pinned.
    pub pinned_at: SystemTime,
    /// Whether the user compared safety numbers for this bundle.
    pub verified: bool,
    /// A changed bundle the peer presented, waiting for the user.
    pub pending_bundle: Option<PublicKey>,
}

impl PeerRecord {
    /// The name the user knows the peer by, `None` when it has none (an
    /// empty name must never be printed as if it were one).
    pub fn pinned_name(self) -> Option<String> {
        Some(self.name).filter(|n| !n.is_empty())
    }
}

impl KeyStore {
    /// Checks the key a server presented at `address` (the nodes as given,
    /// comma-separated) against the home's one server key, pinning it on
    /// first use, and remembers `address` as one where it was seen.
    ///
    /// One key for the home, not one per address: a home that trusts a
    /// server trusts it under every address it is given, and an address
    /// new to the home (another order of the nodes, a node added, or a
    /// rogue one) must present that same key rather than be pinned on its
    /// own first use.
    ///
    /// # Errors
    /// [`PinError::ServerKeyChanged`] if another key is pinned; storage
    /// errors.
    pub fn pin_server(&mut self, address: &str, key: &[u8; 32]) -> Result<ServerPin, PinError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(KeyStoreError::from)?;
        let pinned = home_server_key(&tx).map_err(KeyStoreError::from)?;
        let pin = match pinned {
            None => ServerPin::FirstUse,
            Some(pinned) if bool::from(pinned.ct_eq(key)) => ServerPin::Known,
            Some(pinned) => {
                return Err(PinError::ServerKeyChanged {
                    pinned_fingerprint: Fingerprint::of_server(&pinned),
                    presented_fingerprint: Fingerprint::of_server(key),
                });
            }
        };
        tx.execute(
            "INSERT INTO server_pins (address, server_key, pinned_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (address) DO NOTHING",
            params![address, &key[..], now_ms()],
        )
        .map_err(KeyStoreError::from)?;
        tx.commit().map_err(KeyStoreError::from)?;
        Ok(pin)
    }

    /// Makes `key` the home's server key, seen at `address` (the user
    /// accepted a changed server key). The addresses remembered with the
    /// old key are forgotten: they would be checked against the new one.
    ///
    /// # Errors
    /// Storage errors.
    pub fn accept_server_key(
        &mut self,
        address: &str,
        key: &[u8; 32],
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM server_pins", [])?;
        tx.execute(
            "INSERT INTO server_pins (address, server_key, pinned_at) VALUES (?1, ?2, ?3)",
            params![address, &key[..], now_ms()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The home's pinned server key, if it has talked to a server.
    ///
    /// # Errors
    /// Storage errors.
    pub fn server_key(&self) -> Result<Option<[u8; 32]>, KeyStoreError> {
        Ok(home_server_key(&self.conn)?)
    }

    /// Every server address a key is pinned for, oldest pin first: where a
    /// home restored from a backup connects when it is given no address.
    ///
    /// # Errors
    /// Storage errors.
    pub fn pinned_server_addresses(&self) -> Result<Vec<String>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT address FROM server_pins ORDER BY pinned_at, address")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Pins a peer's (verified) bundle on first use, or compares it with the
    /// pinned one. A changed bundle is kept as pending and blocks sending
    /// (see [`KeyStore::peer_for_sending`]) until
    /// [`KeyStore::accept_new_key`].
    ///
    /// `name` is the server's name for the peer. It becomes the pinned name
    /// only on first use, and only if no other pinned peer goes by it
    /// (ignoring ASCII case); otherwise the peer is pinned without a name.
    /// Afterwards it is only noted as the server's name: a server cannot
    /// move a pinned name (see [`crate::contacts`]).
    ///
    /// # Errors
    /// Storage errors.
    pub fn pin_peer(
        &mut self,
        peer: ClientId,
        name: &str,
        bundle: &VerifiedBundle,
    ) -> Result<Pinned, KeyStoreError> {
        let presented = bundle.public_key().as_bytes();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pinned = pinned_keys(&tx, peer)?;
        let outcome = match pinned {
            None => {
                // A name that looks like a contact's (`bob`, `Bоb` with a
                // Cyrillic o) is not given on first contact: the user names
                // it with `accept`, after the warning.
                let taken = look_alike(&tx, peer, name)?.is_some();
                let local = if taken { "" } else { name };
                tx.execute(
                    "INSERT INTO peers (client_id, name, bundle, pinned_at, server_name)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![&peer.0[..], local, &presented[..], now_ms(), name],
                )?;
                Pinned::New
            }
            Some((pinned, _)) if pinned[..] == presented[..] => {
                tx.execute(
                    "UPDATE peers SET server_name = ?2 WHERE client_id = ?1",
                    params![&peer.0[..], name],
                )?;
                Pinned::Same
            }
            Some((pinned, pending)) => {
                tx.execute(
                    "UPDATE peers SET server_name = ?2, pending_bundle = ?3, pending_at = ?4
                     WHERE client_id = ?1",
                    params![&peer.0[..], name, &presented[..], now_ms()],
                )?;
                // Once per key presented, not at every look-up.
                if pending.as_deref() != Some(&presented[..]) {
                    let change = KeyEvent::Changed {
                        fingerprint: Fingerprint::of_bundle(bundle).to_string(),
                        pinned: fingerprint_of(pinned),
                    };
                    record_key_event(&tx, peer, change)?;
                }
                Pinned::Changed
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// The pinned contact other than `peer` whose name looks like `name`
    /// (see [`look_alike`]).
    ///
    /// # Errors
    /// Storage errors.
    pub fn look_alike(
        &self,
        peer: ClientId,
        name: &str,
    ) -> Result<Option<LookAlike>, KeyStoreError> {
        look_alike(&self.conn, peer, name)
    }

    /// A pinned peer, if known.
    ///
    /// # Errors
    /// Storage errors; [`KeyStoreError::Corrupt`] if the stored bundle no
    /// longer verifies.
    pub fn peer(&self, peer: ClientId) -> Result<Option<PeerRecord>, KeyStoreError> {
        self.conn
            .query_row(
                &format!("{PEER_COLUMNS} WHERE client_id = ?1"),
                [&peer.0[..]],
                peer_row,
            )
            .optional()?
            .map(PeerRow::into_record)
            .transpose()
    }

    /// Every pinned peer, by name.
    ///
    /// # Errors
    /// As [`KeyStore::peer`].
    pub fn peers(&self) -> Result<Vec<PeerRecord>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{PEER_COLUMNS} ORDER BY name, client_id"))?;
        let rows = stmt.query_map([], peer_row)?;
        rows.map(|row| row?.into_record()).collect()
    }

    /// The peer to send to, only if its key has not changed since it was
    /// pinned.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownPeer`], [`KeyStoreError::KeyChanged`] while a
    /// changed bundle waits for the user; storage errors.
    pub fn peer_for_sending(&self, peer: ClientId) -> Result<PeerRecord, KeyStoreError> {
        let record = self.peer(peer)?.ok_or(KeyStoreError::UnknownPeer(peer))?;
        if record.pending_bundle.is_some() {
            return Err(KeyStoreError::KeyChanged { peer });
        }
        Ok(record)
    }

    /// The user accepts a peer's changed bundle: it replaces the pinned one,
    /// the verified mark is cleared (the new key has not been compared), and
    /// every session with the peer is dropped.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownPeer`], [`KeyStoreError::NoPendingKey`];
    /// storage errors.
    pub fn accept_new_key(&mut self, peer: ClientId) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (pinned, pending) = pinned_keys(&tx, peer)?.ok_or(KeyStoreError::UnknownPeer(peer))?;
        let Some(pending) = pending else {
            return Err(KeyStoreError::NoPendingKey(peer));
        };
        let pending: [u8; PUBLIC_KEY_LEN] = pending
            .try_into()
            .map_err(|_| KeyStoreError::Corrupt("pending bundle"))?;
        tx.execute(
            "UPDATE peers SET bundle = pending_bundle, pinned_at = ?2, verified = 0,
                              pending_bundle = NULL, pending_at = NULL
             WHERE client_id = ?1",
            params![&peer.0[..], now_ms()],
        )?;
        tx.execute("DELETE FROM sessions WHERE peer = ?1", [&peer.0[..]])?;
        let accepted = KeyEvent::Accepted {
            fingerprint: fingerprint_of(pending),
            replaced: fingerprint_of(pinned),
        };
        record_key_event(&tx, peer, accepted)?;
        tx.commit()?;
        Ok(())
    }

    /// Records whether the user compared safety numbers with the peer for
    /// its pinned bundle.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownPeer`]; storage errors.
    pub fn set_verified(&mut self, peer: ClientId, verified: bool) -> Result<(), KeyStoreError> {
        let changed = self.conn.execute(
            "UPDATE peers SET verified = ?2 WHERE client_id = ?1",
            params![&peer.0[..], verified],
        )?;
        if changed == 0 {
            return Err(KeyStoreError::UnknownPeer(peer));
        }
        Ok(())
    }
}

/// A pinned contact whose name another name looks like.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LookAlike {
    /// The contact's local name (not yet safe to print).
    pub name: String,
    /// The contact's id.
    #[serde(
        serialize_with = "crate::peer_info::hex_id",
        deserialize_with = "crate::peer_info::hex_id_from"
    )]
    pub client_id: ClientId,
}

/// The pinned contact other than `peer` whose local name looks like `name`
/// to a person (the same [`protocol::names::skeleton_key`]: other case,
/// look-alike letters from other scripts), if any.
fn look_alike(
    conn: &rusqlite::Connection,
    peer: ClientId,
    name: &str,
) -> Result<Option<LookAlike>, KeyStoreError> {
    if name.is_empty() {
        return Ok(None);
    }
    let key = protocol::names::skeleton_key(name);
    let mut stmt = conn.prepare_cached("SELECT client_id, name FROM peers WHERE name != ''")?;
    let rows = stmt.query_map([], |row| {
        Ok((blob_array::<16>(row, 0)?, row.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (id, pinned) = row?;
        if id != peer.0 && protocol::names::skeleton_key(&pinned) == key {
            return Ok(Some(LookAlike {
                name: pinned,
                client_id: ClientId(id),
            }));
        }
    }
    Ok(None)
}

const PEER_COLUMNS: &str =
    "SELECT client_id, name, bundle, pinned_at, verified, pending_bundle, server_name FROM peers";

struct PeerRow {
    client_id: [u8; 16],
    name: String,
    bundle: [u8; PUBLIC_KEY_LEN],
    pinned_at: i64,
    verified: bool,
    pending: Option<[u8; PUBLIC_KEY_LEN]>,
    server_name: Option<String>,
}

fn peer_row(row: &Row<'_>) -> rusqlite::Result<PeerRow> {
    let pending = match row.get_ref(5)?.as_blob_or_null()? {
        None => None,
        Some(_) => Some(blob_array::<PUBLIC_KEY_LEN>(row, 5)?),
    };
    Ok(PeerRow {
        client_id: blob_array(row, 0)?,
        name: row.get(1)?,
        bundle: blob_array(row, 2)?,
        pinned_at: row.get(3)?,
        verified: row.get(4)?,
        pending,
        server_name: row.get(6)?,
    })
}

impl PeerRow {
    fn into_record(self) -> Result<PeerRecord, KeyStoreError> {
        // Stored bundles were verified before pinning; checking again keeps
        // VerifiedBundle's promise even for a database edited by hand.
        let bundle = VerifiedBundle::verify(&PublicKey(self.bundle))
            .map_err(|_| KeyStoreError::Corrupt("pinned bundle does not verify"))?;
        Ok(PeerRecord {
            client_id: ClientId(self.client_id),
            name: self.name,
            bundle,
            pinned_at: ms_to_system_time(self.pinned_at),
            verified: self.verified,
            pending_bundle: self.pending.map(PublicKey),
            server_name: self.server_name,
        })
    }
}
/// The home's server key: every row holds it (schema 24 made them agree,
/// and only [`KeyStore::accept_server_key`] changes it, for all); the most
/// recent is read in case a row was edited by hand.
/// A peer's pinned key, and the changed one waiting for the user.
type PinnedKeys = ([u8; PUBLIC_KEY_LEN], Option<Vec<u8>>);

/// `peer`'s [`PinnedKeys`]; `None` for a peer not pinned.
fn pinned_keys(
    conn: &rusqlite::Connection,
    peer: ClientId,
) -> rusqlite::Result<Option<PinnedKeys>> {
    conn.query_row(
        "SELECT bundle, pending_bundle FROM peers WHERE client_id = ?1",
        [&peer.0[..]],
        |row| Ok((blob_array::<PUBLIC_KEY_LEN>(row, 0)?, row.get(1)?)),
    )
    .optional()
}

fn home_server_key(conn: &rusqlite::Connection) -> rusqlite::Result<Option<[u8; 32]>> {
    conn.query_row(
        "SELECT server_key FROM server_pins ORDER BY pinned_at DESC, address DESC LIMIT 1",
        [],
        |row| blob_array::<32>(row, 0),
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Identity;
    use crate::keystore::fixtures::{ALICE, BOB, bundle_of, home, with_session};

    #[test]
    fn server_key_is_pinned_on_first_use_and_a_change_detected() {
        let (_dir, home) = home();
        let mut store = KeyStore::open(&home).unwrap();
        let addr = "192.168.1.5:1357";
        assert_eq!(
            store.pin_server(addr, &[1; 32]).unwrap(),
            ServerPin::FirstUse
        );
        assert_eq!(store.pin_server(addr, &[1; 32]).unwrap(), ServerPin::Known);
        drop(store);
        let mut store = KeyStore::open(&home).unwrap();
        match store.pin_server(addr, &[2; 32]) {
            Err(PinError::ServerKeyChanged {
                pinned_fingerprint,
                presented_fingerprint,
            }) => {
                assert_eq!(pinned_fingerprint, Fingerprint::of_server(&[1; 32]));
                assert_eq!(presented_fingerprint, Fingerprint::of_server(&[2; 32]));
            }
            other => panic!("expected a key change, got {other:?}"),
        }
        // Still pinned to the old key until the user accepts.
        assert_eq!(store.server_key().unwrap(), Some([1; 32]));
        store.accept_server_key(addr, &[2; 32]).unwrap();
        assert_eq!(store.pin_server(addr, &[2; 32]).unwrap(), ServerPin::Known);
    }

    /// The regression: pins were per address string, so another order of
    /// the nodes, or a new (rogue) node, was pinned on its own first use.
    #[test]
    fn a_new_address_must_present_the_homes_one_server_key() {
        let (_dir, home) = home();
        let mut store = KeyStore::open(&home).unwrap();
        assert_eq!(
            store.pin_server("a:1,b:1", &[1; 32]).unwrap(),
            ServerPin::FirstUse
        );
        // The same nodes in another order, or a node added: the same key.
        assert_eq!(
            store.pin_server("b:1,a:1", &[1; 32]).unwrap(),
            ServerPin::Known
        );
        assert_eq!(
            store.pin_server("a:1,b:1,c:1", &[1; 32]).unwrap(),
            ServerPin::Known
        );
        // A node with a key of its own is refused, not pinned.
        for address in ["c:1", "rogue:1", "c:1,a:1"] {
            assert!(
                matches!(
                    store.pin_server(address, &[9; 32]),
                    Err(PinError::ServerKeyChanged { .. })
                ),
                "{address}"
            );
        }
        assert_eq!(store.server_key().unwrap(), Some([1; 32]));
        // The addresses it was seen at (the refused ones are not).
        let mut seen = store.pinned_server_addresses().unwrap();
        seen.sort();
        assert_eq!(seen, ["a:1,b:1", "a:1,b:1,c:1", "b:1,a:1"]);
        // Accepting a new key (after asking the operator) makes it the
        // home's, for every address; the old ones are forgotten.
        store.accept_server_key("c:1", &[9; 32]).unwrap();
        assert_eq!(store.pinned_server_addresses().unwrap(), ["c:1"]);
        assert!(matches!(
            store.pin_server("a:1,b:1", &[1; 32]),
            Err(PinError::ServerKeyChanged { .. })
        ));
        assert_eq!(
            store.pin_server("a:1,b:1", &[9; 32]).unwrap(),
            ServerPin::Known
        );
    }

    #[test]
    fn a_changed_peer_key_blocks_sending_until_accepted() {
        let (_dir, home) = home();
        let (mut store, _, bob, _) = with_session(&home);
        assert_eq!(
            store.pin_peer(BOB, "bob", &bundle_of(&bob)).unwrap(),
            Pinned::Same
        );
        store.set_verified(BOB, true).unwrap();
        assert!(store.peer_for_sending(BOB).unwrap().verified);

        let new_bob = Identity::generate().unwrap();
        assert_eq!(
            store.pin_peer(BOB, "bob", &bundle_of(&new_bob)).unwrap(),
            Pinned::Changed
        );
        drop(store);
        let mut store = KeyStore::open(&home).unwrap();
        assert!(matches!(
            store.peer_for_sending(BOB),
            Err(KeyStoreError::KeyChanged { peer }) if peer == BOB
        ));
        // The old bundle stays pinned meanwhile, and seeing it again does
        // not lift the block.
        let record = store.peer(BOB).unwrap().unwrap();
        assert_eq!(record.bundle.public_key(), &bob.bundle());
        assert_eq!(record.pending_bundle, Some(new_bob.bundle()));
        assert_eq!(
            store.pin_peer(BOB, "bob", &bundle_of(&bob)).unwrap(),
            Pinned::Same
        );
        assert!(store.peer_for_sending(BOB).is_err());
        assert!(store.current_session_for(BOB).unwrap().is_some());

        store.accept_new_key(BOB).unwrap();
        let record = store.peer_for_sending(BOB).unwrap();
        assert_eq!(record.bundle.public_key(), &new_bob.bundle());
        assert!(!record.verified, "accepting a new key clears verified");
        assert!(record.pending_bundle.is_none());
        assert!(
            store.current_session_for(BOB).unwrap().is_none(),
            "sessions with the old key are dropped"
        );
        assert!(matches!(
            store.accept_new_key(BOB),
            Err(KeyStoreError::NoPendingKey(_))
        ));
        assert!(matches!(
            store.peer_for_sending(ALICE),
            Err(KeyStoreError::UnknownPeer(_))
        ));
        assert_eq!(store.peers().unwrap().len(), 1);
    }
}

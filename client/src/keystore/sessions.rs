//! Sessions as stored: keys, role, confirmation, both counters and the
//! replay window of received counters.
//!
//! [`KeyStore::next_send_counter`] commits the new counter before it hands
//! it out, so a crash can skip a counter but never reuse one; received
//! counters go into the session's replay window (see `crypto::window`),
//! alone or together with the message id they came with
//! (`keystore::received`).
//!
//! Left out: sealing and opening (`crypto::session`).

use std::time::SystemTime;

use protocol::ClientId;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::schema::{blob_array, ms_to_system_time, now_ms, secret_array};
use super::{KeyStore, KeyStoreError};
use crate::crypto::session::SessionParts;
use crate::crypto::{KEY_LEN, ReplayWindow, Role, Session, SessionId};

/// A session with its counters, as stored.
#[derive(Debug)]
pub struct StoredSession {
    /// The session and its keys.
    pub session: Session,
    /// The last send counter handed out (0: none yet).
    pub send_counter: u64,
    /// The highest counter accepted from the peer (0: none yet).
    pub receive_counter: u64,
    /// The counters received from the peer; pass it to `Session::open`.
    pub receive_window: ReplayWindow,
    /// When the session was made.
    pub created_at: SystemTime,
}

impl KeyStore {
    /// Stores a new session (both counters at 0). The peer must be pinned.
    ///
    /// # Errors
    /// [`KeyStoreError::SessionExists`] if the id is taken (a redelivered
    /// offer: look it up first), [`KeyStoreError::UnknownPeer`]; storage
    /// errors.
    pub fn save_session(&mut self, session: &Session) -> Result<(), KeyStoreError> {
        let p = session.to_parts();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let peer_known = tx
            .query_row(
                "SELECT 1 FROM peers WHERE client_id = ?1",
                [&p.peer.0[..]],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !peer_known {
            return Err(KeyStoreError::UnknownPeer(p.peer));
        }
        let role = match p.role {
            Role::Initiator => 1,
            Role::Responder => 2,
        };
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO sessions (sid, peer, local_id, role, send_key, receive_key,
                                             confirm_key, confirmed, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                &p.sid.0[..],
                &p.peer.0[..],
                &p.local.0[..],
                role,
                &p.send_key[..],
                &p.receive_key[..],
                p.confirm_key.as_ref().map(|k| &k[..]),
                p.confirmed,
                now_ms(),
            ],
        )?;
        if inserted == 0 {
            return Err(KeyStoreError::SessionExists(p.sid));
        }
        tx.commit()?;
        Ok(())
    }

    /// A session by id.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn session(&self, sid: SessionId) -> Result<Option<StoredSession>, KeyStoreError> {
        self.conn
            .query_row(
                &format!("{SESSION_COLUMNS} WHERE sid = ?1"),
                [&sid.0[..]],
                session_row,
            )
            .optional()?
            .transpose()
    }

    /// The session to send to `peer` with: the newest one. A session may be
    /// used before the peer's answer confirms it.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn current_session_for(
        &self,
        peer: ClientId,
    ) -> Result<Option<StoredSession>, KeyStoreError> {
        self.conn
            .query_row(
                &format!(
                    "{SESSION_COLUMNS} WHERE peer = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ),
                [&peer.0[..]],
                session_row,
            )
            .optional()?
            .transpose()
    }

    /// Marks a session confirmed, once `Session::confirm` accepted the
    /// peer's answer.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`]; storage errors.
    pub fn mark_confirmed(&mut self, sid: SessionId) -> Result<(), KeyStoreError> {
        let changed = self.conn.execute(
            "UPDATE sessions SET confirmed = 1 WHERE sid = ?1",
            [&sid.0[..]],
        )?;
        if changed == 0 {
            return Err(KeyStoreError::UnknownSession(sid));
        }
        Ok(())
    }

    /// Takes the next send counter of a session (1 for the first message).
    /// The new value is committed to disk before it is returned, so no
    /// counter is ever handed out twice, even across a crash.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`], [`KeyStoreError::CounterExhausted`];
    /// storage errors.
    pub fn next_send_counter(&mut self, sid: SessionId) -> Result<u64, KeyStoreError> {
        let next: Option<i64> = self
            .conn
            .query_row(
                "UPDATE sessions SET send_counter = send_counter + 1
                 WHERE sid = ?1 AND send_counter < ?2 RETURNING send_counter",
                params![&sid.0[..], i64::MAX],
                |row| row.get(0),
            )
            .optional()?;
        match next {
            Some(n) => u64::try_from(n).map_err(|_| KeyStoreError::Corrupt("send counter")),
            None if self.session_exists(sid)? => Err(KeyStoreError::CounterExhausted(sid)),
            None => Err(KeyStoreError::UnknownSession(sid)),
        }
    }

    fn session_exists(&self, sid: SessionId) -> Result<bool, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM sessions WHERE sid = ?1",
                [&sid.0[..]],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records that a message with `counter` from the peer was handled: adds
    /// it to the session's replay window (the highest received counter never
    /// goes down).
    /// [`KeyStore::mark_handled`] does the same together with the message id.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`]; storage errors.
    pub fn commit_received_counter(
        &mut self,
        sid: SessionId,
        counter: u64,
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        record_received(&tx, sid, counter)?;
        tx.commit()?;
        Ok(())
    }
}

const SESSION_COLUMNS: &str = "SELECT sid, peer, local_id, role, send_key, receive_key,
        confirm_key, confirmed, send_counter, receive_counter, created_at, receive_window
        FROM sessions";

/// A session row; the outer result is SQLite's, the inner one ours.
fn session_row(row: &Row<'_>) -> rusqlite::Result<Result<StoredSession, KeyStoreError>> {
    let role = match row.get::<_, i64>(3)? {
        1 => Role::Initiator,
        2 => Role::Responder,
        _ => return Ok(Err(KeyStoreError::Corrupt("session role"))),
    };
    let confirm_key = match row.get_ref(6)?.as_blob_or_null()? {
        None => None,
        Some(_) => Some(secret_array::<KEY_LEN>(row, 6)?),
    };
    let parts = SessionParts {
        sid: SessionId(blob_array(row, 0)?),
        peer: ClientId(blob_array(row, 1)?),
        local: ClientId(blob_array(row, 2)?),
        role,
        send_key: secret_array(row, 4)?,
        receive_key: secret_array(row, 5)?,
        confirm_key,
        confirmed: row.get(7)?,
    };
    let (Ok(send_counter), Ok(receive_counter)) = (
        u64::try_from(row.get::<_, i64>(8)?),
        u64::try_from(row.get::<_, i64>(9)?),
    ) else {
        return Ok(Err(KeyStoreError::Corrupt("session counter")));
    };
    let window = row.get_ref(11)?.as_blob_or_null()?;
    let Ok(receive_window) = ReplayWindow::from_stored(receive_counter, window) else {
        return Ok(Err(KeyStoreError::Corrupt("session replay window")));
    };
    Ok(Ok(StoredSession {
        session: Session::from_parts(parts),
        send_counter,
        receive_counter,
        receive_window,
        created_at: ms_to_system_time(row.get(10)?),
    }))
}

/// Adds `counter` to session `sid`'s replay window; call it inside a
/// transaction, since it reads and writes.
pub(super) fn record_received(
    conn: &Connection,
    sid: SessionId,
    counter: u64,
) -> Result<(), KeyStoreError> {
    let stored: Option<(i64, Option<Vec<u8>>)> = conn
        .query_row(
            "SELECT receive_counter, receive_window FROM sessions WHERE sid = ?1",
            [&sid.0[..]],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((highest, seen)) = stored else {
        return Err(KeyStoreError::UnknownSession(sid));
    };
    let highest = u64::try_from(highest).map_err(|_| KeyStoreError::Corrupt("session counter"))?;
    let mut window = ReplayWindow::from_stored(highest, seen.as_deref())
        .map_err(|_| KeyStoreError::Corrupt("session replay window"))?;
    window.record(counter);
    let highest =
        i64::try_from(window.highest()).map_err(|_| KeyStoreError::Corrupt("counter over i64"))?;
    conn.execute(
        "UPDATE sessions SET receive_counter = ?2, receive_window = ?3 WHERE sid = ?1",
        params![&sid.0[..], highest, &window.seen_bytes()[..]],
    )?;
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Identity;
    use crate::keystore::fixtures::{ALICE, BOB, bundle_of, home, with_identity, with_session};

    #[test]
    fn sessions_and_counters_survive_reopen_and_never_repeat() {
        let (_dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        let sid = session.sid();
        assert_eq!(store.next_send_counter(sid).unwrap(), 1);
        assert_eq!(store.next_send_counter(sid).unwrap(), 2);
        store.commit_received_counter(sid, 7).unwrap();
        store.commit_received_counter(sid, 3).unwrap();
        drop(store);

        let mut store = KeyStore::open(&home).unwrap();
        let stored = store.session(sid).unwrap().unwrap();
        assert_eq!(stored.send_counter, 2);
        assert_eq!(stored.receive_counter, 7, "never lowered");
        assert_eq!(stored.session.send_key(), session.send_key());
        assert_eq!(stored.session.receive_key(), session.receive_key());
        assert_eq!(stored.session.role(), Role::Initiator);
        assert!(!stored.session.is_confirmed());
        assert_eq!(store.next_send_counter(sid).unwrap(), 3);

        store.mark_confirmed(sid).unwrap();
        assert!(store.session(sid).unwrap().unwrap().session.is_confirmed());
        assert!(matches!(
            store.save_session(&session),
            Err(KeyStoreError::SessionExists(_))
        ));
        let unknown = SessionId([9; 16]);
        assert!(matches!(
            store.next_send_counter(unknown),
            Err(KeyStoreError::UnknownSession(_))
        ));
        assert!(store.session(unknown).unwrap().is_none());
    }

    #[test]
    fn an_exhausted_counter_is_refused() {
        let (_dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        store
            .conn
            .execute("UPDATE sessions SET send_counter = ?1", [i64::MAX - 1])
            .unwrap();
        assert_eq!(
            store.next_send_counter(session.sid()).unwrap(),
            i64::MAX as u64
        );
        assert!(matches!(
            store.next_send_counter(session.sid()),
            Err(KeyStoreError::CounterExhausted(_))
        ));
    }

    #[test]
    fn the_newest_session_is_current() {
        let (_dir, home) = home();
        let (mut store, alice, bob, first) = with_session(&home);
        let (second, _) = Session::initiate(&alice, ALICE, BOB, &bundle_of(&bob)).unwrap();
        store.save_session(&second).unwrap();
        let current = store.current_session_for(BOB).unwrap().unwrap();
        assert_eq!(current.session.sid(), second.sid());
        assert!(store.session(first.sid()).unwrap().is_some());
        assert!(store.current_session_for(ALICE).unwrap().is_none());
    }

    #[test]
    fn the_replay_window_survives_reopen_and_old_sessions_keep_refusing() {
        let (_dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        let sid = session.sid();
        // Out of order: 5, then 2; 3 and 4 stay open.
        store.mark_handled(1, Some((sid, 5))).unwrap();
        store.commit_received_counter(sid, 2).unwrap();
        drop(store);
        let mut store = KeyStore::open(&home).unwrap();
        let window = store.session(sid).unwrap().unwrap().receive_window;
        assert_eq!(window.highest(), 5);
        assert!(window.check(2).is_err() && window.check(5).is_err());
        assert!(window.check(3).is_ok() && window.check(4).is_ok());
        // A session stored before windows existed (NULL): everything up to
        // its highest counter counts as received, as before.
        store
            .conn
            .execute(
                "UPDATE sessions SET receive_window = NULL, receive_counter = 9",
                [],
            )
            .unwrap();
        let window = store.session(sid).unwrap().unwrap().receive_window;
        assert!((1..=9).all(|c| window.check(c).is_err()));
        assert!(window.check(10).is_ok());
        store.commit_received_counter(sid, 12).unwrap();
        let window = store.session(sid).unwrap().unwrap().receive_window;
        assert!(window.check(11).is_ok() && window.check(9).is_err());
    }

    #[test]
    fn sessions_need_a_pinned_peer() {
        let (_dir, home) = home();
        let (mut store, alice) = with_identity(&home);
        let bob = Identity::generate().unwrap();
        let (session, _) = Session::initiate(&alice, ALICE, BOB, &bundle_of(&bob)).unwrap();
        assert!(matches!(
            store.save_session(&session),
            Err(KeyStoreError::UnknownPeer(_))
        ));
    }
}

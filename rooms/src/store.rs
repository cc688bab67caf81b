//! The rooms state file: openmls's SQLite storage plus our one identity row,
//! and the transaction every engine operation runs in.
//!
//! openmls writes many rows per operation (tree, secrets, key pairs,
//! pending commit) through its synchronous `StorageProvider`. Each operation
//! of the engine runs inside one SQLite transaction, so a crash or an error
//! leaves the state of the previous operation, never half of one. The
//! in-memory `MlsGroup` of a room is kept between operations only as it was
//! when one committed (`crate::cache`): a rolled-back transaction cannot
//! leave a stale copy behind. Callers run this off their async workers.
//!
//! The codec is JSON, as in openmls's own SQLite tests: the rows are
//! openmls's serde types, and their format is openmls's concern.
//!
//! What is left out: encryption at rest (the client's keystore decides that
//! for the whole home folder), and sharing one file between processes.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use openmls_rust_crypto::RustCrypto;
use openmls_sqlite_storage::{Codec, SqliteStorageProvider};
use openmls_traits::OpenMlsProvider;
use rusqlite::{Connection, OptionalExtension, params};

use crate::cache::{GroupCache, OpCache};
use crate::error::RoomsError;
use crate::ids::{CLIENT_ID_LEN, ClientId, RoomId};

/// How long a writer waits for SQLite's lock before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// JSON rows for openmls's storage provider.
#[derive(Default)]
pub(crate) struct JsonCodec;

impl Codec for JsonCodec {
    type Error = serde_json::Error;

    fn to_vec<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Self::Error> {
        serde_json::to_vec(value)
    }

    fn from_slice<T: serde::de::DeserializeOwned>(slice: &[u8]) -> Result<T, Self::Error> {
        serde_json::from_slice(slice)
    }
}

/// openmls's storage over one borrowed connection.
pub(crate) type Storage<'a> = SqliteStorageProvider<JsonCodec, &'a Connection>;

/// The provider openmls is handed inside one transaction, with the rooms
/// kept in memory (`crate::cache`) as this operation sees them.
pub(crate) struct Provider<'a> {
    crypto: &'a RustCrypto,
    storage: Storage<'a>,
    pub(crate) cache: OpCache<'a>,
}

impl<'a> Provider<'a> {
    /// A provider over a connection the caller holds in a transaction,
    /// keeping no rooms in memory.
    pub(crate) fn over(conn: &'a Connection, crypto: &'a RustCrypto) -> Self {
        Self {
            crypto,
            storage: SqliteStorageProvider::new(conn),
            cache: OpCache::new(None),
        }
    }
}

impl<'a> OpenMlsProvider for Provider<'a> {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = Storage<'a>;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }

    fn crypto(&self) -> &Self::CryptoProvider {
        self.crypto
    }

    fn rand(&self) -> &Self::RandProvider {
        self.crypto
    }
}

/// Our own identity row: who this state belongs to and the MLS signature
/// key (its private half is in openmls's signature key table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdentityRow {
    pub client_id: ClientId,
    pub identity_key: [u8; 32],
    pub signature_key: Vec<u8>,
    pub credential: Vec<u8>,
}

/// An open rooms state file.
pub struct Store {
    conn: Connection,
    crypto: RustCrypto,
    groups: GroupCache,
}

impl Store {
    /// Opens (creating if needed) the state file at `path` and brings its
    /// schema up to date.
    ///
    /// # Errors
    /// [`RoomsError::Database`] or [`RoomsError::Migration`].
    pub fn open(path: &Path) -> Result<Self, RoomsError> {
        Self::open_keyed(path, None)
    }

    /// Opens the state file as [`Self::open`], encrypted by SQLCipher with
    /// the raw 32-byte `key` when one is given (the client's store key).
    ///
    /// # Errors
    /// [`RoomsError::WrongKey`] if the file does not open with `key`;
    /// otherwise as [`Self::open`].
    pub fn open_keyed(path: &Path, key: Option<&[u8; 32]>) -> Result<Self, RoomsError> {
        make_private(path)?;
        let mut conn = Connection::open(path)?;
        if let Some(key) = key {
            // The key goes before any other statement: SQLCipher reads
            // nothing until then. A raw key (x'..'): no KDF of its own.
            let pragma =
                zeroize::Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", hex::encode(key)));
            conn.execute_batch(&pragma)?;
            // SQLCipher logs to standard error (set when the key activates
            // it): the client's errors are its own single lines.
            {
                let mut stmt = conn.prepare("PRAGMA cipher_log_level = NONE")?;
                let mut rows = stmt.query([])?;
                while rows.next()?.is_some() {}
            }
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|_| RoomsError::WrongKey)?;
        }
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let setting_up = lock_exclusively(path)?;
        // WAL with full sync: a commit merged here must survive a power cut,
        // or the member would come back on an epoch the room has left.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrate(&mut conn)?;
        drop(setting_up);
        Ok(Self {
            conn,
            crypto: RustCrypto::default(),
            groups: GroupCache::default(),
        })
    }

    /// Runs `f` with a provider inside one transaction; commits if `f`
    /// succeeds, rolls back otherwise.
    pub(crate) fn transact<T>(
        &self,
        f: impl FnOnce(&Provider<'_>, &Connection) -> Result<T, RoomsError>,
    ) -> Result<T, RoomsError> {
        // The engine owns the connection alone and never nests transactions,
        // which is what an unchecked transaction asks of its caller. It
        // starts as a writer: a read that later upgrades to a write fails at
        // once (no busy wait) when another process on this home wrote.
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        self.groups.check(&self.conn)?;
        let provider = Provider {
            crypto: &self.crypto,
            storage: SqliteStorageProvider::new(&self.conn),
            cache: OpCache::new(Some(&self.groups)),
        };
        // On an error the rooms this operation used are dropped with
        // `provider`: the next operation loads them from the file.
        let out = f(&provider, &self.conn)?;
        tx.commit()?;
        self.groups.settle(provider.cache.into_touched());
        Ok(out)
    }

    /// [`Self::transact`] whose commit is not synced to the disk (WAL with
    /// `synchronous = NORMAL`): the file stays whole after a crash, which
    /// may lose this commit. The next synced commit makes it durable with
    /// its own, since the log is written in order.
    pub(crate) fn transact_unsynced<T>(
        &self,
        f: impl FnOnce(&Provider<'_>, &Connection) -> Result<T, RoomsError>,
    ) -> Result<T, RoomsError> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let out = self.transact(f);
        // Every other commit stays synced, even when this one failed.
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        out
    }

    /// The crypto provider (for work that touches no storage).
    pub(crate) fn crypto(&self) -> &RustCrypto {
        &self.crypto
    }
}

/// Creates the state file owner-only (0600) if it is missing and narrows
/// it and its log and shared-memory files if they are wider, before SQLite
/// opens it: SQLite gives the files it creates beside it the main file's
/// mode, and the rooms' secrets are nobody else's to read, even encrypted.
fn make_private(path: &Path) -> Result<(), RoomsError> {
    use std::os::unix::fs::PermissionsExt;
    // Opens `path` (creating it only if asked) and narrows it if wider.
    let narrow = |path: &Path, create: bool| -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(create)
            .create(create)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    };
    let failed = |e: std::io::Error| RoomsError::Migration(format!("securing {path:?}: {e}"));
    narrow(path, true).map_err(failed)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match narrow(Path::new(&side), false) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other.map_err(failed)?,
        }
    }
    Ok(())
}

/// An exclusive lock on `<path>.lock`, held while a connection switches
/// the file to WAL and brings its schema up to date: openmls's migrations
/// read which versions are applied and then apply the others, and a switch
/// to WAL while another connection does the same fails at once (no busy
/// wait), so two processes opening a new home at once would fail. Released
/// when the returned file is dropped.
fn lock_exclusively(path: &Path) -> Result<std::fs::File, RoomsError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| RoomsError::Migration(format!("opening {lock_path:?}: {e}")))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| RoomsError::Migration(format!("locking {lock_path:?}: {e}")))?;
    Ok(lock)
}

/// Creates or updates openmls's tables and ours in `conn` (idempotent).
///
/// # Errors
/// [`RoomsError::Database`] or [`RoomsError::Migration`].
pub fn migrate(conn: &mut Connection) -> Result<(), RoomsError> {
    SqliteStorageProvider::<JsonCodec, &mut Connection>::new(conn)
        .run_migrations()
        .map_err(|e| RoomsError::Migration(e.to_string()))?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS sealpost_rooms_identity (
             only INTEGER PRIMARY KEY CHECK (only = 1),
             client_id BLOB NOT NULL,
             identity_key BLOB NOT NULL,
             signature_key BLOB NOT NULL,
             credential BLOB NOT NULL
         );
         CREATE TABLE IF NOT EXISTS sealpost_rooms_rooms (
             room_id BLOB PRIMARY KEY NOT NULL
         );
         CREATE TABLE IF NOT EXISTS sealpost_rooms_read (
             room_id BLOB PRIMARY KEY NOT NULL,
             seq INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS sealpost_rooms_leaving (
             room_id BLOB PRIMARY KEY NOT NULL,
             epoch INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS sealpost_rooms_lapsed (
             room_id BLOB NOT NULL,
             client_id BLOB NOT NULL,
             PRIMARY KEY (room_id, client_id)
         );",
    )?;
    crate::kept_table::migrate(conn)
}

/// Reads our identity row.
pub(crate) fn read_identity(conn: &Connection) -> Result<Option<IdentityRow>, RoomsError> {
    let row = conn
        .query_row(
            "SELECT client_id, identity_key, signature_key, credential
             FROM sealpost_rooms_identity WHERE only = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            },
        )
        .optional()?;
    let Some((client_id, identity_key, signature_key, credential)) = row else {
        return Ok(None);
    };
    let client_id: [u8; CLIENT_ID_LEN] = client_id
        .try_into()
        .map_err(|_| RoomsError::IdentityMismatch)?;
    let identity_key: [u8; 32] = identity_key
        .try_into()
        .map_err(|_| RoomsError::IdentityMismatch)?;
    Ok(Some(IdentityRow {
        client_id: ClientId(client_id),
        identity_key,
        signature_key,
        credential,
    }))
}

/// Writes our identity row (once per state file).
pub(crate) fn write_identity(conn: &Connection, row: &IdentityRow) -> Result<(), RoomsError> {
    conn.execute(
        "INSERT INTO sealpost_rooms_identity
             (only, client_id, identity_key, signature_key, credential)
         VALUES (1, ?1, ?2, ?3, ?4)",
        params![
            &row.client_id.0[..],
            &row.identity_key[..],
            &row.signature_key,
            &row.credential
        ],
    )?;
    Ok(())
}

/// Records that the state file holds `room` (on create and on join).
pub(crate) fn remember_room(conn: &Connection, room: RoomId) -> Result<(), RoomsError> {
    conn.execute(
        "INSERT OR IGNORE INTO sealpost_rooms_rooms (room_id) VALUES (?1)",
        params![&room.0[..]],
    )?;
    Ok(())
}

/// Forgets that the state file holds `room`, where its log was read and
/// what its entries came to.
pub(crate) fn forget_room(conn: &Connection, room: RoomId) -> Result<(), RoomsError> {
    conn.execute(
        "DELETE FROM sealpost_rooms_kept WHERE room_id = ?1",
        params![&room.0[..]],
    )?;
    conn.execute(
        "DELETE FROM sealpost_rooms_rooms WHERE room_id = ?1",
        params![&room.0[..]],
    )?;
    conn.execute(
        "DELETE FROM sealpost_rooms_read WHERE room_id = ?1",
        params![&room.0[..]],
    )?;
    forget_lapsed_room(conn, room)?;
    forget_leaving(conn, room)
}

/// Records that we asked to leave `room` at `epoch`.
pub(crate) fn note_leaving(conn: &Connection, room: RoomId, epoch: u64) -> Result<(), RoomsError> {
    conn.execute(
        "INSERT OR REPLACE INTO sealpost_rooms_leaving (room_id, epoch) VALUES (?1, ?2)",
        // Stored from a u64 with the same bits.
        params![&room.0[..], epoch as i64],
    )?;
    Ok(())
}

/// The rooms we asked to leave, with the epoch we asked at.
pub(crate) fn leaving(conn: &Connection) -> Result<Vec<(RoomId, u64)>, RoomsError> {
    let mut stmt = conn.prepare("SELECT room_id, epoch FROM sealpost_rooms_leaving")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, epoch) = row?;
        let id: [u8; 16] = id.try_into().map_err(|_| RoomsError::UnknownRoom)?;
        out.push((RoomId(id), epoch as u64));
    }
    Ok(out)
}

/// Forgets our leave request in `room` (we are out, or it is forgotten).
pub(crate) fn forget_leaving(conn: &Connection, room: RoomId) -> Result<(), RoomsError> {
    conn.execute(
        "DELETE FROM sealpost_rooms_leaving WHERE room_id = ?1",
        params![&room.0[..]],
    )?;
    Ok(())
}

/// Remembers that `clients` asked to leave `room` and were left behind.
pub(crate) fn note_lapsed(
    conn: &Connection,
    room: RoomId,
    clients: &[ClientId],
) -> Result<(), RoomsError> {
    for client in clients {
        conn.execute(
            "INSERT OR IGNORE INTO sealpost_rooms_lapsed (room_id, client_id) VALUES (?1, ?2)",
            params![&room.0[..], &client.0[..]],
        )?;
    }
    Ok(())
}

/// The clients whose leave request we saw lapse in `room`.
pub(crate) fn lapsed(conn: &Connection, room: RoomId) -> Result<Vec<ClientId>, RoomsError> {
    let ids = ids_of(
        conn,
        "SELECT client_id FROM sealpost_rooms_lapsed WHERE room_id = ?1 ORDER BY client_id",
        params![&room.0[..]],
        || RoomsError::Malformed,
    )?;
    Ok(ids.into_iter().map(ClientId).collect())
}

/// Forgets `client`'s lapsed request in `room`.
pub(crate) fn forget_lapsed(
    conn: &Connection,
    room: RoomId,
    client: &ClientId,
) -> Result<(), RoomsError> {
    conn.execute(
        "DELETE FROM sealpost_rooms_lapsed WHERE room_id = ?1 AND client_id = ?2",
        params![&room.0[..], &client.0[..]],
    )?;
    Ok(())
}

/// Forgets every lapsed request of `room` (the room is forgotten).
pub(crate) fn forget_lapsed_room(conn: &Connection, room: RoomId) -> Result<(), RoomsError> {
    conn.execute(
        "DELETE FROM sealpost_rooms_lapsed WHERE room_id = ?1",
        params![&room.0[..]],
    )?;
    Ok(())
}

/// The rooms where someone's leave request lapsed.
pub(crate) fn lapsed_rooms(conn: &Connection) -> Result<Vec<RoomId>, RoomsError> {
    let ids = ids_of(
        conn,
        "SELECT DISTINCT room_id FROM sealpost_rooms_lapsed ORDER BY room_id",
        [],
        || RoomsError::Malformed,
    )?;
    Ok(ids.into_iter().map(RoomId).collect())
}

/// The rooms the state file holds, by id.
pub(crate) fn read_rooms(conn: &Connection) -> Result<Vec<RoomId>, RoomsError> {
    let ids = ids_of(
        conn,
        "SELECT room_id FROM sealpost_rooms_rooms ORDER BY room_id",
        [],
        || RoomsError::UnknownRoom,
    )?;
    Ok(ids.into_iter().map(RoomId).collect())
}

/// The 16-byte ids `sql` selects in its first column; a value of another
/// length is `bad`.
fn ids_of(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    bad: fn() -> RoomsError,
) -> Result<Vec<[u8; 16]>, RoomsError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params, |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.try_into().map_err(|_| bad())?);
    }
    Ok(out)
}

/// The last log entry of `room` read here (0: none). Kept in the same
/// transaction as the processing of that entry, so an entry whose
/// acknowledgement was lost is recognised when it comes again, instead of
/// failing to decrypt (its keys are spent).
pub(crate) fn read_up_to(conn: &Connection, room: RoomId) -> Result<u64, RoomsError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sealpost_rooms_read WHERE room_id = ?1",
            params![&room.0[..]],
            |r| r.get(0),
        )
        .optional()?;
    // Stored from a u64 with the same bits.
    Ok(seq.map_or(0, |s| s as u64))
}

/// Records that `room`'s log was read up to `seq` (never moves back).
pub(crate) fn set_read_up_to(conn: &Connection, room: RoomId, seq: u64) -> Result<(), RoomsError> {
    conn.execute(
        "INSERT INTO sealpost_rooms_read (room_id, seq) VALUES (?1, ?2)
         ON CONFLICT (room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
        params![&room.0[..], seq as i64],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_and_its_companions_are_owner_only_new_or_old() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rooms.db");
        let files = [
            path.clone(),
            dir.path().join("rooms.db-wal"),
            dir.path().join("rooms.db-shm"),
        ];
        // New: the log and shared memory exist while the store is open.
        let store = Store::open(&path).unwrap();
        for p in &files {
            assert_eq!(mode(p), 0o600, "{p:?}");
        }
        drop(store);
        // Left wide by an older client: narrowed on the next open.
        for p in files.iter().filter(|p| p.exists()) {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        for p in &files {
            assert_eq!(mode(p), 0o600, "{p:?}");
        }
        drop(store);
    }

    #[test]
    fn processes_opening_a_new_state_file_at_once_all_succeed() {
        // Threads stand in for processes: each has its own connection, and
        // the flock is per open file, so they exclude each other alike.
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("rooms.db");
            let start = std::sync::Arc::new(std::sync::Barrier::new(6));
            let openers: Vec<_> = (0..6)
                .map(|_| {
                    let path = path.clone();
                    let start = start.clone();
                    std::thread::spawn(move || {
                        start.wait();
                        Store::open(&path).map(|_| ())
                    })
                })
                .collect();
            for opener in openers {
                let opened = opener.join().unwrap();
                assert!(opened.is_ok(), "round {round}: {opened:?}");
            }
        }
    }
}

//! `client export FILE` and `client import FILE`: an encrypted backup of a
//! home folder (identity, server pins, peers with their pins and
//! verification, contacts, history with its rooms' names, settings, the
//! rooms we were removed from, and the rooms we are in -- their id, name,
//! rule and admins, not their keys), restored into a fresh home.
//!
//! Sessions are left out on purpose: a restored home starts new sessions
//! (its peers see a new key agreement), which is what keeps a backup from
//! replaying old counters. So are the rooms' MLS states: an old epoch's
//! keys could not follow the room anyway, so a restored home gets back in
//! by joining again or being added again (`keystore::restored`).
//!
//! **Format.** `SEALPOST-BACKUP-1\n`, a 16-byte Argon2id salt, a 19-byte
//! nonce prefix, then the STREAM construction (`aead::stream`, big-endian
//! 32-bit counter and last-chunk flag) of XChaCha20-Poly1305 over 64 KiB
//! chunks, each written as a 4-byte big-endian length and the ciphertext;
//! the header is every chunk's associated data (`crate::backup_stream`). A
//! cut file lacks its last chunk and is refused, as cut. The plaintext is
//! JSON lines: first `{"schema":N}`, then one
//! `{"table":..,"row":{column: value}}` per row (blobs as hex), read and
//! written one row at a time: a large history is never whole in memory.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use rusqlite::types::{Value, ValueRef};
use sealpost_rooms::LeafKey;
use serde_json::{Map, json};

use crate::backup_fault::BackupFault;
use crate::backup_stream::{Opener, Sealer};
use crate::client::ClientConfig;
use crate::keystore::atrest;
use crate::keystore::{KeyStore, KeyStoreError, Protection, RestoredRoom, SCHEMA_VERSION};
use crate::{Client, ClientError};

/// Said after every export: a home imported from the backup and the home
/// exported are one identity with separate sessions, and each would keep
/// breaking the other's (their peers heal, again and again).
pub const AFTER_EXPORT: &str = "once this backup is imported into another home, stop using this one \
     (delete it or keep it unused): two homes of one identity fight over its sessions";

/// What goes into a backup, in the order it is restored (peers before what
/// names them).
const TABLES: &[&str] = &[
    "identity",
    "server_pins",
    "peers",
    "contacts",
    "settings",
    "history",
    "room_names",
    "room_departures",
    "restored_rooms",
    "restored_leaf_key",
];

/// What an export or import moved.
#[derive(Debug, serde::Serialize)]
pub struct BackupSummary {
    /// Export or import.
    pub action: &'static str,
    /// Peers (contacts and their pins).
    pub peers: u64,
    /// History entries.
    pub history: u64,
    /// Rooms named without their keys.
    pub rooms: u64,
}

impl std::fmt::Display for BackupSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (peers, history, rooms) = (self.peers, self.history, self.rooms);
        let rooms = match rooms {
            0 => String::new(),
            1 => ": 1 room must be joined again or added to again (`room list` names it)".into(),
            n => format!(
                ": {n} rooms must be joined again or added to again (`room list` names them)"
            ),
        };
        write!(
            f,
            "{}: identity, {peers} {}, {history} history {}; rooms' keys are not in a backup{rooms}",
            self.action,
            if peers == 1 {
                "contact with its pin"
            } else {
                "contacts with their pins"
            },
            if history == 1 { "entry" } else { "entries" },
        )
    }
}

fn corrupt(what: &'static str) -> KeyStoreError {
    KeyStoreError::Corrupt(what)
}

/// A backup that opened but holds what no client writes: `what` says how.
fn unreadable(what: &'static str) -> KeyStoreError {
    BackupFault::Unreadable(what).into()
}

fn passphrase(client: &Client) -> Result<zeroize::Zeroizing<String>, ClientError> {
    match &client.config().protection {
        Protection::Passphrase(p) => Ok(p.clone()),
        Protection::NoPassphrase => Err(KeyStoreError::NoPassphraseHome.into()),
    }
}

impl Client {
    /// Writes the backup of this home into `path` (which must not exist),
    /// locked with the home's passphrase.
    ///
    /// # Errors
    /// [`KeyStoreError::NoPassphraseHome`] for a plain home (a backup is
    /// never written in the clear); file and database errors.
    pub async fn export(&self, path: &Path) -> Result<BackupSummary, ClientError> {
        let pass = passphrase(self)?;
        self.export_locked(path, pass).await
    }

    /// Writes the backup of this home into `path` (which must not exist),
    /// locked with `pass`: how a home without a passphrase is exported (and
    /// so encrypted, once imported into a new home).
    ///
    /// # Errors
    /// File and database errors.
    pub async fn export_locked(
        &self,
        path: &Path,
        pass: zeroize::Zeroizing<String>,
    ) -> Result<BackupSummary, ClientError> {
        // A home with no identity would export a backup nothing can restore.
        self.require_me()?;
        if path.exists() {
            return Err(ClientError::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists already; export writes a new file and overwrites none",
                    path.display()
                ),
            )));
        }
        let path = path.to_path_buf();
        let (rooms, leaf) = self.rooms_for_backup().await?;
        self.store(move |store| {
            let file = crate::disk::create_private_new(&path)?;
            let mut out = Sealer::new(BufWriter::new(file), &pass)?;
            let summary = write_rows(store, &rooms, &leaf, &mut out)?;
            out.finish()?;
            Ok(summary)
        })
        .await
    }

    /// Restores the backup at `path` into this home, which must hold no
    /// identity yet; the home's passphrase must be the backup's.
    ///
    /// # Errors
    /// [`KeyStoreError::IdentityExists`] for a home in use;
    /// [`KeyStoreError::WrongBackupPassphrase`] if the backup does not open;
    /// [`ClientError::BadBackup`] for a file that is no backup, or a cut or
    /// damaged one.
    pub async fn import(&self, path: &Path) -> Result<BackupSummary, ClientError> {
        // What is wrong with the file is said of the file, not of the home.
        self.import_from(path).await.map_err(|e| match e {
            ClientError::Store(KeyStoreError::Backup(fault)) => ClientError::BadBackup {
                path: crate::display::escape_path(path),
                fault,
            },
            other => other,
        })
    }

    async fn import_from(&self, path: &Path) -> Result<BackupSummary, ClientError> {
        let pass = passphrase(self)?;
        let file = File::open(path).map_err(|source| ClientError::File {
            path: path.display().to_string(),
            source,
        })?;
        let summary = self
            .store(move |store| {
                if store.identity()?.is_some() {
                    return Err(KeyStoreError::IdentityExists);
                }
                let reader = Opener::new(BufReader::new(file), &pass)?;
                read_rows(store, BufReader::new(reader))
            })
            .await?;
        let me = self
            .store(|s| s.identity())
            .await?
            .ok_or(unreadable("it holds no identity"))?;
        *self.inner.me.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(std::sync::Arc::new(crate::client::Me {
                name: me.name,
                id: me.client_id,
                identity: me.identity,
            }));
        Ok(summary)
    }
}

/// A home not set up yet, as an import found it: whether its folder
/// existed and what was in it.
struct FreshHome {
    home: PathBuf,
    entries: Option<HashSet<OsString>>,
}

impl FreshHome {
    /// `None` for a home that has a key store already: opening it with a
    /// wrong passphrase fails before anything is written.
    fn look(home: &Path) -> Result<Option<Self>, KeyStoreError> {
        if atrest::read_record(home)?.is_some() {
            return Ok(None);
        }
        let entries = match std::fs::read_dir(home) {
            Ok(dir) => Some(
                dir.map(|e| e.map(|e| e.file_name()))
                    .collect::<std::io::Result<_>>()?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        Ok(Some(Self {
            home: home.to_path_buf(),
            entries,
        }))
    }

    /// Removes what was added since [`Self::look`] (the folder itself if it
    /// was not there).
    fn restore(&self) -> std::io::Result<()> {
        let Some(before) = &self.entries else {
            return std::fs::remove_dir_all(&self.home);
        };
        for entry in std::fs::read_dir(&self.home)? {
            let entry = entry?;
            if before.contains(&entry.file_name()) {
                continue;
            }
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            } else {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

/// Opens the home of `config` and restores the backup at `path` into it,
/// as [`Client::import`]; see [`open_and_set_up`].
///
/// # Errors
/// As [`Client::open`] and [`Client::import`].
pub async fn open_and_import(
    config: ClientConfig,
    path: &Path,
) -> Result<(Client, BackupSummary), ClientError> {
    open_and_set_up(config, async |client: &Client| client.import(path).await).await
}

/// Opens the home of `config` and runs `set_up` on it (an import, a
/// registration). If the home had no key store and `set_up` fails, what
/// opening it added is taken away again: a home left set up under the
/// passphrase of a failed try would refuse the next try under another.
///
/// # Errors
/// As [`Client::open`] and `set_up`.
pub async fn open_and_set_up<T>(
    config: ClientConfig,
    set_up: impl AsyncFnOnce(&Client) -> Result<T, ClientError>,
) -> Result<(Client, T), ClientError> {
    let home = config.home.clone();
    let fresh = tokio::task::spawn_blocking(move || FreshHome::look(&home))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    let error = match Client::open(config).await {
        Ok(client) => match set_up(&client).await {
            Ok(done) => return Ok((client, done)),
            Err(e) => e,
        },
        Err(e) => e,
    };
    // The client, and with it the store's connection, is closed by now.
    if let Some(fresh) = fresh {
        let home = fresh.home.clone();
        let restored = tokio::task::spawn_blocking(move || fresh.restore()).await;
        if !matches!(restored, Ok(Ok(()))) {
            // The import's error is what the user must read first.
            tracing::warn!(home = %home.display(), "could not take back what the failed set-up added");
        }
    }
    Err(error)
}

fn write_rows(
    store: &KeyStore,
    rooms: &[RestoredRoom],
    leaf: &LeafKey,
    out: &mut impl Write,
) -> Result<BackupSummary, KeyStoreError> {
    let mut summary = BackupSummary {
        action: "exported",
        peers: 0,
        history: 0,
        rooms: 0,
    };
    writeln!(out, "{}", json!({ "schema": SCHEMA_VERSION }))?;
    for table in TABLES {
        let mut stmt = store.conn.prepare(&format!("SELECT * FROM {table}"))?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let mut fields = Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match row.get_ref(i)? {
                    ValueRef::Null => serde_json::Value::Null,
                    ValueRef::Integer(n) => json!(n),
                    ValueRef::Real(x) => json!(x),
                    ValueRef::Text(t) => json!({ "t": String::from_utf8_lossy(t) }),
                    ValueRef::Blob(b) => json!({ "b": hex::encode(b) }),
                };
                fields.insert(name.clone(), v);
            }
            serde_json::to_writer(&mut *out, &json!({ "table": table, "row": fields }))
                .map_err(|_| corrupt("a row could not be written"))?;
            out.write_all(b"\n")?;
            count(&mut summary, table);
        }
    }
    // The rooms we are in and the rooms state's leaf key, as rows of the
    // tables a restored home keeps them in (`rooms::restored`).
    for row in crate::rooms::restored::backup_rows(rooms, leaf) {
        serde_json::to_writer(&mut *out, &row)
            .map_err(|_| corrupt("a row could not be written"))?;
        out.write_all(b"\n")?;
    }
    summary.rooms += rooms.len() as u64;
    Ok(summary)
}

fn count(summary: &mut BackupSummary, table: &str) {
    match table {
        "peers" => summary.peers += 1,
        "history" => summary.history += 1,
        "restored_rooms" => summary.rooms += 1,
        _ => {}
    }
}

fn read_rows(store: &mut KeyStore, input: impl BufRead) -> Result<BackupSummary, KeyStoreError> {
    let mut summary = BackupSummary {
        action: "imported",
        peers: 0,
        history: 0,
        rooms: 0,
    };
    let tx = store
        .conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Reading fails on the file (cut, damaged), never on the home.
    let mut lines = input.lines().map(|l| l.map_err(BackupFault::of));
    let first: serde_json::Value =
        serde_json::from_str(&lines.next().ok_or(unreadable("it is empty"))??)
            .map_err(|_| unreadable("its first line is not JSON"))?;
    match first["schema"].as_u64() {
        Some(n) if n <= u64::from(SCHEMA_VERSION) => {}
        Some(_) => return Err(BackupFault::TooNew.into()),
        None => return Err(unreadable("it has no schema line")),
    }
    for line in lines {
        let line: serde_json::Value =
            serde_json::from_str(&line?).map_err(|_| unreadable("a line is not JSON"))?;
        let table = line["table"]
            .as_str()
            .ok_or(unreadable("a row names no table"))?;
        // Only the tables a backup holds: a name is never taken from the file.
        let table = *TABLES
            .iter()
            .find(|t| **t == table)
            .ok_or(unreadable("a row names an unknown table"))?;
        let row = line["row"]
            .as_object()
            .ok_or(unreadable("a row is not an object"))?;
        let mut names = Vec::with_capacity(row.len());
        let mut values = Vec::with_capacity(row.len());
        for (name, v) in row {
            if !name.bytes().all(|c| c.is_ascii_lowercase() || c == b'_') {
                return Err(unreadable("a column name is not a column"));
            }
            names.push(name.as_str());
            values.push(sql_value(v)?);
        }
        let marks = vec!["?"; names.len()].join(", ");
        // Settings made when the home was opened give way to the backup's.
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO {table} ({}) VALUES ({marks})",
                names.join(", ")
            ),
            rusqlite::params_from_iter(values),
        )?;
        count(&mut summary, table);
    }
    tx.commit()?;
    // The key packages the server holds for us were made by the backed-up
    // home, whose keys are not in a backup: a welcome to one would be lost.
    store.set_key_packages_stale(true)?;
    Ok(summary)
}

fn sql_value(v: &serde_json::Value) -> Result<Value, KeyStoreError> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().ok_or(unreadable("a number"))?),
        },
        serde_json::Value::Object(o) => match (o.get("t"), o.get("b")) {
            (Some(serde_json::Value::String(t)), None) => Value::Text(t.clone()),
            (None, Some(serde_json::Value::String(b))) => {
                Value::Blob(hex::decode(b).map_err(|_| unreadable("a blob is not hex"))?)
            }
            _ => return Err(unreadable("a value")),
        },
        _ => return Err(unreadable("a value")),
    })
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;

//! `server backup` and `server restore`: one tar archive holding the
//! identity key, a consistent copy of the database and the file bodies its
//! messages refer to, taken while the server keeps serving.
//!
//! Order matters. The server first holds blob deletions
//! ([`crate::blobs::Blobs::hold`]), then copies the database with SQLite's
//! online backup API in a single step (one read transaction: a consistent
//! snapshot that concurrent commits neither block nor restart), then copies
//! exactly the blobs that snapshot refers to. A blob is renamed into place
//! before the row naming it commits, so each one exists when the snapshot
//! is taken, and the hold keeps it until it is copied even if its message is
//! acknowledged meanwhile. Blobs still being written belong to rows the
//! snapshot does not have, and are left out. Unfinished uploads are dropped
//! from the copy (their part files are not in the archive): clients begin
//! them again.
//!
//! The archive streams from the files to the socket and from the socket to
//! the file; nothing is held in memory. Its last entry is a manifest, so a
//! cut-off archive is recognised as one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::UnixStream;

use crate::datadir::{create_private_dir, private_file_options};
use crate::shared::Shared;

/// Name of the manifest entry, the archive's last.
pub const BACKUP_MANIFEST: &str = "sealpost-backup.json";
const DB_ENTRY: &str = "server.db";
const KEY_ENTRY: &str = "server.key";
const FILES_PREFIX: &str = "files/";

/// What an archive holds; its last entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of the archive (1).
    pub format: u32,
    /// The server version that wrote it.
    pub version: String,
    /// When the snapshot was taken (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// The identity's fingerprint.
    pub fingerprint: String,
    /// Accounts in the snapshot.
    pub accounts: u64,
    /// Messages waiting in the snapshot.
    pub messages: u64,
    /// File bodies in the archive.
    pub files: u64,
    /// Their bytes.
    pub file_bytes: u64,
    /// The SHA-256 of every other entry (hex), by name, so that a restore
    /// and the operator's copy tell a damaged archive from a whole one
    /// (absent from archives of servers before it: not checked then).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sha256: BTreeMap<String, String>,
}

/// A reader that hashes what passes through it.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The SHA-256 of what was read, hex.
    pub(crate) fn hex(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl Manifest {
    /// Compares the entries read (`read`, name to SHA-256) with the sums
    /// this manifest lists; an archive without sums is not checked.
    ///
    /// # Errors
    /// One line naming the entry that differs or is missing.
    pub fn verify(&self, read: &BTreeMap<String, String>) -> Result<(), String> {
        if self.sha256.is_empty() {
            return Ok(());
        }
        for (name, sum) in read {
            if self.sha256.get(name) != Some(sum) {
                return Err(format!(
                    "the archive is damaged: {name:?} does not match its checksum in {BACKUP_MANIFEST}"
                ));
            }
        }
        if let Some(name) = self.sha256.keys().find(|n| !read.contains_key(*n)) {
            return Err(format!("the archive is incomplete: {name:?} is missing"));
        }
        Ok(())
    }
}

/// Answers a backup request: the answer line, then the archive.
pub(super) async fn serve(mut stream: UnixStream, shared: Arc<Shared>) {
    if shared.store.is_shared() {
        let text = if shared.config.bodies_in_database() {
            "server backup copies a SQLite-backed server only; back up a PostgreSQL-backed \
             cluster with pg_dump --format=custom (it holds the file bodies too: they are in \
             the database) and a copy of server.key"
        } else {
            "server backup copies a SQLite-backed server only; back up a PostgreSQL-backed \
             cluster with pg_dump --format=custom, then a copy of its --files-dir folder taken \
             after the dump, and a copy of server.key"
        };
        let mut line =
            serde_json::to_vec(&super::Answer::<()>::Error(text.into())).unwrap_or_default();
        line.push(b'\n');
        let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, &line).await;
        return;
    }
    let result = async {
        let stream = stream.into_std().map_err(|e| e.to_string())?;
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(move || write_backup(&shared, stream))
            .await
            .map_err(|e| format!("backup task failed: {e}"))?
    }
    .await;
    match result {
        Ok(manifest) => tracing::info!(
            messages = manifest.messages,
            files = manifest.files,
            "backup sent"
        ),
        Err(e) => tracing::warn!(error = %e, "backup failed"),
    }
}

/// Takes the snapshot and streams the archive (blocking).
fn write_backup(
    shared: &Shared,
    stream: std::os::unix::net::UnixStream,
) -> Result<Manifest, String> {
    let hold = shared.blobs.hold();
    let snapshot = shared
        .config
        .data_dir
        .join(format!("backup-{}.db", uuid::Uuid::new_v4()));
    let taken = take_snapshot(&shared.config.db_path(), &snapshot);
    let result = match taken {
        Err(e) => {
            let text = format!("could not copy the database: {e}");
            answer_blocking(&stream, Err(text.clone()));
            Err(text)
        }
        Ok((blobs, mut manifest)) => {
            manifest.fingerprint = shared.identity.fingerprint();
            answer_blocking(&stream, Ok(()));
            stream_archive(shared, &snapshot, &blobs, manifest, stream)
                .map_err(|e| format!("sending the archive: {e}"))
        }
    };
    let _ = fs::remove_file(&snapshot);
    drop(hold);
    result
}

fn answer_blocking(mut stream: &std::os::unix::net::UnixStream, result: Result<(), String>) {
    let answer = match result {
        Ok(()) => super::Answer::Ok(()),
        Err(e) => super::Answer::Error(e),
    };
    let mut line = serde_json::to_vec(&answer).unwrap_or_default();
    line.push(b'\n');
    let _ = stream.write_all(&line);
}

/// Copies the database to `to` in one step and prepares the copy: no
/// unfinished uploads, no write-ahead log. Returns the blobs it refers to.
fn take_snapshot(db: &Path, to: &Path) -> Result<(Vec<String>, Manifest), String> {
    let sql = |e: rusqlite::Error| e.to_string();
    let created_at_ms = crate::store::now_ms();
    crate::datadir::create_private_file(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let source = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql)?;
    let mut copy = Connection::open(to).map_err(sql)?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut copy).map_err(sql)?;
        // Every page in one step, inside one read transaction: a snapshot
        // that commits meanwhile can neither block nor restart.
        backup
            .run_to_completion(std::ffi::c_int::MAX, std::time::Duration::ZERO, None)
            .map_err(sql)?;
    }
    drop(source);
    // Unfinished uploads, and finished room files no message names yet:
    // their uploaders send them again.
    copy.execute_batch("DELETE FROM uploads; DELETE FROM room_files WHERE seq IS NULL;")
        .map_err(sql)?;
    copy.pragma_update(None, "journal_mode", "DELETE")
        .map_err(sql)?;
    let blobs = copy
        .prepare(
            "SELECT blob FROM messages WHERE blob IS NOT NULL
             UNION ALL SELECT blob FROM room_files",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql)?;
    let (accounts, messages): (i64, i64) = copy
        .query_row(
            "SELECT (SELECT COUNT(*) FROM clients), (SELECT COUNT(*) FROM messages)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql)?;
    Ok((
        blobs,
        Manifest {
            format: 1,
            version: env!("CARGO_PKG_VERSION").into(),
            created_at_ms,
            fingerprint: String::new(),
            accounts: accounts as u64,
            messages: messages as u64,
            files: 0,
            file_bytes: 0,
            sha256: BTreeMap::new(),
        },
    ))
}

fn stream_archive(
    shared: &Shared,
    snapshot: &Path,
    blobs: &[String],
    mut manifest: Manifest,
    stream: std::os::unix::net::UnixStream,
) -> io::Result<Manifest> {
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, stream));
    let sums = &mut manifest.sha256;
    append_hashed(&mut tar, &shared.config.key_path(), KEY_ENTRY, sums)?;
    append_hashed(&mut tar, snapshot, DB_ENTRY, sums)?;
    for name in blobs {
        // Backups are of SQLite nodes, whose bodies are always files.
        let path = shared
            .blobs
            .blob_path(name)
            .ok_or_else(|| io::Error::other("file bodies are in the database"))?;
        let entry = format!("{FILES_PREFIX}{name}");
        manifest.file_bytes += append_hashed(&mut tar, &path, &entry, &mut manifest.sha256)?;
        manifest.files += 1;
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(manifest.created_at_ms / 1000);
    tar.append_data(&mut header, BACKUP_MANIFEST, json.as_slice())?;
    tar.into_inner()?.flush()?;
    Ok(manifest)
}

/// Appends the file at `path` as `name`, noting its SHA-256 in `sums`;
/// returns its size.
fn append_hashed<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    name: &str,
    sums: &mut BTreeMap<String, String>,
) -> io::Result<u64> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata(&meta);
    let mut hashing = Hashing::new(file);
    tar.append_data(&mut header, name, &mut hashing)?;
    sums.insert(name.to_string(), hashing.hex());
    Ok(meta.len())
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The data folder (or the files folder) has something in it.
    #[error("{0} is not empty: restore only into an empty (or new) data folder and files folder")]
    NotEmpty(PathBuf),
    /// The archive is not a Sealpost backup, or is cut off.
    #[error("{0}")]
    BadArchive(String),
    /// Reading or writing failed (transparent: the I/O error is said once,
    /// not again as its own cause).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Unpacks `archive` into the empty (or missing) `data_dir`, its file
/// bodies into `files_dir` (`--files-dir`, by default `data_dir/files`),
/// empty or missing too; on failure removes what it wrote.
///
/// # Errors
/// A folder is not empty, the archive is not a whole Sealpost backup, or
/// the file system failed.
pub fn restore(
    archive: impl Read,
    data_dir: &Path,
    files_dir: &Path,
) -> Result<Manifest, RestoreError> {
    let existed = empty_or_missing(data_dir)?;
    // A files folder of its own must be as empty: a body left there from
    // another server would be swept as unreferenced at the first start.
    let files_existed = empty_or_missing(files_dir)?;
    create_private_dir(data_dir)?;
    create_private_dir(files_dir)?;
    let result = unpack(archive, data_dir, files_dir);
    if result.is_err() {
        // What the restore made goes; a folder that was there stays, empty.
        for (dir, existed) in [(files_dir, files_existed), (data_dir, existed)] {
            if !existed {
                let _ = fs::remove_dir_all(dir);
                continue;
            }
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let _ = if path.is_dir() {
                    fs::remove_dir_all(path)
                } else {
                    fs::remove_file(path)
                };
            }
        }
    }
    result
}

/// Whether `dir` exists (and is empty).
///
/// # Errors
/// [`RestoreError::NotEmpty`] if it holds something.
fn empty_or_missing(dir: &Path) -> Result<bool, RestoreError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            Some(_) => Err(RestoreError::NotEmpty(dir.into())),
            None => Ok(true),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A tar parsing error as one readable line: the tar crate quotes the
/// bytes it could not parse, which for a file that is no archive at all
/// are binary noise (and it repeats itself as its own source).
fn not_a_backup(e: &io::Error) -> RestoreError {
    let reason: String = e
        .to_string()
        .split(':')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    RestoreError::BadArchive(format!(
        "not a Sealpost backup: the tar archive is damaged, cut off or not one ({reason})"
    ))
}

fn unpack(archive: impl Read, data_dir: &Path, files_dir: &Path) -> Result<Manifest, RestoreError> {
    let bad = |text: String| RestoreError::BadArchive(text);
    let mut tar = tar::Archive::new(archive);
    let (mut db, mut key, mut files) = (false, false, 0u64);
    let mut manifest = None;
    let mut sums = BTreeMap::new();
    for entry in tar.entries().map_err(|e| not_a_backup(&e))? {
        let mut entry = entry.map_err(|e| not_a_backup(&e))?;
        if manifest.is_some() {
            return Err(bad(format!("an entry follows {BACKUP_MANIFEST}")));
        }
        let name = entry
            .path()
            .map_err(|e| not_a_backup(&e))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(format!("{name:?} in the archive is not a plain file")));
        }
        let target = match name.as_str() {
            DB_ENTRY => {
                db = true;
                data_dir.join(DB_ENTRY)
            }
            KEY_ENTRY => {
                key = true;
                data_dir.join(KEY_ENTRY)
            }
            BACKUP_MANIFEST => {
                let mut text = String::new();
                entry.by_ref().take(1 << 16).read_to_string(&mut text)?;
                manifest = Some(
                    serde_json::from_str::<Manifest>(&text)
                        .map_err(|e| bad(format!("unreadable {BACKUP_MANIFEST}: {e}")))?,
                );
                continue;
            }
            other => match other.strip_prefix(FILES_PREFIX) {
                Some(blob) if is_blob_name(blob) => {
                    files += 1;
                    files_dir.join(blob)
                }
                _ => return Err(bad(format!("unexpected entry {name:?} in the archive"))),
            },
        };
        let mut out = private_file_options()
            .write(true)
            .create_new(true)
            .open(&target)?;
        let mut hashing = Hashing::new(&mut entry);
        io::copy(&mut hashing, &mut out)?;
        out.sync_all()?;
        sums.insert(name, hashing.hex());
    }
    let manifest = manifest.ok_or_else(|| {
        bad(format!(
            "the archive has no {BACKUP_MANIFEST}: it is not a Sealpost backup, or it was cut off"
        ))
    })?;
    if !db || !key || files != manifest.files {
        return Err(bad(format!(
            "the archive is incomplete: database {db}, key {key}, {files} of {} files",
            manifest.files
        )));
    }
    manifest.verify(&sums).map_err(bad)?;
    crate::store::restored::mark(data_dir, manifest.created_at_ms)?;
    File::open(files_dir)?.sync_all()?;
    File::open(data_dir)?.sync_all()?;
    Ok(manifest)
}

/// A blob's file name as the server makes them: `<uuid>.blob`.
fn is_blob_name(name: &str) -> bool {
    name.strip_suffix(".blob").is_some_and(|stem| {
        !stem.is_empty() && stem.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive shaped as `server backup` writes one, with one file body.
    fn archive() -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut sha256 = BTreeMap::new();
        let mut add = |name: &str, body: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o600);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, body).unwrap();
            hex::encode(Sha256::digest(body))
        };
        for (name, body) in [
            (KEY_ENTRY, &[7; 32][..]),
            (DB_ENTRY, &[1; 4096]),
            ("files/0a1b-2c.blob", &[2; 10_000]),
        ] {
            sha256.insert(name.to_string(), add(name, body));
        }
        let manifest = Manifest {
            format: 1,
            version: "test".into(),
            created_at_ms: 0,
            fingerprint: "1".into(),
            accounts: 1,
            messages: 1,
            files: 1,
            file_bytes: 10_000,
            sha256,
        };
        add(BACKUP_MANIFEST, &serde_json::to_vec(&manifest).unwrap());
        tar.into_inner().unwrap()
    }

    #[test]
    fn a_changed_byte_in_any_entry_is_refused_and_an_archive_without_sums_is_not_checked() {
        let whole = archive();
        let dir = tempfile::tempdir().unwrap();
        // A byte inside the key's, the database's and the file body's data
        // (each entry's data follows its 512-byte header).
        for (at, name) in [
            (512 + 3, KEY_ENTRY),
            (1536 + 9, DB_ENTRY),
            (6144 + 77, "files/0a1b-2c.blob"),
        ] {
            let mut damaged = whole.clone();
            damaged[at] ^= 0x20;
            let data = dir.path().join(format!("at-{at}"));
            let err = restore(damaged.as_slice(), &data, &data.join("files"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("the archive is damaged") && err.contains(name),
                "byte {at}: {err}"
            );
            assert!(!data.exists(), "byte {at}: the folder is left behind");
        }
        let unchecked = Manifest {
            sha256: BTreeMap::new(),
            ..serde_json::from_str(
                r#"{"format":1,"version":"old","created_at_ms":0,
                "fingerprint":"1","accounts":1,"messages":1,"files":1,"file_bytes":10000}"#,
            )
            .unwrap()
        };
        assert_eq!(
            unchecked.verify(&BTreeMap::from([("x".into(), "y".into())])),
            Ok(())
        );
    }

    #[test]
    fn a_whole_archive_restores_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let files = dir.path().join("bodies");
        let manifest = restore(archive().as_slice(), &data, &files).unwrap();
        assert_eq!((manifest.accounts, manifest.files), (1, 1));
        assert_eq!(fs::read(data.join(KEY_ENTRY)).unwrap(), [7; 32]);
        // The first start moves message ids past the original's.
        assert_eq!(
            fs::read_to_string(data.join(crate::store::restored::MARKER)).unwrap(),
            manifest.created_at_ms.to_string()
        );
        // Regression (D5): bodies went to data/files whatever --files-dir said.
        assert_eq!(fs::read(files.join("0a1b-2c.blob")).unwrap().len(), 10_000);
    }

    #[test]
    fn noise_is_refused_in_one_printable_line_and_a_new_folder_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let noise: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        let err = restore(noise.as_slice(), &data, &data.join("files"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("not a Sealpost backup"), "{err}");
        assert!(
            err.chars().all(|c| c.is_ascii_graphic() || c == ' '),
            "{err:?}"
        );
        assert!(err.len() < 200, "{err}");
        assert!(!data.exists(), "the folder restore made is left behind");
    }

    #[test]
    fn every_cut_of_an_archive_is_refused_and_an_existing_folder_is_left_empty() {
        let dir = tempfile::tempdir().unwrap();
        let whole = archive();
        // Cut inside a header, inside a body, and just before the manifest.
        for cut in [100, 700, 3000, 9000, whole.len() - 1100] {
            let data = dir.path().join(format!("cut-{cut}"));
            fs::create_dir(&data).unwrap();
            let err = restore(&whole[..cut], &data, &data.join("files")).unwrap_err();
            assert!(
                matches!(err, RestoreError::BadArchive(_)),
                "cut {cut}: {err}"
            );
            assert_eq!(fs::read_dir(&data).unwrap().count(), 0, "cut {cut}");
        }
    }
}

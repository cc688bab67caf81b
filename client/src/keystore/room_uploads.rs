//! Uploads to a room that stopped part-way, kept so that they resume (also
//! after a restart): the room, the local file and its stamp, the name it is
//! announced under, the file key and nonce prefix, and the plaintext read
//! when it stopped.
//!
//! As for one-to-one uploads (`keystore::uploads`), a resume re-encrypts
//! under the same key, which is safe only for the same plaintext: the stamp
//! and the hash of what was read must both still hold, and a record without
//! the hash (the client stopped while sending) is sent again from the start.
//!
//! Left out: the transfer and the announcement (`crate::rooms`).

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use protocol::{RoomId, UploadId};
use rusqlite::{Row, params};

use super::schema::{
    blob_array, from_sql_u64, ms_to_system_time, secret_array, system_time_to_ms, to_sql_u64,
};
use super::uploads::{FileStamp, path_from_bytes, path_to_bytes};
use super::{KeyStore, KeyStoreError};
use crate::crypto::file::NONCE_PREFIX_LEN;
use crate::crypto::{FileSecret, KEY_LEN};

/// An upload to a room that has begun and not finished.
pub struct RoomUploadRecord {
    /// The server's upload id.
    pub upload_id: UploadId,
    /// The room it goes to.
    pub room: RoomId,
    /// The local file.
    pub path: PathBuf,
    /// The name it is announced under.
    pub name: String,
    /// The file's stamp when the upload began; its size is the plaintext size.
    pub stamp: FileStamp,
    /// The file's key and nonce prefix.
    pub secret: FileSecret,
    /// The plaintext read when it stopped, `(len, SHA-256)`; `None` while
    /// it is being sent.
    pub read: Option<(u64, [u8; 32])>,
    /// When the upload began.
    pub created_at: SystemTime,
}

impl fmt::Debug for RoomUploadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomUploadRecord")
            .field("upload_id", &self.upload_id)
            .field("room", &self.room)
            .field("path", &self.path)
            .field("stamp", &self.stamp)
            .field("read", &self.read.map(|r| r.0))
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Remembers an upload to a room (replacing one with the same id).
    ///
    /// # Errors
    /// Storage errors.
    pub fn save_room_upload(&mut self, upload: &RoomUploadRecord) -> Result<(), KeyStoreError> {
        let (read_len, read_sha) = match upload.read {
            Some((len, sha)) => (Some(to_sql_u64(len)), Some(sha.to_vec())),
            None => (None, None),
        };
        self.conn.execute(
            "INSERT OR REPLACE INTO room_uploads (upload_id, room, path, name, plaintext_size,
                 mtime_ns, file_key, nonce_prefix, read_len, read_sha256, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                &upload.upload_id.0[..],
                &upload.room.0[..],
                path_to_bytes(&upload.path),
                &upload.name,
                to_sql_u64(upload.stamp.size),
                upload.stamp.mtime_ns,
                &upload.secret.key()[..],
                &upload.secret.nonce_prefix()[..],
                read_len,
                read_sha,
                system_time_to_ms(upload.created_at),
            ],
        )?;
        Ok(())
    }

    /// Records how much of an upload's plaintext was read when it stopped
    /// (`Some`), or that it is being sent again (`None`).
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_room_upload_read(
        &mut self,
        upload_id: UploadId,
        read: Option<(u64, [u8; 32])>,
    ) -> Result<(), KeyStoreError> {
        let (len, sha) = match read {
            Some((len, sha)) => (Some(to_sql_u64(len)), Some(sha.to_vec())),
            None => (None, None),
        };
        self.conn.execute(
            "UPDATE room_uploads SET read_len = ?2, read_sha256 = ?3 WHERE upload_id = ?1",
            params![&upload_id.0[..], len, sha],
        )?;
        Ok(())
    }

    /// Every unfinished upload to a room, oldest first.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn room_uploads(&self) -> Result<Vec<RoomUploadRecord>, KeyStoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT upload_id, room, path, name, plaintext_size, mtime_ns, file_key,
                 nonce_prefix, read_len, read_sha256, created_at
             FROM room_uploads ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map([], room_upload_row)?;
        rows.map(|row| Ok(row?)).collect()
    }

    /// Forgets an upload to a room (finished, abandoned, or gone on the
    /// server).
    ///
    /// # Errors
    /// Storage errors.
    pub fn delete_room_upload(&mut self, upload_id: UploadId) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "DELETE FROM room_uploads WHERE upload_id = ?1",
            [&upload_id.0[..]],
        )?;
        Ok(())
    }
}

fn room_upload_row(row: &Row<'_>) -> rusqlite::Result<RoomUploadRecord> {
    let key = secret_array::<KEY_LEN>(row, 6)?;
    let prefix = secret_array::<NONCE_PREFIX_LEN>(row, 7)?;
    let read_len: Option<i64> = row.get(8)?;
    let read = match read_len {
        Some(len) => Some((from_sql_u64(len), blob_array::<32>(row, 9)?)),
        None => None,
    };
    Ok(RoomUploadRecord {
        upload_id: UploadId(blob_array(row, 0)?),
        room: RoomId(blob_array(row, 1)?),
        path: path_from_bytes(row.get_ref(2)?.as_blob()?),
        name: row.get(3)?,
        stamp: FileStamp {
            size: from_sql_u64(row.get(4)?),
            mtime_ns: row.get(5)?,
        },
        secret: FileSecret::from_parts(&key, &prefix),
        read,
        created_at: ms_to_system_time(row.get(10)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::fixtures::home;

    #[test]
    fn a_stopped_room_upload_survives_reopen_with_what_it_read() {
        let (dir, home) = home();
        let id = UploadId([0x3c; 16]);
        let record = RoomUploadRecord {
            upload_id: id,
            room: RoomId([0x5a; 16]),
            path: dir.path().join("plan.pdf"),
            name: "plan.pdf".into(),
            stamp: FileStamp {
                size: 5_000_000,
                mtime_ns: 1_700_000_000_123_456_789,
            },
            secret: FileSecret::from_parts(&[7; KEY_LEN], &[9; NONCE_PREFIX_LEN]),
            read: None,
            created_at: SystemTime::now(),
        };
        {
            let mut store = KeyStore::open(&home).unwrap();
            store.save_room_upload(&record).unwrap();
            store
                .set_room_upload_read(id, Some((1_048_576, [0xab; 32])))
                .unwrap();
        }
        let mut store = KeyStore::open(&home).unwrap();
        let found = store.room_uploads().unwrap();
        assert_eq!(found.len(), 1);
        let got = &found[0];
        assert_eq!(got.upload_id, id);
        assert_eq!(got.room, record.room);
        assert_eq!(got.path, record.path);
        assert_eq!(got.name, "plan.pdf");
        assert_eq!(got.stamp, record.stamp);
        assert_eq!(got.secret.key(), &[7; KEY_LEN]);
        assert_eq!(got.secret.nonce_prefix(), &[9; NONCE_PREFIX_LEN]);
        assert_eq!(got.read, Some((1_048_576, [0xab; 32])));
        store.set_room_upload_read(id, None).unwrap();
        assert_eq!(store.room_uploads().unwrap()[0].read, None);
        store.delete_room_upload(id).unwrap();
        assert!(store.room_uploads().unwrap().is_empty());
    }
}

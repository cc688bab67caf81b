//! Partial downloads on disk: `downloads/.partial-<message id>`, holding
//! the plaintext of the chunks received and authenticated so far.
//!
//! A download that stops (cancelled, connection lost) flushes and syncs its
//! part, and the key store records its length (whole chunks only) with a
//! digest of the file's key; the next attempt truncates the part to that
//! length and goes on from the next chunk. A part without a record (a crash
//! before it was recorded, or an older client's `.partial-<id>-<random>`)
//! is not trusted and is deleted. Each part is locked while a download
//! writes it, so that two clients of one home folder never write one part.
//!
//! Left out: the download itself ([`crate::transfer`]) and how the part is
//! opened and written ([`crate::disk`]).

use std::fs::{self, File};
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::crypto::FileSecret;
use crate::disk::{lock_if_free, open_private_direct};

/// Prefix of partial download files in the downloads folder.
pub const PARTIAL_PREFIX: &str = ".partial-";

/// The part of message `message_id`'s file.
pub fn path(dir: &Path, message_id: u64) -> PathBuf {
    dir.join(format!("{PARTIAL_PREFIX}{message_id}"))
}

/// What binds a part to the file it was decrypted from: a digest of the
/// file's key and nonce prefix (never the key itself).
pub fn key_digest(secret: &FileSecret) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"sealpost partial download v1");
    h.update(secret.key());
    h.update(secret.nonce_prefix());
    h.finalize().into()
}

/// Opens the part at `path` (creating it, owner-only, if missing) locked for
/// this process, keeps its first `keep` bytes (or none if it is shorter) and
/// positions it after them. Returns the file, whether it is open for direct
/// writes, and where writing starts.
///
/// # Errors
/// The file system failed, or another client is writing this part.
pub fn open(path: &Path, keep: u64) -> std::io::Result<(File, bool, u64)> {
    let (mut file, direct) = open_private_direct(path)?;
    if !lock_if_free(&file)? {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "another client of this home folder is receiving this file",
        ));
    }
    let len = file.metadata()?.len();
    let start = if len >= keep { keep } else { 0 };
    file.set_len(start)?;
    file.seek(SeekFrom::Start(start))?;
    Ok((file, direct, start))
}

/// Deletes the parts in `dir` that no record in `keep` vouches for, unless
/// a download is writing them now.
pub fn sweep(dir: &Path, keep: &[u64]) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PARTIAL_PREFIX)) else {
            continue;
        };
        if rest.parse::<u64>().is_ok_and(|id| keep.contains(&id)) {
            continue;
        }
        let p = entry.path();
        // A part being written is locked; leave it to its download.
        let free = File::open(&p).is_ok_and(|f| f.try_lock().is_ok());
        if free {
            let _ = fs::remove_file(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_part_is_kept_to_its_recorded_length_and_locked() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), 7);
        std::fs::write(&p, vec![1u8; 3 * 65536 + 5]).unwrap();
        let (mut f, direct, start) = open(&p, 2 * 65536).unwrap();
        assert_eq!(start, 2 * 65536);
        assert_eq!(f.metadata().unwrap().len(), 2 * 65536);
        if !direct {
            f.write_all(b"x").unwrap();
        }
        // A second opener is refused while the first holds it.
        assert!(open(&p, 0).is_err());
        drop(f);
        // Shorter than recorded: nothing is trusted.
        let (f, _, start) = open(&p, 10 * 65536).unwrap();
        assert_eq!(start, 0);
        assert_eq!(f.metadata().unwrap().len(), 0);
    }

    #[test]
    fn sweeping_deletes_parts_without_a_record() {
        let dir = tempfile::tempdir().unwrap();
        for name in [".partial-1", ".partial-2", ".partial-3-00ff", "kept.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let busy = File::open(dir.path().join(".partial-2")).unwrap();
        busy.lock().unwrap();
        sweep(dir.path(), &[1]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec![".partial-1", ".partial-2", "kept.txt"]);
    }
}

//! The client's files on disk: files and folders only their owner can read,
//! and the writer thread that saves a download.
//!
//! Everything a client writes holds something private (keys, texts, files
//! received), so every file is created owner-only from the start rather
//! than narrowed afterwards; the helpers here are the one place that says
//! how. The writer ([`OverlappedWriter`]) is here, not in the download,
//! because it is about the disk: its own thread, so that writes overlap
//! the decryption feeding them, and `O_DIRECT` from aligned buffers where
//! the file system allows it (the technique of the server's `direct.rs`,
//! written once for this crate).
//!
//! Everything here blocks: callers run it in `spawn_blocking`. Left out:
//! what the files hold and where they go (the key store, [`crate::partial`],
//! [`crate::transfer`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Options that create a file readable and writable by its owner only.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Creates `dir` (and missing parents) with mode 0700; an existing folder
/// is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(dir) {
        // "File exists" would name no fault: a file is where the folder goes.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !dir.is_dir() => Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "a file is where this folder should be",
        )),
        other => other,
    }
}

/// Takes `file`'s exclusive lock when no other open file of it holds a
/// lock: `false` (and no lock) when one does.
pub(crate) fn lock_if_free(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Opens `path` for reading and writing, creating it with mode 0600 if
/// missing and narrowing an existing file to 0600; `truncate` empties it.
pub(crate) fn open_private(path: &Path, truncate: bool) -> io::Result<File> {
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate)
        .open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

/// Creates a new file only its owner can read; fails if `path` exists.
pub(crate) fn create_private_new(path: &Path) -> io::Result<File> {
    private_options().write(true).create_new(true).open(path)
}

/// Opens `path` for writing (creating it owner-only if missing, keeping its
/// content), with `O_DIRECT` where the file system allows it; returns the
/// file and whether it is open for direct writes (then write it with an
/// [`OverlappedWriter`]).
pub(crate) fn open_private_direct(path: &Path) -> io::Result<(File, bool)> {
    let mut options = private_options();
    options.write(true).create(true).truncate(false);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut direct = options.clone();
        direct.custom_flags(libc::O_DIRECT);
        match direct.open(path) {
            Ok(f) => return Ok((f, true)),
            // Not supported here (tmpfs, some network file systems).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    options.open(path).map(|f| (f, false))
}

/// Writes `data` to a new file (for tests and the self-test).
///
/// # Errors
/// The file cannot be created, written or synced.
pub fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// A writer whose writes happen on a thread of their own, so that the
/// file's writes overlap the decryption feeding them (each is about as slow
/// as the other: one after the other they halve the download rate). At most
/// [`OVERLAP_DEPTH`] buffers of [`OVERLAP_BUFFER`] bytes wait at once, and
/// the same few buffers are used over and over.
///
/// Where the file system allows it the file is written with `O_DIRECT`:
/// straight from these buffers to the disk, without filling the page cache
/// with a copy of a file the reader is not going to read back. (On this
/// project's VM, filling fresh page-cache pages also costs the hypervisor's
/// first touch of each page, about 0.4 GB/s; see BENCHMARKS.md.)
pub(crate) struct OverlappedWriter {
    buffer: AlignedBuf,
    /// The total written so far (for the final length).
    written: u64,
    queue: Option<std::sync::mpsc::SyncSender<(AlignedBuf, bool)>>,
    free: std::sync::mpsc::Receiver<AlignedBuf>,
    thread: Option<std::thread::JoinHandle<io::Result<File>>>,
}

/// Bytes handed to the writing thread at a time (a multiple of [`ALIGN`]).
const OVERLAP_BUFFER: usize = 1 << 20;
/// Buffers waiting for the writing thread at most.
const OVERLAP_DEPTH: usize = 2;
/// Alignment of buffers, offsets and lengths for direct writes.
const ALIGN: usize = 4096;

/// A buffer whose usable part starts on an [`ALIGN`] boundary.
struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new() -> Self {
        let storage = vec![0u8; OVERLAP_BUFFER + ALIGN];
        // `align_offset` on a byte pointer always succeeds (it is < ALIGN).
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Self {
            storage,
            start,
            len: 0,
        }
    }

    fn room(&self) -> usize {
        OVERLAP_BUFFER - self.len
    }

    fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.room());
        let at = self.start + self.len;
        self.storage[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    /// The filled part; for a direct write, zero-padded to a whole block.
    fn padded_bytes(&mut self, direct: bool) -> &[u8] {
        let len = if direct {
            self.len.div_ceil(ALIGN) * ALIGN
        } else {
            self.len
        };
        let (from, to) = (self.start + self.len, self.start + len);
        self.storage[from..to].fill(0);
        &self.storage[self.start..self.start + len]
    }
}

impl OverlappedWriter {
    /// Writes `file` from its current position, `base` (which must be a
    /// multiple of [`ALIGN`] for direct writes).
    pub(crate) fn new(file: File, direct: bool, base: u64) -> io::Result<Self> {
        if direct && !base.is_multiple_of(ALIGN as u64) {
            return Err(io::Error::other("a direct write must start on a block"));
        }
        let (queue, buffers) = std::sync::mpsc::sync_channel::<(AlignedBuf, bool)>(OVERLAP_DEPTH);
        let (give_back, free) = std::sync::mpsc::channel::<AlignedBuf>();
        for _ in 0..OVERLAP_DEPTH {
            let _ = give_back.send(AlignedBuf::new());
        }
        let thread = std::thread::Builder::new()
            .name("download-writer".into())
            .spawn(move || {
                let mut file = file;
                let mut total = 0u64;
                let mut padded = false;
                for (mut buffer, last) in buffers {
                    total += buffer.len as u64;
                    padded |= direct && buffer.len % ALIGN != 0;
                    if direct && !last && buffer.len % ALIGN != 0 {
                        return Err(io::Error::other("a direct write was not block-sized"));
                    }
                    file.write_all(buffer.padded_bytes(direct))?;
                    buffer.len = 0;
                    let _ = give_back.send(buffer);
                }
                if padded {
                    // The last block was padded to a whole block: cut it back.
                    file.set_len(base + total)?;
                }
                Ok(file)
            })?;
        Ok(Self {
            buffer: AlignedBuf::new(),
            written: 0,
            queue: Some(queue),
            free,
            thread: Some(thread),
        })
    }

    /// Hands the buffer over (`last`: the final, possibly partial one); a
    /// failed writing thread reports its error.
    fn hand_over(&mut self, last: bool) -> io::Result<()> {
        let next = if last {
            AlignedBuf {
                storage: Vec::new(),
                start: 0,
                len: 0,
            }
        } else {
            match self.free.recv() {
                Ok(b) => b,
                Err(_) => return Err(self.stopped()),
            }
        };
        let full = std::mem::replace(&mut self.buffer, next);
        self.written += full.len as u64;
        let sent = self
            .queue
            .as_ref()
            .is_some_and(|q| q.send((full, last)).is_ok());
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    /// The writing thread stopped: its result says why.
    fn stopped(&mut self) -> io::Error {
        match self.join() {
            Err(e) => e,
            Ok(_) => io::Error::other("the download writer stopped"),
        }
    }

    fn join(&mut self) -> io::Result<File> {
        self.queue.take();
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("the download writer panicked"))?,
            None => Err(io::Error::other("the download writer is gone")),
        }
    }

    /// Writes what is left and returns the file once every write is done.
    pub(crate) fn finish(mut self) -> io::Result<File> {
        if self.buffer.len > 0 {
            self.hand_over(true)?;
        }
        self.join()
    }
}

impl Write for OverlappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.buffer.push(data);
        if self.buffer.room() == 0 {
            self.hand_over(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Durability is `finish` and then a sync; nothing to force here.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlapped_writer_writes_every_byte_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for (len, direct) in [
            (0usize, true),
            (1, true),
            (4096, true),
            (3 << 20 | 123, true),
            (5 << 20 | 7, false),
        ] {
            let path = dir.path().join(format!("out-{len}-{direct}"));
            let (file, direct) = if direct {
                open_private_direct(&path).unwrap()
            } else {
                (create_private_new(&path).unwrap(), false)
            };
            let mut w = OverlappedWriter::new(file, direct, 0).unwrap();
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            for piece in data.chunks(65_536 + 13) {
                w.write_all(piece).unwrap();
            }
            w.finish().unwrap().sync_all().unwrap();
            assert_eq!(
                fs::read(&path).unwrap(),
                data,
                "{len} bytes, direct {direct}"
            );
        }
    }

    #[test]
    fn a_file_where_a_folder_goes_is_said_to_be_no_folder() {
        let dir = tempfile::tempdir().unwrap();
        let downloads = dir.path().join("downloads");
        fs::write(&downloads, b"x").unwrap();
        let e = create_private_dir(&downloads).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotADirectory, "{e}");
        // A folder that is there already is no error.
        create_private_dir(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn private_files_and_folders_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("a/b");
        create_private_dir(&home).unwrap();
        assert_eq!(mode(&home), 0o700);
        create_private_new(&home.join("new")).unwrap();
        assert!(create_private_new(&home.join("new")).is_err());
        open_private_direct(&home.join("direct")).unwrap();
        let loose = home.join("loose");
        fs::write(&loose, b"x").unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();
        open_private(&loose, false).unwrap();
        assert_eq!(fs::read(&loose).unwrap(), b"x");
        for name in ["new", "direct", "loose"] {
            assert_eq!(mode(&home.join(name)), 0o600, "{name}");
        }
    }
}

//! File bodies moved with `O_DIRECT` where the file system allows it:
//! appended to an upload's part file straight from an aligned staging
//! buffer, without making a page-cache copy of a file the server will not
//! read soon, and read back for downloads the same way, from the disk into
//! the buffer that is sent. (On
//! this project's VM, filling fresh page-cache pages also costs the
//! hypervisor's first touch of every page, which held uploads to about
//! 0.3-0.4 GB/s; see BENCHMARKS.md.)
//!
//! Direct writes must start on a block boundary and cover whole blocks, but
//! chunks arrive at any size. So only whole blocks are written as they fill;
//! the partial last block stays in the staging buffer, is written padded
//! with zeros (and the file cut back to its true length) when the upload is
//! synced, and is written again, whole, once more bytes arrive.
//!
//! Everything here blocks: callers run it in `spawn_blocking`.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::{Bytes, BytesMut};

/// Block size for direct writes (offsets, lengths and buffer addresses).
const ALIGN: usize = 4096;
/// Bytes staged per direct write: 512 KiB writes reach the disk's rate here
/// (1.2 GB/s measured with dd) while holding only half a chunk.
const STAGING: usize = 512 * 1024;

/// An upload's part file, open for appending.
pub struct PartFile {
    file: File,
    /// The logical length: every byte appended.
    len: u64,
    /// Direct mode: the staging buffer, and the bytes of the partial last
    /// block at its start.
    staging: Option<Staging>,
}

struct Staging {
    storage: Vec<u8>,
    /// Where the aligned part of `storage` begins.
    start: usize,
    /// Bytes of the partial last block, at `start`.
    tail: usize,
}

impl Staging {
    fn new() -> Self {
        let storage = vec![0u8; STAGING + ALIGN];
        // `align_offset` on a byte pointer always succeeds with a value < ALIGN.
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Self {
            storage,
            start,
            tail: 0,
        }
    }
}

impl PartFile {
    /// Opens (creating if needed) the part file at `path` to append at
    /// `len`, cutting off anything after it.
    pub fn open(path: &Path, len: u64) -> io::Result<Self> {
        let mut plain = crate::datadir::private_file_options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        if plain.metadata()?.len() != len {
            plain.set_len(len)?;
        }
        if let Some(direct) = open_direct(path, Access::Write)? {
            let mut staging = Staging::new();
            // The bytes of the partial last block, to be written again whole.
            staging.tail = (len % ALIGN as u64) as usize;
            let at = len - staging.tail as u64;
            let start = staging.start;
            plain.read_exact_at(&mut staging.storage[start..start + staging.tail], at)?;
            return Ok(Self {
                file: direct,
                len,
                staging: Some(staging),
            });
        }
        plain.seek(SeekFrom::Start(len))?;
        Ok(Self {
            file: plain,
            len,
            staging: None,
        })
    }

    /// The logical length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `data`.
    pub fn append(&mut self, mut data: &[u8]) -> io::Result<()> {
        let Some(s) = self.staging.as_mut() else {
            self.file.write_all(data)?;
            self.len += data.len() as u64;
            return Ok(());
        };
        while !data.is_empty() {
            let take = data.len().min(STAGING - s.tail);
            let from = s.start + s.tail;
            s.storage[from..from + take].copy_from_slice(&data[..take]);
            let total = s.tail + take;
            let whole = total / ALIGN * ALIGN;
            let block_start = self.len - s.tail as u64;
            if whole > 0 {
                self.file
                    .write_all_at(&s.storage[s.start..s.start + whole], block_start)?;
            }
            // What is left of a block moves to the front.
            s.storage
                .copy_within(s.start + whole..s.start + total, s.start);
            s.tail = total - whole;
            self.len += take as u64;
            data = &data[take..];
        }
        Ok(())
    }

    /// Makes every appended byte durable; the file's length is then exactly
    /// the logical length.
    pub fn sync(&mut self) -> io::Result<()> {
        if let Some(s) = self.staging.as_mut() {
            if s.tail > 0 {
                let (from, to) = (s.start + s.tail, s.start + ALIGN);
                s.storage[from..to].fill(0);
                let block_start = self.len - s.tail as u64;
                self.file
                    .write_all_at(&s.storage[s.start..s.start + ALIGN], block_start)?;
                self.file.set_len(self.len)?;
            }
        }
        self.file.sync_data()
    }

    /// Syncs and gives up the file (before it is renamed into place).
    pub fn close(mut self) -> io::Result<()> {
        self.sync()?;
        self.file.sync_all()
    }
}

/// A complete file, open for reading at any offset.
pub struct BlobFile {
    file: File,
    direct: bool,
}

impl BlobFile {
    /// Opens the file at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        if let Some(file) = open_direct(path, Access::Read)? {
            return Ok(Self { file, direct: true });
        }
        Ok(Self {
            file: File::open(path)?,
            direct: false,
        })
    }

    /// Up to `len` bytes at `offset`; fewer at the end of the file.
    pub fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        if !self.direct {
            let mut buf = BytesMut::zeroed(len);
            let filled = self.fill(&mut buf, offset, false)?;
            buf.truncate(filled);
            return Ok(buf.freeze());
        }
        // Whole blocks around the window, read into an aligned part of one
        // buffer; the window is then sliced out of it without a copy.
        let lead = (offset % ALIGN as u64) as usize;
        let span = (lead + len).div_ceil(ALIGN) * ALIGN;
        let mut buf = BytesMut::zeroed(span + ALIGN);
        let start = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
        let filled = self.fill(&mut buf[start..start + span], offset - lead as u64, true)?;
        let end = filled.min(lead + len);
        Ok(buf.freeze().slice(start + lead.min(end)..start + end))
    }

    /// Reads at `at` until `buf` is full or the file ends; the bytes read.
    fn fill(&self, buf: &mut [u8], at: u64, direct: bool) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.file.read_at(&mut buf[filled..], at + filled as u64)?;
            filled += n;
            // A direct read short of a block boundary met the end of the
            // file (and a further one would start unaligned).
            if n == 0 || (direct && n % ALIGN != 0) {
                break;
            }
        }
        Ok(filled)
    }
}

#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

/// The file opened for direct reads or writes, or `None` where the file
/// system does not support them.
fn open_direct(path: &Path, access: Access) -> io::Result<Option<File>> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match OpenOptions::new()
            .read(matches!(access, Access::Read))
            .write(matches!(access, Access::Write))
            .custom_flags(libc::O_DIRECT)
            .open(path)
        {
            Ok(f) => return Ok(Some(f)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    let _ = (path, access);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: usize) -> Vec<u8> {
        (0..n).map(|i| ((i + seed) * 131 % 251) as u8).collect()
    }

    #[test]
    fn any_chunk_sizes_and_syncs_give_the_exact_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[&[usize]] = &[
            &[1],
            &[4096],
            &[4095, 1],
            &[100, 5000, 700_000, 3, 1 << 20],
            &[STAGING + 17, STAGING - 17, 8191],
        ];
        for (k, sizes) in cases.iter().enumerate() {
            let path = dir.path().join(format!("part-{k}"));
            let mut part = PartFile::open(&path, 0).unwrap();
            let mut expected = Vec::new();
            for (i, n) in sizes.iter().enumerate() {
                let chunk = bytes(*n, i);
                part.append(&chunk).unwrap();
                expected.extend_from_slice(&chunk);
                // Sync in the middle too: the padded block must be rewritten.
                if i % 2 == 0 {
                    part.sync().unwrap();
                    assert_eq!(
                        std::fs::read(&path).unwrap(),
                        expected,
                        "case {k} after sync {i}"
                    );
                }
            }
            assert_eq!(part.len(), expected.len() as u64);
            part.close().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), expected, "case {k}");
        }
    }

    #[test]
    fn reads_at_any_offset_and_length_give_the_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let content = bytes(3 * ALIGN + 123, 7);
        std::fs::write(&path, &content).unwrap();
        let blob = BlobFile::open(&path).unwrap();
        let n = content.len() as u64;
        let windows = [
            (0, 1),
            (0, 4096),
            (1, 4096),
            (4095, 2),
            (100, 9000),
            (n - 1, 10),
            (n - 123, 123),
            (n, 5),
            (n + 4096, 5),
            (0, 1 << 20),
        ];
        for (offset, len) in windows {
            let got = blob.read_at(offset, len).unwrap();
            let from = (offset as usize).min(content.len());
            let to = (offset as usize + len).min(content.len());
            assert_eq!(&got[..], &content[from..to], "offset {offset} len {len}");
        }
    }

    #[test]
    fn reopening_at_an_unaligned_length_continues_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let first = bytes(10_000, 1);
        let mut part = PartFile::open(&path, 0).unwrap();
        part.append(&first).unwrap();
        part.close().unwrap();
        // Resume at 6,000 (as after a crash that lost the rest).
        let mut part = PartFile::open(&path, 6000).unwrap();
        let more = bytes(9000, 2);
        part.append(&more).unwrap();
        part.close().unwrap();
        let mut expected = first[..6000].to_vec();
        expected.extend_from_slice(&more);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }
}

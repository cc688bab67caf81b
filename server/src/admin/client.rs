//! The operator's side of the socket, for the `server` binary's `status`,
//! `user` and `backup` commands: blocking, one request per connection.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

use super::backup::Hashing;
use super::{Answer, BACKUP_MANIFEST, Manifest, Request, SOCKET_FILE};
use crate::datadir::private_file_options;

/// Why the operator's request failed, in the cases a script tells apart
/// (`code`); anything else is an `anyhow` error with its context.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no server is running on the data folder {} (nothing answers at {})", dir.display(), socket.display())]
    NotRunning { dir: PathBuf, socket: PathBuf },
    #[error("{}: permission denied (run this as the server's user or root)", .0.display())]
    PermissionDenied(PathBuf),
    /// The server answered with a refusal, in its words.
    #[error("{0}")]
    Refused(String),
    /// The server could not do it (its database failed), in its words.
    #[error("the server failed: {0}")]
    Failed(String),
}

impl AdminError {
    /// Stable, for `--json`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotRunning { .. } => "not_running",
            Self::PermissionDenied(_) => "permission_denied",
            Self::Refused(_) => "refused",
            Self::Failed(_) => "failed",
        }
    }
}

/// The code of an operator command's error: [`AdminError::code`], or
/// `failed` for any other.
#[must_use]
pub fn error_code(e: &anyhow::Error) -> &'static str {
    e.chain()
        .find_map(|c| c.downcast_ref::<AdminError>())
        .map_or("failed", AdminError::code)
}

/// Connects to the server that runs on `data_dir`.
///
/// # Errors
/// No server runs there, or this user may not reach its socket.
pub fn connect(data_dir: &Path) -> anyhow::Result<UnixStream> {
    let path = data_dir.join(SOCKET_FILE);
    UnixStream::connect(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => AdminError::NotRunning {
            dir: data_dir.to_path_buf(),
            socket: path,
        }
        .into(),
        io::ErrorKind::PermissionDenied => AdminError::PermissionDenied(path).into(),
        _ => anyhow::Error::new(e).context(format!("connecting to {}", path.display())),
    })
}

/// Sends `request` and reads its answer line.
fn ask(data_dir: &Path, request: &Request) -> anyhow::Result<(BufReader<UnixStream>, Vec<u8>)> {
    let mut stream = connect(data_dir)?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    stream.write_all(&line).context("sending the request")?;
    let mut reader = BufReader::new(stream);
    let mut answer = Vec::new();
    reader
        .read_until(b'\n', &mut answer)
        .context("reading the server's answer")?;
    if answer.is_empty() {
        bail!("the server closed the connection without an answer (see its log)");
    }
    Ok((reader, answer))
}

fn parse<T: DeserializeOwned>(line: &[u8]) -> anyhow::Result<T> {
    match serde_json::from_slice::<Answer<T>>(line).context("the server's answer")? {
        Answer::Ok(v) => Ok(v),
        Answer::Error(e) => Err(AdminError::Refused(e).into()),
        Answer::Failed(e) => Err(AdminError::Failed(e).into()),
    }
}

/// Asks and returns the answer.
///
/// # Errors
/// No server runs on `data_dir`, or it refused.
pub fn request<T: DeserializeOwned>(data_dir: &Path, request: &Request) -> anyhow::Result<T> {
    let (_, line) = ask(data_dir, request)?;
    parse(&line)
}

/// Takes a backup of the server running on `data_dir` into `file`
/// (written to a new temporary file beside it, checked, then linked to
/// `file`), mode 0600.
///
/// # Errors
/// No server runs there, it failed, the archive arrived cut off, or `file`
/// cannot be written.
pub fn backup(data_dir: &Path, file: &Path) -> anyhow::Result<Manifest> {
    if file.exists() {
        bail!(
            "{} exists already; backup writes a new file and overwrites none",
            file.display()
        );
    }
    let (mut reader, line) = ask(data_dir, &Request::Backup)?;
    parse::<()>(&line)?;
    let (part, mut out) = create_part(file)?;
    let result = (|| {
        io::copy(&mut reader, &mut out).context("receiving the archive")?;
        out.sync_all()?;
        drop(out);
        let manifest = check(&part)?;
        // A link, not a rename: it fails rather than replace a file made
        // at that name meanwhile.
        fs::hard_link(&part, file).with_context(|| format!("writing {}", file.display()))?;
        fs::remove_file(&part)?;
        Ok(manifest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&part);
    }
    result
}

/// How many temporary names [`create_part`] tries before it gives up.
const PART_ATTEMPTS: u32 = 16;

/// Creates a new temporary file beside `file`, mode 0600. The archive holds
/// the server's private key, and the folder may be shared: a path someone
/// else made there (their file, or a symlink to a file of ours) must never
/// be opened, so the name is fresh and `create_new` (`O_EXCL`, which also
/// refuses a symlink) makes sure no existing file is reused.
fn create_part(file: &Path) -> anyhow::Result<(PathBuf, fs::File)> {
    let folder = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = file
        .file_name()
        .with_context(|| format!("{} names no file", file.display()))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for attempt in 0..PART_ATTEMPTS {
        let mut part_name = std::ffi::OsString::from(".");
        part_name.push(name);
        part_name.push(format!(".{}-{nanos:x}-{attempt}.part", std::process::id()));
        let part = folder.join(part_name);
        match private_file_options()
            .write(true)
            .create_new(true)
            .open(&part)
        {
            Ok(out) => return Ok((part, out)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("creating {}", part.display())));
            }
        }
    }
    bail!(
        "cannot create a temporary file beside {}: every name tried exists",
        file.display()
    )
}

/// Streams a backup of the server running on `data_dir` to `out`
/// (`server backup -`: standard output), checking it as it passes: the
/// same archive a file would get, whose damage ends in an error after the
/// bytes went out (a pipe cannot be taken back, as a file's part can).
///
/// # Errors
/// No server runs there, it failed, the archive arrived cut off or
/// damaged, or `out` cannot be written.
pub fn backup_to(data_dir: &Path, out: impl Write) -> anyhow::Result<Manifest> {
    let (reader, line) = ask(data_dir, &Request::Backup)?;
    parse::<()>(&line)?;
    let mut tee = Tee { inner: reader, out };
    let manifest = check_archive(&mut tee)?;
    // The end-of-archive blocks the tar reader stops before.
    io::copy(&mut tee, &mut io::sink())?;
    tee.out.flush().context("cannot write to standard output")?;
    Ok(manifest)
}

/// A reader that writes what it reads to `out`.
struct Tee<R, W> {
    inner: R,
    out: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Reads the archive at `path` through (see [`check_archive`]).
fn check(path: &Path) -> anyhow::Result<Manifest> {
    check_archive(io::BufReader::new(fs::File::open(path)?))
}

/// Reads an archive through: it must end with its manifest, hold the
/// number of files it says, and every entry must match its checksum.
fn check_archive(archive: impl Read) -> anyhow::Result<Manifest> {
    let mut archive = tar::Archive::new(archive);
    let mut files = 0;
    let mut manifest = None;
    let mut sums = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry.context("the archive arrived cut off (see the server's log)")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name == BACKUP_MANIFEST {
            let mut text = String::new();
            entry.by_ref().take(1 << 16).read_to_string(&mut text)?;
            manifest = Some(serde_json::from_str::<Manifest>(&text)?);
            continue;
        }
        if name.starts_with("files/") {
            files += 1;
        }
        let mut hashing = Hashing::new(&mut entry);
        io::copy(&mut hashing, &mut io::sink())?;
        sums.insert(name, hashing.hex());
    }
    match manifest {
        Some(m) if m.files == files => {
            m.verify(&sums).map_err(anyhow::Error::msg)?;
            Ok(m)
        }
        _ => bail!("the archive arrived cut off (see the server's log)"),
    }
}

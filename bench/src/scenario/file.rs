//! Scenario `file`: one large file through the whole real path.
//!
//! The real binaries do the work, each in its own process so that its
//! memory is its own: the release `server` as a child, and the release
//! `client` run as `client send-file` (read, encrypt as a chunked AEAD
//! stream, upload in pipelined chunks; the server writes, syncs and renames
//! it into place before answering) and then `client inbox` (download in
//! pipelined ranges, decrypt, write to the downloads folder, sync, rename,
//! acknowledge). Each direction is timed; each process's peak resident
//! memory is read from /proc while it runs (VmHWM).
//!
//! Beside them, in the same run: the disk's rate for writing the same amount
//! with a sync at the end (what a durable upload and a durable download each
//! have to do), through the page cache and direct (as the server and client
//! write bodies), and for reading it back direct (as the server reads a
//! blob for a download); plus loopback TCP and raw XChaCha20-Poly1305 from
//! `limits`.
//!
//! Checks: the received file's SHA-256 equals the sent one's; the server's
//! peak memory and each client's stay under 64 MiB (PRODUCT.md).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Args;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::report::{Comparison, Outcome};
use crate::target::{ProcMemory, proc_memory, sibling_binary};
use crate::wire::pattern;

/// The file workload.
#[derive(Debug, Clone, Args)]
pub struct FileArgs {
    /// File size in MiB.
    #[arg(long = "file-mib", default_value_t = 1024)]
    pub mib: u64,
    /// Path of the `client` binary (default: next to this one).
    #[arg(long)]
    pub client_bin: Option<PathBuf>,
}

impl Default for FileArgs {
    fn default() -> Self {
        Self {
            mib: 1024,
            client_bin: None,
        }
    }
}

/// PRODUCT.md: each way at least this many MB/s.
pub const TARGET_MB_PER_S: f64 = 500.0;
/// PRODUCT.md: server and client memory under this throughout.
pub const MEMORY_LIMIT: u64 = 64 << 20;
/// How long one direction may take before the run gives up.
const DIRECTION_TIMEOUT: Duration = Duration::from_secs(600);

/// Every figure of a file run.
#[derive(Debug, Clone, Serialize)]
pub struct FileFigures {
    /// File size in bytes.
    pub bytes: u64,
    /// Seconds for `client send-file` (encrypt, upload, durable on the server).
    pub upload_seconds: f64,
    /// Upload rate, MB/s of plaintext.
    pub upload_mb_per_s: f64,
    /// Seconds for `client inbox` (download, decrypt, durable on disk, acknowledge).
    pub download_seconds: f64,
    /// Download rate, MB/s of plaintext.
    pub download_mb_per_s: f64,
    /// The server process's peak resident memory, bytes.
    pub server_peak_rss: u64,
    /// The uploading client's peak resident memory, bytes.
    pub upload_client_peak_rss: u64,
    /// The downloading client's peak resident memory, bytes.
    pub download_client_peak_rss: u64,
    /// Writing the same number of bytes to the same disk through the page
    /// cache, synced, MB/s.
    pub disk_write_sync_mb_per_s: f64,
    /// The same with direct writes (the server's own part-file writer).
    pub disk_direct_write_sync_mb_per_s: f64,
    /// Reading them back with direct reads (the server's own blob reader).
    pub disk_direct_read_mb_per_s: f64,
}

/// The disk's rates, MB/s.
struct DiskRates {
    buffered_write_sync: f64,
    direct_write_sync: f64,
    direct_read: f64,
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

/// Writes `bytes` of the seeded pattern to `path`; returns its SHA-256.
fn write_plaintext(path: &Path, bytes: u64) -> anyhow::Result<[u8; 32]> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut hash = Sha256::new();
    let mut written = 0u64;
    while written < bytes {
        let n = (1u64 << 20).min(bytes - written) as usize;
        let piece = pattern(written, n);
        hash.update(&piece);
        file.write_all(&piece)?;
        written += n as u64;
    }
    file.flush()?;
    Ok(hash.finalize().into())
}

fn sha256_of(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    std::io::copy(&mut file, &mut hash)?;
    Ok(hash.finalize().into())
}

/// The disk's rates for writing `bytes` in 1 MiB writes and syncing at the
/// end, through the page cache and direct, and for reading them direct, in
/// the same folder.
fn disk_rates(dir: &Path, bytes: u64) -> anyhow::Result<DiskRates> {
    let piece = vec![0x42u8; CHUNK];
    let pieces = || {
        (0..bytes)
            .step_by(CHUNK)
            .map(|at| &piece[..(bytes - at).min(CHUNK as u64) as usize])
    };

    let path = dir.join("disk-probe-buffered");
    let started = Instant::now();
    let mut file = std::fs::File::create(&path)?;
    for p in pieces() {
        file.write_all(p)?;
    }
    file.sync_all()?;
    let buffered_write_sync = mb_per_s(bytes, started.elapsed());
    drop(file);
    std::fs::remove_file(&path)?;

    let path = dir.join("disk-probe-direct");
    let started = Instant::now();
    let mut part = server::direct::PartFile::open(&path, 0)?;
    for p in pieces() {
        part.append(p)?;
    }
    part.close()?;
    let direct_write_sync = mb_per_s(bytes, started.elapsed());

    let started = Instant::now();
    let blob = server::direct::BlobFile::open(&path)?;
    let mut read = 0u64;
    while read < bytes {
        let got = blob.read_at(read, CHUNK)?;
        ensure!(!got.is_empty(), "the probe file ended early");
        read += got.len() as u64;
    }
    let direct_read = mb_per_s(bytes, started.elapsed());
    std::fs::remove_file(&path)?;
    Ok(DiskRates {
        buffered_write_sync,
        direct_write_sync,
        direct_read,
    })
}

/// The disk probe's write and read size (a protocol chunk).
const CHUNK: usize = 1 << 20;

/// Runs `client` with `args`, waits for it, and returns how long it took
/// and its peak resident memory (polled while it runs).
async fn timed_client(binary: &Path, args: &[&str]) -> anyhow::Result<(Duration, u64, String)> {
    let started = Instant::now();
    // An encrypted home, as a person's is by default (no prompt: no terminal).
    let mut child = tokio::process::Command::new(binary)
        .args(args)
        .env("SEALPOST_PASSPHRASE", "loadgen file scenario")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id().context("the client exited at once")?;
    let mut peak = 0u64;
    let mut stdout = child.stdout.take().context("no stdout")?;
    let mut stderr = child.stderr.take().context("no stderr")?;
    let output = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut out = String::new();
        let mut err = String::new();
        let _ = stdout.read_to_string(&mut out).await;
        let _ = stderr.read_to_string(&mut err).await;
        (out, err)
    });
    let status = tokio::time::timeout(DIRECTION_TIMEOUT, async {
        loop {
            if let Ok(m) = proc_memory(pid) {
                peak = peak.max(m.peak_rss);
            }
            match child.try_wait()? {
                Some(status) => return Ok::<_, anyhow::Error>(status),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .context("the client did not finish in time")??;
    let elapsed = started.elapsed();
    let (out, err) = output.await?;
    if !status.success() {
        bail!("client {} failed: {}", args.join(" "), err.trim());
    }
    Ok((elapsed, peak, out))
}

/// Runs the scenario against the server at `addr` whose process is
/// `server_pid` (for its memory).
///
/// # Errors
/// The binaries are missing, or a step failed outright.
pub async fn run(
    addr: std::net::SocketAddr,
    server_pid: Option<u32>,
    args: &FileArgs,
    target: &str,
) -> anyhow::Result<(Outcome, FileFigures)> {
    ensure!(args.mib > 0, "the file must be at least 1 MiB");
    let client = sibling_binary("client", "sealpost-client", args.client_bin.as_deref())?;
    let dir = tempfile::tempdir()?;
    let bytes = args.mib << 20;
    let plaintext = dir.path().join("payload.bin");
    let expected = {
        let p = plaintext.clone();
        tokio::task::spawn_blocking(move || write_plaintext(&p, bytes)).await??
    };
    let server = addr.to_string();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    for (home, name) in [(&alice, "alice"), (&bob, "bob")] {
        std::fs::create_dir_all(home)?;
        let home = home.to_string_lossy().into_owned();
        timed_client(
            &client,
            &["--home", &home, "--server", &server, "register", name],
        )
        .await?;
    }
    let alice_home = alice.to_string_lossy().into_owned();
    let bob_home = bob.to_string_lossy().into_owned();
    let file_arg = plaintext.to_string_lossy().into_owned();
    let (upload, upload_peak, _) = timed_client(
        &client,
        &[
            "--home",
            &alice_home,
            "--server",
            &server,
            "send-file",
            "bob",
            &file_arg,
        ],
    )
    .await?;
    let (download, download_peak, _) = timed_client(
        &client,
        &[
            "--home",
            &bob_home,
            "--server",
            &server,
            "--accept-files",
            "inbox",
        ],
    )
    .await?;
    let received = bob.join("downloads").join("payload.bin");
    let mut problems = Vec::new();
    let got = {
        let r = received.clone();
        tokio::task::spawn_blocking(move || sha256_of(&r)).await?
    };
    match got {
        Ok(hash) if hash == expected => {}
        Ok(_) => problems.push("the received file differs from the sent one".to_string()),
        Err(e) => problems.push(format!("no received file at {}: {e:#}", received.display())),
    }
    let server_memory = server_pid
        .map(proc_memory)
        .transpose()?
        .unwrap_or(ProcMemory {
            rss: 0,
            peak_rss: 0,
        });
    let disk = {
        let d = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || disk_rates(&d, bytes)).await??
    };
    let figures = FileFigures {
        bytes,
        upload_seconds: upload.as_secs_f64(),
        upload_mb_per_s: mb_per_s(bytes, upload),
        download_seconds: download.as_secs_f64(),
        download_mb_per_s: mb_per_s(bytes, download),
        server_peak_rss: server_memory.peak_rss,
        upload_client_peak_rss: upload_peak,
        download_client_peak_rss: download_peak,
        disk_write_sync_mb_per_s: disk.buffered_write_sync,
        disk_direct_write_sync_mb_per_s: disk.direct_write_sync,
        disk_direct_read_mb_per_s: disk.direct_read,
    };
    for (what, peak) in [
        ("server", figures.server_peak_rss),
        ("uploading client", upload_peak),
        ("downloading client", download_peak),
    ] {
        if peak >= MEMORY_LIMIT {
            problems.push(format!(
                "{what} peaked at {} MiB (limit 64 MiB)",
                peak >> 20
            ));
        }
    }
    let met = |v: f64| {
        if v >= TARGET_MB_PER_S {
            "met"
        } else {
            "NOT met"
        }
    };
    let summary = format!(
        "file ({target}, {} MiB): upload {:.0} MB/s ({}), download {:.0} MB/s ({}), target {TARGET_MB_PER_S:.0} MB/s: \
         up {}, down {}; peak memory server {} MiB, clients {} / {} MiB; \
         disk write+sync {:.0} MB/s buffered, {:.0} MB/s direct, direct read {:.0} MB/s",
        args.mib,
        figures.upload_mb_per_s,
        format_duration(upload),
        figures.download_mb_per_s,
        format_duration(download),
        met(figures.upload_mb_per_s),
        met(figures.download_mb_per_s),
        figures.server_peak_rss >> 20,
        upload_peak >> 20,
        download_peak >> 20,
        disk.buffered_write_sync,
        disk.direct_write_sync,
        disk.direct_read,
    );
    let outcome = Outcome {
        name: "file".into(),
        target: target.into(),
        passed: problems.is_empty(),
        problems,
        summary,
        figures: serde_json::to_value(&figures)?,
        comparisons: vec![
            Comparison::new(
                "file upload MB/s",
                figures.upload_mb_per_s,
                "the same bytes written to disk direct and synced, MB/s",
                disk.direct_write_sync,
                "MB/s",
            ),
            Comparison::new(
                "file download MB/s",
                figures.download_mb_per_s,
                "the same bytes read direct, then written direct and synced \
                 (one after the other), MB/s",
                serial_rate(disk.direct_read, disk.direct_write_sync),
                "MB/s",
            ),
        ],
    };
    Ok((outcome, figures))
}

/// The rate of doing two things to the same bytes one after the other.
fn serial_rate(a: f64, b: f64) -> f64 {
    1.0 / (1.0 / a.max(f64::MIN_POSITIVE) + 1.0 / b.max(f64::MIN_POSITIVE))
}

fn format_duration(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

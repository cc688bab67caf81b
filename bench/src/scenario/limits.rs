//! Scenario `limits`: the physical limits every other figure is compared
//! with, measured on this machine in the same run.
//!
//! - Loopback TCP: one connection, one thread writing 256 KiB buffers, one
//!   reading them (MB/s).
//! - Raw AEAD, single core: ChaCha20-Poly1305 and XChaCha20-Poly1305 sealing
//!   64 KiB buffers in place (MB/s).
//! - Raw SQLite inserts into the server's own `messages` table (its schema
//!   and insert statement, taken from `server::schema`), with the server's
//!   durability (WAL, `synchronous=FULL`): one row per transaction, and 64
//!   and 1024 rows per transaction (what group commit can reach). Also the SQLite defaults a
//!   plain Python `sqlite3` program gets (rollback journal, `synchronous=FULL`)
//!   at one row per transaction: the reference server's ceiling.
//! - Loopback connections: open, send a 23-byte request, read a 7-byte
//!   answer, close — the work of a version-2 request without any
//!   application code, on the same runtime size (requests per second).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use chacha20poly1305::aead::{AeadInPlace, KeyInit, Nonce};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use super::sqlite_inserts::SqliteRun;
use super::sqlite_inserts::sqlite_inserts;
use crate::cli::LimitsArgs;
use crate::pool;
use crate::report::{Outcome, per_second, thousands};

/// Buffer of the TCP copy.
const TCP_BUFFER: usize = 256 * 1024;
/// Buffer sealed by the AEAD measurement (the size of a file chunk).
const AEAD_BUFFER: usize = 64 * 1024;
/// Longest any TCP read may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Every figure of a limits run.
#[derive(Debug, Clone, Serialize)]
pub struct LimitsFigures {
    /// Bytes copied through loopback TCP.
    pub tcp_bytes: u64,
    /// Loopback TCP, MB/s.
    pub tcp_mb_per_s: f64,
    /// Bytes sealed by each AEAD.
    pub aead_bytes: u64,
    /// ChaCha20-Poly1305, MB/s, one core.
    pub chacha20poly1305_mb_per_s: f64,
    /// XChaCha20-Poly1305, MB/s, one core.
    pub xchacha20poly1305_mb_per_s: f64,
    /// Content bytes per SQLite row.
    pub sqlite_row_size: usize,
    /// SQLite with the server's durability: 1, 64 and 1024 rows per commit.
    pub sqlite_server_durability: Vec<SqliteRun>,
    /// SQLite with Python's defaults, one row per commit.
    pub sqlite_python_defaults: SqliteRun,
    /// Loopback connections made (each one tiny request and answer).
    pub connects: usize,
    /// Of those, failed.
    pub connect_errors: usize,
    /// Connections (requests) per second.
    pub connects_per_s: f64,
}

impl LimitsFigures {
    /// Rows per second at `per_commit` rows per transaction with the
    /// server's durability, if measured.
    pub fn sqlite_rate(&self, per_commit: usize) -> Option<f64> {
        self.sqlite_server_durability
            .iter()
            .find(|r| r.rows_per_commit == per_commit)
            .map(|r| r.rows_per_s)
    }
}

/// Measures everything (the connection rate on the current runtime).
///
/// # Errors
/// A socket, thread or database could not be set up.
pub async fn run(args: &LimitsArgs) -> anyhow::Result<(Outcome, LimitsFigures)> {
    let tcp_bytes = args.tcp_mib << 20;
    let tcp_seconds = tokio::task::spawn_blocking(move || tcp_copy(tcp_bytes)).await??;
    let aead_bytes = args.aead_mib << 20;
    let (chacha, xchacha) = tokio::task::spawn_blocking(move || {
        (
            aead_rate(ChaCha20Poly1305::new(&[7u8; 32].into()), aead_bytes),
            aead_rate(XChaCha20Poly1305::new(&[7u8; 32].into()), aead_bytes),
        )
    })
    .await?;
    let sqlite_args = args.clone();
    let (server_durability, python_defaults) = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir()?;
        let a = &sqlite_args;
        let max = Duration::from_secs(a.sqlite_max_seconds);
        let mut runs = Vec::new();
        for (per_commit, rows) in [
            (1, a.sqlite_single),
            (64, a.sqlite_batched),
            (1024, a.sqlite_batched),
        ] {
            runs.push(sqlite_inserts(
                dir.path(),
                "wal",
                "full",
                per_commit,
                rows,
                a.sqlite_row_size,
                max,
            )?);
        }
        let python = sqlite_inserts(
            dir.path(),
            "delete",
            "full",
            1,
            a.sqlite_single,
            a.sqlite_row_size,
            max,
        )?;
        Ok::<_, anyhow::Error>((runs, python))
    })
    .await??;
    let (connects_elapsed, connect_errors) =
        connect_rate(args.connects, args.connect_concurrency).await?;

    let figures = LimitsFigures {
        tcp_bytes,
        tcp_mb_per_s: per_second(tcp_bytes as f64 / 1e6, tcp_seconds),
        aead_bytes,
        chacha20poly1305_mb_per_s: per_second(aead_bytes as f64 / 1e6, chacha),
        xchacha20poly1305_mb_per_s: per_second(aead_bytes as f64 / 1e6, xchacha),
        sqlite_row_size: args.sqlite_row_size,
        sqlite_server_durability: server_durability,
        sqlite_python_defaults: python_defaults,
        connects: args.connects,
        connect_errors,
        connects_per_s: per_second((args.connects - connect_errors) as f64, connects_elapsed),
    };
    let sqlite = figures
        .sqlite_server_durability
        .iter()
        .map(|r| format!("{}/commit {}", r.rows_per_commit, thousands(r.rows_per_s)))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = format!(
        "limits: loopback TCP {} MB/s; ChaCha20-Poly1305 {} MB/s, XChaCha20-Poly1305 {} MB/s \
         (1 core); SQLite WAL+FULL rows/s {sqlite}; SQLite python defaults 1/commit {} rows/s; \
         loopback connect+request+close {} /s",
        thousands(figures.tcp_mb_per_s),
        thousands(figures.chacha20poly1305_mb_per_s),
        thousands(figures.xchacha20poly1305_mb_per_s),
        thousands(figures.sqlite_python_defaults.rows_per_s),
        thousands(figures.connects_per_s),
    );
    let mut problems = Vec::new();
    if connect_errors > 0 {
        problems.push(format!("{connect_errors} loopback connections failed"));
    }
    let outcome = Outcome {
        name: "limits".into(),
        target: "this machine".into(),
        passed: problems.is_empty(),
        problems,
        summary,
        figures: serde_json::to_value(&figures).context("serializing limits")?,
        comparisons: Vec::new(),
    };
    Ok((outcome, figures))
}

/// Copies `bytes` through one loopback connection; the time taken.
fn tcp_copy(bytes: u64) -> anyhow::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> anyhow::Result<u64> {
        let (mut stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        let mut buf = vec![0u8; TCP_BUFFER];
        let mut total = 0u64;
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    });
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let buf = vec![0x5au8; TCP_BUFFER];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(TCP_BUFFER as u64) as usize;
        stream.write_all(&buf[..n])?;
        left -= n as u64;
    }
    stream.shutdown(Shutdown::Write)?;
    let received = reader
        .join()
        .map_err(|_| anyhow!("the TCP reader panicked"))??;
    let elapsed = start.elapsed();
    if received != bytes {
        anyhow::bail!("loopback copy received {received} of {bytes} bytes");
    }
    Ok(elapsed)
}

/// Seals 64 KiB buffers in place with `cipher` until `bytes` are sealed.
fn aead_rate<A: AeadInPlace>(cipher: A, bytes: u64) -> Duration {
    let mut buf = vec![0u8; AEAD_BUFFER];
    let nonce = Nonce::<A>::default();
    let start = Instant::now();
    let mut done = 0u64;
    while done < bytes {
        // Sealing a 64 KiB buffer cannot exceed any AEAD's length limit.
        let tag = cipher
            .encrypt_in_place_detached(&nonce, b"", &mut buf)
            .expect("64 KiB is within the AEAD's limit");
        std::hint::black_box(&tag);
        done += AEAD_BUFFER as u64;
    }
    start.elapsed()
}

/// Size of the request each loopback connection sends (a version-2 header).
const CONNECT_REQUEST: usize = 23;
/// Size of the answer (a version-2 response header).
const CONNECT_ANSWER: usize = 7;

/// Opens `count` loopback connections, `concurrency` at a time, each sending
/// a tiny request and reading a tiny answer before the server closes it;
/// the time taken and the failures.
async fn connect_rate(count: usize, concurrency: usize) -> anyhow::Result<(Duration, usize)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut request = [0u8; CONNECT_REQUEST];
                if stream.read_exact(&mut request).await.is_ok() {
                    let _ = stream.write_all(&[0u8; CONNECT_ANSWER]).await;
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let run = pool::run(count, concurrency, deadline, move |_| async move {
        tokio::time::timeout(IO_TIMEOUT, async {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            stream.write_all(&[2u8; CONNECT_REQUEST]).await?;
            let mut answer = Vec::with_capacity(CONNECT_ANSWER);
            stream.read_to_end(&mut answer).await?;
            anyhow::ensure!(answer.len() == CONNECT_ANSWER, "short answer");
            Ok(())
        })
        .await
        .map_err(|_| anyhow!("timed out"))?
    })
    .await;
    server.abort();
    Ok((run.elapsed, run.errors() + run.not_run()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_copy_moves_every_byte() {
        assert!(tcp_copy(3 * TCP_BUFFER as u64 + 17).is_ok());
    }
}

//! Harness for the end-to-end tests: in-process servers on a real SQLite file
//! in a temporary folder, the real `server` and `client` binaries, and raw
//! protocol connections built from the `protocol` crate.
//!
//! Every server binds `127.0.0.1:0` and reports the port it got; every test
//! owns its server and folder; every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures::SinkExt;
use protocol::codec::ClientCodec;
use protocol::{ClientId, Name, PublicKey, Request, RequestFrame, Response, v2};
use server::{Config, Options};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

mod binaries;
mod client_run;
pub mod cluster_key;

mod raw_v3;
pub mod relay;
mod restart;
mod room_user;
mod start_refused;
mod transfers;

pub use binaries::{binary, server_command};
pub use client_run::{
    client_process, client_process_under, files, open_client, run_client, run_client_crashing_at,
    run_client_with_stdin, texts, untimed, user,
};
pub use pgtemp::Postgres;
/// Reads one whole response (a streamed version-2 pull gathered into one);
/// unbounded, so wrap it in [`bounded`].
pub use protocol::gather::read_response;
pub use raw_v3::{TestIdentity, V3Conn, reason_of};
pub use relay::{Observed, Relay};
pub use room_user::{Book, RoomUser, Seen};
pub use start_refused::server_refusing_to_start;
pub use transfers::{CancelAfter, Recorder, names_in, sha};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// Fails if `f` takes longer than [`WAIT`].
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(WAIT, f)
        .await
        .map_err(|_| anyhow!("timed out after {WAIT:?}: {what}"))
}

/// Reads `lines` (a child's output) until one satisfies `found`; fails,
/// naming `what`, if the output ends first or takes longer than [`WAIT`].
pub async fn wait_for_line<R>(
    what: &str,
    lines: &mut tokio::io::Lines<R>,
    found: impl Fn(&str) -> bool,
) -> anyhow::Result<()>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    bounded(what, async {
        while let Some(line) = lines.next_line().await? {
            if found(&line) {
                return Ok(());
            }
        }
        bail!("the output ended before {what}")
    })
    .await?
}

/// The variable that picks the store engine of [`TestServer::start`]:
/// `sqlite` (or unset) or `postgres` (a throwaway PostgreSQL per server).
/// `.ci/run` runs the delivery and file tests once more with `postgres`.
pub const ENGINE_VAR: &str = "SEALPOST_TEST_ENGINE";

/// A store engine for test servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite in the data folder (the default).
    Sqlite,
    /// A throwaway PostgreSQL of the test's own.
    Postgres,
}

impl Engine {
    /// The engine [`ENGINE_VAR`] names.
    ///
    /// # Errors
    /// It names no engine.
    pub fn from_env() -> anyhow::Result<Engine> {
        match std::env::var(ENGINE_VAR).as_deref() {
            Err(_) | Ok("" | "sqlite") => Ok(Engine::Sqlite),
            Ok("postgres") => Ok(Engine::Postgres),
            Ok(other) => bail!("{ENGINE_VAR}={other:?}: expected sqlite or postgres"),
        }
    }
}

/// A server running in this process on a real database in a temporary folder.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its configuration (data folder included).
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
    /// Its PostgreSQL, when it has one (shared by the nodes of a cluster).
    postgres: Option<Arc<Postgres>>,
}

impl TestServer {
    /// Starts a server with the defaults changed by `adjust`, on the engine
    /// [`ENGINE_VAR`] names.
    pub async fn start(adjust: impl FnOnce(&mut Options)) -> anyhow::Result<TestServer> {
        Self::start_on(Engine::from_env()?, adjust).await
    }

    /// Starts a server on `engine` with the defaults changed by `adjust`.
    pub async fn start_on(
        engine: Engine,
        adjust: impl FnOnce(&mut Options),
    ) -> anyhow::Result<TestServer> {
        let postgres = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(Arc::new(
                tokio::task::spawn_blocking(Postgres::start).await??,
            )),
        };
        let dir = tempfile::tempdir()?;
        let mut options = Options::new(dir.path().join("data"));
        // Tests care about crashes of the process, not of the machine.
        options.durability = server::Durability::Normal;
        options.database = postgres.as_ref().map(|p| p.url());
        adjust(&mut options);
        let mut server = Self::start_with(Config::new(options)?).await?;
        server._dir = Some(dir);
        server.postgres = postgres;
        Ok(server)
    }

    /// Starts one node of a cluster: its own data folder, `postgres` and
    /// the file folder `files` shared with the other nodes.
    pub async fn start_node(
        postgres: &Arc<Postgres>,
        files: &Path,
        adjust: impl FnOnce(&mut Options),
    ) -> anyhow::Result<TestServer> {
        Self::start_node_with(postgres, Some(files), adjust).await
    }

    /// Starts one node of a cluster with its file bodies in the shared
    /// folder `files`, or (`None`) in PostgreSQL.
    pub async fn start_node_with(
        postgres: &Arc<Postgres>,
        files: Option<&Path>,
        adjust: impl FnOnce(&mut Options),
    ) -> anyhow::Result<TestServer> {
        let dir = tempfile::tempdir()?;
        cluster_key::provide(&postgres.url(), &dir.path().join("data"))?;
        let mut options = Options::new(dir.path().join("data"));
        options.durability = server::Durability::Normal;
        options.database = Some(postgres.url());
        options.files_dir = files.map(Path::to_path_buf);
        adjust(&mut options);
        let mut server = Self::start_with(Config::new(options)?).await?;
        server._dir = Some(dir);
        server.postgres = Some(postgres.clone());
        Ok(server)
    }

    /// Starts a server with exactly this configuration.
    pub async fn start_with(config: Config) -> anyhow::Result<TestServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = server::Server::open(config.clone()).await?;
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        Ok(TestServer {
            addr,
            config,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
            postgres: None,
        })
    }

    /// Shuts the server down cleanly and waits for it.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            bounded("server shutdown", task).await???;
        }
        Ok(())
    }

    /// The complete file bodies it stores: `*.blob` files in its folder,
    /// or, with bodies in PostgreSQL, the distinct bodies of the chunk rows
    /// (unfinished uploads' rows included).
    pub async fn bodies(&self) -> anyhow::Result<usize> {
        if !self.config.bodies_in_database() {
            return Ok(blobs_in_folder(&self.config.files_dir()));
        }
        let url = self.config.database.clone().context("no database")?;
        body_rows(&url, "SELECT count(DISTINCT body) FROM body_chunks").await
    }

    /// Whether an upload's body exists: its part file, or chunk rows.
    pub async fn upload_stored(&self, id: &protocol::UploadId) -> anyhow::Result<bool> {
        if !self.config.bodies_in_database() {
            let part = self
                .config
                .files_dir()
                .join("uploads")
                .join(format!("{id}.part"));
            return Ok(part.exists());
        }
        let url = self.config.database.clone().context("no database")?;
        let hex: String = id.0.iter().map(|b| format!("{b:02x}")).collect();
        let query = format!("SELECT count(*) FROM body_chunks WHERE body = '\\x{hex}'::bytea");
        Ok(body_rows(&url, &query).await? > 0)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The real `server` binary running as a child process on port 0.
pub struct ServerProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data folder.
    pub data_dir: PathBuf,
    /// The child.
    pub child: tokio::process::Child,
    /// Lines it logged after the "listening" line.
    pub log: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// Lines it logged before it, the "listening" line included.
    pub startup: Vec<String>,
}

impl ServerProcess {
    /// Starts `server --port 0 --data-dir DIR ARGS...` and waits until it listens.
    pub async fn start(data_dir: &Path, args: &[&str]) -> anyhow::Result<ServerProcess> {
        Self::start_on(data_dir, 0, args).await
    }

    /// Like [`ServerProcess::start`] on a given port (one an earlier start
    /// on port 0 got, to restart a server where clients expect it).
    pub async fn start_on(
        data_dir: &Path,
        port: u16,
        args: &[&str],
    ) -> anyhow::Result<ServerProcess> {
        let mut child = server_command(data_dir, port, args)?
            .spawn()
            .context("starting the server binary")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let mut startup = Vec::new();
        let addr = bounded("server to listen", async {
            while let Some(line) = lines.next_line().await? {
                startup.push(line.clone());
                if let Some(rest) = line.split("address=").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    return Ok::<_, anyhow::Error>(addr.parse::<SocketAddr>()?);
                }
            }
            bail!("the server exited before listening")
        })
        .await??;
        let (tx, log) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(ServerProcess {
            addr,
            data_dir: data_dir.to_path_buf(),
            child,
            log,
            startup,
        })
    }

    /// Peak resident memory of the process so far, in bytes (Linux).
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("server exited")?;
        peak_rss_of(pid)
    }

    /// Kills the process with SIGKILL and waits for it.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        bounded("killed server to exit", self.child.wait()).await??;
        Ok(())
    }

    /// The kill of the crash tests: [`ServerProcess::stop_after`] with
    /// [`Stop::Kill9`].
    ///
    /// The caller keeps no sender of `answered` itself.
    pub async fn kill9_after<T, R>(
        &mut self,
        enough: usize,
        answered: tokio::sync::mpsc::UnboundedReceiver<T>,
        senders: Vec<JoinHandle<R>>,
    ) -> anyhow::Result<(Vec<T>, Vec<R>)> {
        self.stop_after(enough, answered, senders, Stop::Kill9)
            .await
    }

    /// Waits until the senders have reported `enough` answered items on
    /// `answered`, stops the server `how` in the middle of their traffic,
    /// waits for every sender to finish, and returns all that was answered
    /// (what was reported after the stop too) and what each sender
    /// returned, in order.
    ///
    /// The caller keeps no sender of `answered` itself.
    pub async fn stop_after<T, R>(
        &mut self,
        enough: usize,
        mut answered: tokio::sync::mpsc::UnboundedReceiver<T>,
        senders: Vec<JoinHandle<R>>,
        how: Stop,
    ) -> anyhow::Result<(Vec<T>, Vec<R>)> {
        let mut got = Vec::new();
        bounded("answers before the stop", async {
            while got.len() < enough {
                match answered.recv().await {
                    Some(item) => got.push(item),
                    None => bail!("the senders stopped after {} answers", got.len()),
                }
            }
            Ok(())
        })
        .await??;
        match how {
            Stop::Kill9 => self.kill9().await?,
            Stop::Term => self.terminate_cleanly().await?,
        }
        let mut returned = Vec::new();
        for s in senders {
            returned.push(bounded("a sender to stop", s).await??);
        }
        while let Ok(item) = answered.try_recv() {
            got.push(item);
        }
        Ok((got, returned))
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    pub async fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.send_sigterm()?;
        match bounded("server to exit on SIGTERM", self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(e) => {
                // What it logged says whether it saw the signal at all.
                let mut logged = Vec::new();
                while let Ok(line) = self.log.try_recv() {
                    logged.push(line);
                }
                Err(e.context(format!("the server logged: {logged:?}")))
            }
        }
    }

    /// Sends SIGTERM without waiting for the exit.
    pub fn send_sigterm(&self) -> anyhow::Result<()> {
        let pid = self.child.id().context("server exited")?;
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
            .context("sending SIGTERM to the server")?;
        Ok(())
    }

    /// Sends SIGTERM and fails unless the server exits with status 0.
    pub async fn terminate_cleanly(&mut self) -> anyhow::Result<()> {
        let status = self.terminate().await?;
        if !status.success() {
            bail!("the server exited with {status} after SIGTERM");
        }
        Ok(())
    }
}

/// How [`ServerProcess::stop_after`] stops the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL: a crash.
    Kill9,
    /// SIGTERM, expecting a clean exit (status 0) after the drain.
    Term,
}

/// A loopback address that refuses connections: a bound socket that never
/// listens. Unlike a stopped server's port, no other test can take it while
/// the returned socket is kept.
pub fn refusing_address() -> anyhow::Result<(tokio::net::TcpSocket, SocketAddr)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.1:0".parse()?)?;
    let addr = socket.local_addr()?;
    Ok((socket, addr))
}

/// Raises this process's soft limit on open files to at least `needed`
/// (a test with many connections holds both ends of each).
///
/// # Errors
/// The hard limit is lower than `needed`.
pub fn raise_open_files_limit(needed: u64) -> anyhow::Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        bail!("this test needs {needed} open files; the hard limit is {hard} (raise `ulimit -Hn`)");
    }
    setrlimit(Resource::RLIMIT_NOFILE, needed, hard)?;
    Ok(())
}

/// Peak resident memory (VmHWM) of a process, in bytes.
pub fn peak_rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM in /proc status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmHWM")?
        .parse()?;
    Ok(kib * 1024)
}

/// A raw connection speaking frames through the client codec.
pub type RawConn = Framed<TcpStream, ClientCodec>;

/// Opens a raw connection.
pub async fn connect(addr: SocketAddr) -> anyhow::Result<RawConn> {
    let stream = bounded("connect", TcpStream::connect(addr)).await??;
    stream.set_nodelay(true)?;
    Ok(Framed::new(stream, ClientCodec::default()))
}

/// One version-2 request on its own connection, as the reference client does.
pub async fn v2_call(
    addr: SocketAddr,
    client_id: ClientId,
    request: v2::Request,
) -> anyhow::Result<v2::Response> {
    let mut conn = connect(addr).await?;
    bounded(
        "send a request",
        conn.send(
            RequestFrame {
                client_id,
                request: Request::V2(request),
            }
            .into(),
        ),
    )
    .await??;
    match bounded("a response", read_response(&mut conn)).await?? {
        Some(Response::V2(r)) => Ok(r),
        Some(other) => bail!("expected a version-2 response, got {other:?}"),
        None => bail!("the server closed without answering"),
    }
}

/// Registers a name over version 2 with a patterned 160-byte key.
pub async fn v2_register(addr: SocketAddr, name: &str) -> anyhow::Result<ClientId> {
    let request = v2::Request::Register(v2::Register {
        name: Name::new(name)?,
        public_key: PublicKey([name.len() as u8; 160]),
    });
    match v2_call(addr, ClientId::NIL, request).await? {
        v2::Response::Registered(id) => Ok(id),
        other => bail!("register {name}: {other:?}"),
    }
}

/// Deterministic pseudo-random bytes, so that large bodies need not be stored.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// One count from PostgreSQL at `url` (a test's look at the chunk rows).
///
/// # Errors
/// The database cannot be reached or the query fails.
pub async fn body_rows(url: &str, count_query: &str) -> anyhow::Result<usize> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(connection);
    let n: i64 = client.query_one(count_query, &[]).await?.get(0);
    drop(client);
    let _ = task.await;
    Ok(n as usize)
}

/// The blobs in a server's data folder (`files/*.blob`).
pub fn blobs_in(data: &Path) -> usize {
    blobs_in_folder(&data.join("files"))
}

/// The blobs (`*.blob`) in a file folder.
pub fn blobs_in_folder(files: &Path) -> usize {
    std::fs::read_dir(files)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".blob")
        })
        .count()
}

/// The passphrase every test home is encrypted with: the suite runs the
/// client as a user would, its stores under SQLCipher (the client binary
/// reads it from `SEALPOST_PASSPHRASE`).
pub const TEST_PASSPHRASE: &str = "e2e test passphrase";

/// [`TEST_PASSPHRASE`] as a library client's protection.
pub fn test_protection() -> client::keystore::Protection {
    client::keystore::Protection::passphrase(TEST_PASSPHRASE)
}

/// The client's `store.db` in `home` opened with SQLCipher's key from
/// [`TEST_PASSPHRASE`], for tests that look at rows the library does not show.
///
/// # Panics
/// If the store does not open with the test passphrase.
pub fn open_store_db(home: &Path) -> rusqlite::Connection {
    use client::keystore::atrest;
    let key = atrest::unlock(home, &test_protection()).unwrap();
    let db = rusqlite::Connection::open(home.join(client::keystore::STORE_FILE)).unwrap();
    atrest::apply_key(&db, key.as_ref()).unwrap();
    db
}

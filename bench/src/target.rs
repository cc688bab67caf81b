//! The servers a scenario drives: one in this process on its own runtime,
//! the real `server` binary (or the Python reference stand-in) as a child
//! process, or one already running at an address. Every server this module
//! starts binds 127.0.0.1 on port 0, keeps its data in a temporary folder,
//! and is stopped (a child: killed) when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use server::{Config, Options};
use tokio::sync::oneshot;

use clap::ValueEnum;

/// Commit durability of a server the run starts.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum DurabilityArg {
    /// fsync every commit (the product's default).
    #[default]
    Full,
    /// Let the OS write the log.
    Normal,
}

/// Worker threads of an in-process server's runtime (the machine has two cores).
pub const SERVER_THREADS: usize = 2;
/// How long a server may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A server a scenario talks to.
pub enum Target {
    /// In this process, on its own runtime.
    InProcess(InProcessServer),
    /// A child process this run started.
    Child(ChildServer),
    /// Already running; this run neither starts nor stops it.
    External(SocketAddr),
}

impl Target {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Target::InProcess(s) => s.addr,
            Target::Child(c) => c.addr,
            Target::External(a) => *a,
        }
    }

    /// The process whose memory is the server's, when it is a process of
    /// its own.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Target::Child(c) => Some(c.pid()),
            Target::InProcess(_) | Target::External(_) => None,
        }
    }

    /// The server's data folder (its database is `server.db` there), when
    /// this run made it.
    pub fn data_dir(&self) -> Option<PathBuf> {
        match self {
            Target::InProcess(s) => Some(s.dir.path().join("data")),
            Target::Child(c) => c.data_dir(),
            Target::External(_) => None,
        }
    }

    /// `in-process`, `child process (server)`, or the address.
    pub fn describe(&self) -> String {
        match self {
            Target::InProcess(_) => "in-process server".into(),
            Target::Child(c) => format!("child process {}", c.what),
            Target::External(a) => format!("external server at {a}"),
        }
    }

    /// Stops what this run started.
    ///
    /// # Errors
    /// An in-process server failed while stopping.
    pub fn stop(self) -> anyhow::Result<()> {
        match self {
            Target::InProcess(s) => s.stop(),
            Target::Child(c) => {
                drop(c);
                Ok(())
            }
            Target::External(_) => Ok(()),
        }
    }
}

/// A server running on its own runtime in this process, on a temporary folder.
pub struct InProcessServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    dir: tempfile::TempDir,
}

impl InProcessServer {
    /// Starts a server with the defaults changed by `adjust`.
    ///
    /// # Errors
    /// The folder, socket, runtime or database cannot be set up.
    pub fn start(adjust: impl FnOnce(&mut Options)) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut options = Options::new(dir.path().join("data"));
        adjust(&mut options);
        let config = Config::new(options)?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready) = mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("server-main".into())
            .spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(SERVER_THREADS)
                    .thread_name("server")
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    let server = match server::Server::open(config).await {
                        Ok(s) => {
                            let _ = ready_tx.send(Ok(()));
                            s
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("{e:#}")));
                            return Err(e);
                        }
                    };
                    server
                        .serve(listener, async {
                            let _ = stopped.await;
                        })
                        .await
                })
            })?;
        match ready.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("in-process server failed to open: {e}"),
            Err(_) => bail!("in-process server did not open within {START_TIMEOUT:?}"),
        }
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
            dir,
        })
    }

    /// Shuts the server down (it drains for at most its grace period).
    ///
    /// # Errors
    /// The server reported an error.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .map_err(|_| anyhow!("the in-process server panicked"))??;
        }
        Ok(())
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Err(e) = self.stop_inner() {
            tracing::warn!(error = %e, "in-process server stopped with an error");
        }
    }
}

/// The configuration of an in-process server with this durability.
pub fn durability(d: DurabilityArg) -> server::Durability {
    match d {
        DurabilityArg::Full => server::Durability::Full,
        DurabilityArg::Normal => server::Durability::Normal,
    }
}

/// A server running as a child process; killed (SIGKILL) when dropped.
pub struct ChildServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it is, for reports.
    pub what: String,
    child: Child,
    dir: Option<tempfile::TempDir>,
}

impl ChildServer {
    /// Starts `command` (stderr piped) and waits for its `address=HOST:PORT`
    /// log line, as the `server` binary prints when it listens. Later lines
    /// are read and dropped so that the pipe never fills.
    ///
    /// # Errors
    /// It cannot start, or exits or stays silent before listening.
    pub fn spawn(
        mut command: Command,
        what: &str,
        dir: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child =
            crate::cores::spawn(&mut command).with_context(|| format!("starting {what}"))?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let (tx, rx) = mpsc::channel::<SocketAddr>();
        std::thread::Builder::new()
            .name("child-log".into())
            .spawn(move || {
                let mut sent = false;
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if !sent {
                        if let Some(addr) = parse_listening(&line) {
                            sent = tx.send(addr).is_ok();
                        }
                    } else if line.contains("ERROR") || line.contains("Traceback") {
                        eprintln!("[server] {line}");
                    }
                }
            })?;
        let mut server = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            what: what.to_string(),
            child,
            dir,
        };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => server.addr = addr,
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                bail!("{what} did not report a listening address (exit status: {status:?})");
            }
        }
        Ok(server)
    }

    /// Starts `command`, which says nothing of where it listens, and waits
    /// until `addr` accepts a connection (the child's output is discarded).
    ///
    /// # Errors
    /// It does not start, exits, or does not listen within [`START_TIMEOUT`].
    pub fn spawn_listening_at(
        mut command: Command,
        what: &str,
        dir: Option<tempfile::TempDir>,
        addr: SocketAddr,
    ) -> anyhow::Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child =
            crate::cores::spawn(&mut command).with_context(|| format!("starting {what}"))?;
        let mut server = Self {
            addr,
            what: what.to_string(),
            child,
            dir,
        };
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("{what} exited before it listened ({status})");
            }
            if std::time::Instant::now() >= deadline {
                bail!("{what} did not listen on {addr} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its data folder, when this run made it.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("data"))
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in a `... address=127.0.0.1:4242 ...` log line.
fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = line.split("address=").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The `server` binary: `explicit`, or `server` next to this executable
/// (both are in `target/release` after `cargo build --release`).
///
/// # Errors
/// Neither exists.
pub fn server_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    sibling_binary("server", "sealpost-server", explicit)
}

/// The binary `name` of package `package`: `explicit`, or next to this
/// executable.
///
/// # Errors
/// Neither exists.
pub fn sibling_binary(
    name: &str,
    package: &str,
    explicit: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if path.exists() {
            return Ok(path.to_path_buf());
        }
        bail!("no {name} binary at {}", path.display());
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("executable has no folder")?;
    // Test and bench executables live one level down, in deps/.
    if dir.ends_with("deps") {
        dir = dir.parent().context("deps/ has no parent")?;
    }
    let path = dir.join(name);
    if path.exists() {
        Ok(path)
    } else {
        bail!(
            "no {name} binary at {}; build it with `cargo build --release -p {package}` \
             or pass its path",
            path.display()
        )
    }
}

/// Starts the real `server` binary on 127.0.0.1, port 0, a temporary data
/// folder, and `extra` flags.
///
/// # Errors
/// See [`ChildServer::spawn`].
pub fn spawn_server(
    binary: &Path,
    durability: DurabilityArg,
    extra: &[String],
) -> anyhow::Result<ChildServer> {
    let dir = tempfile::tempdir()?;
    let mut command = Command::new(binary);
    command
        .args(["--port", "0", "--bind", "127.0.0.1", "--log-level", "info"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "--durability",
            match durability {
                DurabilityArg::Full => "full",
                DurabilityArg::Normal => "normal",
            },
        ])
        .args(extra);
    ChildServer::spawn(command, "server (release binary)", Some(dir))
}

/// Starts the real `server` binary as one node of a cluster: PostgreSQL at
/// `database`, file bodies in the shared `files` folder, its own temporary
/// data folder holding a copy of `key` (the cluster's one identity) when
/// given; without it the node creates the identity the others then copy.
///
/// # Errors
/// The key cannot be copied, or see [`ChildServer::spawn`].
pub fn spawn_node(
    binary: &Path,
    database: &str,
    files: Option<&Path>,
    key: Option<&Path>,
) -> anyhow::Result<ChildServer> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    if let Some(key) = key {
        let copy = data.join("server.key");
        std::fs::copy(key, &copy).with_context(|| format!("copying {}", key.display()))?;
        std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    }
    let mut command = Command::new(binary);
    command
        .args(["--port", "0", "--bind", "127.0.0.1", "--log-level", "info"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--database")
        .arg(database);
    if let Some(files) = files {
        command.arg("--files-dir").arg(files);
    }
    ChildServer::spawn(
        command,
        "server node (release binary, PostgreSQL)",
        Some(dir),
    )
}

/// Starts the Python reference stand-in on 127.0.0.1, port 0, in a
/// temporary folder.
///
/// # Errors
/// python3 or the script is missing, or it does not start.
pub fn spawn_reference(script: Option<&Path>) -> anyhow::Result<ChildServer> {
    let script = match script {
        Some(p) => p.to_path_buf(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/server.py"),
    };
    if !script.exists() {
        bail!("no reference stand-in at {}", script.display());
    }
    let dir = tempfile::tempdir()?;
    let mut command = Command::new("python3");
    command
        .arg(&script)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .arg("--db")
        .arg(dir.path().join("server.db"))
        .arg("--files")
        .arg(dir.path().join("files"));
    ChildServer::spawn(command, "reference stand-in (python3)", Some(dir))
}

/// Memory figures of a process from /proc/PID/status, in bytes.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ProcMemory {
    /// Resident set size now (VmRSS).
    pub rss: u64,
    /// Peak resident set size (VmHWM).
    pub peak_rss: u64,
}

/// Reads VmRSS and VmHWM of `pid` (Linux).
///
/// # Errors
/// The process is gone or the file has no such fields.
pub fn proc_memory(pid: u32) -> anyhow::Result<ProcMemory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .with_context(|| format!("malformed {name}"))?
            .parse()?;
        Ok(kib * 1024)
    };
    Ok(ProcMemory {
        rss: field("VmRSS:")?,
        peak_rss: field("VmHWM:")?,
    })
}

/// CPU time and storage writes of a process so far, from /proc/PID/stat
/// and /proc/PID/io (Linux).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcWork {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Bytes the process caused to be written to storage (`write_bytes`).
    pub write_bytes: u64,
}

impl ProcWork {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &ProcWork) -> ProcWork {
        ProcWork {
            cpu_seconds: self.cpu_seconds - earlier.cpu_seconds,
            write_bytes: self.write_bytes.saturating_sub(earlier.write_bytes),
        }
    }
}

/// Reads the CPU time and storage writes of `pid` so far.
///
/// # Errors
/// The process is gone or a file is malformed.
pub fn proc_work(pid: u32) -> anyhow::Result<ProcWork> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3;
    // utime and stime are fields 14 and 15, in clock ticks.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields
            .get(i)
            .context("short /proc/PID/stat")?
            .parse::<u64>()?)
    };
    // Linux reports these in USER_HZ, 100 on every architecture it supports.
    let cpu_seconds = (ticks(11)? + ticks(12)?) as f64 / 100.0;
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))
        .with_context(|| format!("reading /proc/{pid}/io"))?;
    let write_bytes = io
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .context("no write_bytes in /proc/PID/io")?
        .trim()
        .parse()?;
    Ok(ProcWork {
        cpu_seconds,
        write_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        let line = "2025-01-01T00:00:00Z  INFO listening address=127.0.0.1:4242 fingerprint=ab";
        assert_eq!(
            parse_listening(line),
            Some("127.0.0.1:4242".parse().unwrap())
        );
        assert_eq!(parse_listening("INFO something else"), None);
    }
}

//! Harness for the end-to-end tests: in-process servers on a real SQLite file
//! in a temporary folder, the real `server` and `client` binaries, and raw
//! protocol connections built from the `protocol` crate.
//!
//! Every server binds `127.0.0.1:0` and reports the port it got; every test
//! owns its server and folder; every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use futures::{SinkExt, StreamExt};
use protocol::auth::{client_proof_message, server_proof_message};
use protocol::bundle::KeyBundle;
use protocol::codec::{ClientCodec, ResponseItem};
use protocol::{ClientId, Name, PublicKey, Request, RequestFrame, Response, v2, v3};
use server::{Config, Options};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

mod binaries;
pub mod relay;

pub use binaries::binary;
/// Reads one whole response (a streamed version-2 pull gathered into one);
/// unbounded, so wrap it in [`bounded`].
pub use protocol::gather::read_response;
pub use relay::{Observed, Relay};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// Fails if `f` takes longer than [`WAIT`].
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(WAIT, f)
        .await
        .map_err(|_| anyhow!("timed out after {WAIT:?}: {what}"))
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
}

impl TestServer {
    /// Starts a server with the defaults changed by `adjust`.
    pub async fn start(adjust: impl FnOnce(&mut Options)) -> anyhow::Result<TestServer> {
        let dir = tempfile::tempdir()?;
        let mut options = Options::new(dir.path().join("data"));
        // Tests care about crashes of the process, not of the machine.
        options.durability = server::Durability::Normal;
        adjust(&mut options);
        let mut server = Self::start_with(Config::new(options)?).await?;
        server._dir = Some(dir);
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

    /// Stops the server and starts it again on the same data (new port).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        let dir = self._dir.take();
        let mut fresh = Self::start_with(self.config.clone()).await?;
        fresh._dir = dir;
        *self = fresh;
        Ok(())
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
        let mut child = tokio::process::Command::new(binary("server")?)
            .arg("--port")
            .arg(port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the server binary")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = bounded("server to listen", async {
            while let Some(line) = lines.next_line().await? {
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

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    pub async fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.send_sigterm()?;
        Ok(bounded("server to exit on SIGTERM", self.child.wait()).await??)
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

/// A test user's keys: an Ed25519 identity and a signed bundle.
pub struct TestIdentity {
    /// The identity key.
    pub signing: SigningKey,
    /// The 160-byte bundle.
    pub bundle: PublicKey,
}

impl TestIdentity {
    /// Fresh random keys.
    pub fn generate() -> Self {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        let dh = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
        let prekey = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
        let identity_key = signing.verifying_key().to_bytes();
        let dh_identity_key = x25519_dalek::PublicKey::from(&dh).to_bytes();
        let signed_prekey = x25519_dalek::PublicKey::from(&prekey).to_bytes();
        let signature = signing
            .sign(&KeyBundle::signed_message_for(
                &identity_key,
                &dh_identity_key,
                &signed_prekey,
            ))
            .to_bytes();
        let bundle = KeyBundle {
            identity_key,
            dh_identity_key,
            signed_prekey,
            signature,
        }
        .to_public_key();
        Self { signing, bundle }
    }
}

/// A raw version-3 connection that keeps pushed deliveries aside.
pub struct V3Conn {
    /// The framed socket.
    pub conn: RawConn,
    /// The id in request headers.
    pub client_id: ClientId,
    /// Pushed deliveries received while waiting for answers.
    pub pushed: std::collections::VecDeque<v3::Delivery>,
    /// A closing notice, if the server sent one.
    pub closing: Option<v3::ServerError>,
    /// The server key seen in the last challenge.
    pub server_key: Option<[u8; 32]>,
}

impl V3Conn {
    /// Opens a connection.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<V3Conn> {
        Ok(V3Conn {
            conn: connect(addr).await?,
            client_id: ClientId::NIL,
            pushed: Default::default(),
            closing: None,
            server_key: None,
        })
    }

    /// Sends a request without waiting.
    pub async fn send(&mut self, request: v3::Request) -> anyhow::Result<()> {
        let frame = RequestFrame {
            client_id: self.client_id,
            request: Request::V3(request),
        };
        bounded("send", self.conn.send(frame.into())).await??;
        Ok(())
    }

    /// Queues a request without flushing.
    pub async fn feed(&mut self, request: v3::Request) -> anyhow::Result<()> {
        let frame = RequestFrame {
            client_id: self.client_id,
            request: Request::V3(request),
        };
        bounded("feed", self.conn.feed(frame.into())).await??;
        Ok(())
    }

    /// The next frame of any kind; `None` when the server closed.
    pub async fn next_frame(&mut self) -> anyhow::Result<Option<v3::Response>> {
        match read_response(&mut self.conn).await? {
            Some(Response::V3(r)) => Ok(Some(r)),
            Some(other) => bail!("expected version 3, got {other:?}"),
            None => Ok(None),
        }
    }

    /// The next answer to a request, setting pushes and closing notices aside.
    pub async fn answer(&mut self) -> anyhow::Result<v3::Response> {
        loop {
            match self.next_frame().await? {
                Some(v3::Response::Delivery(d)) => self.pushed.push_back(d),
                Some(v3::Response::Closing(e)) => self.closing = Some(e),
                Some(r) => return Ok(r),
                None => bail!("the server closed the connection"),
            }
        }
    }

    /// Sends a request and returns its answer.
    pub async fn call(&mut self, request: v3::Request) -> anyhow::Result<v3::Response> {
        self.send(request).await?;
        self.answer().await
    }

    /// The next pushed delivery.
    pub async fn next_push(&mut self) -> anyhow::Result<v3::Delivery> {
        if let Some(d) = self.pushed.pop_front() {
            return Ok(d);
        }
        match self.next_frame().await? {
            Some(v3::Response::Delivery(d)) => Ok(d),
            Some(v3::Response::Closing(e)) => bail!("server closing: {e}"),
            Some(other) => bail!("expected a push, got {other:?}"),
            None => bail!("the server closed the connection"),
        }
    }

    /// Whether the server closes the connection (reads until end of stream).
    pub async fn expect_closed(&mut self) -> anyhow::Result<()> {
        loop {
            match bounded("connection to close", self.conn.next()).await? {
                None | Some(Err(_)) => return Ok(()),
                Some(Ok(ResponseItem::Response(Response::V3(v3::Response::Closing(e))))) => {
                    self.closing = Some(e);
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Registers `name` with `identity`'s bundle; returns the new id.
    pub async fn register(
        &mut self,
        name: &str,
        identity: &TestIdentity,
    ) -> anyhow::Result<ClientId> {
        let response = self
            .call(v3::Request::Register(v3::Register {
                name: Name::new(name)?,
                public_key: identity.bundle,
            }))
            .await?;
        match response {
            v3::Response::Registered(id) => Ok(id),
            other => bail!("register {name}: {other:?}"),
        }
    }

    /// Says hello as `id` and checks the server's proof; returns the challenge.
    pub async fn hello(
        &mut self,
        id: ClientId,
        client_nonce: [u8; 32],
    ) -> anyhow::Result<v3::Challenge> {
        self.client_id = id;
        match self
            .call(v3::Request::Hello(v3::Hello { client_nonce }))
            .await?
        {
            v3::Response::Challenge(c) => {
                let key = ed25519_dalek::VerifyingKey::from_bytes(&c.server_key)?;
                key.verify_strict(
                    &server_proof_message(&id, &client_nonce, &c.server_nonce),
                    &ed25519_dalek::Signature::from_bytes(&c.signature),
                )
                .context("the server's proof does not verify")?;
                self.server_key = Some(c.server_key);
                Ok(c)
            }
            other => bail!("hello: {other:?}"),
        }
    }

    /// The signature answering `challenge` for `id` with `signing`.
    pub fn proof(
        signing: &SigningKey,
        id: ClientId,
        client_nonce: &[u8; 32],
        challenge: &v3::Challenge,
    ) -> [u8; 64] {
        signing
            .sign(&client_proof_message(
                &challenge.server_key,
                &id,
                client_nonce,
                &challenge.server_nonce,
            ))
            .to_bytes()
    }

    /// The whole handshake as `id`.
    pub async fn authenticate(
        &mut self,
        id: ClientId,
        identity: &TestIdentity,
    ) -> anyhow::Result<v3::ServerLimits> {
        let nonce: [u8; 32] = rand::random();
        let challenge = self.hello(id, nonce).await?;
        let proof = Self::proof(&identity.signing, id, &nonce, &challenge);
        match self.call(v3::Request::Authenticate(proof)).await? {
            v3::Response::Authenticated(limits) => Ok(limits),
            other => bail!("authenticate: {other:?}"),
        }
    }

    /// Opens a connection, registers `name` and authenticates.
    pub async fn new_user(addr: SocketAddr, name: &str) -> anyhow::Result<(V3Conn, TestIdentity)> {
        let identity = TestIdentity::generate();
        let mut conn = V3Conn::open(addr).await?;
        let id = conn.register(name, &identity).await?;
        conn.authenticate(id, &identity).await?;
        Ok((conn, identity))
    }

    /// Opens another authenticated connection of the same user.
    pub async fn again(&self, addr: SocketAddr, identity: &TestIdentity) -> anyhow::Result<V3Conn> {
        let mut conn = V3Conn::open(addr).await?;
        conn.authenticate(self.client_id, identity).await?;
        Ok(conn)
    }

    /// Sends a text (type 3) and returns its message id.
    pub async fn send_text(&mut self, to: ClientId, content: &[u8]) -> anyhow::Result<u64> {
        match self
            .call(v3::Request::SendMessage(v3::SendMessage {
                destination: to,
                kind: protocol::MessageKind::Text,
                content: Bytes::copy_from_slice(content),
            }))
            .await?
        {
            v3::Response::MessageStored(m) => Ok(m.message_id),
            other => bail!("send: {other:?}"),
        }
    }

    /// Pulls a batch.
    pub async fn pull(&mut self) -> anyhow::Result<v3::MessageBatch> {
        match self.call(v3::Request::Pull(v3::Pull::default())).await? {
            v3::Response::Messages(b) => Ok(b),
            other => bail!("pull: {other:?}"),
        }
    }

    /// Acknowledges ids; returns their statuses.
    pub async fn ack(&mut self, ids: Vec<u64>) -> anyhow::Result<Vec<v3::AckStatus>> {
        match self.call(v3::Request::Ack(ids)).await? {
            v3::Response::Acked(s) => Ok(s),
            other => bail!("ack: {other:?}"),
        }
    }
}

/// The reason of a version-3 error answer, or a failure describing what came instead.
pub fn reason_of(response: &v3::Response) -> anyhow::Result<protocol::ErrorReason> {
    match response {
        v3::Response::Error(e) => Ok(e.reason),
        other => bail!("expected an error, got {other:?}"),
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

/// A client in `home` for `server`, registered as `name` (one process can
/// hold several users, each in its own home).
///
/// # Panics
/// If the client cannot open its store or register: the test cannot go on.
pub async fn user(server: &str, home: &Path, name: &str) -> client::Client {
    let c = client::Client::open(client::ClientConfig {
        home: home.to_path_buf(),
        server: server.to_string(),
        accept_server_key: false,
    })
    .await
    .unwrap();
    c.register(name).await.unwrap();
    c
}

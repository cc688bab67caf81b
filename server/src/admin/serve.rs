//! The server's side of the operator's socket: binding it (replacing a
//! stale one: the data folder's lock says no other server uses it), the
//! peer check, one request per connection, and the answers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use protocol::ClientId;

use super::{Answer, MAX_REQUEST, Removed, Request, SOCKET_FILE, Status, User};
use crate::error::StoreError;
use crate::presence::NODE_TIMEOUT;
use crate::removal::{RemovedBy, remove_account};
use crate::shared::Shared;

/// How long a connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The bound socket, served once the server runs.
pub(crate) struct AdminSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl AdminSocket {
    /// Binds `<data_dir>/admin.sock`, mode 0600.
    pub(crate) fn bind(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(SOCKET_FILE);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Self { listener, path })
    }

    /// Answers operators until the server shuts down, then removes the
    /// socket.
    pub(crate) async fn run(self, shared: Arc<Shared>) {
        let me = rustix::process::geteuid().as_raw();
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                () = shared.shutdown.cancelled() => break,
            };
            let stream = match accepted {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "admin socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            match stream.peer_cred() {
                Ok(cred) if cred.uid() == me || cred.uid() == 0 => {}
                Ok(cred) => {
                    tracing::warn!(uid = cred.uid(), "admin socket: refused another user");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "admin socket: no peer credentials");
                    continue;
                }
            }
            tokio::spawn(serve_one(stream, shared.clone()));
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve_one(stream: UnixStream, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let read = tokio::time::timeout(
        REQUEST_TIMEOUT,
        (&mut reader)
            .take(MAX_REQUEST as u64)
            .read_until(b'\n', &mut line),
    )
    .await;
    let mut stream = reader.into_inner();
    let request = match read {
        Ok(Ok(_)) if line.ends_with(b"\n") => serde_json::from_slice::<Request>(&line)
            .map_err(|e| format!("not a request the server knows: {e}")),
        Ok(Ok(_)) => Err(format!(
            "a request is one line of at most {MAX_REQUEST} bytes"
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no request in time".into()),
    };
    let request = match request {
        Ok(r) => r,
        Err(text) => return answer::<()>(&mut stream, Err(text)).await,
    };
    tracing::info!(?request, "operator request");
    match request {
        Request::Status => answer(&mut stream, status(&shared).await).await,
        Request::Users => answer(&mut stream, users(&shared).await).await,
        Request::RemoveUser { name } => answer(&mut stream, remove(&shared, &name).await).await,
        Request::Backup => super::backup::serve(stream, shared).await,
        Request::Latency { reset } => {
            answer(
                &mut stream,
                Ok::<_, NotDone>(crate::timing::breakdown(reset)),
            )
            .await;
        }
    }
}

/// Why a request was not done: refused, in the server's words (a string),
/// or failed inside the server ([`failed`]).
pub(super) enum NotDone {
    Refused(String),
    Failed(String),
}

impl From<String> for NotDone {
    fn from(refusal: String) -> Self {
        NotDone::Refused(refusal)
    }
}

/// A failure of the store, not a refusal of the request.
fn failed(e: impl std::fmt::Display) -> NotDone {
    NotDone::Failed(e.to_string())
}

/// Writes the answer line.
pub(super) async fn answer<T: serde::Serialize>(
    stream: &mut UnixStream,
    result: Result<T, impl Into<NotDone>>,
) {
    let answer = match result.map_err(Into::into) {
        Ok(v) => Answer::Ok(v),
        Err(NotDone::Refused(e)) => Answer::Error(e),
        Err(NotDone::Failed(e)) => Answer::Failed(e),
    };
    let mut line = serde_json::to_vec(&answer).unwrap_or_else(|e| {
        format!("{{\"error\":\"could not encode the answer: {e}\"}}").into_bytes()
    });
    line.push(b'\n');
    if let Err(e) = stream.write_all(&line).await {
        tracing::debug!(error = %e, "operator went away before the answer");
    }
}

/// The clients with an authenticated session on any node: this node's
/// own now, the others' as they last told (within a heartbeat).
async fn online(shared: &Shared) -> Result<HashSet<ClientId>, StoreError> {
    let mut online: HashSet<ClientId> = shared
        .store
        .connected_elsewhere(NODE_TIMEOUT)
        .await?
        .into_iter()
        .collect();
    online.extend(shared.sessions.clients());
    Ok(online)
}

/// What only the database knows for a status.
struct FromDatabase {
    online: HashSet<ClientId>,
    totals: crate::store::Totals,
    nodes: Vec<String>,
}

async fn from_database(shared: &Shared) -> Result<FromDatabase, StoreError> {
    Ok(FromDatabase {
        online: online(shared).await?,
        totals: shared.store.totals().await?,
        nodes: shared.store.live_nodes(NODE_TIMEOUT).await?,
    })
}

/// A failure of a cluster's database in one line an operator can act on;
/// any other store failure as it is.
fn database_failed(shared: &Shared, e: &StoreError) -> String {
    let why = e.to_string().replace('\n', " ");
    if shared.store.is_shared() {
        format!(
            "the cluster's PostgreSQL database cannot be reached from this node ({why}); \
             the node serves {} connections meanwhile",
            shared.sessions.connections()
        )
    } else {
        why
    }
}

async fn status(shared: &Shared) -> Result<Status, NotDone> {
    let (db, database_error) = match from_database(shared).await {
        Ok(db) => (Some(db), None),
        // What the node knows of itself still answers; SQLite is this
        // process's own file, whose failure is the server's.
        Err(e) if shared.store.is_shared() => {
            tracing::warn!(error = %e, "status: the database cannot be read");
            (None, Some(database_failed(shared, &e)))
        }
        Err(e) => return Err(failed(e)),
    };
    let (disk_free, disk_reserve) = shared.store.disk().unwrap_or((0, 0));
    let config = &shared.config;
    let totals = db.as_ref().map(|d| &d.totals);
    Ok(Status {
        version: env!("CARGO_PKG_VERSION").into(),
        fingerprint: shared.identity.fingerprint(),
        uptime_seconds: shared.sessions.uptime_secs(),
        node: shared.store.node_name().map(str::to_owned),
        nodes: db.as_ref().map(|d| d.nodes.clone()).unwrap_or_default(),
        connections: shared.sessions.connections(),
        users_online: match &db {
            Some(d) => d.online.len(),
            None => shared.sessions.clients().len(),
        },
        database_reachable: db.is_some(),
        database_error,
        users_registered: totals.map(|t| t.accounts),
        messages_waiting: totals.map(|t| t.messages),
        bytes_waiting: totals.map(|t| t.message_bytes),
        uploads_in_progress: totals.map(|t| t.uploads),
        upload_bytes_received: totals.map(|t| t.upload_bytes_received),
        storage_used: totals.map(crate::store::Totals::storage_used),
        max_storage: config.max_storage_bytes,
        inbox_max_messages: config.inbox_max_messages,
        inbox_max_bytes: config.inbox_max_bytes,
        sender_max_bytes: config.sender_max_bytes,
        disk_free,
        disk_reserve,
    })
}

async fn users(shared: &Shared) -> Result<Vec<User>, NotDone> {
    let found =
        async { Ok::<_, StoreError>((online(shared).await?, shared.store.accounts().await?)) };
    let (online, accounts) = found
        .await
        .map_err(|e| NotDone::Failed(database_failed(shared, &e)))?;
    Ok(accounts
        .into_iter()
        .map(|a| User {
            online: online.contains(&a.id),
            id: a.id.to_string(),
            name: a.name,
            protocol: a.protocol.code(),
            registered_at_ms: a.registered_at_ms,
            last_seen_ms: a.last_seen_ms,
            messages_waiting: a.messages,
            bytes_waiting: a.bytes,
        })
        .collect())
}

async fn remove(shared: &Shared, name: &str) -> Result<Removed, NotDone> {
    // Names are stored in NFC, as registration and lookups normalise them:
    // an operator's terminal may well type the decomposed form.
    let name = crate::names::normalise(name);
    remove_account(shared, &name, RemovedBy::Operator)
        .await
        .map_err(failed)?
        // Quoted as typed, not in Rust's escapes (`e\u{301}mile`); control
        // characters are still escaped.
        .ok_or_else(|| format!("no account is named \"{}\"", name.escape_debug()).into())
}

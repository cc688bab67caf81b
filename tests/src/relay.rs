//! A loopback TCP relay between clients and a server, for what a test must
//! see or break on the wire: it can cut the first connection once after a
//! number of bytes, send new connections to another server (an impostor on
//! the same address), and it records the upload traffic, the deliveries
//! pushed and the pulls it carried, decoded with the `protocol` crate, so
//! that a test can check where a resumed upload continued. Started [`Relay::framewise`], it forwards whole
//! requests only and can hold one back ([`Relay::hold_next`]) until the
//! test lets it go, so that a test can order what reaches the server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use protocol::codec::{ClientCodec, Inbound, ResponseItem, ServerCodec};
use protocol::{Request, RequestCode, Response, v3};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::codec::Decoder;

use crate::bounded;

/// Upload traffic the relay carried; `conn` numbers connections from 0 in
/// the order they were accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// An upload chunk the server received whole.
    Chunk {
        /// Connection.
        conn: usize,
        /// Where it goes.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// A resume request.
    Resume {
        /// Connection.
        conn: usize,
    },
    /// The server's upload status (answer to begin or resume).
    Status {
        /// Connection.
        conn: usize,
        /// The offset the server said to continue from.
        offset: u64,
    },
    /// The server stored a chunk.
    Stored {
        /// Connection.
        conn: usize,
        /// Where the next chunk goes.
        next_offset: u64,
    },
    /// The server completed the upload.
    FileSent {
        /// Connection.
        conn: usize,
    },
    /// A delivery pushed to the client, passed on whole.
    Delivery {
        /// Connection.
        conn: usize,
        /// The message.
        message_id: u64,
    },
    /// A pull of waiting messages that the server received.
    Pull {
        /// Connection.
        conn: usize,
    },
}

struct State {
    target: Mutex<SocketAddr>,
    /// Cut the first connection that carries more than this many bytes
    /// upstream; `u64::MAX` for never.
    cut_after: AtomicU64,
    armed: AtomicBool,
    cuts: AtomicU64,
    connections: AtomicUsize,
    log: watch::Sender<Vec<Observed>>,
    /// Forward whole requests only (needed to hold one).
    framewise: bool,
    /// The next request of this code is held; `None` once it is.
    hold: Mutex<Option<RequestCode>>,
    /// Whether a request is held now.
    held: watch::Sender<bool>,
}

impl State {
    fn record(&self, seen: Observed) {
        self.log.send_modify(|log| log.push(seen));
    }
}

/// The relay; it stops when dropped.
pub struct Relay {
    /// Where clients connect.
    pub addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Relays every connection to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Relay> {
        Self::start_with(target, false).await
    }

    /// Relays every connection to `target` a whole request at a time, so
    /// that [`Relay::hold_next`] can hold one.
    pub async fn framewise(target: SocketAddr) -> anyhow::Result<Relay> {
        Self::start_with(target, true).await
    }

    async fn start_with(target: SocketAddr, framewise: bool) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            target: Mutex::new(target),
            cut_after: AtomicU64::new(u64::MAX),
            armed: AtomicBool::new(false),
            cuts: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
            log: watch::channel(Vec::new()).0,
            framewise,
            hold: Mutex::new(None),
            held: watch::channel(false).0,
        });
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                let mut relays = tokio::task::JoinSet::new();
                while let Ok((inbound, _)) = listener.accept().await {
                    let conn = state.connections.fetch_add(1, Ordering::SeqCst);
                    relays.spawn(relay(inbound, conn, state.clone()));
                }
            }
        });
        Ok(Relay { addr, state, task })
    }

    /// Cuts the next connection that carries more than `bytes` upstream,
    /// once.
    pub fn cut_once_after(&self, bytes: u64) {
        self.state.cut_after.store(bytes, Ordering::SeqCst);
        self.state.armed.store(true, Ordering::SeqCst);
    }

    /// How many connections were cut.
    pub fn cuts(&self) -> u64 {
        self.state.cuts.load(Ordering::SeqCst)
    }

    /// Sends connections accepted from now on to `target`.
    pub fn set_target(&self, target: SocketAddr) {
        *self.state.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }

    /// Holds the next request of kind `code` on any connection (and what
    /// that connection sends after it) until [`Relay::release`]. Needs a
    /// [`Relay::framewise`] relay.
    pub fn hold_next(&self, code: RequestCode) {
        assert!(self.state.framewise, "hold_next needs Relay::framewise");
        *self.state.hold.lock().unwrap_or_else(|e| e.into_inner()) = Some(code);
    }

    /// Waits (bounded) until a request is held.
    pub async fn wait_held(&self) -> anyhow::Result<()> {
        let mut held = self.state.held.subscribe();
        bounded("a request held", held.wait_for(|h| *h)).await??;
        Ok(())
    }

    /// Lets the held request go on to the server.
    pub fn release(&self) {
        self.state.held.send_replace(false);
    }

    /// The upload traffic so far.
    pub fn observed(&self) -> Vec<Observed> {
        self.state.log.borrow().clone()
    }

    /// Waits (bounded) until `done` holds for the traffic so far.
    pub async fn wait_until(
        &self,
        what: &str,
        done: impl Fn(&[Observed]) -> bool,
    ) -> anyhow::Result<()> {
        let mut log = self.state.log.subscribe();
        bounded(what, async {
            loop {
                if done(&log.borrow_and_update()) {
                    return Ok(());
                }
                log.changed().await?;
            }
        })
        .await?
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(inbound: TcpStream, conn: usize, state: Arc<State>) {
    let target = *state.target.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (mut ri, mut wi) = inbound.into_split();
    let (mut ro, mut wo) = outbound.into_split();
    let (cut_tx, mut cut_rx) = watch::channel(false);
    // Each direction ends by passing the end on (FIN), so that neither side
    // loses bytes the other already sent; a cut ends the client's side only
    // and lets the server finish with what it received.
    let up = async {
        let mut total = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let mut decoder = Some((ServerCodec::default(), BytesMut::new()));
        let mut unsent = BytesMut::new();
        loop {
            let n = match ri.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            total += n as u64;
            if total > state.cut_after.load(Ordering::SeqCst)
                && state.armed.swap(false, Ordering::SeqCst)
            {
                state.cuts.fetch_add(1, Ordering::SeqCst);
                let _ = cut_tx.send(true);
                break;
            }
            if state.framewise {
                let read = &buf[..n];
                if forward_whole_requests(&state, conn, read, &mut decoder, &mut unsent, &mut wo)
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            }
            if wo.write_all(&buf[..n]).await.is_err() {
                break;
            }
            // Only forwarded bytes are decoded: what is recorded is what
            // the server got.
            if let Some((codec, pending)) = decoder.as_mut() {
                pending.extend_from_slice(&buf[..n]);
                loop {
                    match codec.decode(pending) {
                        Ok(Some(item)) => observe_request(&state, conn, item),
                        Ok(None) => break,
                        Err(_) => {
                            // Not a protocol this relay reads: forward only.
                            decoder = None;
                            break;
                        }
                    }
                }
            }
        }
        let _ = wo.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut decoder = Some((ClientCodec::default(), BytesMut::new()));
        let mut client_gone = false;
        loop {
            let n = tokio::select! {
                read = ro.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                Ok(()) = cut_rx.changed(), if !client_gone => {
                    client_gone = true;
                    let _ = wi.shutdown().await;
                    continue;
                }
            };
            if client_gone {
                continue;
            }
            if wi.write_all(&buf[..n]).await.is_err() {
                client_gone = true;
                continue;
            }
            if let Some((codec, pending)) = decoder.as_mut() {
                pending.extend_from_slice(&buf[..n]);
                loop {
                    match codec.decode(pending) {
                        Ok(Some(item)) => observe_response(&state, conn, item),
                        Ok(None) => break,
                        Err(_) => {
                            decoder = None;
                            break;
                        }
                    }
                }
            }
        }
        let _ = wi.shutdown().await;
    };
    tokio::join!(up, down);
}

/// Framewise forwarding: `bytes` join the connection's undecoded ones, and
/// each request they complete is forwarded whole, the one to hold only
/// once released. `unsent` holds the same bytes as the decoder's buffer,
/// which the decoder consumes. Bytes that do not decode are forwarded as
/// they are.
async fn forward_whole_requests(
    state: &State,
    conn: usize,
    bytes: &[u8],
    decoder: &mut Option<(ServerCodec, BytesMut)>,
    unsent: &mut BytesMut,
    wo: &mut tokio::net::tcp::OwnedWriteHalf,
) -> std::io::Result<()> {
    let Some((codec, pending)) = decoder.as_mut() else {
        return wo.write_all(bytes).await;
    };
    pending.extend_from_slice(bytes);
    unsent.extend_from_slice(bytes);
    loop {
        // The decoder takes a whole request's bytes from the front.
        let before = pending.len();
        match codec.decode(pending) {
            Ok(Some(item)) => {
                let whole = unsent.split_to(before - pending.len());
                let code = match &item {
                    Inbound::Request(frame) => Some(frame.request.code()),
                    _ => None,
                };
                if code.is_some() && take_hold(state, code) {
                    state.held.send_replace(true);
                    let mut held = state.held.subscribe();
                    // Bounded by the test, which releases or drops the relay.
                    let _ = held.wait_for(|h| !*h).await;
                }
                wo.write_all(&whole).await?;
                observe_request(state, conn, item);
            }
            Ok(None) => return Ok(()),
            Err(_) => {
                *decoder = None;
                return wo.write_all(&unsent.split()).await;
            }
        }
    }
}

/// Whether a request of `code` is the one to hold (disarming the hold).
fn take_hold(state: &State, code: Option<RequestCode>) -> bool {
    let mut hold = state.hold.lock().unwrap_or_else(|e| e.into_inner());
    let hit = *hold == code;
    if hit {
        *hold = None;
    }
    hit
}

fn observe_request(state: &State, conn: usize, item: Inbound) {
    let Inbound::Request(frame) = item else {
        return;
    };
    match frame.request {
        Request::V3(v3::Request::UploadChunk(c)) => state.record(Observed::Chunk {
            conn,
            offset: c.offset,
            len: c.data.len() as u64,
        }),
        Request::V3(v3::Request::UploadResume(_)) => state.record(Observed::Resume { conn }),
        Request::V3(v3::Request::Pull(_)) => state.record(Observed::Pull { conn }),
        _ => {}
    }
}

fn observe_response(state: &State, conn: usize, item: ResponseItem) {
    let ResponseItem::Response(Response::V3(response)) = item else {
        return;
    };
    match response {
        v3::Response::UploadStatus(s) => state.record(Observed::Status {
            conn,
            offset: s.offset,
        }),
        v3::Response::ChunkStored(c) => state.record(Observed::Stored {
            conn,
            next_offset: c.next_offset,
        }),
        v3::Response::FileSent(_) => state.record(Observed::FileSent { conn }),
        v3::Response::Delivery(d) => state.record(Observed::Delivery {
            conn,
            message_id: d.message_id,
        }),
        _ => {}
    }
}

//! Slowloris: a peer trickling a frame's bytes, or sending nothing at all,
//! is closed at the stall timeout counted from the frame's first byte (not
//! from its latest byte), or at the idle timeout, and told why (1105
//! `IDLE_TIMEOUT`) whenever its version is known, also before its first
//! frame has arrived.

use std::time::Duration;

use e2e::{TestServer, V3Conn};
use futures::StreamExt;
use protocol::codec::ResponseItem;
use protocol::{ClientId, ErrorReason, RequestHeader, Response, v3};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

const STALL: Duration = Duration::from_secs(2);
const IDLE: Duration = Duration::from_secs(3);
/// A byte every this long: ever more of the frame, never all of it.
const DRIP: Duration = Duration::from_millis(250);
/// How long a connection is watched at most.
const WATCH: Duration = Duration::from_secs(12);

/// Writes `bytes` one at a time, a `DRIP` apart, while reading what the
/// server says; returns when the server closed (after how long from the
/// first byte, or from the start if there is none) and its closing notice.
async fn trickle(conn: &mut V3Conn, bytes: &[u8]) -> (Duration, Option<v3::ServerError>) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(DRIP);
    let mut sent = 0;
    let mut closing = None;
    while started.elapsed() < WATCH {
        tokio::select! {
            item = conn.conn.next() => match item {
                None | Some(Err(_)) => return (started.elapsed(), closing),
                Some(Ok(ResponseItem::Response(Response::V3(v3::Response::Closing(e))))) => {
                    closing = Some(e);
                }
                Some(Ok(_)) => {}
            },
            _ = tick.tick() => {
                if let Some(b) = bytes.get(sent..=sent) {
                    // The server may have closed already: its answer is read above.
                    let _ = conn.conn.get_mut().write_all(b).await;
                    sent += 1;
                }
            }
        }
    }
    panic!("still open after {WATCH:?}, {sent} bytes trickled");
}

/// A send request's header and some of its 1000 bytes of payload.
fn send_frame(client_id: ClientId) -> Vec<u8> {
    let mut raw = bytes::BytesMut::new();
    RequestHeader {
        client_id,
        version: 3,
        code: 103,
        payload_len: 1000,
    }
    .write(&mut raw);
    raw.extend_from_slice(&[0; 100]);
    raw.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_frame_is_cut_off_at_the_stall_timeout_from_its_first_byte_and_told() {
    let server = TestServer::start(|c| {
        c.stall_timeout = STALL;
        c.idle_timeout = IDLE;
    })
    .await
    .unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let mut fresh = V3Conn::open(server.addr).await.unwrap();
    let mut silent = V3Conn::open(server.addr).await.unwrap();
    let alice_frame = send_frame(alice.client_id);
    let first_frame = send_frame(ClientId::NIL);
    let ((established, a), (first, f), (nothing, s)) = tokio::join!(
        trickle(&mut alice, &alice_frame),
        trickle(&mut fresh, &first_frame),
        trickle(&mut silent, &[]),
    );
    for (what, closing, waited, limit) in [
        ("an established connection", a, established, STALL),
        ("a first frame", f, first, STALL),
        ("a connection that sent nothing", s, nothing, IDLE),
    ] {
        assert_eq!(
            closing.map(|e| e.reason),
            Some(ErrorReason::IdleTimeout),
            "{what}: no 1105"
        );
        // At the timeout (the first byte went out at once), with room for
        // a loaded machine, and well before twice it.
        assert!(
            (limit - Duration::from_millis(100)..limit + Duration::from_millis(1500))
                .contains(&waited),
            "{what}: closed after {waited:?}, the limit is {limit:?}"
        );
    }
}

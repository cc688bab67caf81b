//! Version 3 at scale: a thousand persistent connections, every message
//! delivered exactly once.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use e2e::V3Conn;
use protocol::v3::{self, AckStatus};
use protocol::{ClientId, MessageKind};

use super::server;

/// 1,000 persistent authenticated connections, each subscribed, sending to
/// others and acknowledging what it receives: every message exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_connections_deliver_exactly_once() {
    const USERS: usize = 1000;
    const PER_USER: usize = 5;
    // Both ends of every connection live in this process.
    e2e::raise_open_files_limit(2 * USERS as u64 + 512).unwrap();
    let server = server().await;
    let addr = server.addr;
    let mut conns = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let (mut c, _) = V3Conn::new_user(addr, &format!("u{i}")).await.unwrap();
        assert!(matches!(
            c.call(v3::Request::Subscribe).await.unwrap(),
            v3::Response::Subscribed { .. }
        ));
        conns.push(c);
    }
    let ids: Vec<ClientId> = conns.iter().map(|c| c.client_id).collect();
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let ids = ids.clone();
        tasks.spawn(async move {
            // Send: pipelined, then the answers.
            let mut sent = Vec::new();
            for j in 0..PER_USER {
                let to = ids[(i + 1 + j * 37) % USERS];
                let content = format!("{i}->{j}").into_bytes();
                conn.feed(v3::Request::SendMessage(v3::SendMessage {
                    destination: to,
                    kind: MessageKind::Text,
                    content: Bytes::from(content.clone()),
                }))
                .await
                .unwrap();
                sent.push((to, content));
            }
            futures::SinkExt::<protocol::codec::RequestPart>::flush(&mut conn.conn)
                .await
                .unwrap();
            for _ in 0..PER_USER {
                let answer = conn.answer().await.unwrap();
                assert!(
                    matches!(answer, v3::Response::MessageStored(_)),
                    "{answer:?}"
                );
            }
            (conn, sent)
        });
    }
    let mut expected: HashMap<(ClientId, Vec<u8>), usize> = HashMap::new();
    let mut conns = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (conn, sent) = r.unwrap();
        for s in sent {
            *expected.entry(s).or_default() += 1;
        }
        conns.push(conn);
    }
    // Each user receives its share by push and acknowledges it.
    let inbound: HashMap<ClientId, usize> =
        expected.iter().fold(HashMap::new(), |mut m, ((to, _), n)| {
            *m.entry(*to).or_default() += n;
            m
        });
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let want = inbound.get(&conn.client_id).copied().unwrap_or(0);
        tasks.spawn(async move {
            let mut got = Vec::new();
            let mut seen = HashSet::new();
            while got.len() < want {
                let d = conn.next_push().await.unwrap();
                assert!(
                    seen.insert(d.message_id),
                    "message {} pushed twice",
                    d.message_id
                );
                got.push((conn.client_id, d.content.to_vec(), d.message_id));
            }
            let ids: Vec<u64> = got.iter().map(|g| g.2).collect();
            if !ids.is_empty() {
                assert!(
                    conn.ack(ids)
                        .await
                        .unwrap()
                        .iter()
                        .all(|s| *s == AckStatus::Removed)
                );
            }
            assert!(conn.pull().await.unwrap().messages.is_empty());
            (conn, got)
        });
    }
    let mut delivered = 0;
    let mut conns = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (conn, got) = r.unwrap();
        conns.push(conn);
        for (to, content, _) in got {
            let n = expected
                .get_mut(&(to, content))
                .expect("a message nobody sent");
            assert!(*n > 0, "delivered twice");
            *n -= 1;
            delivered += 1;
        }
    }
    assert_eq!(delivered, USERS * PER_USER);
    // Drain to quiet: now that everything is acknowledged everywhere, a ping
    // on each connection comes back behind anything the server still had
    // to push there; any push before the pong (or set aside while
    // acknowledging) is a duplicate.
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        tasks.spawn(async move {
            assert_eq!(
                conn.call(v3::Request::Ping(7)).await.unwrap(),
                v3::Response::Pong(7)
            );
            let late: Vec<u64> = conn.pushed.iter().map(|d| d.message_id).collect();
            assert!(late.is_empty(), "pushed again after delivery: {late:?}");
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    eprintln!(
        "1000 connections: {} messages sent, pushed and acknowledged in {:?}",
        USERS * PER_USER,
        started.elapsed()
    );
}

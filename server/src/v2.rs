//! Version 2, exactly as the reference protocol: one request per connection,
//! every failure a bare 9000, then close.
//!
//! The server serves it only with `--legacy-v2`, because it has no
//! authentication (PROTOCOL.md, Security properties).

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use futures::SinkExt;
use protocol::codec::{Body, Inbound, ResponsePart, STREAM_PIECE_LEN, V2PullStart};
use protocol::v2::{self, PULLED_HEADER_LEN, PulledMessageHeader};
use protocol::{ClientId, MAX_MESSAGE_LEN, MessageKind, Request, RequestFrame, Response};

use crate::conn::{Conn, Next, next_item, send_and_close};
use crate::shared::Shared;
use crate::store::{MessageBody, NewMessage, Protocol, WaitingMessage};

/// Why a version-2 request failed; logged, never sent (version 2 has no reasons).
type Failure = String;

/// Inline contents fetched from the database at a time during a pull.
const PULL_CONTENT_BATCH: usize = 256;

pub(crate) async fn serve(mut conn: Conn, peer: SocketAddr, shared: &Shared, first: Inbound) {
    if !shared.config.legacy_v2 {
        tracing::warn!(
            %peer,
            "refused a version-2 request: version 2 has no authentication and is off; \
             start the server with --legacy-v2 to serve it"
        );
        send_and_close(&mut conn, Response::V2(v2::Response::Error)).await;
        return;
    }
    let code = match &first {
        Inbound::Request(f) => f.request.code().value(),
        Inbound::Invalid { header, .. } => header.code,
        Inbound::SendStart { .. } | Inbound::SendChunk { .. } => 103,
    };
    let outcome = match first {
        Inbound::Request(RequestFrame {
            client_id,
            request: Request::V2(request),
        }) => handle(&mut conn, shared, client_id, request).await,
        Inbound::SendStart { client_id, header } => {
            streamed_send(&mut conn, shared, client_id, header).await
        }
        Inbound::Invalid { error, .. } => Err(format!("malformed request: {error}")),
        Inbound::Request(_) | Inbound::SendChunk { .. } => Err("unexpected frame".into()),
    };
    match outcome {
        Ok(Some(response)) => {
            tracing::info!(%peer, code, "version-2 request served");
            send_and_close(&mut conn, Response::V2(response)).await;
        }
        Ok(None) => tracing::info!(%peer, code, "version-2 request served"),
        Err(reason) => {
            tracing::info!(%peer, code, %reason, "version-2 request failed");
            send_and_close(&mut conn, Response::V2(v2::Response::Error)).await;
        }
    }
}

/// Handles a whole request. `Ok(None)` means the answer was already written.
async fn handle(
    conn: &mut Conn,
    shared: &Shared,
    me: ClientId,
    request: v2::Request,
) -> Result<Option<v2::Response>, Failure> {
    let store = &shared.store;
    let directory = store.directory();
    // Version 2 sees and touches version-2 accounts only: without
    // authentication, a version-3 id in its header must not reach the
    // account's messages (PROTOCOL.md, Version 2).
    if !matches!(request, v2::Request::Register(_)) && !directory.contains(Protocol::V2, &me) {
        return Err(format!("sender {me} is not registered"));
    }
    match request {
        v2::Request::Register(r) => {
            let record = store
                .register(r.name, r.public_key, Protocol::V2, None)
                .await
                .map_err(|e| format!("register: {e}"))?;
            Ok(Some(v2::Response::Registered(record.id)))
        }
        v2::Request::ListClients => Ok(Some(v2::Response::ClientList(
            directory
                .all_except(Protocol::V2, &me)
                .iter()
                .map(|r| v2::ClientEntry {
                    id: r.id,
                    name: r.name.clone(),
                })
                .collect(),
        ))),
        v2::Request::GetPublicKey(id) => {
            let record = directory
                .get(Protocol::V2, &id)
                .ok_or_else(|| format!("no version-2 client {id}"))?;
            Ok(Some(v2::Response::PublicKey(v2::PublicKeyEntry {
                client_id: id,
                public_key: record.public_key,
            })))
        }
        v2::Request::SendMessage(m) => {
            if !directory.contains(Protocol::V2, &m.destination) {
                return Err(format!("no version-2 client {}", m.destination));
            }
            let body = if m.kind == MessageKind::File {
                shared
                    .store
                    .admit(m.content.len() as u64)
                    .map_err(|e| format!("storing file: {e}"))?;
                let blob = shared
                    .blobs
                    .write_whole(m.content.clone())
                    .await
                    .map_err(|e| format!("storing file: {e}"))?;
                MessageBody::File {
                    blob,
                    meta: Bytes::new(),
                    size: m.content.len() as u64,
                }
            } else {
                MessageBody::Inline(m.content)
            };
            store_message(shared, me, m.destination, m.kind, body).await
        }
        v2::Request::Pull => pull(conn, shared, me).await.map(|()| None),
    }
}

async fn store_message(
    shared: &Shared,
    sender: ClientId,
    destination: ClientId,
    kind: MessageKind,
    body: MessageBody,
) -> Result<Option<v2::Response>, Failure> {
    let blob = match &body {
        MessageBody::File { blob, .. } => Some(blob.clone()),
        MessageBody::Inline(_) => None,
    };
    let message = NewMessage {
        recipient: destination,
        sender,
        kind,
        body,
    };
    match shared.store.insert(message).await {
        Ok(stored) => Ok(Some(v2::Response::MessageStored(v2::MessageStored {
            destination,
            // Version 2 shows the low 32 bits (PROTOCOL.md, Message ids).
            message_id: stored.id as u32,
        }))),
        Err(e) => {
            if let Some(blob) = blob {
                shared.blobs.delete(vec![blob]).await;
            }
            Err(format!("send: {e}"))
        }
    }
}

/// A send too large to buffer: files and over-size contents stream to a blob,
/// smaller contents are collected in memory (at most [`MAX_MESSAGE_LEN`]).
async fn streamed_send(
    conn: &mut Conn,
    shared: &Shared,
    me: ClientId,
    header: v2::SendHeader,
) -> Result<Option<v2::Response>, Failure> {
    let directory = shared.store.directory();
    if !directory.contains(Protocol::V2, &me) {
        return Err(format!("sender {me} is not registered"));
    }
    if !directory.contains(Protocol::V2, &header.destination) {
        return Err(format!("no version-2 client {}", header.destination));
    }
    let to_blob = header.kind == MessageKind::File || header.content_len as usize > MAX_MESSAGE_LEN;
    let mut blob = if to_blob {
        shared
            .store
            .admit(header.content_len.into())
            .map_err(|e| format!("storing file: {e}"))?;
        Some(
            shared
                .blobs
                .create()
                .await
                .map_err(|e| format!("storing file: {e}"))?,
        )
    } else {
        None
    };
    let mut inline = BytesMut::new();
    loop {
        let next = next_item(
            conn,
            shared.config.stall_timeout,
            shared.config.stall_timeout,
        )
        .await;
        let (data, last) = match next {
            Next::Item(Inbound::SendChunk { data, last }) => (data, last),
            Next::Item(_) => return Err("unexpected frame inside a send body".into()),
            Next::Closed | Next::Broken(_) => {
                return Err("connection lost inside a send body".into());
            }
            Next::TimedOut { .. } => return Err("send body stalled".into()),
        };
        match blob.as_mut() {
            Some(w) => w
                .write(data)
                .await
                .map_err(|e| format!("storing file: {e}"))?,
            None => inline.extend_from_slice(&data),
        }
        if last {
            break;
        }
    }
    let body = match blob {
        Some(w) => MessageBody::File {
            blob: w.finish().await.map_err(|e| format!("storing file: {e}"))?,
            meta: Bytes::new(),
            size: header.content_len.into(),
        },
        None => MessageBody::Inline(inline.freeze()),
    };
    store_message(shared, me, header.destination, header.kind, body).await
}

/// Hands over everything waiting (what fits one 1004 payload), streaming
/// contents, and deletes it once the whole response is written.
async fn pull(conn: &mut Conn, shared: &Shared, me: ClientId) -> Result<(), Failure> {
    let index = shared
        .store
        .waiting_index(me)
        .await
        .map_err(|e| format!("pull: {e}"))?;
    // Claim what this pull hands over, so that a concurrent pull of the same
    // recipient (the reference client may pull again the moment it has read
    // this answer, before the deletion below commits) does not hand it over
    // twice. The claim is released when this pull ends, however it ends.
    let mut claim = shared.v2_claims.claim();
    let mut chosen: Vec<WaitingMessage> = Vec::new();
    let mut total: u64 = 0;
    for m in index {
        let entry = PULLED_HEADER_LEN as u64 + m.size;
        if entry > u64::from(u32::MAX) {
            // Can never fit a version-2 pull; it waits for a version-3 client.
            continue;
        }
        if total + entry > u64::from(u32::MAX) {
            break;
        }
        if !claim.take(m.id) {
            continue;
        }
        total += entry;
        chosen.push(m);
    }
    // Another pull may have delivered (and deleted) some of these between
    // our reading the index and claiming them: keep what is still there.
    let present = shared
        .store
        .waiting_ids(me)
        .await
        .map_err(|e| format!("pull: {e}"))?;
    chosen.retain(|m| present.contains(&m.id));
    let total: u64 = chosen
        .iter()
        .map(|m| PULLED_HEADER_LEN as u64 + m.size)
        .sum();
    // From the first byte of the answer on, a failure can only close the
    // connection: an error frame would be read as part of the pull. Nothing
    // is deleted then, so the messages wait for the next pull.
    if let Err(reason) = write_pull(conn, shared, me, &chosen, total).await {
        tracing::info!(%reason, "version-2 pull aborted mid-response; nothing delivered");
        let _ = conn.close().await;
        return Ok(());
    }
    // The whole response is written: now the messages are delivered.
    let ids: Vec<u64> = chosen.iter().map(|m| m.id).collect();
    let removed = shared
        .store
        .delete(me, ids)
        .await
        .map_err(|e| format!("deleting pulled messages: {e}"))?;
    let blobs = removed
        .into_iter()
        .flatten()
        .filter_map(|r| r.blob)
        .collect();
    shared.blobs.delete(blobs).await;
    let _ = conn.close().await;
    Ok(())
}

async fn write_pull(
    conn: &mut Conn,
    shared: &Shared,
    me: ClientId,
    chosen: &[WaitingMessage],
    total: u64,
) -> Result<(), Failure> {
    // `total` was capped at u32::MAX by the caller.
    let payload_len = total as u32;
    let write = |e: protocol::ProtocolError| format!("writing pull: {e}");
    conn.feed(V2PullStart { payload_len }.into())
        .await
        .map_err(write)?;
    for batch in chosen.chunks(PULL_CONTENT_BATCH) {
        let inline_ids: Vec<u64> = batch
            .iter()
            .filter(|m| matches!(m.body, MessageBody::Inline(_)))
            .map(|m| m.id)
            .collect();
        let mut contents = shared
            .store
            .inline_contents(me, inline_ids)
            .await
            .map_err(|e| format!("pull: {e}"))?
            .into_iter();
        for m in batch {
            conn.feed(ResponsePart::from(PulledMessageHeader {
                sender: m.sender,
                message_id: m.id as u32,
                kind: m.kind,
                // Chosen above so that 25 + size fits a u32.
                content_len: m.size as u32,
            }))
            .await
            .map_err(write)?;
            match &m.body {
                MessageBody::Inline(_) => {
                    let content = contents.next().unwrap_or_default();
                    if content.len() as u64 != m.size {
                        return Err(format!("message {} changed size while pulled", m.id));
                    }
                    conn.feed(Body(content).into()).await.map_err(write)?;
                }
                MessageBody::File { blob, size, .. } => {
                    let mut reader = shared
                        .blobs
                        .open_blob(blob)
                        .await
                        .map_err(|e| format!("pull: file of message {}: {e}", m.id))?;
                    let mut offset = 0;
                    while offset < *size {
                        let want = STREAM_PIECE_LEN.min((*size - offset) as usize);
                        let piece = reader
                            .read_at(offset, want)
                            .await
                            .map_err(|e| format!("pull: file of message {}: {e}", m.id))?;
                        if piece.len() != want {
                            return Err(format!("file of message {} is shorter than stored", m.id));
                        }
                        offset += piece.len() as u64;
                        conn.feed(Body(piece).into()).await.map_err(write)?;
                    }
                }
            }
        }
    }
    conn.flush().await.map_err(write)
}

//! Pull (104) and acknowledge (105): reading the messages waiting for the
//! caller, and removing them once handled. One family because together they
//! are the receiving side's whole life of a message; pushed deliveries
//! (`v3::push`) are acknowledged here too.
//!
//! An acknowledgement is pipelined, as a send is: queued to the store's
//! writer, answered when committed.

use futures::FutureExt;
use futures::future;
use protocol::v3;
use protocol::{ClientId, MessageKind};

use crate::error::StoreError;
use crate::shared::Shared;
use crate::store::WaitingMessage;
use crate::v3::reply::{Pipelined, store_error};

/// Answers a pull: the oldest waiting messages, within the caller's and the
/// server's limits on count and bytes. A pull with bit 15 set marks the
/// connection as reading type 7 (`reads`); until one does, type-7 messages
/// are left out, since a client that predates them refuses the whole batch
/// (PROTOCOL.md "104 pull").
pub(crate) async fn pull(
    shared: &Shared,
    me: ClientId,
    p: v3::Pull,
    reads: &mut bool,
) -> v3::Response {
    *reads |= p.reads_not_delivered();
    let (count, bytes) = p.bounds();
    let mut after = 0;
    loop {
        let (messages, more) = match shared
            .store
            .waiting(me, after, count.into(), bytes as usize)
            .await
        {
            Ok(batch) => batch,
            Err(e) => return store_error(&e),
        };
        let last = messages.last().map(|m| m.id);
        let messages: Vec<v3::Delivery> = messages
            .iter()
            .filter(|m| *reads || m.kind != MessageKind::NotDelivered)
            .map(WaitingMessage::to_delivery)
            .collect();
        match last {
            // Only notices this connection may not see, and more behind
            // them: read on, or an older client would stop here for good.
            Some(last) if messages.is_empty() && more => after = last,
            _ => return v3::Response::Messages(v3::MessageBatch { more, messages }),
        }
    }
}

/// Queues the removal of acknowledged messages; the files of removed file
/// messages are deleted once the removal is committed.
pub(crate) fn ack(shared: &Shared, me: ClientId, ids: Vec<u64>) -> Pipelined {
    let blobs = shared.blobs.clone();
    match shared.store.delete_later(me, ids) {
        Ok(rx) => async move {
            match rx.await {
                Ok(Ok(removed)) => {
                    let files: Vec<String> = removed
                        .iter()
                        .flatten()
                        .filter_map(|r| r.blob.clone())
                        .collect();
                    if !files.is_empty() {
                        tokio::spawn(async move { blobs.delete(files).await });
                    }
                    v3::Response::Acked(
                        removed
                            .iter()
                            .map(|r| {
                                if r.is_some() {
                                    v3::AckStatus::Removed
                                } else {
                                    v3::AckStatus::NotWaiting
                                }
                            })
                            .collect(),
                    )
                }
                Ok(Err(e)) => store_error(&e),
                Err(_) => store_error(&StoreError::Closed),
            }
        }
        .boxed(),
        Err(e) => future::ready(store_error(&e)).boxed(),
    }
}

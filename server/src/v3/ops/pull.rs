//! Pull (104) and acknowledge (105): reading the messages waiting for the
//! caller, and removing them once handled. One family because together they
//! are the receiving side's whole life of a message; pushed deliveries
//! (`v3::push`) are acknowledged here too.
//!
//! An acknowledgement is pipelined, as a send is: queued to the store's
//! writer, answered when committed.

use futures::FutureExt;
use futures::future;
use protocol::ClientId;
use protocol::v3;

use crate::error::StoreError;
use crate::shared::Shared;
use crate::store::WaitingMessage;
use crate::v3::reply::{Pipelined, store_error};

/// Answers a pull: the oldest waiting messages, within the caller's and the
/// server's limits on count and bytes.
pub(crate) async fn pull(shared: &Shared, me: ClientId, p: v3::Pull) -> v3::Response {
    let (count, bytes) = p.bounds();
    match shared
        .store
        .waiting(me, 0, count.into(), bytes as usize)
        .await
    {
        Ok((messages, more)) => v3::Response::Messages(v3::MessageBatch {
            more,
            messages: messages.iter().map(WaitingMessage::to_delivery).collect(),
        }),
        Err(e) => store_error(&e),
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

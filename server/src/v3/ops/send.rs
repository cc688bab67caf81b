//! Send message (103): stores an inline message for a registered client.
//! Pipelined: the message is queued to the store's writer and the answer
//! comes when it is committed, so that a burst shares commits.

use futures::FutureExt;
use futures::future;
use protocol::v3;
use protocol::{ClientId, ErrorReason};

use crate::error::StoreError;
use crate::shared::Shared;
use crate::store::{MessageBody, NewMessage, Protocol};
use crate::v3::reply::{Pipelined, error, store_error};

/// Checks the message and queues it for storing.
pub(crate) fn send_message(shared: &Shared, me: ClientId, m: v3::SendMessage) -> Pipelined {
    let max = shared.config.max_message_len as usize;
    if m.content.len() > max {
        future::ready(error(
            ErrorReason::MessageTooLarge,
            format!(
                "message content is {} bytes; this server takes at most {max}",
                m.content.len()
            ),
        ))
        .boxed()
    } else if !shared
        .store
        .directory()
        .contains(Protocol::V3, &m.destination)
    {
        future::ready(error(
            ErrorReason::UnknownClient,
            format!("no client {}", m.destination),
        ))
        .boxed()
    } else {
        let destination = m.destination;
        let message = NewMessage {
            recipient: destination,
            sender: me,
            kind: m.kind,
            body: MessageBody::Inline(m.content),
        };
        match shared.store.insert_later(message) {
            Ok(rx) => async move {
                match rx.await {
                    Ok(Ok(stored)) => v3::Response::MessageStored(v3::MessageStored {
                        destination,
                        message_id: stored.id,
                    }),
                    Ok(Err(e)) => store_error(&e),
                    Err(_) => store_error(&StoreError::Closed),
                }
            }
            .boxed(),
            Err(e) => future::ready(store_error(&e)).boxed(),
        }
    }
}

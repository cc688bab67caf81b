//! The writer's statements for messages: store one (checking the quotas
//! first), and remove some by id. A completed upload becomes a message
//! through [`insert_row`] as well.

use std::collections::HashMap;
use std::sync::Arc;

use protocol::{ClientId, MessageKind};
use rusqlite::{Transaction, params};

use super::batch::{View, atomically};
use crate::error::StoreError;
use crate::store::quota::Limits;
use crate::store::schema::INSERT_MESSAGE;
use crate::store::values::{
    MessageBody, NewMessage, Removed, StoreEvent, Stored, WaitingMessage, now_ms,
};

pub(super) fn insert(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    message: NewMessage,
) -> Result<Stored, StoreError> {
    let NewMessage {
        recipient,
        sender,
        kind,
        body,
    } = message;
    if !view.client_known(&recipient) {
        return Err(StoreError::UnknownClient);
    }
    let size = body.size();
    view.counts().check(limits, &sender, &recipient, size)?;
    let created_at = now_ms();
    let id = insert_row(tx, view, &recipient, &sender, kind, &body, created_at)?;
    view.staged
        .tally
        .add_message(recipient, Some(sender), 1, size as i64);
    let stored = Stored {
        id,
        created_at_ms: created_at,
    };
    view.staged.events.push(StoreEvent::NewMessage {
        recipient,
        message: Arc::new(WaitingMessage {
            id,
            sender,
            kind,
            size,
            created_at_ms: created_at,
            body,
        }),
        queued: Some(view.queued),
    });
    Ok(stored)
}

pub(super) fn insert_row(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    recipient: &ClientId,
    sender: &ClientId,
    kind: MessageKind,
    body: &MessageBody,
    created_at: u64,
) -> Result<u64, StoreError> {
    let (content, blob, meta): (Option<&[u8]>, Option<&str>, Option<&[u8]>) = match body {
        MessageBody::Inline(c) => (Some(c), None, None),
        MessageBody::File { blob, meta, .. } => (None, Some(blob), Some(meta)),
    };
    let id = *view.next_id;
    tx.prepare_cached(INSERT_MESSAGE)?.execute(params![
        &recipient.0[..],
        &sender.0[..],
        kind.code(),
        body.size() as i64,
        content,
        blob,
        meta,
        created_at as i64,
        id as i64
    ])?;
    // Only a stored row uses up its id (a refused one leaves a gap, which
    // is fine: ids must grow, not be dense).
    *view.next_id += 1;
    Ok(id)
}

pub(super) fn delete(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    recipient: ClientId,
    ids: &[u64],
) -> Result<Vec<Option<Removed>>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // One statement for the whole acknowledgement, not one per id (the
    // per-id statements were 40 % of the writer's time). The ids go in as
    // one JSON array; SQLite seeks each `(recipient, id)` in the clustered
    // key, so the work is the acknowledgement's size whatever lies between
    // its ids (a scan of the range from the lowest to the highest id would
    // let a client that acknowledges its first and its last message make
    // the writer walk its whole inbox).
    let mut list = String::with_capacity(ids.len() * 8 + 2);
    list.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(&id.to_string());
    }
    list.push(']');
    // All or nothing: a row that fails to read undoes the whole statement.
    let mut gone: HashMap<u64, (i64, Option<String>, Vec<u8>)> = atomically(tx, || {
        Ok(tx
            .prepare_cached(
                "DELETE FROM messages WHERE recipient = ?1
                 AND id IN (SELECT value FROM json_each(?2))
             RETURNING id, size, blob, sender",
            )?
            .query_map(params![&recipient.0[..], list], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    (
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                    ),
                ))
            })?
            .collect::<Result<_, _>>()?)
    })?;
    let mut out = Vec::with_capacity(ids.len());
    let mut removed_ids = Vec::new();
    for id in ids {
        // An id named twice was removed once: the second is not waiting.
        match gone.remove(id) {
            Some((size, blob, sender)) => {
                let sender = client_id(&sender)?;
                view.staged
                    .tally
                    .add_message(recipient, Some(sender), -1, -size);
                removed_ids.push(*id);
                out.push(Some(Removed { blob }));
            }
            None => out.push(None),
        }
    }
    if !removed_ids.is_empty() {
        view.staged.events.push(StoreEvent::Removed {
            recipient,
            ids: removed_ids,
        });
    }
    Ok(out)
}

fn client_id(bytes: &[u8]) -> Result<ClientId, StoreError> {
    bytes
        .try_into()
        .map(ClientId)
        .map_err(|_| StoreError::Corrupt(format!("client id of {} bytes", bytes.len())))
}

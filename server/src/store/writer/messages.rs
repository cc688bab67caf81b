//! The writer's statements for messages: store one (checking the quotas
//! first), and remove some by id (without reading them when the writer
//! knows them, `super::recent`). A completed upload becomes a message
//! through [`insert_row`] as well.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

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
    if ids.len() <= IDS_PER_STATEMENT {
        if let Some(rows) = view.known_rows(&recipient, ids) {
            return delete_known(tx, view, recipient, ids, rows);
        }
    }
    let mut gone = HashMap::with_capacity(ids.len());
    if ids.len() <= IDS_PER_STATEMENT {
        // One read and one delete need no savepoint: a read that fails has
        // changed nothing, and SQLite undoes a failed statement by itself
        // (two statements fewer for the common acknowledgement).
        delete_chunk(tx, &recipient, ids, &mut gone)?;
    } else {
        // All or nothing: a row that fails to read undoes every statement.
        atomically(tx, || {
            for chunk in ids.chunks(IDS_PER_STATEMENT) {
                delete_chunk(tx, &recipient, chunk, &mut gone)?;
            }
            Ok(())
        })?;
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut removed_ids = Vec::new();
    for id in ids {
        // An id named twice was removed once: the second is not waiting.
        match gone.remove(id) {
            Some((size, blob, sender)) => {
                view.staged
                    .tally
                    .add_message(recipient, Some(sender), -1, -size);
                removed_ids.push(*id);
                out.push(Some(Removed { blob }));
            }
            None => out.push(None),
        }
    }
    view.removed_messages(recipient, removed_ids);
    Ok(out)
}

/// Removes rows the writer knows are stored (`super::recent`), each named
/// once: one statement, nothing read (an acknowledgement of one id costs
/// one delete, not a read and a delete).
fn delete_known(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    recipient: ClientId,
    ids: &[u64],
    rows: Vec<&super::recent::Row>,
) -> Result<Vec<Option<Removed>>, StoreError> {
    let deleted = run_delete(tx, &recipient, ids)?;
    if deleted != ids.len() {
        // Rows leave the database only through this writer, which keeps
        // `recent` true; fewer means someone changed the file under the
        // running server. The rows are gone either way: give back what
        // they counted.
        tracing::error!(
            deleted,
            expected = ids.len(),
            "messages known to be stored were missing; was the database changed outside the server?"
        );
    }
    let mut out = Vec::with_capacity(ids.len());
    for row in rows {
        view.staged
            .tally
            .add_message(recipient, Some(row.sender), -1, -row.size);
        out.push(Some(Removed {
            blob: row.blob.as_deref().map(str::to_owned),
        }));
    }
    view.removed_messages(recipient, ids.to_vec());
    Ok(out)
}

/// Ids one statement removes at most; an acknowledgement of more (up to
/// `protocol::MAX_ACK_IDS`) takes several, inside one savepoint.
const IDS_PER_STATEMENT: usize = 256;

/// The statements that read and then remove an acknowledgement's rows,
/// one pair per number of `IN` slots: 1, 2, 4, ... up to
/// [`IDS_PER_STATEMENT`]. An `IN` list of bound ids, not a JSON array
/// through `json_each`, and a `SELECT` before a plain `DELETE`, not
/// `DELETE ... RETURNING` (which gathers the rows in a temporary table):
/// measured with loadgen v3's writer figures, one id cost the writer
/// 10-11 µs through `json_each`, 6.3-6.8 µs with `RETURNING` and 3.8-4.2 µs
/// like this inside a savepoint (2.3-3.1 µs without one, against 2.0-2.9 µs
/// for storing a message). SQLite seeks each
/// `(recipient, id)` of the clustered key, so the work is the
/// acknowledgement's size whatever lies between its ids (a scan of the
/// range from the lowest to the highest id would let a client that
/// acknowledges its first and its last message make the writer walk its
/// whole inbox). Slots are padded with the chunk's last id (an `IN` list
/// names a row once however often it repeats), so that a handful of
/// statements stay prepared.
static STATEMENTS: LazyLock<Vec<[String; 2]>> = LazyLock::new(|| {
    let mut all = Vec::new();
    let mut slots = 1;
    while slots <= IDS_PER_STATEMENT {
        let list: Vec<String> = (0..slots).map(|i| format!("?{}", i + 2)).collect();
        let list = list.join(",");
        all.push([
            format!(
                "SELECT id, size, blob, sender FROM messages \
                 WHERE recipient = ?1 AND id IN ({list})"
            ),
            format!("DELETE FROM messages WHERE recipient = ?1 AND id IN ({list})"),
        ]);
        slots *= 2;
    }
    all
});

/// Removes `chunk`'s ids of `recipient`'s messages, noting each removed row.
fn delete_chunk(
    tx: &Transaction<'_>,
    recipient: &ClientId,
    chunk: &[u64],
    gone: &mut HashMap<u64, (i64, Option<String>, ClientId)>,
) -> Result<(), StoreError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let (slots, [select, _]) = statements_for(chunk.len());
    let mut statement = tx.prepare_cached(select)?;
    bind_ids(&mut statement, recipient, chunk, slots)?;
    let mut rows = statement.raw_query();
    let before = gone.len();
    while let Some(row) = rows.next()? {
        // Read whole before anything is deleted: a malformed row fails the
        // acknowledgement with nothing removed.
        let sender = ClientId(row.get(3)?);
        gone.insert(
            row.get::<_, i64>(0)? as u64,
            (row.get(1)?, row.get(2)?, sender),
        );
    }
    drop(rows);
    if gone.len() > before {
        run_delete(tx, recipient, chunk)?;
    }
    Ok(())
}

/// Deletes `chunk`'s ids (at most [`IDS_PER_STATEMENT`]) of `recipient`'s
/// messages; how many rows went.
fn run_delete(
    tx: &Transaction<'_>,
    recipient: &ClientId,
    chunk: &[u64],
) -> Result<usize, StoreError> {
    let (slots, [_, delete]) = statements_for(chunk.len());
    let mut statement = tx.prepare_cached(delete)?;
    bind_ids(&mut statement, recipient, chunk, slots)?;
    Ok(statement.raw_execute()?)
}

/// The prepared pair for a chunk of `len` ids, and its number of slots.
fn statements_for(len: usize) -> (usize, &'static [String; 2]) {
    let slots = len.next_power_of_two();
    (slots, &STATEMENTS[slots.trailing_zeros() as usize])
}

/// Binds `recipient` and `chunk`'s ids to `slots` slots, padding with the
/// chunk's last id (an `IN` list names a row once however often it repeats).
fn bind_ids(
    statement: &mut rusqlite::CachedStatement<'_>,
    recipient: &ClientId,
    chunk: &[u64],
    slots: usize,
) -> rusqlite::Result<()> {
    let last = chunk.last().copied().unwrap_or(0);
    statement.raw_bind_parameter(1, &recipient.0[..])?;
    for slot in 0..slots {
        let id = chunk.get(slot).copied().unwrap_or(last);
        // Ids beyond i64 name no row (ids are allocated from 1 upwards).
        statement.raw_bind_parameter(slot + 2, i64::try_from(id).unwrap_or(-1))?;
    }
    Ok(())
}

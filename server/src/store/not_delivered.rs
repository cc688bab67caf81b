//! The type-7 notices an account's deletion leaves for the senders of its
//! deleted messages (PROTOCOL.md "Type 7: not delivered"), grouped here
//! once for both engines (`writer/remove.rs`, `pg/admin.rs`), which store
//! them in the deletion's own transaction.
//!
//! Bounded: the deleted account had at most the server's messages waiting
//! per recipient, and only their 8-byte ids are held here, never their
//! contents. Each notice names at most [`MAX_NOT_DELIVERED_IDS`] ids.

use std::collections::BTreeMap;

use bytes::Bytes;
use protocol::v3::{GoneReason, MAX_NOT_DELIVERED_IDS, NotDelivered};
use protocol::{ClientId, MessageKind};

use crate::error::StoreError;

/// Groups the deleted messages `(sender, id, kind)` into type-7 contents,
/// one list per sender told (by `tells`, and never the deleted account
/// `gone` itself), ids in order, at most [`MAX_NOT_DELIVERED_IDS`] to a
/// content. Only texts and file offers count: no client shows key
/// agreement or the server's own types as messages it sent.
///
/// # Errors
/// A content could not be encoded (cannot happen: each has 1 to 4096 ids).
pub(crate) fn notices(
    deleted: impl IntoIterator<Item = (ClientId, u64, MessageKind)>,
    gone: ClientId,
    reason: GoneReason,
    tells: impl Fn(&ClientId) -> bool,
) -> Result<Vec<(ClientId, Bytes)>, StoreError> {
    let mut by_sender: BTreeMap<ClientId, Vec<u64>> = BTreeMap::new();
    for (sender, id, kind) in deleted {
        if matches!(kind, MessageKind::Text | MessageKind::File) && sender != gone {
            by_sender.entry(sender).or_default().push(id);
        }
    }
    let mut out = Vec::new();
    for (sender, mut ids) in by_sender {
        if !tells(&sender) {
            continue;
        }
        ids.sort_unstable();
        for chunk in ids.chunks(MAX_NOT_DELIVERED_IDS) {
            let content = NotDelivered {
                reason,
                message_ids: chunk.to_vec(),
            }
            .encode()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.push((sender, content));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GONE: ClientId = ClientId([9; 16]);
    const ALICE: ClientId = ClientId([1; 16]);
    const CAROL: ClientId = ClientId([3; 16]);
    const OLD: ClientId = ClientId([2; 16]);

    #[test]
    fn one_notice_per_sender_told_of_its_texts_and_files_only() {
        let deleted = [
            (ALICE, 11, MessageKind::Text),
            (CAROL, 10, MessageKind::File),
            (ALICE, 5, MessageKind::File),
            (ALICE, 6, MessageKind::SymmetricKeyRequest),
            (CAROL, 12, MessageKind::RoomWelcome),
            (OLD, 13, MessageKind::Text),
            (GONE, 14, MessageKind::Text),
        ];
        let out = notices(deleted, GONE, GoneReason::DeletedByOwner, |c| *c != OLD).unwrap();
        let decoded: Vec<_> = out
            .into_iter()
            .map(|(to, c)| (to, NotDelivered::decode(c).unwrap().message_ids))
            .collect();
        assert_eq!(decoded, vec![(ALICE, vec![5, 11]), (CAROL, vec![10])]);
    }

    #[test]
    fn more_ids_than_one_notice_holds_take_more_notices() {
        let n = MAX_NOT_DELIVERED_IDS as u64 * 2 + 1;
        let deleted = (1..=n).map(|id| (ALICE, id, MessageKind::Text));
        let out = notices(deleted, GONE, GoneReason::RemovedByOperator, |_| true).unwrap();
        let sizes: Vec<usize> = out
            .iter()
            .map(|(_, c)| NotDelivered::decode(c.clone()).unwrap().message_ids.len())
            .collect();
        assert_eq!(sizes, vec![MAX_NOT_DELIVERED_IDS, MAX_NOT_DELIVERED_IDS, 1]);
    }
}

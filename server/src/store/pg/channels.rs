//! Names shared by the engine's files: the notification channels between
//! nodes and how a client id is read from a row.

use protocol::ClientId;

use crate::error::StoreError;

/// Channel of registrations and removals of accounts; payload
/// `<node>:<client id hex>`. The row tells which: a listener that finds it
/// adds the account, one that does not drops it (`listen.rs`).
pub(super) const CLIENTS_CHANNEL: &str = "sealpost_clients";

/// Channel of new messages; payload `<node>:<recipient id hex>`.
pub(super) const INBOX_CHANNEL: &str = "sealpost_inbox";

/// Channel of new room entries; payload `<node>:<room id hex>`.
pub(super) const ROOMS_CHANNEL: &str = "sealpost_rooms";

/// Channel of acknowledgements of room entries (request 136), one per room
/// whose cursor a request moved; payload
/// `<node>:<member id hex>:<room id hex>:<entry number>`, what the member
/// acknowledged up to. Other nodes free their sessions' push windows with
/// it (`v3::room_push`).
pub(super) const ROOM_ACKS_CHANNEL: &str = "sealpost_room_acks";

/// Channel of removed messages (acknowledged), one notification per
/// batch of acknowledgements while it fits [`NOTICE_BYTES`]; payload
/// `<node>:<recipient id hex>:<id>,<id>,...;<recipient id hex>:<id>,...`.
/// Other nodes free their sessions' push windows with it and drop what
/// they had queued to push (`v3::push`), as this node does with its own
/// removals.
pub(super) const REMOVED_CHANNEL: &str = "sealpost_removed";

/// Channel of who nodes show online (`presence.rs`); payload `<node>:`
/// then `+<client hex>,-<client hex>,...` (came online, went offline
/// there), `all` (read what the node shows from the database) or
/// `gone:<node>` (that node shows nobody now).
pub(super) const PRESENCE_CHANNEL: &str = "sealpost_presence";

/// The most bytes of one notification's payload, the node's name included:
/// under PostgreSQL's limit of 8,000.
pub(super) const NOTICE_BYTES: usize = 7000;

/// A recipient's part before its ids: a separator and 32 hex digits.
const PART_HEAD: usize = 1 + 32;
/// The most one id takes, with its separator.
const ID_BYTES: usize = 1 + 20;

/// The payloads of [`REMOVED_CHANNEL`] from node `node` for what left
/// each recipient's inbox: as few as fit, a long list split between them.
pub(super) fn removed_payloads(node: &str, removed: &[(ClientId, Vec<u64>)]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    for (recipient, ids) in removed {
        let mut ids = ids.iter().peekable();
        while ids.peek().is_some() {
            // A recipient's part, with room for at least one id.
            if current.len() + PART_HEAD + ID_BYTES > NOTICE_BYTES {
                payloads.push(std::mem::take(&mut current));
            }
            if current.is_empty() {
                current.push_str(node);
                current.push(':');
            } else {
                current.push(';');
            }
            current.push_str(&hex::encode(recipient.0));
            let mut separator = ':';
            while let Some(id) = ids.next_if(|_| current.len() + ID_BYTES <= NOTICE_BYTES) {
                current.push(separator);
                current.push_str(&id.to_string());
                separator = ',';
            }
        }
    }
    if !current.is_empty() {
        payloads.push(current);
    }
    payloads
}

/// Channel of claims that left an owner few one-time key packages; payload
/// `<node>:<owner id hex>`. Each node reads the stock and tells the
/// owner's sessions there.
pub(super) const KEY_PACKAGES_CHANNEL: &str = "sealpost_key_packages";

/// A client id from a `BYTEA` column.
pub(super) fn client_id(bytes: &[u8]) -> Result<ClientId, StoreError> {
    crate::store::rows::fixed(bytes, "client id").map(ClientId)
}

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

/// Channel of removed messages (acknowledged, or pulled by version 2), one
/// notification per recipient and at most [`IDS_PER_NOTICE`] ids; payload
/// `<node>:<recipient id hex>:<id>,<id>,...`. Other nodes free their
/// sessions' push windows with it and drop what they had queued to push
/// (`v3::push`), as this node does with its own removals.
pub(super) const REMOVED_CHANNEL: &str = "sealpost_removed";

/// The most message ids one notification names: 256 ids of at most 20
/// digits stay well under PostgreSQL's 8,000-byte payload limit.
pub(super) const IDS_PER_NOTICE: usize = 256;

/// The payloads of [`REMOVED_CHANNEL`] for `ids` of one recipient, whose
/// own payload (`<node>:<recipient id hex>`) is `prefix`.
pub(super) fn removed_payloads(prefix: &str, ids: &[u64]) -> Vec<String> {
    ids.chunks(IDS_PER_NOTICE)
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
            format!("{prefix}:{}", list.join(","))
        })
        .collect()
}

/// Channel of claims that left an owner few one-time key packages; payload
/// `<node>:<owner id hex>`. Each node reads the stock and tells the
/// owner's sessions there.
pub(super) const KEY_PACKAGES_CHANNEL: &str = "sealpost_key_packages";

/// A client id from a `BYTEA` column.
pub(super) fn client_id(bytes: &[u8]) -> Result<ClientId, StoreError> {
    crate::store::rows::fixed(bytes, "client id").map(ClientId)
}

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

/// Channel of claims that left an owner few one-time key packages; payload
/// `<node>:<owner id hex>`. Each node reads the stock and tells the
/// owner's sessions there.
pub(super) const KEY_PACKAGES_CHANNEL: &str = "sealpost_key_packages";

/// A client id from a `BYTEA` column.
pub(super) fn client_id(bytes: &[u8]) -> Result<ClientId, StoreError> {
    crate::store::rows::fixed(bytes, "client id").map(ClientId)
}

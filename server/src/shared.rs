//! What every connection task shares: the configuration, the store, the
//! blobs, the push hub, the identity, the uploads, presence and the shutdown
//! signal.
//! Out of the crate root so that the protocol versions can name it without
//! importing the root that starts them.

use tokio_util::sync::CancellationToken;

use crate::blobs::Blobs;
use crate::claims::Claims;
use crate::config::Config;
use crate::datadir::DataDirLock;
use crate::hub::Hub;
use crate::identity::ServerIdentity;
use crate::presence::Presence;
use crate::sessions::Sessions;
use crate::store::Store;
use crate::uploads::Uploads;

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) blobs: Blobs,
    pub(crate) hub: Hub,
    pub(crate) identity: ServerIdentity,
    pub(crate) uploads: Uploads,
    pub(crate) v2_claims: Claims,
    /// Open connections and authenticated sessions.
    pub(crate) sessions: std::sync::Arc<Sessions>,
    /// Who is online, and the coalesced pushes of changes.
    pub(crate) presence: std::sync::Arc<Presence>,
    /// The server's OPAQUE setup for room passwords (kept in the store).
    pub(crate) passwords: sealpost_rooms::PasswordServer,
    /// Failed password guesses at rooms, per user and per room.
    pub(crate) guesses: crate::v3::guesses::Guesses,
    /// Fires when the server begins to shut down.
    pub(crate) shutdown: CancellationToken,
    /// The data folder's lock: released when the server stops, not when the
    /// last task holding `Shared` happens to end.
    pub(crate) data_lock: std::sync::Mutex<Option<DataDirLock>>,
}

impl Shared {
    pub(crate) fn release_data_folder(&self) {
        self.data_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

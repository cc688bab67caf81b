//! Room retention (`--room-retention-days`): entries older than the
//! retention are deleted even if a member has not read them, so that a
//! member who never comes back does not keep a room's log forever. Runs at
//! startup and then now and then, like the expiry of unfinished uploads.

use std::time::Duration;

use crate::blobs::Blobs;
use crate::store::{Store, ms_ago};

/// How often retention runs.
const INTERVAL: Duration = Duration::from_secs(600);

/// Deletes room entries older than `max_age` now and then, with the files
/// they name; runs until the task is aborted. A zero `max_age` keeps
/// entries until every member has read them. In a cluster every node runs
/// it; each entry goes once, counted by the node whose statement deleted it.
pub(crate) async fn expire_periodically(store: Store, blobs: Blobs, max_age: Duration) {
    if max_age.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tick.tick().await;
        let before = ms_ago(max_age);
        match store.expire_room_entries(before).await {
            Ok((0, _)) => {}
            Ok((count, files)) => {
                blobs.delete(files).await;
                tracing::info!(count, "room entries past their retention deleted");
            }
            Err(e) => tracing::warn!(error = %e, "could not apply room retention"),
        }
    }
}

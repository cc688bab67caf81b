//! One `server.key` per throwaway cluster: every node a test starts on one
//! PostgreSQL database gets the same key, as an operator copies it to each
//! node, since a node with another key is refused at start.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;

/// The key of each cluster by its database's URL. A URL used again (a port
/// freed by a stopped PostgreSQL) keeps its old key: harmless, since the
/// new database's first node records whichever key it holds.
static KEYS: Mutex<Option<HashMap<String, Vec<u8>>>> = Mutex::new(None);

/// Puts the cluster's key for `database` into the data folder `data`
/// (created owner-only if missing), creating the key for the first node.
///
/// # Errors
/// The folder or key cannot be written.
pub fn provide(database: &str, data: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))?;
    let path = data.join("server.key");
    // Held while the first key is made: nodes started together agree.
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let keys = keys.get_or_insert_with(HashMap::new);
    match keys.get(database) {
        Some(key) => {
            std::fs::write(&path, key)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        None => {
            server::identity::ServerIdentity::load_or_create(&path)?;
            keys.insert(database.to_owned(), std::fs::read(&path)?);
        }
    }
    Ok(())
}

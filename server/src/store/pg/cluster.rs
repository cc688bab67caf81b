//! Who the cluster is: the server key every node must hold and where the
//! cluster keeps its file bodies, recorded in the database by the first
//! node that starts on it and checked by every node at start.
//!
//! Without it a node set up with another `server.key`, or with bodies in
//! another place, would start and serve: its clients would meet a key
//! their pins refuse (or, worse, pin it on first use), and a file sent
//! through one node would not be found through another. The folder's path
//! is deliberately not recorded: machines may mount one shared folder at
//! different paths.

use super::Pg;
use crate::error::StoreError;
use crate::identity::fingerprint;

/// Where a node keeps file bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPlace {
    /// In the PostgreSQL database (no `--files-dir`).
    Database,
    /// In a folder every node shares (`--files-dir`).
    Folder,
}

impl BodyPlace {
    /// The value of the `bodies` column.
    fn column(self) -> &'static str {
        match self {
            BodyPlace::Database => "database",
            BodyPlace::Folder => "folder",
        }
    }

    /// The place a `bodies` column names.
    fn from_column(value: &str) -> Option<BodyPlace> {
        match value {
            "database" => Some(BodyPlace::Database),
            "folder" => Some(BodyPlace::Folder),
            _ => None,
        }
    }

    /// The place in the operator's words.
    fn words(self) -> &'static str {
        match self {
            BodyPlace::Database => "in the PostgreSQL database",
            BodyPlace::Folder => "in a shared folder (--files-dir)",
        }
    }

    /// How to start a node with this place.
    fn remedy(self) -> &'static str {
        match self {
            BodyPlace::Database => "start this node without --files-dir",
            BodyPlace::Folder => "start this node with --files-dir and the folder the others share",
        }
    }
}

impl Pg {
    /// Records `key` and `bodies` as the cluster's if nothing is recorded
    /// yet, and checks this node against what is.
    ///
    /// # Errors
    /// [`StoreError::NotTheClustersKey`] or
    /// [`StoreError::NotTheClustersBodies`] if the cluster recorded other
    /// ones; the database failed.
    pub(crate) async fn claim_cluster(
        &self,
        key: &[u8; 32],
        bodies: BodyPlace,
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        // Nodes starting together on an empty database: the first insert
        // wins and every node, the losers included, checks against it.
        conn.execute(
            "INSERT INTO cluster (id, server_key, bodies) VALUES (1, $1, $2)
             ON CONFLICT (id) DO NOTHING",
            &[&&key[..], &bodies.column()],
        )
        .await?;
        let row = conn
            .query_one("SELECT server_key, bodies FROM cluster WHERE id = 1", &[])
            .await?;
        let (recorded_key, recorded_bodies): (Vec<u8>, String) = (row.get(0), row.get(1));
        let recorded_key: [u8; 32] = recorded_key.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "the cluster's recorded server key is {} bytes, not 32",
                recorded_key.len()
            ))
        })?;
        if recorded_key != *key {
            return Err(StoreError::NotTheClustersKey {
                ours: fingerprint(key),
                cluster: fingerprint(&recorded_key),
            });
        }
        let recorded_bodies = BodyPlace::from_column(&recorded_bodies).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the cluster's recorded place of file bodies is {recorded_bodies:?}"
            ))
        })?;
        if recorded_bodies != bodies {
            return Err(StoreError::NotTheClustersBodies {
                ours: bodies.words(),
                cluster: recorded_bodies.words(),
                remedy: recorded_bodies.remedy(),
            });
        }
        Ok(())
    }
}

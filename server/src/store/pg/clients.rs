//! Accounts on PostgreSQL: registering (the unique indexes decide, as on
//! SQLite) and recording activity.

use protocol::{ClientId, Name, PublicKey};

use super::Pg;
use super::accounts::{SELECT_CLIENT, load_one, record};
use crate::error::StoreError;
use crate::store::directory::{ClientRecord, Protocol, name_key};
use crate::store::values::now_ms;

impl Pg {
    /// Registers a client; see `Store::register`.
    pub(crate) async fn register(
        &self,
        name: Name,
        public_key: PublicKey,
        protocol: Protocol,
        skeleton: Option<String>,
    ) -> Result<ClientRecord, StoreError> {
        let id = ClientId(*uuid::Uuid::new_v4().as_bytes());
        let now = now_ms() as i64;
        let key = name_key(name.as_str());
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // Both unique indexes refuse here, in the statement that registers;
        // a registration of the same name on another node at the same time
        // waits for that one's commit and then does nothing.
        let inserted = tx
            .execute(
                "INSERT INTO clients (id, name, name_key, public_key, registered_at, last_seen,
                                      protocol, skeleton)
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    &&id.0[..],
                    &name.as_str(),
                    &key,
                    &&public_key.0[..],
                    &now,
                    &i16::from(protocol.code()),
                    &skeleton,
                ],
            )
            .await?;
        if inserted == 0 {
            let same_name = tx
                .query_opt("SELECT 1 FROM clients WHERE name_key = $1", &[&key])
                .await?
                .is_some();
            let look_alike = match &skeleton {
                Some(skeleton) if !same_name => tx
                    .query_opt("SELECT name FROM clients WHERE skeleton = $1", &[skeleton])
                    .await?
                    .map(|r| r.get::<_, String>(0)),
                _ => None,
            };
            return Err(match look_alike {
                Some(existing) => StoreError::NameConfusable(existing),
                None => StoreError::NameTaken,
            });
        }
        tx.execute("INSERT INTO usage (client) VALUES ($1)", &[&&id.0[..]])
            .await?;
        self.announce_client(&tx, &id).await?;
        tx.commit().await?;
        let record = ClientRecord {
            id,
            name,
            public_key,
            protocol,
        };
        self.directory.insert_if_new(record.clone());
        Ok(record)
    }

    /// Reads one client into the directory (see `Store::know_client`).
    pub(crate) async fn load_client(&self, id: &ClientId) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        load_one(&conn, &self.directory, id).await.map(drop)
    }

    /// Reads the client with this name key into the directory.
    pub(crate) async fn load_name(&self, name_key: &str) -> Result<(), StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!("{SELECT_CLIENT} WHERE name_key = $1"),
                &[&name_key],
            )
            .await?;
        if let Some(row) = row {
            self.directory.insert_if_new(record(&row)?);
        }
        Ok(())
    }

    /// Records that a client was active now, off the caller's path.
    pub(crate) fn touch(&self, id: ClientId) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let result = async {
                pool.get()
                    .await?
                    .execute(
                        "UPDATE clients SET last_seen = $1 WHERE id = $2",
                        &[&(now_ms() as i64), &&id.0[..]],
                    )
                    .await?;
                Ok::<_, StoreError>(())
            };
            if let Err(e) = result.await {
                tracing::warn!(error = %e, "could not record last seen");
            }
        });
    }
}

//! Who other nodes of a cluster show online, told through the database:
//! each node keeps one row per client it shows (`presence`, unlogged: it
//! describes connections, which a restart of the database ends anyway) and
//! a heartbeat (`presence_nodes`), and announces each change at commit on
//! [`PRESENCE_CHANNEL`]. A node silent past the timeout is dropped, its rows
//! with it, by whichever node notices first, which tells the others. A
//! node that finds its own heartbeat gone (dropped while the database was
//! out of its reach) tells everything again.

use std::time::Duration;

use protocol::ClientId;
use protocol::v3::PresenceChange;

use super::Pg;
use super::channels::{NOTICE_BYTES, PRESENCE_CHANNEL};
use crate::error::StoreError;

/// What a node tells the others of whom it shows.
pub(crate) enum Told {
    /// These came online or went offline here since the last time.
    Changes(Vec<PresenceChange>),
    /// Everyone shown here now (in place of what was told before).
    All(Vec<ClientId>),
}

/// What a heartbeat found.
#[derive(Debug, Default)]
pub(crate) struct Beat {
    /// Nodes found silent past the timeout and dropped (their clients are
    /// no longer online through them).
    pub(crate) gone: Vec<String>,
    /// This node's own heartbeat had been dropped: what it showed is
    /// gone from the database, and must be told again whole.
    pub(crate) lost: bool,
}

impl Pg {
    /// Beats this node's heart, records and announces `told`, and drops
    /// the nodes silent for longer than `timeout`, in one transaction.
    pub(crate) async fn presence_beat(
        &self,
        told: Told,
        timeout: Duration,
    ) -> Result<Beat, StoreError> {
        let node = self.node();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let inserted: bool = tx
            .query_one(
                "INSERT INTO presence_nodes (node, seen) VALUES ($1, now())
                 ON CONFLICT (node) DO UPDATE SET seen = now()
                 RETURNING xmax = 0",
                &[&node],
            )
            .await?
            .get(0);
        let payloads = match &told {
            Told::All(clients) => {
                tx.execute("DELETE FROM presence WHERE node = $1", &[&node])
                    .await?;
                insert(&tx, node, clients.iter()).await?;
                vec![format!("{node}:all")]
            }
            Told::Changes(changes) => {
                let online = changes.iter().filter(|c| c.online).map(|c| &c.client);
                insert(&tx, node, online).await?;
                let offline: Vec<&[u8]> = changes
                    .iter()
                    .filter(|c| !c.online)
                    .map(|c| &c.client.0[..])
                    .collect();
                if !offline.is_empty() {
                    tx.execute(
                        "DELETE FROM presence WHERE node = $1 AND client = ANY($2)",
                        &[&node, &offline],
                    )
                    .await?;
                }
                change_payloads(node, changes)
            }
        };
        let rows = tx
            .query(
                "DELETE FROM presence_nodes
                 WHERE node <> $1 AND seen < now() - make_interval(secs => $2)
                 RETURNING node",
                &[&node, &timeout.as_secs_f64()],
            )
            .await?;
        let gone: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        let mut payloads = payloads;
        payloads.extend(gone.iter().map(|g| format!("{node}:gone:{g}")));
        if !payloads.is_empty() {
            tx.execute(
                "SELECT pg_notify($1, p) FROM unnest($2::TEXT[]) AS p",
                &[&PRESENCE_CHANNEL, &payloads],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Beat {
            gone,
            lost: inserted && matches!(told, Told::Changes(_)),
        })
    }

    /// Drops this node's heartbeat and rows (it stops), telling the others.
    pub(crate) async fn presence_leave(&self) -> Result<(), StoreError> {
        let node = self.node();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute("DELETE FROM presence_nodes WHERE node = $1", &[&node])
            .await?;
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&PRESENCE_CHANNEL, &format!("{node}:gone:{node}")],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert(
    tx: &tokio_postgres::Transaction<'_>,
    node: &str,
    clients: impl Iterator<Item = &ClientId>,
) -> Result<(), StoreError> {
    let ids: Vec<&[u8]> = clients.map(|c| &c.0[..]).collect();
    if !ids.is_empty() {
        tx.execute(
            "INSERT INTO presence (node, client) SELECT $1, c FROM unnest($2::BYTEA[]) AS c
             ON CONFLICT DO NOTHING",
            &[&node, &ids],
        )
        .await?;
    }
    Ok(())
}

/// The payloads announcing `changes` of node `node`: `<node>:` then
/// `+<client hex>` or `-<client hex>` joined by commas, as few as fit.
pub(in crate::store::pg) fn change_payloads(node: &str, changes: &[PresenceChange]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    for change in changes {
        // A sign and 32 hex digits, and a comma.
        if !current.is_empty() && current.len() + 34 > NOTICE_BYTES {
            payloads.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(node);
            current.push(':');
        } else {
            current.push(',');
        }
        current.push(if change.online { '+' } else { '-' });
        current.push_str(&hex::encode(change.client.0));
    }
    if !current.is_empty() {
        payloads.push(current);
    }
    payloads
}

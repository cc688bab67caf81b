//! Who other nodes of a cluster show online, told through the database:
//! each node keeps one row per client it shows (`presence`, unlogged: it
//! describes connections, which a restart of the database ends anyway) and
//! a heartbeat (`presence_nodes`), and announces each change at commit on
//! [`PRESENCE_CHANNEL`]. A node silent past the timeout is dropped, its rows
//! with it, by whichever node notices first, which tells the others. A
//! node that finds its own heartbeat gone (dropped while the database was
//! out of its reach) tells everything again.
//!
//! Beside them, in `connected`, the clients each node has connected (shown
//! or not), for the operator's view of the whole cluster; nobody is told
//! of those changes, the operator asks.

use std::time::Duration;

use protocol::ClientId;
use protocol::v3::PresenceChange;

use super::Pg;
use super::channels::{NOTICE_BYTES, PRESENCE_CHANNEL, client_id};
use crate::error::StoreError;

/// What a node tells the others of whom it shows online and whom it has
/// connected (for the operator, who sees clients hidden from presence).
pub(crate) enum Told {
    /// These came or went here since the last time.
    Changes {
        shown: Vec<PresenceChange>,
        connected: Vec<PresenceChange>,
    },
    /// Everyone shown and connected here now (in place of what was told
    /// before).
    All {
        shown: Vec<ClientId>,
        connected: Vec<ClientId>,
    },
}

/// The tables a node's rows are in: shown online, connected.
const SHOWN: &str = "presence";
const CONNECTED: &str = "connected";

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
            Told::All { shown, connected } => {
                for (table, clients) in [(SHOWN, shown), (CONNECTED, connected)] {
                    tx.execute(&format!("DELETE FROM {table} WHERE node = $1"), &[&node])
                        .await?;
                    insert(&tx, table, node, clients.iter()).await?;
                }
                vec![format!("{node}:all")]
            }
            Told::Changes { shown, connected } => {
                for (table, changes) in [(SHOWN, shown), (CONNECTED, connected)] {
                    apply(&tx, table, node, changes).await?;
                }
                change_payloads(node, shown)
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
            lost: inserted && matches!(told, Told::Changes { .. }),
        })
    }

    /// The other nodes that told they have `client` connected, of the
    /// nodes heard within `timeout`, by name.
    pub(crate) async fn nodes_connecting(
        &self,
        client: ClientId,
        timeout: Duration,
    ) -> Result<Vec<String>, StoreError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT c.node FROM connected c JOIN presence_nodes n ON n.node = c.node
                 WHERE c.client = $1 AND c.node <> $2
                   AND n.seen >= now() - make_interval(secs => $3)
                 ORDER BY c.node",
                &[&&client.0[..], &self.node(), &timeout.as_secs_f64()],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The clients connected to the other nodes, as they last told, of
    /// the nodes heard within `timeout` (a node silent longer is dropped
    /// with its rows at the next heartbeat).
    pub(crate) async fn connected_elsewhere(
        &self,
        timeout: Duration,
    ) -> Result<Vec<ClientId>, StoreError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT DISTINCT c.client FROM connected c JOIN presence_nodes n ON n.node = c.node
                 WHERE c.node <> $1 AND n.seen >= now() - make_interval(secs => $2)",
                &[&self.node(), &timeout.as_secs_f64()],
            )
            .await?;
        rows.iter().map(|r| client_id(r.get(0))).collect()
    }

    /// The nodes heard within `timeout` (this one too, once it beat),
    /// by name.
    pub(crate) async fn live_nodes(&self, timeout: Duration) -> Result<Vec<String>, StoreError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT node FROM presence_nodes
                 WHERE seen >= now() - make_interval(secs => $1) ORDER BY node",
                &[&timeout.as_secs_f64()],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
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

/// Adds rows of `node` for `clients` to `table`.
async fn insert(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    node: &str,
    clients: impl Iterator<Item = &ClientId>,
) -> Result<(), StoreError> {
    let ids: Vec<&[u8]> = clients.map(|c| &c.0[..]).collect();
    if !ids.is_empty() {
        tx.execute(
            &format!(
                "INSERT INTO {table} (node, client) SELECT $1, c FROM unnest($2::BYTEA[]) AS c
                 ON CONFLICT DO NOTHING"
            ),
            &[&node, &ids],
        )
        .await?;
    }
    Ok(())
}

/// Applies `changes` of `node` to `table`.
async fn apply(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    node: &str,
    changes: &[PresenceChange],
) -> Result<(), StoreError> {
    let came = changes.iter().filter(|c| c.online).map(|c| &c.client);
    insert(tx, table, node, came).await?;
    let went: Vec<&[u8]> = changes
        .iter()
        .filter(|c| !c.online)
        .map(|c| &c.client.0[..])
        .collect();
    if !went.is_empty() {
        tx.execute(
            &format!("DELETE FROM {table} WHERE node = $1 AND client = ANY($2)"),
            &[&node, &went],
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

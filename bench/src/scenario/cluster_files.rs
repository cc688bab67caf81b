//! The cluster's file phase (issue 15 item 3): the same large file through
//! a PostgreSQL-backed node with its bodies in the database (the default:
//! chunk rows) and with them in a folder (`--files-dir`, what a cluster
//! shares), one after the other in one run, each on a fresh durable
//! PostgreSQL (`fsync` and `synchronous_commit` on).
//!
//! Each mode gets a fresh node (its own process, so its peak memory is its
//! own) and the `file` scenario's client processes; beside each: the
//! database's size before and after the upload's rows and their deletion
//! (PostgreSQL keeps the space of deleted rows until a vacuum, so the
//! growth is what the body occupied) and the load average.

use std::path::Path;

use pgtemp::Postgres;
use serde_json::json;
use tokio_postgres::NoTls;

use super::file;
use crate::report::{Outcome, load_average};
use crate::target::spawn_node;

/// The database's size in bytes.
async fn database_size(url: &str) -> anyhow::Result<i64> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let task = tokio::spawn(connection);
    let size: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await?
        .get(0);
    drop(client);
    let _ = task.await;
    Ok(size)
}

/// Runs the file through a node in each mode; one outcome per mode.
///
/// # Errors
/// A node could not start or a step failed outright.
pub async fn run(binary: &Path, file_args: &file::FileArgs) -> anyhow::Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    let folder = tempfile::tempdir()?;
    for (name, files) in [
        ("cluster-file-bodies-in-postgres", None),
        ("cluster-file-shared-folder", Some(folder.path())),
    ] {
        let target = match files {
            None => "one PostgreSQL node, bodies in PostgreSQL",
            Some(_) => "one PostgreSQL node, bodies in a shared folder",
        };
        // A durable PostgreSQL of each mode's own: the same users register.
        let pg = tokio::task::spawn_blocking(Postgres::start_durable).await??;
        let url = &pg.url();
        let load_before = load_average();
        let before = database_size(url).await?;
        let node = spawn_node(binary, url, files, None)?;
        let (mut outcome, figures) =
            file::run(node.addr, Some(node.pid()), file_args, target).await?;
        drop(node);
        let after = database_size(url).await?;
        let load_after = load_average();
        let growth = after - before;
        outcome.name = name.into();
        outcome.summary = format!(
            "{}; database grew {} MiB; load {load_before} -> {load_after}",
            outcome.summary,
            growth >> 20
        );
        outcome.figures = json!({
            "file": figures,
            "database_bytes_before": before,
            "database_bytes_after": after,
            "database_growth_bytes": growth,
            "load_before": load_before,
            "load_after": load_after,
        });
        outcomes.push(outcome);
        tokio::task::spawn_blocking(move || drop(pg)).await?;
    }
    Ok(outcomes)
}

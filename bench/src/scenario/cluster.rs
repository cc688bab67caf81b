//! Scenario `cluster` (issue 15): the version-3 workload against one SQLite
//! node, one PostgreSQL node and two PostgreSQL nodes on one database, in
//! one run, each beside PostgreSQL's own insert rates at the same
//! durability, measured in that run; then a large file through a
//! PostgreSQL-backed node, its body in the database and in a shared folder
//! (`cluster_files.rs`).
//!
//! - PostgreSQL is a throwaway cluster of this run (`pgtemp`), durable:
//!   `fsync` and `synchronous_commit` on, as the server's `--durability
//!   full` is for SQLite.
//! - Its insert rates use a table shaped like the engine's `messages`, ids
//!   from a sequence as the engine takes them: one row per commit from one
//!   connection, one row per commit from as many connections as a node's
//!   pool (what the engine does: one transaction per message, PostgreSQL
//!   groups the commits), and 1,024 rows per commit.
//! - The two-node run puts user i on node i mod 2: every text of the ring
//!   is stored through one node and pushed by the other (LISTEN/NOTIFY), and
//!   its latency phase runs at the one-node run's offered rate, so the two
//!   push latencies compare cross-node with same-node at one load.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures::future::try_join_all;
use pgtemp::Postgres;
use serde::Serialize;
use tokio_postgres::NoTls;

use super::sqlite_inserts::sqlite_inserts;
use super::v3::{self, V3Args, V3Figures};
use super::{cluster_files, file};
use crate::report::{Comparison, Outcome, per_second, thousands};
use crate::target::{DurabilityArg, server_binary, spawn_node, spawn_server};

/// The cluster workload's own options (v3's and file's are theirs).
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Seconds of each PostgreSQL insert measurement.
    #[arg(long = "cluster-insert-seconds", default_value_t = 3)]
    pub insert_seconds: u64,
    /// Connections of the concurrent insert measurement (a node's pool).
    #[arg(long = "cluster-insert-connections", default_value_t = 16)]
    pub insert_connections: usize,
    /// Bytes of content per inserted row (a 100-byte text sealed).
    #[arg(long = "cluster-row-size", default_value_t = 140)]
    pub row_size: usize,
    /// Leave out the file through a PostgreSQL-backed node.
    #[arg(long = "cluster-skip-file")]
    pub skip_file: bool,
    /// Only the v3 phases on PostgreSQL nodes (one node, then two): no
    /// insert rates, no SQLite node, no file. For before/after runs of two
    /// server binaries.
    #[arg(long = "cluster-postgres-only")]
    pub postgres_only: bool,
    /// Run only the file phase (bodies in PostgreSQL, then in a shared
    /// folder), not the limits and message workloads.
    #[arg(long = "cluster-file-only", conflicts_with = "skip_file")]
    pub file_only: bool,
}

/// One PostgreSQL insert measurement.
#[derive(Debug, Clone, Serialize)]
pub struct PgInsertRun {
    /// Rows per transaction.
    pub rows_per_commit: usize,
    /// Connections inserting at once.
    pub connections: usize,
    /// Rows inserted.
    pub rows: u64,
    /// Seconds taken.
    pub seconds: f64,
    /// Rows per second.
    pub rows_per_s: f64,
}

/// The engine's `messages` table, apart from the server's, and its ids.
const INSERT_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS bench_messages (
        recipient BYTEA NOT NULL,
        id BIGINT NOT NULL,
        sender BYTEA NOT NULL,
        kind SMALLINT NOT NULL,
        size BIGINT NOT NULL,
        content BYTEA,
        blob TEXT,
        meta BYTEA,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (recipient, id)
    );
    CREATE SEQUENCE IF NOT EXISTS bench_ids;";

const INSERT_ROW: &str = "INSERT INTO bench_messages
    (recipient, id, sender, kind, size, content, blob, meta, created_at)
    VALUES ($1, nextval('bench_ids'), $2, 3, $3, $4, NULL, NULL, $5)";

/// Inserts rows for `seconds` on `connections` connections at once,
/// `per_commit` rows per transaction (statements pipelined).
async fn pg_inserts(
    url: &str,
    per_commit: usize,
    connections: usize,
    seconds: u64,
    row_size: usize,
) -> anyhow::Result<PgInsertRun> {
    let (setup, driver) = tokio_postgres::connect(url, NoTls).await?;
    let driver = tokio::spawn(driver);
    setup.batch_execute(INSERT_TABLE).await?;
    drop(setup);
    let _ = driver.await;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let workers = (0..connections).map(|c| async move {
        let (mut conn, driver) = tokio_postgres::connect(url, NoTls).await?;
        let driver = tokio::spawn(driver);
        let insert = conn.prepare(INSERT_ROW).await?;
        let content = vec![0xab_u8; row_size];
        let mut rows = 0u64;
        while Instant::now() < deadline {
            let tx = conn.transaction().await?;
            let batch = (0..per_commit).map(|k| {
                let recipient = [((rows as usize + k) % 100) as u8; 16];
                let sender = [c as u8; 16];
                let insert = &insert;
                let tx = &tx;
                let content = &content;
                async move {
                    tx.execute(
                        insert,
                        &[
                            &&recipient[..],
                            &&sender[..],
                            &(row_size as i64),
                            content,
                            &0_i64,
                        ],
                    )
                    .await
                }
            });
            try_join_all(batch).await?;
            tx.commit().await?;
            rows += per_commit as u64;
        }
        drop(conn);
        let _ = driver.await;
        Ok::<u64, anyhow::Error>(rows)
    });
    let rows: u64 = try_join_all(workers).await?.into_iter().sum();
    let elapsed = start.elapsed();
    Ok(PgInsertRun {
        rows_per_commit: per_commit,
        connections,
        rows,
        seconds: elapsed.as_secs_f64(),
        rows_per_s: per_second(rows as f64, elapsed),
    })
}

/// Runs the whole comparison and returns one outcome per part.
///
/// # Errors
/// PostgreSQL or a server could not be started, or a part could not run
/// (failed checks are recorded in its outcome instead).
pub async fn run(
    args: &ClusterArgs,
    v3_args: &V3Args,
    file_args: &file::FileArgs,
    server_bin: Option<&std::path::Path>,
    durability: DurabilityArg,
) -> anyhow::Result<Vec<Outcome>> {
    let binary = server_binary(server_bin)?;
    if args.file_only {
        return cluster_files::run(&binary, file_args).await;
    }
    let pg = tokio::task::spawn_blocking(Postgres::start_durable).await??;
    let url = pg.url();

    let mut outcomes = Vec::new();
    let limits = if args.postgres_only {
        None
    } else {
        let (limits, sqlite) = limits_and_sqlite(args, v3_args, &url, &binary, durability).await?;
        outcomes.extend(sqlite);
        Some(limits)
    };
    let compare = |outcome: &mut Outcome, figures: &V3Figures| {
        if let Some(limits) = &limits {
            compare(limits, outcome, figures);
        }
    };

    // One PostgreSQL node, then a second one on the same database.
    let files = tempfile::tempdir()?;
    let a = spawn_node(&binary, &url, Some(files.path()), None)?;
    let a_data = a.data_dir().context("node A has no data folder")?;
    let (mut one, one_figures) =
        v3::run(&[a.addr], v3_args, "one PostgreSQL node", Some(&a_data)).await?;
    one.name = "cluster-v3-postgres".into();
    compare(&mut one, &one_figures);
    outcomes.push(one);

    let b = spawn_node(
        &binary,
        &url,
        Some(files.path()),
        Some(&a_data.join("server.key")),
    )?;
    let mut same_load = v3_args.clone();
    same_load.rate = one_figures.latency_offered_per_s.round() as u64;
    same_load.curve = String::new();
    let (mut two, two_figures) =
        v3::run(&[a.addr, b.addr], &same_load, "two PostgreSQL nodes", None).await?;
    two.name = "cluster-v3-two-postgres-nodes".into();
    compare(&mut two, &two_figures);
    two.summary = format!(
        "{}; push latency cross-node {} against same-node {} at {} msg/s",
        two.summary,
        two_figures.push_latency.short(),
        one_figures.push_latency.short(),
        thousands(one_figures.latency_offered_per_s)
    );
    outcomes.push(two);
    drop(b);
    drop(a);
    drop(files);

    if !args.skip_file && !args.postgres_only {
        // Bodies in PostgreSQL, then in a shared folder, each on a fresh
        // PostgreSQL of its own.
        outcomes.extend(cluster_files::run(&binary, file_args).await?);
    }
    tokio::task::spawn_blocking(move || drop(pg)).await?;
    Ok(outcomes)
}

/// PostgreSQL's and SQLite's insert rates of the run.
struct Limits {
    sqlite_1024: f64,
    pool_rate: f64,
    batch_rate: f64,
}

/// Puts a v3 run beside the insert rates.
fn compare(limits: &Limits, outcome: &mut Outcome, figures: &V3Figures) {
    let e2e = figures.e2e_msgs_per_s;
    for (limit, value) in [
        (
            "SQLite WAL+FULL inserts/s at 1024 rows per commit",
            limits.sqlite_1024,
        ),
        (
            "PostgreSQL inserts/s, 1 row per commit, a node's pool of connections",
            limits.pool_rate,
        ),
        (
            "PostgreSQL inserts/s at 1024 rows per commit",
            limits.batch_rate,
        ),
    ] {
        outcome.comparisons.push(Comparison::new(
            "v3 end-to-end msg/s",
            e2e,
            limit,
            value,
            "per second",
        ));
    }
    outcome.summary = format!(
        "{}; {:.2}x PostgreSQL pooled 1/commit inserts, {:.2}x SQLite 1024/commit",
        outcome.summary,
        e2e / limits.pool_rate.max(f64::MIN_POSITIVE),
        e2e / limits.sqlite_1024.max(f64::MIN_POSITIVE)
    );
}

/// The insert rates of the run (an outcome of their own), then v3 on one
/// SQLite node beside them.
async fn limits_and_sqlite(
    args: &ClusterArgs,
    v3_args: &V3Args,
    url: &str,
    binary: &std::path::Path,
    durability: DurabilityArg,
) -> anyhow::Result<(Limits, Vec<Outcome>)> {
    let url = url.to_owned();
    // The limits, in this run: SQLite as the server commits, then PostgreSQL.
    let sqlite_1024 = tokio::task::spawn_blocking(|| {
        let dir = tempfile::tempdir()?;
        sqlite_inserts(
            dir.path(),
            "wal",
            "full",
            1024,
            200_000,
            140,
            Duration::from_secs(5),
        )
    })
    .await??;
    let mut inserts = Vec::new();
    for (per_commit, connections) in [(1, 1), (1, args.insert_connections), (1024, 1)] {
        inserts.push(
            pg_inserts(
                &url,
                per_commit,
                connections,
                args.insert_seconds,
                args.row_size,
            )
            .await
            .with_context(|| {
                format!("PostgreSQL inserts, {per_commit} per commit, {connections} connections")
            })?,
        );
    }
    let pool_rate = inserts[1].rows_per_s;
    let batch_rate = inserts[2].rows_per_s;
    let limits = Outcome {
        name: "cluster-limits".into(),
        target: "this machine".into(),
        passed: true,
        problems: Vec::new(),
        summary: format!(
            "cluster limits: SQLite WAL+FULL 1024/commit {} rows/s; PostgreSQL (fsync on) {}",
            thousands(sqlite_1024.rows_per_s),
            inserts
                .iter()
                .map(|r| format!(
                    "{}/commit x {} connections {} rows/s",
                    r.rows_per_commit,
                    r.connections,
                    thousands(r.rows_per_s)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        figures: serde_json::json!({
            "sqlite_1024_rows_per_s": sqlite_1024.rows_per_s,
            "postgres_inserts": inserts,
        }),
        comparisons: Vec::new(),
    };
    let limits_outcome = limits;
    let limits = Limits {
        sqlite_1024: sqlite_1024.rows_per_s,
        pool_rate,
        batch_rate,
    };
    let mut outcomes = vec![limits_outcome];
    // One SQLite node, as today.
    let sqlite_node = spawn_server(binary, durability, &[])?;
    let data = sqlite_node.data_dir();
    let result = v3::run(
        &[sqlite_node.addr],
        v3_args,
        "one SQLite node",
        data.as_deref(),
    )
    .await;
    drop(sqlite_node);
    let (mut outcome, figures) = result?;
    outcome.name = "cluster-v3-sqlite".into();
    compare(&limits, &mut outcome, &figures);
    outcomes.push(outcome);

    Ok((limits, outcomes))
}

//! A cluster's database records who the cluster is, and a node set up
//! otherwise is refused at start with one line: another `server.key` (its
//! clients would meet a key they do not pin, or pin a wrong one), or file
//! bodies in another place than the other nodes (a file sent through one
//! node would be missing through another).

use std::path::Path;
use std::sync::Arc;

use e2e::{Postgres, TestServer};
use server::error::StoreError;
use server::identity::ServerIdentity;

use crate::cluster::postgres;

/// Opens a node on `url` whose data folder `data` holds a key of its own
/// (made here), with bodies in `files` or the database; returns its
/// fingerprint and what opening it gave.
async fn open_node(
    url: &str,
    data: &Path,
    files: Option<&Path>,
) -> (String, anyhow::Result<server::Server>) {
    std::fs::create_dir_all(data).unwrap();
    let (identity, _) = ServerIdentity::load_or_create(&data.join("server.key")).unwrap();
    let mut options = server::Options::new(data);
    options.durability = server::Durability::Normal;
    options.database = Some(url.to_owned());
    options.files_dir = files.map(Path::to_path_buf);
    let opened = server::Server::open(server::Config::new(options).unwrap()).await;
    (identity.fingerprint(), opened)
}

/// The cluster's first node on `pg` (bodies in the database), and the
/// fingerprint of its key: the one the database records.
async fn first_node(pg: &Arc<Postgres>) -> (TestServer, String) {
    let first = TestServer::start_node_with(pg, None, |_| {}).await.unwrap();
    let cluster = ServerIdentity::load(&first.config.key_path())
        .unwrap()
        .fingerprint();
    (first, cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_server_key_is_refused_at_start_naming_both_fingerprints() {
    let pg = postgres().await;
    // Kept running: the cluster the rogue node tries to join.
    let (_first, cluster) = first_node(&pg).await;
    let dir = tempfile::tempdir().unwrap();
    let (ours, opened) = open_node(&pg.url(), &dir.path().join("rogue"), None).await;
    let err = opened.err().expect("a node with another key started");
    assert!(
        matches!(
            err.downcast_ref::<StoreError>(),
            Some(StoreError::NotTheClustersKey { .. })
        ),
        "{err:#}"
    );
    let line = format!("{err:#}");
    assert!(!line.contains('\n'), "{line}");
    assert!(line.contains(&ours) && line.contains(&cluster), "{line}");
    assert!(
        line.contains("copy server.key from a node of the cluster"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_with_different_keys_starting_together_on_an_empty_database_agree_on_one() {
    let pg = postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    let (a_data, b_data) = (dir.path().join("a"), dir.path().join("b"));
    let ((_, a), (_, b)) = tokio::join!(
        open_node(&url, &a_data, None),
        open_node(&url, &b_data, None),
    );
    let refused: Vec<_> = [&a, &b]
        .iter()
        .filter_map(|opened| opened.as_ref().err())
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        matches!(
            refused[0].downcast_ref::<StoreError>(),
            Some(StoreError::NotTheClustersKey { .. })
        ),
        "{:#}",
        refused[0]
    );
    for server in [a, b].into_iter().flatten() {
        server.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_bodies_in_a_folder_is_refused_by_a_cluster_keeping_them_in_the_database() {
    let pg = postgres().await;
    let _first = TestServer::start_node_with(&pg, None, |_| {})
        .await
        .unwrap();
    let files = tempfile::tempdir().unwrap();
    let err = TestServer::start_node_with(&pg, Some(files.path()), |_| {})
        .await
        .err()
        .expect("a node with bodies elsewhere started");
    assert!(
        matches!(
            err.downcast_ref::<StoreError>(),
            Some(StoreError::NotTheClustersBodies { .. })
        ),
        "{err:#}"
    );
    let line = format!("{err:#}");
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.contains("the cluster keeps them in the PostgreSQL database")
            && line.contains("without --files-dir"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_bodies_in_the_database_is_refused_by_a_cluster_keeping_them_in_a_folder() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let _first = TestServer::start_node(&pg, files.path(), |_| {})
        .await
        .unwrap();
    let err = TestServer::start_node_with(&pg, None, |_| {})
        .await
        .err()
        .expect("a node with bodies elsewhere started");
    let line = format!("{err:#}");
    assert!(
        line.contains("the cluster keeps them in a shared folder (--files-dir)"),
        "{line}"
    );
}

/// The binary says it in one line and exits: nothing else at level error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_binary_with_another_key_exits_with_one_line_naming_both_fingerprints() {
    let pg = postgres().await;
    // Kept running: the cluster the rogue node tries to join.
    let (_first, cluster) = first_node(&pg).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rogue");
    // Made beforehand: a refused start removes a data folder it made
    // itself, key and all.
    std::fs::create_dir_all(&data).unwrap();
    let args = ["--log-level", "error", "--database", &pg.url()];
    let stderr = e2e::server_refusing_to_start(&data, &args).await;
    let ours = ServerIdentity::load(&data.join("server.key"))
        .unwrap()
        .fingerprint();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("server: this node's server.key")
            && lines[0].contains(&ours)
            && lines[0].contains(&cluster),
        "{stderr}"
    );
}

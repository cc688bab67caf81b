//! `--log-level` that names no level: refused at start, with the levels
//! it takes, instead of a server that logs nothing at all.

use e2e::server_refusing_to_start;

/// Regression (D6): `--log-level inf` (or `warning`, `bogus`) started a
/// server that logged nothing, not even its "listening" line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_level_that_names_no_level_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["inf", "warning", "server=bogus"] {
        let err = server_refusing_to_start(&dir.path().join("data"), &["--log-level", bad]).await;
        assert!(err.contains("is not a level"), "{bad}: {err}");
        assert!(
            err.contains("off, error, warn, info, debug, trace"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

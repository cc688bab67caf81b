//! What the server binary checks at start before it serves: that the files
//! folder is the one its database goes with, that its limits mean
//! something, and that a start that fails leaves nothing behind.

use e2e::{ServerProcess, server_refusing_to_start};

/// The one line a refused start says why in (after what it logged).
fn refusal(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("server: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_owned()
}

/// Regression: a SQLite server started with another `--files-dir` than its
/// database was used with started, served rows whose bodies were elsewhere,
/// and its sweep deleted what the other folder held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_with_another_files_dir_than_the_database_s_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (data, other) = (dir.path().join("data"), dir.path().join("other"));
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    server.terminate_cleanly().await.unwrap();
    let said = server_refusing_to_start(&data, &["--files-dir", other.to_str().unwrap()]).await;
    let said = refusal(&said);
    let files = data.canonicalize().unwrap().join("files");
    assert!(
        said.contains(&format!("files folder {}", files.display())),
        "{said}"
    );
    assert!(said.contains(&other.display().to_string()), "{said}");
    assert!(
        !other.exists(),
        "the refused start made {}",
        other.display()
    );
    // The folder it was used with still serves.
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    server.terminate_cleanly().await.unwrap();
}

/// A new database given a files folder that holds another server's bodies
/// would sweep them all away at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_of_a_new_database_on_a_files_dir_with_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    let first = dir.path().join("first");
    let args = ["--files-dir", files.to_str().unwrap()];
    let mut server = ServerProcess::start(&first, &args).await.unwrap();
    server.terminate_cleanly().await.unwrap();
    std::fs::write(files.join("kept.blob"), b"a body").unwrap();
    let said = server_refusing_to_start(&dir.path().join("second"), &args).await;
    let said = refusal(&said);
    assert!(said.contains("holds files, but the database in"), "{said}");
    assert!(files.join("kept.blob").exists());
    // An empty one is taken.
    let fresh = dir.path().join("fresh");
    let args = ["--files-dir", fresh.to_str().unwrap()];
    let mut server = ServerProcess::start(&dir.path().join("third"), &args)
        .await
        .unwrap();
    server.terminate_cleanly().await.unwrap();
}

/// Regression: `--idle-timeout 0` became 1 s without a word, `--max-storage
/// 0` started a server that refused every message, and a `--min-free-space`
/// larger than the disk one that refused every write. Each is refused at
/// start with one line naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_refuses_limits_that_mean_nothing_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (flag, value) in [
        ("--idle-timeout", "0"),
        ("--stall-timeout", "0"),
        ("--max-storage", "0"),
        ("--max-file-size", "0"),
        ("--inbox-max-messages", "0"),
        ("--max-uploads-per-client", "0"),
        ("--min-free-space", "900000T"),
    ] {
        let said = server_refusing_to_start(&data, &[flag, value]).await;
        let said = refusal(&said);
        assert!(said.contains(&format!("{flag} ")), "{flag}: {said}");
    }
}

/// Regression: the server read `10M` as 10 MiB where the client reads
/// 10 MB, and showed its limits in binary units.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_reads_size_suffixes_in_decimal_units_as_the_client_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--max-storage", "10M", "--max-file-size", "1.5M"];
    let mut server = ServerProcess::start(&data, &args).await.unwrap();
    let status = crate::operator::json(&data, &["status"]).await;
    assert_eq!(status["max_storage"], 10_000_000, "{status}");
    let (ok, text, err) = crate::operator::server_cmd(&data, &["status"]).await;
    assert!(ok, "{err}");
    assert!(text.contains("of 10.00 MB"), "{text}");
    server.terminate_cleanly().await.unwrap();
}

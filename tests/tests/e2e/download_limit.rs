//! `--max-auto-download` in the decimal units sizes are shown in: a limit
//! typed as `1MB` holds a contact's file one byte over a million and names
//! itself as `1.00 MB`; a value that is not a size is a usage error.

use e2e::pattern;

use crate::rooms_cli::{json, ok, run, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_just_over_a_decimal_limit_is_held_and_named_by_that_limit() {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    // Alice is bob's contact: only the size decides.
    ok(addr, &bob, &["key", "alice"]).await;
    for (name, size) in [("exact.bin", 1_000_000), ("over.bin", 1_000_001)] {
        let path = dir.path().join(name);
        std::fs::write(&path, pattern(7, size)).unwrap();
        ok(addr, &alice, &["send-file", "bob", path.to_str().unwrap()]).await;
    }

    let out = ok(addr, &bob, &["--max-auto-download", "1MB", "inbox"]).await;
    assert!(out.contains("exact.bin"), "{out}");
    assert!(
        out.contains(
            "alice offers a file: over.bin (1.00 MB); not downloaded because it is larger \
             than your automatic download limit (1.00 MB)."
        ),
        "{out}"
    );
    assert_eq!(
        std::fs::metadata(bob.join("downloads").join("exact.bin"))
            .unwrap()
            .len(),
        1_000_000
    );
    assert!(!bob.join("downloads").join("over.bin").exists());

    // The limit in JSON, in bytes. Raised to 1.5MB, it lets the held
    // offer download; a file one byte over it waits in `files`.
    let path = dir.path().join("again.bin");
    std::fs::write(&path, pattern(8, 1_500_001)).unwrap();
    ok(addr, &alice, &["send-file", "bob", path.to_str().unwrap()]).await;
    let events = json(addr, &bob, &["--max-auto-download", "1.5MB", "inbox"]).await;
    let held: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "file_held")
        .collect();
    assert_eq!(held.len(), 1, "{events}");
    assert_eq!(held[0]["name"], "again.bin");
    assert_eq!(held[0]["reason"], "too_large");
    assert_eq!(held[0]["limit"], 1_500_000);
    assert!(bob.join("downloads").join("over.bin").exists(), "{events}");
    let files = ok(addr, &bob, &["files"]).await;
    assert_eq!(files.lines().count(), 1, "{files}");
    assert!(files.contains("again.bin (1.50 MB)"), "{files}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_that_is_not_a_size_is_a_usage_error_in_one_line() {
    let (server, _dir, [bob]) = users(["bob"]).await;
    for bad in ["lots", "64XB", "1.5", "-3MB"] {
        // `=`: else clap takes -3MB for a flag.
        let flag = format!("--max-auto-download={bad}");
        let (success, out, err) = run(server.addr, &bob, &["--json", &flag, "inbox"]).await;
        assert!(!success && out.is_empty(), "{bad}: {out}");
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
        let v: serde_json::Value = serde_json::from_str(&err).unwrap();
        assert_eq!(v["code"], "usage", "{v}");
        let said = v["error"].as_str().unwrap();
        assert!(said.contains("--max-auto-download"), "{said}");
        assert!(!said.contains("For more information"), "{said}");
    }
    let (success, _, err) = run(server.addr, &bob, &["--max-auto-download", "lots", "inbox"]).await;
    assert!(!success);
    let first = err.lines().next().unwrap();
    assert!(
        first.contains("not a size") && first.contains("e.g. 64MB or 1.5GB"),
        "{err}"
    );
    // Binary units still mean what they did for existing scripts.
    ok(
        server.addr,
        &bob,
        &["--max-auto-download", "64MiB", "files"],
    )
    .await;
    // The default, in help, as sizes are shown.
    let help = ok(server.addr, &bob, &["--help"]).await;
    assert!(help.contains("[default: 64MB]"), "{help}");
}

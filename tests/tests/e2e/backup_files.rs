//! What `export` says besides its summary, and `import` of a file that is
//! no whole backup: each is said of the file, with its own code, never as
//! a failure of the home's key store.

use e2e::{TEST_PASSPHRASE, TestServer};

use crate::at_rest::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_warns_of_two_homes_and_import_names_what_is_wrong_with_the_file() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice = dir.path().join("alice");
    let (ok, _, err) = run(&addr, &alice, TEST_PASSPHRASE, &[], &["register", "alice"]).await;
    assert!(ok, "{err}");

    let backup = dir.path().join("alice.bak");
    let backup_arg = backup.to_str().unwrap();
    let (ok, out, err) = run(&addr, &alice, TEST_PASSPHRASE, &[], &["export", backup_arg]).await;
    assert!(ok, "{err}");
    let retire = "once this backup is imported into another home, stop using this one";
    assert!(out.contains(retire), "{out}");
    let again = dir.path().join("again.bak");
    let args = ["--json", "export", again.to_str().unwrap()];
    let (ok, out, err) = run(&addr, &alice, TEST_PASSPHRASE, &[], &args).await;
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        shown["after_import"].as_str().unwrap().starts_with(retire),
        "{out}"
    );
    assert_eq!(shown["action"], "exported", "{out}");

    // Cut short (as by `head -c`), and a file that is no backup at all.
    let bytes = std::fs::read(&backup).unwrap();
    let cut = dir.path().join("cut.bak");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let hostname = dir.path().join("hostname");
    std::fs::write(&hostname, "my-laptop\n").unwrap();
    let new = dir.path().join("new");
    for (file, code, said) in [
        (
            &cut,
            "backup_cut_short",
            "is cut short: the backup is incomplete",
        ),
        (&hostname, "not_a_backup", "is not a Sealpost backup"),
    ] {
        let path = file.to_str().unwrap();
        let (ok, _, err) = run(&addr, &new, TEST_PASSPHRASE, &[], &["import", path]).await;
        assert!(!ok);
        assert!(err.starts_with(&format!("client: {path} {said}")), "{err}");
        assert!(
            !err.contains("key store") && !err.contains("passphrase"),
            "{err}"
        );
        let args = ["--json", "import", path];
        let (ok, _, err) = run(&addr, &new, TEST_PASSPHRASE, &[], &args).await;
        let refused: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
        assert!(!ok && refused["code"] == code, "{err}");
        // Nothing of a home is left behind to refuse the next try.
        assert!(!new.exists());
    }
    let (ok, _, err) = run(&addr, &new, TEST_PASSPHRASE, &[], &["import", backup_arg]).await;
    assert!(ok, "{err}");
}

//! The `server` binary's command line as the README describes it: a
//! malformed `port.info` is an error with exit code 2. (Being an integration test of this
//! package also makes `cargo test --workspace` build the binary, which the
//! end-to-end tests run.)

use std::process::{Command, Stdio};

fn server(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running the server binary")
}

#[test]
fn a_malformed_port_info_exits_with_code_2_and_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("port.info"), "not a port\n").unwrap();
    let out = server(dir.path(), &["--data-dir", "data"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("port.info must hold a port number"), "{err}");
}

#[test]
fn the_config_file_sets_what_flags_leave_and_unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "data-dir = \"from-file\"\n").unwrap();
    let config = config.to_str().unwrap();
    // `fingerprint` names the folder it looked in: the file's, unless a flag
    // gives another.
    let out = server(dir.path(), &["fingerprint", "--config", config]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no server key in from-file"), "{err}");
    let out = server(
        dir.path(),
        &["fingerprint", "--config", config, "--data-dir", "flag"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no server key in flag"), "{err}");

    std::fs::write(
        dir.path().join("server.toml"),
        "port = 1\ndata_dir = \"x\"\n",
    )
    .unwrap();
    let out = server(dir.path(), &["fingerprint", "--config", config]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("line 2") && err.contains("data_dir"), "{err}");

    let out = server(dir.path(), &["--config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

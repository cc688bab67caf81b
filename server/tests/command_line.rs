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

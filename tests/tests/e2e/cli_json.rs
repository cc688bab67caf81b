//! What a script reads from the `client` binary when the command itself
//! goes wrong: with `--json`, a command line that does not parse is one
//! JSON line with the code `usage` (exit code 2, as without `--json`),
//! while `--help` stays text; `client test` against a server that is not
//! there says so once, naming the address, and stops; a local failure has
//! a code that says which (`file_not_found`, `is_a_directory`, `is_you`);
//! output that cannot be written is one line and exit code 1, not a panic.

use std::path::Path;
use std::process::{Output, Stdio};

use e2e::{binary, bounded};
use serde_json::Value;

/// Runs the client binary in `home` with `args` (no server given).
pub(crate) async fn client(home: &Path, args: &[&str]) -> Output {
    bounded(
        "client binary",
        tokio::process::Command::new(binary("client").unwrap())
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .arg("--home")
            .arg(home)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap()
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An address nothing listens on: a port just bound and let go.
async fn nobody_there() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_under_json_are_one_json_line_with_clap_s_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    for (args, says) in [
        (&["--json", "no-such-command"][..], "no-such-command"),
        (&["send", "--json"][..], "<NAME>"),
        (&["--json", "list", "--no-such-flag"][..], "--no-such-flag"),
        (&["--json", "room"][..], "subcommand"),
    ] {
        let out = client(home, args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        let v: Value =
            serde_json::from_str(&err).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}"));
        assert_eq!(v["code"], "usage", "{err}");
        assert!(
            v["error"].as_str().unwrap().contains(says),
            "{args:?}: {err}"
        );
    }
    // Without --json, clap's own text, with the same exit code.
    let out = client(home, &["no-such-command"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: "),
        "{}",
        text(&out.stderr)
    );
    // Help is text, on standard output, exit code 0, --json or not; and it
    // says which commands print JSON.
    let out = client(home, &["--json", "--help"]).await;
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Usage: client"), "{help}");
    assert!(help.contains("every command's result"), "{help}");
    let out = client(home, &["send", "--help", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Usage: client send"));
    // Nothing was set up in the home by commands that never ran.
    assert_eq!(std::fs::read_dir(home).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_test_stops_at_an_unreachable_server_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let addr = nobody_there().await;

    let out = client(dir.path(), &["--server", &addr, "test"]).await;
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !stdout.contains("FAIL") && !stdout.contains("PASS"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("0 passed, 0 failed (cut short)\n"),
        "{stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the server at {addr}")),
        "{stderr}"
    );

    let out = client(dir.path(), &["--json", "--server", &addr, "test"]).await;
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // Standard output is JSON lines: the start, no step, the summary.
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["event"], "start");
    assert_eq!(lines[0]["server"], addr.as_str());
    assert_eq!(lines[1]["event"], "summary", "{stdout}");
    assert_eq!(lines[1]["completed"], false, "{stdout}");
    assert_eq!(lines[1]["passed"], 0, "{stdout}");
    assert_eq!(
        lines[1]["left_on_server"],
        serde_json::json!([]),
        "{stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let v: Value = serde_json::from_str(&stderr).unwrap();
    assert_eq!(v["code"], "unreachable", "{stderr}");
    assert!(v["error"].as_str().unwrap().contains(&addr), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_remembers_the_server_it_registered_on_and_a_home_without_one_says_how_to_give_it() {
    let server = e2e::TestServer::start(|_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("alice");
    let out = client(&home, &["list"]).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no server given") && err.contains("`client --help` lists the commands"),
        "{err}"
    );
    let addr = server.addr.to_string();
    let out = client(&home, &["--server", &addr, "register", "alice"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info = std::fs::read_to_string(home.join("server.info")).unwrap();
    assert_eq!(info, format!("{addr}\n"));
    // No --server from here on.
    let out = client(&home, &["--json", "list"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A home's server.info is the user's: a later registration elsewhere
    // does not overwrite one that is there.
    let other = dir.path().join("bob");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("server.info"), format!("{addr}\n127.0.0.1:9\n")).unwrap();
    let out = client(&other, &["--server", &addr, "register", "bob"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kept = std::fs::read_to_string(other.join("server.info")).unwrap();
    assert_eq!(kept, format!("{addr}\n127.0.0.1:9\n"));
}

/// A file that cannot be sent says why in its code, so that a script can
/// tell a wrong path from a folder; nothing is sent either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_cannot_be_sent_has_a_code_saying_why() {
    use crate::rooms_cli::{refusal, users};
    let (server, dir, [alice, _bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let missing = dir.path().join("nonexistent");
    let missing = missing.to_str().unwrap();
    let err = refusal(addr, &alice, &["send-file", "bob", missing]).await;
    assert_eq!(err["code"], "file_not_found", "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("no file at"),
        "{err}"
    );
    let folder = dir.path().to_str().unwrap();
    let err = refusal(addr, &alice, &["send-file", "bob", folder]).await;
    assert_eq!(err["code"], "is_a_directory", "{err}");
    let err = refusal(addr, &alice, &["send", "alice", "hi"]).await;
    assert_eq!(err["code"], "is_you", "{err}");
}

/// Regression: `send-file bob <(cmd)` said "no file at /dev/fd/63" (the
/// pipe's canonical form names no file); it is refused as what it is, a
/// pipe, by the path as typed, for a person and for a room alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_substitution_is_refused_as_not_a_regular_file() {
    use crate::rooms_cli::{ok, users};
    let (server, _dir, [alice, _bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    for target in ["send-file bob", "room send-file team"] {
        let script =
            format!("exec \"$0\" --json --home \"$1\" --server \"$2\" {target} <(echo piped)");
        let out = bounded(
            "client binary under bash",
            tokio::process::Command::new("bash")
                .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
                .arg("-c")
                .arg(script)
                .arg(binary("client").unwrap())
                .arg(&alice)
                .arg(addr.to_string())
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap()
        .expect("bash (Debian package bash) runs the client");
        assert!(!out.status.success(), "{target}");
        let stderr = text(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        let err: Value =
            serde_json::from_str(last).unwrap_or_else(|e| panic!("{target}: {e}: {stderr}"));
        let line = err["error"].as_str().unwrap();
        assert!(
            line.contains("/dev/fd/") && line.contains("not a regular file"),
            "{target}: {err}"
        );
        assert_ne!(err["code"], "file_not_found", "{target}: {err}");
    }
}

/// Standard output that takes nothing (`> /dev/full`, a pipe closed early)
/// ends the command with one line on standard error and exit code 1, as
/// any failure does (it panicked, with exit code 101 and a backtrace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_that_cannot_be_written_is_one_line_and_exit_code_1() {
    use crate::rooms_cli::users;
    let (server, _dir, [alice, _bob]) = users(["alice", "bob"]).await;
    for json in [false, true] {
        let mut cmd = tokio::process::Command::new(binary("client").unwrap());
        cmd.env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .arg("--home")
            .arg(&alice)
            .arg("--server")
            .arg(server.addr.to_string())
            .args(if json { &["--json"][..] } else { &[][..] })
            .args(["key", "bob"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Spawned, not `output()`: that would pipe standard output anew.
        let child = cmd.spawn().unwrap();
        let out = bounded("client binary", child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("standard output"), "{err}");
    }
}

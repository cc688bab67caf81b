//! The real client for the end-to-end tests: as a library ([`open_client`],
//! [`user`]) and as the `client` binary ([`run_client`]), plus the readings
//! of its events the tests compare.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use client::{Client, ClientConfig, What};
use tokio::io::AsyncWriteExt;

use crate::{binary, bounded};

/// Opens the client whose home is `home`, talking to `server`.
///
/// # Panics
/// If the client cannot open its store: the test cannot go on.
pub async fn open_client(server: &str, home: &Path) -> Client {
    Client::open(ClientConfig {
        home: home.to_path_buf(),
        server: server.to_string(),
        accept_server_key: false,
        protection: crate::test_protection(),
    })
    .await
    .unwrap()
}

/// A client in `home` for `server`, registered as `name` (one process can
/// hold several users, each in its own home).
///
/// # Panics
/// If the client cannot open its store or register: the test cannot go on.
pub async fn user(server: &str, home: &Path, name: &str) -> Client {
    let c = open_client(server, home).await;
    c.register(name).await.unwrap();
    c
}

/// The texts among `events`, in order.
pub fn texts(events: &[client::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::Text { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Where the files among `events` were saved, in order.
pub fn files(events: &[client::Event]) -> Vec<PathBuf> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::File { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

/// The client binary for `home` and `server` with `args`, not yet started:
/// the test passphrase, standard input closed, both outputs piped, killed
/// when dropped (a caller changes what it needs before `spawn`).
pub fn client_process(
    server: impl std::fmt::Display,
    home: &Path,
    args: &[&str],
) -> tokio::process::Command {
    client_process_under(&[], server, home, args)
}

/// As [`client_process`], started through `launcher` (a program and its
/// arguments, such as `setsid --wait`) when it is not empty.
pub fn client_process_under(
    launcher: &[&str],
    server: impl std::fmt::Display,
    home: &Path,
    args: &[&str],
) -> tokio::process::Command {
    let client = binary("client").unwrap();
    let mut cmd = match launcher.split_first() {
        Some((program, launcher_args)) => {
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(launcher_args).arg(client);
            cmd
        }
        None => tokio::process::Command::new(client),
    };
    cmd.env("SEALPOST_PASSPHRASE", crate::TEST_PASSPHRASE)
        .arg("--home")
        .arg(home)
        .arg("--server")
        .arg(server.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs the client binary with stdin closed; (success, stdout, stderr).
pub async fn run_client(
    server: impl std::fmt::Display,
    home: &Path,
    args: &[&str],
) -> (bool, String, String) {
    run_client_with_stdin(server, home, args, None).await
}

/// Runs the client binary, writing `stdin` (if any) to it and closing it;
/// (success, stdout, stderr).
pub async fn run_client_with_stdin(
    server: impl std::fmt::Display,
    home: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    let mut cmd = client_process(server, home, args);
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    let out = bounded("client binary", child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `client --json ARGS` in `home` with the debug-only crash point
/// `var` set to `at`, and checks that the client aborted there (as a kill
/// -9 at that point would stop it).
///
/// # Panics
/// If the client ended by itself: the crash point was never reached.
pub async fn run_client_crashing_at(
    server: impl std::fmt::Display,
    home: &Path,
    args: &[&str],
    var: &str,
    at: &str,
) {
    use std::os::unix::process::ExitStatusExt;
    let args: Vec<&str> = std::iter::once("--json")
        .chain(args.iter().copied())
        .collect();
    let mut cmd = client_process(server, home, &args);
    cmd.env(var, at);
    let out = bounded("client binary", cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.signal().is_some(),
        "{var}={at}: did not crash: {out:?}"
    );
}

/// `line` without the `[YYYY-MM-DD HH:MM:SS] ` that begins every event the
/// client prints; panics, naming the line, when it has none.
pub fn untimed(line: &str) -> &str {
    let (at, rest) = line
        .strip_prefix('[')
        .and_then(|l| l.split_once("] "))
        .unwrap_or_else(|| panic!("no time in {line:?}"));
    let shape = at.len() == 19
        && at.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        });
    assert!(shape, "no time in {line:?}");
    rest
}

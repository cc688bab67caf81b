//! `client tui` (the full-screen client) against the real server binary,
//! driven through a pseudo-terminal (util-linux `script`, as the menu's
//! terminal test) and read back as a screen (the `vt100` crate interprets
//! what it draws): two users exchange texts and files, a room message
//! arriving while another conversation is open bumps the room's unread
//! count, a public room is joined with `/join`, a person coming online
//! gets the list's mark and `/online` lists them, and the terminal is given
//! back on `/quit`, Ctrl-C, SIGTERM and a panic (before its message).
//! `tui_more` has the file over the limit asked for on the screen and
//! `NO_COLOR`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use e2e::{ServerProcess, WAIT, binary, bounded, files, pattern, run_client, texts, user};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio_util::sync::CancellationToken;

const COLS: u16 = 120;
const ROWS: u16 = 40;
/// What crossterm writes when it leaves the alternate screen.
pub(super) const LEAVE_ALTERNATE_SCREEN: &str = "\x1b[?1049l";

/// `client tui` in a pseudo-terminal of COLS x ROWS.
pub(super) struct Tui {
    child: Child,
    stdin: ChildStdin,
    output: Arc<Mutex<Vec<u8>>>,
    arrived: Arc<tokio::sync::Notify>,
}

/// How a [`Tui`] starts besides its home and server.
#[derive(Default)]
pub(super) struct Start<'a> {
    /// More environment.
    pub(super) env: &'a [(&'a str, &'a str)],
    /// More options before `tui`.
    pub(super) options: &'a str,
    /// A shell command run in the same terminal after the client ends
    /// (instead of `exec`ing the client).
    pub(super) after: Option<&'a str>,
}

impl Tui {
    pub(super) async fn start(home: &Path, server: std::net::SocketAddr) -> Tui {
        Self::start_with(home, server, Start::default()).await
    }

    pub(super) async fn start_with(
        home: &Path,
        server: std::net::SocketAddr,
        how: Start<'_>,
    ) -> Tui {
        let script = ["/usr/bin/script", "/bin/script"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("util-linux `script` is missing: install the Debian package bsdutils (.ci/run does)");
        let client = format!(
            "'{}' --home '{}' --server {server} {} tui",
            binary("client").unwrap().display(),
            home.display(),
            how.options
        );
        let command = match how.after {
            None => format!("stty cols {COLS} rows {ROWS}; exec {client}"),
            Some(after) => format!("stty cols {COLS} rows {ROWS}; {client}; {after}"),
        };
        let mut child = Command::new(script)
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .envs(how.env.iter().copied())
            .args(["-q", "-f", "-e", "-c", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting `script`");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(tokio::sync::Notify::new());
        {
            let output = output.clone();
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = stdout.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    output.lock().unwrap().extend_from_slice(&buf[..n]);
                    arrived.notify_one();
                }
                arrived.notify_one();
            });
        }
        Tui {
            child,
            stdin,
            output,
            arrived,
        }
    }

    pub(super) async fn keys(&mut self, keys: &str) {
        bounded("typing", async {
            self.stdin.write_all(keys.as_bytes()).await?;
            self.stdin.flush().await
        })
        .await
        .unwrap()
        .unwrap();
    }

    /// Backspaces over `typed`, which is in the typing box (where a failed
    /// command comes back).
    pub(super) async fn erase(&mut self, typed: &str) {
        self.keys(&"\x7f".repeat(typed.chars().count())).await;
    }

    /// The screen as the terminal shows it now.
    pub(super) fn screen(&self) -> String {
        let mut parser = vt100::Parser::new(ROWS, COLS, 0);
        parser.process(&self.output.lock().unwrap());
        parser.screen().contents()
    }

    pub(super) fn raw(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the screen satisfies `ok`; returns it.
    pub(super) async fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if tokio::time::timeout_at(deadline, self.arrived.notified())
                .await
                .is_err()
            {
                panic!("the screen did not show {what} within {WAIT:?}; it showed:\n{screen}");
            }
        }
    }

    pub(super) async fn wait_for(&self, needle: &str) -> String {
        self.wait_until(&format!("{needle:?}"), |s| s.contains(needle))
            .await
    }

    /// Waits for the program to end; its exit status and everything it wrote.
    pub(super) async fn exit(mut self) -> (std::process::ExitStatus, String) {
        let status = bounded("the client to exit", self.child.wait())
            .await
            .unwrap()
            .unwrap();
        (status, self.raw())
    }

    /// Quits with `/quit`, which must end the program cleanly; everything
    /// it wrote.
    pub(super) async fn quit(mut self) -> String {
        self.keys("/quit\r").await;
        let (status, raw) = self.exit().await;
        assert!(status.success(), "exit status {status}\n{raw}");
        raw
    }

    /// The `client` process (the child of `script`, which exec'd it).
    fn client_pid(&self) -> i32 {
        let script = self.child.id().expect("script is running");
        let children =
            std::fs::read_to_string(format!("/proc/{script}/task/{script}/children")).unwrap();
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("script has a child")
    }
}

/// A server on a fresh folder with alice registered, for her screen: the
/// folder (deleted when dropped: keep it bound), the server, its address as
/// `--server` takes it, and alice's home.
pub(super) async fn alice_on_a_server() -> (tempfile::TempDir, ServerProcess, String, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let home = dir.path().join("alice");
    register(&addr, &home, "alice").await;
    (dir, server, addr, home)
}

/// The row of the conversation list that names `label`.
pub(super) fn list_row<'a>(screen: &'a str, label: &str) -> Option<&'a str> {
    screen
        .lines()
        .map(|l| {
            l.get(..l.char_indices().nth(30).map_or(l.len(), |(i, _)| i))
                .unwrap_or(l)
        })
        .find(|l| l.contains(label))
}

/// Registers `name` in `home` with the client binary (so no store of the
/// home stays open in this process while the full-screen client runs).
pub(super) async fn register(server: &str, home: &Path, name: &str) {
    let (ok, out, err) = run_client(server, home, &["register", name]).await;
    assert!(ok, "register {name}: {out}{err}");
}

pub(super) fn sha256(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

pub(super) fn write_file(dir: &Path, name: &str, seed: u64, len: usize) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pattern(seed, len)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_exchange_texts_files_and_a_room_bumps_its_count_in_the_tui() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let (home_a, home_b) = (dir.path().join("alice"), dir.path().join("bob"));
    register(&addr, &home_a, "alice").await;
    let bob = user(&addr, &home_b, "bob").await;

    let mut tui = Tui::start(&home_a, server.addr).await;
    tui.wait_for("No conversations yet").await;
    // The status line: the connection, the server and its pinned key.
    let status = format!("connected | {addr} | server pinned ");
    tui.wait_until("the connection", |s| s.contains(&status))
        .await;

    // A conversation with bob, and a text to him.
    tui.keys("/open bob\r").await;
    tui.wait_until("bob in the list", |s| {
        list_row(s, "bob").is_some_and(|r| r.contains("1 bob"))
    })
    .await;
    tui.keys("hello bob\r").await;
    tui.wait_for("hello bob").await;
    tui.wait_for("you  (stored)").await;
    let events = bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    assert_eq!(texts(&events), ["hello bob"]);
    bob.shown(&events).await;

    // bob answers: it appears while alice has the conversation open, and
    // her text shows bob's read receipt.
    bounded("bob's answer", bob.send_text("alice", "hi alice"))
        .await
        .unwrap()
        .unwrap();
    tui.wait_for("hi alice").await;
    tui.wait_for("you  (read)").await;

    // A file each way; the sent one arrives intact, the received one is a
    // file event with where it was saved.
    let out = write_file(dir.path(), "from-alice.bin", 1, 3 << 20);
    tui.keys(&format!("/file {}\r", out.display())).await;
    tui.wait_for("file from-alice.bin (3.15 MB)").await;
    tui.wait_for("100%  done").await;
    let events = bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    let saved = files(&events);
    assert_eq!(saved.len(), 1, "{events:?}");
    assert_eq!(sha256(&saved[0]), sha256(&out));
    let back = write_file(dir.path(), "from-bob.bin", 2, 200_000);
    bounded(
        "bob's file",
        bob.send_file("alice", &back, CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    let screen = tui.wait_for("file from-bob.bin (200.00 kB) saved as").await;
    assert!(!screen.contains("NOT DELIVERED"), "{screen}");
    let got = home_a.join("downloads").join("from-bob.bin");
    assert_eq!(sha256(&got), sha256(&back));

    // bob makes a room with alice in it and writes there while alice has
    // bob's conversation open: the room's count goes up, bob's stays clear.
    bounded("the room", bob.room_create("team"))
        .await
        .unwrap()
        .unwrap();
    bounded("adding alice", bob.room_add("team", &["alice".to_string()]))
        .await
        .unwrap()
        .unwrap();
    tui.wait_until("#team in the list", |s| list_row(s, "#team").is_some())
        .await;
    bounded("a room text", bob.room_send("team", "standup at 10"))
        .await
        .unwrap()
        .unwrap();
    let screen = tui
        .wait_until("#team with one unread", |s| {
            list_row(s, "#team").is_some_and(|r| r.contains("(1)"))
        })
        .await;
    assert!(
        !screen.contains("standup at 10"),
        "shown before it was opened\n{screen}"
    );
    let bob_row = list_row(&screen, "bob").unwrap().to_string();
    assert!(!bob_row.contains('('), "{bob_row}");

    // Opening the room shows the text and clears the count.
    tui.keys("\x0e").await; // Ctrl-N
    let screen = tui.wait_for("standup at 10").await;
    tui.wait_until("#team read", |s| {
        list_row(s, "#team").is_some_and(|r| !r.contains("(1)"))
    })
    .await;
    assert!(screen.contains(" bob"), "{screen}");

    // A public room joined from the screen (an external commit, by the
    // library's join), opened with what it did said in it.
    bounded(
        "a public room",
        bob.room_create_with_rule("lobby", client::rooms::rule_of(true, false, false)),
    )
    .await
    .unwrap()
    .unwrap();
    tui.keys("/join lobby\r").await;
    tui.wait_for("joined #lobby").await;
    tui.wait_for(" #lobby - public ").await;
    tui.wait_until("#lobby in the list", |s| list_row(s, "#lobby").is_some())
        .await;

    // bob comes online (his client watches): his row gets the mark, and
    // /online lists him.
    let stop = CancellationToken::new();
    let (events_tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let watching = {
        let bob = bob.clone();
        let stop = stop.clone();
        tokio::spawn(async move { bob.watch(events_tx, stop).await })
    };
    tui.wait_until("bob marked online", |s| {
        list_row(s, "bob").is_some_and(|r| r.contains("*bob"))
    })
    .await;
    tui.keys("/online\r").await;
    let screen = tui.wait_for("online now:").await;
    assert!(
        screen.lines().any(|l| l.contains("  bob ")),
        "bob is not listed online\n{screen}"
    );
    stop.cancel();
    bounded("bob's watch to stop", watching)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let raw = tui.quit().await;
    assert!(
        raw.contains(LEAVE_ALTERNATE_SCREEN),
        "the terminal was not given back"
    );
    assert!(!raw.contains("panicked"), "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_gives_the_terminal_back_on_ctrl_c_and_sigterm() {
    let (_dir, server, _addr, home) = alice_on_a_server().await;

    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;
    tui.keys("\u{3}").await;
    let (status, raw) = tui.exit().await;
    assert!(status.success(), "exit status {status}\n{raw}");
    assert!(
        raw.contains(LEAVE_ALTERNATE_SCREEN),
        "Ctrl-C left the screen as it was"
    );

    let tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tui.client_pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (status, raw) = tui.exit().await;
    assert!(status.success(), "exit status {status}\n{raw}");
    assert!(
        raw.contains(LEAVE_ALTERNATE_SCREEN),
        "SIGTERM left the screen as it was"
    );
}

/// The room files among `events`, by name.
fn room_files(events: &[client::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            client::What::Room {
                change: client::rooms::event::RoomChange::File { name, .. },
                ..
            } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_room_upload_announces_nothing_and_the_next_one_goes_through() {
    // The full-screen client's /cancel stops a room upload through this
    // token: nothing reaches the room, and the room takes the next file.
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    bounded("the room", bob.room_create("team"))
        .await
        .unwrap()
        .unwrap();
    bounded("adding alice", bob.room_add("team", &["alice".to_string()]))
        .await
        .unwrap()
        .unwrap();
    let file = write_file(dir.path(), "big.bin", 3, 2 << 20);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let cancelled = bounded(
        "a cancelled upload",
        bob.room_send_file("team", &file, cancel),
    )
    .await
    .unwrap();
    assert!(
        matches!(cancelled, Err(client::ClientError::Cancelled)),
        "{cancelled:?}"
    );
    bounded(
        "the next upload",
        bob.room_send_file("team", &file, CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    let events = bounded("alice's inbox", alice.inbox())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(room_files(&events), ["big.bin"], "{events:?}");
}

//! The interactive menu (`client` without a subcommand) against the real
//! server binary: driven line by line through standard input, and once
//! through a pseudo-terminal (util-linux `script`) for what needs a
//! terminal: messages printed while a line is being typed, progress bars,
//! Ctrl-C and Ctrl-D.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use e2e::{ServerProcess, WAIT, binary, bounded, pattern};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// A menu whose standard input and output are pipes.
pub(crate) struct Menu {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far, for failure messages and whole-output checks.
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Menu {
    pub(crate) async fn start(name: &'static str, home: &Path, server: SocketAddr) -> Menu {
        let mut child = Command::new(binary("client").unwrap())
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .arg("--home")
            .arg(home)
            .arg("--server")
            .arg(server.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting the client binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut out = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = out.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = stderr.clone();
            let mut err = child.stderr.take().unwrap();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let _ = err.read_to_end(&mut buf).await;
                stderr
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf));
            });
        }
        Menu {
            name,
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    pub(crate) async fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        bounded("writing to the menu", async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        })
        .await
        .unwrap()
        .unwrap();
    }

    fn transcript(&self) -> String {
        format!(
            "--- {} stdout ---\n{}\n--- stderr ---\n{}",
            self.name,
            self.seen.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Reads lines until one contains `needle`; returns it.
    pub(crate) async fn expect(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Ok(None) => panic!(
                    "{} ended before printing {needle:?}\n{}",
                    self.name,
                    self.transcript()
                ),
                Err(_) => panic!(
                    "{} did not print {needle:?} within {WAIT:?}\n{}",
                    self.name,
                    self.transcript()
                ),
            }
        }
    }

    /// Types `line` and waits for a line containing `needle`.
    pub(crate) async fn run(&mut self, line: &str, needle: &str) -> String {
        self.type_line(line).await;
        self.expect(needle).await
    }

    /// Types `0`, waits for the exit and returns the whole output.
    pub(crate) async fn exit(mut self) -> String {
        self.type_line("0").await;
        self.expect("bye").await;
        drop(self.stdin.take());
        let status = bounded("the menu to exit", self.child.wait())
            .await
            .unwrap()
            .unwrap();
        // The child is gone: its output ends.
        while let Some(line) = bounded("the rest of the output", self.lines.recv())
            .await
            .unwrap()
        {
            self.seen.push(line);
        }
        assert!(
            status.success(),
            "{} exited with {status}\n{}",
            self.name,
            self.transcript()
        );
        let transcript = self.transcript();
        assert!(
            !transcript.contains("panicked"),
            "{} panicked\n{transcript}",
            self.name
        );
        self.seen.join("\n")
    }
}

fn sha256(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

fn write_file(dir: &Path, name: &str, seed: u64, len: usize) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pattern(seed, len)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_exchange_texts_and_files_through_the_menu() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (home_a, home_b) = (dir.path().join("alice"), dir.path().join("bob"));

    let mut alice = Menu::start("alice", &home_a, server.addr).await;
    let line = alice.expect("nobody is registered in").await;
    assert!(
        line.contains("type `register NAME` (or `1 NAME`)"),
        "{line}"
    );
    alice.expect("(not contacted yet)").await;
    let line = alice.run("list", "error:").await;
    assert_eq!(
        line,
        "error: you are not registered yet: type `register NAME` (or `1 NAME`) first"
    );
    alice.run("1 alice", "registered alice with id").await;
    alice.expect("your fingerprint: ").await;
    alice.expect("watching: on").await;

    let mut bob = Menu::start("bob", &home_b, server.addr).await;
    bob.run("register bob", "registered bob with id").await;
    bob.expect("watching: on").await;

    alice.run("2", "1 other user:").await;
    let listed = alice.expect("bob").await;
    assert!(listed.trim_start().starts_with("bob "), "{listed}");

    // Mistakes: one line each, and the menu goes on.
    let line = alice.run("frobnicate now", "error:").await;
    assert_eq!(
        line,
        "error: unknown command \"frobnicate\"; type `help` for the menu"
    );
    let line = alice.run("lsit", "error:").await;
    assert!(line.contains("did you mean `list`?"), "{line}");
    let line = alice.run("send bbo hi", "error:").await;
    assert_eq!(
        line,
        "error: no user named \"bbo\" on this server; did you mean \"bob\"?"
    );
    let line = alice.run("send zed hi", "error:").await;
    assert!(line.contains("`list` shows who is there"), "{line}");
    let missing = dir.path().join("missing.pdf");
    let line = alice
        .run(&format!("file bob {}", missing.display()), "error:")
        .await;
    assert_eq!(
        line,
        format!(
            "error: no file at {}; check the path (Tab completes it)",
            missing.display()
        )
    );

    // A text, words and arguments on one line; it arrives while bob waits.
    alice
        .run("send bob hello bob, how are you?", "sent to bob (message")
        .await;
    bob.expect("alice started a secure session with you").await;
    let header = bob.expect("] alice:").await;
    assert!(header.starts_with("[20"), "{header}");
    assert_eq!(
        bob.expect("how are you").await,
        "    hello bob, how are you?"
    );

    // A file, by number; bob's watcher saves it (alice is a contact once
    // bob looked her key up: files from strangers wait for `accept-file`).
    bob.run("key alice", "fingerprint: ").await;
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let report = write_file(&files, "report.bin", 7, 3_000_000);
    let line = alice
        .run(&format!("50 bob {}", report.display()), "sent ")
        .await;
    assert!(line.contains("(3.00 MB) to bob (message"), "{line}");
    let line = bob.expect("alice sent a file: report.bin").await;
    assert!(line.contains("(3.00 MB), saved as"), "{line}");
    assert_eq!(
        sha256(&home_b.join("downloads").join("report.bin")),
        sha256(&report)
    );

    // The other way, through sub-prompts (as the reference menu asked).
    bob.type_line("5").await;
    bob.type_line("alice").await;
    // Entering the conversation shows its last lines before the text.
    bob.expect("last in the conversation with alice:").await;
    assert_eq!(
        bob.expect("how are you").await,
        "    hello bob, how are you?"
    );
    let file_line = bob.expect("report.bin").await;
    assert!(file_line.contains("report.bin"), "{file_line}");
    bob.run("fine, thanks", "sent to alice (message").await;
    assert_eq!(alice.expect("fine, thanks").await, "    fine, thanks");
    let photo = write_file(&files, "photo of bob.jpg", 9, 1_234_567);
    bob.type_line("file").await;
    bob.type_line("alice").await;
    bob.run(&photo.display().to_string(), "sent ").await;
    alice.expect("bob sent a file: photo of bob.jpg").await;
    assert_eq!(
        sha256(&home_a.join("downloads").join("photo of bob.jpg")),
        sha256(&photo)
    );

    // Escaping: terminal escapes and bidi overrides arrive as literal text.
    bob.run(
        "send alice \u{1b}[31mred\u{1b}[0m \u{202e}gnp.exe \u{1b}]0;pwned\u{7}",
        "sent to alice",
    )
    .await;
    let shown = alice.expect("red").await;
    assert_eq!(
        shown,
        "    \\e[31mred\\e[0m \\u{202e}gnp.exe \\e]0;pwned\\u{7}"
    );

    // Reading by hand when nothing waits; the safety number is the same
    // on both sides.
    alice.run("4", "no new messages").await;
    alice
        .run("fingerprint bob", "safety number with bob:")
        .await;
    let number_a = alice.expect(" ").await;
    bob.run("fingerprint alice", "safety number with alice:")
        .await;
    let number_b = bob.expect(" ").await;
    assert_eq!(number_a, number_b);

    let out_a = alice.exit().await;
    assert!(!out_a.contains('\u{1b}') && !out_a.contains('\u{202e}'));

    // Messages sent while alice is away are counted when she comes back,
    // then shown by the watcher.
    bob.run("send alice while you were out", "sent to alice")
        .await;
    let mut alice = Menu::start("alice", &home_a, server.addr).await;
    let line = alice.expect("you:").await;
    assert!(line.contains("alice (id "), "{line}");
    alice.expect("(pinned)").await;
    assert_eq!(alice.expect("waiting:").await, "waiting:  1 message");
    alice.expect("while you were out").await;
    alice.exit().await;
    bob.exit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_explains_a_taken_name_and_a_server_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let mut first = Menu::start("first", &dir.path().join("a"), server.addr).await;
    first.run("register carol", "registered carol").await;
    first.exit().await;

    let mut second = Menu::start("second", &dir.path().join("b"), server.addr).await;
    let line = second.run("register carol", "error:").await;
    assert_eq!(
        line,
        "error: the name \"carol\" is taken on this server; choose another"
    );
    second.run("register dave", "registered dave").await;
    second.exit().await;

    // The server goes away: startup and commands say so in one line. The
    // menu is pointed at an address that refuses, which (unlike the killed
    // server's port) no other test can take meanwhile.
    server.kill9().await.unwrap();
    let (_refusing, addr) = e2e::refusing_address().unwrap();
    let mut carol = Menu::start("carol", &dir.path().join("a"), addr).await;
    let line = carol.expect("error:").await;
    assert!(
        line.starts_with(&format!("error: cannot reach the server at {addr}"))
            && line.contains("is it running?"),
        "{line}"
    );
    let line = carol.run("send dave hi", "error:").await;
    assert!(line.contains("cannot reach the server"), "{line}");
    // A missing argument is asked for; an empty answer cancels.
    carol.type_line("key").await;
    carol.run("", "nothing given; cancelled").await;
    carol.exit().await;
}

/// Runs a scripted subcommand of the client binary; it must succeed.
pub(crate) async fn subcommand(home: &Path, server: SocketAddr, args: &[&str]) {
    let status = Command::new(binary("client").unwrap())
        .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
        .arg("--home")
        .arg(home)
        .arg("--server")
        .arg(server.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .status();
    let status = bounded("a client subcommand", status)
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "client {args:?} failed: {status}");
}

/// A menu in a pseudo-terminal made by util-linux `script`.
pub(crate) struct Pty {
    pub(crate) child: Child,
    stdin: ChildStdin,
    output: Arc<Mutex<Vec<u8>>>,
    /// Signalled whenever output arrives.
    arrived: Arc<tokio::sync::Notify>,
    /// How much of `output` earlier waits consumed.
    read: usize,
}

impl Pty {
    pub(crate) async fn start(home: &Path, server: SocketAddr) -> Pty {
        let script = ["/usr/bin/script", "/bin/script"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("util-linux `script` is missing: install the Debian package bsdutils (.ci/run does)");
        let command = format!(
            "stty cols 160 rows 40; exec '{}' --home '{}' --server {server}",
            binary("client").unwrap().display(),
            home.display()
        );
        let mut child = Command::new(script)
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
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
            });
        }
        Pty {
            child,
            stdin,
            output,
            arrived,
            read: 0,
        }
    }

    pub(crate) async fn keys(&mut self, keys: &str) {
        bounded("typing", async {
            self.stdin.write_all(keys.as_bytes()).await?;
            self.stdin.flush().await
        })
        .await
        .unwrap()
        .unwrap();
    }

    /// Leaves the menu with Ctrl-D (at its prompt) and returns how it
    /// exited, once it said `bye`.
    pub(crate) async fn leave(&mut self) -> std::process::ExitStatus {
        self.keys("\u{4}").await;
        self.wait_for("bye").await;
        bounded("the menu to exit", self.child.wait())
            .await
            .unwrap()
            .unwrap()
    }

    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until `needle` appears after what earlier waits consumed.
    pub(crate) async fn wait_for(&mut self, needle: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            {
                let out = self.output.lock().unwrap();
                let text = String::from_utf8_lossy(&out[self.read.min(out.len())..]).into_owned();
                if let Some(at) = text.find(needle) {
                    // The lossy text may differ in length only where bytes
                    // were not UTF-8, which the menu never prints.
                    self.read += at + needle.len();
                    return;
                }
            }
            // Wait for more output (a notification sent meanwhile is kept).
            if tokio::time::timeout_at(deadline, self.arrived.notified())
                .await
                .is_err()
            {
                panic!(
                    "the terminal did not show {needle:?} within {WAIT:?}; it showed:\n{}",
                    self.screen()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_in_a_terminal_prints_pushed_messages_and_ctrl_c_cancels_an_upload() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (home_a, home_b) = (dir.path().join("alice"), dir.path().join("bob"));
    subcommand(&home_a, server.addr, &["register", "alice"]).await;
    subcommand(&home_b, server.addr, &["register", "bob"]).await;

    let mut pty = Pty::start(&home_a, server.addr).await;
    pty.wait_for("watching: on").await;
    pty.wait_for("alice> ").await;

    // A message pushed while a line is half typed is printed above it, and
    // the line is still there to finish.
    pty.keys("send bob hel").await;
    pty.wait_for("send bob hel").await;
    subcommand(
        &home_b,
        server.addr,
        &["send", "alice", "pushed while you type"],
    )
    .await;
    pty.wait_for("pushed while you type").await;
    pty.wait_for("send bob hel").await;
    pty.keys("lo there\r").await;
    pty.wait_for("sent to bob (message").await;
    // Keys typed before the prompt is back reach a terminal in cooked mode
    // (echoed there, not by the menu): wait for the prompt, as a person would.
    pty.wait_for("alice> ").await;

    // Tab completes a command and a name ("keb" would be no command).
    pty.keys("ke\t").await;
    pty.keys("b\t\r").await;
    pty.wait_for("fingerprint: ").await;
    pty.wait_for("alice> ").await;

    // Ctrl-C during an upload cancels it, and the menu goes on. A sparse
    // file is large to send but costs no disk.
    let big = dir.path().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    pty.keys(&format!("file bob {}\r", big.display())).await;
    pty.wait_for("ETA").await;
    pty.keys("\u{3}").await;
    pty.wait_for("upload cancelled; `resume` continues it")
        .await;
    pty.wait_for("alice> ").await;
    pty.keys("list\r").await;
    pty.wait_for("1 other user:").await;

    // Ctrl-C at the prompt clears the line; Ctrl-D leaves. "garbage" must be
    // the menu's echo (after its prompt), not the terminal's cooked echo, or
    // the prompt drawn before the Ctrl-C would pass for the one after it.
    pty.wait_for("alice> ").await;
    pty.keys("garbage").await;
    pty.wait_for("garbage").await;
    pty.keys("\u{3}").await;
    // rustyline drops keys it read ahead of an interrupted line: wait for
    // the new prompt, as a person would.
    pty.wait_for("alice> ").await;
    pty.keys("list\r").await;
    pty.wait_for("1 other user:").await;
    // Ctrl-D typed before the prompt is back would reach a terminal in
    // cooked mode (an end of file nobody reads): wait for the prompt.
    pty.wait_for("alice> ").await;
    let status = pty.leave().await;
    let screen = pty.screen();
    assert!(status.success(), "exit status {status}\n{screen}");
    assert!(!screen.contains("unknown command"), "{screen}");
    assert!(!screen.contains("panicked"), "{screen}");
    // The history kept the commands but not the text of the message.
    let history = std::fs::read_to_string(home_a.join("history")).unwrap();
    assert!(history.contains("send bob\n"), "{history}");
    assert!(!history.contains("hello there"), "{history}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home_a.join("history"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

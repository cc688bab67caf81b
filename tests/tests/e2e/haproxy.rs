//! HAProxy as the cluster's TCP front end (issue 15, item 5): clients that
//! know one address reach two PostgreSQL-backed nodes sharing one key
//! through `deploy/haproxy.cfg` (its addresses replaced by loopback ones),
//! and carry on through the remaining node when one stops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use e2e::{Postgres, TestServer, open_client, texts, user};
use server::{Config, Options};

/// Kills and reaps HAProxy when the test ends, however it ends.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The installed `haproxy`, or a failure naming the package.
fn haproxy_binary() -> PathBuf {
    [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .expect("haproxy is missing: apt-get install haproxy")
}

/// `deploy/haproxy.cfg` listening on `front` and balancing `a` and `b`.
fn config(front: &str, a: &str, b: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy.cfg");
    let text = std::fs::read_to_string(&path).unwrap();
    for placeholder in ["bind *:1357", "10.0.0.11:1357", "10.0.0.12:1357"] {
        assert!(
            text.contains(placeholder),
            "{} lost `{placeholder}`",
            path.display()
        );
    }
    text.replace("bind *:1357", &format!("bind {front}"))
        .replace("10.0.0.11:1357", a)
        .replace("10.0.0.12:1357", b)
}

/// Starts HAProxy on `cfg` and waits (bounded) until `front` accepts.
async fn start_haproxy(cfg: &Path, front: &str) -> Haproxy {
    let child = Command::new(haproxy_binary())
        .arg("-f")
        .arg(cfg)
        .arg("-db")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut haproxy = Haproxy(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(front).await.is_ok() {
            return haproxy;
        }
        assert!(
            haproxy.0.try_wait().unwrap().is_none(),
            "haproxy exited at start; check {}",
            cfg.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("haproxy did not listen on {front} within 10 s");
}

/// A node on `pg` and `files` whose data folder holds a copy of `key` (the
/// cluster's one identity), in `dir`.
async fn node_with_key(pg: &Postgres, files: &Path, key: &Path, dir: &Path) -> TestServer {
    use std::os::unix::fs::PermissionsExt;
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(key, data.join("server.key")).unwrap();
    let mut options = Options::new(&data);
    options.durability = server::Durability::Normal;
    options.database = Some(pg.url());
    options.files_dir = Some(files.to_path_buf());
    TestServer::start_with(Config::new(options).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_behind_haproxy_carry_on_through_the_other_node_when_one_stops() {
    let pg = Arc::new(
        tokio::task::spawn_blocking(Postgres::start)
            .await
            .unwrap()
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let mut a = TestServer::start_node(&pg, &files, |_| {}).await.unwrap();
    let b_dir = dir.path().join("b");
    std::fs::create_dir(&b_dir).unwrap();
    let b = node_with_key(&pg, &files, &a.config.key_path(), &b_dir).await;

    let front = {
        // A port free a moment ago: HAProxy's configuration needs a number.
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().to_string()
    };
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(
        &cfg,
        config(&front, &a.addr.to_string(), &b.addr.to_string()),
    )
    .unwrap();
    let _haproxy = start_haproxy(&cfg, &front).await;

    let alice_home = dir.path().join("alice");
    let bob_home = dir.path().join("bob");
    let alice = user(&front, &alice_home, "alice").await;
    let bob = user(&front, &bob_home, "bob").await;
    alice.send_text("bob", "before").await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), ["before"]);
    drop((alice, bob));

    // Node A stops; HAProxy sends every new connection to B (a failed
    // connect to A is redispatched before its health check marks it down).
    a.stop().await.unwrap();
    for i in 0..4 {
        let alice = open_client(&front, &alice_home).await;
        alice.send_text("bob", &format!("after {i}")).await.unwrap();
    }
    let bob = open_client(&front, &bob_home).await;
    assert_eq!(
        texts(&bob.inbox().await.unwrap()),
        (0..4).map(|i| format!("after {i}")).collect::<Vec<_>>()
    );
}

//! Feeds arbitrary bytes, as a peer would send them, to the server's real
//! connection handler over an in-memory stream, against one server on a
//! temporary database for the whole run. Version 2 is enabled so that the
//! unauthenticated paths (register, send, pull, files) are reachable; the
//! version-3 paths before authentication are reachable as well.
//!
//! Checks: no panic anywhere in request handling, the connection always
//! ends within a bounded time, and the server keeps answering afterwards.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use server::{Config, Durability, Options, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

struct Harness {
    runtime: Runtime,
    server: Server,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = Options::new(dir.path().join("data"));
        options.legacy_v2 = true;
        options.durability = Durability::Normal;
        options.idle_timeout = Duration::from_millis(50);
        options.stall_timeout = Duration::from_millis(50);
        options.v2_max_content = 1 << 20;
        let config = Config::new(options).expect("a valid configuration");
        let server = runtime.block_on(Server::open(config)).expect("server");
        Harness {
            runtime,
            server,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    h.runtime.block_on(async {
        let (mut peer, stream) = tokio::io::duplex(64 * 1024);
        let serve = h.server.serve_stream(stream, "127.0.0.1:9".parse().unwrap());
        let talk = async {
            let _ = peer.write_all(data).await;
            let _ = peer.shutdown().await;
            let mut sink = vec![0u8; 64 * 1024];
            while let Ok(n) = peer.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        };
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(serve, talk);
        })
        .await;
        assert!(ended.is_ok(), "a connection did not end within 5 s");
    });
});

//! Network faults: a vanished peer is found out by TCP keepalive, and a
//! client that asks for more than it reads (pipelined pulls and downloads,
//! never read) is cut off after the stall timeout instead of being buffered
//! for.

use bytes::Bytes;
use e2e::{ServerProcess, TestServer, V3Conn, bounded, pattern};
use protocol::v3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_connections_have_tcp_keepalive_on() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let (_alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    // The server's end of the connection, as the kernel shows it. While an
    // answer is unacknowledged the retransmit timer shows instead
    // ("timer:(on,..)"), so look until the keepalive timer does.
    let port = server.addr.port();
    let seen = bounded("the keepalive timer to show", async move {
        loop {
            let out = std::process::Command::new("ss")
                .args(["-tnoH", "state", "established"])
                .arg(format!("( sport = :{port} )"))
                .output()
                .expect("run ss");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("keepalive") {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(seen.is_ok(), "the server's socket has no keepalive timer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_pulls_and_downloads_is_cut_off_with_bounded_memory() {
    let data = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(&data.path().join("data"), &["--stall-timeout", "1"])
        .await
        .unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    for i in 0..20 {
        let text = pattern(i, 200_000);
        alice.send_text(bob.client_id, &text).await.unwrap();
    }
    let body = pattern(99, 4 << 20);
    let v3::Response::UploadStatus(status) = alice
        .call(v3::Request::UploadBegin(v3::UploadBegin {
            destination: bob.client_id,
            file_size: body.len() as u64,
            meta: Bytes::from_static(b"m"),
        }))
        .await
        .unwrap()
    else {
        panic!("upload refused");
    };
    let mut file_id = 0;
    for (i, chunk) in body.chunks(1 << 20).enumerate() {
        if let v3::Response::FileSent(f) = alice
            .call(v3::Request::UploadChunk(v3::UploadChunk {
                upload_id: status.upload_id,
                offset: (i << 20) as u64,
                data: Bytes::copy_from_slice(chunk),
            }))
            .await
            .unwrap()
        {
            file_id = f.message_id;
        }
    }
    assert_ne!(file_id, 0);
    let before = server.peak_rss().unwrap();

    // About 2 GiB of answers asked for, none read.
    let greedy = tokio::spawn(async move {
        for i in 0..1000u64 {
            let pull = v3::Request::Pull(v3::Pull::default());
            let download = v3::Request::Download(v3::Download {
                message_id: file_id,
                offset: (i % 4) << 20,
                max_len: 1 << 20,
            });
            if bob.feed(pull).await.is_err() || bob.feed(download).await.is_err() {
                break;
            }
        }
        // Keep the connection open (unread) until the server gives up.
        bob
    });
    bounded(
        "the server to cut off the client that does not read",
        async {
            while let Some(line) = server.log.recv().await {
                if line.contains("peer stopped reading") {
                    return;
                }
            }
            panic!("the server exited");
        },
    )
    .await
    .unwrap();
    let peak = server.peak_rss().unwrap();
    assert!(
        peak < before + (64 << 20),
        "server memory grew from {before} to {peak} bytes for an unread client"
    );
    greedy.abort();
    // Everyone else is still served.
    alice
        .send_text(alice.client_id, b"still here")
        .await
        .unwrap();
    server.terminate().await.unwrap();
}

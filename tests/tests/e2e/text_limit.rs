//! A text over a server's `--max-message` is refused by the client before
//! anything is sent or kept, in the text's own bytes: the limit it names is
//! what fits once sealed, so a text of exactly that many bytes is sent and
//! one byte more is refused the same way.

use e2e::TestServer;

use crate::rooms_cli::{json, refusal, register};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_over_the_servers_message_limit_is_refused_counting_its_own_bytes() {
    let server = TestServer::start(|o| o.max_message_len = 1024)
        .await
        .unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob] = ["alice", "bob"].map(|n| dir.path().join(n));
    register(addr, &alice, "alice").await;
    register(addr, &bob, "bob").await;

    let long = "x".repeat(2000);
    let refused = refusal(addr, &alice, &["send", "bob", &long]).await;
    assert_eq!(refused["code"], "text_too_long", "{refused}");
    let said = refused["error"].as_str().unwrap();
    assert!(
        said.starts_with("the text is 2000 bytes and at most "),
        "{said}"
    );
    let max: usize = said["the text is 2000 bytes and at most ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(max < 1024 && max > 900, "{said}");
    // Nothing kept as sent or failed.
    let history = json(addr, &alice, &["history", "bob"]).await;
    assert_eq!(history.as_array().unwrap().len(), 0, "{history}");

    let fits = "y".repeat(max);
    json(addr, &alice, &["send", "bob", &fits]).await;
    let over = "z".repeat(max + 1);
    let refused = refusal(addr, &alice, &["send", "bob", &over]).await;
    let expected = format!("the text is {} bytes and at most {max} fit", max + 1);
    assert!(
        refused["error"].as_str().unwrap().starts_with(&expected),
        "{refused}"
    );

    let inbox = json(addr, &bob, &["inbox"]).await;
    let texts = crate::rooms_cli::direct_texts(&inbox);
    assert_eq!(texts, [fits.as_str()], "{inbox}");
}

//! `client key NAME` when the server hands out another key than the pinned
//! one: the answer is shown (`"pin": "changed"`) and the command fails, so
//! that a script checking a key before trusting it does not read a changed
//! one as fine.

use crate::rooms_cli::{json, run, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_of_a_contact_whose_key_changed_shows_it_and_fails() {
    let (mut server, _dir, [alice, _bob]) = users(["alice", "bob"]).await;
    let bob_id: protocol::ClientId = json(server.addr, &alice, &["key", "bob"]).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // The server now hands out another (validly signed) bundle for bob.
    server
        .restart_handing_out_another_key(bob_id)
        .await
        .unwrap();

    let (done, out, err) = run(server.addr, &alice, &["--json", "key", "bob"]).await;
    assert!(!done, "a changed key passed: {out}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["pin"], "changed", "{out}");
    let error: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(error["code"], "peer_key_changed", "{err}");
}

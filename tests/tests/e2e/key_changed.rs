//! `client key NAME` when the server hands out another key than the pinned
//! one: the answer is shown (`"pin": "changed"`) and the command fails, so
//! that a script checking a key before trusting it does not read a changed
//! one as fine. `client fingerprint NAME` then shows the new key's safety
//! number as that, never as the one compared before.

use crate::rooms_cli::{json, ok, run, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_of_a_contact_whose_key_changed_shows_it_and_fails() {
    let (mut server, _dir, [alice, _bob]) = users(["alice", "bob"]).await;
    let new = ok(server.addr, &alice, &["key", "bob"]).await;
    let advice = "compare safety numbers to be sure (`client fingerprint bob`)";
    assert!(new.contains(advice), "{new}");
    let first = json(server.addr, &alice, &["key", "bob"]).await;
    let pinned = first["fingerprint"].as_str().unwrap().to_string();
    let bob_id: protocol::ClientId = first["id"].as_str().unwrap().parse().unwrap();

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
    // Both fingerprints, so that the user can compare them with bob's.
    let new = shown["fingerprint"].as_str().unwrap().to_string();
    assert_ne!(new, pinned, "{out}");
    assert_eq!(shown["previous_fingerprint"], pinned.as_str(), "{out}");
    let (_, out, _) = run(server.addr, &alice, &["key", "bob"]).await;
    assert!(out.contains(&format!("new fingerprint:    {new}")), "{out}");
    assert!(
        out.contains(&format!("pinned fingerprint: {pinned}")),
        "{out}"
    );
    // And what to do, as commands.
    assert!(
        out.contains("(`client fingerprint bob`) and accept it (`client accept bob`)"),
        "{out}"
    );

    let accepted = ok(server.addr, &alice, &["accept", "bob"]).await;
    assert!(
        accepted.contains(&format!("with fingerprint {new} (it replaces {pinned})")),
        "{accepted}"
    );
    let after = json(server.addr, &alice, &["key", "bob"]).await;
    assert_eq!(after["fingerprint"], new.as_str(), "{after}");
    assert!(after.get("previous_fingerprint").is_none(), "{after}");

    // The conversation's history says when its safety number changed.
    let history = ok(server.addr, &alice, &["history", "bob"]).await;
    let changed = format!("bob's key changed (new fingerprint {new}, pinned {pinned})");
    assert!(history.contains(&changed), "{history}");
    let taken = format!("you accepted bob's new key (fingerprint {new}, replacing {pinned})");
    assert!(history.contains(&taken), "{history}");
    let entries = json(server.addr, &alice, &["history", "bob"]).await;
    let events: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["key_event"].as_str())
        .collect();
    assert_eq!(events, ["changed", "accepted"], "{entries}");
}

/// A contact whose safety number was marked as compared changes key: the
/// number shown is the new key's, and nothing calls it compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprint_of_a_changed_key_is_never_shown_as_compared() {
    let (mut server, _dir, [alice, _bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let marked = ok(addr, &alice, &["fingerprint", "bob", "--verified"]).await;
    assert!(marked.contains("(marked as compared)"), "{marked}");
    let before = json(addr, &alice, &["fingerprint", "bob"]).await;
    assert_eq!(before["verified"], true, "{before}");
    let bob_id: protocol::ClientId = before["id"].as_str().unwrap().parse().unwrap();

    server
        .restart_handing_out_another_key(bob_id)
        .await
        .unwrap();
    let addr = server.addr;

    let (done, out, err) = run(addr, &alice, &["fingerprint", "bob"]).await;
    assert!(!done, "a changed key's number passed: {out}");
    assert!(!out.contains("marked as compared"), "{out}");
    assert!(
        out.contains("bob's key changed and is not accepted; the safety number with the new key:"),
        "{out}"
    );
    assert!(out.contains("client accept bob"), "{out}");
    assert!(err.contains("bob's key changed"), "{err}");

    let (done, out, err) = run(addr, &alice, &["--json", "fingerprint", "bob"]).await;
    assert!(!done, "{out}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["verified"], false, "{out}");
    assert_eq!(shown["pin"], "changed", "{out}");
    assert_ne!(shown["safety_number"], before["safety_number"], "{out}");
    let error: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(error["code"], "peer_key_changed", "{err}");

    let key = run(addr, &alice, &["--json", "key", "bob"]).await.1;
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    assert_eq!(key["verified"], false, "{key}");
}

/// `accept` with nothing changed names whom it is about, by name or by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_an_unchanged_key_names_the_user() {
    let (server, _dir, [alice, _bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let id = json(addr, &alice, &["key", "bob"]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (done, _, err) = run(addr, &alice, &["accept", "bob"]).await;
    assert!(!done);
    assert_eq!(
        err.trim(),
        "client: bob's key has not changed: nothing to accept",
        "{err}"
    );
    let refused = crate::rooms_cli::refusal(addr, &alice, &["accept", &id]).await;
    assert_eq!(refused["code"], "no_pending_key", "{refused}");
    assert_eq!(
        refused["error"],
        format!("{id}'s key has not changed: nothing to accept"),
        "{refused}"
    );
}

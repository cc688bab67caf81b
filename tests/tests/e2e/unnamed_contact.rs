//! A contact pinned without a name: someone whose name looks like a
//! contact's (`Bоb`, with a Cyrillic о, after bob's account is gone) is
//! pinned by id only. `fingerprint ID` names them by that id, and the
//! command it suggests works as printed.

use crate::rooms_cli::{json, ok, register, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safety_number_of_a_contact_pinned_without_a_name_names_its_id() {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["key", "bob"]).await;
    json(addr, &bob, &["delete-account", "bob"]).await;
    let mallory = dir.path().join("mallory");
    let id = register(addr, &mallory, "B\u{43e}b").await.to_string();
    ok(addr, &mallory, &["send", "alice", "hello"]).await;
    ok(addr, &alice, &["inbox"]).await;
    let pinned = json(addr, &alice, &["key", &id]).await;
    assert_eq!(pinned["name"], "", "{pinned}");

    let out = ok(addr, &alice, &["fingerprint", &id]).await;
    assert!(out.contains(&format!("safety number with {id}:")), "{out}");
    assert!(out.contains(&format!("{id} sees the same digits")), "{out}");
    let suggested = format!("client fingerprint {id} --verified");
    assert!(out.contains(&suggested), "{out}");
    assert!(!out.contains("\"\""), "{out}");

    // The suggestion, as printed, records the comparison.
    let args: Vec<&str> = suggested.split(' ').skip(1).collect();
    let out = ok(addr, &alice, &args).await;
    assert!(out.contains("(marked as compared)"), "{out}");
}

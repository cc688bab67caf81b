//! A name that looks like a contact's, through the real binaries: once
//! bob's account is gone, someone registers `Bоb` (a Cyrillic о). Alice,
//! who pinned bob, is warned when `Bоb` first writes, sees `Bоb` by id
//! until she names it, and finds it marked in `list`; `send bob` and
//! `accept bob` say bob's account is gone instead of reaching `Bоb`; and a
//! user who never met bob is not offered `Bоb` as what he meant.

use crate::rooms_cli::{json, ok, refusal, register, users};

/// `Bоb`, with U+043E CYRILLIC SMALL LETTER O.
const IMPOSTOR: &str = "B\u{43e}b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_alike_of_a_gone_contact_is_flagged_and_never_taken_for_them() {
    let (server, dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    let bob_id = json(addr, &alice, &["key", "bob"]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(addr, &alice, &["send", "bob", "hi bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    json(addr, &bob, &["delete-account", "bob"]).await;

    let mallory = dir.path().join("mallory");
    let mallory_id = register(addr, &mallory, IMPOSTOR).await.to_string();
    ok(addr, &mallory, &["send", "alice", "it's me, Bob"]).await;

    // The first message: a warning first, and the sender shown by id.
    let out = ok(addr, &alice, &["inbox"]).await;
    let warning = out
        .lines()
        .find(|l| l.contains("WARNING"))
        .unwrap_or_else(|| panic!("no warning in {out}"));
    assert!(
        warning.contains(&format!(
            "client {mallory_id}, new to you, goes by \"{IMPOSTOR}\""
        )) && warning.contains(&format!("looks like your contact \"bob\" ({bob_id})")),
        "{warning}"
    );
    assert!(
        out.contains(&format!(
            "client {mallory_id} (the server calls them \"{IMPOSTOR}\"):"
        )),
        "{out}"
    );
    assert!(out.contains("it's me, Bob"), "{out}");

    // `list` marks it, in text and JSON.
    let listed = json(addr, &alice, &["list"]).await;
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == mallory_id.as_str())
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(entry["looks_like"]["name"], "bob", "{entry}");
    assert_eq!(entry["looks_like"]["client_id"], bob_id.as_str(), "{entry}");
    let text = ok(addr, &alice, &["list"]).await;
    assert!(
        text.contains(&format!(
            "WARNING: looks like your contact \"bob\" ({bob_id})"
        )),
        "{text}"
    );

    // `bob` still means the pinned bob, whose account is gone: nothing to
    // accept and nothing to send to (after the `accept` too: it left the
    // pin as it was).
    for args in [&["accept", "bob"][..], &["send", "bob", "are you there?"]] {
        let refused = refusal(addr, &alice, args).await;
        assert_eq!(refused["code"], "contact_gone", "{args:?}: {refused}");
        let said = refused["error"].as_str().unwrap();
        assert!(
            said.contains("the account you pinned is gone from this server")
                && said.contains("nothing can be sent to \"bob\" now")
                && !said.contains(IMPOSTOR),
            "{args:?}: {said}"
        );
    }
    let by_id = refusal(addr, &alice, &["send", &bob_id, "by id"]).await;
    assert!(
        by_id["error"]
            .as_str()
            .unwrap()
            .contains(&format!("the server has no account with the id {bob_id}")),
        "{by_id}"
    );

    // Carol never pinned bob: `Bоb` is not offered as what she meant.
    let refused = refusal(addr, &carol, &["send", "bob", "hello?"]).await;
    let said = refused["error"].as_str().unwrap();
    assert!(
        !said.contains("did you mean")
            && said.contains(&format!("\"{IMPOSTOR}\" only looks like it")),
        "{said}"
    );
}

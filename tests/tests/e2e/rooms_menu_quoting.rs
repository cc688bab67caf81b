//! A command the client suggests can be typed back as it is: a room whose
//! name has spaces is quoted in it, in the menu and in the scripted
//! client alike (QA: `room leave "dev team"` as its only admin suggested
//! `room promote dev team NAME`, which the menu then read as too many
//! words). And a room command typed with the wrong arguments is told what
//! is wrong and its own usage line.

use crate::menu::Menu;
use crate::rooms_cli::{json, ok, refusal, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_advice_quotes_a_room_name_with_spaces() {
    let (server, _dir, [alice, _bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "dev team"]).await;
    ok(addr, &alice, &["room", "add", "dev team", "bob"]).await;

    let scripted = refusal(addr, &alice, &["room", "leave", "dev team"]).await;
    let said = scripted["error"].as_str().unwrap();
    assert!(
        said.contains("(room promote \"dev team\" NAME)")
            && said.contains("(room delete \"dev team\")"),
        "{said}"
    );

    let mut menu = Menu::start("alice", &alice, addr).await;
    let line = menu.run("room leave \"dev team\"", "error:").await;
    assert!(
        line.contains("(room promote \"dev team\" NAME)")
            && line.contains("(room delete \"dev team\")"),
        "{line}"
    );
    // Typed back, the suggestion is a command (bob is no admin yet: he
    // becomes one).
    menu.run("room promote \"dev team\" bob", "bob is now an admin of")
        .await;
    let line = menu.run("room promote dev team bob", "error:").await;
    assert!(
        line.starts_with("error: too many arguments")
            && line
                .ends_with("the usage is `room promote NAME USER` (quote a name that has spaces)"),
        "{line}"
    );
    menu.exit().await;
    let members = ok(addr, &alice, &["room", "members", "dev team"]).await;
    assert!(members.contains("admin"), "{members}");
}

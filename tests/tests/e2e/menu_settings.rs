//! The menu's history settings against the real binaries, as the
//! subcommands do them: `receipts` shows and switches read receipts (the
//! subcommand then reads the same setting), `retention` shows, sets and
//! refuses what is not a number of days, and `forget` deletes a
//! conversation's history.

use crate::menu::Menu;
use crate::rooms_cli::{json, ok, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_receipts_retention_and_forget_do_what_the_subcommands_do() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["send", "bob", "for the record"]).await;
    ok(addr, &bob, &["inbox"]).await;

    let mut menu = Menu::start("bob", &bob, addr).await;
    menu.run("receipts", "read receipts: on").await;
    menu.run("receipts off", "read receipts: off").await;
    menu.run(
        "retention",
        "history is kept until you forget it (`forget NAME`)",
    )
    .await;
    menu.run("retention 0", "history cannot be kept 0 days")
        .await;
    menu.run("retention 30", "history is kept 30 day(s) after it arrives")
        .await;
    menu.run(
        "forget alice",
        "forgot 1 entry of the conversation with alice",
    )
    .await;
    menu.run("history alice", "nothing in the history with alice")
        .await;
    menu.exit().await;

    let set = json(addr, &bob, &["receipts"]).await;
    assert_eq!(set["read_receipts"], false, "{set}");
    let kept = json(addr, &bob, &["retention"]).await;
    assert_eq!(kept["retention_days"], 30, "{kept}");
}

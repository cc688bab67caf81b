//! The menu's history settings against the real binaries, as the
//! subcommands do them: `receipts` shows and switches read receipts (the
//! subcommand then reads the same setting), `retention` shows, sets and
//! refuses what is not a number of days, and `forget` deletes a
//! conversation's history. Piped, `verify` asks nothing, so the line
//! after it is the next command.

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
    menu.run("retention 30", "history is kept 30 days after it arrives")
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

/// With standard input a pipe, `verify NAME` shows the number and marks
/// nothing, and the line after it runs as a command (it was read as the
/// answer, and that send never happened).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_verify_marks_nothing_and_leaves_the_next_line_to_run() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["key", "bob"]).await;

    let mut menu = Menu::start("alice", &alice, addr).await;
    menu.type_line("verify bob").await;
    menu.type_line("send bob after the check").await;
    menu.expect("not marked: the menu asks this on a terminal only")
        .await;
    menu.expect("sent to bob").await;
    menu.exit().await;

    let number = json(addr, &alice, &["fingerprint", "bob"]).await;
    assert_eq!(number["verified"], false, "{number}");
    let read = ok(addr, &bob, &["inbox"]).await;
    assert!(read.contains("after the check"), "{read}");
}

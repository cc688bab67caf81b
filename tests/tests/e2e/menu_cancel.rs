//! Cancelling in the menu says `cancelled`, whatever was being asked (in a
//! pseudo-terminal, where Ctrl-C and Ctrl-D are keys): `verify`'s
//! `[y/N]` and a new room password. And a refused `retention` is an
//! `error:` line like every other mistake.

use crate::menu::{Menu, Pty};
use crate::rooms_cli::users;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_and_ctrl_d_at_the_menus_questions_just_cancel() {
    let (server, _dir, [alice, _carol]) = users(["alice", "carol"]).await;
    let mut pty = Pty::start(&alice, server.addr).await;
    pty.wait_for("alice> ").await;

    for key in ["\u{3}", "\u{4}"] {
        pty.keys("verify carol\r").await;
        pty.wait_for("[y/N] ").await;
        pty.keys(key).await;
        pty.wait_for("cancelled").await;
        pty.wait_for("alice> ").await;
    }
    for key in ["\u{3}", "\u{4}"] {
        pty.keys("room create vault --password\r").await;
        pty.wait_for("New room password: ").await;
        pty.keys(key).await;
        pty.wait_for("cancelled").await;
        pty.wait_for("alice> ").await;
    }
    let status = pty.leave().await;
    let screen = pty.screen();
    assert!(status.success(), "{status}\n{screen}");
    assert!(
        !screen.contains("someone may be in between")
            && !screen.contains("interrupted")
            && !screen.contains("end of file")
            && !screen.contains("created #vault"),
        "{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_retention_of_zero_days_is_an_error_line() {
    let (server, _dir, [alice]) = users(["alice"]).await;
    let mut menu = Menu::start("alice", &alice, server.addr).await;
    let line = menu.run("retention 0", "cannot be kept 0 days").await;
    assert!(
        line.starts_with("error: history cannot be kept 0 days"),
        "{line}"
    );
    menu.exit().await;
}

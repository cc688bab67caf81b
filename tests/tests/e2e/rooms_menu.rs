//! Password rooms through the menu (`client` with no subcommand) with a
//! scripted standard input, where the menu reads a room password as the
//! next line: `room create NAME --password` (and `--hidden --password`),
//! `room join NAME` refusing a wrong password and admitting the right one,
//! and `room set NAME --password` making the old one fail. The passwords
//! never reach the output or the menu's history. Waits are bounded.

use std::net::SocketAddr;
use std::path::Path;

use e2e::{TestServer, run_client_with_stdin};

use crate::rooms_cli::{json, ok, register, room_events};

/// Runs the menu with `script` as its standard input (it ends at the end of
/// the input); its standard output, after checking it exited cleanly.
async fn menu(addr: SocketAddr, home: &Path, script: &str) -> String {
    let (success, out, err) = run_client_with_stdin(addr, home, &[], Some(script)).await;
    assert!(success, "the menu failed:\n{out}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    out
}

/// The line of `out` containing `needle`.
fn line<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_menu_asks_for_room_passwords_on_standard_input() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        register(addr, home, name).await;
    }
    let mut seen = String::new();

    let out = menu(
        addr,
        &alice,
        "room create vault --password\nopen sesame\n\
         room create den --hidden --password\nden secret\n",
    )
    .await;
    seen.push_str(&out);
    line(&out, "created #vault (public+password");
    line(&out, "created #den (hidden+password");
    assert!(!out.contains("error:"), "{out}");

    // A wrong password is refused, the right one admits bob.
    let out = menu(
        addr,
        &bob,
        "room join vault\nopen sesame?\nroom join vault\nopen sesame\n",
    )
    .await;
    seen.push_str(&out);
    line(&out, "error: wrong password for #vault");
    line(&out, "joined #vault");
    let out = menu(
        addr,
        &bob,
        "room join den\nnot it\nroom join den\nden secret\n",
    )
    .await;
    seen.push_str(&out);
    line(&out, "error: wrong password for #den");
    line(&out, "joined #den");
    let mine = json(addr, &bob, &["room", "list"]).await;
    let names: Vec<_> = mine["mine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"vault".to_string()), "{mine}");
    assert!(names.contains(&"den".to_string()), "{mine}");

    // A new password: the old one fails for carol, the new one admits her.
    let out = menu(addr, &alice, "room set vault --password\nnew sesame\n").await;
    seen.push_str(&out);
    line(&out, "#vault is now public+password");
    let out = menu(
        addr,
        &carol,
        "room join vault\nopen sesame\nroom join vault\nnew sesame\n",
    )
    .await;
    seen.push_str(&out);
    line(&out, "error: wrong password for #vault");
    line(&out, "joined #vault");

    // The passwords are in no output and no history.
    for home in [&alice, &bob, &carol] {
        let history = std::fs::read_to_string(home.join("history")).unwrap();
        assert!(history.contains("room "), "{history}");
        for secret in ["open sesame", "den secret", "new sesame", "not it"] {
            assert!(!history.contains(secret), "{secret} in {history}");
            assert!(!seen.contains(secret), "{secret} in {seen}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_menu_sends_to_a_room_whose_name_has_spaces_without_quotes() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob] = ["alice", "bob"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob")] {
        register(addr, home, name).await;
    }
    for room in ["ops team", "ops"] {
        ok(addr, &alice, &["room", "create", room]).await;
        ok(addr, &alice, &["room", "add", room, "bob"]).await;
    }

    // Unquoted, the line splits at the first space; the menu reads the room
    // back from alice's rooms, the longest name the line starts with. A
    // quoted text keeps the split.
    let out = menu(
        addr,
        &alice,
        "#ops team hello there\nroom send ops team second\n#ops team\nasked for\n\
         #ops teamwork\n#ops \"team hi\"\n",
    )
    .await;
    assert!(!out.contains("error:"), "{out}");
    assert_eq!(out.matches("sent to #ops team (entry").count(), 3, "{out}");
    assert_eq!(out.matches("sent to #ops (entry").count(), 2, "{out}");

    let said: Vec<(String, String)> = room_events(&json(addr, &bob, &["inbox"]).await)
        .iter()
        .filter(|e| e["room_event"] == "text")
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap().to_string();
            (field("room"), field("text"))
        })
        .collect();
    let pair = |room: &str, text: &str| (room.to_string(), text.to_string());
    assert_eq!(
        said,
        [
            pair("ops team", "hello there"),
            pair("ops team", "second"),
            pair("ops team", "asked for"),
            pair("ops", "teamwork"),
            pair("ops", "team hi"),
        ],
        "{said:?}"
    );
}

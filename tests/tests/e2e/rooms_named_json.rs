//! What a room command did names the room in `--json` as lists show it,
//! `room` and `room_id` (README, "Rooms"), through the real `client`
//! binary: also `room send-file`, `room leave` and `room delete`, which
//! used to give the room's name alone.

use serde_json::Value;

use crate::rooms_cli::{json, ok, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_named_json_send_file_leave_and_delete_give_room_and_room_id() {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let created = json(addr, &alice, &["room", "create", "Dev Team"]).await;
    let id = created["id"].as_str().unwrap().to_string();
    ok(addr, &alice, &["room", "add", "Dev Team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    let named = |v: &Value| (v["room"].clone(), v["room_id"].clone());
    let expected = (Value::from("Dev Team"), Value::from(id.as_str()));

    // By its id, upper case: the room as lists show it.
    let file = dir.path().join("plan.txt");
    std::fs::write(&file, b"the plan").unwrap();
    let by_id = format!("#{}", id.to_uppercase());
    let sent = json(
        addr,
        &alice,
        &["room", "send-file", &by_id, file.to_str().unwrap()],
    )
    .await;
    assert_eq!(named(&sent), expected, "{sent}");
    assert_eq!(sent["name"], "plan.txt", "{sent}");

    let left = json(addr, &bob, &["room", "leave", "dev team"]).await;
    assert_eq!(named(&left), expected, "{left}");
    assert_eq!(left["leave_requested"], true, "{left}");
    let again = json(addr, &bob, &["room", "leave", "Dev Team"]).await;
    assert_eq!(named(&again), expected, "{again}");
    assert_eq!(again["already"], true, "{again}");

    let deleted = json(addr, &alice, &["room", "delete", &by_id]).await;
    assert_eq!(named(&deleted), expected, "{deleted}");
    assert_eq!(deleted["deleted"], true, "{deleted}");
}

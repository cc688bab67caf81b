//! Rough figures for the notes (not a benchmark: `loadgen` will measure the
//! room scenario through the server). Ignored by default; run with
//! `cargo test -p sealpost-rooms --release timing -- --ignored --nocapture`
//! and `ROOMS_TIMING_MEMBERS=N` for another size (default 100).

use std::time::Instant;

use super::{ROOM, World};
use crate::Incoming;

#[test]
#[ignore = "prints timings; run by hand"]
fn timing_create_add_and_process_commits() {
    let n: usize = std::env::var("ROOMS_TIMING_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let n = u8::try_from(n.min(250)).unwrap_or(250);
    let mut w = World::new(2);
    for seed in 3..=n {
        w.join_world(seed);
    }
    let kps: Vec<Vec<u8>> = (1..w.m.len()).map(|i| w.kp(i)).collect();

    let t = Instant::now();
    w.create(0);
    let out = w.m[0].engine.add_members(ROOM, &kps, &w.book).unwrap();
    let made = t.elapsed();
    w.server.process(&out.commit, &w.book).unwrap();
    let served = t.elapsed() - made;
    w.m[0].engine.confirm_commit(ROOM).unwrap();
    let welcome = out.welcome.clone().unwrap();
    let t = Instant::now();
    w.m[1].engine.join(&welcome, &w.book).unwrap();
    let one_join = t.elapsed();
    for i in 2..w.m.len() {
        w.m[i].engine.join(&welcome, &w.book).unwrap();
    }
    println!(
        "room of {n}: create + add {} in one commit {made:?} (commit {} B, welcome {} B); \
         server check+apply {served:?}; one join {one_join:?}",
        n - 1,
        out.commit.len(),
        welcome.len()
    );

    // One removal commit in the full room: size, time to make, time for a
    // member to process it.
    let t = Instant::now();
    let last = w.m.len() - 1;
    let out = w.m[0].engine.remove_members(ROOM, &[w.cid(last)]).unwrap();
    let made = t.elapsed();
    let t = Instant::now();
    w.server.process(&out.commit, &w.book).unwrap();
    let served = t.elapsed();
    w.m[0].engine.confirm_commit(ROOM).unwrap();
    let t = Instant::now();
    assert!(matches!(
        w.m[1].engine.process(&out.commit, &w.book).unwrap(),
        Incoming::Commit { .. }
    ));
    let processed = t.elapsed();
    println!(
        "remove one from {n}: commit {} B, made in {made:?}, server {served:?}, \
         member processes it in {processed:?}",
        out.commit.len()
    );

    // One text, encrypted once, read by a member.
    let t = Instant::now();
    let bytes = w.m[0].engine.send(ROOM, b"hello room").unwrap();
    let sent = t.elapsed();
    let t = Instant::now();
    w.m[1].engine.process(&bytes, &w.book).unwrap();
    println!(
        "one text: {} B, encrypted in {sent:?}, decrypted in {:?}",
        bytes.len(),
        t.elapsed()
    );
}

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
    // Adds go in commits of at most MAX_MEMBERS_PER_COMMIT; every member
    // already in processes each one, each new member joins from its welcome.
    let t = Instant::now();
    w.create(0);
    let mut made = t.elapsed();
    let (mut served, mut one_join, mut one_process) = Default::default();
    let (mut commits, mut commit_len, mut welcome_len) = (0, 0, 0);
    let mut inside = vec![0];
    let newcomers: Vec<usize> = (1..w.m.len()).collect();
    for batch in newcomers.chunks(crate::commits::MAX_MEMBERS_PER_COMMIT) {
        let kps: Vec<Vec<u8>> = batch.iter().map(|&i| w.kp(i)).collect();
        let t = Instant::now();
        let out = w.m[0].engine.add_members(ROOM, &kps, &w.book).unwrap();
        made += t.elapsed();
        let t = Instant::now();
        w.server.process(&out.commit, &w.book).unwrap();
        served = t.elapsed();
        w.m[0].engine.confirm_commit(ROOM).unwrap();
        for &r in &inside[1..] {
            let t = Instant::now();
            w.m[r].engine.process(&out.commit, &w.book).unwrap();
            one_process = t.elapsed();
        }
        let welcome = out.welcome.clone().unwrap();
        for &j in batch {
            let t = Instant::now();
            w.m[j].engine.join(&welcome, &w.book).unwrap();
            one_join = t.elapsed();
        }
        inside.extend_from_slice(batch);
        (commits, commit_len, welcome_len) = (commits + 1, out.commit.len(), welcome.len());
    }
    println!(
        "room of {n}: creator's time to create and add {} in {commits} commits {made:?} \
         (last commit {commit_len} B, welcome {welcome_len} B); server check+apply of the last \
         {served:?}; a member processes it in {one_process:?}; one join {one_join:?}",
        n - 1,
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
    let decrypted = t.elapsed();
    // Loading the room from the state file, without writing: the part of
    // each operation that grows with the room.
    let t = Instant::now();
    w.m[1].engine.epoch(ROOM).unwrap();
    println!(
        "one text: {} B, encrypted in {sent:?}, decrypted in {decrypted:?}; \
         loading the room alone {:?}",
        bytes.len(),
        t.elapsed()
    );
}

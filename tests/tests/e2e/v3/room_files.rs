//! Files to a room (PROTOCOL.md "Files to a room") through the real server
//! binary: one blob on disk for a room of five that every member decrypts,
//! deleted once every member has read past its entry; refusals for
//! non-members and for entries without a file; a download that resumes
//! after a cut connection. The senders and receivers are the client
//! library's room file transfers; MLS is the members' real engines.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use client::Progress;
use client::client::NoProgress;
use e2e::{Relay, RoomUser, Seen, ServerProcess, bounded};
use protocol::v3::{self, RoomDownload, RoomUploadBegin};
use protocol::{ErrorReason, RoomId, UploadId};
use sha2::{Digest, Sha256};

use super::refused;

/// Room file rows in the server's database (read beside the running server:
/// WAL lets a reader in).
fn room_file_rows(data_dir: &Path) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        data_dir.join("server.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("SELECT COUNT(*) FROM room_files", [], |r| r.get(0))
        .unwrap()
}

/// A file of `len` random bytes; returns its path and SHA-256.
pub(super) fn random_file(dir: &Path, name: &str, len: usize) -> (PathBuf, [u8; 32]) {
    let data: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    (path, Sha256::digest(&data).into())
}

pub(super) fn hash_of(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// `owner` creates a room and adds `others`, who join (each member checks
/// every leaf of the welcome against its pins, so all pin one another).
pub(super) async fn room_of(owner: &mut RoomUser, others: &mut [&mut RoomUser]) -> RoomId {
    let pins: Vec<([u8; 16], [u8; 32])> = others
        .iter()
        .map(|o| {
            let key = protocol::bundle::KeyBundle::from_public_key(&o.keys.bundle).identity_key;
            (o.id().0, key)
        })
        .collect();
    for o in others.iter_mut() {
        o.trust(&[owner]);
        o.book.0.extend(pins.iter().copied());
    }
    let ids: Vec<_> = others.iter().map(|o| o.id()).collect();
    let refs: Vec<&RoomUser> = others.iter().map(|o| &**o).collect();
    owner.trust(&refs);
    let room = owner.create().await.unwrap();
    owner.add(room, &ids).await.unwrap();
    for o in others.iter_mut() {
        let seen = o.sync().await.unwrap();
        assert!(matches!(seen.as_slice(), [Seen::Joined { .. }]), "{seen:?}");
    }
    room
}

/// The entry of the one file among what a member saw.
pub(super) fn file_seq(seen: &[Seen]) -> u64 {
    let files: Vec<u64> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::File { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    match files.as_slice() {
        [seq] => *seq,
        _ => panic!("expected one file, saw {seen:?}"),
    }
}

pub(super) async fn download_answer(
    user: &mut RoomUser,
    room: RoomId,
    seq: u64,
    offset: u64,
) -> v3::Response {
    user.conn
        .call(v3::Request::RoomDownload(RoomDownload {
            room,
            seq,
            offset,
            max_len: 1 << 20,
        }))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_to_a_room_of_five_is_stored_once_and_every_member_decrypts_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr;
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        users.push(RoomUser::new(addr, dir.path(), name).await.unwrap());
    }
    let (alice, others) = users.split_first_mut().unwrap();
    let mut refs: Vec<&mut RoomUser> = others.iter_mut().collect();
    let room = room_of(alice, &mut refs).await;

    // Three upload chunks of the largest size, and a partial last one.
    let (path, sha) = random_file(dir.path(), "report.bin", 3 * 1024 * 1024 + 12345);
    let conn = alice.client_conn(addr).await.unwrap();
    let (seq, announced) = alice.send_file(&conn, room, &path).await.unwrap();
    assert_eq!(announced.file.sha256, sha);
    assert_eq!((e2e::blobs_in(&data), room_file_rows(&data)), (1, 1));

    for (i, member) in others.iter_mut().enumerate() {
        let seen = member.peek().await.unwrap();
        assert_eq!(file_seq(&seen), seq);
        let inbox = dir.path().join(format!("downloads-{i}"));
        let conn = member.client_conn(addr).await.unwrap();
        let saved = member
            .fetch_file(&conn, room, seq, &inbox, &NoProgress)
            .await
            .unwrap();
        assert_eq!(saved.file_name().unwrap(), "report.bin");
        assert_eq!(hash_of(&saved), sha, "member {i} decrypted another file");
    }
    // Five members, one copy.
    assert_eq!((e2e::blobs_in(&data), room_file_rows(&data)), (1, 1));

    // Read past by all but one: kept; by the last one too: gone.
    let (last, first) = others.split_last_mut().unwrap();
    for member in first {
        member.sync().await.unwrap();
    }
    assert_eq!(room_file_rows(&data), 1);
    last.sync().await.unwrap();
    assert_eq!(room_file_rows(&data), 0);
    // The blob is deleted once the acknowledgement is committed.
    bounded("the blob to be deleted", async {
        while e2e::blobs_in(&data) != 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let answer = download_answer(last, room, seq, 0).await;
    assert_eq!(
        e2e::reason_of(&answer).unwrap(),
        ErrorReason::UnknownMessage
    );
}

/// Records where each transfer started.
#[derive(Default)]
struct Starts(Mutex<Vec<(u64, u64)>>);

impl Progress for Starts {
    fn start(&self, _: &str, total: u64, done: u64) {
        self.0.lock().unwrap().push((total, done));
    }
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_files_are_refused_to_non_members_and_downloads_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr;
    let mut alice = RoomUser::new(addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(addr, dir.path(), "bob").await.unwrap();
    let mut carol = RoomUser::new(addr, dir.path(), "carol").await.unwrap();
    let room = room_of(&mut alice, &mut [&mut bob]).await;
    let text = alice.say(room, "the file follows").await.unwrap();
    let (path, sha) = random_file(dir.path(), "big.bin", 6 * 1024 * 1024);
    let conn = alice.client_conn(addr).await.unwrap();
    let (seq, sent) = alice.send_file(&conn, room, &path).await.unwrap();

    // Carol is no member: neither upload nor download.
    let begin = v3::Request::RoomUploadBegin(RoomUploadBegin {
        room,
        file_size: 100,
        meta: Default::default(),
    });
    assert_eq!(
        refused(&mut carol.conn, begin).await,
        ErrorReason::UnknownRoom
    );
    let answer = download_answer(&mut carol, room, seq, 0).await;
    assert_eq!(e2e::reason_of(&answer).unwrap(), ErrorReason::UnknownRoom);
    // A text entry names no file; an entry that never was is unknown.
    let answer = download_answer(&mut bob, room, text, 0).await;
    assert_eq!(
        e2e::reason_of(&answer).unwrap(),
        ErrorReason::BadMessageType
    );
    let answer = download_answer(&mut bob, room, seq + 1000, 0).await;
    assert_eq!(
        e2e::reason_of(&answer).unwrap(),
        ErrorReason::UnknownMessage
    );
    // A file is named once, and only by an upload that exists.
    for id in [sent.upload_id, UploadId([9; 16])] {
        let again = alice
            .try_send_content(room, b"\x01again", Some(id))
            .await
            .unwrap();
        assert_eq!(again, Err(ErrorReason::UnknownUpload));
    }

    // Ranges by offset: the second continues where the first stopped.
    let (first, second) = match (
        download_answer(&mut bob, room, seq, 0).await,
        download_answer(&mut bob, room, seq, 1 << 20).await,
    ) {
        (v3::Response::FileChunk(a), v3::Response::FileChunk(b)) => (a, b),
        other => panic!("{other:?}"),
    };
    assert_eq!((first.message_id, second.offset), (seq, 1 << 20));
    assert_eq!((first.data.len(), second.data.len()), (1 << 20, 1 << 20));

    // The library's download, cut after the first range: the next one
    // resumes after the chunks it kept, and the file is whole.
    assert_eq!(file_seq(&bob.peek().await.unwrap()), seq);
    let relay = Relay::start(addr).await.unwrap();
    // Hello and authenticate (140 bytes), four ranges asked at once (58
    // each): the fifth request, sent once the first range arrived, is cut.
    relay.cut_once_after(140 + 4 * 58 + 10);
    let inbox = dir.path().join("bob-downloads");
    let cut = bob.client_conn(relay.addr).await.unwrap();
    let failed = bob.fetch_file(&cut, room, seq, &inbox, &NoProgress).await;
    assert!(failed.is_err(), "the cut download succeeded");
    assert_eq!(relay.cuts(), 1);
    let starts = Starts::default();
    let conn = bob.client_conn(addr).await.unwrap();
    let saved = bob
        .fetch_file(&conn, room, seq, &inbox, &starts)
        .await
        .unwrap();
    assert_eq!(hash_of(&saved), sha);
    let resumed_at = starts.0.lock().unwrap()[0].1;
    assert!(resumed_at > 0, "the download started over");
    // Only the saved file is left: the part was moved into place.
    assert_eq!(std::fs::read_dir(&inbox).unwrap().count(), 1);
}

//! Scenario tests over real SQLite state files in a temporary folder: a few
//! members, each with its own [`RoomEngine`] file, and the server's
//! [`RoomObserver`] standing in for the delivery service (the tests carry
//! the bytes between them in log order).

mod access;
mod cache;
mod kept;
mod membership;
mod names;
mod races;
mod resync;
mod rules;
mod snapshot;
mod timing;

use std::collections::HashMap;
use std::path::PathBuf;

use ed25519_dalek::{Signer as _, SigningKey};
use tempfile::TempDir;

use crate::engine::load_group;
pub(crate) use crate::testing::rogue_add;
use crate::{
    ClientId, IdentitySigner, Incoming, Observed, Outgoing, Pins, RoomEngine, RoomId, RoomObserver,
    RoomsError,
};

/// A test identity: an Ed25519 identity key and a client id.
pub(crate) struct TestId {
    key: SigningKey,
    id: ClientId,
}

impl TestId {
    pub(crate) fn new(seed: u8) -> Self {
        Self {
            key: SigningKey::from_bytes(&[seed; 32]),
            id: ClientId([seed; 16]),
        }
    }
}

impl IdentitySigner for TestId {
    fn client_id(&self) -> ClientId {
        self.id
    }
    fn identity_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// Pins as a map (a client's contacts, or the server's registrations).
#[derive(Clone, Default)]
pub(crate) struct Book(pub HashMap<ClientId, [u8; 32]>);

impl Pins for Book {
    fn pinned_identity_key(&self, client: &ClientId) -> Option<[u8; 32]> {
        self.0.get(client).copied()
    }
}

pub(crate) struct Member {
    pub id: TestId,
    pub engine: RoomEngine,
    pub path: PathBuf,
}

/// Members with their state files, everyone's true pins, and the server.
pub(crate) struct World {
    pub dir: TempDir,
    pub book: Book,
    pub server: RoomObserver,
    pub m: Vec<Member>,
}

pub(crate) const ROOM: RoomId = RoomId([0xAB; 16]);

impl World {
    /// `n` members with seeds 1..=n; member 0 will usually create the room.
    pub(crate) fn new(n: u8) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = RoomObserver::open(&dir.path().join("server.db")).unwrap();
        let mut world = Self {
            dir,
            book: Book::default(),
            server,
            m: Vec::new(),
        };
        for seed in 1..=n {
            world.join_world(seed);
        }
        world
    }

    pub(crate) fn join_world(&mut self, seed: u8) -> usize {
        let id = TestId::new(seed);
        let path = self.dir.path().join(format!("member-{seed}.db"));
        let engine = RoomEngine::open(&path, &id).unwrap();
        self.book.0.insert(id.client_id(), id.identity_key());
        self.m.push(Member { id, engine, path });
        self.m.len() - 1
    }

    pub(crate) fn cid(&self, i: usize) -> ClientId {
        self.m[i].id.client_id()
    }

    /// One fresh key package of member `i`.
    pub(crate) fn kp(&self, i: usize) -> Vec<u8> {
        self.m[i]
            .engine
            .generate_key_packages(1)
            .unwrap()
            .remove(0)
            .bytes
    }

    /// Member `i` creates [`ROOM`]; the server starts following it.
    pub(crate) fn create(&self, i: usize) {
        let created = self.m[i].engine.create_room(ROOM).unwrap();
        let state = self
            .server
            .track(&created.group_info, &created.ratchet_tree, &self.book)
            .unwrap();
        assert_eq!(state.members.len(), 1);
    }

    /// The server accepts `out`; its author merges it; `readers` process it;
    /// the welcome (if any) is joined by `joiners`.
    pub(crate) fn publish(
        &self,
        author: usize,
        out: &Outgoing,
        readers: &[usize],
        joiners: &[usize],
    ) {
        match self.server.process(&out.commit, &self.book).unwrap() {
            Observed::Commit { summary, .. } => assert_eq!(summary, out.summary),
            other => panic!("server saw {other:?}"),
        }
        self.m[author].engine.confirm_commit(ROOM).unwrap();
        for &r in readers {
            match self.m[r].engine.process(&out.commit, &self.book).unwrap() {
                Incoming::Commit { summary, .. } => assert_eq!(summary, out.summary),
                other => panic!("member {r} saw {other:?}"),
            }
        }
        for &j in joiners {
            let welcome = out.welcome.as_ref().expect("a welcome");
            self.m[j].engine.join(welcome, &self.book).unwrap();
        }
    }

    /// Member `author` sends `text`; the server sees one opaque message.
    pub(crate) fn send(&self, author: usize, text: &str) -> Vec<u8> {
        let bytes = self.m[author].engine.send(ROOM, text.as_bytes()).unwrap();
        assert!(matches!(
            self.server.process(&bytes, &self.book).unwrap(),
            Observed::Application { .. }
        ));
        bytes
    }

    /// Member `reader` processes an application message and returns its text.
    pub(crate) fn read(&self, reader: usize, bytes: &[u8]) -> (ClientId, String) {
        match self.m[reader].engine.process(bytes, &self.book).unwrap() {
            Incoming::Message {
                sender, plaintext, ..
            } => (sender, String::from_utf8(plaintext).unwrap()),
            other => panic!("member {reader} saw {other:?}"),
        }
    }

    pub(crate) fn epochs(&self, who: &[usize]) -> Vec<u64> {
        who.iter()
            .map(|&i| self.m[i].engine.epoch(ROOM).unwrap())
            .collect()
    }

    /// Three members in one room: 0 owner, 1 and 2 plain members.
    pub(crate) fn room_of_three() -> Self {
        let w = Self::new(3);
        w.create(0);
        let out = w.m[0]
            .engine
            .add_members(ROOM, &[w.kp(1), w.kp(2)], &w.book)
            .unwrap();
        w.publish(0, &out, &[], &[1, 2]);
        w
    }
}

/// A commit sent as a private message (a client configured to hide its
/// handshakes from the server).
pub(crate) fn rogue_private_commit(engine: &RoomEngine, room: RoomId) -> Vec<u8> {
    use openmls::prelude::{MlsGroupJoinConfig, PURE_CIPHERTEXT_WIRE_FORMAT_POLICY};
    use openmls_traits::OpenMlsProvider as _;
    engine
        .store
        .transact(|provider, _| {
            let mut group = load_group(provider, room)?;
            let config = MlsGroupJoinConfig::builder()
                .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
                .build();
            group.set_configuration(provider.storage(), &config)?;
            let signer = engine.signer(provider)?;
            let bundle = group
                .commit_builder()
                .force_self_update(true)
                .load_psks(provider.storage())
                .map_err(RoomsError::mls("rogue commit"))?
                .build(provider.rand(), provider.crypto(), &signer, |_| true)
                .map_err(RoomsError::mls("rogue commit"))?
                .stage_commit(provider)
                .map_err(RoomsError::mls("rogue commit"))?;
            bundle
                .into_messages()
                .0
                .to_bytes()
                .map_err(RoomsError::mls("encoding"))
        })
        .unwrap()
}

//! The member's engine: one state file, our MLS identity, key packages,
//! creating rooms and reading their state.
//!
//! Commits are in [`crate::commits`], incoming messages and welcomes in
//! [`crate::incoming`]; all three are `impl RoomEngine` blocks over the
//! helpers here. Every public operation is one SQLite transaction
//! ([`Store::transact`]) that loads the room's `MlsGroup` from the file, acts,
//! and lets openmls write the new state; an error rolls all of it back.
//!
//! The engine is synchronous and not `Sync`-shared: the client runs it on a
//! blocking thread and sends it work.

use std::path::Path;

use openmls::prelude::{
    Credential, CredentialWithKey, Extension, Extensions, GroupContext,
    MIXED_PLAINTEXT_WIRE_FORMAT_POLICY, MlsGroup, MlsGroupJoinConfig,
    RequiredCapabilitiesExtension, SignatureScheme, tls_codec::Deserialize as _,
    tls_codec::Serialize as _,
};
use openmls_basic_credential::SignatureKeyPair;
use openmls_traits::OpenMlsProvider as _;

use crate::access::{Access, JoinRule};
use crate::cache::Loaded;
use crate::error::RoomsError;
use crate::identity::{ClientId, IdentitySigner, make_credential};
pub use crate::ids::RoomId;
use crate::keys::{self, CIPHERSUITE, KeyPackageOut, MAX_KEY_PACKAGES_PER_CALL};
use crate::name::RoomName;
use crate::policy::RoomView;
use crate::roles::{Role, Roles};
use crate::store::{IdentityRow, Provider, Store, read_identity, write_identity};

/// What the creator of a room hands the server so it can follow the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomCreated {
    /// The room.
    pub room: RoomId,
    /// A signed `GroupInfo` of epoch 0 (an `MlsMessage`).
    pub group_info: Vec<u8>,
    /// The ratchet tree of epoch 0 (TLS presentation).
    pub ratchet_tree: Vec<u8>,
}

/// A member as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomMember {
    /// The member's client id.
    pub client_id: ClientId,
    /// The member's role.
    pub role: Role,
}

/// A member's rooms engine over one state file.
pub struct RoomEngine {
    pub(crate) store: Store,
    pub(crate) me: IdentityRow,
}

/// The join configuration of every room: handshakes in the clear (the
/// server follows them), application messages encrypted, the ratchet tree
/// inside welcomes, and no secrets of past epochs kept.
pub(crate) fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .max_past_epochs(0)
        .build()
}

/// The group context extensions a new room starts with: the roles table, the
/// name (if given), the access rules and the requirement that every member
/// understands all three (openmls refuses a later change of an extension
/// not required).
fn initial_extensions(
    owner: ClientId,
    name: Option<&RoomName>,
    rule: JoinRule,
) -> Result<Extensions<GroupContext>, RoomsError> {
    let mut extensions = vec![Roles::with_owner(owner).to_extension()];
    extensions.extend(name.map(RoomName::to_extension));
    extensions.push(Access::new(rule).to_extension());
    extensions.push(Extension::RequiredCapabilities(
        RequiredCapabilitiesExtension::new(
            &[
                Roles::extension_type(),
                RoomName::extension_type(),
                Access::extension_type(),
            ],
            &[],
            &[openmls::prelude::CredentialType::Basic],
        ),
    ));
    Extensions::from_vec(extensions).map_err(RoomsError::mls("room extensions"))
}

impl RoomEngine {
    /// Opens the state file at `path` for the identity `me`, creating our MLS
    /// signature key and credential on first use.
    ///
    /// # Errors
    /// [`RoomsError::IdentityMismatch`] if the file belongs to another client
    /// id or identity key; database errors.
    pub fn open(path: &Path, me: &dyn IdentitySigner) -> Result<Self, RoomsError> {
        Self::open_keyed(path, me, None)
    }

    /// As [`Self::open`], the file encrypted by SQLCipher with `key` (the
    /// client's store key) when one is given.
    ///
    /// # Errors
    /// As [`Self::open`], and [`RoomsError::WrongKey`].
    pub fn open_keyed(
        path: &Path,
        me: &dyn IdentitySigner,
        key: Option<&[u8; 32]>,
    ) -> Result<Self, RoomsError> {
        Self::open_keyed_with(path, me, key, None)
    }

    /// As [`Self::open_keyed`]; a new state file takes `leaf` as its leaf
    /// signature key (a home restored from a backup: see [`LeafKey`]).
    ///
    /// # Errors
    /// As [`Self::open_keyed`].
    pub fn open_keyed_with(
        path: &Path,
        me: &dyn IdentitySigner,
        key: Option<&[u8; 32]>,
        leaf: Option<&LeafKey>,
    ) -> Result<Self, RoomsError> {
        let store = Store::open_keyed(path, key)?;
        let row = store.transact(|provider, conn| {
            if let Some(row) = read_identity(conn)? {
                if row.client_id != me.client_id() || row.identity_key != me.identity_key() {
                    return Err(RoomsError::IdentityMismatch);
                }
                return Ok(row);
            }
            let keys = match leaf {
                Some(l) => SignatureKeyPair::tls_deserialize_exact(l.pair.as_slice())
                    .map_err(|_| RoomsError::Malformed)?,
                None => SignatureKeyPair::new(SignatureScheme::ED25519)
                    .map_err(RoomsError::mls("signature key"))?,
            };
            keys.store(provider.storage())?;
            let credential = make_credential(me, keys.public())
                .tls_serialize_detached()
                .map_err(RoomsError::mls("credential encoding"))?;
            let row = IdentityRow {
                client_id: me.client_id(),
                identity_key: me.identity_key(),
                signature_key: keys.to_public_vec(),
                credential,
            };
            write_identity(conn, &row)?;
            Ok(row)
        })?;
        Ok(Self { store, me: row })
    }

    /// Our leaf signature key pair, for a backup.
    ///
    /// # Errors
    /// The state file failed.
    pub fn leaf_key(&self) -> Result<LeafKey, RoomsError> {
        self.store.transact(|provider, _| {
            let pair = self
                .signer(provider)?
                .tls_serialize_detached()
                .map_err(RoomsError::mls("leaf key encoding"))?;
            Ok(LeafKey {
                pair: zeroize::Zeroizing::new(pair),
            })
        })
    }

    /// Our client id.
    pub fn client_id(&self) -> ClientId {
        self.me.client_id
    }

    /// Makes `count` one-time key packages for upload.
    ///
    /// # Errors
    /// [`RoomsError::Limit`] above [`MAX_KEY_PACKAGES_PER_CALL`]; MLS or
    /// database errors.
    pub fn generate_key_packages(&self, count: usize) -> Result<Vec<KeyPackageOut>, RoomsError> {
        if count > MAX_KEY_PACKAGES_PER_CALL {
            return Err(RoomsError::Limit("too many key packages in one call"));
        }
        self.store.transact(|provider, _| {
            let signer = self.signer(provider)?;
            (0..count)
                .map(|_| keys::build(provider, &signer, self.credential_with_key()?, false))
                .collect()
        })
    }

    /// Makes the last-resort key package (kept after use; replace it now and
    /// then).
    ///
    /// # Errors
    /// MLS or database errors.
    pub fn generate_last_resort_key_package(&self) -> Result<KeyPackageOut, RoomsError> {
        self.store.transact(|provider, _| {
            let signer = self.signer(provider)?;
            keys::build(provider, &signer, self.credential_with_key()?, true)
        })
    }

    /// Creates a room with us as its only member and owner.
    ///
    /// # Errors
    /// [`RoomsError::RoomExists`]; MLS or database errors.
    pub fn create_room(&self, room: RoomId) -> Result<RoomCreated, RoomsError> {
        self.create(room, None, JoinRule::InviteOnly)
    }

    /// Creates a room named `name` (see [`crate::name`]) with us as its only
    /// member and owner.
    ///
    /// # Errors
    /// [`RoomsError::RoomExists`]; MLS or database errors.
    pub fn create_named_room(
        &self,
        room: RoomId,
        name: &RoomName,
    ) -> Result<RoomCreated, RoomsError> {
        self.create(room, Some(name), JoinRule::InviteOnly)
    }

    /// Creates a room named `name` that one joins by `rule`.
    ///
    /// # Errors
    /// [`RoomsError::RoomExists`]; MLS or database errors.
    pub fn create_room_with_rule(
        &self,
        room: RoomId,
        name: &RoomName,
        rule: JoinRule,
    ) -> Result<RoomCreated, RoomsError> {
        self.create(room, Some(name), rule)
    }

    fn create(
        &self,
        room: RoomId,
        name: Option<&RoomName>,
        rule: JoinRule,
    ) -> Result<RoomCreated, RoomsError> {
        self.store.transact(|provider, conn| {
            if load_group(provider, room).is_ok() {
                return Err(RoomsError::RoomExists);
            }
            let signer = self.signer(provider)?;
            let group = MlsGroup::builder()
                .with_group_id(room.group_id())
                .ciphersuite(CIPHERSUITE)
                .with_wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
                .use_ratchet_tree_extension(true)
                .max_past_epochs(0)
                .with_capabilities(keys::leaf_capabilities())
                .with_group_context_extensions(initial_extensions(self.me.client_id, name, rule)?)
                .build(provider, &signer, self.credential_with_key()?)
                .map_err(RoomsError::mls("room creation"))?;
            crate::store::remember_room(conn, room)?;
            self.founding_of(provider, &group, room)
        })
    }

    /// The rooms in the state file (including ones we were removed from).
    ///
    /// # Errors
    /// Database errors.
    pub fn rooms(&self) -> Result<Vec<RoomId>, RoomsError> {
        self.store
            .transact(|_, conn| crate::store::read_rooms(conn))
    }

    /// The room's members and their roles, in leaf order.
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`]; a malformed roles table or credential.
    pub fn members(&self, room: RoomId) -> Result<Vec<RoomMember>, RoomsError> {
        self.store.transact(|provider, _| {
            let group = load_group(provider, room)?;
            let view = RoomView::new(group.members(), group.extensions())?;
            Ok(view
                .clients()
                .map(|client_id| RoomMember {
                    client_id,
                    role: view.role_of(&client_id),
                })
                .collect())
        })
    }

    /// The room's name, if it has one.
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`]; a malformed name.
    pub fn name(&self, room: RoomId) -> Result<Option<RoomName>, RoomsError> {
        self.store.transact(|provider, _| {
            let group = load_group(provider, room)?;
            Ok(RoomName::from_extensions(group.extensions())?)
        })
    }

    /// The room's access rules (join rule, banned ids).
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`]; malformed rules.
    pub fn access(&self, room: RoomId) -> Result<Access, RoomsError> {
        self.store.transact(|provider, _| {
            let group = load_group(provider, room)?;
            Ok(Access::from_extensions(group.extensions())?)
        })
    }

    /// A signed `GroupInfo` of the room's current epoch with its ratchet
    /// tree (an `MlsMessage`): what the server hands to those who join the
    /// room by external commit. Members refresh it after each commit.
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`], [`RoomsError::NotMember`]; MLS errors.
    pub fn group_info(&self, room: RoomId) -> Result<Vec<u8>, RoomsError> {
        self.store.transact(|provider, _| {
            let group = load_group(provider, room)?;
            if !group.is_active() {
                return Err(RoomsError::NotMember);
            }
            self.export_group_info(provider, &group)
        })
    }

    /// A signed `GroupInfo` of `group`'s current epoch, with its tree.
    fn export_group_info(
        &self,
        provider: &Provider<'_>,
        group: &MlsGroup,
    ) -> Result<Vec<u8>, RoomsError> {
        let signer = self.signer(provider)?;
        group
            .export_group_info(provider.crypto(), &signer, true)
            .map_err(RoomsError::mls("group info export"))?
            .to_bytes()
            .map_err(RoomsError::mls("group info encoding"))
    }

    /// What a member sends to re-found the room on a server restored from a
    /// backup that holds it behind (PROTOCOL.md "Re-founding a restored
    /// room"): a signed `GroupInfo` and the ratchet tree of our current
    /// epoch, as a creator sends those of epoch 0.
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`], [`RoomsError::NotMember`]; MLS errors.
    pub fn founding(&self, room: RoomId) -> Result<RoomCreated, RoomsError> {
        self.store.transact(|provider, _| {
            let group = load_group(provider, room)?;
            if !group.is_active() {
                return Err(RoomsError::NotMember);
            }
            self.founding_of(provider, &group, room)
        })
    }

    /// The group info and tree of `group`'s current epoch, as a creator
    /// (or a re-founder) hands them to the server.
    fn founding_of(
        &self,
        provider: &Provider<'_>,
        group: &MlsGroup,
        room: RoomId,
    ) -> Result<RoomCreated, RoomsError> {
        let group_info = self.export_group_info(provider, group)?;
        let ratchet_tree = group
            .export_ratchet_tree()
            .tls_serialize_detached()
            .map_err(RoomsError::mls("ratchet tree encoding"))?;
        Ok(RoomCreated {
            room,
            group_info,
            ratchet_tree,
        })
    }

    /// The room's current epoch.
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`].
    pub fn epoch(&self, room: RoomId) -> Result<u64, RoomsError> {
        self.store
            .transact(|provider, _| Ok(load_group(provider, room)?.epoch().as_u64()))
    }

    /// True while we are a member of the room (false once removed).
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`].
    pub fn is_member(&self, room: RoomId) -> Result<bool, RoomsError> {
        self.store
            .transact(|provider, _| Ok(load_group(provider, room)?.is_active()))
    }

    /// Checks every member of the room against `pins` (the check a client
    /// runs after joining and whenever its pins change).
    ///
    /// # Errors
    /// [`RoomsError::Identity`] naming the first member that fails.
    pub fn verify_members(
        &self,
        room: RoomId,
        pins: &dyn crate::identity::Pins,
    ) -> Result<(), RoomsError> {
        self.store.transact(|provider, _| {
            let group = load_group(provider, room)?;
            crate::policy::check_members(group.members(), pins)?;
            Ok(())
        })
    }

    /// Our MLS signature key pair, from openmls's storage.
    pub(crate) fn signer(&self, provider: &Provider<'_>) -> Result<SignatureKeyPair, RoomsError> {
        SignatureKeyPair::read(
            provider.storage(),
            &self.me.signature_key,
            SignatureScheme::ED25519,
        )
        .ok_or(RoomsError::NoIdentity)
    }

    /// Our credential with its signature key.
    pub(crate) fn credential_with_key(&self) -> Result<CredentialWithKey, RoomsError> {
        let credential = Credential::tls_deserialize_exact(&self.me.credential)
            .map_err(|_| RoomsError::NoIdentity)?;
        Ok(CredentialWithKey {
            credential,
            signature_key: self.me.signature_key.clone().into(),
        })
    }
}

/// Our MLS leaf signature key pair as a backup keeps it. The identity key
/// (in the backup too) could bind any leaf key to us, so this gives a
/// backup no new power; a restored home that uses it again is known by its
/// old leaf, which openmls's external commit then removes (RFC 9420
/// 12.4.3.2, a resync): the home joins an open room again although the
/// room still counts its old leaf.
#[derive(Clone)]
pub struct LeafKey {
    /// The key pair as openmls serializes it (TLS: secret, public key,
    /// scheme).
    pub pair: zeroize::Zeroizing<Vec<u8>>,
}

/// Loads a room's group from the state file.
pub(crate) fn load_group<'p>(
    provider: &'p Provider<'_>,
    room: RoomId,
) -> Result<Loaded<'p>, RoomsError> {
    let group = match provider.cache.take(room) {
        Some(group) => group,
        None => {
            MlsGroup::load(provider.storage(), &room.group_id())?.ok_or(RoomsError::UnknownRoom)?
        }
    };
    Ok(Loaded::new(group, room, &provider.cache))
}

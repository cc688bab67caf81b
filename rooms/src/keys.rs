//! Key packages (MLS's one-time prekeys) and the capabilities every room
//! leaf advertises.
//!
//! A client keeps a stock of key packages on the server plus one marked
//! last-resort (RFC 9420's `last_resort` extension, used when the stock is
//! empty and kept after use). openmls writes each package's private keys to
//! the state file when it is built and deletes them when a welcome consumes
//! them (the last-resort one is kept); this module only builds, serializes
//! and checks them. Handing each out exactly once is the server's job.
//!
//! Every leaf (key packages and a creator's leaf) advertises the roles
//! extension, and every room requires it, so a client that does not
//! understand roles cannot be added to a room.

use openmls::prelude::{
    Capabilities, Ciphersuite, CredentialType, CredentialWithKey, ExtensionType, KeyPackage,
    KeyPackageIn, ProtocolVersion, tls_codec::Deserialize as _, tls_codec::Serialize as _,
};
use openmls_basic_credential::SignatureKeyPair;
use openmls_traits::OpenMlsProvider;
use openmls_traits::crypto::OpenMlsCrypto;

use crate::error::RoomsError;
use crate::identity::{ClientId, verify_binding};
use crate::roles::Roles;

/// The only ciphersuite rooms use.
pub const CIPHERSUITE: Ciphersuite =
    Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519;
/// The largest serialized key package accepted (a package with our
/// 112-byte credential is about 400 bytes).
pub const MAX_KEY_PACKAGE_LEN: usize = 4096;
/// Most key packages made in one call.
pub const MAX_KEY_PACKAGES_PER_CALL: usize = 100;

/// A key package ready for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPackageOut {
    /// The serialized `KeyPackage` (TLS presentation, as MLS sends it).
    pub bytes: Vec<u8>,
    /// Its hash reference (RFC 9420, 5.2), which names it in the protocol.
    pub hash_ref: Vec<u8>,
    /// True for the last-resort package.
    pub last_resort: bool,
}

/// The capabilities of every room leaf: our ciphersuite, basic credentials,
/// the roles extension and last-resort key packages.
pub(crate) fn leaf_capabilities() -> Capabilities {
    Capabilities::new(
        None,
        Some(&[CIPHERSUITE]),
        Some(&[
            Roles::extension_type(),
            crate::name::RoomName::extension_type(),
            crate::access::Access::extension_type(),
            ExtensionType::LastResort,
        ]),
        None,
        Some(&[CredentialType::Basic]),
    )
}

/// Builds one key package; openmls stores its private keys.
pub(crate) fn build(
    provider: &impl OpenMlsProvider,
    signer: &SignatureKeyPair,
    credential: CredentialWithKey,
    last_resort: bool,
) -> Result<KeyPackageOut, RoomsError> {
    let mut builder = KeyPackage::builder().leaf_node_capabilities(leaf_capabilities());
    if last_resort {
        builder = builder.mark_as_last_resort();
    }
    let bundle = builder
        .build(CIPHERSUITE, provider, signer, credential)
        .map_err(RoomsError::mls("key package creation"))?;
    let package = bundle.key_package();
    let bytes = package
        .tls_serialize_detached()
        .map_err(RoomsError::mls("key package encoding"))?;
    let hash_ref = package
        .hash_ref(provider.crypto())
        .map_err(RoomsError::mls("key package hash"))?
        .as_slice()
        .to_vec();
    Ok(KeyPackageOut {
        bytes,
        hash_ref,
        last_resort,
    })
}

/// Parses and validates a claimed key package: signature, lifetime,
/// protocol version, our ciphersuite and the roles capability. The
/// credential is checked against pins by the caller.
///
/// # Errors
/// [`RoomsError::BadKeyPackage`] for anything unusable.
pub fn parse_key_package(
    crypto: &impl OpenMlsCrypto,
    bytes: &[u8],
) -> Result<KeyPackage, RoomsError> {
    if bytes.len() > MAX_KEY_PACKAGE_LEN {
        return Err(RoomsError::BadKeyPackage);
    }
    let package = KeyPackageIn::tls_deserialize_exact(bytes)
        .map_err(|_| RoomsError::BadKeyPackage)?
        .validate(crypto, ProtocolVersion::Mls10)
        .map_err(|_| RoomsError::BadKeyPackage)?;
    if package.ciphersuite() != CIPHERSUITE {
        return Err(RoomsError::BadKeyPackage);
    }
    let caps = package.leaf_node().capabilities();
    if !caps.extensions().contains(&Roles::extension_type()) {
        return Err(RoomsError::BadKeyPackage);
    }
    Ok(package)
}

/// The server's check of a key package a client uploads: it parses and
/// validates ([`parse_key_package`]) and its credential binds `owner` and
/// the identity key `owner` registered, so a package handed out in `owner`'s
/// name really is `owner`'s. Returns whether it is a last-resort package.
///
/// # Errors
/// [`RoomsError::BadKeyPackage`].
pub fn check_upload(
    bytes: &[u8],
    owner: ClientId,
    identity_key: [u8; 32],
) -> Result<bool, RoomsError> {
    let package = parse_key_package(&openmls_rust_crypto::RustCrypto::default(), bytes)?;
    let leaf = package.leaf_node();
    let member = verify_binding(leaf.credential(), leaf.signature_key().as_slice())
        .map_err(|_| RoomsError::BadKeyPackage)?;
    if member.client_id != owner || member.identity_key != identity_key {
        return Err(RoomsError::BadKeyPackage);
    }
    Ok(package.last_resort())
}

//! Sealpost client library: everything the `client` binary does, kept
//! headless so that tests can drive it.
//!
//! - [`crypto`]: identities, key bundles, fingerprints, the key agreement,
//!   sealed texts and chunked file encryption. Pure computation: no network,
//!   no files, no terminal.
//!
//! Networking and the terminal interface are deliberately not here yet.

#![forbid(unsafe_code)]

pub mod crypto;


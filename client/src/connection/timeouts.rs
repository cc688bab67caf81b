//! How long each step of talking to the server may take, in a leaf of its
//! own so that the handshake and the established connection share them
//! without importing each other.

use std::time::Duration;

/// How long to wait for an answer on an established connection.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the TCP connection may take. Together with
/// [`HANDSHAKE_TIMEOUT`] this bounds how soon a wrong address fails (10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to answer the handshake (or registration):
/// a port where something else listens, silent or not, fails this soon
/// instead of after [`REQUEST_TIMEOUT`].
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

//! Version-3 authentication: a connection's state (fresh, challenged,
//! authenticated), the hello that answers with a signed challenge, and the
//! check of the client's signed answer. Kept apart from the session loop so
//! that what proves a client's identity reads in one place.

use std::net::SocketAddr;

use ed25519_dalek::{Signature, VerifyingKey};
use protocol::auth::{client_proof_message, server_proof_message};
use protocol::bundle::KeyBundle;
use protocol::v3::{self, ServerLimits};
use protocol::{
    ClientId, ErrorReason, MAX_ACK_IDS, MAX_CHUNK_LEN, MAX_PULL_BYTES, MAX_PULL_MESSAGES,
};
use rand::RngCore;

use crate::shared::Shared;
use crate::store::Protocol;
use crate::v3::reply::error;

/// Failed authentications after which the connection is closed.
const MAX_AUTH_FAILURES: u32 = 3;

enum State {
    Fresh,
    Challenged {
        client_id: ClientId,
        client_nonce: [u8; 32],
        server_nonce: [u8; 32],
    },
    Authenticated(ClientId),
}

/// Where a connection stands in authenticating, and how often it failed.
pub(crate) struct Auth {
    state: State,
    failures: u32,
}

impl Auth {
    /// A connection that has not said hello.
    pub(crate) fn new() -> Self {
        Self {
            state: State::Fresh,
            failures: 0,
        }
    }

    /// The authenticated client, if any.
    pub(crate) fn client(&self) -> Option<ClientId> {
        match self.state {
            State::Authenticated(id) => Some(id),
            _ => None,
        }
    }

    /// Whether the connection failed to authenticate too often and must close.
    pub(crate) fn gave_up(&self) -> bool {
        self.failures >= MAX_AUTH_FAILURES
    }

    /// Answers a hello with a challenge signed by the server's identity
    /// key, registered client or not: the server proves who it is before it
    /// says anything about an account, so that a client that reached
    /// another server with its pinned address is warned of the key, not
    /// told that its account is gone (and invited to register again).
    pub(crate) fn hello(
        &mut self,
        shared: &Shared,
        client_id: ClientId,
        client_nonce: [u8; 32],
    ) -> v3::Response {
        let mut server_nonce = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut server_nonce);
        let signature = shared.identity.sign(&server_proof_message(
            &client_id,
            &client_nonce,
            &server_nonce,
        ));
        self.state = State::Challenged {
            client_id,
            client_nonce,
            server_nonce,
        };
        v3::Response::Challenge(v3::Challenge {
            server_key: shared.identity.public_key(),
            server_nonce,
            signature,
        })
    }

    /// Checks the answer to the challenge; on success the connection is
    /// authenticated and learns the server's limits.
    pub(crate) fn authenticate(
        &mut self,
        shared: &Shared,
        peer: SocketAddr,
        header_id: ClientId,
        signature: &[u8; 64],
    ) -> v3::Response {
        // The challenge is spent by this attempt, right or wrong.
        let State::Challenged {
            client_id,
            client_nonce,
            server_nonce,
        } = std::mem::replace(&mut self.state, State::Fresh)
        else {
            return error(
                ErrorReason::NoChallenge,
                "say hello first; each challenge answers once",
            );
        };
        if !shared.store.directory().contains(Protocol::V3, &client_id) {
            return error(
                ErrorReason::UnknownClient,
                format!("no client {client_id} is registered"),
            );
        }
        let verified = header_id == client_id
            && shared
                .store
                .directory()
                .get(Protocol::V3, &client_id)
                .is_some_and(|record| {
                    let bundle = KeyBundle::from_public_key(&record.public_key);
                    let message = client_proof_message(
                        &shared.identity.public_key(),
                        &client_id,
                        &client_nonce,
                        &server_nonce,
                    );
                    VerifyingKey::from_bytes(&bundle.identity_key).is_ok_and(|key| {
                        key.verify_strict(&message, &Signature::from_bytes(signature))
                            .is_ok()
                    })
                });
        if !verified {
            self.failures += 1;
            tracing::warn!(%peer, client = %client_id, failures = self.failures, "authentication failed");
            return error(
                ErrorReason::AuthFailed,
                "the answer to the challenge does not verify with this client's identity key",
            );
        }
        self.state = State::Authenticated(client_id);
        shared.store.touch(client_id);
        tracing::info!(%peer, client = %client_id, "authenticated");
        let config = &shared.config;
        v3::Response::Authenticated(ServerLimits {
            max_message_len: config.max_message_len,
            max_chunk_len: MAX_CHUNK_LEN as u32,
            max_file_size: config.max_file_size,
            max_pull_messages: MAX_PULL_MESSAGES,
            max_ack_ids: MAX_ACK_IDS as u16,
            max_pull_bytes: MAX_PULL_BYTES,
            requests_per_second: config.requests_per_second,
            idle_timeout_secs: config.idle_timeout.as_secs().try_into().unwrap_or(u32::MAX),
        })
    }
}

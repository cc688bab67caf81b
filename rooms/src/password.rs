//! Room passwords by OPAQUE (PROTOCOL.md "Passwords (146 to 149)"): the
//! room is OPAQUE's user, its id the credential identifier. An admin
//! registers the password ([`PasswordRegistration`]), the server keeps the
//! record it makes from the upload ([`PasswordServer::record`]), and a
//! joiner proves the password ([`PasswordLogin`]) before the server lets its
//! connection join.
//!
//! Cipher suite: ristretto255 for the OPRF and the key exchange, triple
//! Diffie-Hellman with SHA-512, Argon2id at the `argon2` crate's default cost
//! as the key stretching function (run by the client only). The password
//! itself never leaves [`PasswordRegistration`] or [`PasswordLogin`]; the
//! server holds the OPRF seed and key pair ([`PasswordServer`]) and records.
//!
//! Left out: the wire (the protocol crate carries these bytes), storage
//! (the server's) and guess limits (the server's, per user and room).

use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialFinalization, CredentialRequest,
    CredentialResponse, RegistrationRequest, RegistrationResponse, RegistrationUpload,
    Ristretto255, ServerLogin, ServerLoginParameters, ServerRegistration, ServerSetup, TripleDh,
};
use rand::rngs::OsRng;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::ids::RoomId;

/// The OPAQUE cipher suite of room passwords.
pub struct RoomSuite;

impl opaque_ke::CipherSuite for RoomSuite {
    type OprfCs = Ristretto255;
    type KeyExchange = TripleDh<Ristretto255, sha2::Sha512>;
    type Ksf = argon2::Argon2<'static>;
}

/// What went wrong with a room password. Deliberately vague about which
/// check failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password did not prove itself (or the server answered for a
    /// room with no password record).
    #[error("wrong password")]
    WrongPassword,
    /// An OPAQUE message or stored value is malformed.
    #[error("malformed OPAQUE message")]
    Malformed,
}

fn malformed<T>(_: T) -> PasswordError {
    PasswordError::Malformed
}

/// The server's OPAQUE setup: OPRF seed and static key pair. Made once and
/// kept with the server's data; no `Debug`, it is a secret.
pub struct PasswordServer {
    setup: ServerSetup<RoomSuite>,
}

impl PasswordServer {
    /// A new random setup.
    pub fn generate() -> Self {
        Self {
            setup: ServerSetup::new(&mut OsRng),
        }
    }

    /// The setup kept as bytes.
    ///
    /// # Errors
    /// [`PasswordError::Malformed`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PasswordError> {
        Ok(Self {
            setup: ServerSetup::deserialize(bytes).map_err(malformed)?,
        })
    }

    /// The bytes to keep.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.setup.serialize().to_vec())
    }

    /// Answers an admin's registration request (146) for `room`.
    ///
    /// # Errors
    /// [`PasswordError::Malformed`].
    pub fn register(&self, room: RoomId, request: &[u8]) -> Result<Vec<u8>, PasswordError> {
        let request = RegistrationRequest::deserialize(request).map_err(malformed)?;
        let started = ServerRegistration::<RoomSuite>::start(&self.setup, request, &room.0)
            .map_err(malformed)?;
        Ok(started.message.serialize().to_vec())
    }

    /// The record to store from an admin's upload (147): checked to parse,
    /// and the bytes a later [`PasswordServer::login`] reads.
    ///
    /// # Errors
    /// [`PasswordError::Malformed`].
    pub fn record(upload: &[u8]) -> Result<Vec<u8>, PasswordError> {
        let upload = RegistrationUpload::<RoomSuite>::deserialize(upload).map_err(malformed)?;
        Ok(ServerRegistration::finish(upload).serialize().to_vec())
    }

    /// Answers a joiner's credential request (148) from the room's record,
    /// or from none (an answer that cannot be told from a real one and
    /// that no password opens).
    ///
    /// # Errors
    /// [`PasswordError::Malformed`].
    pub fn login(
        &self,
        room: RoomId,
        record: Option<&[u8]>,
        request: &[u8],
    ) -> Result<(Vec<u8>, PendingLogin), PasswordError> {
        let record = record
            .map(ServerRegistration::<RoomSuite>::deserialize)
            .transpose()
            .map_err(malformed)?;
        let request = CredentialRequest::deserialize(request).map_err(malformed)?;
        let started = ServerLogin::start(
            &mut OsRng,
            &self.setup,
            record,
            request,
            &room.0,
            ServerLoginParameters::default(),
        )
        .map_err(malformed)?;
        Ok((
            started.message.serialize().to_vec(),
            PendingLogin {
                room,
                state: started.state,
            },
        ))
    }
}

/// The server's half of one login, between 148 and 149.
pub struct PendingLogin {
    room: RoomId,
    state: ServerLogin<RoomSuite>,
}

impl PendingLogin {
    /// The room it is for.
    pub fn room(&self) -> RoomId {
        self.room
    }

    /// Checks the joiner's finalization (149).
    ///
    /// # Errors
    /// [`PasswordError::WrongPassword`] whatever failed.
    pub fn finish(self, finalization: &[u8]) -> Result<(), PasswordError> {
        let message = CredentialFinalization::deserialize(finalization)
            .map_err(|_| PasswordError::WrongPassword)?;
        self.state
            .finish(message, ServerLoginParameters::default())
            .map(|_| ())
            .map_err(|_| PasswordError::WrongPassword)
    }
}

/// An admin's registration of a room password in progress.
pub struct PasswordRegistration {
    password: Zeroizing<Vec<u8>>,
    state: ClientRegistration<RoomSuite>,
}

impl PasswordRegistration {
    /// Starts one: the state and the request for the server (146).
    ///
    /// # Errors
    /// [`PasswordError::Malformed`] (OPAQUE refused the password).
    pub fn start(password: &[u8]) -> Result<(Self, Vec<u8>), PasswordError> {
        let started = ClientRegistration::start(&mut OsRng, password).map_err(malformed)?;
        Ok((
            Self {
                password: Zeroizing::new(password.to_vec()),
                state: started.state,
            },
            started.message.serialize().to_vec(),
        ))
    }

    /// The upload (147) from the server's response (1318).
    ///
    /// # Errors
    /// [`PasswordError::Malformed`].
    pub fn finish(self, response: &[u8]) -> Result<Vec<u8>, PasswordError> {
        let response = RegistrationResponse::deserialize(response).map_err(malformed)?;
        let argon = argon2::Argon2::default();
        let done = self
            .state
            .finish(
                &mut OsRng,
                &self.password,
                response,
                ClientRegistrationFinishParameters::new(Default::default(), Some(&argon)),
            )
            .map_err(malformed)?;
        Ok(done.message.serialize().to_vec())
    }
}

/// A joiner's proof of a room password in progress.
pub struct PasswordLogin {
    password: Zeroizing<Vec<u8>>,
    state: ClientLogin<RoomSuite>,
}

impl PasswordLogin {
    /// Starts one: the state and the request for the server (148).
    ///
    /// # Errors
    /// [`PasswordError::Malformed`] (OPAQUE refused the password).
    pub fn start(password: &[u8]) -> Result<(Self, Vec<u8>), PasswordError> {
        let started = ClientLogin::start(&mut OsRng, password).map_err(malformed)?;
        Ok((
            Self {
                password: Zeroizing::new(password.to_vec()),
                state: started.state,
            },
            started.message.serialize().to_vec(),
        ))
    }

    /// The finalization (149) from the server's response (1320).
    ///
    /// # Errors
    /// [`PasswordError::WrongPassword`]: the response does not open with
    /// this password (or the room has no password record).
    pub fn finish(self, response: &[u8]) -> Result<Vec<u8>, PasswordError> {
        let response =
            CredentialResponse::deserialize(response).map_err(|_| PasswordError::WrongPassword)?;
        let argon = argon2::Argon2::default();
        let done = self
            .state
            .finish(
                &mut OsRng,
                &self.password,
                response,
                ClientLoginFinishParameters::new(None, Default::default(), Some(&argon)),
            )
            .map_err(|_| PasswordError::WrongPassword)?;
        Ok(done.message.serialize().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: RoomId = RoomId([7; 16]);

    fn register(server: &PasswordServer, password: &[u8]) -> Vec<u8> {
        let (reg, request) = PasswordRegistration::start(password).unwrap();
        let response = server.register(ROOM, &request).unwrap();
        PasswordServer::record(&reg.finish(&response).unwrap()).unwrap()
    }

    fn login(
        server: &PasswordServer,
        record: Option<&[u8]>,
        password: &[u8],
    ) -> Result<(), PasswordError> {
        let (client, request) = PasswordLogin::start(password).unwrap();
        let (response, pending) = server.login(ROOM, record, &request).unwrap();
        let finalization = client.finish(&response)?;
        pending.finish(&finalization)
    }

    #[test]
    fn the_right_password_proves_itself_and_a_wrong_one_does_not() {
        let server = PasswordServer::from_bytes(&PasswordServer::generate().to_bytes()).unwrap();
        let record = register(&server, b"correct horse");
        assert!(!record.windows(13).any(|w| w == b"correct horse"));
        assert_eq!(login(&server, Some(&record), b"correct horse"), Ok(()));
        assert_eq!(
            login(&server, Some(&record), b"wrong horse"),
            Err(PasswordError::WrongPassword)
        );
        assert_eq!(
            login(&server, None, b"correct horse"),
            Err(PasswordError::WrongPassword)
        );
    }

    #[test]
    fn messages_have_the_sizes_protocol_md_gives() {
        let server = PasswordServer::generate();
        let (reg, request) = PasswordRegistration::start(b"pw").unwrap();
        let response = server.register(ROOM, &request).unwrap();
        let upload = reg.finish(&response).unwrap();
        assert_eq!((request.len(), response.len(), upload.len()), (32, 64, 192));
        let record = PasswordServer::record(&upload).unwrap();
        let (client, request) = PasswordLogin::start(b"pw").unwrap();
        let (response, _) = server.login(ROOM, Some(&record), &request).unwrap();
        let finalization = client.finish(&response).unwrap();
        assert_eq!(
            (request.len(), response.len(), finalization.len()),
            (96, 320, 64)
        );
    }

    #[test]
    fn a_record_is_bound_to_its_server_setup() {
        let server = PasswordServer::generate();
        let record = register(&server, b"pw");
        let other = PasswordServer::generate();
        assert_eq!(
            login(&other, Some(&record), b"pw"),
            Err(PasswordError::WrongPassword)
        );
    }

    #[test]
    fn a_forged_finalization_is_refused() {
        let server = PasswordServer::generate();
        let record = register(&server, b"pw");
        let (_client, request) = PasswordLogin::start(b"guess").unwrap();
        let (_response, pending) = server.login(ROOM, Some(&record), &request).unwrap();
        assert_eq!(pending.finish(&[0; 64]), Err(PasswordError::WrongPassword));
    }
}

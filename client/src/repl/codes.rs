//! A stable word for each failure a script can act on, for `--json` errors
//! (`{"error": LINE, "code": CODE}`): the server's reason (`name_taken`)
//! when it refused, else the kind of failure. README lists them; a code
//! once given is not renamed, since scripts match on it.
//!
//! A leaf beside [`super::explain`], which words the same errors for a
//! person.

use std::io;

use rusqlite::ErrorCode;

use crate::ClientError;
use crate::backup_fault::BackupFault;
use crate::connection::ConnectionError;
use crate::keystore::KeyStoreError;
use crate::passphrase::EntryError;

/// The code of `e`: the first cause in its chain that has one, else
/// `error`.
pub fn error_code(e: &anyhow::Error) -> String {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<ClientError>() {
            return client_code(c);
        }
        if let Some(c) = cause.downcast_ref::<ConnectionError>() {
            return connection_code(c);
        }
        if let Some(c) = cause.downcast_ref::<KeyStoreError>() {
            return store_code(c).into();
        }
        if let Some(c) = cause.downcast_ref::<EntryError>() {
            return c.code().into();
        }
        if cause.is::<crate::config::AddressError>() {
            return "bad_address".into();
        }
        if let Some(c) = cause.downcast_ref::<io::Error>() {
            return io_code(c).unwrap_or("io_error").into();
        }
    }
    "error".into()
}

/// The code of one of the client's errors. Exhaustive on purpose: a new
/// variant gets its own code here.
pub fn client_code(e: &ClientError) -> String {
    use sealpost_rooms::RoomsError;
    let code = match e {
        ClientError::Connection(c) => return connection_code(c),
        ClientError::NotRegistered(_) => "not_registered",
        ClientError::AlreadyRegistered { .. } => "already_registered",
        ClientError::ServerKeyChanged { .. } => "server_key_changed",
        ClientError::PeerKeyChanged { .. } | ClientError::VerifyChangedKey { .. } => {
            "peer_key_changed"
        }
        ClientError::NameConflict(c) if c.is_gone() => "contact_gone",
        ClientError::NameConflict(_) => "name_conflict",
        ClientError::SendToSelf(_) => "is_you",
        ClientError::UnknownPeer(_) | ClientError::UnknownPeerInRoom { .. } => "unknown_peer",
        ClientError::NoConversation { .. } => "no_conversation",
        ClientError::NoValidKey(_) => "no_valid_key",
        ClientError::TextTooLong { .. } => "text_too_long",
        ClientError::EmptyText => "empty_text",
        ClientError::File { path, source } => {
            // Reading a folder fails with another kind on some systems.
            if std::path::Path::new(path).is_dir() {
                "is_a_directory"
            } else {
                io_code(source).unwrap_or("file")
            }
        }
        ClientError::Cancelled => "cancelled",
        ClientError::NoHeldFile(..) => "no_such_offer",
        ClientError::Store(s) => store_code(s),
        ClientError::Crypto(crate::crypto::CryptoError::FileChanged) => "file_changed",
        ClientError::Crypto(_) => "crypto",
        ClientError::Io(e) => io_code(e).unwrap_or("io_error"),
        ClientError::Room(RoomsError::Policy(_)) => "room_refused",
        ClientError::Room(RoomsError::Leaving) => "leaving",
        ClientError::Room(RoomsError::NotMember) => "not_in_room",
        ClientError::Room(RoomsError::WrongKey) => "wrong_passphrase",
        ClientError::Room(RoomsError::Limit(_)) => "room_limit",
        ClientError::Room(RoomsError::Identity(sealpost_rooms::IdentityError::PinMismatch(_))) => {
            "peer_key_changed"
        }
        ClientError::Room(_) => "room",
        ClientError::NoSuchRoom(_) | ClientError::NoRoomToJoin { .. } => "no_such_room",
        ClientError::RoomGone(_) => "room_gone",
        ClientError::NoLongerInRoom { .. } => "not_in_room",
        // What stopped it says what to do first.
        ClientError::UploadKept(stopped) => return client_code(stopped),
        ClientError::RemovedFromRoom { banned: false, .. } => "removed_from_room",
        ClientError::RemovedFromRoom { banned: true, .. } => "banned_from_room",
        ClientError::RoomLostInRestore { .. } => "room_lost_in_restore",
        ClientError::AmbiguousRoom { .. } => "ambiguous_room",
        ClientError::AlreadyInRoom { .. } => "already_member",
        ClientError::RoomNameTaken(_) | ClientError::RoomNameInUse(_) => "room_name_taken",
        ClientError::RoomRefused { why, .. } => why.code(),
        ClientError::RoomPassword(_) => "wrong_password",
        ClientError::RoomPasswordNeeded(_) => "password_needed",
        ClientError::NoKeyPackage(_) => "no_key_package",
        ClientError::NameMismatch { .. } => "name_mismatch",
        ClientError::NothingToAccept(_) => "no_pending_key",
        ClientError::BadBackup { fault, .. } => backup_code(fault),
        ClientError::StillInRooms(_) => "still_in_rooms",
        ClientError::AccountGone { .. } => "account_gone",
        ClientError::OtherServer { .. } => "other_server",
    };
    code.into()
}

/// The code of a key store failure: what is wrong with the home folder.
pub fn store_code(e: &KeyStoreError) -> &'static str {
    match e {
        KeyStoreError::WrongPassphrase | KeyStoreError::WrongBackupPassphrase => "wrong_passphrase",
        KeyStoreError::PassphraseNeeded
        | KeyStoreError::FirstPassphraseNeeded
        | KeyStoreError::NewPassphraseNeeded => "passphrase_needed",
        KeyStoreError::PassphraseTooShort { .. } => "passphrase_too_short",
        KeyStoreError::NoPassphraseHome | KeyStoreError::NoPassphraseToChange => "unencrypted_home",
        KeyStoreError::SamePassphrase => "same_passphrase",
        KeyStoreError::Backup(fault) => backup_code(fault),
        KeyStoreError::HomeInUse => "home_in_use",
        KeyStoreError::Io(e) => io_code(e).unwrap_or("key_store"),
        KeyStoreError::Sqlite(e) => match e.sqlite_error_code() {
            // Another client holds the store past the busy timeout.
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => "home_in_use",
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => "home_corrupt",
            Some(ErrorCode::DiskFull) => "disk_full",
            Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => "permission_denied",
            _ => "key_store",
        },
        KeyStoreError::SchemaTooNew { .. } => "home_too_new",
        KeyStoreError::Corrupt(_) | KeyStoreError::BadMeInfo(_) => "home_corrupt",
        KeyStoreError::IdentityMismatch => "identity_mismatch",
        KeyStoreError::IdentityExists => "already_registered",
        KeyStoreError::UnknownPeer(_) => "unknown_peer",
        KeyStoreError::KeyChanged { .. } => "peer_key_changed",
        KeyStoreError::NoPendingKey(_) => "no_pending_key",
        KeyStoreError::CounterExhausted(_) => "session_exhausted",
        // The store's own consistency, nothing a user chose.
        KeyStoreError::UnknownSession(_) | KeyStoreError::SessionExists(_) => "key_store",
    }
}

/// The code of what is wrong with a backup file.
fn backup_code(fault: &BackupFault) -> &'static str {
    match fault {
        BackupFault::NotABackup => "not_a_backup",
        BackupFault::CutShort => "backup_cut_short",
        BackupFault::TooNew => "backup_too_new",
        BackupFault::Read(_) => "file",
        _ => "backup_damaged",
    }
}

/// The code of a local file failure a person can act on, by its kind;
/// `None` for the others.
pub fn io_code(e: &io::Error) -> Option<&'static str> {
    use io::ErrorKind as K;
    Some(match e.kind() {
        K::NotFound => "file_not_found",
        K::PermissionDenied | K::ReadOnlyFilesystem => "permission_denied",
        K::IsADirectory => "is_a_directory",
        K::NotADirectory => "not_a_directory",
        K::AlreadyExists => "file_exists",
        K::StorageFull | K::QuotaExceeded => "disk_full",
        K::FileTooLarge => "file_too_large",
        _ => return None,
    })
}

fn connection_code(c: &ConnectionError) -> String {
    match c {
        ConnectionError::Refused(e) => snake_case(&format!("{:?}", e.reason)),
        ConnectionError::Connect { .. } => "unreachable".into(),
        ConnectionError::Closed(_) | ConnectionError::Lost(_) => "connection_closed".into(),
        ConnectionError::Timeout(_) => "timeout".into(),
        ConnectionError::NotSealpost { .. } => "not_sealpost".into(),
        ConnectionError::Unproven { .. } => "unproven_server".into(),
        ConnectionError::NoServer => "no_server".into(),
        _ => "protocol".into(),
    }
}

/// `NameTaken` -> `name_taken`.
fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoomRefusal;

    fn code(e: ClientError) -> String {
        error_code(&anyhow::Error::new(e))
    }

    fn file(kind: io::ErrorKind) -> ClientError {
        ClientError::File {
            path: "/no/such/dir/x".into(),
            source: io::Error::from(kind),
        }
    }

    #[test]
    fn a_local_file_failure_says_which() {
        use io::ErrorKind as K;
        assert_eq!(code(file(K::NotFound)), "file_not_found");
        assert_eq!(code(file(K::PermissionDenied)), "permission_denied");
        assert_eq!(code(file(K::IsADirectory)), "is_a_directory");
        assert_eq!(code(file(K::AlreadyExists)), "file_exists");
        assert_eq!(code(file(K::StorageFull)), "disk_full");
        assert_eq!(code(file(K::Interrupted)), "file");
        // Read twice (hash, then encrypt) and different the second time.
        let changed = ClientError::Crypto(crate::crypto::CryptoError::FileChanged);
        assert_eq!(code(changed), "file_changed");
        // A folder given as a file, whatever the kind the read failed with.
        let dir = tempfile::tempdir().unwrap();
        let folder = ClientError::File {
            path: dir.path().display().to_string(),
            source: io::Error::other("read failed"),
        };
        assert_eq!(code(folder), "is_a_directory");
        assert_eq!(
            code(ClientError::Io(io::Error::from(K::StorageFull))),
            "disk_full"
        );
        assert_eq!(code(ClientError::Io(io::Error::other("x"))), "io_error");
        // Not wrapped in the client's error (a flag's file, say).
        let bare = anyhow::Error::new(io::Error::from(K::NotFound)).context("reading the file");
        assert_eq!(error_code(&bare), "file_not_found");
    }

    #[test]
    fn a_key_store_failure_says_what_is_wrong_with_the_home() {
        let store = |e: KeyStoreError| code(ClientError::Store(e));
        let sqlite = |c: i32| {
            KeyStoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(c),
                None,
            ))
        };
        assert_eq!(store(sqlite(rusqlite::ffi::SQLITE_BUSY)), "home_in_use");
        assert_eq!(store(sqlite(rusqlite::ffi::SQLITE_NOTADB)), "home_corrupt");
        assert_eq!(store(sqlite(rusqlite::ffi::SQLITE_FULL)), "disk_full");
        assert_eq!(store(KeyStoreError::Corrupt("x")), "home_corrupt");
        assert_eq!(store(KeyStoreError::BadMeInfo("x")), "home_corrupt");
        assert_eq!(
            store(KeyStoreError::SchemaTooNew { found: 9, known: 1 }),
            "home_too_new"
        );
        assert_eq!(store(KeyStoreError::IdentityMismatch), "identity_mismatch");
        assert_eq!(store(KeyStoreError::IdentityExists), "already_registered");
        assert_eq!(store(KeyStoreError::NoPassphraseHome), "unencrypted_home");
        assert_eq!(
            store(KeyStoreError::Io(io::Error::from(
                io::ErrorKind::PermissionDenied
            ))),
            "permission_denied"
        );
        // Codes scripts already rely on stay as they were.
        assert_eq!(store(KeyStoreError::WrongPassphrase), "wrong_passphrase");
        assert_eq!(
            store(KeyStoreError::WrongBackupPassphrase),
            "wrong_passphrase"
        );
        assert_eq!(store(KeyStoreError::PassphraseNeeded), "passphrase_needed");
        assert_eq!(
            store(KeyStoreError::PassphraseTooShort { min: 8 }),
            "passphrase_too_short"
        );
    }

    #[test]
    fn room_refusals_and_others_have_their_own_codes() {
        assert_eq!(
            code(ClientError::room(RoomRefusal::NotAdmin, "x")),
            "not_admin"
        );
        assert_eq!(
            code(ClientError::room(RoomRefusal::Unchanged, "x")),
            "unchanged"
        );
        assert_eq!(code(ClientError::SendToSelf("me".into())), "is_you");
        assert_eq!(code(ClientError::NoHeldFile(3, None)), "no_such_offer");
        assert_eq!(
            code(ClientError::Room(sealpost_rooms::RoomsError::NotMember)),
            "not_in_room"
        );
        assert_eq!(error_code(&anyhow::anyhow!("something")), "error");
    }

    #[test]
    fn the_command_line_s_server_has_codes_of_its_own() {
        let home = tempfile::tempdir().unwrap();
        let none = crate::config::server_address(None, home.path()).unwrap_err();
        assert_eq!(error_code(&none), "no_server");
        let bad = crate::config::server_address(Some("nohost"), home.path()).unwrap_err();
        assert_eq!(error_code(&bad), "bad_address");
    }
}

//! The client library's error: what went wrong, in terms a person can act
//! on, for every operation of [`crate::Client`].
//!
//! A leaf of its own so that every part of the client can return it
//! without importing the client itself; with it is the one value an error
//! carries that is more than a message, [`NameConflict`] (the server's
//! name-to-id mapping disagrees with a pinned contact; see
//! [`crate::contacts`] for why that stops sending). Left out: how errors
//! are worded for the menu and the scripted commands (`repl::explain`).

use protocol::{ClientId, ErrorReason};
use thiserror::Error;

use crate::connection::ConnectionError;
use crate::crypto::CryptoError;
use crate::keystore::KeyStoreError;

#[path = "error_room.rs"]
mod room;
pub use room::{RoomRefusal, RoomUserAction};

/// What went wrong, in terms a person can act on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No identity in the home folder yet.
    #[error("no user is registered in {0}; run `client register NAME` first")]
    NotRegistered(String),
    /// The home folder already has an identity.
    #[error(
        "{home} already holds the identity of {name}; use another --home to register someone else"
    )]
    AlreadyRegistered {
        /// The home folder.
        home: String,
        /// Who is registered there.
        name: String,
    },
    /// The server's key is not the pinned one.
    #[error(
        "DANGER: the server at {server} presented a different identity key than the one pinned on first contact.\n\
         pinned:    {pinned}\n\
         presented: {presented}\n\
         Someone may be impersonating the server, or its operator replaced its key (or gave this node of it \
         another key). Ask the operator \
         to run `server fingerprint`; only if it prints the presented digits, run again with --accept-server-key."
    )]
    ServerKeyChanged {
        /// The address that presented it: the server's, or with several
        /// nodes the node's.
        server: String,
        /// Fingerprint of the pinned key.
        pinned: String,
        /// Fingerprint of the presented key.
        presented: String,
    },
    /// A peer's key changed and the user has not accepted it.
    #[error(
        "{name}'s key changed since it was pinned: nothing is sent to {name} until you compare safety \
         numbers (`client fingerprint {typed}`) and accept the new key (`--accept-new-key`, or `accept {typed}` in the menu)",
        typed = crate::advice::quote_word(.name)
    )]
    PeerKeyChanged {
        /// The peer's name.
        name: String,
    },
    /// Marking a contact's safety number as compared while a changed key of
    /// theirs waits: the number shown is the new key's, which is not
    /// pinned yet, so the mark would land on the old one.
    #[error(
        "{name}'s key changed and the safety number shown is the new key's: nothing was marked. \
         Compare it, accept the new key (`client accept {typed}`), then mark it as compared",
        typed = crate::advice::quote_word(.name)
    )]
    VerifyChangedKey {
        /// The peer's name.
        name: String,
    },
    /// The server's name-to-id mapping disagrees with a pinned contact:
    /// nothing is sent by that name until the user settles it.
    #[error("{0}")]
    NameConflict(Box<NameConflict>),
    /// A file given to `import` that is no backup, or a cut or damaged one:
    /// the file's fault, not the home's.
    #[error("{path} {fault}")]
    BadBackup {
        /// The file, escaped for printing.
        path: String,
        /// What is wrong with it.
        fault: crate::backup_fault::BackupFault,
    },
    /// `accept NAME` with nothing to take: the contact's key is the pinned
    /// one and the server maps the name as pinned. Named as typed, so that
    /// the user sees whom the answer is about.
    #[error("{0}'s key has not changed: nothing to accept")]
    NothingToAccept(String),
    /// The recipient is the user itself: there is no note to self, since a
    /// session needs two parties (the two directions' keys would be one
    /// session seen from both sides in one store).
    #[error(
        "{0} is you: sending to yourself is not supported (there is no note to self) and your own key is not pinned (`fingerprint` shows it)"
    )]
    SendToSelf(String),
    /// No client has this name.
    #[error("no user named {0:?} on this server")]
    UnknownPeer(String),
    /// A room command (`room add`, `ban`, `unban`) about a user the server
    /// does not know, naming the room by its own name (escape before
    /// printing).
    #[error("{}: no user named {who:?} on this server", action.cannot(who, room))]
    UnknownPeerInRoom {
        /// The name given.
        who: String,
        /// The room's name.
        room: String,
        /// Which command.
        action: RoomUserAction,
    },
    /// No conversation goes by this name: nobody is pinned under it here.
    /// `room` is the name of a room of ours (or with history here) that
    /// the user may have meant, typed without its `#`.
    #[error("no conversation with {who:?}: nobody of that name is pinned here")]
    NoConversation {
        /// What the user typed.
        who: String,
        /// A room of that name.
        room: Option<String>,
    },
    /// The peer's key is not a version-3 key bundle.
    #[error("{0} has no valid end-to-end key (perhaps a version-2 client); cannot send to them")]
    NoValidKey(String),
    /// A text too long for one message.
    #[error("the text is {len} bytes; at most {max} fit one message (send it as a file)")]
    TextTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text to send is empty.
    #[error("the text is empty")]
    EmptyText,
    /// The local file cannot be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The user cancelled a transfer.
    #[error("cancelled")]
    Cancelled,
    /// An upload recorded here stopped on a lost connection or the
    /// server's storage: kept for `resume`, which continues it where it
    /// stopped (sending the file again would send it twice).
    #[error("{0}; the upload is kept: `resume` continues it where it stopped")]
    UploadKept(Box<ClientError>),
    /// No file offer with this id waits: what history has of it, if any.
    #[error("no file offer {0} waits for a decision (`client files` lists them)")]
    NoHeldFile(u64, Option<Box<crate::downloads::Decided>>),
    /// The server refused or could not be reached.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The local key store failed.
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    /// Cryptography refused (a bug or a corrupt store: messages from others
    /// are reported as events, not errors).
    #[error("cryptography: {0}")]
    Crypto(#[from] CryptoError),
    /// Local file system.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The rooms engine refused or failed (see `repl::explain` for the
    /// words a person sees).
    #[error("rooms: {0}")]
    Room(#[from] sealpost_rooms::RoomsError),
    /// No room of this name here (escape before printing).
    #[error("no room named {0:?} here")]
    NoSuchRoom(String),
    /// A room this home has history with and is no longer in: we left it,
    /// were removed, or it was deleted (escape before printing).
    #[error("you are no longer a member of #{room}; its history stays here")]
    NoLongerInRoom {
        /// Its name as the history last knew it.
        room: String,
        /// Its id, 32 hex digits.
        id: String,
    },
    /// A room of ours that the server no longer has us in: deleted, we
    /// were removed while this client was away, or the server was restored
    /// from a backup made before we joined (escape before printing).
    #[error(
        "the server no longer has you in #{0}: it was deleted, you were removed while away, or the \
         server was restored from a backup made before you joined"
    )]
    RoomGone(String),
    /// A member removed or banned us from the room of this name: this
    /// client read the commit that did it (escape before printing).
    #[error("{}", departed(room, by, *at_ms, *banned))]
    RemovedFromRoom {
        /// The room's name when we were removed.
        room: String,
        /// Who did it, by the name pinned here.
        by: String,
        /// When (ms since the Unix epoch, the server's word).
        at_ms: u64,
        /// Banned, not only removed.
        banned: bool,
    },
    /// A room this home was in before it was restored from a backup, which
    /// holds no room's keys (escape before printing).
    #[error("{}", crate::rooms::restored::lost_line(room, *rule, admins, *owned, *back))]
    RoomLostInRestore {
        /// Its name when the backup was made.
        room: String,
        /// Its id, 32 hex digits.
        id: String,
        /// Its join rule then.
        rule: sealpost_rooms::JoinRule,
        /// Its owner and admins then, by the names pinned here.
        admins: Vec<String>,
        /// We owned it.
        owned: bool,
        /// What `room join` found of the way back.
        back: Back,
    },
    /// The server has no public or hidden room of this name that we may
    /// join (a ban answers the same); `listed` is a listed room whose name
    /// differs at most in case (escape before printing).
    #[error("no such room: none you may join is named {name:?} (names are exact){}", did_you_mean(name, listed.as_deref()))]
    NoRoomToJoin {
        /// The name asked for.
        name: String,
        /// A listed room of that name in another case.
        listed: Option<String>,
    },
    /// Several rooms of ours go by this name (ignoring ASCII case): each
    /// is named with its id and who runs it, and how to give one by id.
    #[error("{}", ambiguous(name, candidates))]
    AmbiguousRoom {
        /// The name as typed (without its `#`).
        name: String,
        /// The rooms it could mean.
        candidates: Vec<RoomCandidate>,
    },
    /// A join of a room we are in already (escape before printing).
    #[error("you are already a member of #{room} (id {id}){}", no_other(other.as_deref()))]
    AlreadyInRoom {
        /// Its name.
        room: String,
        /// Its id, 32 hex digits.
        id: String,
        /// The name asked for, when no other room we may join has it (the
        /// server has none of that name, and this room of ours has it).
        other: Option<String>,
    },
    /// A room of this name exists here already.
    #[error(
        "you are already in a room named {0:?} (room names here ignore case); choose another name"
    )]
    RoomNameTaken(String),
    /// Another public or hidden room on the server has this name, or one
    /// confusable with it.
    #[error(
        "another public or hidden room on the server is named {0:?} or a name that looks the same (other case, look-alike letters); choose another name (`room join` joins an open room by its exact name, if it lets you)"
    )]
    RoomNameInUse(String),
    /// A room command refused before anything was sent: `why` for
    /// scripts ([`RoomRefusal::code`]), `text` for a person (escape before
    /// printing).
    #[error("{text}")]
    RoomRefused {
        /// Which refusal.
        why: RoomRefusal,
        /// What to tell a person.
        text: String,
    },
    /// A room's password was wrong (one line for a person).
    #[error("{0}")]
    RoomPassword(String),
    /// The room needs a password and none was given.
    #[error("#{0} needs a password")]
    RoomPasswordNeeded(String),
    /// Deleting the account: the name given as the confirmation is not this
    /// home's (escape before printing).
    #[error("{given:?} is not this account's name (this home is {own:?}); nothing was deleted")]
    NameMismatch {
        /// The name given.
        given: String,
        /// This home's account name.
        own: String,
    },
    /// Deleting the account: rooms it is still in and has not asked to
    /// leave, each `#name` or said in words (escape before printing).
    #[error(
        "you are still in {}: leave each (`room leave NAME`; an owner promotes an admin first) or delete those you own (`room delete NAME`), then delete the account; nothing was deleted",
        room_list(.0)
    )]
    StillInRooms(Vec<String>),
    /// The server has no account for this home any more: deleted by its
    /// user (`deleted_at_ms`, recorded here) or removed by the operator.
    #[error("{}", account_gone(name, *deleted_at_ms))]
    AccountGone {
        /// This home's account name.
        name: String,
        /// When this home deleted it (ms since the Unix epoch).
        deleted_at_ms: Option<u64>,
    },
    /// A server whose key is not the pinned one (accepted with
    /// `--accept-server-key`) proved it, then said it has no account for
    /// this home: most likely another server than the one registered with.
    /// Nothing was pinned.
    #[error(
        "the server at {server} presents another key than the one pinned, and has no account {name:?}: \
         it is most likely not the server this home registered with; nothing was changed here (the \
         pinned key stays). Check the address (--server, server.info in the home folder)"
    )]
    OtherServer {
        /// The address that answered.
        server: String,
        /// This home's account name.
        name: String,
    },
    /// A user has no key package on the server to be added with.
    #[error(
        "{0} cannot be added now: their client has not published room keys on the server yet (it does on its next connection)"
    )]
    NoKeyPackage(String),
}

impl ClientError {
    /// The server's reason, if the server refused.
    pub fn reason(&self) -> Option<ErrorReason> {
        match self {
            Self::Connection(e) => e.reason(),
            _ => None,
        }
    }

    /// Whether this is about a user the server does not know: its line
    /// suggests the closest known name.
    pub fn is_unknown_peer(&self) -> bool {
        matches!(self, Self::UnknownPeer(_) | Self::UnknownPeerInRoom { .. })
    }

    /// `self`, which stopped an upload recorded here: said to be kept for
    /// `resume` when it is a lost connection or the server's storage
    /// failing (what a later attempt gets past); anything else as it is.
    pub(crate) fn upload_kept(self) -> Self {
        let passing = match &self {
            Self::Connection(e) => {
                e.is_disconnect() || e.reason() == Some(ErrorReason::StorageFailed)
            }
            _ => false,
        };
        if passing {
            Self::UploadKept(Box::new(self))
        } else {
            self
        }
    }

    /// A commit the server refused because it would give an open room
    /// `name` another open room has, said so; anything else as it is.
    pub(crate) fn name_in_use(self, name: &str) -> Self {
        if self.reason() == Some(ErrorReason::RoomExists) {
            Self::RoomNameInUse(name.into())
        } else {
            self
        }
    }
}

/// The server's mapping disagrees with a pinned contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameConflict {
    /// The name the user asked for.
    pub asked: String,
    /// The pinned contact concerned: its id.
    pub pinned_id: ClientId,
    /// The name it is pinned under (empty: none).
    pub pinned_name: String,
    /// The id the server now gives `asked` (`None`: nobody has that name).
    pub server_id: Option<ClientId>,
    /// What the server now calls `pinned_id` (`None`: the server does not
    /// know that id any more).
    pub server_name: Option<String>,
}

impl NameConflict {
    /// Both sides in one sentence, without advice (callers add their own
    /// commands). Names are not escaped: escape before printing.
    pub fn describe(&self) -> String {
        let pinned = describe_contact(&self.pinned_name, self.pinned_id);
        let asked = &self.asked;
        let now_called = match &self.server_name {
            Some(n) if n.eq_ignore_ascii_case(&self.pinned_name) => {
                format!("still calls {} \"{n}\"", self.pinned_id)
            }
            Some(n) => format!("now calls {} \"{n}\"", self.pinned_id),
            None => format!("no longer knows {}", self.pinned_id),
        };
        match self.server_id {
            Some(id) if id == self.pinned_id => format!(
                "WARNING: the server gives the name \"{asked}\" to {id}, whom you pinned as {pinned}"
            ),
            Some(id) => format!(
                "WARNING: you pinned \"{asked}\" as {pinned}, but the server now gives the name \"{asked}\" \
                 to another client, {id}, and {now_called}"
            ),
            // Deleted (or lost by the server): nothing the server could
            // mislead us into, so no warning.
            None if self.is_gone() => format!(
                "you pinned \"{asked}\" as {pinned}, but the server has nobody named \"{asked}\" \
                 and {now_called}"
            ),
            None => format!(
                "WARNING: you pinned \"{asked}\" as {pinned}, but the server now has nobody named \"{asked}\" \
                 and {now_called}"
            ),
        }
    }
}

fn describe_contact(name: &str, id: ClientId) -> String {
    if name.is_empty() {
        format!("client {id} (no local name)")
    } else {
        format!("\"{name}\" ({id})")
    }
}

impl NameConflict {
    /// The pinned account is gone and nobody else has its name: deleted,
    /// not taken over.
    pub fn is_gone(&self) -> bool {
        self.server_id.is_none() && self.server_name.is_none()
    }

    /// [`NameConflict::describe`] with what to do; `accept` is the command
    /// that takes the server's mapping, as the reader types it.
    pub fn advise(&self, accept: &str) -> String {
        if self.server_name.is_none() {
            // The pinned account is gone: its id reaches no one.
            let next = match self.server_id {
                Some(id) => format!(
                    "if {id} is really {}'s new account, take it with {accept} (it is then \
                     unverified) and compare safety numbers with them",
                    self.asked
                ),
                None => format!("nothing can be sent to \"{}\" now", self.asked),
            };
            return format!(
                "{}: the account you pinned is gone from this server; {next}",
                self.describe()
            );
        }
        format!(
            "{}. Nothing is sent to \"{}\" until you settle it: address the contact you pinned by its id \
             ({}), or take the server's new mapping with {accept} (it is then unverified)",
            self.describe(),
            self.asked,
            self.pinned_id,
        )
    }
}

impl std::fmt::Display for NameConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let accept = format!("`client accept {}`", crate::advice::quote_word(&self.asked));
        f.write_str(&self.advise(&accept))
    }
}

fn room_list(rooms: &[String]) -> String {
    let plural = if rooms.len() == 1 { "" } else { "s" };
    format!("{} room{plural} ({})", rooms.len(), rooms.join(", "))
}

fn account_gone(name: &str, deleted_at_ms: Option<u64>) -> String {
    let why = match deleted_at_ms {
        Some(at) => format!(
            "you deleted the account {name:?} from this home on {}",
            crate::local_time::time(at)
        ),
        None => format!(
            "the server has no account {name:?} any more: it was deleted from another home, or the \
             server's operator removed it"
        ),
    };
    format!(
        "{why}; this home's history stays readable (`client history`, `client conversations`), \
         but it cannot connect again: register in a new home folder to start over"
    )
}

/// One room an ambiguous name could mean, as [`ClientError::AmbiguousRoom`]
/// names it (escape before printing).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomCandidate {
    /// Its id, 32 hex digits: `'#ID'` names it in every room command.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its owner, by pinned name ("you" for us); `None` once the owner left.
    pub owner: Option<String>,
    /// Its admins, by pinned name, when it has no owner.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
}

impl RoomCandidate {
    /// Who runs it: `owner alice`, `admins bob, carol`, or none of them.
    pub fn who(&self) -> String {
        match (&self.owner, self.admins.as_slice()) {
            (Some(owner), _) => format!("owner {owner}"),
            (None, []) => "no owner or admin".to_string(),
            (None, admins) => format!("admins {}", admins.join(", ")),
        }
    }
}

/// The line of [`ClientError::AmbiguousRoom`]: every room the name could
/// mean, told apart by id and by who runs it, and the `'#ID'` form (quoted:
/// a shell takes an unquoted `#` for a comment).
fn ambiguous(name: &str, candidates: &[RoomCandidate]) -> String {
    let each: Vec<String> = candidates
        .iter()
        .map(|c| format!("#{} ({}, id {})", c.name, c.who(), c.id))
        .collect();
    let example = candidates
        .first()
        .map_or_else(String::new, |c| format!(", e.g. '#{}'", c.id));
    format!(
        "you are in {} rooms named {name:?}: {}; name the one you mean by its id as '#ID'{example}",
        candidates.len(),
        each.join("; ")
    )
}

/// The line of [`ClientError::RemovedFromRoom`].
fn departed(room: &str, by: &str, at_ms: u64, banned: bool) -> String {
    let at = crate::local_time::time(at_ms);
    if banned {
        format!("{by} banned you from #{room} on {at}; you may not join it again unless unbanned")
    } else {
        format!(
            "{by} removed you from #{room} on {at}; you receive nothing more of it unless you \
             are added again (or join again, if it is open to you)"
        )
    }
}

/// The end of [`ClientError::AlreadyInRoom`] when no other room has the name.
fn no_other(name: Option<&str>) -> String {
    name.map_or_else(String::new, |n| {
        format!(", and no other room you may join is named {n:?}")
    })
}

fn did_you_mean(name: &str, listed: Option<&str>) -> String {
    match listed {
        None => String::new(),
        // Listed under that very name, yet refused: what a ban looks like.
        Some(n) if n == name => {
            format!("; #{n} is listed, but not for you: its admins may have banned you")
        }
        Some(n) => format!("; did you mean #{n}?"),
    }
}

/// What `room join` found of the way back into a restored room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Back {
    /// The room lists us, as far as we know: `room join` takes our old
    /// place again (a resync), whatever the room's rule.
    #[default]
    Join,
    /// The room no longer lists us: a member removed us after the backup
    /// was made.
    NotListed,
    /// The room lists us with a leaf key the backup did not keep (one made
    /// before backups kept it): a join cannot take that place.
    KeyLost,
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;

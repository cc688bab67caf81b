//! What the client reports about the messages it receives: an [`Event`]
//! per message handled (or kept), saying [`What`] it turned out to be, why a
//! message was refused ([`Rejection`]), and how much waits on the server
//! ([`Waiting`]).
//!
//! Plain values, serialisable for `--json` (and read back from it, for a
//! notice kept until it can be shown), in a leaf of their own so that
//! the receiving code ([`crate::inbox`], the held file offers, refusal
//! notices) and the front ends that show them need not import each other.
//! Left out: how they are shown (`crate::output`).

use std::path::PathBuf;

use protocol::ClientId;
use protocol::v3::Delivery;
use serde::{Deserialize, Serialize};

use crate::crypto::RefusalReason;
use crate::keystore::{Conversation, PeerRecord};
use crate::peer_info::hex_id;
pub use crate::rooms::event::{RoomChange, RoomEvent};

/// Something that happened to a delivered message, or (a presence push)
/// to a user. Its JSON is a message's fields and [`What`]'s, except a
/// presence event's: `{"event": "presence", "id", "name", "pinned_name",
/// "online", "at_ms"}`, as `online` lists users (no message id or sender).
#[derive(Debug, Clone)]
pub struct Event {
    /// The server's message id.
    pub message_id: u64,
    /// The sender's client id.
    pub from: ClientId,
    /// The name the sender is pinned under, if it has one (escape before
    /// printing). Never the server's word alone: see [`crate::contacts`].
    pub from_name: Option<String>,
    /// Whether the sender is this home's own user (a commit of ours in a
    /// room): `from_name` is then our own name, and a person reads "you".
    pub from_you: bool,
    /// The server's current name for the sender, only when it differs from
    /// `from_name` (a remark; escape before printing).
    pub server_name: Option<String>,
    /// When the server stored it (ms since the Unix epoch): the server's
    /// word, not authenticated.
    pub sent_at_ms: u64,
    /// When the sender sealed it by the sender's clock (ms since the Unix
    /// epoch), authenticated end to end; for texts, files and refusals.
    pub sender_time_ms: Option<u64>,
    /// What it was.
    pub what: What,
}

/// An [`Event`] about a message, as `--json` shows it.
#[derive(Serialize)]
struct MessageJson<'a> {
    message_id: u64,
    #[serde(serialize_with = "hex_id")]
    from: ClientId,
    from_name: Option<&'a str>,
    from_you: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_name: Option<&'a str>,
    sent_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_time_ms: Option<u64>,
    #[serde(flatten)]
    what: &'a What,
}

/// A presence [`Event`] as `--json` shows it: a user, not a message.
#[derive(Serialize)]
struct PresenceJson<'a> {
    event: &'static str,
    #[serde(serialize_with = "hex_id")]
    id: ClientId,
    /// The server's name for them.
    name: &'a str,
    /// The name they are pinned under here, if they are a contact.
    pinned_name: Option<&'a str>,
    online: bool,
    /// When this client heard of it (ms since the Unix epoch).
    at_ms: u64,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.what {
            What::Presence { online, name } => PresenceJson {
                event: "presence",
                id: self.from,
                name,
                pinned_name: self.from_name.as_deref(),
                online: *online,
                at_ms: self.sent_at_ms,
            }
            .serialize(s),
            what => MessageJson {
                message_id: self.message_id,
                from: self.from,
                from_name: self.from_name.as_deref(),
                from_you: self.from_you,
                server_name: self.server_name.as_deref(),
                sent_at_ms: self.sent_at_ms,
                sender_time_ms: self.sender_time_ms,
                what,
            }
            .serialize(s),
        }
    }
}

/// The fields of an [`Event`] about a message besides [`What`], read
/// back from its `--json` (a presence event is never kept, so it is not
/// read back).
#[derive(Deserialize)]
struct MessageFields {
    message_id: u64,
    #[serde(deserialize_with = "crate::peer_info::hex_id_from")]
    from: ClientId,
    from_name: Option<String>,
    #[serde(default)]
    from_you: bool,
    server_name: Option<String>,
    sent_at_ms: u64,
    sender_time_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        // Through an owned value: `What` keeps its kind words static.
        let json = serde_json::Value::deserialize(d)?;
        let what = What::deserialize(json.clone()).map_err(D::Error::custom)?;
        let m: MessageFields = serde_json::from_value(json).map_err(D::Error::custom)?;
        Ok(Event {
            message_id: m.message_id,
            from: m.from,
            from_name: m.from_name,
            from_you: m.from_you,
            server_name: m.server_name,
            sent_at_ms: m.sent_at_ms,
            sender_time_ms: m.sender_time_ms,
            what,
        })
    }
}

/// Reads a `kind` word back (`text`, `file`): the enum keeps it static.
fn kind_word<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    match String::deserialize(d)?.as_str() {
        "text" => Ok("text"),
        "file" => Ok("file"),
        _ => Err(serde::de::Error::custom("a kind other than text or file")),
    }
}

impl Event {
    /// The conversation it belongs to: its room, else its sender (`None`:
    /// no conversation, such as a refused room invitation).
    pub fn conversation(&self) -> Option<Conversation> {
        match &self.what {
            What::Room { room, .. } if room.is_empty() => None,
            // A join or a room that was not made: no conversation holds
            // the room.
            What::Room {
                change: RoomChange::JoinCutShort | RoomChange::CreateCutShort,
                ..
            } => None,
            What::Room { room, room_id, .. } => {
                Some(crate::rooms::event::room_conversation(room_id, room))
            }
            _ => Some(Conversation::Person { id: self.from }),
        }
    }

    /// Whether it tells of a file offer held for the user's decision (one
    /// to us, or a room file the server holds for us).
    pub fn is_held_offer(&self) -> bool {
        matches!(
            &self.what,
            What::FileHeld { .. }
                | What::Room {
                    change: RoomChange::FileHeld { .. },
                    ..
                }
        )
    }

    /// Whether it is a message a person wrote (a text or a file, from a
    /// person or in a room): what history counts as unread until shown.
    pub fn is_message(&self) -> bool {
        matches!(
            &self.what,
            What::Text { .. }
                | What::File { .. }
                | What::Room {
                    change: RoomChange::Text { .. }
                        | RoomChange::File { .. }
                        | RoomChange::FileHeld { .. },
                    ..
                }
        )
    }
}

/// What a delivered message turned out to be.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum What {
    /// A text, authentic and fresh.
    Text {
        /// The text (escape before printing).
        text: String,
    },
    /// A file, authentic and complete, saved in the downloads folder.
    File {
        /// The name the sender gave it (escape before printing).
        name: String,
        /// Where it was saved.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// The sender started a session with us (we answered).
    SessionStarted,
    /// The peer answered our offer: the session is confirmed.
    SessionConfirmed,
    /// It arrived before its session's key; it is kept and will be opened
    /// when the key arrives.
    Waiting {
        /// `text` or `file`.
        #[serde(deserialize_with = "kind_word")]
        kind: &'static str,
    },
    /// A text or file sealed in a session this home does not have
    /// (restored from a backup, or a copy whose twin made the session): the
    /// sender was asked to start a new session and send it again (a
    /// refusal, "no such session"). A text is also kept here (it opens if
    /// the session's offer still comes); a file is left to the new copy.
    SessionLost {
        /// `text` or `file`.
        #[serde(deserialize_with = "kind_word")]
        kind: &'static str,
    },
    /// The sender's key changed; its messages wait until the user accepts
    /// the new key.
    KeyChanged,
    /// A sender new to this home whose name looks like a pinned contact's
    /// (other case, look-alike letters): it was pinned without a name, and
    /// is shown by its id until the user names it with `accept`.
    LookAlike {
        /// The pinned contact its name looks like.
        contact: crate::keystore::LookAlike,
    },
    /// A file offer waits for the user's decision (`accept-file` or
    /// `decline-file` with the message id); the file stays on the server.
    FileHeld {
        /// The name the sender gave it (escape before printing).
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Why it was not downloaded.
        reason: crate::keystore::HoldReason,
        /// The automatic download limit it is over, when that is why.
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u64>,
    },
    /// It arrived before its session's key, but the store already keeps
    /// as many such messages as it may (from this sender, or in all): it
    /// stays on the server and is read again once the key arrives.
    Deferred {
        /// `text`.
        #[serde(deserialize_with = "kind_word")]
        kind: &'static str,
    },
    /// It waited for its session's key longer than the store keeps such
    /// messages, and was given up unread.
    Expired {
        /// `text`.
        #[serde(deserialize_with = "kind_word")]
        kind: &'static str,
    },
    /// Refused: never shown as genuine.
    Rejected {
        /// Why, in one word.
        reason: Rejection,
    },
    /// The peer refused our message `refused_id` as a replay (the session
    /// had forked: a copy of this home spent the same counters) or because
    /// it no longer has the session (its home was restored or copied): a
    /// new session was started with the peer (unless the peer started one)
    /// and the text sent again in it.
    SessionRenewed {
        /// The server's id of our refused message.
        refused_id: u64,
        /// The id the text was sent again under (`None`: not a text of ours
        /// in this home's history; only the session was renewed).
        resent: Option<u64>,
        /// The peer no longer had the session (its home was restored or
        /// copied), rather than refusing a replay.
        lost: bool,
    },
    /// The peer's client refused a message we sent (a refusal notice).
    Refused {
        /// The server's id of our refused message.
        refused_id: u64,
        /// The counter it carried (0 if unknown).
        counter: u64,
        /// Why the peer refused it.
        reason: RefusalReason,
    },
    /// The peer declined our file offer `offer_id` (a *declined* receipt):
    /// never downloaded, deleted from the server.
    OfferDeclined {
        /// The server's id of our offer.
        offer_id: u64,
        /// The file's name (escape before printing).
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// Something happened in a room (see [`RoomChange`]).
    Room {
        /// The room's name (escape before printing).
        room: String,
        /// The room's id, 32 hex digits (empty when unknown, such as for
        /// an invitation refused).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        room_id: String,
        /// What.
        #[serde(flatten)]
        change: RoomChange,
    },
    /// Not a message: a user came online or went offline (a presence push;
    /// `message_id` 0, `from` the user, `sent_at_ms` when this client heard
    /// of it; its JSON is its own, see [`Event`]).
    Presence {
        /// Online now, or gone offline.
        online: bool,
        /// The server's name for them (escape before printing).
        name: String,
    },
    /// It could not be handled now (the server refused our answer, the file
    /// could not be saved, the local disk is full): it stays on the server
    /// and comes again next time; the other messages were handled.
    Failed {
        /// What went wrong and what to do, in one line.
        error: String,
    },
    /// The server says the sender's account was deleted before `messages`
    /// of ours to it were delivered (a type-7 notice): history marks them
    /// not delivered. Only the server's word; never a message of the peer.
    NotDelivered {
        /// How many of our stored messages to the sender it named.
        messages: usize,
        /// Who deleted the account, as the server says.
        by: GoneBy,
    },
}

/// Who deleted an account, as a type-7 notice says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoneBy {
    /// Its owner (114).
    Owner,
    /// The server's operator.
    Operator,
    /// A reason this client does not know.
    Unknown,
}

impl GoneBy {
    /// The words after "the account was deleted".
    pub fn words(self) -> &'static str {
        match self {
            Self::Owner => "by its owner",
            Self::Operator => "by the server's operator",
            Self::Unknown => "(for a reason this client does not know)",
        }
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Its counter was already received: a true duplicate.
    Replayed,
    /// Its counter is below the replay window (more than 2048 newer
    /// messages came first): it may be a duplicate, nobody can tell.
    TooOld,
    /// It authenticated, but its content breaks the format.
    Malformed,
    /// It did not authenticate: altered, forged, or not for us.
    Tampered,
    /// It names a session we do not have.
    UnknownSession,
    /// The sender has no valid end-to-end key (a version-2 client).
    NotEncrypted,
    /// The sender is not registered on the server.
    UnknownSender,
}

impl Rejection {
    /// One line for a person.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Replayed => {
                "rejected: a duplicate of a message already received (its counter was used)"
            }
            Self::TooOld => {
                "rejected: too old (it arrived after more than 2048 newer messages from its sender, who is told)"
            }
            Self::Malformed => "rejected: it authenticated but its content is malformed",
            Self::Tampered => {
                "rejected: the message does not authenticate (altered, forged, or not for you)"
            }
            Self::UnknownSession => "rejected: it belongs to a session this client does not have",
            Self::NotEncrypted => "rejected: the sender has no valid end-to-end key",
            Self::UnknownSender => {
                "rejected: the sender is not registered on this server (an account deleted since, or never made), so nothing proves who sent it"
            }
        }
    }
}

/// What waits on the server, as one pull sees it (nothing is removed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Texts and file offers in the first batch not handled here yet
    /// (receipts, refusal notices and key agreement are not counted).
    pub messages: usize,
    /// Whether more wait beyond that batch.
    pub more: bool,
}

/// The name `peer` is pinned under, and the server's name for it when that
/// differs (only a remark: the pinned name is the authority).
pub(crate) fn names_of(peer: Option<&PeerRecord>) -> (Option<String>, Option<String>) {
    let pinned = peer.cloned().and_then(PeerRecord::pinned_name);
    let server = peer
        .and_then(|p| p.server_name.clone())
        .filter(|n| peer.is_none_or(|p| *n != p.name));
    (pinned, server)
}

/// The event of delivery `d` from `peer` (if pinned): `what` happened.
pub(crate) fn event(d: &Delivery, peer: Option<&PeerRecord>, what: What) -> Event {
    let (from_name, server_name) = names_of(peer);
    Event {
        message_id: d.message_id,
        from: d.sender,
        from_name,
        from_you: false,
        server_name,
        sent_at_ms: d.sent_at_ms,
        sender_time_ms: None,
        what,
    }
}

/// An event from the peer `from`, pinned as `name`, stored at `at` (for
/// tests that show one).
#[cfg(test)]
pub(crate) fn test_event(id: u64, from: ClientId, name: &str, at: u64, what: What) -> Event {
    Event {
        message_id: id,
        from,
        from_name: Some(name.into()),
        from_you: false,
        server_name: None,
        sent_at_ms: at,
        sender_time_ms: None,
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presence_event_is_a_user_in_json_and_a_message_keeps_its_fields() {
        let bob = ClientId([7; 16]);
        let came = test_event(
            0,
            bob,
            "bobby",
            1_000,
            What::Presence {
                online: true,
                name: "bob".into(),
            },
        );
        let v = serde_json::to_value(&came).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "event": "presence",
                "id": bob.to_string(),
                "name": "bob",
                "pinned_name": "bobby",
                "online": true,
                "at_ms": 1_000,
            })
        );
        let text = test_event(5, bob, "bobby", 2_000, What::Text { text: "hi".into() });
        let v = serde_json::to_value(&text).unwrap();
        assert_eq!(v["event"], "text");
        assert_eq!(v["message_id"], 5);
        assert_eq!(v["from"], bob.to_string());
        assert_eq!(v["from_name"], "bobby");
        assert_eq!(v["sent_at_ms"], 2_000);
        assert!(v.get("server_name").is_none() && v.get("sender_time_ms").is_none());
    }

    #[test]
    fn every_notice_of_a_message_reads_back_from_its_json_as_it_was() {
        use crate::keystore::{HoldReason, LookAlike};
        use crate::rooms::event::Named;
        let bob = ClientId([7; 16]);
        let whats = [
            What::Text { text: "hi".into() },
            What::File {
                name: "a.pdf".into(),
                path: "/tmp/a.pdf".into(),
                size: u64::MAX,
            },
            What::SessionStarted,
            What::SessionConfirmed,
            What::Waiting { kind: "file" },
            What::SessionLost { kind: "text" },
            What::KeyChanged,
            What::LookAlike {
                contact: LookAlike {
                    name: "Bob".into(),
                    client_id: ClientId([9; 16]),
                },
            },
            What::FileHeld {
                name: "big.bin".into(),
                size: 300_000,
                reason: HoldReason::TooLarge,
                limit: Some(100_000),
            },
            What::Deferred { kind: "text" },
            What::Expired { kind: "text" },
            What::Rejected {
                reason: Rejection::UnknownSender,
            },
            What::SessionRenewed {
                refused_id: 4,
                resent: Some(9),
                lost: true,
            },
            What::Refused {
                refused_id: 4,
                counter: 2,
                reason: RefusalReason::NoSession,
            },
            What::Room {
                room: "team".into(),
                room_id: "07".repeat(16),
                change: RoomChange::Removed {
                    members: vec![Named::other("carol")],
                },
            },
            What::Room {
                room: "team".into(),
                room_id: String::new(),
                change: RoomChange::Text { text: "ok".into() },
            },
            What::Failed {
                error: "the disk is full".into(),
            },
            What::NotDelivered {
                messages: 2,
                by: GoneBy::Owner,
            },
        ];
        for what in whats {
            let mut e = test_event(5, bob, "bobby", 2_000, what);
            e.server_name = Some("robert".into());
            e.sender_time_ms = Some(1_999);
            let json = serde_json::to_string(&e).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(format!("{back:?}"), format!("{e:?}"), "{json}");
        }
        let torn = r#"{"event":"waiting","kind":"song","message_id":1,"from":"00"}"#;
        assert!(serde_json::from_str::<Event>(torn).is_err());
    }
}

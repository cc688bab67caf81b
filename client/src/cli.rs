//! The command line, as clap types only; [`crate::config`] turns it into a
//! [`crate::ClientConfig`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Sealpost client: end-to-end encrypted messages and files over a Sealpost
/// server. Without a command it opens the interactive menu.
#[derive(Debug, Parser)]
#[command(name = "client", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Folder holding this user's identity, key store (encrypted with the
    /// passphrase) and downloads. Default: the working directory, as in the reference
    /// client. Use one folder per user to run several users on one machine.
    #[arg(long, global = true)]
    pub home: Option<PathBuf>,

    /// Server as host:port; the nodes of a cluster comma-separated
    /// (host:port,host:port: the client starts at a random one and moves on
    /// when one is down). Default: server.info (one host:port a line) in the
    /// home folder, or in the working directory.
    #[arg(long, global = true)]
    pub server: Option<String>,

    /// Accept a server identity key that differs from the pinned one. Only
    /// after the server's operator confirmed the new fingerprint.
    #[arg(long, global = true)]
    pub accept_server_key: bool,

    /// Accept a peer's changed key before sending to it. Only after
    /// comparing safety numbers with that person.
    #[arg(long, global = true)]
    pub accept_new_key: bool,

    /// Download every received file, from anyone and of any size, without
    /// asking (scripts). Without it, only files from contacts up to
    /// --max-auto-download download; others wait for `accept-file`.
    #[arg(long, global = true)]
    pub accept_files: bool,

    /// Largest file downloaded from a contact without asking: bytes, or
    /// decimal units as sizes are shown (500kB, 64MB, 1.5GB; MiB and GiB
    /// work too). Larger ones wait for `accept-file`.
    #[arg(long, global = true, value_name = "SIZE", default_value = "64MB",
          value_parser = crate::downloads::parse_size)]
    pub max_auto_download: u64,

    /// Keep this home folder's store NOT encrypted (unattended scripts that
    /// cannot give a passphrase). Recorded in the home; every start then
    /// says so on standard error.
    #[arg(long, global = true, conflicts_with = "passphrase_file")]
    pub no_passphrase: bool,

    /// Read the store's passphrase from the first line of FILE (scripts).
    /// Else the environment variable SEALPOST_PASSPHRASE, else it is asked
    /// on the terminal. Never on the command line.
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Do not show this client as online while the menu or `watch` runs;
    /// it still sees who is online.
    #[arg(long, global = true)]
    pub invisible: bool,

    /// Print machine-readable JSON: every command's result (not the menu's
    /// or tui's screens), and errors as one {"error", "code"} line on
    /// standard error.
    #[arg(long, global = true)]
    pub json: bool,

    /// Log level (error, warn, info, debug) or a tracing filter.
    #[arg(long, default_value = "warn", global = true)]
    pub log_level: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an identity and register NAME on the server.
    Register {
        /// The name others will know you by (1 to 254 bytes).
        name: String,
    },
    /// List the other users on the server.
    List,
    /// Who is online now: users whose menu or `watch` is running, unless
    /// they chose --invisible.
    Online,
    /// Fetch, check and pin NAME's public key; show its fingerprint.
    Key {
        /// A user's name (or client id).
        name: String,
    },
    /// Send an end-to-end encrypted text to NAME. Without TEXT (or with
    /// `-`), the text is read from standard input (without the one line
    /// break that ends it, as `echo` ends its line).
    #[command(name = "send")]
    SendText {
        /// The recipient's name, or client id (32 hex digits).
        #[arg(value_name = "NAME")]
        to: String,
        /// The text.
        text: Option<String>,
    },
    /// Send a file to NAME, encrypted end to end, of any size.
    SendFile {
        /// The recipient's name, or client id (32 hex digits).
        #[arg(value_name = "NAME")]
        to: String,
        /// The file.
        path: PathBuf,
    },
    /// Fetch what is waiting: print texts, save files into the downloads
    /// folder, then remove them from the server.
    Inbox,
    /// Stay connected and print messages as they arrive (Ctrl-C stops).
    Watch,
    /// Without NAME: your fingerprint and the server's. With NAME: the
    /// safety number you share with NAME; compare it with theirs.
    Fingerprint {
        /// A user's name.
        name: Option<String>,
        /// Record that you compared the safety number and it matched.
        #[arg(long, requires = "name")]
        verified: bool,
    },
    /// Accept NAME's changed key (after comparing safety numbers), or the
    /// server's new mapping of the name NAME when it moved to another
    /// client (the new contact starts unverified).
    Accept {
        /// A user's name.
        name: String,
    },
    /// Start a new session with NAME (a key-agreement offer); texts start
    /// one by themselves when needed.
    Session {
        /// A user's name.
        name: String,
    },
    /// Finish uploads that were interrupted.
    Resume,
    /// List the file offers waiting for a decision (from strangers, or
    /// over the automatic download limit).
    Files,
    /// Download a held file offer (its number from `files` or `inbox`).
    AcceptFile {
        /// The offer's message id.
        #[arg(allow_negative_numbers = true, value_parser = crate::downloads::offer_number)]
        id: u64,
    },
    /// Decline a held file offer: the server deletes it.
    DeclineFile {
        /// The offer's message id.
        #[arg(allow_negative_numbers = true, value_parser = crate::downloads::offer_number)]
        id: u64,
    },
    /// Show the history of a conversation, oldest first: texts and files
    /// both ways, each with its time and delivery status.
    History {
        /// A pinned name, a client id (32 hex digits) or #ROOM.
        name: String,
        /// Only the last N entries (1 or more).
        #[arg(long, value_name = "N", allow_negative_numbers = true,
              value_parser = crate::history::parse_limit)]
        limit: Option<usize>,
        /// Only entries since TIME: 30m, 12h, 7d (ago), 2026-11-30,
        /// "2026-11-30 10:15" or RFC 3339.
        #[arg(long, value_name = "TIME", value_parser = crate::history::parse_since)]
        since: Option<i64>,
        /// Only texts and file names containing TEXT (any case).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
    },
    /// List your conversations, most recent first: people and rooms, each
    /// with its last activity and what is unread (from this home's
    /// history; the server is not asked).
    Conversations,
    /// Delete the history of a conversation (keys and pins stay).
    Forget {
        /// A pinned name, a client id or #ROOM.
        name: String,
    },
    /// Show or turn read receipts on or off (on by default): whether
    /// senders are told when their messages were shown to you. Delivery
    /// receipts (your client received them) are always sent.
    Receipts {
        /// on or off. Without it, shows the setting.
        #[arg(value_name = "on|off", value_parser = ["on", "off"])]
        on: Option<String>,
    },
    /// Show or set how long history is kept: a number of days, or
    /// `forever` (the default). Kept in the key store; older entries go
    /// each time the client starts.
    Retention {
        /// Days, or `forever`. Without it, shows the setting.
        #[arg(value_name = "DAYS|forever", allow_negative_numbers = true,
              value_parser = crate::history::parse_retention)]
        days: Option<crate::history::Retention>,
    },
    /// Rooms: end-to-end encrypted groups (create, list, join, send,
    /// send-file, members, leave; for admins add, remove, kick, ban, unban,
    /// promote, demote, set, rename; for the owner delete). `inbox` and
    /// `watch` show what happens in them.
    #[command(subcommand)]
    Room(RoomCommand),
    /// Change the passphrase of this home folder's store (re-keys it).
    Passphrase {
        #[command(subcommand)]
        action: PassphraseAction,
    },
    /// Write an encrypted backup of this home (identity, contacts and their
    /// pins, history) into FILE, locked with the home's passphrase. A home
    /// set up with --no-passphrase is locked with a new one (asked twice on
    /// the terminal, or --new-passphrase-file FILE, or the environment
    /// variable SEALPOST_NEW_PASSPHRASE): import it into a new home to
    /// encrypt that home.
    Export {
        /// The backup file (must not exist).
        file: PathBuf,
        /// For a home without a passphrase: read the backup's passphrase
        /// from the first line of FILE.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Restore a backup written by `export` into this (fresh) home folder;
    /// the passphrase given opens the backup and becomes the home's.
    Import {
        /// The backup file.
        file: PathBuf,
    },
    /// Delete your account on the server, for good: what waits for you
    /// there goes with it and the name becomes free. Leave your rooms first
    /// (or delete those you own). This home keeps its history and keys but
    /// cannot connect again.
    DeleteAccount {
        /// Your own name, typed again as the confirmation.
        name: String,
    },
    /// The full-screen terminal client: conversations (people and rooms)
    /// with unread counts, their history, sending texts and files, live
    /// messages. F1 lists its keys and commands.
    Tui {
        /// Ring the terminal bell when a message arrives in a conversation
        /// that is not on screen (`/bell on|off` changes it).
        #[arg(long)]
        bell: bool,
    },
    /// Run the self-test against the server: fresh users, every flow.
    Test,
    /// Write the man pages and shell completions of this command line into
    /// DIR (for the Debian package: deploy/build-deb).
    #[command(hide = true)]
    GenerateAssets {
        /// Output folder (man/ and completions/ are made in it).
        dir: PathBuf,
    },
}

impl Command {
    /// Whether it talks to the server. The others read and write this home
    /// only, and run without a server address (`--server`, `server.info`).
    pub fn needs_server(&self) -> bool {
        !matches!(
            self,
            Command::History { .. }
                | Command::Conversations
                | Command::Forget { .. }
                | Command::Receipts { .. }
                | Command::Retention { .. }
                | Command::Files
                | Command::Fingerprint { name: None, .. }
                | Command::Export { .. }
                | Command::Import { .. }
                | Command::Passphrase { .. }
        )
    }
}

/// `client room ...`: rooms by name (or id, 32 hex digits), users by name
/// as for one-to-one messages.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum RoomCommand {
    /// Create a room named NAME, with you as its owner. Without a flag it is
    /// invite-only (admins add members).
    Create {
        /// The room's name (1 to 64 bytes).
        name: String,
        /// Listed by the server; anyone registered may join.
        #[arg(long, conflicts_with = "hidden")]
        public: bool,
        /// Not listed; anyone who types its exact name may join.
        #[arg(long)]
        hidden: bool,
        /// Joining needs a password (listed with a lock, or with --hidden
        /// not listed). It is asked for without echo, or read from the
        /// first line of standard input; never give it as an argument.
        #[arg(long)]
        password: bool,
        /// The password itself, read from the terminal or standard input.
        #[arg(skip)]
        secret: Option<crate::rooms::RoomPassword>,
    },
    /// List the public rooms (with members and how many are online) and
    /// your rooms.
    List,
    /// Join the open room named exactly NAME (a password room asks for its
    /// password, or reads it from standard input); a room of yours this
    /// client can no longer follow (`room_left_behind`) is joined again in
    /// your own place, whatever its rule.
    Join {
        /// The room's exact name.
        name: String,
        /// The password itself, read from the terminal or standard input.
        #[arg(skip)]
        secret: Option<crate::rooms::RoomPassword>,
    },
    /// Send a text to room NAME, encrypted once for every member. Without
    /// TEXT (or with `-`), the text is read from standard input (without
    /// the one line break that ends it, as `echo` ends its line).
    Send {
        /// The room.
        name: String,
        /// The text.
        text: Option<String>,
    },
    /// Send the file at PATH to room NAME: encrypted once, uploaded once
    /// (resumed if the connection drops), announced to every member.
    SendFile {
        /// The room.
        name: String,
        /// The file.
        path: std::path::PathBuf,
    },
    /// List the members of room NAME with their roles.
    Members {
        /// The room.
        name: String,
    },
    /// Add users to room NAME (admins and the owner).
    Add {
        /// The room.
        name: String,
        /// The users to add.
        #[arg(required = true, value_name = "USER")]
        users: Vec<String>,
    },
    /// Remove USER from room NAME (admins and the owner).
    Remove {
        /// The room.
        name: String,
        /// The member to remove.
        user: String,
    },
    /// Remove USER from room NAME (admins and the owner); they may join an open room again.
    Kick {
        /// The room.
        name: String,
        /// The member to remove.
        user: String,
    },
    /// Ban USER from room NAME, removing them if they are in it; a banned
    /// user cannot join or be added (admins and the owner).
    Ban {
        /// The room.
        name: String,
        /// The user to ban.
        user: String,
    },
    /// Lift the ban of USER in room NAME (admins and the owner).
    Unban {
        /// The room.
        name: String,
        /// The user whose ban ends.
        user: String,
    },
    /// Make USER an admin of room NAME (admins and the owner).
    Promote {
        /// The room.
        name: String,
        /// The member to promote.
        user: String,
    },
    /// Make admin USER a plain member of room NAME (admins and the owner).
    Demote {
        /// The room.
        name: String,
        /// The admin to demote.
        user: String,
    },
    /// Change who may join room NAME (admins and the owner).
    Set {
        /// The room.
        name: String,
        /// The new rule.
        #[command(flatten)]
        rule: RuleFlags,
        /// The new password (with --password), read from the terminal or
        /// standard input.
        #[arg(skip)]
        secret: Option<crate::rooms::RoomPassword>,
    },
    /// Rename room NAME to NEW (admins and the owner).
    Rename {
        /// The room.
        name: String,
        /// Its new name (1 to 64 bytes).
        new: String,
    },
    /// Leave room NAME (another member's client completes it).
    Leave {
        /// The room.
        name: String,
    },
    /// Delete room NAME for every member, with what they have not yet read
    /// in it (its owner; an admin once the owner left; its only member).
    /// There is no undo.
    Delete {
        /// The room.
        name: String,
    },
}

/// The join rule `room set` gives: one of `--public`, `--hidden`,
/// `--invite`, `--password`, or `--hidden --password`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::Args)]
#[group(required = true, multiple = true)]
pub struct RuleFlags {
    /// Listed by the server; anyone registered may join.
    #[arg(long, conflicts_with_all = ["hidden", "invite"])]
    pub public: bool,
    /// Not listed; anyone who types its exact name may join.
    #[arg(long, conflicts_with = "invite")]
    pub hidden: bool,
    /// Only admins add members.
    #[arg(long, conflicts_with = "password")]
    pub invite: bool,
    /// Joining needs a (new) password: not listed with --hidden or when the
    /// room is hidden now, else listed with a lock (with --public, a hidden
    /// room too). Asked for without echo, or read from standard input;
    /// setting it again replaces the old one, which stops working.
    #[arg(long)]
    pub password: bool,
}

/// What `passphrase` does.
#[derive(Debug, Subcommand)]
pub enum PassphraseAction {
    /// Re-key the store with a new passphrase: asked twice on the terminal,
    /// or the first line of --new-passphrase-file FILE, or the environment
    /// variable SEALPOST_NEW_PASSPHRASE.
    Change {
        /// Read the new passphrase from the first line of FILE.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_room_summary_names_every_room_command() {
        let cli = Cli::command();
        let room = cli.find_subcommand("room").expect("a room command");
        let about = room.get_about().expect("an about line").to_string();
        let named: Vec<String> = about
            .split(['(', ')', ',', ';'])
            .flat_map(|part| part.split_whitespace().last())
            .map(str::to_string)
            .collect();
        for sub in room.get_subcommands() {
            assert!(
                named.iter().any(|n| n == sub.get_name()),
                "`room {}` is missing from {about:?}",
                sub.get_name()
            );
        }
    }
}

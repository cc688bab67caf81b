//! Carrying out what the user typed, on a task of its own so the screen
//! stays live: a text to the open conversation (a person or a room, by the
//! library's send and room send), and the `/` commands that need the
//! client. Each ends in [`Outcome`]s sent to the screen's loop: reload,
//! open a conversation, or a notice in words a person acts on (the menu's
//! error wording, `crate::repl::explain`, escaped).
//!
//! Left out: parsing (`super::command`) and the commands that only change
//! the screen (help, bell, history length, quit, cancel: `super`).

use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::app::SecretFor;
use super::command::{Command, Rule};
use super::done::{Done, Failure};
use super::lines::Tone;
use crate::advice::quote_word;
use crate::cli::{RoomCommand, RuleFlags};
use crate::client::{Client, ClientError};
use crate::conversations::ConversationSummary;
use crate::display::{escape_line, escape_path};
use crate::keystore::Conversation;
use crate::output;
use crate::repl::explain;
use crate::room_cli;
use crate::rooms::RoomPassword;
use crate::rooms::event::room_conversation;

/// What the screen must do after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Reload the list and the open conversation.
    Refresh,
    /// Open this conversation (reloading the list first).
    Open(Conversation),
    /// Ask for a room's password (hidden) for this.
    /// Ask for a password for this, saying why first (a wrong one).
    AskPassword(SecretFor, Option<String>),
    /// The job of this number ended.
    Ended(u64),
    /// A text that could not be sent: it goes back into the box, so that
    /// nothing typed is lost (Enter sends it again).
    Unsent(String),
    /// Show these lines (escaped) in `conversation`'s pane (or the status
    /// line).
    Notice {
        /// Where.
        conversation: Option<Conversation>,
        /// What.
        lines: Vec<String>,
        /// How.
        tone: Tone,
    },
}

/// What to do.
#[derive(Debug, Clone)]
pub enum Job {
    /// Send a text to the open conversation.
    Text(String),
    /// Run a command.
    Command(Command),
    /// A room password typed for this.
    Password(SecretFor, RoomPassword),
}

/// Runs `job` for the open conversation `target`, sending what came of it
/// to `screen`. `typed` is the line the user typed for it, which goes back
/// into the box if the job fails (`None` for a password, which never
/// does). `cancel` stops an upload.
pub async fn run(
    client: Client,
    target: Option<ConversationSummary>,
    (job, typed): (Job, Option<String>),
    cancel: CancellationToken,
    screen: mpsc::UnboundedSender<Outcome>,
) {
    let place = target.as_ref().map(|t| t.conversation.clone());
    let say = |lines: Vec<String>, tone: Tone| {
        let _ = screen.send(Outcome::Notice {
            conversation: place.clone(),
            lines,
            tone,
        });
    };
    // What was typed is kept until it is carried out: on a failure it goes
    // back, so that nothing typed is lost and a typo is fixed in place.
    let is_text = matches!(job, Job::Text(_));
    let back = |line: String| match (&typed, is_text) {
        (Some(_), true) => format!("{line}; your text is back in the box: Enter sends it again"),
        (Some(_), false) => format!("{line}; the command is back in the box: Enter runs it again"),
        (None, _) => line,
    };
    // A change the room's history shows: its answer only confirms the
    // command, on the status line (several lines, as one).
    let confirm = |lines: Vec<String>| {
        let _ = screen.send(Outcome::Notice {
            conversation: None,
            lines: vec![lines.join("; ")],
            tone: Tone::Info,
        });
    };
    let unsent = || {
        if let Some(typed) = &typed {
            let _ = screen.send(Outcome::Unsent(typed.clone()));
        }
    };
    match carry_out(&client, target.as_ref(), job, cancel).await {
        Ok(Done::Refresh) => {
            let _ = screen.send(Outcome::Refresh);
        }
        Ok(Done::Open(c)) => {
            let _ = screen.send(Outcome::Open(c));
        }
        Ok(Done::OpenSaying(c, lines)) => {
            let _ = screen.send(Outcome::Open(c.clone()));
            let _ = screen.send(Outcome::Notice {
                conversation: Some(c),
                lines,
                tone: Tone::Info,
            });
        }
        Ok(Done::Say(lines)) => {
            say(lines, Tone::Info);
            let _ = screen.send(Outcome::Refresh);
        }
        Ok(Done::Changed(lines)) => {
            confirm(lines);
            let _ = screen.send(Outcome::Refresh);
        }
        Ok(Done::OpenChanged(c, lines)) => {
            let _ = screen.send(Outcome::Open(c));
            confirm(lines);
        }
        Ok(Done::Ask(purpose, why)) => {
            let _ = screen.send(Outcome::AskPassword(purpose, why));
        }
        Err(Failure::Usage(line)) => {
            unsent();
            say(vec![back(escape_line(&line).into_owned())], Tone::Warning);
        }
        Err(Failure::Client(e)) => {
            let known = client.pinned_names().await.unwrap_or_default();
            let line = match &e {
                // The menu's `resume` is `/resume` here.
                ClientError::UploadKept(stopped) => explain::upload_kept(
                    &explain::one_line(&explain::client_error(stopped, &known)),
                    "/resume",
                ),
                e => explain::one_line(&explain::client_error(e, &known)),
            };
            // A transfer the user stopped, or that `/resume` goes on with,
            // is not for Enter to start again.
            if matches!(e, ClientError::Cancelled | ClientError::UploadKept(_)) && !is_text {
                say(vec![line], Tone::Warning);
            } else {
                unsent();
                say(vec![back(line)], Tone::Warning);
            }
            // A failed send is in history as failed: show it.
            let _ = screen.send(Outcome::Refresh);
        }
    }
}

/// The open room, or a usage line for a command that needs one.
fn room<'a>(target: Option<&'a ConversationSummary>, what: &str) -> Result<&'a str, Failure> {
    match target {
        Some(t) if t.is_room() => Ok(&t.address),
        _ => Err(Failure::Usage(format!(
            "{what} works in a room: open one first (Ctrl-N, Alt-1..9)"
        ))),
    }
}

async fn carry_out(
    client: &Client,
    target: Option<&ConversationSummary>,
    job: Job,
    cancel: CancellationToken,
) -> Result<Done, Failure> {
    let command = match job {
        Job::Text(text) => {
            let Some(t) = target else {
                return Err(Failure::Usage(
                    "no conversation is open: /open NAME starts one".into(),
                ));
            };
            if t.is_room() {
                client.room_send(&t.address, &text).await?;
            } else {
                client.send_text(&t.address, &text).await?;
            }
            return Ok(Done::Refresh);
        }
        Job::Command(c) => c,
        Job::Password(purpose, typed) => return with_password(client, purpose, typed).await,
    };
    match command {
        Command::File(path) => send_file(client, target, path, cancel).await,
        Command::Members => {
            let name = room(target, "/members")?;
            let members = client.room_members(name).await?;
            let shown = target.map_or(name, |t| t.label.as_str());
            let mut lines = vec![format!(
                "{} member{} of #{}:",
                members.len(),
                if members.len() == 1 { "" } else { "s" },
                escape_line(shown)
            )];
            for m in members {
                let remark = m.remark().map(|r| format!(" {r}")).unwrap_or_default();
                lines.push(format!("  {} ({}){remark}", m.shown_name(), m.role));
            }
            Ok(Done::Say(lines))
        }
        Command::Kick(user) => {
            let name = room(target, "/kick")?.to_string();
            room_command(client, RoomCommand::Kick { name, user }).await
        }
        Command::Ban(user) => {
            let name = room(target, "/ban")?.to_string();
            room_command(client, RoomCommand::Ban { name, user }).await
        }
        Command::Unban(user) => {
            let name = room(target, "/unban")?.to_string();
            room_command(client, RoomCommand::Unban { name, user }).await
        }
        Command::Promote(user) => {
            let name = room(target, "/promote")?.to_string();
            room_command(client, RoomCommand::Promote { name, user }).await
        }
        Command::Demote(user) => {
            let name = room(target, "/demote")?.to_string();
            room_command(client, RoomCommand::Demote { name, user }).await
        }
        Command::Set(rule) => {
            let name = room(target, "/set")?.to_string();
            if let (Rule::Password { hidden }, Some(t)) = (rule, target) {
                // Asked for next, shown as dots (`super::secret`), naming
                // the room as the screen does (its address may be its id).
                let shown = super::label::shown_room(t);
                return Ok(Done::Ask(
                    SecretFor::New {
                        room: name,
                        shown,
                        hidden,
                    },
                    None,
                ));
            }
            let rule = RuleFlags {
                public: rule == Rule::Public,
                hidden: rule == Rule::Hidden,
                invite: rule == Rule::Invite,
                password: false,
            };
            let set = RoomCommand::Set {
                name,
                rule,
                secret: None,
            };
            room_command(client, set).await
        }
        Command::Rename(new) => {
            let name = room(target, "/rename")?.to_string();
            // The command drops one leading `#` (and refuses a second).
            let rename = RoomCommand::Rename {
                name,
                new: new.clone(),
            };
            let (_, lines) = room_cli::outcome(client, rename).await?;
            let new = crate::rooms::typed_room(&new).to_string();
            // The same room (its id) under its new name.
            let id = match target.map(|t| &t.conversation) {
                Some(Conversation::Room { id, .. }) => *id,
                _ => None,
            };
            Ok(Done::OpenChanged(
                Conversation::Room { id, name: new },
                lines,
            ))
        }
        Command::Delete(typed) => {
            let name = room(target, "/delete")?.to_string();
            // Its name as the list shows it (or the id it is addressed by).
            let shown = target.map_or(name.as_str(), |t| t.label.as_str());
            let typed = crate::rooms::typed_room(&typed);
            if typed != shown && typed != name {
                return Err(Failure::Usage(format!(
                    "to delete #{shown} for every member, type its name: /delete {shown}"
                )));
            }
            room_command(client, RoomCommand::Delete { name }).await
        }
        Command::Leave => {
            let name = room(target, "/leave")?.to_string();
            room_command(client, RoomCommand::Leave { name }).await
        }
        Command::Join(name) => super::open::join(client, &name, None).await,
        Command::Online => {
            let users = client.online().await?;
            let mut lines = vec![if users.is_empty() {
                "nobody is online".to_string()
            } else {
                "online now:".to_string()
            }];
            lines.extend(
                users
                    .iter()
                    .map(|u| format!("  {}", output::online_user(u))),
            );
            Ok(Done::Say(lines))
        }
        Command::Add(users) => {
            let name = room(target, "/add")?.to_string();
            room_command(client, RoomCommand::Add { name, users }).await
        }
        Command::Create(name) => {
            let info = client.room_create(&name).await?;
            Ok(Done::Open(room_conversation(&info.id, &info.name)))
        }
        Command::Fingerprint => fingerprint(client, target).await,
        Command::Verified => verified(client, target).await,
        Command::Open(name) => super::open::open(client, &name).await,
        Command::AcceptKey(name) => {
            let info = client.accept(&name).await?;
            Ok(Done::Say(vec![format!(
                "accepted: {} is {} with fingerprint {}{}; not verified until you compare safety \
                 numbers (/fingerprint)",
                escape_line(&name),
                info.id,
                info.fingerprint,
                info.replaced()
            )]))
        }
        Command::AcceptFile(id) => {
            let event = client.accept_file(id, cancel).await?;
            Ok(Done::Say(vec![output::event(&event)]))
        }
        Command::DeclineFile(id) => {
            let offer = client.decline_file(id).await?;
            Ok(Done::Say(vec![format!(
                "declined {} ({}); the server deletes it",
                escape_line(&offer.name),
                output::size(offer.size)
            )]))
        }
        Command::Files => {
            let offers = client.held_files().await?;
            let mut lines: Vec<String> = crate::held_text::held_offers(&offers)
                .lines()
                .map(str::to_string)
                .collect();
            if !offers.is_empty() {
                lines.push("/accept N downloads one, /decline N deletes it".into());
            }
            Ok(Done::Say(lines))
        }
        Command::Resume => {
            let done = client.resume_all_uploads(cancel).await?;
            let mut lines: Vec<String> = [done.abandoned_line(), done.restarted_line()]
                .into_iter()
                .flatten()
                .collect();
            if !done.is_empty() {
                lines.push(done.completed_line());
            } else if lines.is_empty() {
                lines.push("no interrupted uploads".into());
            }
            lines.extend(
                done.rooms
                    .iter()
                    .map(|r| format!("{} is in #{}", escape_line(&r.name), escape_line(&r.room))),
            );
            Ok(Done::Say(lines))
        }
        // The screen does these itself (deleting the account stops its
        // live messages first).
        Command::History(_)
        | Command::DeleteAccount(_)
        | Command::Bell(_)
        | Command::Help
        | Command::Quit
        | Command::Cancel(_) => Ok(Done::Refresh),
    }
}

/// Joins, or sets the new password of, a room with the password typed.
async fn with_password(
    client: &Client,
    purpose: SecretFor,
    secret: RoomPassword,
) -> Result<Done, Failure> {
    match purpose {
        SecretFor::Join(name) => super::open::join(client, &name, Some(secret)).await,
        SecretFor::New { room, hidden, .. } => {
            let rule = RuleFlags {
                public: false,
                hidden,
                invite: false,
                password: true,
            };
            let set = RoomCommand::Set {
                name: room,
                rule,
                secret: Some(secret),
            };
            room_command(client, set).await
        }
    }
}

/// A room command run as the menu and `client room` run it (one wording).
/// What it changes in the room the room's history records (`— you removed
/// carol —`), except a leave request or a deletion, which it says itself.
async fn room_command(client: &Client, command: RoomCommand) -> Result<Done, Failure> {
    let recorded = !matches!(
        command,
        RoomCommand::Leave { .. } | RoomCommand::Delete { .. }
    );
    let (_, lines) = room_cli::outcome(client, command).await?;
    Ok(match recorded {
        true => Done::Changed(lines),
        false => Done::Say(lines),
    })
}

async fn send_file(
    client: &Client,
    target: Option<&ConversationSummary>,
    path: PathBuf,
    cancel: CancellationToken,
) -> Result<Done, Failure> {
    let Some(t) = target else {
        return Err(Failure::Usage(
            "no conversation is open: /open NAME starts one".into(),
        ));
    };
    if t.is_room() {
        return match client.room_send_file(&t.address, &path, cancel).await {
            Ok(_) => Ok(Done::Refresh),
            Err(ClientError::Cancelled) => Ok(Done::Say(vec![format!(
                "upload of {} cancelled; nothing was announced to the room yet (/resume continues it where it stopped)",
                escape_path(&path)
            )])),
            Err(e) => Err(e.into()),
        };
    }
    match client.send_file(&t.address, &path, cancel).await {
        Ok(_) => Ok(Done::Refresh),
        Err(ClientError::Cancelled) => Ok(Done::Say(vec![format!(
            "upload of {} cancelled; /resume continues it where it stopped",
            escape_path(&path)
        )])),
        Err(e) => Err(e.into()),
    }
}

/// Marks the safety number with the open person as compared (a changed
/// key is refused by the lookup: it is accepted first).
async fn verified(client: &Client, target: Option<&ConversationSummary>) -> Result<Done, Failure> {
    let Some(t) = target.filter(|t| !t.is_room()) else {
        return Err(Failure::Usage(
            "open a conversation with a person first: /verified marks your safety number with them"
                .into(),
        ));
    };
    client.mark_verified(&t.address).await?;
    Ok(Done::Say(vec![format!(
        "marked the safety number with {} as compared",
        escape_line(&t.address)
    )]))
}

async fn fingerprint(
    client: &Client,
    target: Option<&ConversationSummary>,
) -> Result<Done, Failure> {
    if let Some(t) = target.filter(|t| !t.is_room()) {
        let (info, number) = client.safety_number(&t.address).await?;
        let who = escape_line(&info.label()).into_owned();
        // The client's own pin decides, not the list's last word on it.
        let changed = info.pin == crate::pin::PinState::Changed;
        return Ok(Done::Say(
            vec![
                if changed {
                    format!("{who}'s key changed and is not accepted; the safety number with the new key:")
                } else {
                    format!("safety number with {who}:")
                },
                number.to_string(),
                format!(
                    "{who} sees the same digits with you: compare them in person or by phone{}",
                    if info.verified {
                        " (marked as compared)"
                    } else if changed {
                        ""
                    } else {
                        "; if they match, /verified records it"
                    }
                ),
                if changed {
                    format!(
                        "if they match, /accept {} takes the new key",
                        escape_line(&quote_word(&t.address))
                    )
                } else {
                    String::new()
                },
            ]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect(),
        ));
    }
    let mine = client.my_fingerprint()?;
    let server = client.server_fingerprint().await?;
    Ok(Done::Say(vec![
        format!("you:    {mine}"),
        match server {
            Some(f) => format!("server: {f} (pinned)"),
            None => "server: not contacted yet".into(),
        },
    ]))
}

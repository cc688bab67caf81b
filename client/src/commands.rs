//! The scripted subcommands: each opens the client, does one thing, prints
//! its result (as text or `--json`) and returns; errors go back to `main`,
//! which prints one line and exits non-zero.

use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::json;

use crate::advice::Audience;
use crate::cli::Command;
use crate::client::{Client, ClientConfig, ClientError};
use crate::display::{escape_line, escape_path};
use crate::history::Retention;
use crate::keystore::Protection;
use crate::keystore::{HistoryQuery, KeyStoreError};
use crate::output::{self, Bars};
use crate::pin::PinState;
use crate::repl::explain::KnownNames;
pub use crate::script::Flags;
use crate::script::{InboxPrinter, cancel_on_signal, cancelled, print_json};

/// Opens the client of a home folder, with progress bars on a terminal.
pub async fn open(config: ClientConfig, flags: Flags) -> anyhow::Result<Client> {
    let home = config.home.clone();
    let client = Client::open(config)
        .await
        .with_context(|| format!("opening the key store in {}", escape_path(&home)))?;
    if !flags.json
        && let Some(bars) = Bars::for_terminal()
    {
        client.set_progress(Arc::new(bars));
    }
    Ok(client)
}

/// Runs one subcommand; an unknown peer's error carries the names to
/// suggest from.
///
/// # Errors
/// Whatever the command hit, for `main` to print.
pub async fn run(client: &Client, command: Command, flags: Flags) -> anyhow::Result<()> {
    match run_command(client, command, flags).await {
        Err(e) if is_unknown_peer(&e) => Err(e.context(known_names(client).await)),
        other => other,
    }
}

fn is_unknown_peer(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.downcast_ref().is_some_and(ClientError::is_unknown_peer))
}

/// What the line of an unknown peer suggests from: the server's list now
/// (if it answers) and the pinned names, as the menu does.
async fn known_names(client: &Client) -> KnownNames {
    let mut names = client.pinned_names().await.unwrap_or_default();
    if let Ok(users) = client.list().await {
        names.extend(users.into_iter().map(|(_, n)| n.to_string()));
    }
    KnownNames(names)
}

async fn run_command(client: &Client, command: Command, flags: Flags) -> anyhow::Result<()> {
    match command {
        Command::Register { .. } => bail!("register sets the home up on its own"),
        Command::List => {
            let users = client.directory().await?;
            if flags.json {
                print_json(&users)?;
            } else if users.is_empty() {
                println!("no other users on this server yet");
            } else {
                for user in users {
                    let marks = user.marks();
                    println!("{:<30} {}{marks}", escape_line(&user.name), user.id);
                }
            }
        }
        Command::Online => {
            let users = client.online().await?;
            if flags.json {
                print_json(&json!({ "online": users }))?;
            } else if users.is_empty() {
                println!("nobody is online");
            } else {
                for user in &users {
                    println!("{}", output::online_user(user));
                }
            }
        }
        Command::Key { name } => {
            let mut info = client.fetch_key(&name).await?;
            if info.pin == PinState::Changed && flags.accept_new_key {
                info = client.accept_new_key(&name).await?;
            }
            if flags.json {
                print_json(&info)?;
            } else {
                println!("{} ({})", escape_line(&info.label()), info.id);
                if let Some(server_name) = &info.server_name {
                    println!("the server calls them \"{}\"", escape_line(server_name));
                }
                println!("{}", info.fingerprint_lines());
                println!(
                    "{}",
                    info.pin
                        .describe(info.verified, &info.label(), Audience::Script)
                );
            }
            // Shown, and a failure all the same: a script that checks a
            // key before trusting it must not read a changed one as fine.
            if info.pin == PinState::Changed {
                return Err(ClientError::PeerKeyChanged { name }.into());
            }
        }
        Command::SendText { to, text } => {
            crate::send_cli::text(client, flags, &to, text.as_deref()).await?;
        }
        Command::SendFile { to, path } => crate::send_cli::file(client, flags, &to, &path).await?,
        Command::Inbox => {
            // Each batch is printed (and flushed) before it is
            // acknowledged: a long backlog shows as it is read, a Ctrl-C
            // keeps what it showed, and what could not be written stays on
            // the server for the next `inbox`. JSON is the one array, a
            // batch at a time.
            let json = flags.json;
            let mut shown = Vec::new();
            let mut printer = InboxPrinter::new(json);
            let read = client
                .inbox_each(cancel_on_signal(), |events| {
                    printer.batch(&events)?;
                    shown.extend(events);
                    Ok(())
                })
                .await;
            if let Some(e) = printer.failed.take() {
                // Shown is only what was written.
                client.shown(&shown).await;
                return Err(anyhow::Error::new(e).context("cannot write to standard output"));
            }
            if read.is_ok() || !shown.is_empty() {
                printer.end().context("cannot write to standard output")?;
            }
            // Printed is shown (to a person or to the script acting for one).
            client.shown(&shown).await;
            match read {
                Err(ClientError::Cancelled) => {
                    return Err(cancelled(
                        "stopped; what was not read stays on the server, and a file resumes where it stopped",
                    ));
                }
                other => other?,
            }
            if !json {
                if shown.is_empty() {
                    println!("no new messages");
                }
                let announced = shown.iter().filter(|e| e.is_held_offer()).count();
                let held = client.held_files().await?.len();
                if held > announced {
                    println!("{}", output::offers_waiting(held, "client files"));
                }
            }
        }
        Command::Files => {
            let offers = client.held_files().await?;
            if flags.json {
                print_json(&offers)?;
            } else {
                println!("{}", crate::held_text::held_offers(&offers));
            }
        }
        Command::AcceptFile { id } => {
            let event = match client.accept_file(id, cancel_on_signal()).await {
                Err(ClientError::Cancelled) => {
                    return Err(cancelled(format!(
                        "stopped; `client accept-file {id}` resumes the download where it stopped"
                    )));
                }
                other => other?,
            };
            if flags.json {
                print_json(&event)?;
            } else {
                println!("{}", output::event(&event));
            }
            client.shown(std::slice::from_ref(&event)).await;
        }
        Command::DeclineFile { id } => {
            let offer = client.decline_file(id).await?;
            if flags.json {
                print_json(&json!({ "declined": offer }))?;
            } else {
                println!(
                    "declined {} ({}); the server deletes it",
                    escape_line(&offer.name),
                    output::size(offer.size)
                );
            }
        }
        Command::Watch => crate::watch_cli::watch(client, flags).await?,
        Command::Fingerprint { name: None, .. } => {
            let mine = client.my_fingerprint()?;
            let server = client.server_fingerprint().await?;
            if flags.json {
                print_json(&json!({ "you": mine.to_string(), "server": server }))?;
            } else {
                println!("you:    {mine}");
                match server {
                    Some(f) => println!("server: {f} (pinned)"),
                    None if !client.has_server() => println!(
                        "server: none given (--server HOST:PORT, or server.info in the home)"
                    ),
                    None => println!("server: not contacted yet"),
                }
            }
        }
        Command::Fingerprint {
            name: Some(name),
            verified,
        } => {
            let (info, number) = client.safety_number(&name).await?;
            if verified {
                client.mark_verified(&name).await?;
            }
            let changed = info.pin == PinState::Changed;
            if flags.json {
                print_json(&json!({
                    "name": info.name,
                    "id": info.id.to_string(),
                    "safety_number": number.to_string(),
                    "pin": info.pin,
                    "verified": verified || info.verified,
                }))?;
            } else {
                // A contact pinned without a name (its name went to someone
                // else) is named, and given to commands, by its id.
                let label = info.label();
                let who = escape_line(&label);
                let word = escape_line(&crate::advice::quote_word(&label)).into_owned();
                if changed {
                    println!(
                        "{who}'s key changed and is not accepted; the safety number with the new key:"
                    );
                    println!("{number}");
                    println!(
                        "compare them with {who} in person or by phone; only if they match, accept the new key (`client accept {word}`)"
                    );
                } else {
                    println!("safety number with {who}:");
                    println!("{number}");
                    println!(
                        "{who} sees the same digits with you; compare them in person or by phone{}",
                        if verified || info.verified {
                            " (marked as compared)".to_string()
                        } else {
                            format!(
                                "; if they match, `client fingerprint {word} --verified` records it"
                            )
                        }
                    );
                }
            }
            // Shown, and a failure all the same, as `key` does: these digits
            // are not the pinned key's.
            if changed {
                return Err(ClientError::PeerKeyChanged { name }.into());
            }
        }
        Command::Accept { name } => {
            let info = client.accept(&name).await?;
            if flags.json {
                print_json(&info)?;
            } else {
                println!(
                    "accepted: {} is {} with fingerprint {}{}; not verified until you compare safety numbers",
                    escape_line(&name),
                    info.id,
                    info.fingerprint,
                    info.replaced()
                );
            }
        }
        Command::Session { name } => {
            client.start_session(&name).await?;
            let (name, id) = crate::send_cli::recipient(client, &name).await;
            if flags.json {
                print_json(&json!({ "session_offered_to": name, "id": id }))?;
            } else {
                println!("sent a key-agreement offer to {}", escape_line(&name));
            }
        }
        Command::Resume => {
            let done = client.resume_all_uploads(cancel_on_signal()).await?;
            if flags.json {
                print_json(&done)?;
            } else {
                for line in [done.abandoned_line(), done.restarted_line()] {
                    line.into_iter().for_each(|l| println!("{l}"));
                }
                if !done.is_empty() {
                    println!("{}", done.completed_line());
                } else if done.abandoned.is_empty() {
                    println!("no interrupted uploads");
                }
            }
        }
        Command::History {
            name,
            limit,
            since,
            search,
        } => {
            let query = HistoryQuery {
                limit,
                since_ms: since,
                search,
            };
            let (found, entries) = client.history(&name, query).await?;
            if flags.json {
                print_json(&entries)?;
            } else if entries.is_empty() {
                println!("nothing in the history with {}", escape_line(&found.label));
            } else {
                let names = client.sender_names(&found.conversation).await?;
                for e in &entries {
                    println!("{}", output::history_entry(e, &found.label, &names));
                }
            }
            // Read means its sender was told: without a server, what was
            // shown stays unread until it is shown again with one.
            if client.has_server() {
                client.history_shown(&found.conversation, &entries).await?;
            }
        }
        Command::Conversations => {
            let list = client.conversations().await?;
            if flags.json {
                let list: Vec<_> = list.iter().map(output::conversation_json).collect();
                print_json(&list)?;
            } else if list.is_empty() {
                println!("{}", output::NO_CONVERSATIONS);
            } else {
                for c in &list {
                    println!("{}", output::conversation_line(c));
                }
            }
        }
        Command::Forget { name } => {
            let (found, gone) = client.forget(&name).await?;
            if flags.json {
                print_json(&json!({ "forgotten": gone }))?;
            } else {
                println!("{}", output::forgot(gone, &found.label));
            }
        }
        Command::Receipts { on } => {
            // The command line took only on or off.
            let on = match on.as_deref() {
                None => client.read_receipts().await?,
                Some(word) => {
                    client.set_read_receipts(word == "on").await?;
                    word == "on"
                }
            };
            if flags.json {
                print_json(&json!({ "read_receipts": on }))?;
            } else {
                println!("{}", output::read_receipts(on));
            }
        }
        Command::Retention { days } => {
            let (kept, gone) = match days {
                None => (client.retention().await?, 0),
                Some(Retention(d)) => (d, client.set_retention(d).await?),
            };
            if flags.json {
                print_json(&json!({ "retention_days": kept, "deleted": gone }))?;
            } else {
                println!("{}", output::retention(kept, gone, "client forget NAME"));
            }
        }
        Command::Room(room) => crate::room_cli::run(client, room, flags.json).await?,
        // `main` runs the self-test itself: it needs no home folder.
        Command::Passphrase {
            action:
                crate::cli::PassphraseAction::Change {
                    new_passphrase_file,
                },
        } => {
            // Said before a new passphrase is asked for, not after.
            if matches!(client.config().protection, Protection::NoPassphrase) {
                return Err(ClientError::Store(KeyStoreError::NoPassphraseToChange).into());
            }
            let new = crate::passphrase::resolve_new(new_passphrase_file.as_deref())?;
            client.change_passphrase(new).await?;
            if flags.json {
                print_json(&json!({ "changed": true }))?;
            } else {
                println!("passphrase changed: the store is re-keyed");
            }
        }
        Command::Export {
            file,
            new_passphrase_file: new,
        } => {
            let summary = match client.config().protection {
                Protection::Passphrase(_) => client.export(&file).await?,
                // Never in the clear: a plain home's backup gets a passphrase.
                Protection::NoPassphrase => {
                    let pass = crate::passphrase::resolve_new(new.as_deref())?;
                    client.export_locked(&file, pass).await?
                }
            };
            if flags.json {
                let mut shown = serde_json::to_value(&summary)?;
                shown["after_import"] = crate::backup::AFTER_EXPORT.into();
                print_json(&shown)?;
            } else {
                println!("{summary}");
                println!("{}", crate::backup::AFTER_EXPORT);
            }
        }
        Command::DeleteAccount { name } => {
            let d = client.delete_account(&name).await?;
            let own = client.me().map_or(name, |m| m.name.to_string());
            if flags.json {
                print_json(&json!({
                    "deleted": own,
                    "messages_deleted": d.messages,
                    "bytes_deleted": d.bytes,
                    "uploads_deleted": d.uploads,
                }))?;
            } else {
                println!(
                    "{}",
                    crate::account::deletion_summary(&own, &d, "client history")
                );
            }
        }
        Command::Import { .. } => bail!("import sets the home up on its own"),
        Command::Test => bail!("the self-test runs on its own, not on a home folder"),
        Command::Tui { .. } => bail!("the full-screen client runs on its own"),
        Command::GenerateAssets { .. } => bail!("generate-assets runs on its own"),
    }
    Ok(())
}

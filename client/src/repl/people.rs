//! The menu's commands about people and their keys: register, the user
//! list, a peer's key, fingerprints and safety numbers, accepting a changed
//! key and starting a session. One `impl Menu` block, like the other
//! command groups ([`super::messages`], [`super::files`]), so that the menu
//! loop ([`super::menu`]) stays apart from what each command does.

use tokio_util::sync::CancellationToken;

use super::complete::Field;
use super::menu::{Menu, Outcome, cancellable};
use super::show::server_line;
use super::terminal::Answer;
use crate::advice::{Audience, quote_word};
use crate::display::escape_line;
use crate::peer_info::PeerInfo;
use crate::pin::PinState;

impl Menu {
    /// 1: creates an identity and registers it under `name`.
    pub(super) async fn register(&mut self, name: Option<String>) -> Outcome {
        let client = self.client.clone();
        let Some(name) = self.need(name, "your name: ", Field::Text).await else {
            return Ok(());
        };
        let id = match client.register(&name).await {
            Err(e) if e.reason() == Some(protocol::ErrorReason::NameTaken) => {
                self.error(&format!(
                    "the name \"{name}\" is taken on this server; choose another"
                ));
                return Ok(());
            }
            other => other?,
        };
        // As `client register` does: the home now holds an account, and
        // the next start needs no --server.
        let config = client.config();
        if let Err(e) = crate::config::remember_server(&config.home, &config.server).await {
            self.error(&format!("{e:#}"));
        }
        self.say(format!("registered {} with id {id}", escape_line(&name)));
        self.say(format!("your fingerprint: {}", client.my_fingerprint()?));
        self.start_watch();
        self.say("watching: on; messages appear here as they arrive (`watch off` stops that)");
        Ok(())
    }

    /// Deletes our account on the server, once `name` (asked for when not
    /// given) repeats its name; live messages stop, as nothing more can
    /// come (and go on if the server refuses).
    pub(super) async fn delete_account(
        &mut self,
        name: Option<String>,
        cancel: CancellationToken,
    ) -> Outcome {
        let client = self.client.clone();
        let prompt = "to delete your account on the server for good, type its name: ";
        let Some(name) = self.need(name, prompt, Field::Text).await else {
            return Ok(());
        };
        // Stopped first: the server closes this connection after its
        // answer, which the watcher would otherwise report as lost.
        let watching = self.watching();
        self.stop_watch().await;
        let deleted = match cancellable(&cancel, client.delete_account(&name)).await {
            Ok(d) => d,
            Err(e) => {
                if watching {
                    self.start_watch();
                }
                return Err(e);
            }
        };
        let own = client.me().map_or(name, |m| m.name.to_string());
        self.say(crate::account::deletion_summary(
            &own,
            &deleted,
            "history NAME",
        ));
        Ok(())
    }

    /// Who is online now.
    pub(super) async fn online(&self, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        let users = cancellable(&cancel, client.online()).await?;
        if users.is_empty() {
            self.say("nobody is online");
        } else {
            let lines: Vec<String> = users.iter().map(crate::output::online_user).collect();
            self.say(format!("online now:\n  {}", lines.join("\n  ")));
        }
        Ok(())
    }

    /// 2: the other users on the server.
    pub(super) async fn list(&self, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        let users = cancellable(&cancel, client.directory()).await?;
        self.names.lock().unwrap_or_else(|e| e.into_inner()).listed =
            users.iter().map(|u| u.name.clone()).collect();
        if users.is_empty() {
            self.say("no other users on this server yet");
        } else {
            let mut text = match users.len() {
                1 => "1 other user:".to_string(),
                n => format!("{n} other users:"),
            };
            for user in &users {
                text.push_str(&format!(
                    "\n  {:<24} {}{}",
                    escape_line(&user.name),
                    user.id,
                    user.marks()
                ));
            }
            self.say(text);
        }
        Ok(())
    }

    /// 3: fetches, checks and pins a peer's key.
    pub(super) async fn fetch_key(
        &self,
        name: Option<String>,
        cancel: CancellationToken,
    ) -> Outcome {
        let client = self.client.clone();
        let Some(name) = self.need(name, "whose key? ", Field::Name).await else {
            return Ok(());
        };
        let info = cancellable(&cancel, client.fetch_key(&name)).await?;
        let shown = match &info.server_name {
            Some(s) => format!(
                "{} (the server calls them \"{}\")",
                escape_line(&info.label()),
                escape_line(s)
            ),
            None => escape_line(&info.label()).into_owned(),
        };
        let state = info
            .pin
            .describe(info.verified, &info.label(), Audience::Menu);
        self.say(format!(
            "{shown} ({})\n{}\n{state}",
            info.id,
            info.fingerprint_lines()
        ));
        Ok(())
    }

    /// The user's and the server's fingerprints.
    pub(super) async fn fingerprints(&self) -> Outcome {
        let client = self.client.clone();
        let mine = client.my_fingerprint()?;
        let server = escape_line(&client.config().server).into_owned();
        let pinned = client.server_fingerprint().await?;
        self.say(format!(
            "you:      {mine}\n{}",
            server_line(&server, pinned.as_deref())
        ));
        Ok(())
    }

    /// The safety number shared with `name`.
    pub(super) async fn safety_number(&self, name: String, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        let (info, number) = cancellable(&cancel, client.safety_number(&name)).await?;
        // A contact pinned without a name goes by its id (see `PeerInfo::label`).
        let shown = escape_line(&info.label()).into_owned();
        if info.pin == PinState::Changed {
            self.say(changed_key_number(&info, &number));
            return Ok(());
        }
        self.say(format!(
            "safety number with {shown}:\n{number}\n{shown} sees the same digits with you; compare them \
             in person or by phone{}",
            if info.verified {
                " (marked as compared)".to_string()
            } else {
                format!(", then `verify {}`", escape_line(&quote_word(&info.label())))
            }
        ));
        Ok(())
    }

    /// Marks the safety number shared with a peer as compared, after asking.
    pub(super) async fn verify(&self, name: Option<String>, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        let Some(name) = self.need(name, "whose safety number? ", Field::Name).await else {
            return Ok(());
        };
        let (info, number) = cancellable(&cancel, client.safety_number(&name)).await?;
        // A contact pinned without a name goes by its id (see `PeerInfo::label`).
        let shown = escape_line(&info.label()).into_owned();
        if info.pin == PinState::Changed {
            // The number is the new key's: there is nothing to mark yet.
            self.say(changed_key_number(&info, &number));
            return Ok(());
        }
        self.say(format!("safety number with {shown}:\n{number}"));
        if !self.interactive {
            // Piped, the next line is the next command, not an answer.
            self.say(format!(
                "not marked: the menu asks this on a terminal only; after comparing, \
                 `client fingerprint {} --verified` records it",
                escape_line(&quote_word(&info.label()))
            ));
            return Ok(());
        }
        let question = format!("do these digits match what {shown} sees? [y/N] ");
        let yes = match self.ask(&question, Field::Text).await {
            Answer::Line(l) => matches!(l.trim().to_lowercase().as_str(), "y" | "yes"),
            // Not an answer that the digits differ.
            Answer::Interrupted | Answer::Eof => {
                self.say("cancelled");
                return Ok(());
            }
            Answer::Failed(e) => {
                self.error(&format!("the terminal failed: {e}"));
                return Ok(());
            }
        };
        if yes {
            cancellable(&cancel, client.mark_verified(&name)).await?;
            self.say(format!("marked the safety number with {shown} as compared"));
        } else {
            self.say(format!(
                "not marked; if the digits differ, someone may be in between you and {shown}: do not \
                 trust this key until you know why"
            ));
        }
        Ok(())
    }

    /// Accepts a peer's changed key (or the server's new mapping of a name).
    pub(super) async fn accept(&self, name: Option<String>, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        let Some(name) = self.need(name, "whose new key? ", Field::Name).await else {
            return Ok(());
        };
        let info = cancellable(&cancel, client.accept(&name)).await?;
        let shown = escape_line(&name).into_owned();
        self.say(format!(
            "accepted: {shown} is {} (fingerprint {}{}), not verified until you compare safety numbers; \
             their waiting messages are read from now on",
            info.id,
            info.fingerprint,
            info.replaced()
        ));
        Ok(())
    }

    /// 51: starts a new session (a key-agreement offer).
    pub(super) async fn start_session(
        &self,
        name: Option<String>,
        cancel: CancellationToken,
    ) -> Outcome {
        let client = self.client.clone();
        let Some(name) = self.need(name, "with whom? ", Field::Name).await else {
            return Ok(());
        };
        cancellable(&cancel, client.start_session(&name)).await?;
        self.say(format!(
            "sent a key-agreement offer to {0}: new messages use the new session, which {0}'s client \
             answers when it reads its messages",
            escape_line(&name)
        ));
        Ok(())
    }
}

/// The safety number of a changed key not yet accepted, and what to do.
fn changed_key_number(info: &PeerInfo, number: &impl std::fmt::Display) -> String {
    let label = info.label();
    let shown = escape_line(&label);
    format!(
        "{shown}'s key changed and is not accepted; the safety number with the new key:\n{number}\n\
         compare them with {shown} in person or by phone; only if they match, `accept {}` takes the \
         new key (then `verify` it)",
        escape_line(&quote_word(&label))
    )
}

//! The menu's loop: the greeting, reading a line, running its command with
//! Ctrl-C as cancel, asking for missing arguments, and one `error:` line
//! for whatever went wrong. What each command does lives in the command
//! groups ([`super::people`], [`super::messages`], [`super::files`]),
//! `impl Menu` blocks beside this one; the live-message watcher is
//! [`super::watch`].

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::complete::{Field, SharedNames};
use super::explain;
use super::focus::{Focus, line_command};
use super::parse::{Command, ParseError, number};
use super::progress::MenuProgress;
use super::room_parse::RoomUsage;
use super::show::{help, server_line};
use super::terminal::{self, Answer, Printer, Terminal};
use super::watch::Watcher;
use super::words::{argument, text_argument};
use crate::cli::RoomCommand;
use crate::client::{Client, ClientError};
use crate::display::{escape_line, escape_path};

/// Runs the menu until the user exits (or standard input ends).
///
/// # Errors
/// The terminal failed.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let interrupts = Interrupts::start();
    let names: SharedNames = Arc::default();
    let (terminal, printer) = Terminal::start(&client.config().home, names.clone()).await?;
    let progress = Arc::new(MenuProgress {
        bars: client.progress(),
        foreground: AtomicBool::new(false),
        printer: printer.clone(),
    });
    client.set_progress(progress.clone());
    terminal::route_logs(Some(printer.clone()));
    let mut menu = Menu {
        client,
        terminal,
        printer,
        names,
        progress,
        interrupts,
        watcher: None,
        interactive: std::io::stdin().is_terminal(),
        focus: Focus::default(),
        printed_prompt: String::new(),
        unsent: None,
        again: None,
    };
    let result = menu.run().await;
    menu.leave().await;
    terminal::route_logs(None);
    result
}

/// Counts Ctrl-C presses (SIGINT) for the whole run: installing the handler
/// once at the start means Ctrl-C never kills the menu, and a command only
/// reacts to presses that came after it started.
struct Interrupts {
    count: watch::Receiver<u64>,
}

impl Interrupts {
    fn start() -> Self {
        let (tx, count) = watch::channel(0u64);
        // Installed here rather than in the task, and listened to by one
        // stream: no press falls between two listeners.
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::interrupt()) {
            Ok(mut presses) => {
                tokio::spawn(async move {
                    while presses.recv().await.is_some() {
                        tx.send_modify(|n| *n += 1);
                    }
                });
            }
            Err(e) => tracing::warn!("Ctrl-C cannot be caught: {e}"),
        }
        Self { count }
    }

    /// A receiver that fires on the next Ctrl-C only.
    fn since_now(&self) -> watch::Receiver<u64> {
        let mut rx = self.count.clone();
        rx.borrow_and_update();
        rx
    }
}

/// How a command ended, besides its output.
pub(super) type Outcome = Result<(), ClientError>;

/// The menu's state: the client, the terminal and what the commands share.
pub(super) struct Menu {
    pub(super) client: Client,
    terminal: Terminal,
    printer: Printer,
    pub(super) names: SharedNames,
    progress: Arc<MenuProgress>,
    interrupts: Interrupts,
    watcher: Option<Watcher>,
    pub(super) interactive: bool,
    /// The current conversation ([`super::focus`]), shared with the watcher.
    pub(super) focus: Focus,
    /// The prompt last printed as a line (from a script: [`Menu::prompt`]).
    pub(super) printed_prompt: String,
    /// A send that never reached the server, as a command that makes it
    /// again (set by the send commands, see [`unsent`]).
    pub(super) unsent: Option<String>,
    /// The line the next prompt starts with: the one of an unsent text,
    /// so that nothing typed is lost (as the full-screen client does).
    again: Option<String>,
}

impl Menu {
    pub(super) fn say(&self, text: impl Into<String>) {
        self.printer.print(text.into());
    }

    pub(super) fn error(&self, line: &str) {
        self.say(format!("error: {}", explain::one_line(line)));
    }

    async fn fail(&self, e: ClientError) {
        let known = self.known_names(&e).await;
        self.error(&explain::client_error(&e, &known));
    }

    /// Names to suggest from when `e` is about an unknown peer: the server's
    /// list now (falling back on what the menu knew) and the pinned peers.
    async fn known_names(&self, e: &ClientError) -> Vec<String> {
        if !e.is_unknown_peer() {
            return Vec::new();
        }
        if let Ok(users) = self.client.list().await {
            self.names.lock().unwrap_or_else(|e| e.into_inner()).listed =
                users.into_iter().map(|(_, n)| n.to_string()).collect();
        }
        self.names.lock().unwrap_or_else(|e| e.into_inner()).all()
    }

    async fn refresh_pinned(&self) {
        if let Ok(pinned) = self.client.pinned_names().await {
            self.names.lock().unwrap_or_else(|e| e.into_inner()).pinned = pinned;
        }
    }

    /// Waits until everything said so far is shown.
    pub(super) async fn flush(&self) {
        self.printer.flush().await;
    }

    pub(super) async fn ask(&self, prompt: &str, field: Field) -> Answer {
        self.printer.flush().await;
        self.terminal.ask(prompt, field).await
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        self.greet().await;
        loop {
            let prompt = self.prompt().await;
            let current = self.current();
            let field = if current.is_some() {
                Field::Talk
            } else {
                Field::Menu
            };
            let mut interrupted = self.interrupts.since_now();
            let again = self.again.take().unwrap_or_default();
            let answer = tokio::select! {
                a = async {
                    self.printer.flush().await;
                    self.terminal.ask_with(&prompt, field, &again).await
                } => a,
                // At a terminal the editor reads Ctrl-C itself; from a pipe
                // or a script, an interrupt while waiting ends the menu.
                Ok(()) = interrupted.changed(), if !self.interactive => return Ok(()),
            };
            match answer {
                Answer::Line(line) => {
                    match line_command(&line, current.as_ref(), &self.room_names()) {
                        Ok(None) => {}
                        Ok(Some(Command::Exit)) => return Ok(()),
                        Ok(Some(command)) => {
                            let text_typed = carries_text(&command);
                            self.execute(command).await;
                            self.offer_again(text_typed.then_some(line));
                        }
                        // Our own list of forms, one a line (nothing of the peer's).
                        Err(e @ ParseError::RoomUsage(RoomUsage::Unknown(_))) => {
                            self.say(format!("error: {e}"))
                        }
                        Err(e) => self.error(&e.to_string()),
                    }
                }
                Answer::Interrupted => {}
                Answer::Eof => return Ok(()),
                Answer::Failed(e) => anyhow::bail!("the terminal failed: {e}"),
            }
        }
    }

    /// After a send that never reached the server (see [`unsent`]): its
    /// line at the next prompt, `typed` if the text was on the line typed,
    /// else the command the send rebuilt. At a terminal only: from a pipe
    /// the next line is already written.
    fn offer_again(&mut self, typed: Option<String>) {
        let Some(rebuilt) = self.unsent.take() else {
            return;
        };
        if self.interactive {
            self.again = Some(typed.unwrap_or(rebuilt));
            self.say("not sent; the line is back at the prompt: Enter sends it again");
        }
    }

    async fn leave(&mut self) {
        self.stop_watch().await;
        self.client.send_receipts_before_leaving().await;
        self.say("bye");
        self.printer.flush().await;
    }

    /// Who the user is, the server, what waits, and what to do first.
    async fn greet(&mut self) {
        self.say(
            "Sealpost: end-to-end encrypted messages. Type `help` for the menu; Tab completes; Ctrl-D leaves.",
        );
        let server = escape_line(&self.client.config().server).into_owned();
        let Some(me) = self.client.me() else {
            self.say(format!(
                "you:      nobody is registered in {} yet: type `register NAME` (or `1 NAME`) to create your identity",
                escape_path(&self.client.config().home)
            ));
            let pinned = self.client.server_fingerprint().await.ok().flatten();
            self.say(server_line(&server, pinned.as_deref()));
            return;
        };
        self.say(format!(
            "you:      {} (id {})",
            escape_line(me.name.as_str()),
            me.id
        ));
        if let Ok(fingerprint) = self.client.my_fingerprint() {
            self.say(format!("          fingerprint {fingerprint}"));
        }
        // Counting connects, which pins the server's key on first contact.
        let waiting = self.client.waiting().await;
        let pinned = self.client.server_fingerprint().await.ok().flatten();
        self.say(server_line(&server, pinned.as_deref()));
        match waiting {
            Ok(w) => {
                let count = match (w.messages, w.more) {
                    (0, false) => "no messages".to_string(),
                    (1, false) => "1 message".to_string(),
                    (n, false) => format!("{n} messages"),
                    // Only texts and files count, and the first page may
                    // hold none while more wait behind it.
                    (0, true) => {
                        "more than a page of notices and messages; `inbox` reads them".into()
                    }
                    (n, true) => format!("at least {n} messages, and more"),
                };
                self.say(format!("waiting:  {count}"));
            }
            Err(e @ ClientError::ServerKeyChanged { .. }) => {
                // Nothing is sent to or read from an impostor.
                self.fail(e).await;
                self.say("watching: off until the server's key is sorted out");
                return;
            }
            Err(e @ ClientError::AccountGone { .. }) => {
                self.fail(e).await;
                self.say("watching: off; this home's account is gone from the server");
                return;
            }
            Err(e) => self.fail(e).await,
        }
        self.refresh_pinned().await;
        self.refresh_room_names().await;
        self.start_watch();
        self.say("watching: on; messages appear here as they arrive (`watch off` stops that)");
    }

    /// Runs one command; Ctrl-C cancels it.
    async fn execute(&mut self, command: Command) {
        let cancel = CancellationToken::new();
        let mut interrupted = self.interrupts.since_now();
        self.progress.foreground.store(true, Ordering::Release);
        let outcome = {
            let run = self.dispatch(command, cancel.clone());
            tokio::pin!(run);
            loop {
                tokio::select! {
                    outcome = &mut run => break outcome,
                    changed = interrupted.changed() => match changed {
                        // Let the command finish cleanly.
                        Ok(()) => cancel.cancel(),
                        Err(_) => break (&mut run).await,
                    },
                }
            }
        };
        self.progress.foreground.store(false, Ordering::Release);
        match outcome {
            Ok(()) => {}
            Err(ClientError::Cancelled) => self.say("cancelled"),
            Err(e) => self.fail(e).await,
        }
        self.refresh_pinned().await;
    }

    /// `what` if given, else asked for; `None` (and a note) if the user
    /// gave nothing.
    pub(super) async fn need(
        &self,
        given: Option<String>,
        prompt: &str,
        field: Field,
    ) -> Option<String> {
        if given.is_some() {
            return given;
        }
        let prompt = if self.interactive { prompt } else { "" };
        match self.ask(prompt, field).await {
            Answer::Line(line) => {
                let value = match field {
                    Field::Text => text_argument(&line),
                    _ => argument(&line),
                };
                if value.is_none() {
                    self.say("nothing given; cancelled");
                }
                value
            }
            Answer::Interrupted | Answer::Eof => {
                self.say("cancelled");
                None
            }
            Answer::Failed(e) => {
                self.error(&format!("the terminal failed: {e}"));
                None
            }
        }
    }

    /// Whether the watcher runs.
    pub(super) fn watching(&self) -> bool {
        self.watcher.as_ref().is_some_and(Watcher::is_running)
    }

    /// Starts the watcher (once; it ends on `watch off`, at exit, or when
    /// the server's key changes).
    pub(super) fn start_watch(&mut self) {
        if self.watching() {
            return;
        }
        self.watcher = Some(Watcher::start(
            self.client.clone(),
            self.printer.clone(),
            self.focus.clone(),
        ));
    }

    /// Stops the watcher, if it runs.
    pub(super) async fn stop_watch(&mut self) {
        if let Some(w) = self.watcher.take() {
            w.stop().await;
        }
    }

    /// Runs one command to its end (cancelled when `cancel` fires).
    async fn dispatch(&mut self, command: Command, cancel: CancellationToken) -> Outcome {
        match command {
            Command::Register { name } => self.register(name).await,
            Command::List => self.list(cancel).await,
            Command::Online => self.online(cancel).await,
            Command::Key { name } => self.fetch_key(name, cancel).await,
            Command::Inbox => self.inbox(cancel).await,
            Command::Answer => self.answer(cancel).await,
            Command::SendText { to, text } => self.send_text(to, text, cancel).await,
            Command::SendFile { to, path } => self.send_file(to, path, cancel).await,
            Command::Session { name } => self.start_session(name, cancel).await,
            Command::Watch { on } => self.watch(on).await,
            Command::History { name } => self.history(name).await,
            Command::Forget { name } => self.forget(name).await,
            Command::Retention { days } => self.retention(days).await,
            Command::Receipts { on } => self.receipts(on).await,
            Command::Conversations => self.conversations().await,
            Command::Fingerprint { name: None } => self.fingerprints().await,
            Command::Fingerprint { name: Some(name) } => self.safety_number(name, cancel).await,
            Command::Verify { name } => self.verify(name, cancel).await,
            Command::Accept { name } => self.accept(name, cancel).await,
            Command::DeleteAccount { name } => self.delete_account(name, cancel).await,
            Command::Resume => self.resume(cancel).await,
            Command::Files => self.held_files().await,
            Command::AcceptFile { id } => self.accept_file(id, cancel).await,
            Command::DeclineFile { id } => self.decline_file(id, cancel).await,
            Command::Room(room) => self.room(room, cancel).await,
            Command::To { target } => self.to(target).await,
            Command::Help => {
                self.say(help());
                Ok(())
            }
            Command::RoomForms => {
                self.say(super::room_parse::forms());
                Ok(())
            }
            // Handled by the loop.
            Command::Exit => Ok(()),
        }
    }

    /// A file offer's number, asked for if not given.
    pub(super) async fn need_number(&self, given: Option<u64>) -> Option<u64> {
        if given.is_some() {
            return given;
        }
        let text = self
            .need(None, "which file offer (its number)? ", Field::Text)
            .await?;
        match number(&text) {
            Ok(n) => Some(n),
            Err(e) => {
                self.error(&e.to_string());
                None
            }
        }
    }
}

/// Whether `e` stopped a send before the server had it: the server could
/// not be reached or the connection went, so sending again is the remedy.
pub(super) fn unsent(e: &ClientError) -> bool {
    matches!(e, ClientError::Connection(c) if c.is_disconnect())
}

/// Whether `command` is a text with the text on the line typed.
fn carries_text(command: &Command) -> bool {
    matches!(
        command,
        Command::SendText { text: Some(_), .. }
            | Command::Room(RoomCommand::Send { text: Some(_), .. })
    )
}

/// `f`, unless `cancel` fires first (for requests that are safe to drop).
pub(super) async fn cancellable<T>(
    cancel: &CancellationToken,
    f: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::select! {
        r = f => r,
        () = cancel.cancelled() => Err(ClientError::Cancelled),
    }
}

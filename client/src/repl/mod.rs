//! The interactive menu: `client` with no subcommand.
//!
//! The reference client's numbers (1 register ... 52, 0 exit) and words
//! (`send bob hi`) name the same commands ([`parse`]); a command typed
//! without its arguments asks for them. Messages pushed by the server while
//! the user types are shown above the line being edited ([`terminal`]),
//! by a watcher task on the client's connection. Ctrl-C stops the command
//! running (a transfer ends cleanly and can be resumed) or clears the line
//! at the prompt; Ctrl-D leaves.
//!
//! Every mistake ends in one line starting `error:` and the menu goes on
//! ([`explain`]). Everything a peer chose is escaped before it is shown.
//! The menu goes through [`Client`] only; it holds no protocol logic.

pub mod complete;
pub mod explain;
pub mod parse;
pub mod terminal;

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::advice::Audience;
use crate::client::{Client, ClientError, Progress};
use crate::display::{escape_line, escape_path};
use crate::inbox::{Event, What};
use crate::output;
use complete::{Field, SharedNames};
use parse::Command;
use terminal::{Answer, Printer, Terminal};

/// How long leaving waits for the watcher and the printer.
const LEAVE_WAIT: Duration = Duration::from_secs(3);

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
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                tx.send_modify(|n| *n += 1);
            }
        });
        Self { count }
    }

    /// A receiver that fires on the next Ctrl-C only.
    fn since_now(&self) -> watch::Receiver<u64> {
        let mut rx = self.count.clone();
        rx.borrow_and_update();
        rx
    }
}

/// Progress bars for transfers the user started (the command in the
/// foreground); a line for a file that arrives while the user types, as a
/// bar would break the line being edited.
struct MenuProgress {
    bars: Arc<dyn Progress>,
    foreground: AtomicBool,
    printer: Printer,
}

impl Progress for MenuProgress {
    fn start(&self, label: &str, total: u64, done: u64) {
        if self.foreground.load(Ordering::Acquire) {
            self.bars.start(label, total, done);
        } else {
            // The label is escaped by whoever made it. The total counts the
            // encryption's overhead too: shown only where that is negligible.
            let size = if total >= 1_000_000 {
                format!(" (about {})", output::size(total))
            } else {
                String::new()
            };
            self.printer.print(format!("receiving {label}{size}..."));
        }
    }

    fn advance(&self, n: u64) {
        if self.foreground.load(Ordering::Acquire) {
            self.bars.advance(n);
        }
    }

    fn finish(&self) {
        self.bars.finish();
    }
}

/// The live-message watcher.
struct Watcher {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// How a command ended, besides its output.
type Outcome = Result<(), ClientError>;

struct Menu {
    client: Client,
    terminal: Terminal,
    printer: Printer,
    names: SharedNames,
    progress: Arc<MenuProgress>,
    interrupts: Interrupts,
    watcher: Option<Watcher>,
    interactive: bool,
}

/// An event as the menu shows it: as [`output::event`], with the menu's
/// commands in the advice.
pub fn show_event(e: &Event) -> String {
    match &e.what {
        What::KeyChanged => {
            let raw = e.from_name.clone().unwrap_or_else(|| e.from.to_string());
            let who = escape_line(&raw);
            let quoted = escape_line(&parse::quote_word(&raw)).into_owned();
            format!(
                "[{}] WARNING: {who}'s key changed. Their messages wait until you compare safety numbers \
                 (`fingerprint {quoted}`) and accept the new key (`accept {quoted}`)",
                output::event_time(e)
            )
        }
        What::FileHeld { name, size, reason } => {
            let who = e
                .from_name
                .as_deref()
                .map(|n| escape_line(n).into_owned())
                .unwrap_or_else(|| format!("client {}", e.from));
            format!(
                "[{}] {who} offers a file: {} ({}); not downloaded because {}. `accept-file {id}` downloads it, \
                 `decline-file {id}` deletes it",
                output::time(e.sent_at_ms),
                escape_line(name),
                output::size(*size),
                output::held_because(*reason),
                id = e.message_id
            )
        }
        _ => output::event(e),
    }
}

impl Menu {
    fn say(&self, text: impl Into<String>) {
        self.printer.print(text.into());
    }

    fn error(&self, line: &str) {
        self.say(format!("error: {}", explain::one_line(line)));
    }

    async fn fail(&self, e: ClientError) {
        let known = self.known_names(&e).await;
        self.error(&explain::client_error(&e, &known));
    }

    /// Names to suggest from when `e` is about an unknown peer: the server's
    /// list now (falling back on what the menu knew) and the pinned peers.
    async fn known_names(&self, e: &ClientError) -> Vec<String> {
        if !matches!(e, ClientError::UnknownPeer(_)) {
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

    fn prompt(&self) -> String {
        if !self.interactive {
            return String::new();
        }
        match self.client.me() {
            Some(me) => format!("{}> ", escape_line(me.name.as_str())),
            None => "sealpost> ".into(),
        }
    }

    async fn ask(&self, prompt: &str, field: Field) -> Answer {
        self.printer.flush().await;
        self.terminal.ask(prompt, field).await
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        self.greet().await;
        loop {
            let prompt = self.prompt();
            let mut interrupted = self.interrupts.since_now();
            let answer = tokio::select! {
                a = self.ask(&prompt, Field::Menu) => a,
                // At a terminal the editor reads Ctrl-C itself; from a pipe
                // or a script, an interrupt while waiting ends the menu.
                Ok(()) = interrupted.changed(), if !self.interactive => return Ok(()),
            };
            match answer {
                Answer::Line(line) => match parse::parse(&line) {
                    Ok(None) => {}
                    Ok(Some(Command::Exit)) => return Ok(()),
                    Ok(Some(command)) => self.execute(command).await,
                    Err(e) => self.error(&e.to_string()),
                },
                Answer::Interrupted => {}
                Answer::Eof => return Ok(()),
                Answer::Failed(e) => anyhow::bail!("the terminal failed: {e}"),
            }
        }
    }

    async fn leave(&mut self) {
        self.stop_watch().await;
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
                    (0, _) => "no messages".to_string(),
                    (1, false) => "1 message".to_string(),
                    (n, false) => format!("{n} messages"),
                    (n, true) => format!("more than {n} messages"),
                };
                self.say(format!("waiting:  {count}"));
            }
            Err(e @ ClientError::ServerKeyChanged { .. }) => {
                // Nothing is sent to or read from an impostor.
                self.fail(e).await;
                self.say("watching: off until the server's key is sorted out");
                return;
            }
            Err(e) => self.fail(e).await,
        }
        self.refresh_pinned().await;
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
    async fn need(&self, given: Option<String>, prompt: &str, field: Field) -> Option<String> {
        if given.is_some() {
            return given;
        }
        let prompt = if self.interactive { prompt } else { "" };
        match self.ask(prompt, field).await {
            Answer::Line(line) => {
                let value = match field {
                    Field::Text => parse::text_argument(&line),
                    _ => parse::argument(&line),
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

    async fn dispatch(&mut self, command: Command, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        match command {
            Command::Register { name } => {
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
                self.say(format!("registered {} with id {id}", escape_line(&name)));
                self.say(format!("your fingerprint: {}", client.my_fingerprint()?));
                self.start_watch();
                self.say(
                    "watching: on; messages appear here as they arrive (`watch off` stops that)",
                );
            }
            Command::List => {
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
                        let remark = user
                            .remark()
                            .map(|r| format!("  {}", escape_line(&r)))
                            .unwrap_or_default();
                        text.push_str(&format!(
                            "\n  {:<24} {}{remark}",
                            escape_line(&user.name),
                            user.id
                        ));
                    }
                    self.say(text);
                }
            }
            Command::Key { name } => {
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
                    "{shown} ({})\nfingerprint: {}\n{state}",
                    info.id, info.fingerprint
                ));
            }
            Command::Inbox => {
                let Some(events) = self.receive(&cancel).await? else {
                    return Ok(());
                };
                if events.is_empty() {
                    self.say("no new messages");
                }
            }
            Command::Answer => {
                let Some(events) = self.receive(&cancel).await? else {
                    return Ok(());
                };
                let answered = events
                    .iter()
                    .filter(|e| matches!(e.what, What::SessionStarted))
                    .count();
                self.say(match answered {
                    0 => "no key-agreement offers were waiting (offers are answered as they arrive while watching)"
                        .to_string(),
                    1 => "answered 1 key-agreement offer".into(),
                    n => format!("answered {n} key-agreement offers"),
                });
            }
            Command::Send { to, text } => {
                let Some(to) = self.need(to, "to whom? ", Field::Name).await else {
                    return Ok(());
                };
                let Some(text) = self.need(text, "text: ", Field::Text).await else {
                    return Ok(());
                };
                let id = cancellable(&cancel, client.send_text(&to, &text)).await?;
                self.say(format!("sent to {} (message {id})", escape_line(&to)));
            }
            Command::File { to, path } => {
                let Some(to) = self.need(to, "to whom? ", Field::Name).await else {
                    return Ok(());
                };
                let path = match path {
                    Some(p) => p,
                    None => match self.need(None, "file: ", Field::Path).await {
                        Some(p) => parse::expand_home(p),
                        None => return Ok(()),
                    },
                };
                match client.send_file(&to, &path, cancel.clone()).await {
                    Ok(id) => {
                        let size = tokio::fs::metadata(&path)
                            .await
                            .map(|m| format!(" ({})", output::size(m.len())))
                            .unwrap_or_default();
                        self.say(format!(
                            "sent {}{size} to {} (message {id})",
                            escape_path(&path),
                            escape_line(&to)
                        ));
                    }
                    Err(ClientError::Cancelled) => {
                        self.say("upload cancelled; `resume` continues it where it stopped")
                    }
                    Err(e) => return Err(e),
                }
            }
            Command::Session { name } => {
                let Some(name) = self.need(name, "with whom? ", Field::Name).await else {
                    return Ok(());
                };
                cancellable(&cancel, client.start_session(&name)).await?;
                self.say(format!(
                    "sent a key-agreement offer to {0}: new messages use the new session, which {0}'s client \
                     answers when it reads its messages",
                    escape_line(&name)
                ));
            }
            Command::Watch { on } => {
                client.require_me()?;
                let on = on.unwrap_or(!self.watching());
                if on {
                    self.start_watch();
                    self.say("watching: on; messages appear here as they arrive");
                } else {
                    self.stop_watch().await;
                    self.say(
                        "watching: off; `inbox` (or 4) reads messages, `watch` turns this on again",
                    );
                }
            }
            Command::Fingerprint { name: None } => {
                let mine = client.my_fingerprint()?;
                let server = escape_line(&client.config().server).into_owned();
                let pinned = client.server_fingerprint().await?;
                self.say(format!(
                    "you:      {mine}\n{}",
                    server_line(&server, pinned.as_deref())
                ));
            }
            Command::Fingerprint { name: Some(name) } => {
                let (info, number) = cancellable(&cancel, client.safety_number(&name)).await?;
                let shown = escape_line(&info.name).into_owned();
                self.say(format!(
                    "safety number with {shown}:\n{number}\n{shown} sees the same digits with you; compare them \
                     in person or by phone{}",
                    if info.verified {
                        " (marked as compared)".to_string()
                    } else {
                        format!(", then `verify {}`", escape_line(&parse::quote_word(&info.name)))
                    }
                ));
            }
            Command::Verify { name } => {
                let Some(name) = self.need(name, "whose safety number? ", Field::Name).await else {
                    return Ok(());
                };
                let (info, number) = cancellable(&cancel, client.safety_number(&name)).await?;
                let shown = escape_line(&info.name).into_owned();
                self.say(format!("safety number with {shown}:\n{number}"));
                let question = format!("do these digits match what {shown} sees? [y/N] ");
                let question = if self.interactive {
                    question
                } else {
                    String::new()
                };
                let yes = matches!(
                    self.ask(&question, Field::Text).await,
                    Answer::Line(l) if matches!(l.trim().to_lowercase().as_str(), "y" | "yes")
                );
                if yes {
                    cancellable(&cancel, client.mark_verified(&name)).await?;
                    self.say(format!("marked the safety number with {shown} as compared"));
                } else {
                    self.say(format!(
                        "not marked; if the digits differ, someone may be in between you and {shown}: do not \
                         trust this key until you know why"
                    ));
                }
            }
            Command::Accept { name } => {
                let Some(name) = self.need(name, "whose new key? ", Field::Name).await else {
                    return Ok(());
                };
                let info = cancellable(&cancel, client.accept(&name)).await?;
                let shown = escape_line(&name).into_owned();
                self.say(format!(
                    "accepted: {shown} is {} (fingerprint {}), not verified until you compare safety numbers; \
                     their waiting messages are read from now on",
                    info.id, info.fingerprint
                ));
            }
            Command::Resume => {
                let done = client.resume_uploads(cancel.clone()).await;
                match done {
                    Ok(done) if done.is_empty() => self.say("no interrupted uploads"),
                    Ok(done) => self.say(format!(
                        "completed {} interrupted upload(s): message {}",
                        done.len(),
                        done.iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Err(ClientError::Cancelled) => {
                        self.say("upload cancelled again; `resume` continues it")
                    }
                    Err(e) => return Err(e),
                }
            }
            Command::Files => {
                let offers = client.held_files().await?;
                self.say(output::held_offers(&offers));
            }
            Command::AcceptFile { id } => {
                let Some(id) = self.need_number(id).await else {
                    return Ok(());
                };
                match client.accept_file(id, cancel.clone()).await {
                    Ok(e) => self.say(show_event(&e)),
                    Err(ClientError::Cancelled) => self.say(format!(
                        "stopped; `accept-file {id}` resumes the download where it stopped"
                    )),
                    Err(e) => return Err(e),
                }
            }
            Command::DeclineFile { id } => {
                let Some(id) = self.need_number(id).await else {
                    return Ok(());
                };
                let offer = cancellable(&cancel, client.decline_file(id)).await?;
                self.say(format!(
                    "declined {} ({}); the server deletes it",
                    escape_line(&offer.name),
                    output::size(offer.size)
                ));
            }
            Command::Help => self.say(help()),
            // Handled by the loop.
            Command::Exit => {}
        }
        Ok(())
    }

    /// A file offer's number, asked for if not given.
    async fn need_number(&self, given: Option<u64>) -> Option<u64> {
        if given.is_some() {
            return given;
        }
        let text = self
            .need(None, "which file offer (its number)? ", Field::Text)
            .await?;
        match parse::number(&text) {
            Ok(n) => Some(n),
            Err(e) => {
                self.error(&e.to_string());
                None
            }
        }
    }

    /// Reads what waits, showing each event; `None` if the user stopped it.
    async fn receive(&self, cancel: &CancellationToken) -> Result<Option<Vec<Event>>, ClientError> {
        let events = match self.client.inbox_until(cancel.clone()).await {
            Err(ClientError::Cancelled) => {
                self.say("stopped reading; what was not read stays on the server for next time");
                return Ok(None);
            }
            other => other?,
        };
        for e in &events {
            self.say(show_event(e));
        }
        let announced = events
            .iter()
            .filter(|e| matches!(e.what, What::FileHeld { .. }))
            .count();
        let held = self.client.held_files().await?.len();
        if held > announced {
            self.say(format!(
                "{held} file offer(s) wait for your decision: `files` lists them"
            ));
        }
        Ok(Some(events))
    }

    fn watching(&self) -> bool {
        self.watcher.as_ref().is_some_and(|w| !w.task.is_finished())
    }

    /// Starts the watcher (once; it ends on `watch off`, at exit, or when
    /// the server's key changes).
    fn start_watch(&mut self) {
        if self.watching() {
            return;
        }
        let stop = CancellationToken::new();
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let printer = self.printer.clone();
        let client = self.client.clone();
        let until = stop.clone();
        let task = tokio::spawn(async move {
            let forward = {
                let printer = printer.clone();
                tokio::spawn(async move {
                    while let Some(e) = rx.recv().await {
                        printer.print(show_event(&e));
                    }
                })
            };
            let link = {
                let printer = printer.clone();
                tokio::spawn(crate::link::follow(
                    client.link(),
                    until.clone(),
                    move |change| {
                        printer.print(change.line());
                    },
                ))
            };
            let result = client.watch(tx, until).await;
            link.abort();
            let _ = forward.await;
            if let Err(e) = result {
                printer.print(format!(
                    "error: live messages stopped: {}",
                    explain::one_line(&explain::client_error(&e, &[]))
                ));
            }
        });
        self.watcher = Some(Watcher { stop, task });
    }

    async fn stop_watch(&mut self) {
        if let Some(w) = self.watcher.take() {
            w.stop.cancel();
            let _ = tokio::time::timeout(LEAVE_WAIT, w.task).await;
        }
    }
}

/// `f`, unless `cancel` fires first (for requests that are safe to drop).
async fn cancellable<T>(
    cancel: &CancellationToken,
    f: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::select! {
        r = f => r,
        () = cancel.cancelled() => Err(ClientError::Cancelled),
    }
}

fn server_line(server: &str, pinned: Option<&str>) -> String {
    match pinned {
        Some(f) => format!("server:   {server}, identity {f} (pinned)"),
        None => format!("server:   {server} (not contacted yet)"),
    }
}

/// The menu.
pub fn help() -> String {
    let mut text = String::from(
        "Type a number or a word; arguments may follow on the same line (`5 bob hi`, `send bob hi there`,\n\
         `file bob ./x.pdf`). Without them you are asked. Quote names with spaces; Tab completes commands,\n\
         names and paths.\n",
    );
    for spec in parse::SPECS {
        let number = spec.number.unwrap_or("");
        text.push_str(&format!(
            "\n  {number:>2}  {:<20} {}",
            spec.usage, spec.about
        ));
    }
    text.push_str(
        "\n\nKey agreement is automatic: a text to someone without a session starts one, and an offer you\n\
         receive is answered as soon as your messages are read. 51 starts a new session on purpose (the\n\
         reference's \"request symmetric key\"); 52 reads messages now so that offers waiting for you are\n\
         answered (its \"send symmetric key\"). Ctrl-C cancels a transfer (`resume` continues an upload; a\n\
         download resumes by itself) or clears the line; texts of messages are not kept in the history.\n\
         Files download by themselves only from contacts (people you sent to or looked up) and up to the\n\
         --max-auto-download size (64 MiB by default); others wait in `files` for `accept-file N`.",
    );
    text
}

#[cfg(test)]
mod tests {
    use protocol::ClientId;

    use super::*;

    #[test]
    fn help_lists_every_reference_number() {
        let help = help();
        for n in ["1", "2", "3", "4", "5", "50", "51", "52", "0"] {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{n} "))),
                "{n} missing from:\n{help}"
            );
        }
    }

    #[test]
    fn key_change_advice_names_menu_commands() {
        let e = Event {
            message_id: 1,
            from: ClientId([1; 16]),
            from_name: Some("bob smith\u{202e}".into()),
            server_name: None,
            sent_at_ms: 0,
            sender_time_ms: None,
            what: What::KeyChanged,
        };
        let shown = show_event(&e);
        assert!(shown.contains("`accept \"bob smith\\u{202e}\"`"), "{shown}");
        assert!(
            shown.contains("WARNING: bob smith\\u{202e}'s key changed"),
            "{shown}"
        );
        assert!(!shown.contains('\u{202e}'));
    }

    #[test]
    fn background_transfers_print_a_line_instead_of_a_bar() {
        let (printer, lines) = Printer::capture();
        let p = MenuProgress {
            bars: Arc::new(crate::client::NoProgress),
            foreground: AtomicBool::new(false),
            printer,
        };
        p.start("a.bin from bob", 2_000_000, 0);
        p.advance(10);
        p.finish();
        match lines.try_recv().unwrap() {
            terminal::Print::Text(t) => {
                assert_eq!(t, "receiving a.bin from bob (about 2.00 MB)...")
            }
            _ => panic!("not a text"),
        }
        p.foreground.store(true, Ordering::Release);
        p.start("x", 1, 0);
        assert!(lines.try_recv().is_err());
    }
}
